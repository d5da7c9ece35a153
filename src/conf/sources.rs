//! Which sysctl files a loader reads under a root, and in which order.
//!
//! Both loaders walk the sysctl.d directories from highest to lowest
//! precedence and keep the first file of each name, so `/etc/sysctl.d/x.conf`
//! hides `/usr/lib/sysctl.d/x.conf`. A symlink to `/dev/null` keeps its name
//! (hiding the later ones) and contributes nothing: that is masking. The
//! survivors are then sorted by file name alone, whatever their directory,
//! and applied in that order. procps reads `/etc/sysctl.conf` after all of
//! them; systemd-sysctl never reads it (distributions link
//! `/etc/sysctl.d/99-sysctl.conf` to it instead).
//!
//! Symlinks are resolved here, inside the root, the way systemd's `chase()`
//! does with a root: an absolute target is taken relative to the root, and
//! `..` never climbs above it. So a root that is a mounted image or a test
//! tree is read as its own system would read it, and nothing outside it is
//! ever opened.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use super::{Loader, ResolveError};

/// The sysctl.d directories, relative to the root, highest precedence first.
pub const SYSCTL_D_DIRS: [&str; 5] = [
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
];

/// The classic single file, relative to the root. Only procps reads it.
pub const SYSCTL_CONF: &str = "etc/sysctl.conf";

/// The same bound as the kernel's (and systemd's) on symlinks followed while
/// resolving one path: it turns a symlink loop into an error.
const MAX_SYMLINK_HOPS: usize = 40;

/// Where a file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// One of [`SYSCTL_D_DIRS`].
    SysctlD(&'static str),
    /// [`SYSCTL_CONF`], read by procps after every sysctl.d file.
    SysctlConf,
}

/// What reading a listed file gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// A regular file (possibly behind symlinks) at `resolved`, a host path
    /// inside the root.
    Regular { resolved: PathBuf },
    /// A symlink to `/dev/null` (or another null device): nothing is read,
    /// and the name is still taken, so later files of that name are hidden.
    Masked,
    /// The name is taken but nothing can be read: a dangling symlink, a
    /// symlink loop, a directory, or an I/O error. The loaders skip such a
    /// file (systemd silently for a dangling link, procps with a warning)
    /// and still let it hide later files of the same name.
    Unreadable { reason: String },
}

/// One file in application order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The file name, which alone decides the order.
    pub name: OsString,
    pub origin: Place,
    /// The path on this host: the root joined with the path below.
    pub path: PathBuf,
    /// The path as the booted system names it (`/etc/sysctl.d/x.conf`).
    pub boot_path: PathBuf,
    pub state: FileState,
}

impl SourceFile {
    pub fn is_masked(&self) -> bool {
        self.state == FileState::Masked
    }
}

/// A file that is not read because an earlier directory has the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenFile {
    pub path: PathBuf,
    pub boot_path: PathBuf,
    /// The boot path of the file that takes the name.
    pub hidden_by: PathBuf,
}

/// Whether and how a sysctl.d directory was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    Read,
    /// Absent (or not a directory): nothing to read, which is normal.
    Missing,
    /// systemd-sysctl reads `/lib/sysctl.d` only on split-usr systems, that
    /// is when `/lib` is a real directory rather than a link to `usr/lib`.
    NotReadByLoader,
    /// The same directory as an earlier one (`/lib` -> `usr/lib`); listing
    /// it again would only hide every file by its own twin.
    SameAs(&'static str),
    /// It exists but could not be listed; see [`Sources::problems`].
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// Relative to the root, one of [`SYSCTL_D_DIRS`].
    pub dir: &'static str,
    pub state: DirState,
}

/// Something that could not be read. Not fatal: the loaders skip it too,
/// but an audit that could not see everything must say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.message)
    }
}

/// The files one loader reads under one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub root: PathBuf,
    pub loader: Loader,
    /// In application order, masked and unreadable files included.
    pub files: Vec<SourceFile>,
    /// Files hidden by a file of the same name in an earlier directory.
    pub hidden: Vec<HiddenFile>,
    pub directories: Vec<Directory>,
    pub problems: Vec<Problem>,
}

