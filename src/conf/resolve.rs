//! Boot-time precedence: for every key, the assignment that wins and the
//! ones it overrides.
//!
//! The files come from [`sources`](super::sources) in application order; a
//! later assignment of a key beats an earlier one. Globs follow their own
//! rule in both loaders: a glob never touches a key that some line names
//! explicitly (an exclusion `-key` included), wherever that line is, and
//! among globs the last one applied wins. The two loaders differ in the
//! details, which this module reproduces:
//!
//! - systemd-sysctl keeps one entry per key in an ordered map. A new value
//!   replaces the entry and moves it to the end; the same value again keeps
//!   the old entry where it was; `-key` without a value replaces the entry
//!   too, so the key is then not written at all.
//! - procps writes every assignment in order and skips exclusions, so an
//!   exclusion never undoes an earlier assignment.
//!
//! [`Resolution::candidate`] looks the other way: given the name of a file
//! tcptune is about to write, which assignments come after it and so would
//! beat it at boot.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::key::{Key, Value};

use super::kernel_value::kernel_refuses;
use super::parse::{Action, Diagnostic, ParsedFile, Target, parse_for};
use super::sources::{
    DirState, Directory, FileState, HiddenFile, Place, Problem, SYSCTL_D_DIRS, SourceFile, sources,
};
use super::{Loader, ResolveError};

/// A listed file and what it contains (nothing, when masked or unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFile {
    pub source: SourceFile,
    pub parsed: ParsedFile,
}

/// One line that sets (or excludes) a key or a glob, where the loader meets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Position in the loader's application order over all files.
    pub seq: usize,
    /// Index of the file in [`Resolution::files`].
    pub file: usize,
    /// The listed file on this host (root joined).
    pub path: PathBuf,
    /// The listed file as the booted system names it.
    pub boot_path: PathBuf,
    /// The host path actually read, after symlinks: two assignments with the
    /// same `source` and `line` are one line read twice (procps reads
    /// `/etc/sysctl.conf` both through `99-sysctl.conf` and on its own).
    pub source: PathBuf,
    pub line: usize,
    pub column: usize,
    pub raw_key: String,
    pub target: Target,
    pub action: Action,
    pub ignore_failure: bool,
    /// See [`Entry::glob_guard`](super::Entry::glob_guard).
    pub glob_guard: bool,
    /// The kernel refuses the value for this key (see
    /// [`kernel_refuses`]): the write changes nothing. Always `false` for
    /// globs, whose keys are known only when one is looked up.
    pub refused: bool,
}

impl Assignment {
    /// The value written, or `None` for an exclusion.
    pub fn value(&self) -> Option<&Value> {
        self.action.value()
    }

    /// The value the key holds after this line, or `None` when the line
    /// leaves the key as it was (an exclusion, or a value the kernel
    /// refuses).
    pub fn applied_value(&self) -> Option<&Value> {
        if self.refused {
            None
        } else {
            self.action.value()
        }
    }

    /// Whether writing this line's value to `key` would be refused.
    fn refused_for(&self, key: &Key) -> bool {
        self.refused
            || self
                .action
                .raw()
                .is_some_and(|raw| kernel_refuses(key, raw))
    }

    pub fn raw_value(&self) -> Option<&str> {
        self.action.raw()
    }

    /// Whether both are the same line of the same file, read twice.
    pub fn same_line_as(&self, other: &Assignment) -> bool {
        self.source == other.source && self.line == other.line
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        let dash = if self.ignore_failure { "-" } else { "" };
        match &self.action {
            Action::Set { raw, .. } => write!(f, "{dash}{} = {raw}", self.raw_key),
            Action::Exclude => write!(f, "-{}", self.raw_key),
        }
    }
}

/// What happens to one key at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyResolution {
    pub key: Key,
    /// The assignment that decides the key. For systemd it can be an
    /// exclusion, meaning the key is not written at all.
    pub winner: Assignment,
    /// Every other assignment that names the key or a glob matching it, in
    /// application order: each one loses to `winner`.
    pub overridden: Vec<Assignment>,
}

impl KeyResolution {
    /// The value set at boot, or `None` when the key is left alone (an
    /// exclusion, or, for systemd, a refused value that replaced the others).
    pub fn value(&self) -> Option<&Value> {
        self.winner.applied_value()
    }

    /// The overridden assignments that are not the winning line itself read
    /// a second time: the ones worth telling a user about.
    pub fn shadowed(&self) -> impl Iterator<Item = &Assignment> {
        self.overridden
            .iter()
            .filter(|assignment| !assignment.same_line_as(&self.winner))
    }

    pub fn is_shadowed(&self) -> bool {
        self.shadowed().next().is_some()
    }
}

/// What one loader does with the files under one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub root: PathBuf,
    pub loader: Loader,
    /// In application order, masked and unreadable files included.
    pub files: Vec<ResolvedFile>,
    pub hidden: Vec<HiddenFile>,
    pub directories: Vec<Directory>,
    pub problems: Vec<Problem>,
    assignments: Vec<Assignment>,
    keys: BTreeMap<Key, KeyResolution>,
    /// Indices into `assignments` of the glob assignments that are applied,
    /// in the order they are applied: the last match wins.
    glob_order: Vec<usize>,
}

