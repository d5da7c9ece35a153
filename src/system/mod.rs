//! The machine: every read of the kernel's interface and every write.
//!
//! Reads of `<proc>/sys`, `<proc>/net/*`, netlink sock_diag and
//! `<proc>/PID/fd` go through [`System`], whose two roots default to
//! `/proc` and `/` and which tests point at fixture trees; [`write`] owns
//! every write (live sysctls, tcptune's sysctl.d file, its state directory
//! and lock). `conf` reads sysctl files under the root on its own, read-only;
//! no other module touches the machine. What this module returns is plain
//! data ([`crate::facts::Facts`]); nothing after it does I/O.

pub mod counter_state;
pub mod counters;
pub mod namespaces;
pub mod netlink;
mod owners;
mod tcp_table;
pub mod write;

use std::io;
use std::path::{Path, PathBuf};

use crate::census::{Census, CloseWaitOwners};
use crate::error::{Error, Result};
use crate::facts::{Counters, Reading, Sockstat};
use crate::input::{self, Links};
use crate::key::{Key, Value};

pub use tcp_table::{count as count_socket_table, parse_address, parse_row};
pub use write::WriteRefusal;

/// The machine as seen through a configuration root and a proc root.
#[derive(Debug, Clone)]
pub struct System {
    root: PathBuf,
    proc: PathBuf,
    /// Where `net/*` is read: `<proc>/net`, or for an audit on a thread
    /// that entered another namespace `/proc/thread-self/net` (`/proc/net`
    /// follows the process's first thread, not the caller).
    net: PathBuf,
    /// With `--all-netns`: one walk of every `/proc/PID/fd`, shared by the
    /// audits of all namespaces (socket inodes are unique machine-wide), so
    /// 200 namespaces cost one walk, not 200.
    fd_walk: Option<std::sync::Arc<std::sync::OnceLock<Holders>>>,
}

/// Which process holds each socket inode; None when /proc could not be read.
type Holders = Option<owners::Holders>;

impl System {
    pub fn new(root: impl Into<PathBuf>, proc: impl Into<PathBuf>) -> System {
        let proc = proc.into();
        System {
            root: root.into(),
            net: proc.join("net"),
            proc,
            fd_walk: None,
        }
    }

    /// The same system, its `/proc/PID/fd` walk done at most once for all
    /// its clones (see [`System::for_this_thread`]).
    pub fn sharing_one_fd_walk(&self) -> System {
        let mut system = self.clone();
        system.fd_walk = Some(std::sync::Arc::default());
        system
    }

    /// Which process holds each socket inode (None: /proc unreadable).
    fn socket_holders(&self) -> Holders {
        match &self.fd_walk {
            Some(shared) => shared
                .get_or_init(|| owners::socket_holders_everywhere(&self.proc))
                .clone(),
            None => owners::socket_holders(&self.proc),
        }
    }

