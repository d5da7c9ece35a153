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

/// Which process holds each socket inode, from a walk over `<proc>/PID/fd`.
///
/// The walk goes in two parts. Processes in tcptune's own network
/// namespace (their `<proc>/PID/ns/net` link equals `<proc>/self/ns/net`)
/// are walked at once: a socket of this namespace is nearly always held by
/// one of them, and on a container host they are a small share of all
/// processes. The others are listed but walked only if a CLOSE_WAIT socket
/// is still without an owner ([`Holders::complete`]), and then only until
/// every such socket has one; so the answer is the same as a full walk's.
/// A process whose namespace cannot be read is walked at once.
#[derive(Debug, Default, Clone)]
pub struct Holders {
    /// Socket inode -> the first process found holding it.
    found: HashMap<u64, u32>,
    /// Processes of other namespaces not walked yet.
    deferred: Vec<u32>,
}

impl Holders {
    /// The process holding the socket `inode`, with its command name, when
    /// the walk found one (inode 0: no socket of a process).
    fn owner(&self, proc: &Path, inode: u64) -> Option<crate::census::SocketOwner> {
        let pid = *self.found.get(&inode).filter(|_| inode != 0)?;
        Some(crate::census::SocketOwner {
            pid,
            comm: read_comm(&proc.join(pid.to_string())),
        })
    }

    /// Walks the deferred processes until every inode of `needed` has a
    /// holder (or none is left to walk).
    pub fn complete(&mut self, proc: &Path, needed: &[u64]) {
        let missing = |found: &HashMap<u64, u32>| {
            needed
                .iter()
                .filter(|inode| **inode != 0 && !found.contains_key(inode))
                .count()
        };
        if self.deferred.is_empty() || missing(&self.found) == 0 {
            return;
        }
        crate::note!(
            "{} CLOSE_WAIT sockets have no holder in this network namespace; walking the {} other processes",
            missing(&self.found),
            self.deferred.len()
        );
        // Lowest pid first, as in the first part of the walk.
        self.deferred.sort_unstable_by(|a, b| b.cmp(a));
        while let Some(pid) = self.deferred.pop() {
            let mut part = HashMap::new();
            walk_fds(proc, pid, &mut part);
            for (inode, pid) in part {
                self.found.entry(inode).or_insert(pid);
            }
            if missing(&self.found) == 0 {
                break;
            }
        }
    }
}

/// Lists `<proc>` and walks the processes of this network namespace; `None`
/// when `<proc>` itself cannot be listed.
///
/// Each link is read relative to the open `fd` directory (`readlinkat`), so
/// the kernel does not resolve `/proc/PID/fd/N` from the root for every
/// descriptor and no path is built per descriptor; at 200k descriptors the
/// links are nearly all of the walk's time.
pub fn socket_holders(proc: &Path) -> Option<Holders> {
    let entries = std::fs::read_dir(proc).ok()?;
    let own = std::fs::read_link(proc.join("self/ns/net")).ok();
    let mut holders = Holders::default();
    let mut now = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let theirs = std::fs::read_link(entry.path().join("ns/net")).ok();
        match (&own, &theirs) {
            (Some(own), Some(theirs)) if own != theirs => holders.deferred.push(pid),
            _ => now.push(pid),
        }
    }
    holders.found = walk_in_parallel(proc, &now);
    Some(holders)
}