/// Largest sysctl.d file read; a larger one is reported unreadable (real
/// ones are a few KiB, and memory grows with the number of lines).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads every file `loader` would apply under `root` and resolves which
/// assignment wins for each key.
///
/// # Errors
///
/// [`ResolveError::Root`] when `root` is not a directory. Files and directories
/// that cannot be read do not fail the call: they are marked
/// [`FileState::Unreadable`] or listed in [`Resolution::problems`].
pub fn resolve(root: &Path, loader: Loader) -> Result<Resolution, ResolveError> {
    let listed = sources(root, loader)?;
    let mut files = Vec::with_capacity(listed.files.len());
    for mut source in listed.files {
        let content = match &source.state {
            FileState::Regular { resolved } => {
                match crate::input::read(resolved, MAX_FILE_BYTES, crate::input::Links::Follow) {
                    Ok(content) => Some(content),
                    Err(error) => {
                        source.state = FileState::Unreadable {
                            reason: error.to_string(),
                        };
                        None
                    }
                }
            }
            FileState::Masked | FileState::Unreadable { .. } => None,
        };
        let parsed = parse_for(&source.path, content.as_deref().unwrap_or_default(), loader);
        files.push(ResolvedFile { source, parsed });
    }
    Ok(Resolution::build(
        root.to_owned(),
        loader,
        files,
        listed.hidden,
        listed.directories,
        listed.problems,
    ))
}

impl Resolution {
    fn build(
        root: PathBuf,
        loader: Loader,
        files: Vec<ResolvedFile>,
        hidden: Vec<HiddenFile>,
        directories: Vec<Directory>,
        problems: Vec<Problem>,
    ) -> Resolution {
        let mut assignments: Vec<Assignment> = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let FileState::Regular { resolved } = &file.source.state else {
                continue;
            };
            for entry in file.parsed.entries_for(loader) {
                // An invalid key names no key we can reason about; its
                // diagnostic stays with the file.
                if matches!(entry.target, Target::Invalid(_)) {
                    continue;
                }
                assignments.push(Assignment {
                    seq: assignments.len(),
                    file: index,
                    path: file.source.path.clone(),
                    boot_path: file.source.boot_path.clone(),
                    source: resolved.clone(),
                    line: entry.line,
                    column: entry.column,
                    raw_key: entry.raw_key.clone(),
                    target: entry.target.clone(),
                    action: entry.action.clone(),
                    ignore_failure: entry.ignore_failure,
                    glob_guard: entry.glob_guard,
                    refused: match (&entry.target, entry.action.raw()) {
                        (Target::Key(key), Some(raw)) => kernel_refuses(key, raw),
                        _ => false,
                    },
                });
            }
        }

        let glob_order = glob_order(loader, &assignments);

        let mut by_key: BTreeMap<&Key, Vec<usize>> = BTreeMap::new();
        for (index, assignment) in assignments.iter().enumerate() {
            if let Target::Key(key) = &assignment.target {
                by_key.entry(key).or_default().push(index);
            }
        }
        let mut keys = BTreeMap::new();
        for (key, indices) in by_key {
            let Some(mut winner) = explicit_winner(loader, &assignments, &indices) else {
                continue;
            };
            // procps keeps a glob off a key only when some line's path is the
            // key's canonical path; otherwise the glob writes the key at its
            // own place in the order, and the last accepted write wins.
            if !indices.iter().any(|index| assignments[*index].glob_guard) {
                let last_glob = glob_order
                    .iter()
                    .rev()
                    .map(|index| &assignments[*index])
                    .find(|assignment| {
                        matches!(&assignment.target, Target::Glob(glob) if glob.matches(key))
                            && !assignment.refused_for(key)
                    });
                if let Some(glob) = last_glob
                    && (assignments[winner].applied_value().is_none()
                        || glob.seq > assignments[winner].seq)
                {
                    winner = glob.seq;
                }
            }
            let overridden = assignments
                .iter()
                .filter(|assignment| assignment.seq != winner)
                .filter(|assignment| match &assignment.target {
                    Target::Key(other) => other == key,
                    // Every glob loses to an explicit line, before or after.
                    Target::Glob(glob) => {
                        matches!(assignment.action, Action::Set { .. }) && glob.matches(key)
                    }
                    Target::Invalid(_) => false,
                })
                .cloned()
                .collect();
            keys.insert(
                key.clone(),
                KeyResolution {
                    key: key.clone(),
                    winner: assignments[winner].clone(),
                    overridden,
                },
            );
        }