    /// The same system as seen from the calling thread's network namespace
    /// (see [`namespaces::on_thread_in`]): `net/*` from
    /// `/proc/thread-self/net` when reading the kernel's `/proc`.
    pub fn for_this_thread(&self) -> System {
        let mut system = self.clone();
        if self.proc == Path::new("/proc") {
            system.net = PathBuf::from("/proc/thread-self/net");
        }
        system
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn proc(&self) -> &Path {
        &self.proc
    }

    /// The path of a configuration file or directory under the root.
    pub fn config_path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Reads one sysctl from `<proc>/sys`.
    pub fn read_sysctl(&self, key: &Key) -> Reading {
        let path = self.proc.join("sys").join(key.relative_path());
        match input::read(&path, SYSCTL_VALUE_MAX, Links::Follow) {
            Ok(bytes) => Reading::Present {
                value: Value::parse(&String::from_utf8_lossy(&bytes)),
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => Reading::Absent,
            // A directory where a key was expected (`net.ipv4` given as a key)
            // is not a setting on this kernel either.
            Err(error) if error.kind() == io::ErrorKind::IsADirectory => Reading::Absent,
            Err(error) => Reading::Unreadable {
                reason: error.to_string(),
            },
        }
    }

    /// The kernel release, from `<proc>/sys/kernel/osrelease`.
    pub fn kernel_release(&self) -> Result<String> {
        let path = self.proc.join("sys/kernel/osrelease");
        let text = read_to_string(&path)?;
        let release = text.trim();
        if release.is_empty() {
            return Err(Error::Malformed {
                path,
                line: 1,
                message: "the kernel release is empty".into(),
            });
        }
        Ok(release.to_owned())
    }

    /// Counts TCP sockets: through netlink on the live system (the kernel
    /// answers far faster than /proc/net/tcp, which walks the whole hash
    /// table), from the files when `--proc` points elsewhere or netlink is
    /// not available. Every TIME_WAIT socket is counted with its destination.
    pub fn census(&self) -> Result<Census> {
        self.census_with(
            TimeWaitPlan::PerSocket,
            None,
            Census::default(),
            false,
            &|| {},
        )
        .map(|(census, _)| census)
    }

    /// The census as a command needs it, and the sockstat reading it used
    /// (so the report shows the very numbers the TIME_WAIT count came from).
    ///
    /// With [`TimeWaitDetail::Count`] on a kernel whose sockstat `tw` is
    /// this namespace's own, the kernel is asked not to send TIME_WAIT
    /// sockets at all (most of a busy table, and most of the dump's cost);
    /// the count is then sockstat `tw`, which counts every entry of the
    /// timewait table, minus the FIN_WAIT2 entries of that table, which the
    /// walk still returns and recognises by their timer. `on_close_wait` is
    /// called for each CLOSE_WAIT socket as the netlink dump streams in.
    fn census_with(
        &self,
        plan: TimeWaitPlan,
        kernel: Option<crate::kernel::KernelVersion>,
        shape: Census,
        tcp_info: bool,
        on_close_wait: &(dyn Fn() + Sync),
    ) -> Result<(Census, Option<Sockstat>)> {
        let track_ports = shape.track_ports;
        if self.proc == Path::new("/proc") {
            match self.census_netlink(plan, kernel, shape, tcp_info, on_close_wait) {
                Ok((mut census, sockstat)) => {
                    census.finish();
                    return Ok((census, sockstat));
                }
                Err(error) => {
                    crate::note!("netlink census failed ({error}); reading /proc/net/tcp instead")
                }
            }
        }
        let mut census = self.census_procfs_tracking(track_ports)?;
        census.finish();
        Ok((census, None))
    }

    fn census_netlink(
        &self,
        plan: TimeWaitPlan,
        kernel: Option<crate::kernel::KernelVersion>,
        shape: Census,
        tcp_info: bool,
        on_close_wait: &(dyn Fn() + Sync),
    ) -> io::Result<(Census, Option<Sockstat>)> {
        use crate::census::{TcpState, TimeWaitCount};
        let sockstat_is_ours = kernel.is_some_and(|kernel| kernel >= SOCKSTAT_TW_PER_NAMESPACE);
        // Whether the TIME_WAIT sockets can stay in the kernel: always for a
        // count; for paths, when sockstat shows fewer of them than a path
        // needs to reach the threshold (checked again after the walk, with
        // the other sockets on the busiest path).
        let per_path_threshold = match plan {
            TimeWaitPlan::Count => None,
            TimeWaitPlan::PerSocket => Some(0),
            TimeWaitPlan::PerSocketIfPathsReach(sockets) => Some(sockets),
        };
        let leave_out = sockstat_is_ours
            && match per_path_threshold {
                None => true,
                Some(0) => false,
                Some(threshold) => self
                    .sockstat()
                    .ok()
                    .flatten()
                    .is_some_and(|sockstat| sockstat.tw < threshold),
            };
        let states = if leave_out {
            netlink::ALL_STATES & !netlink::state_bit(TcpState::TimeWait)
        } else {
            netlink::ALL_STATES
        };
        let mut census = shape;
        let walk = netlink::census(
            &mut census,
            netlink::Query {
                states,
                time_wait_destinations: plan != TimeWaitPlan::Count,
                tcp_info,
            },
            on_close_wait,
        )?;
        match (&walk.request, &walk.refused) {
            (netlink::Request::OneWalk, _) => {
                crate::note!("one netlink dump (TCPDIAG_GETSOCK) walked both families")
            }
            (netlink::Request::PerFamily, Some(reason)) => crate::note!(
                "the kernel refused the one-walk TCPDIAG_GETSOCK dump ({reason}); dumped IPv4 and IPv6 separately, walking the socket table twice"
            ),
            (netlink::Request::PerFamily, None) => {}
        }
        if !leave_out {
            return Ok((census, None));
        }
        let sockstat = self.sockstat().ok().flatten();
        let usable = sockstat.filter(|sockstat| sockstat.tw >= walk.timewait_fin_wait2);
        // With paths wanted, the TIME_WAIT sockets may stay out only if
        // even all of them on the busiest path could not reach the
        // threshold.
        let paths_safe = match (per_path_threshold, usable) {
            (None, Some(_)) => true,
            (Some(threshold), Some(sockstat)) => {
                let busiest = census
                    .ports_by_path
                    .values()
                    .map(crate::census::StateCounts::total)
                    .max()
                    .unwrap_or(0);
                let time_wait = sockstat.tw - walk.timewait_fin_wait2;
                let safe = time_wait.saturating_add(busiest) < threshold;
                if safe {
                    crate::note!(
                        "no path can reach {threshold} sockets: {time_wait} TIME_WAIT at most beside the {busiest} other sockets of the busiest path"
                    );
                }
                safe
            }
            (_, None) => false,
        };
        match usable {
            Some(sockstat) if paths_safe => {
                let time_wait = sockstat.tw - walk.timewait_fin_wait2;
                census.states.set(TcpState::TimeWait, time_wait);
                census.time_wait_count = TimeWaitCount::SockstatTwMinusFinWait2 {
                    tw: sockstat.tw,
                    fin_wait2: walk.timewait_fin_wait2,
                };
                crate::note!(
                    "TIME_WAIT {time_wait} = sockstat tw {} minus {} FIN_WAIT2 sockets in the timewait table; the kernel sent no TIME_WAIT sockets",
                    sockstat.tw,
                    walk.timewait_fin_wait2
                );
                Ok((census, Some(sockstat)))
            }
            other if per_path_threshold.is_some() => {
                crate::note!(
                    "sockstat tw ({}) leaves the busiest path able to reach the threshold; listing TIME_WAIT sockets in a second dump",
                    other.map_or_else(|| "unusable".to_owned(), |sockstat| sockstat.tw.to_string()),
                );
                netlink::census(
                    &mut census,
                    netlink::Query {
                        states: netlink::state_bit(TcpState::TimeWait),
                        time_wait_destinations: true,
                        tcp_info: false,
                    },
                    &|| {},
                )?;
                Ok((census, None))
            }
            other => {
                crate::note!(
                    "sockstat tw ({}) cannot give the TIME_WAIT count beside {} timewait FIN_WAIT2 sockets; counting TIME_WAIT sockets in a second dump",
                    other.map_or_else(
                        || "unreadable".to_owned(),
                        |sockstat| sockstat.tw.to_string()
                    ),
                    walk.timewait_fin_wait2
                );
                let mut time_wait = Census::default();
                netlink::census(
                    &mut time_wait,
                    netlink::Query {
                        states: netlink::state_bit(TcpState::TimeWait),
                        time_wait_destinations: false,
                        tcp_info: false,
                    },
                    &|| {},
                )?;
                census
                    .states
                    .set(TcpState::TimeWait, time_wait.states.get(TcpState::TimeWait));
                Ok((census, None))
            }
        }
    }

    /// Counts TCP sockets from `<proc>/net/tcp` and `tcp6`, streaming.
    pub fn census_procfs(&self) -> Result<Census> {
        self.census_procfs_tracking(None)
    }

    /// [`System::census_procfs`], counting ephemeral ports per path.
    fn census_procfs_tracking(&self, track_ports: Option<(u16, u16)>) -> Result<Census> {
        let mut census = Census::tracking(track_ports);
        self.each_tcp_row(&mut |row| census.record(row))?;
        census.source = Some(crate::census::Source::Procfs);
        Ok(census)
    }

    /// Hands every row of `<proc>/net/tcp` and `tcp6` to `visit`, streaming
    /// (the tables of the calling thread's network namespace).
    pub fn each_tcp_row(&self, visit: &mut dyn FnMut(&crate::census::Row)) -> Result<()> {
        for name in ["tcp", "tcp6"] {
            let path = self.net.join(name);
            match input::open(&path, Links::Follow).and_then(|file| {
                // A plain-file tree can hold a sparse file of any size; the
                // kernel's own table reports 0 and is read as it streams.
                let size = file.metadata()?.len();
                if size > SOCKET_TABLE_MAX {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{size} bytes; tcptune reads socket tables of at most {SOCKET_TABLE_MAX} bytes"),
                    ));
                }
                Ok(file)
            }) {
                Ok(file) => tcp_table::each_row(
                    io::BufReader::with_capacity(64 * 1024, file),
                    &path,
                    visit,
                )?,
                // A kernel built without IPv6 has no tcp6.
                Err(error) if error.kind() == io::ErrorKind::NotFound && name == "tcp6" => {}
                Err(source) => return Err(Error::Read { path, source }),
            }
        }
        Ok(())
    }