/// Walks the processes on every CPU: the walk is one `readlinkat` per
/// descriptor, each independent, and with 200k descriptors it is most of
/// `sockets --processes`. Processes are dealt round-robin so that a few
/// large ones do not all land on one thread. A socket held by several
/// processes is charged to the lowest pid, whichever thread saw it first.
fn walk_in_parallel(proc: &Path, pids: &[u32]) -> HashMap<u64, u32> {
    // Below a few hundred processes a thread costs more than it saves.
    const PROCESSES_PER_THREAD: usize = 256;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(pids.len() / PROCESSES_PER_THREAD + 1)
        .min(8);
    let mut found = HashMap::new();
    if threads <= 1 {
        for pid in pids {
            walk_fds(proc, *pid, &mut found);
        }
        return found;
    }
    let parts: Vec<HashMap<u64, u32>> = std::thread::scope(|scope| {
        let walkers: Vec<_> = (0..threads)
            .map(|first| {
                scope.spawn(move || {
                    let mut part = HashMap::new();
                    for pid in pids.iter().skip(first).step_by(threads) {
                        walk_fds(proc, *pid, &mut part);
                    }
                    part
                })
            })
            .collect();
        walkers
            .into_iter()
            .filter_map(|walker| {
                walker
                    .join()
                    .map_err(|_| crate::note!("one part of the /proc/PID/fd walk stopped early"))
                    .ok()
            })
            .collect()
    });
    for part in parts {
        for (inode, pid) in part {
            found
                .entry(inode)
                .and_modify(|holder: &mut u32| *holder = (*holder).min(pid))
                .or_insert(pid);
        }
    }
    found
}

/// Walks every process at once, whatever its namespace: for `--all-netns`,
/// where one walk serves the audits of every namespace (socket inodes are
/// unique machine-wide).
pub fn socket_holders_everywhere(proc: &Path) -> Option<Holders> {
    let pids: Vec<u32> = std::fs::read_dir(proc)
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    Some(Holders {
        found: walk_in_parallel(proc, &pids),
        deferred: Vec::new(),
    })
}

/// Records the socket inodes one process holds.
fn walk_fds(proc: &Path, pid: u32, found: &mut HashMap<u64, u32>) {
    let fd_path = proc.join(pid.to_string()).join("fd");
    // The listing and the directory handle the links are read through
    // (std's listing does not lend its descriptor).
    let (Ok(fds), Ok(fd_dir)) = (std::fs::read_dir(&fd_path), std::fs::File::open(&fd_path)) else {
        return;
    };
    for fd in fds.flatten() {
        let Ok(target) = nix::fcntl::readlinkat(&fd_dir, fd.file_name().as_os_str()) else {
            continue;
        };
        if let Some(inode) = socket_inode(target.as_bytes()) {
            found.entry(inode).or_insert(pid);
        }
    }
}

/// Names the process holding each listener, where the walk found it.
pub fn attribute_listeners(
    proc: &Path,
    holders: &Holders,
    listeners: &mut [crate::census::Listener],
) {
    for listener in listeners {
        listener.owner = holders.owner(proc, listener.inode);
    }
}

/// Names the process holding each connection a buffer held back.
pub fn attribute_limited(
    proc: &Path,
    holders: &mut Holders,
    connections: &mut [crate::census::LimitedConnection],
) {
    let needed: Vec<u64> = connections
        .iter()
        .map(|connection| connection.inode)
        .collect();
    holders.complete(proc, &needed);
    for connection in connections {
        connection.holder = holders.owner(proc, connection.inode);
    }
}

/// The processes holding the idle connections whose inodes are given, most
/// connections first (walking the deferred processes first when some has
/// no holder yet).
pub fn attribute_idle(
    proc: &Path,
    holders: &mut Holders,
    inodes: &[u64],
) -> Vec<crate::census::IdleHolder> {
    holders.complete(proc, inodes);
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for inode in inodes {
        if let Some(pid) = holders.found.get(inode) {
            *counts.entry(*pid).or_insert(0) += 1;
        }
    }
    let mut idle: Vec<crate::census::IdleHolder> = counts
        .into_iter()
        .map(|(pid, connections)| crate::census::IdleHolder {
            pid,
            comm: read_comm(&proc.join(pid.to_string())),
            connections,
        })
        .collect();
    idle.sort_by(|a, b| b.connections.cmp(&a.connections).then(a.pid.cmp(&b.pid)));
    idle
}

