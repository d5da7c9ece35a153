//! Writes: live sysctls under `<proc>/sys`, and files that tcptune owns
//! (its sysctl.d file, its state directory). Every write that changes the
//! machine goes through here.
//!
//! Files are written the crash-safe way: a temporary file in the same
//! directory (its name does not end in `.conf`, so no loader reads a half
//! file), fsync, rename over the target, fsync of the directory. Nothing is
//! written through a symlink: a symlink at a path tcptune owns is refused,
//! because someone else placed it there.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;

use super::System;
use crate::facts::Writability;
use crate::key::{Key, Value};

/// Why a live write did not happen. The kinds differ for the operator: the
/// key is missing here, the namespace may not change it, or the kernel
/// refused the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum WriteRefusal {
    #[error("the key does not exist here (ENOENT)")]
    Absent,
    #[error("the key is read-only here (EACCES)")]
    ReadOnly,
    #[error("the key is on a read-only mount (EROFS)")]
    ReadOnlyMount,
    #[error("not permitted (EPERM)")]
    NotPermitted,
    #[error("the kernel rejected the value (EINVAL)")]
    InvalidValue,
    /// The congestion control keys answer ENOENT for an algorithm the
    /// kernel does not have (not built, module not loaded).
    #[error(
        "no such congestion control algorithm (ENOENT); net.ipv4.tcp_available_congestion_control lists the loaded ones"
    )]
    NoSuchAlgorithm,
    #[error("{0}")]
    Other(String),
}

impl WriteRefusal {
    fn from_io(error: &io::Error) -> WriteRefusal {
        match error.raw_os_error() {
            Some(2) => WriteRefusal::Absent,
            Some(13) => WriteRefusal::ReadOnly,
            Some(30) => WriteRefusal::ReadOnlyMount,
            Some(1) => WriteRefusal::NotPermitted,
            Some(22) => WriteRefusal::InvalidValue,
            _ => WriteRefusal::Other(error.to_string()),
        }
    }
}

impl System {
    /// Whether `<proc>/sys/KEY` exists and has write permission bits.
    pub fn sysctl_writability(&self, key: &Key) -> Writability {
        match fs::metadata(self.proc.join("sys").join(key.relative_path())) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o222 != 0 => {
                Writability::Writable
            }
            Ok(meta) if meta.is_file() => Writability::ReadOnly,
            _ => Writability::Absent,
        }
    }

    /// Writes one live value with a single write, never creating or
    /// truncating (a sysctl file is not a regular file, and a missing key must
    /// stay missing).
    pub fn write_sysctl(&self, key: &Key, value: &Value) -> Result<(), WriteRefusal> {
        let path = self.proc.join("sys").join(key.relative_path());
        let mut file = OpenOptions::new()
            .write(true)
            .custom_flags(nofollow())
            .open(&path)
            .map_err(|error| WriteRefusal::from_io(&error))?;
        let text = format!("{value}\n");
        // The key exists (it opened): ENOENT from the write is about the
        // value, which for congestion control means an unknown algorithm.
        file.write_all(text.as_bytes())
            .map_err(|error| match error.raw_os_error() {
                Some(2) if key.to_string().ends_with("congestion_control") => {
                    WriteRefusal::NoSuchAlgorithm
                }
                Some(2) => WriteRefusal::Other(
                    "the kernel knows no such value for this key (ENOENT)".into(),
                ),
                _ => WriteRefusal::from_io(&error),
            })
    }
}