    /// Maps CLOSE_WAIT sockets to the processes holding them by walking
    /// `<proc>/PID/fd`, as `ss -p` does.
    pub fn close_wait_owners(&self, census: &Census) -> CloseWaitOwners {
        if census.close_wait.is_empty() {
            return CloseWaitOwners::default();
        }
        owners::attribute(
            &self.proc,
            self.socket_holders().as_mut(),
            &census.close_wait,
        )
    }

    /// `<proc>/net/sockstat`, when present.
    pub fn sockstat(&self) -> Result<Option<Sockstat>> {
        let path = self.net.join("sockstat");
        match read_optional(&path)? {
            Some(text) => counters::parse_sockstat(&text, &path).map(Some),
            None => Ok(None),
        }
    }

    /// The `TcpExt` counters of `<proc>/net/netstat` and the `Tcp` counters of
    /// `<proc>/net/snmp`; a missing file yields empty counters.
    pub fn counters(&self) -> Result<Counters> {
        let mut counters = Counters::default();
        let netstat = self.net.join("netstat");
        if let Some(text) = read_optional(&netstat)? {
            counters.tcp_ext = counters::parse_pairs(&text, "TcpExt", &netstat)?;
        }
        let snmp = self.net.join("snmp");
        if let Some(text) = read_optional(&snmp)? {
            counters.tcp = counters::parse_pairs(&text, "Tcp", &snmp)?;
        }
        let conntrack = self.proc.join("net/stat/nf_conntrack");
        if let Some(text) = read_optional(&conntrack)? {
            counters.conntrack = counters::parse_conntrack_stat(&text, &conntrack)?;
        }
        Ok(counters)
    }

