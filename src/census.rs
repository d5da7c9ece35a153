//! The TCP socket census: how many sockets sit in each state, who owns the
//! CLOSE_WAIT ones and where the TIME_WAIT ones point.
//!
//! This is plain data. `system` fills it while streaming the kernel's socket
//! table, so its size depends on the number of distinct destinations and
//! CLOSE_WAIT sockets, never on the total number of sockets.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;
use serde::ser::SerializeMap;

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

impl TcpState {
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// The state for the kernel's number, as printed in `/proc/net/tcp`.
    /// 12 (NEW_SYN_RECV) is a request socket; `/proc` prints those as 3, and
    /// netlink reports them as SYN_RECV too, so it is folded in here.
    pub fn from_number(number: u8) -> Option<TcpState> {
        match number {
            12 => Some(TcpState::SynRecv),
            _ => TcpState::ALL
                .get(usize::from(number).checked_sub(1)?)
                .copied(),
        }
    }

    /// snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "established",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::FinWait1 => "fin_wait1",
            TcpState::FinWait2 => "fin_wait2",
            TcpState::TimeWait => "time_wait",
            TcpState::Close => "close",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
            TcpState::Listen => "listen",
            TcpState::Closing => "closing",
        }
    }

    /// The name operators know from `ss` and netstat.
    pub fn label(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Socket counts per state; serialises as a map with all eleven names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    counts: [u64; 11],
}

impl StateCounts {
    pub fn add(&mut self, state: TcpState) {
        self.counts[state as usize - 1] += 1;
    }

    pub fn get(&self, state: TcpState) -> u64 {
        self.counts[state as usize - 1]
    }

    pub fn set(&mut self, state: TcpState, count: u64) {
        self.counts[state as usize - 1] = count;
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Serialize for StateCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(TcpState::ALL.len()))?;
        for state in TcpState::ALL {
            map.serialize_entry(state.name(), &self.get(state))?;
        }
        map.end()
    }
}

/// Where the census came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Procfs,
    Netlink,
}

/// A CLOSE_WAIT socket remembered for the owner lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseWaitSocket {
    pub inode: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// A listening socket, its accept queue and backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub local: SocketAddr,
    /// Connections waiting in the accept queue (`rx_queue` of a LISTEN row,
    /// `idiag_rqueue` of a netlink reply).
    pub accept_queue: u64,
    /// The backlog the kernel granted at listen(): the application's request
    /// capped by `net.core.somaxconn` (`idiag_wqueue`); None from procfs,
    /// which does not show it.
    pub backlog: Option<u64>,
    /// Request sockets (SYN_RECV) waiting for the handshake's last ACK on
    /// this listener's port.
    pub syn_recv: u64,
    /// The process holding it, when the owner walk ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<SocketOwner>,
    #[serde(skip)]
    pub inode: u64,
}

impl Listener {
    /// Whether the accept queue is full: the kernel drops (or, with
    /// syncookies, defers) new connections once it exceeds the backlog.
    pub fn is_full(&self) -> bool {
        self.backlog
            .is_some_and(|backlog| self.accept_queue >= backlog.max(1))
    }

    /// How people name it: `127.0.0.1:8080 (nginx, pid 42)`.
    pub fn name(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{} ({}, pid {})", self.local, owner.comm, owner.pid),
            None => self.local.to_string(),
        }
    }
}

/// The process that holds a socket (a listener, a busy connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketOwner {
    pub pid: u32,
    pub comm: String,
}

/// One socket as the table (or a netlink dump) lists it: the fields tcptune
/// counts. Both sources produce rows and [`Census::record`] counts them, so
/// the two paths cannot count differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    pub rx_queue: u64,
    /// A listener's granted backlog, where the source shows it (netlink).
    pub listen_backlog: Option<u64>,
    /// What the socket's `tcp_info` says, when it was asked for (netlink,
    /// full sockets only).
    pub info: Option<SocketInfo>,
    pub inode: u64,
}