/// Charges each CLOSE_WAIT socket to the process holding its inode, walking
/// the deferred processes first when some socket has no holder yet.
pub fn attribute(
    proc: &Path,
    holders: Option<&mut Holders>,
    sockets: &[CloseWaitSocket],
) -> CloseWaitOwners {
    let Some(holders) = holders else {
        return CloseWaitOwners {
            owners: Vec::new(),
            unknown: sockets.len() as u64,
        };
    };
    let needed: Vec<u64> = sockets.iter().map(|socket| socket.inode).collect();
    holders.complete(proc, &needed);
    let holders = &holders.found;
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

    /// A process of a test tree: its name under proc, its `ns/net` link
    /// and its (fd, socket inode) links.
    type Process<'a> = (&'a str, &'a str, &'a [(u32, u64)]);

    /// A proc tree: `self` and each pid with a `ns/net` link, and `fd`
    /// links to sockets.
    fn tree(processes: &[Process<'_>]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, netns, fds) in processes {
            let base = dir.path().join(name);
            std::fs::create_dir_all(base.join("ns")).unwrap();
            std::fs::create_dir_all(base.join("fd")).unwrap();
            std::os::unix::fs::symlink(netns, base.join("ns/net")).unwrap();
            for (fd, inode) in *fds {
                std::os::unix::fs::symlink(
                    format!("socket:[{inode}]"),
                    base.join(format!("fd/{fd}")),
                )
                .unwrap();
            }
        }
        dir
    }

    #[test]
    fn processes_of_other_namespaces_are_walked_only_when_needed() {
        let proc = tree(&[
            ("self", "net:[1]", &[]),
            ("10", "net:[1]", &[(3, 100)]),
            ("20", "net:[2]", &[(4, 200)]),
        ]);
        let mut holders = socket_holders(proc.path()).unwrap();
        assert_eq!(holders.found.get(&100), Some(&10));
        assert_eq!(holders.deferred, [20], "another namespace waits");
        holders.complete(proc.path(), &[100]);
        assert_eq!(holders.deferred, [20], "every needed socket had a holder");
        holders.complete(proc.path(), &[100, 200]);
        assert_eq!(holders.found.get(&200), Some(&20), "walked when needed");
        assert!(holders.deferred.is_empty());
    }

    #[test]
    fn the_parallel_walk_finds_every_holder_and_charges_the_lowest_pid() {
        // Enough processes for several threads; inode 7 is shared (a fork
        // that kept the socket) by pids 1000 and 1001.
        let processes: Vec<(String, Vec<(u32, u64)>)> = (1000..1600u32)
            .map(|pid| {
                let inode = if pid == 1001 { 7 } else { u64::from(pid) * 10 };
                (
                    pid.to_string(),
                    vec![(3, inode), (4, u64::from(pid) * 10 + 1)],
                )
            })
            .collect();
        let mut shared = processes.clone();
        shared[0].1.push((5, 7));
        let tree_input: Vec<Process<'_>> = shared
            .iter()
            .map(|(name, fds)| (name.as_str(), "net:[1]", fds.as_slice()))
            .chain(std::iter::once(("self", "net:[1]", &[][..])))
            .collect();
        let proc = tree(&tree_input);
        let holders = socket_holders(proc.path()).unwrap();
        assert_eq!(holders.found.len(), 600 * 2 + 1 - 1, "every socket once");
        assert_eq!(holders.found.get(&7), Some(&1000), "the lowest pid");
        assert_eq!(holders.found.get(&15_991), Some(&1599));
    }

    #[test]
    fn without_namespace_links_every_process_is_walked_at_once() {
        // A captured proc tree (`--proc DIR`) has no `self`.
        let proc = tree(&[
            ("10", "net:[1]", &[(3, 100)]),
            ("20", "net:[2]", &[(4, 200)]),
        ]);
        std::fs::remove_dir_all(proc.path().join("self")).ok();
        let holders = socket_holders(proc.path()).unwrap();
        assert_eq!(holders.found.len(), 2);
        assert!(holders.deferred.is_empty());
    }

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
        let owners = attribute(proc.path(), socket_holders(proc.path()).as_mut(), &sockets);
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