    /// Reads a configuration file (a profile) under or outside the root.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        input::read(path, FILE_MAX, Links::Follow).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads at most `limit` bytes of a file: enough to tell a caller that
    /// the file is too large, without reading a huge (or endless) one.
    pub fn read_file_limited(&self, path: &Path, limit: u64) -> Result<Vec<u8>> {
        let read = || -> io::Result<Vec<u8>> {
            let file = input::open(path, Links::Follow)?;
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(file, limit), &mut bytes)?;
            Ok(bytes)
        };
        read().map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
    }

    /// The `*.yaml` files of a directory, sorted; none when it does not exist.
    pub fn list_yaml(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.list_with_extension(dir, "yaml")
    }

    /// The `*.conf` files of a directory, by file name (the order every
    /// sysctl loader applies one directory's files in). A missing directory
    /// is an error here: the user named it.
    /// A path given to `lint`: a directory's `*.conf` files by file name
    /// (the order every sysctl loader applies one directory's files in),
    /// or the path itself.
    pub fn conf_files(&self, path: &Path) -> Result<Vec<PathBuf>> {
        if path.is_dir() {
            self.list_with_extension(path, "conf")
        } else {
            Ok(vec![path.to_path_buf()])
        }
    }

    /// Standard input, at most `limit` bytes (`lint -`).
    pub fn read_stdin(&self, limit: u64) -> Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Read {
                path: PathBuf::from("<stdin>"),
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Err(Error::Usage(format!(
                "standard input is over {limit} bytes; sysctl files are a few KiB"
            )));
        }
        Ok(bytes)
    }

    /// Every file the boot loader of this root reads, in the order it
    /// applies them (masked and unreadable ones left out, as it does).
    pub fn boot_files(&self) -> Result<Vec<PathBuf>> {
        let resolution = crate::conf::resolve(&self.root, self.loader())
            .map_err(|error| Error::Usage(error.to_string()))?;
        Ok(resolution
            .files
            .iter()
            .filter(|file| matches!(file.source.state, crate::conf::FileState::Regular { .. }))
            .map(|file| file.source.path.clone())
            .collect())
    }

    fn list_with_extension(&self, dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Read {
                    path: dir.to_owned(),
                    source,
                });
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == extension) && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

fn read_to_string(path: &Path) -> Result<String> {
    input::read(path, FILE_MAX, Links::Follow)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match input::read(path, FILE_MAX, Links::Follow) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Enters a network namespace: `NAME` means `/run/netns/NAME`, anything
/// with a `/` is a namespace file such as `/proc/PID/ns/net`. Every later
/// read of `/proc/net`, `/proc/sys/net` and every netlink socket then sees
/// that namespace. Must be called before any other thread exists.
pub fn enter_netns(target: &str) -> Result<std::path::PathBuf> {
    let path = if target.contains('/') {
        std::path::PathBuf::from(target)
    } else {
        if target.is_empty() || target.starts_with('.') {
            return Err(Error::Usage(format!(
                "`{target}` is not a network namespace name"
            )));
        }
        std::path::Path::new("/run/netns").join(target)
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Usage(format!(
                "no network namespace at {} (names are looked up under /run/netns, see `ip netns list`)",
                path.display()
            )));
        }
        Err(source) => return Err(Error::Read { path, source }),
    };
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(
        |errno| match errno {
            nix::errno::Errno::EINVAL => {
                Error::Usage(format!("{} is not a network namespace", path.display()))
            }
            other => Error::Read {
                path: path.clone(),
                source: io::Error::from(other),
            },
        },
    )?;
    Ok(path)
}

