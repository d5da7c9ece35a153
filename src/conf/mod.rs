//! sysctl.conf / sysctl.d files as the boot-time loaders read them, and which
//! assignment wins for each key.
//!
//! This module owns three things. [`parse`] turns one file's bytes into
//! entries and diagnostics, with the line rules that systemd-sysctl and
//! procps `sysctl --system` share (and a note wherever they differ).
//! [`sources`] lists the files a loader would read under a root directory:
//! the sysctl.d directories in precedence order, a file name hiding the same
//! name in later directories, `/dev/null` symlinks masking, everything sorted
//! by file name, and for procps `/etc/sysctl.conf` last of all. [`resolve`]
//! reads those files and answers "which file and line sets key K at boot, and
//! which assignments does it override", and [`Resolution::candidate`] answers
//! "if tcptune writes a file named N, which later assignments would beat it".
//!
//! Every path is taken relative to a caller-given root (like
//! `systemctl --root`), and symlinks are followed inside that root only, so an
//! image or a test tree is read exactly as the booted system would read it and
//! the host's own files are never touched.

/// tcptune's file in `/etc/sysctl.d`. Loaders apply files sorted by name and
/// the last assignment wins; `99-zz-` sorts after `99-sysctl.conf` (the usual
/// link to `/etc/sysctl.conf`) and after every other `99-*` name that does
/// not itself start with `99-zz`, so the profile's values win at boot.
pub const FILE_NAME: &str = "99-zz-tcptune.conf";

mod glob;

mod kernel_value;
mod parse;
mod resolve;
mod sources;

use std::fmt;
use std::path::PathBuf;

pub use glob::Glob;
pub use kernel_value::kernel_refuses;
pub use parse::{
    Action, Diagnostic, DiagnosticKind, Entry, Impact, LONG_LINE_MAX, ParsedFile, Target, parse,
    parse_for,
};
pub use resolve::{
    Assignment, Candidate, CandidateReport, KeyResolution, Resolution, ResolvedFile, candidate,
    resolve,
};
pub use sources::{
    DirState, Directory, FileState, HiddenFile, Place, Problem, SYSCTL_CONF, SYSCTL_D_DIRS,
    SourceFile, Sources, boot_ranks, sources,
};

/// Which program applies the files at boot. They agree on name hiding and
/// sorting, and differ in which files they read, in how they split and strip
/// lines (see [`parse_for`]) and in how repeated keys are treated.
///
/// Versions modelled, checked against the real programs by
/// `tests/integration/loader_fidelity.rs`: procps-ng 4.0.2 (the same code
/// through 4.0.4; 4.0.5, commit 39748b78 "sysctl: Add support for systemd
/// glob excludes", made `-glob` lines exclude glob matches, which is not
/// modelled: tcptune cannot learn the procps version from a root) and
/// systemd 252 (the parser is the same through v256; `;` is still a comment
/// there, `COMMENTS` being "#;"). What systemd does that a root cannot show:
/// whether the binary was built with split-usr (only then, and only before
/// v255, commit b0d3095fd6 "Drop split-usr and unmerged-usr support", is
/// `/lib/sysctl.d` read; Debian 12's 252 is built without it, and tcptune
/// guesses from whether `/lib` is a real directory), and the
/// `sysctl.extra` credential (v252, commit 39f0d1d2e7), parsed after every
/// file and so winning over them, which lives in the service's credentials
/// directory at boot and is never under `--root`. In both versions a
/// symlink loop or dangling link still takes its file name (`conf_files_list`
/// is called with no flags, so nothing is stat()ed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Loader {
    /// `systemd-sysctl.service`: does not read `/etc/sysctl.conf` itself,
    /// reads `/lib/sysctl.d` only on split-usr systems, skips dot files, and
    /// keeps one assignment per key (a `-key` line without a value drops the
    /// earlier assignment, so the key is left alone).
    Systemd,
    /// procps `sysctl --system`: reads `/lib/sysctl.d` always and
    /// `/etc/sysctl.conf` after everything else, and writes every assignment
    /// in order.
    Procps,
}

impl Loader {
    pub const ALL: [Loader; 2] = [Loader::Systemd, Loader::Procps];

    /// The command as people know it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Loader::Systemd => "systemd-sysctl",
            Loader::Procps => "sysctl --system",
        }
    }
}

impl fmt::Display for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What stopped the conf module from answering at all. Problems with single
/// files or directories are not errors: the loaders skip those too, so they
/// are reported inside [`Sources`] and [`Resolution`] instead.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The root directory itself cannot be used.
    #[error("cannot use {} as the root directory: {source}", path.display())]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A candidate file name that no loader would read, or that is not a
    /// plain file name.
    #[error("`{name}` cannot be a sysctl.d file name: {reason}")]
    CandidateName { name: String, reason: &'static str },

    /// A candidate directory that is not one of the sysctl.d directories.
    #[error("`{dir}` is not a sysctl.d directory (expected one of {})", SYSCTL_D_DIRS.join(", "))]
    CandidateDir { dir: String },
}

#[cfg(test)]
pub(crate) mod testing {
    //! Building sysctl trees under a temporary root, for the conf tests.

    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    pub fn write(root: &Path, relative: &str, content: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub fn link(root: &Path, relative: &str, target: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, path).unwrap();
    }
}