/// The fields of a full socket's `struct tcp_info` (and of its memory
/// counters) that rules read. A kernel sends its own `sizeof(struct
/// tcp_info)`, so fields newer than the running kernel are `None`: the
/// release that added each is given beside it (include/uapi/linux/tcp.h).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketInfo {
    /// `tcpi_total_retrans`: segments retransmitted over the connection's life.
    pub total_retransmits: u32,
    /// `idiag_timer` 2: the socket's `sk_timer` is pending, which for an
    /// ESTABLISHED socket is the keepalive timer (v6.12
    /// net/ipv4/inet_diag.c:322-323; v3.14 :175-176). It is reported only
    /// when no retransmission or zero-window probe is pending.
    pub keepalive_timer: bool,
    /// The smallest of `tcpi_last_data_sent`, `tcpi_last_data_recv` and
    /// `tcpi_last_ack_recv` (milliseconds): how long nothing has crossed the
    /// connection, as a middlebox's idle timer sees it. (`tcpi_last_ack_sent`
    /// is never filled in.)
    pub idle_ms: u32,
    /// `tcpi_snd_mss`, bytes.
    pub send_mss: u32,
    /// `tcpi_snd_cwnd`, segments.
    pub congestion_window: u32,
    /// `tcpi_rtt`, the smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// `tcpi_bytes_acked` (4.1).
    pub bytes_acked: Option<u64>,
    /// `tcpi_min_rtt`, microseconds (4.6).
    pub min_rtt_us: Option<u32>,
    /// `tcpi_delivery_rate`, bytes per second (4.9).
    pub delivery_rate: Option<u64>,
    /// `tcpi_busy_time`, `tcpi_rwnd_limited`, `tcpi_sndbuf_limited` (4.10).
    pub busy: Option<BusyTimes>,
    /// `tcpi_snd_wnd`: the window the peer advertises, bytes (5.4).
    pub send_window: Option<u32>,
    /// `SK_MEMINFO_SNDBUF` of `INET_DIAG_SKMEMINFO`: the send buffer's size
    /// now, bytes.
    pub send_buffer: Option<u32>,
}

/// How long a connection had data to send, and how much of that time a
/// buffer held it back (microseconds, counted in jiffies by the kernel's
/// chrono accounting; the busy time includes both limited times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BusyTimes {
    pub busy_us: u64,
    /// The next segment did not fit the window the peer advertises.
    pub receive_window_limited_us: u64,
    /// Everything written was in flight and the application waited for
    /// send-buffer space.
    pub send_buffer_limited_us: u64,
}

/// How the TIME_WAIT count in [`Census::states`] was obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TimeWaitCount {
    /// One row or reply per TIME_WAIT socket, counted.
    #[default]
    PerSocket,
    /// The kernel was asked not to send TIME_WAIT sockets (a command that
    /// shows no destinations needs none of them). The count is
    /// `/proc/net/sockstat`'s `tw`, every entry of this namespace's timewait
    /// table for IPv4 and IPv6, minus the entries of that table still in
    /// FIN_WAIT2 (orphaned sockets waiting for the peer's FIN), which the
    /// same walk returned. Both numbers are kept to show the arithmetic.
    SockstatTwMinusFinWait2 { tw: u64, fin_wait2: u64 },
}

/// Everything counted in one pass over the socket table.
#[derive(Debug, Clone, Default)]
pub struct Census {
    pub states: StateCounts,
    pub source: Option<Source>,
    /// How `states.time_wait` was counted.
    pub time_wait_count: TimeWaitCount,
    /// TIME_WAIT sockets per remote address and port.
    pub time_wait_by_destination: HashMap<SocketAddr, u64, FastHash>,
    pub close_wait: Vec<CloseWaitSocket>,
    pub listeners: Vec<Listener>,
    /// SYN_RECV (request) sockets per local address and port, to charge
    /// half-open connections to their listener.
    pub syn_recv_by_local: HashMap<SocketAddr, u64>,
    /// When set, the ephemeral port range: every socket whose local port
    /// lies in it is counted in [`Census::ports_by_path`]. Left unset by
    /// commands that show no destinations (hashing every socket costs).
    pub track_ports: Option<(u16, u16)>,
    /// Sockets holding an ephemeral local port, per (source address,
    /// destination address and port), by state: from one source address a
    /// destination can be reached from each local port once, whatever the
    /// state (ESTABLISHED in a pool as much as TIME_WAIT).
    pub ports_by_path: HashMap<Path, StateCounts, FastHash>,
    /// Segments retransmitted over the lifetime of the connections open
    /// now, per remote address and port (from `tcp_info`, when asked for).
    pub retransmits_by_peer: HashMap<SocketAddr, PeerRetransmits, FastHash>,
    /// When set (milliseconds), ESTABLISHED connections idle at least this
    /// long are counted in [`Census::idle`]: the profile's
    /// `idle_timeout_seconds`. Needs `tcp_info`.
    pub idle_after_ms: Option<u64>,
    /// ESTABLISHED connections idle for `idle_after_ms` or longer.
    pub idle: IdleConnections,
    /// Connections whose `tcp_info` shows a buffer holding them back for a
    /// large share of a long busy time (see [`LimitedConnection`]), the
    /// longest-limited first once finished; at most [`MAX_LIMITED`].
    pub buffer_limited: Vec<LimitedConnection>,
    /// Connections examined for buffer limits: with `tcp_info` long enough
    /// to hold the busy times (4.10 and later), and without.
    pub busy_times: BusyTimesSeen,
}