        Resolution {
            root,
            loader,
            files,
            hidden,
            directories,
            problems,
            assignments,
            keys,
            glob_order,
        }
    }

    /// Every assignment of a key or glob, in application order.
    pub fn assignments(&self) -> &[Assignment] {
        &self.assignments
    }

    /// The keys named explicitly by some line, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &KeyResolution> {
        self.keys.values()
    }

    /// What happens to a key that some line names explicitly.
    pub fn get(&self, key: &Key) -> Option<&KeyResolution> {
        self.keys.get(key)
    }

    /// What happens to a key, whether a line names it or only a glob matches
    /// it. `None` when no configuration touches the key.
    pub fn lookup(&self, key: &Key) -> Option<Cow<'_, KeyResolution>> {
        if let Some(resolution) = self.keys.get(key) {
            return Some(Cow::Borrowed(resolution));
        }
        let winner = self.glob_winner(key)?;
        let overridden = self
            .globs()
            .filter(|assignment| assignment.seq != winner.seq)
            .filter(|assignment| {
                matches!(assignment.action, Action::Set { .. })
                    && matches!(&assignment.target, Target::Glob(glob) if glob.matches(key))
            })
            .cloned()
            .collect();
        Some(Cow::Owned(KeyResolution {
            key: key.clone(),
            winner: winner.clone(),
            overridden,
        }))
    }

    /// Which file and line decides the key at boot.
    pub fn winner(&self, key: &Key) -> Option<&Assignment> {
        match self.keys.get(key) {
            Some(resolution) => Some(&resolution.winner),
            None => self.glob_winner(key),
        }
    }

    fn glob_winner(&self, key: &Key) -> Option<&Assignment> {
        self.glob_order
            .iter()
            .rev()
            .map(|index| &self.assignments[*index])
            .find(|assignment| {
                matches!(&assignment.target, Target::Glob(glob) if glob.matches(key))
                    && !assignment.refused_for(key)
            })
    }

    /// The explicitly named keys for which another file or line loses.
    pub fn shadowed(&self) -> impl Iterator<Item = &KeyResolution> {
        self.keys().filter(|resolution| resolution.is_shadowed())
    }

    /// The glob assignments, in application order.
    pub fn globs(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments
            .iter()
            .filter(|assignment| matches!(assignment.target, Target::Glob(_)))
    }

    /// The diagnostics of every file read, in application order.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.files
            .iter()
            .flat_map(|file| file.parsed.diagnostics.iter())
    }

    /// If tcptune wrote `<root>/etc/sysctl.d/<name>`, which later assignments
    /// would beat it at boot.
    ///
    /// # Errors
    ///
    /// [`ResolveError::CandidateName`] when no loader would read a file of that name
    /// (not `*.conf`, a path, or hidden).
    pub fn candidate(&self, name: &str) -> Result<Candidate, ResolveError> {
        self.candidate_in(SYSCTL_D_DIRS[0], name)
    }

    /// The same as [`candidate`](Self::candidate) for a file in another
    /// sysctl.d directory (`dir` is one of [`SYSCTL_D_DIRS`]).
    ///
    /// # Errors
    ///
    /// [`ResolveError::CandidateName`] as for `candidate`, and
    /// [`ResolveError::CandidateDir`] when `dir` is not a sysctl.d directory.
    pub fn candidate_in(&self, dir: &str, name: &str) -> Result<Candidate, ResolveError> {
        check_candidate_name(name)?;
        let Some(rank) = SYSCTL_D_DIRS.iter().position(|known| *known == dir) else {
            return Err(ResolveError::CandidateDir {
                dir: dir.to_owned(),
            });
        };
        let dir = SYSCTL_D_DIRS[rank];
        let read_by_loader = !self
            .directories
            .iter()
            .any(|known| known.dir == dir && known.state == DirState::NotReadByLoader);

        let mut hidden_by = None;
        let mut displaces = Vec::new();
        for file in &self.files {
            if file.source.name.as_bytes() != name.as_bytes() {
                continue;
            }
            match file.source.origin {
                Place::SysctlD(other) if dir_rank(other) < rank => {
                    hidden_by = Some(file.source.boot_path.clone());
                }
                Place::SysctlD(_) => displaces.push(file.source.boot_path.clone()),
                Place::SysctlConf => {}
            }
        }

        let mut later: BTreeMap<Key, Vec<Assignment>> = BTreeMap::new();
        for assignment in &self.assignments {
            let file = &self.files[assignment.file].source;
            let after = match file.origin {
                Place::SysctlConf => true,
                Place::SysctlD(_) => file.name.as_bytes() > name.as_bytes(),
            };
            if !after {
                continue;
            }
            // Globs never beat an explicit line. For procps an exclusion
            // undoes nothing; for systemd it drops the earlier assignment.
            let Target::Key(key) = &assignment.target else {
                continue;
            };
            if self.loader == Loader::Procps && assignment.action == Action::Exclude {
                continue;
            }
            later
                .entry(key.clone())
                .or_default()
                .push(assignment.clone());
        }

        Ok(Candidate {
            loader: self.loader,
            dir,
            name: name.to_owned(),
            path: self.root.join(dir).join(name),
            boot_path: Path::new("/").join(dir).join(name),
            read_by_loader,
            hidden_by,
            displaces,
            later,
        })
    }
}