/// When to walk `/proc/PID/fd` for the owners of CLOSE_WAIT sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Owners {
    #[default]
    Never,
    /// After the census, only when there are CLOSE_WAIT sockets (`check`:
    /// most hosts have none, and the walk costs on hosts with many processes).
    IfCloseWait,
    /// Always, beside the census on a second thread (`sockets --processes`,
    /// where the answer is wanted fast).
    Always,
}

/// How much of the TIME_WAIT picture a command needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeWaitDetail {
    /// The number only (`sockets`, `sockets --processes`): the kernel need
    /// not send one message per TIME_WAIT socket.
    #[default]
    Count,
    /// Each TIME_WAIT socket's destination (`--by-destination`,
    /// `--sample`).
    PerDestination,
    /// Each TIME_WAIT socket's path only where it could matter (`check`,
    /// whose port-exhaustion rule fires when the sockets on one path, in
    /// any state, reach `percent` of the usable local ports): when this
    /// namespace's sockstat counts fewer TIME_WAIT sockets than that, and
    /// after the walk even all of them beside the busiest path's other
    /// sockets stay below it, they are counted as with `Count`; otherwise
    /// listed as with `PerDestination`. With `--sample`, always listed.
    WherePathsMayReach { percent: u64 },
}

/// [`TimeWaitDetail`] with the threshold worked out from the usable ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeWaitPlan {
    Count,
    PerSocket,
    /// Per socket only if a path could reach this many sockets.
    PerSocketIfPathsReach(u64),
}

impl TimeWaitPlan {
    fn new(detail: TimeWaitDetail, usable_ports: Option<u64>) -> TimeWaitPlan {
        match (detail, usable_ports) {
            (TimeWaitDetail::Count, _) => TimeWaitPlan::Count,
            (TimeWaitDetail::WherePathsMayReach { percent }, Some(usable)) if usable > 0 => {
                TimeWaitPlan::PerSocketIfPathsReach(
                    usable.saturating_mul(percent).div_ceil(100).max(1),
                )
            }
            _ => TimeWaitPlan::PerSocket,
        }
    }
}

/// The oldest kernel on which sockstat's `tw` counts this network
/// namespace's timewait table rather than the whole machine's. Older
/// kernels print the global `tcp_death_row.tw_count`; the death row moved
/// into `struct netns_ipv4` with the per-namespace `tcp_max_tw_buckets`
/// between about 4.11 and 4.15 (KERNEL-FACTS), so the newest of those is
/// taken. Before it the TIME_WAIT sockets are counted one by one.
const SOCKSTAT_TW_PER_NAMESPACE: crate::kernel::KernelVersion =
    crate::kernel::KernelVersion::new(4, 15, 0);

/// What to gather.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub keys: Vec<Key>,
    /// Count sockets and read the counters (not needed for planning).
    pub sockets: bool,
    /// Whether TIME_WAIT sockets are wanted one by one or only counted.
    pub time_wait: TimeWaitDetail,
    /// Whether to look up who holds CLOSE_WAIT sockets (walks every
    /// process's fds).
    pub close_wait_owners: Owners,
    /// Read the sysctl files under the root to learn what applies at boot.
    pub boot: bool,
    /// For planning: tcptune's sysctl.d directory. Gather then reads each
    /// key's writability, the file's current bytes and, for the root's
    /// standard directory, which later files would beat it at boot.
    pub sysctl_dir: Option<PathBuf>,
    /// The state directory holding the previous counter reading, when the
    /// counters are to be judged since the last run.
    pub counter_state: Option<PathBuf>,
    /// Ask the kernel for each connection's `tcp_info` (retransmissions
    /// per peer, idle time, buffer limits): only where a rule reads it.
    pub tcp_info: bool,
    /// Count ESTABLISHED connections idle this long or longer (the
    /// profile's `idle_timeout_seconds`; needs `tcp_info`).
    pub idle_after_seconds: Option<u64>,
}