/// ESTABLISHED connections that have carried nothing for at least the
/// census's `idle_after_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdleConnections {
    /// Without a pending keepalive timer: nothing will cross them until
    /// the application writes.
    pub without_keepalive: u64,
    /// With the keepalive timer pending (SO_KEEPALIVE set).
    pub with_keepalive: u64,
    /// The ones without keepalive, per remote address and port.
    pub without_keepalive_by_peer: HashMap<SocketAddr, u64, FastHash>,
    /// Socket inodes of the ones without keepalive, at most
    /// [`MAX_IDLE_NAMED`], for the owner walk.
    pub inodes: Vec<u64>,
    /// The processes holding them, when the owner walk ran.
    pub holders: Vec<IdleHolder>,
}

/// Idle connections whose holder is looked up, at most.
pub const MAX_IDLE_NAMED: usize = 4096;

/// A process holding idle connections without keepalive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdleHolder {
    pub pid: u32,
    pub comm: String,
    pub connections: u64,
}

/// Connections held back by a buffer are remembered only past these: a
/// second of busy time, a mebibyte delivered, a quarter of the busy time
/// limited. Below them there is no evidence worth a finding.
pub const LIMITED_MIN_BUSY_US: u64 = 1_000_000;
pub const LIMITED_MIN_BYTES: u64 = 1 << 20;
/// At most this many limited connections are kept.
pub const MAX_LIMITED: usize = 64;

/// A long, busy connection that a buffer held back for at least a quarter
/// of its busy time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitedConnection {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub info: SocketInfo,
    pub busy: BusyTimes,
    pub inode: u64,
    /// The process holding it, when the owner walk ran and found it.
    pub holder: Option<SocketOwner>,
}

impl LimitedConnection {
    /// The longer of the two limited times.
    pub fn limited_us(&self) -> u64 {
        self.busy
            .receive_window_limited_us
            .max(self.busy.send_buffer_limited_us)
    }
}

/// How many connections had busy times to examine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BusyTimesSeen {
    pub with_busy_times: u64,
    /// Connections whose kernel's `tcp_info` ends before the busy times.
    pub without_busy_times: u64,
}

/// Retransmissions of the open connections toward one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeerRetransmits {
    /// Connections that retransmitted.
    pub connections: u64,
    /// Their `tcpi_total_retrans`, summed.
    pub segments: u64,
}

/// A word-at-a-time multiplicative hash (the rustc "Fx" scheme) for the
/// census's per-socket maps: their keys are addresses from the kernel, not
/// from an attacker choosing collisions, and at 100k sockets SipHash (or a
/// byte-at-a-time hash) was a visible share of the counting time.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = WordHasher;

    fn build_hasher(&self) -> WordHasher {
        WordHasher(0)
    }
}

/// The state of [`FastHash`].
#[derive(Debug, Clone, Copy)]
pub struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

/// A source address and a destination: what one local port can be used
/// for once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    pub source: std::net::IpAddr,
    pub destination: SocketAddr,
}

impl Census {
    /// An empty census that counts ephemeral ports per path when `ports` is
    /// the ephemeral range.
    pub fn tracking(ports: Option<(u16, u16)>) -> Census {
        Census {
            track_ports: ports,
            ..Census::default()
        }
    }

    /// The paths, busiest first, ties by path.
    pub fn busiest_paths(&self) -> Vec<(Path, StateCounts)> {
        let mut paths: Vec<(Path, StateCounts)> = self
            .ports_by_path
            .iter()
            .map(|(path, counts)| (*path, *counts))
            .collect();
        paths.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(&b.0)));
        paths
    }
}

impl Census {
    /// An empty census counting what this one is set up to count.
    pub fn empty_like(&self) -> Census {
        Census {
            track_ports: self.track_ports,
            idle_after_ms: self.idle_after_ms,
            ..Census::default()
        }
    }