/// `O_NOFOLLOW`: a symlink planted where a sysctl or tcptune's file should be
/// makes the open fail instead of redirecting the write.
fn nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// Refuses a path that is a symlink. `Ok(false)` when nothing is there.
pub fn refuse_symlink(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::other(format!(
            "{} is a symlink; tcptune does not write through links it did not create",
            path.display()
        ))),
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Reads a file tcptune owns: `None` when absent; an error for a symlink.
pub fn read_owned(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(io::Error::other(format!(
                "{} is a symlink; tcptune does not read through links it did not create",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    }
    crate::input::read_optional(path, OWN_FILE_MAX, crate::input::Links::Refuse)
}

/// Largest file of tcptune's own read back (its sysctl.d file, a journal
/// record, a kept copy); real ones are a few KiB.
const OWN_FILE_MAX: u64 = 16 * 1024 * 1024;

/// Ownership and permission bits of a path, following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub mode: u32,
    pub gid: u32,
    pub is_dir: bool,
    pub is_file: bool,
}

/// The permissions of `path`, when it can be looked at.
pub fn permissions(path: &Path) -> Option<Permissions> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|meta| Permissions {
        mode: meta.mode(),
        gid: meta.gid(),
        is_dir: meta.is_dir(),
        is_file: meta.is_file(),
    })
}

/// The permission bits of a regular file (not following symlinks); None
/// when there is no regular file there. A file that exists but cannot be
/// looked at is said under -v: its mode is then restored as 0644.
pub fn file_mode(path: &Path) -> Option<u32> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Some(meta.permissions().mode() & 0o7777),
        Ok(_) => None,
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => {
            crate::note!("cannot read the mode of {}: {error}", path.display());
            None
        }
    }
}

/// The names in a directory (its entries' file names), unsorted.
pub fn names_in(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect()
}

/// Holds an exclusive lock on a file until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Someone else holds it.
    Held,
    Io(io::Error),
}

/// Takes an exclusive lock on `path` (created 0600 if missing, never
/// through a symlink) without waiting.
pub fn lock(path: &Path) -> Result<Lock, LockError> {
    refuse_symlink(path).map_err(LockError::Io)?;
    // Non-blocking: a FIFO planted as the lock must not stall the open.
    let flags = nofollow()
        | nix::fcntl::OFlag::O_NONBLOCK.bits()
        | nix::fcntl::OFlag::O_NOCTTY.bits()
        | nix::fcntl::OFlag::O_CLOEXEC.bits();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(flags)
        .open(path)
        .map_err(LockError::Io)?;
    if !file.metadata().map_err(LockError::Io)?.is_file() {
        return Err(LockError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file; tcptune locks only a regular file it created",
        )));
    }
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(LockError::Held),
        Err(fs::TryLockError::Error(source)) => Err(LockError::Io(source)),
    }
}