/// The winning explicit assignment among `indices` (all naming one key).
fn explicit_winner(loader: Loader, assignments: &[Assignment], indices: &[usize]) -> Option<usize> {
    match loader {
        // One entry per key, replaced by each different value; the last
        // line decides, and a same-value repeat leaves the value as it is.
        Loader::Systemd => indices.last().copied(),
        // Every assignment is written in order and exclusions are skipped,
        // so the last assignment with a value decides; a value the kernel
        // refuses changes nothing, so it decides nothing either.
        Loader::Procps => indices
            .iter()
            .rev()
            .find(|index| {
                matches!(assignments[**index].action, Action::Set { .. })
                    && !assignments[**index].refused
            })
            .or(indices.last())
            .copied(),
    }
}

/// The glob assignments that are applied, in application order.
fn glob_order(loader: Loader, assignments: &[Assignment]) -> Vec<usize> {
    let globs = assignments
        .iter()
        .enumerate()
        .filter_map(|(index, assignment)| match &assignment.target {
            Target::Glob(glob) => Some((index, glob)),
            Target::Key(_) | Target::Invalid(_) => None,
        });
    let mut order: Vec<usize> = Vec::new();
    match loader {
        Loader::Systemd => {
            // The ordered map keyed by pattern: a different value moves the
            // pattern to the end, the same value (compared as text) keeps
            // the old position. Exclusions take part, then are skipped.
            for (index, glob) in globs {
                let existing = order.iter().position(
                    |known| matches!(&assignments[*known].target, Target::Glob(other) if other == glob),
                );
                if let Some(position) = existing {
                    if assignments[order[position]].action.raw() == assignments[index].action.raw()
                    {
                        continue;
                    }
                    order.remove(position);
                }
                order.push(index);
            }
        }
        Loader::Procps => order.extend(globs.map(|(index, _)| index)),
    }
    order.retain(|index| matches!(assignments[*index].action, Action::Set { .. }));
    order
}

fn dir_rank(dir: &str) -> usize {
    SYSCTL_D_DIRS
        .iter()
        .position(|known| *known == dir)
        .unwrap_or(SYSCTL_D_DIRS.len())
}

fn check_candidate_name(name: &str) -> Result<(), ResolveError> {
    let reason = if name.contains(['/', '\0']) {
        Some("it must be a file name, not a path")
    } else if !name.ends_with(".conf") || name == ".conf" {
        Some("only names ending in `.conf` are read")
    } else if name.starts_with('.') {
        Some("systemd-sysctl skips hidden files")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ResolveError::CandidateName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A file tcptune might write, seen by one loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub loader: Loader,
    /// The sysctl.d directory, relative to the root.
    pub dir: &'static str,
    pub name: String,
    /// The file on this host.
    pub path: PathBuf,
    pub boot_path: PathBuf,
    /// `false` when this loader does not read the directory at all
    /// (systemd and `/lib/sysctl.d` on a merged-usr system).
    pub read_by_loader: bool,
    /// A file of the same name in a higher-precedence directory: the
    /// candidate would never be read.
    pub hidden_by: Option<PathBuf>,
    /// Existing files of the same name that the candidate would replace (in
    /// its own directory) or hide (in later directories).
    pub displaces: Vec<PathBuf>,
    later: BTreeMap<Key, Vec<Assignment>>,
}

impl Candidate {
    /// Whether the loader would read the candidate at all.
    pub fn is_read(&self) -> bool {
        self.read_by_loader && self.hidden_by.is_none()
    }

    /// The assignments of `key` applied after the candidate, in order: any of
    /// them beats the candidate's own line for that key (for systemd an
    /// exclusion means the key is then not written at all). A later line
    /// with the same value does no harm today but takes over if tcptune's
    /// value changes.
    pub fn overriders(&self, key: &Key) -> &[Assignment] {
        self.later.get(key).map_or(&[], Vec::as_slice)
    }

    /// Every key set after the candidate, with the assignments that set it.
    pub fn later(&self) -> impl Iterator<Item = (&Key, &[Assignment])> {
        self.later
            .iter()
            .map(|(key, assignments)| (key, assignments.as_slice()))
    }
}

/// A candidate file name seen by both loaders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateReport {
    pub systemd: Candidate,
    pub procps: Candidate,
}

impl CandidateReport {
    pub fn get(&self, loader: Loader) -> &Candidate {
        match loader {
            Loader::Systemd => &self.systemd,
            Loader::Procps => &self.procps,
        }
    }

    /// For `key`, every later assignment under either loader.
    pub fn overriders(&self, key: &Key) -> impl Iterator<Item = (Loader, &Assignment)> {
        Loader::ALL.into_iter().flat_map(move |loader| {
            self.get(loader)
                .overriders(key)
                .iter()
                .map(move |assignment| (loader, assignment))
        })
    }
}