    /// Counts one socket.
    pub fn record(&mut self, row: &Row) {
        self.states.add(row.state);
        if let Some(info) = &row.info {
            self.record_info(row, info);
        }
        let mut on_path = false;
        if let Some((low, high)) = self.track_ports
            && row.state != TcpState::Listen
            && (low..=high).contains(&row.local.port())
            && row.remote.port() != 0
        {
            self.ports_by_path
                .entry(Path {
                    source: row.local.ip(),
                    destination: row.remote,
                })
                .or_default()
                .add(row.state);
            on_path = true;
        }
        match row.state {
            // Counted per path above: `finish` adds it per destination
            // (one hash per socket instead of two).
            TcpState::TimeWait if on_path => {}
            TcpState::TimeWait => {
                *self.time_wait_by_destination.entry(row.remote).or_insert(0) += 1;
            }
            TcpState::CloseWait => self.close_wait.push(CloseWaitSocket {
                inode: row.inode,
                local: row.local,
                remote: row.remote,
            }),
            TcpState::Listen => self.listeners.push(Listener {
                local: row.local,
                accept_queue: row.rx_queue,
                backlog: row.listen_backlog,
                syn_recv: 0,
                owner: None,
                inode: row.inode,
            }),
            TcpState::SynRecv => {
                *self.syn_recv_by_local.entry(row.local).or_insert(0) += 1;
            }
            _ => {}
        }
    }

    /// What a full socket's `tcp_info` adds: retransmissions per peer,
    /// idle connections, buffer limits.
    fn record_info(&mut self, row: &Row, info: &SocketInfo) {
        if info.total_retransmits > 0 {
            let peer = self.retransmits_by_peer.entry(row.remote).or_default();
            peer.connections += 1;
            peer.segments += u64::from(info.total_retransmits);
        }
        if row.state != TcpState::Established {
            return;
        }
        if let Some(idle_after) = self.idle_after_ms
            && u64::from(info.idle_ms) >= idle_after
        {
            if info.keepalive_timer {
                self.idle.with_keepalive += 1;
            } else {
                self.idle.without_keepalive += 1;
                *self
                    .idle
                    .without_keepalive_by_peer
                    .entry(row.remote)
                    .or_insert(0) += 1;
                if row.inode != 0 && self.idle.inodes.len() < MAX_IDLE_NAMED {
                    self.idle.inodes.push(row.inode);
                }
            }
        }
        let Some(busy) = info.busy else {
            self.busy_times.without_busy_times += 1;
            return;
        };
        self.busy_times.with_busy_times += 1;
        let limited = busy
            .receive_window_limited_us
            .max(busy.send_buffer_limited_us);
        if busy.busy_us >= LIMITED_MIN_BUSY_US
            && info.bytes_acked.unwrap_or(0) >= LIMITED_MIN_BYTES
            && limited.saturating_mul(4) >= busy.busy_us
        {
            let connection = LimitedConnection {
                local: row.local,
                remote: row.remote,
                info: *info,
                busy,
                inode: row.inode,
                holder: None,
            };
            self.keep_limited(connection);
        }
    }

    /// Keeps the [`MAX_LIMITED`] longest-limited connections.
    fn keep_limited(&mut self, connection: LimitedConnection) {
        if self.buffer_limited.len() < MAX_LIMITED {
            self.buffer_limited.push(connection);
            return;
        }
        if let Some((index, shortest)) = self
            .buffer_limited
            .iter()
            .enumerate()
            .min_by_key(|(_, kept)| kept.limited_us())
            && shortest.limited_us() < connection.limited_us()
        {
            self.buffer_limited[index] = connection;
        }
    }