/// Lists, in application order, the files `loader` would read under `root`.
///
/// # Errors
///
/// Fails only when `root` is not a directory; everything below it that
/// cannot be read is reported in [`Sources::problems`] or as an
/// [`FileState::Unreadable`] file.
pub fn sources(root: &Path, loader: Loader) -> Result<Sources, ResolveError> {
    match fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(ResolveError::Root {
                path: root.to_owned(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        Err(source) => {
            return Err(ResolveError::Root {
                path: root.to_owned(),
                source,
            });
        }
    }

    let mut sources = Sources {
        root: root.to_owned(),
        loader,
        files: Vec::new(),
        hidden: Vec::new(),
        directories: Vec::new(),
        problems: Vec::new(),
    };
    // Resolved directory paths already listed, to recognise a directory
    // reached twice through a symlink.
    let mut listed: Vec<(PathBuf, &'static str)> = Vec::new();

    for dir in SYSCTL_D_DIRS {
        let state = list_directory(root, loader, dir, &mut listed, &mut sources);
        sources.directories.push(Directory { dir, state });
    }

    sources
        .files
        .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    if loader == Loader::Procps {
        sources.files = expand_procps_names(root, std::mem::take(&mut sources.files));
    }

    if loader == Loader::Procps {
        // procps checks `stat() == 0 && S_ISREG`: a missing file, or one
        // linked to /dev/null, is silently not read.
        if let Ok(chased) = chase(root, Path::new(SYSCTL_CONF))
            && chased.metadata.as_ref().is_some_and(fs::Metadata::is_file)
        {
            sources.files.push(SourceFile {
                name: OsString::from("sysctl.conf"),
                origin: Place::SysctlConf,
                path: root.join(SYSCTL_CONF),
                boot_path: Path::new("/").join(SYSCTL_CONF),
                state: FileState::Regular {
                    resolved: root.join(&chased.relative),
                },
            });
        }
    }
    Ok(sources)
}

fn list_directory(
    root: &Path,
    loader: Loader,
    dir: &'static str,
    listed: &mut Vec<(PathBuf, &'static str)>,
    sources: &mut Sources,
) -> DirState {
    if loader == Loader::Systemd && dir == "lib/sysctl.d" && !is_split_usr(root) {
        return DirState::NotReadByLoader;
    }
    let chased = match chase(root, Path::new(dir)) {
        Ok(chased) => chased,
        Err(error) => {
            sources.problems.push(Problem {
                path: root.join(dir),
                message: error.to_string(),
            });
            return DirState::Failed;
        }
    };
    if !chased.metadata.as_ref().is_some_and(fs::Metadata::is_dir) {
        return DirState::Missing;
    }
    if let Some((_, first)) = listed.iter().find(|(path, _)| *path == chased.relative) {
        return DirState::SameAs(first);
    }
    listed.push((chased.relative.clone(), dir));

    let entries = match fs::read_dir(root.join(&chased.relative)) {
        Ok(entries) => entries,
        Err(error) => {
            sources.problems.push(Problem {
                path: root.join(dir),
                message: error.to_string(),
            });
            return DirState::Failed;
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => names.push(entry.file_name()),
            Err(error) => {
                sources.problems.push(Problem {
                    path: root.join(dir),
                    message: error.to_string(),
                });
                return DirState::Failed;
            }
        }
    }
    // Directory order is arbitrary; sorting keeps our output stable.
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    for name in names {
        if !is_conf_name(&name, loader) {
            continue;
        }
        let path = root.join(dir).join(&name);
        let boot_path = Path::new("/").join(dir).join(&name);
        if let Some(taken) = sources.files.iter().find(|file| file.name == name) {
            sources.hidden.push(HiddenFile {
                path,
                boot_path,
                hidden_by: taken.boot_path.clone(),
            });
            continue;
        }
        let state = file_state(root, &chased.relative.join(&name));
        sources.files.push(SourceFile {
            name,
            origin: Place::SysctlD(dir),
            path,
            boot_path,
            state,
        });
    }
    DirState::Read
}

/// procps 4 opens each listed file through `glob(path, GLOB_NOCHECK |
/// GLOB_BRACE | GLOB_TILDE)` (src/sysctl.c `Preload`, v4.0.2 lines 751-767),
/// so a file *named* `10-[ab].conf` is never read itself: procps reads
/// `10-a.conf` and `10-b.conf` from the same directory instead, whatever
/// their suffix and even if a file of that name is hidden or read again in
/// its own right; `10-{a,b}.conf` reads each alternative that exists. Only
/// when nothing matches is the name read literally (`GLOB_NOCHECK`). The
/// matches replace the listed file at its place in the order, and, as
/// `Preload` returns at the first match it cannot open, an unreadable match
/// ends the list. Names with a backslash (glob escapes) are left as they
/// are: not modelled.
fn expand_procps_names(root: &Path, files: Vec<SourceFile>) -> Vec<SourceFile> {
    let mut expanded = Vec::with_capacity(files.len());
    for file in files {
        let name = file.name.to_string_lossy().into_owned();
        let Place::SysctlD(dir) = file.origin else {
            expanded.push(file);
            continue;
        };
        if !name.contains(['*', '?', '[', '{']) || name.contains('\\') {
            expanded.push(file);
            continue;
        }
        let Ok(chased) = chase(root, Path::new(dir)) else {
            expanded.push(file);
            continue;
        };
        let host_dir = root.join(&chased.relative);
        let matches = glob_names(&host_dir, &name);
        if matches.is_empty() {
            expanded.push(file);
            continue;
        }
        for matched in matches {
            let state = file_state(root, &chased.relative.join(&matched));
            let stop = !matches!(state, FileState::Regular { .. } | FileState::Masked);
            expanded.push(SourceFile {
                name: file.name.clone(),
                origin: file.origin,
                path: root.join(dir).join(&matched),
                boot_path: Path::new("/").join(dir).join(&matched),
                state,
            });
            if stop {
                break;
            }
        }
    }
    expanded
}

/// glob(3) of one file name in one directory, with `GLOB_BRACE`: the names
/// it yields, in its order (each brace alternative in turn, sorted within).
fn glob_names(dir: &Path, pattern: &str) -> Vec<String> {
    let alternatives = expand_braces(pattern);
    let braced = alternatives.len() > 1 || alternatives.first().is_some_and(|one| one != pattern);
    let mut found = Vec::new();
    if braced {
        for alternative in &alternatives {
            if is_meta(alternative) {
                found.extend(match_dir(dir, alternative));
            } else if fs::symlink_metadata(dir.join(alternative)).is_ok() {
                found.push(alternative.clone());
            }
        }
        if !found.is_empty() {
            return found;
        }
    }
    if is_meta(pattern) {
        found = match_dir(dir, pattern);
    }
    found
}

fn is_meta(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// The entries of `dir` that `pattern` matches, sorted as glob(3) sorts in
/// the C locale.
fn match_dir(dir: &Path, pattern: &str) -> Vec<String> {
    // glob(3) without GLOB_ERR, as procps calls it, treats an unreadable
    // directory as no match; so does the model.
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| super::glob::component_matches(pattern, name))
        .collect();
    names.sort();
    names
}

/// glibc's `GLOB_BRACE`: the first `{a,b}` group (with nesting) splits the
/// pattern into one pattern per alternative, each expanded again. A `{`
/// without its `}` is literal.
fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (at, byte) in bytes.iter().enumerate().skip(open) {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(at);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(at),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let alternative = &pattern[pair[0] + 1..pair[1]];
        out.extend(expand_braces(&format!("{head}{alternative}{tail}")));
    }
    out
}

/// Whether a directory entry is a configuration file for this loader: the
/// `.conf` suffix for both; systemd also skips hidden (dot) files, procps
/// does not.
fn is_conf_name(name: &OsStr, loader: Loader) -> bool {
    let bytes = name.as_bytes();
    bytes.ends_with(b".conf") && !(loader == Loader::Systemd && bytes.starts_with(b"."))
}

/// systemd is built with `/lib/sysctl.d` only for split-usr systems. We
/// cannot ask the binary, so we look at the tree: a real `lib` directory
/// means split usr, a symlink (merged usr) or nothing means not.
fn is_split_usr(root: &Path) -> bool {
    fs::symlink_metadata(root.join("lib")).is_ok_and(|metadata| metadata.is_dir())
}

fn file_state(root: &Path, relative: &Path) -> FileState {
    let chased = match chase(root, relative) {
        Ok(chased) => chased,
        Err(error) => {
            return FileState::Unreadable {
                reason: error.to_string(),
            };
        }
    };
    if chased.relative == Path::new("dev/null")
        || chased
            .metadata
            .as_ref()
            .is_some_and(|metadata| metadata.file_type().is_char_device())
    {
        return FileState::Masked;
    }
    match &chased.metadata {
        None => FileState::Unreadable {
            reason: format!(
                "dangling symlink: {} does not exist",
                Path::new("/").join(&chased.relative).display()
            ),
        },
        Some(metadata) if metadata.is_file() => FileState::Regular {
            resolved: root.join(&chased.relative),
        },
        Some(metadata) if metadata.is_dir() => FileState::Unreadable {
            reason: "is a directory".to_owned(),
        },
        // A fifo or socket could block or never end; the loaders would try
        // to read it, we refuse to.
        Some(_) => FileState::Unreadable {
            reason: "not a regular file".to_owned(),
        },
    }
}

/// A path resolved inside the root.
#[derive(Debug)]
pub(crate) struct Chased {
    /// The resolved path relative to the root, symlink-free and without
    /// `.` or `..` (for a missing path: as far as it could be resolved,
    /// then the rest literally).
    pub(crate) relative: PathBuf,
    /// Metadata of the resolved path, `None` when it does not exist.
    pub(crate) metadata: Option<fs::Metadata>,
}

enum Step {
    Parent,
    Name(OsString),
}

fn steps(path: &Path) -> impl Iterator<Item = Step> + '_ {
    path.components().filter_map(|component| match component {
        Component::ParentDir => Some(Step::Parent),
        Component::Normal(name) => Some(Step::Name(name.to_owned())),
        // A root or `.` adds nothing; an absolute link target is re-rooted
        // by the caller before its steps are taken.
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Resolves `relative` below `root`, following every symlink inside the root:
/// absolute targets start again at the root, relative ones at the link's
/// directory, and `..` stops at the root. A missing component is not an
/// error (the rest is kept literally) so that a caller can still see where a
/// dangling link points.
pub(crate) fn chase(root: &Path, relative: &Path) -> io::Result<Chased> {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut todo: VecDeque<Step> = steps(relative).collect();
    let mut hops = 0;
    let mut missing = false;

    while let Some(step) = todo.pop_front() {
        let name = match step {
            Step::Parent => {
                resolved.pop();
                continue;
            }
            Step::Name(name) => name,
        };
        if missing {
            resolved.push(name);
            continue;
        }
        let candidate: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&name);
        match fs::symlink_metadata(&candidate) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links at {}",
                        candidate.display()
                    )));
                }
                let target = fs::read_link(&candidate)?;
                if target.has_root() {
                    resolved.clear();
                }
                for step in steps(&target).collect::<Vec<_>>().into_iter().rev() {
                    todo.push_front(step);
                }
            }
            Ok(_) => resolved.push(name),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                resolved.push(name);
                missing = true;
            }
            Err(error) => return Err(error),
        }
    }

    let relative: PathBuf = resolved.iter().collect();
    let metadata = if missing {
        None
    } else {
        match fs::metadata(root.join(&relative)) {
            Ok(metadata) => Some(metadata),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        }
    };
    Ok(Chased { relative, metadata })
}