/// Creates a directory (and parents) with `mode`; refuses a symlink at `dir`.
pub fn ensure_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if refuse_symlink(dir)? {
        if !fs::metadata(dir)?.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    // The umask may have narrowed the mode; state must be exactly private.
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// Like [`ensure_dir`], for tcptune's private state: an existing directory
/// must belong to this user and be writable by no one else, or someone else
/// could have planted records that rollback would trust.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Only the state directory is private; parents it creates (`var`,
    // `var/lib` of a fresh root) are ordinary directories.
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        ensure_dir(parent, 0o755)?;
    }
    ensure_dir(dir, 0o700)?;
    let meta = fs::metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::other(format!(
            "{} belongs to uid {}, not to this user ({me}); tcptune keeps its state only in its own directory",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::other(format!(
            "{} is writable by group or others (mode {:o}); tcptune keeps its state only in a private directory (chmod 700)",
            dir.display(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Refuses `path` if any of its components below `root` is a symlink:
/// a link planted at `<root>/var/lib` or `<root>/etc` would otherwise
/// redirect tcptune's writes. Components that do not exist yet are fine
/// (tcptune creates them as directories).
pub fn refuse_symlinked_components(root: &Path, path: &Path) -> io::Result<()> {
    let Ok(below) = path.strip_prefix(root) else {
        return Ok(());
    };
    let mut current = root.to_path_buf();
    for component in below.components() {
        current.push(component);
        refuse_symlink(&current)?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically, with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    refuse_symlink(path)?;
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot name ending in `.tmp`: no sysctl loader reads it (not `*.conf`).
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    remove_stale_temporaries(dir, &name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(nofollow())
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // The write's own error is what the caller reports; a temporary
        // left behind is removed by the next write (`.NAME.PID.tmp`).
        if let Err(error) = fs::remove_file(&temporary)
            && error.kind() != io::ErrorKind::NotFound
        {
            crate::note!("cannot remove {}: {error}", temporary.display());
        }
    }
    result
}

/// Removes temporaries an earlier run left when it was killed between
/// writing and renaming (`.NAME.PID.tmp`). Callers hold the state lock, so
/// no other tcptune is writing one right now.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let pid = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"));
        if pid.is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            && entry.file_type().is_ok_and(|kind| kind.is_file())
        {
            // Best effort: a temporary that stays is harmless (no loader
            // reads it) and is tried again next time.
            if let Err(error) = fs::remove_file(entry.path()) {
                crate::note!(
                    "cannot remove the stale temporary {}: {error}",
                    entry.path().display()
                );
            }
        }
    }
}

/// Removes `path` (refusing a symlink) and makes the removal durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    // A run killed between writing and renaming may have left a temporary.
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temporaries(dir, &name);
    if !refuse_symlink(path)? {
        return Ok(());
    }
    fs::remove_file(path)?;
    sync_dir(dir)
}

/// Whether `path` is a directory: false when nothing is there, an error
/// when it cannot be looked at (a private directory of another user), so
/// that "cannot look" is never taken for "nothing there".
pub fn is_directory(path: &Path) -> io::Result<bool> {
    // Links followed: a link planted in its place is found, and then
    // refused by whatever opens it.
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.is_dir()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// The device and inode of the file `path` leads to (links followed), to
/// tell whether two spellings (`a/../b/x.yaml`, `b/x.yaml`) are one file.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|meta| (meta.dev(), meta.ino()))
}

/// Renames `from` to `to` in the same directory and makes it durable.
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    match to.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_with_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("99-zz-tcptune.conf");
        write_atomic(&path, b"a = 1\n", 0o644).unwrap();
        write_atomic(&path, b"a = 2\n", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a = 2\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_temporary_left_by_a_killed_run_is_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".99-zz-tcptune.conf.4242.tmp");
        fs::write(&stale, "half").unwrap();
        let other = dir.path().join(".unrelated.4242.tmp");
        fs::write(&other, "keep").unwrap();
        write_atomic(&dir.path().join("99-zz-tcptune.conf"), b"a = 1\n", 0o644).unwrap();
        assert!(!stale.exists());
        assert!(other.exists());
    }

    #[test]
    fn symlinks_are_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("99-zz-tcptune.conf");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(write_atomic(&link, b"x", 0o644).is_err());
        assert!(read_owned(&link).is_err());
        assert!(remove_durably(&link).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn only_the_state_directory_is_private_not_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/lib/tcptune");
        ensure_private_dir(&state).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&dir.path().join("var/lib")), 0o755);
        assert_eq!(mode(&dir.path().join("var")), 0o755);
    }

    #[test]
    fn state_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/lib/tcptune");
        ensure_dir(&state, 0o700).unwrap();
        assert_eq!(
            fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn write_refusals_are_told_apart() {
        assert_eq!(
            WriteRefusal::from_io(&io::Error::from_raw_os_error(2)),
            WriteRefusal::Absent
        );
        assert_eq!(
            WriteRefusal::from_io(&io::Error::from_raw_os_error(13)),
            WriteRefusal::ReadOnly
        );
        assert_eq!(
            WriteRefusal::from_io(&io::Error::from_raw_os_error(1)),
            WriteRefusal::NotPermitted
        );
        assert_eq!(
            WriteRefusal::from_io(&io::Error::from_raw_os_error(22)),
            WriteRefusal::InvalidValue
        );
    }
}