impl System {
    /// Reads everything the rules need into one snapshot.
    pub fn gather(&self, request: &Request) -> Result<crate::facts::Facts> {
        let started = std::time::Instant::now();
        let kernel_release = self.kernel_release()?;
        let kernel = crate::kernel::KernelVersion::from_release(&kernel_release);
        let sysctls = request
            .keys
            .iter()
            .map(|key| (key.clone(), self.read_sysctl(key)))
            .collect();
        let mut facts = crate::facts::Facts {
            kernel_release,
            kernel,
            sysctls,
            ..crate::facts::Facts::default()
        };
        crate::note!(
            "kernel {}; read {} sysctls under {} in {:.1?}",
            facts.kernel_release,
            request.keys.len(),
            self.proc.join("sys").display(),
            started.elapsed()
        );
        if request.sockets {
            let counting = std::time::Instant::now();
            // The walk over /proc/PID/fd and the census are independent and
            // both wait on the kernel: run them side by side. `Always` starts
            // the walk at once; `IfCloseWait` starts it when the first
            // CLOSE_WAIT socket streams in, so a host without any pays
            // nothing. (The walk's thread needs no namespace: it reads /proc
            // of every process.)
            let (census, holders) = std::thread::scope(|scope| {
                let (start, started) = std::sync::mpsc::channel::<()>();
                let walk = (request.close_wait_owners != Owners::Never).then(|| {
                    scope.spawn(move || started.recv().ok().map(|()| self.socket_holders()))
                });
                if request.close_wait_owners == Owners::Always {
                    let _ = start.send(());
                }
                let census = {
                    let signalled = std::sync::atomic::AtomicBool::new(false);
                    let on_close_wait = || {
                        if !signalled.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            let _ = start.send(());
                        }
                    };
                    // Ports per path only where destinations are shown or
                    // port exhaustion is judged (check).
                    let track_ports = (request.time_wait != TimeWaitDetail::Count)
                        .then(|| facts.ephemeral_range())
                        .flatten();
                    let shape = Census {
                        track_ports,
                        // Idle connections are told apart by tcp_info.
                        idle_after_ms: request
                            .idle_after_seconds
                            .filter(|_| request.tcp_info)
                            .map(|seconds| seconds.saturating_mul(1000)),
                        ..Census::default()
                    };
                    let plan = TimeWaitPlan::new(request.time_wait, facts.usable_ports());
                    self.census_with(plan, facts.kernel, shape, request.tcp_info, &on_close_wait)
                };
                // Dropping the sender tells a walk that never started to end.
                drop(start);
                // A walk that could not finish leaves every owner unknown,
                // which the report shows as "process not readable".
                let holders = walk
                    .and_then(|walk| {
                        walk.join()
                            .map_err(|_| crate::note!("the /proc/PID/fd walk stopped early"))
                            .ok()
                    })
                    .flatten();
                (census, holders)
            });
            let (mut census, sockstat) = census?;
            // A full accept queue is named with its process: the walk runs
            // now if the CLOSE_WAIT sockets did not start it (a check that
            // is asked for owners; never for `sockets` without --processes).
            // So are connections idle past the profile's idle timeout, and
            // connections a buffer held back.
            let mut holders = match holders {
                None if request.close_wait_owners == Owners::IfCloseWait
                    && (census
                        .listeners
                        .iter()
                        .any(crate::census::Listener::is_full)
                        || !census.idle.inodes.is_empty()
                        || !census.buffer_limited.is_empty()) =>
                {
                    Some(self.socket_holders())
                }
                holders => holders,
            };
            if let Some(Some(holders)) = &mut holders {
                owners::attribute_listeners(&self.proc, holders, &mut census.listeners);
                census.idle.holders =
                    owners::attribute_idle(&self.proc, holders, &census.idle.inodes);
                owners::attribute_limited(&self.proc, holders, &mut census.buffer_limited);
            }
            let busy_times = census.busy_times;
            if busy_times.with_busy_times == 0 && busy_times.without_busy_times > 0 {
                crate::note!(
                    "buffer limits not measured: this kernel's tcp_info has no tcpi_busy_time, tcpi_rwnd_limited or tcpi_sndbuf_limited (added in 4.10, v4.10:include/uapi/linux/tcp.h:218-220)"
                );
            }
            facts.census = census;
            crate::note!(
                "counted {} sockets ({}) in {:.1?}",
                facts.census.states.total(),
                match facts.census.source {
                    Some(crate::census::Source::Netlink) => "netlink",
                    _ => "procfs",
                },
                counting.elapsed()
            );
            facts.close_wait_owners = match (request.close_wait_owners, holders) {
                (Owners::Never, _) => None,
                (Owners::IfCloseWait, _) if facts.census.close_wait.is_empty() => None,
                (_, Some(mut holders)) => Some(owners::attribute(
                    &self.proc,
                    holders.as_mut(),
                    &facts.census.close_wait,
                )),
                // The census came from procfs, which streams no CLOSE_WAIT
                // signal: walk now.
                (_, None) => Some(self.close_wait_owners(&facts.census)),
            };
            facts.sockstat = match sockstat {
                Some(sockstat) => Some(sockstat),
                None => self.sockstat()?,
            };
            facts.counters = self.counters()?;
            if let Some(dir) = &request.counter_state {
                facts.previous_counters = self.previous_counters(dir, &self.counter_target());
            }
            facts.counter_window =
                crate::rates::window_since(facts.previous_counters.as_ref(), &facts.counters);
        }
        if request.boot {
            let reading = std::time::Instant::now();
            match self.boot() {
                Ok(boot) => facts.boot = boot,
                Err(error) => facts.skipped.push(format!(
                    "the boot-time sysctl configuration under {} could not be read ({error}): not-persisted and shadowed findings are left out",
                    self.root.display()
                )),
            }
            if let Some(boot) = &facts.boot {
                for file in &boot.resolution.files {
                    if let crate::conf::FileState::Unreadable { reason } = &file.source.state {
                        facts.skipped.push(format!(
                            "{} could not be read ({reason}): what it sets at boot is left out",
                            file.source.path.display()
                        ));
                    }
                }
                crate::note!(
                    "read {} sysctl files under {} as {} would, in {:.1?}",
                    boot.resolution.files.len(),
                    self.root.display(),
                    boot.loader,
                    reading.elapsed()
                );
            }
        }
        if let Some(dir) = &request.sysctl_dir {
            facts.writability = request
                .keys
                .iter()
                .map(|key| (key.clone(), self.sysctl_writability(key)))
                .collect();
            facts.own_file = Some(self.own_file(dir, &mut facts.skipped)?);
        }
        Ok(facts)
    }

    /// The loader this root boots with: systemd-sysctl when its binary is
    /// there, procps `sysctl --system` otherwise. None when the root has no
    /// sysctl configuration at all (a fixture without `etc`).
    pub fn boot(&self) -> Result<Option<crate::facts::Boot>, crate::conf::ResolveError> {
        let loader = self.loader();
        let configured = crate::conf::SYSCTL_D_DIRS
            .iter()
            .chain(std::iter::once(&crate::conf::SYSCTL_CONF))
            .any(|path| self.root.join(path).exists());
        if !configured {
            return Ok(None);
        }
        let resolution = crate::conf::resolve(&self.root, loader)?;
        Ok(Some(crate::facts::Boot { loader, resolution }))
    }

    fn loader(&self) -> crate::conf::Loader {
        let systemd = [
            "usr/lib/systemd/systemd-sysctl",
            "lib/systemd/systemd-sysctl",
        ]
        .iter()
        .any(|path| self.root.join(path).exists());
        if systemd {
            crate::conf::Loader::Systemd
        } else {
            crate::conf::Loader::Procps
        }
    }

    /// tcptune's file in `dir` as it is now, and (for the standard
    /// directory) the later assignments that would override it at boot.
    fn own_file(&self, dir: &Path, skipped: &mut Vec<String>) -> Result<crate::facts::OwnFile> {
        let path = dir.join(crate::conf::FILE_NAME);
        let bytes = write::read_owned(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let overridden_by = if dir == self.default_sysctl_dir() {
            match crate::conf::candidate(&self.root, crate::conf::FILE_NAME) {
                Ok(report) => Some(report),
                Err(error) => {
                    skipped.push(format!(
                        "cannot tell which sysctl files under {} would override {} at boot ({error})",
                        self.root.display(),
                        path.display()
                    ));
                    None
                }
            }
        } else {
            crate::note!(
                "{} is not the standard sysctl.d directory: which later files override it at boot is not known",
                dir.display()
            );
            None
        };
        Ok(crate::facts::OwnFile {
            path,
            bytes,
            overridden_by,
        })
    }

    /// Gathers once, or with `sample`, twice that many seconds apart; the
    /// second reading carries the rates.
    pub fn gather_sampled(
        &self,
        request: &Request,
        sample: Option<f64>,
    ) -> Result<crate::facts::Facts> {
        let Some(seconds) = sample else {
            return self.gather(request);
        };
        // A sample measures every destination's TIME_WAIT rate.
        let request = &Request {
            time_wait: match request.time_wait {
                TimeWaitDetail::WherePathsMayReach { .. } => TimeWaitDetail::PerDestination,
                detail => detail,
            },
            ..request.clone()
        };
        let quick = Request {
            close_wait_owners: Owners::Never,
            boot: false,
            sysctl_dir: None,
            counter_state: None,
            tcp_info: false,
            ..request.clone()
        };
        let started = std::time::Instant::now();
        let first = self.gather(&quick)?;
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
        let mut second = self.gather(request)?;
        second.counter_window =
            crate::rates::sampled_window(&first, &second, started.elapsed().as_secs_f64());
        second.sample = Some(crate::rates::compare(
            &first,
            &second,
            started.elapsed().as_secs_f64(),
        ));
        Ok(second)
    }

    /// `<root>/etc/sysctl.d`, where apply writes its file unless told otherwise.
    pub fn default_sysctl_dir(&self) -> PathBuf {
        self.root.join("etc/sysctl.d")
    }

    /// `<root>/var/lib/tcptune`, the lock and journal unless told otherwise.
    pub fn default_state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Directories under the root that tcptune writes into must be reached
    /// without symlinks: one planted at `<root>/etc` or `<root>/var/lib`
    /// would send the file or the journal elsewhere.
    pub fn refuse_redirects(&self, dirs: &[&Path]) -> Result<()> {
        for dir in dirs {
            write::refuse_symlinked_components(&self.root, dir).map_err(|source| Error::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }

    /// Whether the root is this machine's `/` (however it is spelt), not an
    /// image.
    pub fn root_is_host(&self) -> bool {
        std::fs::canonicalize(&self.root).is_ok_and(|root| root == Path::new("/"))
    }

    /// Whether `--proc` is the kernel's own proc filesystem (however it is
    /// spelt: `/proc/../proc` too), not a tree of plain files.
    pub fn is_kernel_proc(&self) -> bool {
        nix::sys::statfs::statfs(&self.proc)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
    }

    /// Changing the live kernel needs root; say so plainly instead of
    /// failing half-way on a permission error. (With `--proc` pointing at
    /// plain files, as in tests, the files decide.)
    pub fn require_root(&self, command: &str) -> Result<()> {
        if self.is_kernel_proc() && !nix::unistd::geteuid().is_root() {
            return Err(Error::Failed(format!(
                "tcptune {command} changes kernel settings and files under /etc and /var/lib: it needs root (try sudo)"
            )));
        }
        Ok(())
    }

    /// Reads a file named on the command line (`lint`): a regular file of at
    /// most `limit` bytes. `/dev/zero` or a link to it must not be read until
    /// memory runs out; a missing file is the user's mistake (exit 2).
    pub fn read_input_file(&self, path: &Path, limit: u64) -> Result<Vec<u8>> {
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(Error::Usage(format!(
                    "{}: not a regular file",
                    path.display()
                )));
            }
            Ok(meta) if meta.len() > limit => {
                return Err(Error::Usage(format!(
                    "{}: {} bytes; lint reads files of at most {limit} bytes",
                    path.display(),
                    meta.len()
                )));
            }
            _ => {}
        }
        match self.read_file_limited(path, limit + 1) {
            Ok(bytes) if bytes.len() as u64 > limit => Err(Error::Usage(format!(
                "{}: grew past {limit} bytes while being read",
                path.display()
            ))),
            Ok(bytes) => Ok(bytes),
            Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Err(Error::Usage(format!("{}: no such file", path.display())))
            }
            Err(error) => Err(error),
        }
    }
}

/// The network namespace this process is in now (after `--netns`), by the
/// device and inode of `/proc/thread-self/ns/net` (the calling thread's:
/// the process's after `--netns`, which runs before any other thread).
/// Returns (device, inode).
pub fn netns_id() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Whether this process is in another network namespace than init (pid 1):
/// a container's or one `--netns` entered. None when init's namespace
/// cannot be looked at (no root).
pub fn in_child_netns() -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let init = std::fs::metadata("/proc/1/ns/net").ok()?;
    let own = std::fs::metadata("/proc/thread-self/ns/net").ok()?;
    Some((init.dev(), init.ino()) != (own.dev(), own.ino()))
}

/// Largest sysctl value read (the biggest real ones are a few KiB).
const SYSCTL_VALUE_MAX: u64 = 1024 * 1024;
/// Largest plain-file socket table read (the kernel's report no size).
const SOCKET_TABLE_MAX: u64 = 1 << 30;
/// Largest other file read whole (proc counters, a kernel release, a
/// profile named by path).
const FILE_MAX: u64 = 16 * 1024 * 1024;

/// Where the journal lives under the root.
pub const STATE_DIR: &str = "var/lib/tcptune";