    /// Adds another census's sockets (the other family's dump).
    pub fn absorb(&mut self, other: Census) {
        for state in TcpState::ALL {
            self.states
                .set(state, self.states.get(state) + other.states.get(state));
        }
        for (destination, count) in other.time_wait_by_destination {
            *self
                .time_wait_by_destination
                .entry(destination)
                .or_insert(0) += count;
        }
        self.close_wait.extend(other.close_wait);
        self.listeners.extend(other.listeners);
        for (local, count) in other.syn_recv_by_local {
            *self.syn_recv_by_local.entry(local).or_insert(0) += count;
        }
        for (peer, counts) in other.retransmits_by_peer {
            let mine = self.retransmits_by_peer.entry(peer).or_default();
            mine.connections += counts.connections;
            mine.segments += counts.segments;
        }
        for (path, counts) in other.ports_by_path {
            let mine = self.ports_by_path.entry(path).or_default();
            for state in TcpState::ALL {
                mine.set(state, mine.get(state) + counts.get(state));
            }
        }
        self.idle.without_keepalive += other.idle.without_keepalive;
        self.idle.with_keepalive += other.idle.with_keepalive;
        for (peer, count) in other.idle.without_keepalive_by_peer {
            *self.idle.without_keepalive_by_peer.entry(peer).or_insert(0) += count;
        }
        let room = MAX_IDLE_NAMED.saturating_sub(self.idle.inodes.len());
        self.idle
            .inodes
            .extend(other.idle.inodes.into_iter().take(room));
        for connection in other.buffer_limited {
            self.keep_limited(connection);
        }
        self.busy_times.with_busy_times += other.busy_times.with_busy_times;
        self.busy_times.without_busy_times += other.busy_times.without_busy_times;
    }

    /// Completes a census after the walk: the TIME_WAIT sockets counted per
    /// path join the per-destination counts, and SYN_RECV sockets are
    /// charged to their listeners.
    pub fn finish(&mut self) {
        for (path, counts) in &self.ports_by_path {
            let time_wait = counts.get(TcpState::TimeWait);
            if time_wait > 0 {
                *self
                    .time_wait_by_destination
                    .entry(path.destination)
                    .or_insert(0) += time_wait;
            }
        }
        self.charge_syn_recv();
        self.buffer_limited.sort_by(|a, b| {
            b.limited_us()
                .cmp(&a.limited_us())
                .then(a.remote.cmp(&b.remote))
                .then(a.local.cmp(&b.local))
        });
    }

    /// The peers of idle connections without keepalive, most first, ties
    /// by address.
    pub fn idle_peers(&self) -> Vec<(SocketAddr, u64)> {
        let mut peers: Vec<(SocketAddr, u64)> = self
            .idle
            .without_keepalive_by_peer
            .iter()
            .map(|(peer, count)| (*peer, *count))
            .collect();
        peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        peers
    }

    /// Charges the SYN_RECV sockets to the listeners on their port (the
    /// exact address, else a wildcard listener of the same family), once
    /// the walk is complete.
    pub fn charge_syn_recv(&mut self) {
        for listener in &mut self.listeners {
            listener.syn_recv = 0;
        }
        for (local, count) in &self.syn_recv_by_local {
            let exact = self
                .listeners
                .iter()
                .position(|listener| listener.local == *local);
            let wildcard = || {
                self.listeners.iter().position(|listener| {
                    listener.local.port() == local.port()
                        && listener.local.ip().is_unspecified()
                        && listener.local.is_ipv4() == local.is_ipv4()
                })
            };
            let any_family = || {
                self.listeners.iter().position(|listener| {
                    listener.local.port() == local.port() && listener.local.ip().is_unspecified()
                })
            };
            if let Some(index) = exact.or_else(wildcard).or_else(any_family) {
                self.listeners[index].syn_recv += count;
            }
        }
    }

    /// The TIME_WAIT destinations, largest first, ties by address.
    pub fn time_wait_destinations(&self) -> Vec<(SocketAddr, u64)> {
        let mut destinations: Vec<(SocketAddr, u64)> = self
            .time_wait_by_destination
            .iter()
            .map(|(address, count)| (*address, *count))
            .collect();
        destinations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        destinations
    }
}

/// A process holding CLOSE_WAIT sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseWaitOwner {
    pub pid: u32,
    pub comm: String,
    pub count: u64,
    /// Local addresses of its CLOSE_WAIT sockets, most frequent first, with
    /// counts: a server leaking on :8080 shows one entry, a client many.
    pub local_addresses: Vec<AddressCount>,
    /// Remote addresses, most frequent first: a client leaking toward one
    /// backend shows that backend here.
    pub remote_addresses: Vec<AddressCount>,
}

