//! The one way tcptune opens a file it reads: profiles, sysctl.d files,
//! its own file, journal records and kept copies, lint inputs and the
//! files of the proc tree.
//!
//! Every open is non-blocking (a FIFO cannot stall it), takes no
//! controlling terminal and is closed on exec; `fstat` on the open file
//! must then say "regular file" (which procfs and sysfs files are, with a
//! size of 0 or 4096 whatever they hold), so FIFOs, character devices
//! (`/dev/zero`, also through a symlink), sockets and directories are
//! refused by name. Reads are bounded: a file larger than the caller's limit
//! (a sparse file of terabytes included) is refused before it is read, and
//! the read itself stops one byte past the limit, for files whose size
//! `fstat` does not tell.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Whether a symlink at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    /// `O_NOFOLLOW`: for tcptune's own files, where a link was planted.
    Refuse,
}

/// Opens `path` for reading and checks it is a regular file.
pub fn open(path: &Path, links: Links) -> io::Result<File> {
    let mut flags = libc_flags::NONBLOCK | libc_flags::NOCTTY | libc_flags::CLOEXEC;
    if links == Links::Refuse {
        flags |= libc_flags::NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        // EISDIR, as reading a directory would say.
        return Err(io::Error::from_raw_os_error(
            nix::errno::Errno::EISDIR as i32,
        ));
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file; tcptune reads regular files only"),
    ))
}

/// Reads a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64, links: Links) -> io::Result<Vec<u8>> {
    let file = open(path, links)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(size, limit));
    }
    // The size is a hint only (0 for procfs files): the read is bounded too.
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// Like [`read`], `None` when nothing is at `path`.
pub fn read_optional(path: &Path, limit: u64, links: Links) -> io::Result<Option<Vec<u8>>> {
    match read(path, limit, links) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn too_large(size: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{size} bytes or more; tcptune reads files of at most {limit} bytes here"),
    )
}

/// The open flags, from nix (no libc dependency of our own).
mod libc_flags {
    use nix::fcntl::OFlag;
    pub const NONBLOCK: i32 = OFlag::O_NONBLOCK.bits();
    pub const NOCTTY: i32 = OFlag::O_NOCTTY.bits();
    pub const CLOEXEC: i32 = OFlag::O_CLOEXEC.bits();
    pub const NOFOLLOW: i32 = OFlag::O_NOFOLLOW.bits();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_by_kind_and_large_ones_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let error = read(&fifo, 100, Links::Follow).unwrap_err();
        assert!(error.to_string().contains("FIFO"), "{error}");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let error = read(&zero, 100, Links::Follow).unwrap_err();
        assert!(error.to_string().contains("character device"), "{error}");
        let sparse = dir.path().join("sparse");
        File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
        let error = read(&sparse, 100, Links::Follow).unwrap_err();
        assert!(error.to_string().contains("at most 100"), "{error}");
        let small = dir.path().join("small");
        std::fs::write(&small, "net.ipv4.tcp_sack = 1\n").unwrap();
        assert_eq!(read(&small, 100, Links::Follow).unwrap().len(), 22);
        assert!(read(&zero, 100, Links::Refuse).is_err());
    }
}
