//! The errors tcptune reports, and the exit code each one maps to.
//!
//! Findings are not errors: a finding is a result of a successful audit.
//! Errors are what stopped tcptune from doing what was asked, and they split
//! into the contract's two classes: the user's input was wrong (exit 2) or the
//! system would not let tcptune read or write what it needed (exit 3).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Exit codes of the command-line contract, shared by every command.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const INVALID_INPUT: u8 = 2;
    pub const SYSTEM: u8 = 3;
    pub const NOT_CONFIRMED: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something that cannot be done.
    #[error("{0}")]
    Usage(String),

    /// One or more profile files did not parse or validate.
    #[error("{0}")]
    Profile(#[from] ProfileErrors),

    /// A profile name that is neither built in, installed, nor a file.
    #[error(
        "unknown profile `{name}`{suggestion}: not built in ({builtins}), not found as {installed}, and not a path to a file"
    )]
    UnknownProfile {
        name: String,
        /// `; did you mean `webserver`?`, or empty.
        suggestion: String,
        builtins: String,
        installed: PathBuf,
    },

    /// `explain` was asked about something tcptune does not know.
    #[error("{0}")]
    UnknownTopic(String),

    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// A kernel interface file had content tcptune could not make sense of.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A file or directory tcptune owns could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },

    /// A journal record that cannot be used.
    #[error("journal record {}: {message}", path.display())]
    Journal { path: PathBuf, message: String },

    /// Another tcptune holds the state directory's lock.
    #[error("another tcptune is applying or rolling back (lock {} is held); try again when it is done", path.display())]
    Locked { path: PathBuf },

    /// A transaction failed and was put back as it was.
    #[error("{0}")]
    Failed(String),

    /// Refused in order not to lose someone else's change.
    #[error("{0}")]
    Refused(String),

    /// Confirmation was needed and not given.
    #[error("{0}")]
    NotConfirmed(String),

    /// Writing the output failed (a closed pipe is not an error; see `main`).
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

impl Error {
    /// The exit code of the contract for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::Profile(_)
            | Error::UnknownProfile { .. }
            | Error::UnknownTopic(_) => exit::INVALID_INPUT,
            Error::Read { .. }
            | Error::Malformed { .. }
            | Error::Output(_)
            | Error::Write { .. }
            | Error::Journal { .. }
            | Error::Locked { .. }
            | Error::Failed(_)
            | Error::Refused(_) => exit::SYSTEM,
            Error::NotConfirmed(_) => exit::NOT_CONFIRMED,
        }
    }
}

/// One mistake in a profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Raw here: the printer escapes each line it writes, so a newline
        // quoted from the file cannot start a line of its own.
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every mistake found in a profile file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileErrors(pub Vec<ProfileError>);

impl fmt::Display for ProfileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
