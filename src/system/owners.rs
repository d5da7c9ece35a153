//! Which process holds which CLOSE_WAIT socket: the walk `ss -p` does, over
//! `<proc>/PID/fd/*`, whose links read `socket:[INODE]`.
//!
//! Some processes cannot be read even by root (another user namespace, a
//! process that exits during the walk); their sockets are counted as unknown
//! rather than dropped, because a missing owner proves nothing.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::census::{AddressCount, CloseWaitOwner, CloseWaitOwners, CloseWaitSocket};

/// How many local addresses to list per owner.
const ADDRESSES_PER_OWNER: usize = 5;

/// Which process holds each socket inode: one walk over `<proc>/PID/fd`.
/// A socket shared by several processes (fork without close) is charged to
/// the first holder found, so counts add up. `None` when `<proc>` itself
/// cannot be listed.
///
/// Each link is read relative to the open `fd` directory (`readlinkat`), so
/// the kernel does not resolve `/proc/PID/fd/N` from the root for every
/// descriptor and no path is built per descriptor; at 200k descriptors the
/// links are nearly all of the walk's time.
pub fn socket_holders(proc: &Path) -> Option<HashMap<u64, u32>> {
    let entries = std::fs::read_dir(proc).ok()?;
    let mut holders = HashMap::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let fd_path = entry.path().join("fd");
        // The listing and the directory handle the links are read through
        // (std's listing does not lend its descriptor).
        let (Ok(fds), Ok(fd_dir)) = (std::fs::read_dir(&fd_path), std::fs::File::open(&fd_path))
        else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = nix::fcntl::readlinkat(&fd_dir, fd.file_name().as_os_str()) else {
                continue;
            };
            if let Some(inode) = socket_inode(target.as_bytes()) {
                holders.entry(inode).or_insert(pid);
            }
        }
    }
    Some(holders)
}

/// Names the process holding each listener, where the walk found it.
pub fn attribute_listeners(
    proc: &Path,
    holders: &HashMap<u64, u32>,
    listeners: &mut [crate::census::Listener],
) {
    for listener in listeners {
        if listener.inode == 0 {
            continue;
        }
        if let Some(pid) = holders.get(&listener.inode) {
            listener.owner = Some(crate::census::ListenerOwner {
                pid: *pid,
                comm: read_comm(&proc.join(pid.to_string())),
            });
        }
    }
}

/// Charges each CLOSE_WAIT socket to the process holding its inode.
pub fn attribute(
    proc: &Path,
    holders: Option<&HashMap<u64, u32>>,
    sockets: &[CloseWaitSocket],
) -> CloseWaitOwners {
    let Some(holders) = holders else {
        return CloseWaitOwners {
            owners: Vec::new(),
            unknown: sockets.len() as u64,
        };
    };
    let mut found: BTreeMap<u32, Holder> = BTreeMap::new();
    let mut unknown = 0u64;
    for socket in sockets {
        let Some(pid) = (socket.inode != 0)
            .then(|| holders.get(&socket.inode))
            .flatten()
        else {
            unknown += 1;
            continue;
        };
        let holder = found.entry(*pid).or_insert_with(|| Holder {
            comm: read_comm(&proc.join(pid.to_string())),
            count: 0,
            local: HashMap::new(),
            remote: HashMap::new(),
        });
        holder.count += 1;
        *holder.local.entry(socket.local).or_insert(0) += 1;
        *holder.remote.entry(socket.remote).or_insert(0) += 1;
    }
    let mut owners: Vec<CloseWaitOwner> = found
        .into_iter()
        .map(|(pid, holder)| CloseWaitOwner {
            pid,
            comm: holder.comm,
            count: holder.count,
            local_addresses: most_frequent(holder.local),
            remote_addresses: most_frequent(holder.remote),
        })
        .collect();
    owners.sort_by(|a, b| b.count.cmp(&a.count).then(a.pid.cmp(&b.pid)));
    CloseWaitOwners { owners, unknown }
}

/// Walks and attributes in one go.
pub fn find(proc: &Path, sockets: &[CloseWaitSocket]) -> CloseWaitOwners {
    if sockets.is_empty() {
        return CloseWaitOwners::default();
    }
    attribute(proc, socket_holders(proc).as_ref(), sockets)
}

/// One process's share while walking.
struct Holder {
    comm: String,
    count: u64,
    local: HashMap<SocketAddr, u64>,
    remote: HashMap<SocketAddr, u64>,
}

fn most_frequent(addresses: HashMap<SocketAddr, u64>) -> Vec<AddressCount> {
    let mut counted: Vec<(SocketAddr, u64)> = addresses.into_iter().collect();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counted
        .into_iter()
        .take(ADDRESSES_PER_OWNER)
        .map(|(address, count)| AddressCount {
            address: address.to_string(),
            count,
        })
        .collect()
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |inode, digit| {
        let digit = char::from(*digit).to_digit(10)?;
        inode.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn read_comm(pid_dir: &Path) -> String {
    // A comm is at most 16 bytes; a FIFO planted in a --proc tree is
    // refused instead of waited on.
    crate::input::read(&pid_dir.join("comm"), 4096, crate::input::Links::Follow)
        .map(|comm| {
            String::from_utf8_lossy(&comm)
                .trim_end_matches('\n')
                .to_owned()
        })
        .unwrap_or_else(|_| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_are_recognised() {
        assert_eq!(socket_inode(b"socket:[4242]"), Some(4242));
        assert_eq!(socket_inode(b"pipe:[4242]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12a]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn owners_are_found_through_fd_links() {
        let proc = tempfile::tempdir().unwrap();
        let fd_dir = proc.path().join("321/fd");
        std::fs::create_dir_all(&fd_dir).unwrap();
        std::fs::write(proc.path().join("321/comm"), "leaky\n").unwrap();
        std::os::unix::fs::symlink("socket:[100]", fd_dir.join("3")).unwrap();
        std::os::unix::fs::symlink("socket:[101]", fd_dir.join("4")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd_dir.join("0")).unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let remote: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let sockets: Vec<CloseWaitSocket> = [100, 101, 102]
            .into_iter()
            .map(|inode| CloseWaitSocket {
                inode,
                local,
                remote,
            })
            .collect();
        let owners = find(proc.path(), &sockets);
        assert_eq!(owners.unknown, 1);
        assert_eq!(owners.owners.len(), 1);
        assert_eq!(owners.owners[0].pid, 321);
        assert_eq!(owners.owners[0].comm, "leaky");
        assert_eq!(owners.owners[0].count, 2);
        assert_eq!(
            owners.owners[0].local_addresses[0].address,
            "127.0.0.1:8080"
        );
    }
}