/// Resolves `root` with both loaders and asks both about a file named `name`
/// in `etc/sysctl.d`.
///
/// # Errors
///
/// [`ResolveError::CandidateName`] for a name no loader would read, and
/// [`ResolveError::Root`] when `root` is not a directory.
pub fn candidate(root: &Path, name: &str) -> Result<CandidateReport, ResolveError> {
    check_candidate_name(name)?;
    Ok(CandidateReport {
        systemd: resolve(root, Loader::Systemd)?.candidate(name)?,
        procps: resolve(root, Loader::Procps)?.candidate(name)?,
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::conf::testing::{link, write};

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    /// (boot path, line, raw value) of an assignment, for compact asserts.
    fn at(assignment: &Assignment) -> (String, usize, Option<&str>) {
        (
            assignment.boot_path.display().to_string(),
            assignment.line,
            assignment.raw_value(),
        )
    }

    fn owned(
        path: &str,
        line: usize,
        value: Option<&'static str>,
    ) -> (String, usize, Option<&'static str>) {
        (path.to_owned(), line, value)
    }

    #[test]
    fn later_file_by_name_wins_whatever_its_directory() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-admin.conf",
            "net.ipv4.tcp_fin_timeout = 30\n",
        );
        write(
            root.path(),
            "usr/lib/sysctl.d/50-vendor.conf",
            "net.ipv4.tcp_fin_timeout = 60\n",
        );
        for loader in Loader::ALL {
            let resolution = resolve(root.path(), loader).unwrap();
            let resolved = resolution.get(&key("net.ipv4.tcp_fin_timeout")).unwrap();
            assert_eq!(
                at(&resolved.winner),
                owned("/usr/lib/sysctl.d/50-vendor.conf", 1, Some("60"))
            );
            assert_eq!(resolved.overridden.len(), 1);
            assert_eq!(
                at(&resolved.overridden[0]),
                owned("/etc/sysctl.d/10-admin.conf", 1, Some("30"))
            );
            assert!(resolved.is_shadowed());
            assert_eq!(resolution.shadowed().count(), 1);
        }
    }

    #[test]
    fn duplicates_within_a_file_later_line_wins() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.core.somaxconn = 128\n# again\nnet/core/somaxconn = 4096\n",
        );
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        let resolved = resolution.get(&key("net.core.somaxconn")).unwrap();
        assert_eq!(resolved.winner.line, 3);
        assert_eq!(resolved.value(), Some(&Value::parse("4096")));
        assert_eq!(resolved.overridden[0].line, 1);
    }

    #[test]
    fn same_name_in_etc_hides_vendor_file_and_its_keys() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "usr/lib/sysctl.d/50-default.conf",
            "net.ipv4.tcp_sack = 0\nnet.core.somaxconn = 5\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/50-default.conf",
            "net.ipv4.tcp_sack = 1\n",
        );
        let resolution = resolve(root.path(), Loader::Procps).unwrap();
        assert_eq!(resolution.files.len(), 1);
        assert_eq!(resolution.hidden.len(), 1);
        assert_eq!(
            resolution.hidden[0].boot_path,
            Path::new("/usr/lib/sysctl.d/50-default.conf")
        );
        let sack = resolution.get(&key("net.ipv4.tcp_sack")).unwrap();
        assert!(sack.overridden.is_empty());
        assert_eq!(sack.value(), Some(&Value::parse("1")));
        assert!(resolution.get(&key("net.core.somaxconn")).is_none());
    }

    #[test]
    fn dev_null_mask_drops_the_vendor_file() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "usr/lib/sysctl.d/50-pid-max.conf",
            "kernel.pid_max = 4194304\n",
        );
        link(root.path(), "etc/sysctl.d/50-pid-max.conf", "/dev/null");
        for loader in Loader::ALL {
            let resolution = resolve(root.path(), loader).unwrap();
            assert_eq!(resolution.files.len(), 1);
            assert!(resolution.files[0].source.is_masked());
            assert_eq!(
                resolution.files[0].source.boot_path,
                Path::new("/etc/sysctl.d/50-pid-max.conf")
            );
            assert!(resolution.keys().next().is_none());
        }
    }

    /// The most common layout: 99-sysctl.conf links to ../sysctl.conf.
    #[test]
    fn ninety_nine_sysctl_conf_symlink_to_etc_sysctl_conf() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.conf",
            "net.ipv4.tcp_tw_reuse = 1\n",
        );
        link(root.path(), "etc/sysctl.d/99-sysctl.conf", "../sysctl.conf");
        write(
            root.path(),
            "etc/sysctl.d/90-tuning.conf",
            "net.ipv4.tcp_tw_reuse = 2\n",
        );

        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        let resolved = systemd.get(&key("net.ipv4.tcp_tw_reuse")).unwrap();
        assert_eq!(
            at(&resolved.winner),
            owned("/etc/sysctl.d/99-sysctl.conf", 1, Some("1"))
        );
        assert_eq!(resolved.winner.source, root.path().join("etc/sysctl.conf"));
        assert_eq!(
            at(&resolved.overridden[0]),
            owned("/etc/sysctl.d/90-tuning.conf", 1, Some("2"))
        );

        // procps reads the same line twice; sysctl.conf itself comes last.
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        let order: Vec<_> = procps
            .files
            .iter()
            .map(|f| f.source.boot_path.clone())
            .collect();
        assert_eq!(
            order,
            [
                PathBuf::from("/etc/sysctl.d/90-tuning.conf"),
                PathBuf::from("/etc/sysctl.d/99-sysctl.conf"),
                PathBuf::from("/etc/sysctl.conf"),
            ]
        );
        let resolved = procps.get(&key("net.ipv4.tcp_tw_reuse")).unwrap();
        assert_eq!(
            at(&resolved.winner),
            owned("/etc/sysctl.conf", 1, Some("1"))
        );
        assert_eq!(resolved.overridden.len(), 2);
        assert!(resolved.overridden[1].same_line_as(&resolved.winner));
        let shadowed: Vec<_> = resolved.shadowed().map(at).collect();
        assert_eq!(
            shadowed,
            [owned("/etc/sysctl.d/90-tuning.conf", 1, Some("2"))]
        );
    }

    #[test]
    fn etc_sysctl_conf_wins_for_procps_and_is_ignored_by_systemd() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.conf",
            "net.core.somaxconn = 1024\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/zz-last.conf",
            "net.core.somaxconn = 8192\n",
        );
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        let winner = systemd.winner(&key("net.core.somaxconn")).unwrap();
        assert_eq!(
            at(winner),
            owned("/etc/sysctl.d/zz-last.conf", 1, Some("8192"))
        );
        assert!(
            systemd
                .get(&key("net.core.somaxconn"))
                .unwrap()
                .overridden
                .is_empty()
        );

        let procps = resolve(root.path(), Loader::Procps).unwrap();
        let winner = procps.winner(&key("net.core.somaxconn")).unwrap();
        assert_eq!(at(winner), owned("/etc/sysctl.conf", 1, Some("1024")));
    }

    #[test]
    fn absolute_symlink_target_is_read_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "srv/tuning/tcp.conf",
            "net.ipv4.tcp_keepalive_time = 600\n",
        );
        link(
            root.path(),
            "etc/sysctl.d/60-tcp.conf",
            "/srv/tuning/tcp.conf",
        );
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        let winner = resolution
            .winner(&key("net.ipv4.tcp_keepalive_time"))
            .unwrap();
        assert_eq!(winner.path, root.path().join("etc/sysctl.d/60-tcp.conf"));
        assert_eq!(winner.source, root.path().join("srv/tuning/tcp.conf"));
        assert_eq!(winner.raw_value(), Some("600"));
    }

    #[test]
    fn both_key_spellings_meet_across_files() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net/ipv4/conf/eth0.100/rp_filter = 1\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-b.conf",
            "net.ipv4.conf.eth0/100.rp_filter = 2\n",
        );
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        let resolved = resolution
            .get(&key("net.ipv4.conf.eth0/100.rp_filter"))
            .unwrap();
        assert_eq!(resolved.winner.raw_value(), Some("2"));
        assert_eq!(
            resolved.overridden[0].raw_key,
            "net/ipv4/conf/eth0.100/rp_filter"
        );
    }

    #[test]
    fn an_explicit_line_beats_a_glob_before_or_after_it() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-eth0.conf",
            "net.ipv4.conf.eth0.rp_filter = 0\n",
        );
        write(
            root.path(),
            "usr/lib/sysctl.d/50-default.conf",
            "net.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.lo.rp_filter\n",
        );
        for loader in Loader::ALL {
            let resolution = resolve(root.path(), loader).unwrap();
            let eth0 = resolution
                .lookup(&key("net.ipv4.conf.eth0.rp_filter"))
                .unwrap();
            assert_eq!(
                at(&eth0.winner),
                owned("/etc/sysctl.d/10-eth0.conf", 1, Some("0"))
            );
            assert_eq!(
                at(&eth0.overridden[0]),
                owned("/usr/lib/sysctl.d/50-default.conf", 1, Some("2"))
            );

            // Only the glob touches eth1.
            let eth1 = resolution
                .lookup(&key("net.ipv4.conf.eth1.rp_filter"))
                .unwrap();
            assert!(matches!(eth1, Cow::Owned(_)));
            assert_eq!(
                at(&eth1.winner),
                owned("/usr/lib/sysctl.d/50-default.conf", 1, Some("2"))
            );

            // The exclusion keeps the glob off lo: nothing is written.
            let lo = resolution
                .lookup(&key("net.ipv4.conf.lo.rp_filter"))
                .unwrap();
            assert_eq!(lo.winner.action, Action::Exclude);
            assert_eq!(lo.value(), None);

            assert!(
                resolution
                    .lookup(&key("net.ipv6.conf.eth1.forwarding"))
                    .is_none()
            );
        }
    }

    #[test]
    fn later_glob_wins_over_earlier_glob() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.ipv4.conf.*.rp_filter = 1\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-b.conf",
            "net.ipv4.conf.eth*.rp_filter = 2\n",
        );
        for loader in Loader::ALL {
            let resolution = resolve(root.path(), loader).unwrap();
            let resolved = resolution
                .lookup(&key("net.ipv4.conf.eth0.rp_filter"))
                .unwrap();
            assert_eq!(resolved.winner.raw_value(), Some("2"));
            assert_eq!(resolved.overridden.len(), 1);
            let lo = resolution
                .lookup(&key("net.ipv4.conf.lo.rp_filter"))
                .unwrap();
            assert_eq!(lo.winner.raw_value(), Some("1"));
        }
    }

    /// systemd's ordered map: repeating a glob with the same value keeps its
    /// old position, so a glob applied in between still wins; procps simply
    /// applies every line in order.
    #[test]
    fn systemd_keeps_the_position_of_a_repeated_glob_with_the_same_value() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.ipv4.conf.*.rp_filter = 1\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-b.conf",
            "net.ipv4.conf.eth*.rp_filter = 2\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/30-c.conf",
            "net/ipv4/conf/*/rp_filter = 1\n",
        );
        let eth0 = key("net.ipv4.conf.eth0.rp_filter");
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        assert_eq!(
            systemd.winner(&eth0).and_then(Assignment::raw_value),
            Some("2")
        );
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        assert_eq!(
            procps.winner(&eth0).and_then(Assignment::raw_value),
            Some("1")
        );
    }

    #[test]
    fn an_exclusion_after_an_assignment_unsets_it_for_systemd_only() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.ipv4.tcp_ecn = 1\n",
        );
        write(root.path(), "etc/sysctl.d/20-b.conf", "-net.ipv4.tcp_ecn\n");
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        let resolved = systemd.get(&key("net.ipv4.tcp_ecn")).unwrap();
        assert_eq!(resolved.winner.action, Action::Exclude);
        assert_eq!(resolved.value(), None);
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        let resolved = procps.get(&key("net.ipv4.tcp_ecn")).unwrap();
        assert_eq!(resolved.value(), Some(&Value::parse("1")));
        assert_eq!(resolved.overridden[0].action, Action::Exclude);
    }

    #[test]
    fn ignore_failure_and_diagnostics_carry_through() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "-net.ipv4.tcp_ecn = 2\nnot an assignment\nnet.ipv4.bad key = 1\n",
        );
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        let winner = resolution.winner(&key("net.ipv4.tcp_ecn")).unwrap();
        assert!(winner.ignore_failure);
        assert_eq!(
            winner.to_string(),
            format!("{}:1: -net.ipv4.tcp_ecn = 2", winner.path.display())
        );
        let lines: Vec<usize> = resolution.diagnostics().map(|d| d.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(resolution.assignments().len(), 1);
    }

    #[test]
    fn an_unreadable_file_is_reported_and_still_hides_its_name() {
        let root = tempfile::tempdir().unwrap();
        link(root.path(), "etc/sysctl.d/50-x.conf", "gone.conf");
        write(
            root.path(),
            "usr/lib/sysctl.d/50-x.conf",
            "net.core.somaxconn = 1\n",
        );
        let resolution = resolve(root.path(), Loader::Procps).unwrap();
        assert!(matches!(
            resolution.files[0].source.state,
            FileState::Unreadable { .. }
        ));
        assert!(resolution.keys().next().is_none());
        assert_eq!(resolution.hidden.len(), 1);
    }

    #[test]
    fn candidate_name_before_99_sysctl_conf_is_overridden() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.conf",
            "net.ipv4.tcp_fin_timeout = 60\n-net.core.somaxconn\n",
        );
        link(root.path(), "etc/sysctl.d/99-sysctl.conf", "../sysctl.conf");
        write(
            root.path(),
            "usr/lib/sysctl.d/50-default.conf",
            "net.ipv4.tcp_fin_timeout = 45\nnet.ipv4.conf.*.rp_filter = 2\n",
        );
        let fin = key("net.ipv4.tcp_fin_timeout");
        let somaxconn = key("net.core.somaxconn");

        let report = candidate(root.path(), "60-tcptune.conf").unwrap();
        let systemd = &report.systemd;
        assert!(systemd.is_read());
        assert_eq!(
            systemd.boot_path,
            Path::new("/etc/sysctl.d/60-tcptune.conf")
        );
        let over: Vec<_> = systemd.overriders(&fin).iter().map(at).collect();
        assert_eq!(over, [owned("/etc/sysctl.d/99-sysctl.conf", 1, Some("60"))]);
        // systemd: the exclusion after us means our somaxconn is not written.
        assert_eq!(systemd.overriders(&somaxconn).len(), 1);
        // 50-default.conf comes before us, and its glob cannot beat us.
        assert!(
            systemd
                .overriders(&key("net.ipv4.conf.all.rp_filter"))
                .is_empty()
        );

        let procps = &report.procps;
        let over: Vec<_> = procps.overriders(&fin).iter().map(at).collect();
        assert_eq!(
            over,
            [
                owned("/etc/sysctl.d/99-sysctl.conf", 1, Some("60")),
                owned("/etc/sysctl.conf", 1, Some("60")),
            ]
        );
        assert!(procps.overriders(&somaxconn).is_empty());
        assert_eq!(report.overriders(&fin).count(), 3);

        // A name after 99-sysctl.conf wins for systemd; procps still reads
        // /etc/sysctl.conf after every sysctl.d file.
        let late = candidate(root.path(), "99-tcptune.conf").unwrap();
        assert!(late.systemd.overriders(&fin).is_empty());
        assert!(late.systemd.later().next().is_none());
        let over: Vec<_> = late.procps.overriders(&fin).iter().map(at).collect();
        assert_eq!(over, [owned("/etc/sysctl.conf", 1, Some("60"))]);
    }

    #[test]
    fn candidate_replaces_or_hides_files_of_its_own_name() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/60-tcptune.conf",
            "net.core.somaxconn = 1\n",
        );
        write(
            root.path(),
            "usr/lib/sysctl.d/70-x.conf",
            "net.core.somaxconn = 2\n",
        );
        write(
            root.path(),
            "run/sysctl.d/65-y.conf",
            "net.core.somaxconn = 3\n",
        );
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        let etc = resolution.candidate("60-tcptune.conf").unwrap();
        assert_eq!(
            etc.displaces,
            [PathBuf::from("/etc/sysctl.d/60-tcptune.conf")]
        );
        assert!(etc.hidden_by.is_none());
        assert_eq!(etc.overriders(&key("net.core.somaxconn")).len(), 2);

        // In run/sysctl.d, a same-named file in /etc hides the candidate.
        let run = resolution
            .candidate_in("run/sysctl.d", "60-tcptune.conf")
            .unwrap();
        assert_eq!(
            run.hidden_by,
            Some(PathBuf::from("/etc/sysctl.d/60-tcptune.conf"))
        );
        assert!(!run.is_read());
        // And the same name as a vendor file hides that file.
        let vendor = resolution.candidate("70-x.conf").unwrap();
        assert_eq!(
            vendor.displaces,
            [PathBuf::from("/usr/lib/sysctl.d/70-x.conf")]
        );
        assert!(vendor.overriders(&key("net.core.somaxconn")).is_empty());
    }

    #[test]
    fn candidate_names_and_dirs_are_checked() {
        let root = tempfile::tempdir().unwrap();
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        for bad in ["tcptune", "a/b.conf", ".hidden.conf", ".conf", "x.conf.bak"] {
            assert!(
                matches!(
                    resolution.candidate(bad),
                    Err(ResolveError::CandidateName { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            resolution.candidate_in("etc", "x.conf"),
            Err(ResolveError::CandidateDir { .. })
        ));
        // Merged usr: systemd does not read /lib/sysctl.d.
        link(root.path(), "lib", "usr/lib");
        let resolution = resolve(root.path(), Loader::Systemd).unwrap();
        assert!(
            !resolution
                .candidate_in("lib/sysctl.d", "x.conf")
                .unwrap()
                .is_read()
        );
    }

    #[test]
    fn a_refused_value_shadows_nothing_for_procps_and_empties_the_key_for_systemd() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.ipv4.tcp_sack = 0\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-b.conf",
            "net.ipv4.tcp_sack = off\n",
        );
        let sack = key("net.ipv4.tcp_sack");
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        let resolved = procps.get(&sack).unwrap();
        assert_eq!(resolved.value(), Some(&Value::parse("0")));
        assert!(resolved.overridden[0].refused);
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        assert_eq!(systemd.get(&sack).unwrap().value(), None);
    }

    #[test]
    fn procps_reads_a_file_named_like_a_glob_as_its_matches() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-[ab].conf",
            "net.ipv4.tcp_sack = 0\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/10-b.conf.bak",
            "net.ipv4.tcp_ecn = 2\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-{c,d}.conf",
            "net.ipv4.tcp_dsack = 0\n",
        );
        write(
            root.path(),
            "etc/sysctl.d/20-d.conf",
            "net.ipv4.tcp_dsack = 1\n",
        );
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        // `10-[ab].conf` matches nothing whose whole name fits: read literally.
        assert_eq!(
            procps
                .winner(&key("net.ipv4.tcp_sack"))
                .unwrap()
                .raw_value(),
            Some("0")
        );
        // The brace name reads 20-d.conf (twice: once for each listed name).
        let dsack = procps.get(&key("net.ipv4.tcp_dsack")).unwrap();
        assert_eq!(dsack.value(), Some(&Value::parse("1")));
        assert!(dsack.overridden.iter().all(|a| a.raw_value() == Some("1")));
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net.ipv4.tcp_sack = 1\n",
        );
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        let sack = procps.get(&key("net.ipv4.tcp_sack")).unwrap();
        assert_eq!(sack.value(), Some(&Value::parse("1")));
        assert!(sack.overridden.iter().all(|a| a.raw_value() == Some("1")));
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        assert_eq!(
            systemd.get(&key("net.ipv4.tcp_sack")).unwrap().value(),
            Some(&Value::parse("1"))
        );
    }

    #[test]
    fn procps_lets_a_glob_past_an_oddly_spelt_key() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/sysctl.d/10-a.conf",
            "net..ipv4.tcp_keepalive_time = 100\nnet.ipv4.tcp_keepalive_* = 50\n",
        );
        let time = key("net.ipv4.tcp_keepalive_time");
        let procps = resolve(root.path(), Loader::Procps).unwrap();
        assert_eq!(
            procps.lookup(&time).unwrap().value(),
            Some(&Value::parse("50"))
        );
        let systemd = resolve(root.path(), Loader::Systemd).unwrap();
        assert_eq!(
            systemd.lookup(&time).unwrap().value(),
            Some(&Value::parse("100"))
        );
    }
}