/// Each file's position in the order the loaders apply files, for files
/// given by path: sorted by file name alone, whatever the directory, with
/// `sysctl.conf` last because procps reads `/etc/sysctl.conf` after every
/// sysctl.d file. Same names keep the given order.
pub fn boot_ranks(paths: &[&Path]) -> Vec<usize> {
    use std::os::unix::ffi::OsStrExt;
    let sort_key = |path: &Path| {
        let name = path.file_name().unwrap_or(path.as_os_str());
        (
            name == std::ffi::OsStr::new("sysctl.conf"),
            name.as_bytes().to_vec(),
        )
    };
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_cached_key(|&index| (sort_key(paths[index]), index));
    let mut ranks = vec![0; paths.len()];
    for (rank, index) in order.into_iter().enumerate() {
        ranks[index] = rank;
    }
    ranks
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::conf::testing::{link, write};

    fn boot_paths(sources: &Sources) -> Vec<String> {
        sources
            .files
            .iter()
            .map(|file| file.boot_path.display().to_string())
            .collect()
    }

    #[test]
    fn sorted_by_name_across_directories() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "usr/lib/sysctl.d/10-a.conf", "");
        write(root.path(), "etc/sysctl.d/50-b.conf", "");
        write(root.path(), "run/sysctl.d/30-c.conf", "");
        write(root.path(), "usr/local/lib/sysctl.d/40-d.conf", "");
        let sources = sources(root.path(), Loader::Systemd).unwrap();
        assert_eq!(
            boot_paths(&sources),
            [
                "/usr/lib/sysctl.d/10-a.conf",
                "/run/sysctl.d/30-c.conf",
                "/usr/local/lib/sysctl.d/40-d.conf",
                "/etc/sysctl.d/50-b.conf",
            ]
        );
        assert_eq!(
            sources.files[0].path,
            root.path().join("usr/lib/sysctl.d/10-a.conf")
        );
        assert!(sources.problems.is_empty());
    }

    #[test]
    fn a_name_in_an_earlier_directory_hides_the_same_name_later() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "usr/lib/sysctl.d/50-x.conf", "");
        write(root.path(), "run/sysctl.d/50-x.conf", "");
        write(root.path(), "etc/sysctl.d/50-x.conf", "");
        let sources = sources(root.path(), Loader::Procps).unwrap();
        assert_eq!(boot_paths(&sources), ["/etc/sysctl.d/50-x.conf"]);
        let hidden: Vec<_> = sources.hidden.iter().map(|h| h.boot_path.clone()).collect();
        assert_eq!(
            hidden,
            [
                PathBuf::from("/run/sysctl.d/50-x.conf"),
                PathBuf::from("/usr/lib/sysctl.d/50-x.conf")
            ]
        );
        assert_eq!(
            sources.hidden[0].hidden_by,
            Path::new("/etc/sysctl.d/50-x.conf")
        );
    }

    #[test]
    fn only_conf_files_and_systemd_skips_dot_files() {
        let root = tempfile::tempdir().unwrap();
        for name in [
            "10-a.conf",
            "README",
            "20-b.conf.bak",
            "30-c.conf~",
            ".40-d.conf",
            "50-e.CONF",
        ] {
            write(root.path(), &format!("etc/sysctl.d/{name}"), "");
        }
        let systemd = sources(root.path(), Loader::Systemd).unwrap();
        assert_eq!(boot_paths(&systemd), ["/etc/sysctl.d/10-a.conf"]);
        let procps = sources(root.path(), Loader::Procps).unwrap();
        assert_eq!(
            boot_paths(&procps),
            ["/etc/sysctl.d/.40-d.conf", "/etc/sysctl.d/10-a.conf"]
        );
    }

    #[test]
    fn dev_null_masks_even_when_the_image_has_no_dev_null() {
        let root = tempfile::tempdir().unwrap();
        link(root.path(), "etc/sysctl.d/50-x.conf", "/dev/null");
        write(
            root.path(),
            "usr/lib/sysctl.d/50-x.conf",
            "net.core.somaxconn = 1\n",
        );
        let sources = sources(root.path(), Loader::Systemd).unwrap();
        assert_eq!(sources.files.len(), 1);
        assert!(sources.files[0].is_masked());
        assert_eq!(sources.hidden.len(), 1);
        // A relative link that lands on dev/null inside the root masks too.
        let other = tempfile::tempdir().unwrap();
        link(other.path(), "etc/sysctl.d/60-y.conf", "../../dev/null");
        let sources = super::sources(other.path(), Loader::Procps).unwrap();
        assert!(sources.files[0].is_masked());
    }

    #[test]
    fn absolute_symlinks_are_rerooted_and_dotdot_stops_at_the_root() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "opt/tuning/net.conf",
            "net.core.somaxconn = 1\n",
        );
        link(
            root.path(),
            "etc/sysctl.d/60-abs.conf",
            "/opt/tuning/net.conf",
        );
        link(
            root.path(),
            "etc/sysctl.d/70-up.conf",
            "../../../../../../../opt/tuning/net.conf",
        );
        // Exists on the host, not in the root: must not be found.
        link(root.path(), "etc/sysctl.d/80-host.conf", "/etc/os-release");
        let sources = sources(root.path(), Loader::Systemd).unwrap();
        let resolved = root.path().join("opt/tuning/net.conf");
        assert_eq!(
            sources.files[0].state,
            FileState::Regular {
                resolved: resolved.clone()
            }
        );
        assert_eq!(sources.files[1].state, FileState::Regular { resolved });
        assert!(
            matches!(&sources.files[2].state, FileState::Unreadable { reason } if reason.contains("/etc/os-release")),
            "{:?}",
            sources.files[2].state
        );
    }

    #[test]
    fn dangling_links_loops_and_directories_take_the_name_but_are_unreadable() {
        let root = tempfile::tempdir().unwrap();
        link(root.path(), "etc/sysctl.d/10-dangling.conf", "missing.conf");
        write(root.path(), "usr/lib/sysctl.d/10-dangling.conf", "");
        link(root.path(), "etc/sysctl.d/20-loop.conf", "20-loop.conf");
        fs::create_dir_all(root.path().join("etc/sysctl.d/30-dir.conf")).unwrap();
        let sources = sources(root.path(), Loader::Procps).unwrap();
        assert_eq!(sources.files.len(), 3);
        assert!(
            sources
                .files
                .iter()
                .all(|file| matches!(file.state, FileState::Unreadable { .. }))
        );
        assert_eq!(sources.hidden.len(), 1);
    }

    #[test]
    fn lib_sysctl_d_for_systemd_only_on_split_usr() {
        let merged = tempfile::tempdir().unwrap();
        write(merged.path(), "usr/lib/sysctl.d/10-a.conf", "");
        link(merged.path(), "lib", "usr/lib");
        let systemd = sources(merged.path(), Loader::Systemd).unwrap();
        assert_eq!(boot_paths(&systemd), ["/usr/lib/sysctl.d/10-a.conf"]);
        assert_eq!(systemd.directories[4].state, DirState::NotReadByLoader);
        let procps = sources(merged.path(), Loader::Procps).unwrap();
        assert_eq!(boot_paths(&procps), ["/usr/lib/sysctl.d/10-a.conf"]);
        assert_eq!(
            procps.directories[4].state,
            DirState::SameAs("usr/lib/sysctl.d")
        );
        assert!(procps.hidden.is_empty());

        let split = tempfile::tempdir().unwrap();
        write(split.path(), "lib/sysctl.d/10-a.conf", "");
        write(split.path(), "usr/lib/sysctl.d/20-b.conf", "");
        for loader in Loader::ALL {
            let sources = sources(split.path(), loader).unwrap();
            assert_eq!(
                boot_paths(&sources),
                ["/lib/sysctl.d/10-a.conf", "/usr/lib/sysctl.d/20-b.conf"]
            );
            assert_eq!(sources.directories[4].state, DirState::Read);
        }
    }

    #[test]
    fn sysctl_conf_is_last_for_procps_only_and_only_when_regular() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "etc/sysctl.conf", "");
        write(root.path(), "etc/sysctl.d/zz-last.conf", "");
        assert_eq!(
            boot_paths(&sources(root.path(), Loader::Procps).unwrap()),
            ["/etc/sysctl.d/zz-last.conf", "/etc/sysctl.conf"]
        );
        assert_eq!(
            boot_paths(&sources(root.path(), Loader::Systemd).unwrap()),
            ["/etc/sysctl.d/zz-last.conf"]
        );
        let masked = tempfile::tempdir().unwrap();
        link(masked.path(), "etc/sysctl.conf", "/dev/null");
        assert!(
            sources(masked.path(), Loader::Procps)
                .unwrap()
                .files
                .is_empty()
        );
    }

    #[test]
    fn a_root_that_is_not_a_directory_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            sources(&root.path().join("missing"), Loader::Systemd),
            Err(ResolveError::Root { .. })
        ));
        write(root.path(), "file", "");
        assert!(matches!(
            sources(&root.path().join("file"), Loader::Procps),
            Err(ResolveError::Root { .. })
        ));
    }

    #[test]
    fn missing_directories_are_normal() {
        let root = tempfile::tempdir().unwrap();
        let sources = sources(root.path(), Loader::Procps).unwrap();
        assert!(sources.files.is_empty());
        assert!(sources.problems.is_empty());
        assert!(
            sources
                .directories
                .iter()
                .all(|dir| dir.state == DirState::Missing)
        );
    }
}