impl CloseWaitOwner {
    /// Where the leak is: "on LOCAL" when most sockets share a local address
    /// (a server's listening port), else "toward REMOTE" when most share a
    /// remote one (a client's backend).
    pub fn location(&self) -> Option<String> {
        let dominant = |addresses: &[AddressCount]| {
            addresses
                .first()
                .filter(|top| top.count * 2 > self.count)
                .map(|top| top.address.clone())
        };
        dominant(&self.local_addresses)
            .map(|local| format!("on {local}"))
            .or_else(|| dominant(&self.remote_addresses).map(|remote| format!("toward {remote}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressCount {
    pub address: String,
    pub count: u64,
}

/// Who owns the CLOSE_WAIT sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CloseWaitOwners {
    pub owners: Vec<CloseWaitOwner>,
    /// CLOSE_WAIT sockets no readable process holds (pids we may not read,
    /// or sockets already handed between processes).
    pub unknown: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_numbers_follow_the_kernel() {
        assert_eq!(TcpState::from_number(1), Some(TcpState::Established));
        assert_eq!(TcpState::from_number(6), Some(TcpState::TimeWait));
        assert_eq!(TcpState::from_number(8), Some(TcpState::CloseWait));
        assert_eq!(TcpState::from_number(10), Some(TcpState::Listen));
        assert_eq!(TcpState::from_number(11), Some(TcpState::Closing));
        assert_eq!(TcpState::from_number(12), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_number(0), None);
        assert_eq!(TcpState::from_number(13), None);
    }

    fn established(remote: &str, info: SocketInfo) -> Row {
        Row {
            local: "10.0.0.1:40000".parse().unwrap(),
            remote: remote.parse().unwrap(),
            state: TcpState::Established,
            rx_queue: 0,
            listen_backlog: None,
            info: Some(info),
            inode: 1,
        }
    }

    #[test]
    fn idle_connections_are_told_apart_by_their_keepalive_timer() {
        let mut census = Census {
            idle_after_ms: Some(350_000),
            ..Census::default()
        };
        let idle = SocketInfo {
            idle_ms: 400_000,
            ..SocketInfo::default()
        };
        census.record(&established("10.0.0.5:5432", idle));
        census.record(&established("10.0.0.5:5432", idle));
        census.record(&established(
            "10.0.0.6:443",
            SocketInfo {
                keepalive_timer: true,
                ..idle
            },
        ));
        // Recently active: not counted.
        census.record(&established(
            "10.0.0.7:443",
            SocketInfo {
                idle_ms: 1_000,
                ..idle
            },
        ));
        assert_eq!(census.idle.without_keepalive, 2);
        assert_eq!(census.idle.with_keepalive, 1);
        // Their inodes, for the owner walk.
        assert_eq!(census.idle.inodes, vec![1, 1]);
        assert_eq!(
            census.idle_peers(),
            vec![("10.0.0.5:5432".parse().unwrap(), 2)]
        );
        // Without an idle timeout nothing is counted.
        let mut unasked = Census::default();
        unasked.record(&established("10.0.0.5:5432", idle));
        assert_eq!(unasked.idle, IdleConnections::default());
    }

    #[test]
    fn only_long_busy_limited_connections_are_kept() {
        let busy = |busy_us, rwnd_us| SocketInfo {
            bytes_acked: Some(8 << 20),
            busy: Some(BusyTimes {
                busy_us,
                receive_window_limited_us: rwnd_us,
                send_buffer_limited_us: 0,
            }),
            ..SocketInfo::default()
        };
        let mut census = Census::default();
        census.record(&established("10.0.0.2:1", busy(3_000_000, 2_900_000)));
        // Too short, or limited for less than a quarter of its busy time.
        census.record(&established("10.0.0.2:2", busy(500_000, 500_000)));
        census.record(&established("10.0.0.2:3", busy(3_000_000, 700_000)));
        // Too little delivered.
        census.record(&established(
            "10.0.0.2:4",
            SocketInfo {
                bytes_acked: Some(1000),
                ..busy(3_000_000, 2_900_000)
            },
        ));
        // An old kernel's tcp_info without busy times.
        census.record(&established("10.0.0.2:5", SocketInfo::default()));
        census.finish();
        let kept: Vec<u16> = census
            .buffer_limited
            .iter()
            .map(|connection| connection.remote.port())
            .collect();
        assert_eq!(kept, vec![1]);
        assert_eq!(
            census.busy_times,
            BusyTimesSeen {
                with_busy_times: 4,
                without_busy_times: 1
            }
        );
    }

    #[test]
    fn counts_serialise_with_every_state() {
        let mut counts = StateCounts::default();
        counts.add(TcpState::TimeWait);
        counts.add(TcpState::TimeWait);
        let json = serde_json::to_value(counts).unwrap();
        assert_eq!(json["time_wait"], 2);
        assert_eq!(json.as_object().unwrap().len(), 11);
    }
}
