//! The TCP socket census over NETLINK_SOCK_DIAG, the interface `ss` uses:
//! this module owns the request, the receive loop and the reply parser.
//!
//! Netlink rather than `/proc/net/tcp` because the kernel applies the state
//! filter itself (asking only for CLOSE_WAIT returns only those sockets) and
//! hands back fixed binary records, while `/proc/net/tcp` walks the whole
//! hash table, formats every socket as text and has us parse it back, which
//! is many times slower on a machine with 100k TIME_WAIT sockets. The
//! counting is shared with the procfs path (`Census::record`),
//! so both give the same census.
//!
//! The wire format is written by hand on top of nix's safe socket calls: the
//! request is 72 fixed bytes and the only reply we read is the fixed 72-byte
//! `inet_diag_msg`. The netlink-packet-* crates would add three crates and
//! decode every reply into an owned message with its attributes, an
//! allocation per socket that this census is meant to avoid. Replies are
//! parsed in place in one reused buffer and counted as they arrive; no list
//! of sockets is ever built.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

use crate::census::{BusyTimes, Census, Row, SocketInfo, Source, TcpState};

/// Every TCP state, as an `idiag_states` mask (`1 << state` for 0..=11).
pub const ALL_STATES: u32 = 0xfff;

/// The `idiag_states` bit for one state.
pub fn state_bit(state: TcpState) -> u32 {
    1 << (state as u32)
}

/// What one datagram left us waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The dump goes on in the next datagram.
    More,
    /// NLMSG_DONE (or an acknowledgement) ended the dump.
    Done,
}

/// Why a datagram could not be read. `Kernel` is the kernel refusing the
/// request (NLMSG_ERROR) or ending the dump with an error (NLMSG_DONE with a
/// negative status); every other variant means the bytes are not a well-formed
/// sock_diag reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("netlink message at byte {offset} needs {needed} bytes but only {available} remain")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error(
        "netlink message at byte {offset} declares length {length}, \
         below the 16-byte header or not a multiple of 4"
    )]
    BadLength { offset: usize, length: usize },
    #[error(
        "netlink message at byte {offset} of type {kind} has {length} payload bytes, \
         fewer than the {needed} it must hold"
    )]
    ShortPayload {
        offset: usize,
        kind: u16,
        length: usize,
        needed: usize,
    },
    #[error("unexpected netlink message type {kind} at byte {offset}")]
    UnexpectedType { offset: usize, kind: u16 },
    #[error("socket at byte {offset} has address family {family}, neither AF_INET nor AF_INET6")]
    UnknownFamily { offset: usize, family: u8 },
    #[error("socket at byte {offset} is in unknown TCP state {state}")]
    UnknownState { offset: usize, state: u8 },
    #[error("the kernel failed the socket dump: {}", io::Error::from_raw_os_error(*errno))]
    Kernel { errno: i32 },
}

impl From<ParseError> for io::Error {
    fn from(error: ParseError) -> io::Error {
        match error {
            // Keep the errno so callers can tell ENOENT (no tcp_diag) from
            // EPERM and the like, as with any other system call.
            ParseError::Kernel { errno } => io::Error::from_raw_os_error(errno),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// What a census asks the kernel for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// `idiag_states`: bits `1 << state`, [`ALL_STATES`] for all.
    pub states: u32,
    /// Remember each TIME_WAIT socket's destination (`check`,
    /// `--by-destination`, `--sample`). Without it TIME_WAIT replies are only
    /// counted: hashing a million destinations nobody reads costs time.
    pub time_wait_destinations: bool,
    /// Ask for each full socket's `tcp_info` (the INET_DIAG_INFO
    /// extension): its retransmissions. Only where a rule reads them.
    pub tcp_info: bool,
}

/// Which request walked the socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// One legacy `TCPDIAG_GETSOCK` dump: both families in one walk.
    OneWalk,
    /// One `SOCK_DIAG_BY_FAMILY` dump per family: two walks.
    PerFamily,
}

/// What a census learned besides the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub request: Request,
    /// Why the one-walk request was not used: the kernel refused it.
    pub refused: Option<String>,
    /// FIN_WAIT2 sockets that live in the timewait table (orphans whose
    /// application closed them; `idiag_timer` 3). sockstat's `tw` counts them.
    pub timewait_fin_wait2: u64,
}

/// Adds every TCP socket (IPv4 and IPv6) whose state is in `query.states`
/// to `census`, marks it as coming from netlink, and calls `on_close_wait`
/// for each CLOSE_WAIT socket as it arrives (so an owner lookup can start
/// while the rest of the table streams in).
///
/// The census counts the same sockets as `System::census_procfs`: every
/// socket of this namespace once, in its own family, so a dual-stack socket
/// talking IPv4 through a mapped address counts as AF_INET6, exactly as
/// `/proc/net/tcp6` lists it. On error the census may hold part of the
/// sockets; discard it (and fall back to procfs).
///
/// One walk instead of two: the kernel walks its whole established hash
/// table for every dump, whatever family the request names, so a
/// `SOCK_DIAG_BY_FAMILY` dump per family walks it twice (at a million
/// sockets the IPv6 walk over an IPv4-only table was about 30% of all CPU).
/// The legacy request type `TCPDIAG_GETSOCK` (18) with `struct
/// inet_diag_req` is answered by `inet_diag_rcv_msg_compat()`, whose dump
/// `inet_diag_dump_compat()` sets `req.sdiag_family = AF_UNSPEC; /*
/// compatibility */` and passes the states filter and the all-zero socket
/// id through unchanged; `inet_diag_dump_icsk()` then skips a socket only
/// when `r->sdiag_family != AF_UNSPEC && sk->sk_family != r->sdiag_family`,
/// so one walk returns both families with the same per-socket replies
/// (`sk_diag_fill()` for both request types, nlmsg_type echoing the
/// request's). Read in the sources of v3.10 (3.10.49:
/// net/ipv4/inet_diag.c, `inet_diag_dump_compat`, `inet_diag_dump_icsk`
/// with separate `chain`/`twchain` walks and the same AF_UNSPEC test in the
/// listening, established and timewait loops) and of v6.17-rc3
/// (net/ipv4/inet_diag.c, `inet_diag_dump_compat` with
/// `inet_diag_dump_start_compat`, registered through
/// `sock_diag_register_inet_compat(&inet_diag_compat)`; the timewait
/// substate is tested with `state = tw_substate`), and exercised on 6.18 by
/// the tests below and tests/integration/netns.rs. What the legacy request
/// cannot do is name a family or carry the newer attributes a v2 request
/// can (`INET_DIAG_REQ_PROTOCOL`, BPF storage); this census needs neither.
/// A kernel built without the compat handler answers EOPNOTSUPP (or
/// EINVAL/ENOENT): then the two per-family dumps run side by side as before
/// and `Walk::refused` says why.
pub fn census(
    census: &mut Census,
    query: Query,
    on_close_wait: &(dyn Fn() + Sync),
) -> io::Result<Walk> {
    let mut replies = 0u64;
    let mut timewait_fin_wait2 = 0u64;
    let one_walk = {
        let mut count = counter(census, query, on_close_wait, &mut timewait_fin_wait2);
        let mut sink = |reply: &Reply| {
            replies += 1;
            count(reply);
        };
        visit(Target::AllFamilies, query, 1, &mut sink)
    };
    let refused = match one_walk {
        Ok(()) => {
            census.source = Some(Source::Netlink);
            return Ok(Walk {
                request: Request::OneWalk,
                refused: None,
                timewait_fin_wait2,
            });
        }
        // Refused outright: nothing was counted, ask the v2 way.
        Err(error) if replies == 0 && error.raw_os_error().is_some() => error.to_string(),
        Err(error) => return Err(error),
    };
    let timewait_fin_wait2 = per_family(census, query, on_close_wait)?;
    census.source = Some(Source::Netlink);
    Ok(Walk {
        request: Request::PerFamily,
        refused: Some(refused),
        timewait_fin_wait2,
    })
}

/// The two v2 dumps, side by side, each on its own socket and census (a
/// thread starts in the network namespace of the thread that made it).
fn per_family(
    census: &mut Census,
    query: Query,
    on_close_wait: &(dyn Fn() + Sync),
) -> io::Result<u64> {
    let shape = census.empty_like();
    let (ipv4, ipv6) = std::thread::scope(|scope| {
        let ipv6 = scope.spawn(|| {
            let mut part = shape;
            let mut fin_wait2 = 0;
            let result = visit(
                Target::Family(AF_INET6),
                query,
                2,
                &mut counter(&mut part, query, on_close_wait, &mut fin_wait2),
            );
            match result {
                Ok(()) => Ok((part, fin_wait2)),
                // No handler for AF_INET6 (a kernel without IPv6): no tcp6
                // sockets, as procfs has no tcp6 file then.
                Err(error) if error.raw_os_error() == Some(Errno::ENOENT as i32) => {
                    Ok((Census::default(), 0))
                }
                Err(error) => Err(error),
            }
        });
        let mut fin_wait2 = 0;
        let ipv4 = visit(
            Target::Family(AF_INET),
            query,
            1,
            &mut counter(census, query, on_close_wait, &mut fin_wait2),
        );
        let ipv4 = ipv4.map(|()| fin_wait2);
        let ipv6 = ipv6
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the IPv6 dump thread stopped")));
        (ipv4, ipv6)
    });
    let ipv4_fin_wait2 = ipv4?;
    let (ipv6, ipv6_fin_wait2) = ipv6?;
    census.absorb(ipv6);
    Ok(ipv4_fin_wait2 + ipv6_fin_wait2)
}

/// Counts replies into `census` as `query` asks.
fn counter<'a>(
    census: &'a mut Census,
    query: Query,
    on_close_wait: &'a (dyn Fn() + Sync),
    timewait_fin_wait2: &'a mut u64,
) -> impl FnMut(&Reply) + 'a {
    move |reply: &Reply| match reply.row.state {
        TcpState::TimeWait if !query.time_wait_destinations => {
            census.states.add(TcpState::TimeWait);
        }
        TcpState::CloseWait => {
            census.record(&reply.row);
            on_close_wait();
        }
        TcpState::FinWait2 if reply.in_timewait_table => {
            *timewait_fin_wait2 += 1;
            census.record(&reply.row);
        }
        _ => census.record(&reply.row),
    }
}

/// Reads one datagram of a sock_diag dump and adds its sockets to `census`.
///
/// Pure and total: any byte string gives `Ok` or `Err`, never a panic.
pub fn parse_datagram(bytes: &[u8], census: &mut Census) -> Result<Progress, ParseError> {
    parse_messages(bytes, &mut |reply| census.record(&reply.row))
}

/// One socket reply: the row, and whether the socket is an entry of the
/// timewait table rather than a full socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub row: Row,
    /// `idiag_timer` 3, which only `inet_twsk_diag_fill()` writes: a
    /// TIME_WAIT socket, or an orphaned FIN_WAIT2 one the kernel moved into
    /// the timewait table (a full FIN_WAIT2 socket reports timer 0 or 2).
    pub in_timewait_table: bool,
}

// ───────────────────────── the wire format ─────────────────────────
// Netlink headers are in host byte order; ports and addresses inside
// `inet_diag_sockid` are in network byte order (include/uapi/linux/netlink.h,
// include/uapi/linux/inet_diag.h, include/uapi/linux/sock_diag.h).

const NLMSG_HDRLEN: usize = 16;
/// Messages start on 4-byte boundaries (NLMSG_ALIGNTO).
const NLMSG_ALIGNTO: usize = 4;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The legacy inet_diag request type; its replies carry the same type.
const TCPDIAG_GETSOCK: u16 = 18;
/// `idiag_timer` of a timewait-table entry.
const TIMEWAIT_TIMER: u8 = 3;
const NLM_F_REQUEST: u16 = 0x1;
/// NLM_F_ROOT | NLM_F_MATCH.
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// `sizeof(struct inet_diag_msg)`: family, state, timer, retrans (4),
/// `inet_diag_sockid` (48), expires, rqueue, wqueue, uid, inode (20).
const INET_DIAG_MSG_LEN: usize = 72;
/// `nlmsghdr` plus `inet_diag_req_v2` (4 bytes, states, `inet_diag_sockid`).
pub const REQUEST_LEN: usize = NLMSG_HDRLEN + 8 + 48;
/// `nlmsghdr` plus the legacy `inet_diag_req`: family, source and
/// destination prefix lengths, extensions (4 bytes), `inet_diag_sockid`
/// (48), states (4) and `idiag_dbs` (4).
pub const LEGACY_REQUEST_LEN: usize = NLMSG_HDRLEN + 4 + 48 + 8;
/// `1 << (INET_DIAG_INFO - 1)`: the extension bit asking for `tcp_info`.
const INFO_EXTENSION: u8 = 1 << (INET_DIAG_INFO - 1);
/// The attribute type carrying `struct tcp_info`.
const INET_DIAG_INFO: u16 = 2;
/// The attribute type carrying the socket's memory counters
/// (`SK_MEMINFO_*` u32s), and its extension bit.
const INET_DIAG_SKMEMINFO: u16 = 7;
const SKMEMINFO_EXTENSION: u8 = 1 << (INET_DIAG_SKMEMINFO - 1);

/// SYN_RECV request sockets live in the hash table as NEW_SYN_RECV (12).
/// Recent kernels add this bit themselves when SYN_RECV is asked for; we
/// add it too so older ones list half-open connections as procfs does.
const NEW_SYN_RECV_BIT: u32 = 1 << 12;

/// The dump request for one address family (public for the benchmark that
/// measures a bare dump).
pub fn request(family: u8, states_mask: u32, sequence: u32) -> [u8; REQUEST_LEN] {
    let states = kernel_states(states_mask);
    let mut bytes = [0u8; REQUEST_LEN];
    let (header, body) = bytes.split_at_mut(NLMSG_HDRLEN);
    header[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    header[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    header[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    header[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // nlmsg_pid 0: the kernel fills in our port id.
    body[0] = family;
    body[1] = IPPROTO_TCP;
    // idiag_ext 0: no attributes requested, so a TIME_WAIT reply is the bare
    // 72-byte message and a full socket adds only a few bytes.
    body[2] = 0;
    body[4..8].copy_from_slice(&states.to_ne_bytes());
    // An all-zero inet_diag_sockid matches every socket.
    bytes
}

/// The one-walk dump request for both families: legacy `TCPDIAG_GETSOCK`
/// with `struct inet_diag_req` (public for the benchmark that measures a
/// bare dump). The kernel dumps it as AF_UNSPEC whatever `idiag_family`
/// says; 0 is written there.
pub fn legacy_request(states_mask: u32, sequence: u32) -> [u8; LEGACY_REQUEST_LEN] {
    let mut bytes = [0u8; LEGACY_REQUEST_LEN];
    let (header, body) = bytes.split_at_mut(NLMSG_HDRLEN);
    header[0..4].copy_from_slice(&(LEGACY_REQUEST_LEN as u32).to_ne_bytes());
    header[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    header[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    header[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // Family, prefix lengths and extensions 0; an all-zero socket id
    // matches every socket.
    body[52..56].copy_from_slice(&kernel_states(states_mask).to_ne_bytes());
    bytes
}

/// The states mask as the kernel should see it.
fn kernel_states(states_mask: u32) -> u32 {
    let mut states = states_mask & ALL_STATES;
    if states & state_bit(TcpState::SynRecv) != 0 {
        states |= NEW_SYN_RECV_BIT;
    }
    states
}

/// Splits `N` bytes off the front of a cursor.
fn take<const N: usize>(cursor: &mut &[u8]) -> Option<[u8; N]> {
    let (head, tail) = cursor.split_first_chunk::<N>()?;
    *cursor = tail;
    Some(*head)
}

/// Walks the netlink messages of one datagram, handing each socket to `sink`.
fn parse_messages(bytes: &[u8], sink: &mut impl FnMut(&Reply)) -> Result<Progress, ParseError> {
    let mut offset = 0;
    while let Some(rest) = bytes.get(offset..).filter(|rest| !rest.is_empty()) {
        let truncated = |needed| ParseError::Truncated {
            offset,
            needed,
            available: rest.len(),
        };
        let mut cursor = rest;
        let length = take::<4>(&mut cursor).ok_or_else(|| truncated(NLMSG_HDRLEN))?;
        let kind = take::<2>(&mut cursor).ok_or_else(|| truncated(NLMSG_HDRLEN))?;
        // Flags, sequence and port id: one dump is in flight per socket and
        // read to its end, so nothing in them changes what we count.
        take::<10>(&mut cursor).ok_or_else(|| truncated(NLMSG_HDRLEN))?;
        let length = usize::try_from(u32::from_ne_bytes(length)).unwrap_or(usize::MAX);
        let kind = u16::from_ne_bytes(kind);
        // The kernel pads every sock_diag message to 4 bytes and counts the
        // padding in nlmsg_len, so an unaligned length means the framing is
        // lost; reading on from a guessed offset would count garbage.
        if length < NLMSG_HDRLEN || length % NLMSG_ALIGNTO != 0 {
            return Err(ParseError::BadLength { offset, length });
        }
        let payload = cursor
            .get(..length - NLMSG_HDRLEN)
            .ok_or_else(|| truncated(length))?;
        let short = |needed| ParseError::ShortPayload {
            offset,
            kind,
            length: payload.len(),
            needed,
        };
        match kind {
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                let reply =
                    parse_socket(payload, offset)?.ok_or_else(|| short(INET_DIAG_MSG_LEN))?;
                sink(&reply);
            }
            NLMSG_DONE => {
                // A dump that failed part-way ends with DONE carrying the
                // negative errno; a clean one carries 0 (or nothing on old
                // kernels).
                let status = take::<4>(&mut { payload }).map_or(0, i32::from_ne_bytes);
                return match status {
                    0.. => Ok(Progress::Done),
                    _ => Err(ParseError::Kernel {
                        errno: status.saturating_abs(),
                    }),
                };
            }
            NLMSG_ERROR => {
                let status = take::<4>(&mut { payload })
                    .map(i32::from_ne_bytes)
                    .ok_or_else(|| short(4))?;
                // Error 0 is an acknowledgement: nothing more will come.
                return match status {
                    0 => Ok(Progress::Done),
                    _ => Err(ParseError::Kernel {
                        errno: status.saturating_abs(),
                    }),
                };
            }
            NLMSG_NOOP => {}
            _ => return Err(ParseError::UnexpectedType { offset, kind }),
        }
        offset += length;
    }
    Ok(Progress::More)
}

/// The fixed part of an `inet_diag_msg`, the fields we use, raw.
struct DiagMessage {
    family: u8,
    state: u8,
    timer: u8,
    source_port: u16,
    destination_port: u16,
    source: [u8; 16],
    destination: [u8; 16],
    rx_queue: u32,
    /// For a listener, its effective backlog (`sk_max_ack_backlog`).
    wqueue: u32,
    inode: u32,
}

/// Offsets in `struct tcp_info` (include/uapi/linux/tcp.h; the same at
/// v4.10, v5.4 and v6.12): eight bytes of u8 fields, then u32s, then u64s
/// on 8-byte boundaries, no padding. Fields past the attribute's length
/// are newer than the running kernel.
mod tcpi {
    pub const SND_MSS: usize = 16;
    pub const LAST_DATA_SENT: usize = 44;
    pub const LAST_DATA_RECV: usize = 52;
    pub const LAST_ACK_RECV: usize = 56;
    pub const RTT: usize = 68;
    pub const SND_CWND: usize = 80;
    pub const TOTAL_RETRANS: usize = 100;
    /// 4.1 (0df48c26d841; absent at v4.0:include/uapi/linux/tcp.h:190).
    pub const BYTES_ACKED: usize = 120;
    /// 4.6 (cd9b266095f4; v4.6.2:include/uapi/linux/tcp.h:201).
    pub const MIN_RTT: usize = 148;
    /// 4.9 (eb8329e0a04d; v4.9:include/uapi/linux/tcp.h:216).
    pub const DELIVERY_RATE: usize = 160;
    /// 4.10 (efd901741675; v4.10:include/uapi/linux/tcp.h:218-220).
    pub const BUSY_TIME: usize = 168;
    pub const RWND_LIMITED: usize = 176;
    pub const SNDBUF_LIMITED: usize = 184;
    /// 5.4 (8f7baad7f035; v5.4:include/uapi/linux/tcp.h:276).
    pub const SND_WND: usize = 228;
}

/// `idiag_timer` of a full socket whose `sk_timer` (keepalive) is pending.
const KEEPALIVE_TIMER: u8 = 2;

/// The `INET_DIAG_INFO` and `INET_DIAG_SKMEMINFO` attributes after the
/// fixed message, when `tcp_info` was asked for and the socket is a full
/// one. Attributes are `struct rtattr` (length including its 4-byte
/// header, type), 4-aligned; a malformed list ends the search, it never
/// fails the dump.
fn socket_info(mut attributes: &[u8], timer: u8) -> Option<SocketInfo> {
    let mut info = None;
    let mut memory = None;
    while attributes.len() >= 4 {
        let length = usize::from(u16::from_ne_bytes([attributes[0], attributes[1]]));
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        if length < 4 || length > attributes.len() {
            break;
        }
        match kind {
            INET_DIAG_INFO => info = attributes.get(4..length),
            INET_DIAG_SKMEMINFO => memory = attributes.get(4..length),
            _ => {}
        }
        let aligned = length.div_ceil(4) * 4;
        match attributes.get(aligned..) {
            Some(rest) => attributes = rest,
            None => break,
        }
    }
    let info = info?;
    let u32_at = |offset: usize| {
        info.get(offset..offset + 4)
            .map(|bytes| u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let u64_at = |offset: usize| {
        info.get(offset..offset + 8).map(|bytes| {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_ne_bytes(word)
        })
    };
    // Every kernel tcptune knows sends at least up to tcpi_total_retrans.
    let total_retransmits = u32_at(tcpi::TOTAL_RETRANS)?;
    let idle_ms = [
        tcpi::LAST_DATA_SENT,
        tcpi::LAST_DATA_RECV,
        tcpi::LAST_ACK_RECV,
    ]
    .into_iter()
    .filter_map(u32_at)
    .min()
    .unwrap_or(0);
    let busy = match (
        u64_at(tcpi::BUSY_TIME),
        u64_at(tcpi::RWND_LIMITED),
        u64_at(tcpi::SNDBUF_LIMITED),
    ) {
        (Some(busy_us), Some(receive_window_limited_us), Some(send_buffer_limited_us)) => {
            Some(BusyTimes {
                busy_us,
                receive_window_limited_us,
                send_buffer_limited_us,
            })
        }
        _ => None,
    };
    // SK_MEMINFO_SNDBUF is the fourth u32 (include/uapi/linux/sock_diag.h).
    let send_buffer = memory
        .and_then(|memory| memory.get(12..16))
        .map(|bytes| u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
    Some(SocketInfo {
        total_retransmits,
        keepalive_timer: timer == KEEPALIVE_TIMER,
        idle_ms,
        send_mss: u32_at(tcpi::SND_MSS).unwrap_or(0),
        congestion_window: u32_at(tcpi::SND_CWND).unwrap_or(0),
        rtt_us: u32_at(tcpi::RTT).unwrap_or(0),
        bytes_acked: u64_at(tcpi::BYTES_ACKED),
        min_rtt_us: u32_at(tcpi::MIN_RTT),
        delivery_rate: u64_at(tcpi::DELIVERY_RATE),
        busy,
        send_window: u32_at(tcpi::SND_WND),
        send_buffer,
    })
}

impl DiagMessage {
    /// `None` when the payload is shorter than the fixed part. Of the
    /// attributes after it only `INET_DIAG_INFO` is read (when asked for);
    /// the kernel adds a few others to full sockets anyway.
    fn read(mut payload: &[u8]) -> Option<DiagMessage> {
        let cursor = &mut payload;
        let [family, state, timer, _retransmits] = take(cursor)?;
        let source_port = u16::from_be_bytes(take(cursor)?);
        let destination_port = u16::from_be_bytes(take(cursor)?);
        let source = take(cursor)?;
        let destination = take(cursor)?;
        // Interface index, cookie and expires.
        take::<16>(cursor)?;
        let rx_queue = u32::from_ne_bytes(take(cursor)?);
        let wqueue = u32::from_ne_bytes(take(cursor)?);
        // uid.
        take::<4>(cursor)?;
        let inode = u32::from_ne_bytes(take(cursor)?);
        Some(DiagMessage {
            family,
            state,
            timer,
            source_port,
            destination_port,
            source,
            destination,
            rx_queue,
            wqueue,
            inode,
        })
    }
}

/// Reads one socket reply; `None` when the payload is too short.
fn parse_socket(payload: &[u8], offset: usize) -> Result<Option<Reply>, ParseError> {
    let Some(DiagMessage {
        family,
        state: state_number,
        timer,
        source_port,
        destination_port,
        source,
        destination,
        rx_queue,
        wqueue,
        inode,
    }) = DiagMessage::read(payload)
    else {
        return Ok(None);
    };
    let info = payload
        .get(INET_DIAG_MSG_LEN..)
        .and_then(|attributes| socket_info(attributes, timer));
    let address = |words: [u8; 16]| match family {
        AF_INET => {
            // An IPv4 socket uses only the first of the four words.
            let [a, b, c, d, ..] = words;
            Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
        }
        AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::from(words))),
        _ => Err(ParseError::UnknownFamily { offset, family }),
    };
    let local = SocketAddr::new(address(source)?, source_port);
    let remote = SocketAddr::new(address(destination)?, destination_port);
    // NEW_SYN_RECV (12) folds into SYN_RECV, as in /proc/net/tcp.
    let state = TcpState::from_number(state_number).ok_or(ParseError::UnknownState {
        offset,
        state: state_number,
    })?;
    Ok(Some(Reply {
        row: Row {
            local,
            remote,
            state,
            // For a listener this is the accept queue, as in procfs.
            rx_queue: u64::from(rx_queue),
            // And this the backlog listen() was granted (idiag_wqueue of a
            // listener is sk_max_ack_backlog); procfs does not show it.
            listen_backlog: (state == TcpState::Listen).then_some(u64::from(wqueue)),
            info,
            inode: u64::from(inode),
        },
        in_timewait_table: timer == TIMEWAIT_TIMER,
    }))
}

// ───────────────────────── the socket ─────────────────────────

/// Bytes per recv. The kernel fills one skb of at most about 32 KiB per
/// recv of a dump; a smaller buffer would truncate datagrams (the upstream
/// example's 4 KiB does), a larger one costs nothing but memory.
const RECEIVE_BUFFER: usize = 256 * 1024;

/// What one dump covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The legacy request: every family in one walk.
    AllFamilies,
    /// A v2 request for one family.
    Family(u8),
}

/// Streams one dump through `sink`, on a socket of its own.
fn visit(
    target: Target,
    query: Query,
    sequence: u32,
    sink: &mut impl FnMut(&Reply),
) -> io::Result<()> {
    let states_mask = query.states;
    let extensions = if query.tcp_info {
        INFO_EXTENSION | SKMEMINFO_EXTENSION
    } else {
        0
    };
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    // One buffer for the whole dump, zeroed once.
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    match target {
        Target::AllFamilies => {
            let mut bytes = legacy_request(states_mask, sequence);
            // idiag_ext of `struct inet_diag_req`.
            bytes[NLMSG_HDRLEN + 3] = extensions;
            dump(&socket, &bytes, &mut buffer, sink)
        }
        Target::Family(family) => {
            let mut bytes = request(family, states_mask, sequence);
            // idiag_ext of `struct inet_diag_req_v2`.
            bytes[NLMSG_HDRLEN + 2] = extensions;
            dump(&socket, &bytes, &mut buffer, sink)
        }
    }
}

/// Sends one dump request and reads the replies to their end.
fn dump(
    socket: &OwnedFd,
    request: &[u8],
    buffer: &mut [u8],
    sink: &mut impl FnMut(&Reply),
) -> io::Result<()> {
    let kernel = NetlinkAddr::new(0, 0);
    loop {
        match sendto(socket.as_raw_fd(), request, &kernel, MsgFlags::empty()) {
            Ok(sent) if sent == request.len() => break,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "short netlink send",
                ));
            }
            Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    loop {
        // MSG_TRUNC makes recv return the datagram's real length, so a
        // datagram larger than the buffer is an error, not a silent loss.
        let received = match recv(socket.as_raw_fd(), buffer, MsgFlags::MSG_TRUNC) {
            Ok(received) => received,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        };
        let Some(datagram) = buffer
            .get(..received)
            .filter(|datagram| !datagram.is_empty())
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "netlink datagram of {received} bytes (buffer {})",
                    buffer.len()
                ),
            ));
        };
        if parse_messages(datagram, sink)? == Progress::Done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    /// NLM_F_MULTI, as the kernel sets it on every dump reply.
    const NLM_F_MULTI: u16 = 0x2;

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(
            &u32::try_from(NLMSG_HDRLEN + payload.len())
                .unwrap()
                .to_ne_bytes(),
        );
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
        bytes.extend_from_slice(&7u32.to_ne_bytes());
        bytes.extend_from_slice(&4242u32.to_ne_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// An `inet_diag_msg` as the kernel writes it, optionally followed by
    /// an INET_DIAG_SHUTDOWN attribute (a full socket always carries one).
    fn reply(
        state: u8,
        local: &str,
        remote: &str,
        rx_queue: u32,
        inode: u32,
        attribute: bool,
    ) -> Vec<u8> {
        let local: SocketAddr = local.parse().unwrap();
        let remote: SocketAddr = remote.parse().unwrap();
        let words = |address: SocketAddr| match address.ip() {
            IpAddr::V4(ip) => {
                let mut words = [0u8; 16];
                words[..4].copy_from_slice(&ip.octets());
                words
            }
            IpAddr::V6(ip) => ip.octets(),
        };
        let mut payload = vec![
            if local.is_ipv4() { AF_INET } else { AF_INET6 },
            state,
            0,
            0,
        ];
        payload.extend_from_slice(&local.port().to_be_bytes());
        payload.extend_from_slice(&remote.port().to_be_bytes());
        payload.extend_from_slice(&words(local));
        payload.extend_from_slice(&words(remote));
        payload.extend_from_slice(&[0xee; 12]); // interface, cookie
        payload.extend_from_slice(&60_000u32.to_ne_bytes()); // expires
        payload.extend_from_slice(&rx_queue.to_ne_bytes());
        payload.extend_from_slice(&128u32.to_ne_bytes()); // wqueue
        payload.extend_from_slice(&1000u32.to_ne_bytes()); // uid
        payload.extend_from_slice(&inode.to_ne_bytes());
        assert_eq!(payload.len(), INET_DIAG_MSG_LEN);
        if attribute {
            // nla_len 5, nla_type 8 (INET_DIAG_SHUTDOWN), value, 3 bytes pad.
            payload.extend_from_slice(&5u16.to_ne_bytes());
            payload.extend_from_slice(&8u16.to_ne_bytes());
            payload.extend_from_slice(&[0, 0, 0, 0]);
        }
        message(SOCK_DIAG_BY_FAMILY, &payload)
    }

    fn done(status: i32) -> Vec<u8> {
        message(NLMSG_DONE, &status.to_ne_bytes())
    }

    fn error_message(status: i32) -> Vec<u8> {
        let mut payload = status.to_ne_bytes().to_vec();
        payload.extend_from_slice(&request(AF_INET, ALL_STATES, 7)[..NLMSG_HDRLEN]);
        message(NLMSG_ERROR, &payload)
    }

    fn parse(bytes: &[u8]) -> (Result<Progress, ParseError>, Vec<Row>) {
        let mut rows = Vec::new();
        let result = parse_messages(bytes, &mut |reply| rows.push(reply.row));
        (result, rows)
    }

    /// An rtattr: length (header included), type, payload, padding.
    fn attribute(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u16::try_from(4 + payload.len()).unwrap().to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(payload);
        bytes.resize(bytes.len().div_ceil(4) * 4, 0);
        bytes
    }

    fn put_u32(info: &mut [u8], offset: usize, value: u32) {
        info[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
    }

    fn put_u64(info: &mut [u8], offset: usize, value: u64) {
        info[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
    }

    #[test]
    fn tcp_info_and_memory_are_read_after_other_attributes() {
        // A shutdown attribute first (5 bytes, padded to 8), then
        // INET_DIAG_INFO with a 6.x-sized tcp_info and INET_DIAG_SKMEMINFO.
        let mut bytes = reply(1, "10.0.0.1:40000", "10.0.0.2:443", 0, 9, true);
        let mut info = vec![0u8; 248];
        put_u32(&mut info, tcpi::TOTAL_RETRANS, 37);
        put_u32(&mut info, tcpi::SND_MSS, 1448);
        put_u32(&mut info, tcpi::SND_CWND, 97);
        put_u32(&mut info, tcpi::RTT, 11_300);
        put_u32(&mut info, tcpi::LAST_DATA_SENT, 760);
        put_u32(&mut info, tcpi::LAST_DATA_RECV, 3900);
        put_u32(&mut info, tcpi::LAST_ACK_RECV, 748);
        put_u64(&mut info, tcpi::BYTES_ACKED, 12_582_913);
        put_u32(&mut info, tcpi::MIN_RTT, 10_023);
        put_u64(&mut info, tcpi::DELIVERY_RATE, 3_607_640);
        put_u64(&mut info, tcpi::BUSY_TIME, 3_120_000);
        put_u64(&mut info, tcpi::RWND_LIMITED, 3_088_000);
        put_u64(&mut info, tcpi::SNDBUF_LIMITED, 4_000);
        put_u32(&mut info, tcpi::SND_WND, 48_896);
        bytes.extend(attribute(INET_DIAG_INFO, &info));
        let memory: Vec<u8> = [0u32, 131_072, 0, 4_194_304, 0, 0, 0, 0, 0]
            .iter()
            .flat_map(|word| word.to_ne_bytes())
            .collect();
        bytes.extend(attribute(INET_DIAG_SKMEMINFO, &memory));
        let length = u32::try_from(bytes.len()).unwrap();
        bytes[..4].copy_from_slice(&length.to_ne_bytes());
        bytes.extend(done(0));
        let (result, rows) = parse(&bytes);
        assert_eq!(result, Ok(Progress::Done));
        let read = rows[0].info.expect("tcp_info");
        assert_eq!(
            read,
            SocketInfo {
                total_retransmits: 37,
                keepalive_timer: false,
                idle_ms: 748,
                send_mss: 1448,
                congestion_window: 97,
                rtt_us: 11_300,
                bytes_acked: Some(12_582_913),
                min_rtt_us: Some(10_023),
                delivery_rate: Some(3_607_640),
                busy: Some(BusyTimes {
                    busy_us: 3_120_000,
                    receive_window_limited_us: 3_088_000,
                    send_buffer_limited_us: 4_000,
                }),
                send_window: Some(48_896),
                send_buffer: Some(4_194_304),
            }
        );
    }

    #[test]
    fn an_older_kernels_shorter_tcp_info_leaves_the_newer_fields_out() {
        // 4.9's struct ends after tcpi_delivery_rate (168 bytes); 3.10's
        // after tcpi_total_retrans (104). The keepalive timer is idiag_timer 2.
        let mut info = vec![0u8; 168];
        put_u32(&mut info, tcpi::TOTAL_RETRANS, 2);
        put_u64(&mut info, tcpi::DELIVERY_RATE, 1000);
        let read = socket_info(&attribute(INET_DIAG_INFO, &info), KEEPALIVE_TIMER).unwrap();
        assert!(read.keepalive_timer);
        assert_eq!(read.delivery_rate, Some(1000));
        assert_eq!(
            (read.busy, read.send_window, read.send_buffer),
            (None, None, None)
        );
        let old = socket_info(&attribute(INET_DIAG_INFO, &[0u8; 104]), 0).unwrap();
        assert_eq!((old.bytes_acked, old.min_rtt_us), (None, None));
        // A tcp_info too short to hold tcpi_total_retrans, or a broken
        // attribute list, gives nothing rather than an error.
        assert_eq!(socket_info(&[8, 0, 2, 0, 1, 2, 3, 4], 0), None);
        assert_eq!(socket_info(&[200, 0, 2, 0], 0), None);
        assert_eq!(socket_info(&[2, 0, 2, 0], 0), None);
    }

    #[test]
    fn ipv4_replies_are_counted_like_procfs_rows() {
        let mut datagram = reply(10, "127.0.0.1:8080", "0.0.0.0:0", 5, 1124, true);
        datagram.extend(reply(6, "127.0.0.1:49152", "127.0.0.1:8081", 0, 0, false));
        datagram.extend(reply(6, "127.0.0.1:49153", "127.0.0.1:8081", 0, 0, false));
        let mut census = Census::default();
        assert_eq!(parse_datagram(&datagram, &mut census), Ok(Progress::More));
        assert_eq!(census.states.get(TcpState::Listen), 1);
        assert_eq!(census.states.get(TcpState::TimeWait), 2);
        assert_eq!(census.listeners[0].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(census.listeners[0].accept_queue, 5);
        assert_eq!(
            census.time_wait_by_destination[&"127.0.0.1:8081".parse().unwrap()],
            2
        );
    }

    #[test]
    fn ipv6_replies_use_all_sixteen_bytes() {
        let mut datagram = reply(
            8,
            "[2001:db8::1]:8080",
            "[2001:db8::2]:50000",
            0,
            2222,
            true,
        );
        datagram.extend(reply(
            1,
            "[::ffff:10.0.0.1]:443",
            "[::ffff:10.0.0.2]:40000",
            17,
            3333,
            true,
        ));
        let (result, rows) = parse(&datagram);
        assert_eq!(result, Ok(Progress::More));
        assert_eq!(
            rows[0],
            Row {
                local: "[2001:db8::1]:8080".parse().unwrap(),
                remote: "[2001:db8::2]:50000".parse().unwrap(),
                state: TcpState::CloseWait,
                rx_queue: 0,
                listen_backlog: None,
                info: None,
                inode: 2222,
            }
        );
        // A dual-stack socket keeps its mapped IPv6 address, as in tcp6.
        assert_eq!(rows[1].local, "[::ffff:10.0.0.1]:443".parse().unwrap());
        assert_eq!(rows[1].rx_queue, 17);
        let mut census = Census::default();
        parse_datagram(&datagram, &mut census).unwrap();
        assert_eq!(census.close_wait[0].inode, 2222);
        assert_eq!(census.states.get(TcpState::Established), 1);
    }

    #[test]
    fn new_syn_recv_counts_as_syn_recv() {
        let (_, rows) = parse(&reply(12, "127.0.0.1:80", "127.0.0.1:5000", 0, 0, false));
        assert_eq!(rows[0].state, TcpState::SynRecv);
    }

    #[test]
    fn several_messages_per_datagram_end_at_done() {
        let mut datagram = Vec::new();
        for port in 0..5u16 {
            datagram.extend(reply(
                1,
                &format!("10.0.0.1:{}", 1000 + port),
                "10.0.0.2:80",
                0,
                9,
                true,
            ));
        }
        datagram.extend(message(NLMSG_NOOP, &[]));
        datagram.extend(done(0));
        // Whatever follows DONE belongs to no dump of ours.
        datagram.extend(reply(1, "10.0.0.1:1", "10.0.0.2:80", 0, 9, false));
        let (result, rows) = parse(&datagram);
        assert_eq!(result, Ok(Progress::Done));
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[4].local.port(), 1004);
    }

    #[test]
    fn done_alone_or_without_status_ends_the_dump() {
        assert_eq!(parse(&done(0)).0, Ok(Progress::Done));
        assert_eq!(parse(&message(NLMSG_DONE, &[])).0, Ok(Progress::Done));
        assert_eq!(parse(&[]).0, Ok(Progress::More));
    }

    #[test]
    fn a_failed_dump_reports_its_errno() {
        let (result, _) = parse(&done(-(Errno::ENOBUFS as i32)));
        assert_eq!(
            result,
            Err(ParseError::Kernel {
                errno: Errno::ENOBUFS as i32
            })
        );
    }

    #[test]
    fn an_error_message_becomes_an_io_error_with_the_errno() {
        let mut datagram = reply(1, "10.0.0.1:1", "10.0.0.2:80", 0, 9, false);
        datagram.extend(error_message(-(Errno::ENOENT as i32)));
        let (result, rows) = parse(&datagram);
        assert_eq!(rows.len(), 1);
        let error = result.unwrap_err();
        assert_eq!(
            error,
            ParseError::Kernel {
                errno: Errno::ENOENT as i32
            }
        );
        let io_error = io::Error::from(error);
        assert_eq!(io_error.raw_os_error(), Some(Errno::ENOENT as i32));
        // An acknowledgement is error 0.
        assert_eq!(parse(&error_message(0)).0, Ok(Progress::Done));
        // i32::MIN has no positive counterpart; it must not overflow.
        assert_eq!(
            parse(&error_message(i32::MIN)).0,
            Err(ParseError::Kernel { errno: i32::MAX })
        );
    }

    #[test]
    fn a_truncated_message_is_an_error() {
        let whole = reply(1, "10.0.0.1:1", "10.0.0.2:80", 0, 9, true);
        let (result, _) = parse(&whole[..whole.len() - 4]);
        assert_eq!(
            result,
            Err(ParseError::Truncated {
                offset: 0,
                needed: whole.len(),
                available: whole.len() - 4
            })
        );
        // A second message cut inside its header.
        let mut datagram = whole.clone();
        datagram.extend_from_slice(&done(0)[..10]);
        let (result, rows) = parse(&datagram);
        assert_eq!(
            result,
            Err(ParseError::Truncated {
                offset: whole.len(),
                needed: NLMSG_HDRLEN,
                available: 10
            })
        );
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn a_misaligned_or_impossible_length_is_an_error() {
        let mut datagram = reply(1, "10.0.0.1:1", "10.0.0.2:80", 0, 9, true);
        let length = u32::try_from(datagram.len() - 2).unwrap();
        datagram[..4].copy_from_slice(&length.to_ne_bytes());
        assert_eq!(
            parse(&datagram).0,
            Err(ParseError::BadLength {
                offset: 0,
                length: datagram.len() - 2
            })
        );
        for length in [0u32, 8, 15, u32::MAX] {
            let mut datagram = done(0);
            datagram[..4].copy_from_slice(&length.to_ne_bytes());
            assert!(
                matches!(parse(&datagram).0, Err(ParseError::BadLength { .. })),
                "{length}"
            );
        }
    }

    #[test]
    fn short_payloads_and_strangers_are_errors() {
        let (result, _) = parse(&message(SOCK_DIAG_BY_FAMILY, &[0; 40]));
        assert_eq!(
            result,
            Err(ParseError::ShortPayload {
                offset: 0,
                kind: SOCK_DIAG_BY_FAMILY,
                length: 40,
                needed: INET_DIAG_MSG_LEN
            })
        );
        assert!(matches!(
            parse(&message(NLMSG_ERROR, &[])).0,
            Err(ParseError::ShortPayload { .. })
        ));
        assert_eq!(
            parse(&message(16, &[0; 4])).0,
            Err(ParseError::UnexpectedType {
                offset: 0,
                kind: 16
            })
        );
        let mut unix = reply(1, "10.0.0.1:1", "10.0.0.2:80", 0, 9, false);
        unix[NLMSG_HDRLEN] = 1;
        assert_eq!(
            parse(&unix).0,
            Err(ParseError::UnknownFamily {
                offset: 0,
                family: 1
            })
        );
        for state in [0u8, 13, 255] {
            let bytes = reply(state, "10.0.0.1:1", "10.0.0.2:80", 0, 9, false);
            assert_eq!(
                parse(&bytes).0,
                Err(ParseError::UnknownState { offset: 0, state })
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut datagram = reply(10, "127.0.0.1:8080", "0.0.0.0:0", 5, 1124, true);
        datagram.extend(reply(6, "[::1]:49152", "[::1]:8081", 0, 0, false));
        datagram.extend(error_message(-1));
        for end in 0..=datagram.len() {
            let _ = parse(&datagram[..end]);
        }
        for at in 0..datagram.len() {
            for value in [0x00, 0x01, 0x03, 0x14, 0x7f, 0x80, 0xff] {
                let mut corrupted = datagram.clone();
                corrupted[at] = value;
                let _ = parse(&corrupted);
            }
        }
        // A fixed-seed generator: deterministic, no dependency.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut byte = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_le_bytes()[0]
        };
        for length in 0..2000 {
            let bytes: Vec<u8> = (0..length % 300).map(|_| byte()).collect();
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn the_request_asks_the_kernel_to_filter() {
        let bytes = request(AF_INET6, state_bit(TcpState::CloseWait), 9);
        assert_eq!(bytes.len(), 72);
        assert_eq!(bytes[..4], 72u32.to_ne_bytes());
        assert_eq!(bytes[4..6], 20u16.to_ne_bytes());
        assert_eq!(bytes[6..8], 0x301u16.to_ne_bytes());
        assert_eq!(bytes[8..12], 9u32.to_ne_bytes());
        assert_eq!(bytes[16..20], [AF_INET6, IPPROTO_TCP, 0, 0]);
        assert_eq!(bytes[20..24], (1u32 << 8).to_ne_bytes());
        assert!(bytes[24..].iter().all(|&b| b == 0));
        // Asking for SYN_RECV also asks for the request sockets.
        let bytes = request(AF_INET, state_bit(TcpState::SynRecv), 1);
        assert_eq!(bytes[20..24], (1u32 << 3 | 1 << 12).to_ne_bytes());
        // Bits beyond the TCP states are not passed on.
        let bytes = request(AF_INET, u32::MAX, 1);
        assert_eq!(bytes[20..24], (ALL_STATES | NEW_SYN_RECV_BIT).to_ne_bytes());
    }

    // ───────────── real sockets in this process (no sysctl is touched) ─────────────

    type Key = (TcpState, SocketAddr, SocketAddr, u64);

    fn keys(rows: impl IntoIterator<Item = Row>, port: u16) -> Vec<Key> {
        let mut keys: Vec<Key> = rows
            .into_iter()
            .filter(|row| row.local.port() == port || row.remote.port() == port)
            .map(|row| (row.state, row.local, row.remote, row.inode))
            .collect();
        keys.sort();
        keys
    }

    /// Rows of the two per-family v2 dumps.
    fn netlink_rows(states: u32) -> Vec<Row> {
        let mut rows = Vec::new();
        visit(
            Target::Family(AF_INET),
            Query {
                states,
                time_wait_destinations: true,
                tcp_info: false,
            },
            1,
            &mut |reply| rows.push(reply.row),
        )
        .unwrap();
        visit(
            Target::Family(AF_INET6),
            Query {
                states,
                time_wait_destinations: true,
                tcp_info: false,
            },
            2,
            &mut |reply| rows.push(reply.row),
        )
        .unwrap();
        rows
    }

    /// Rows of the one legacy dump.
    fn one_walk_rows(states: u32) -> Vec<Row> {
        let mut rows = Vec::new();
        visit(
            Target::AllFamilies,
            Query {
                states,
                time_wait_destinations: true,
                tcp_info: false,
            },
            1,
            &mut |reply| rows.push(reply.row),
        )
        .unwrap();
        rows
    }

    fn procfs_rows() -> Vec<Row> {
        let mut rows = Vec::new();
        for name in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(name) else {
                continue;
            };
            rows.extend(
                text.lines()
                    .skip(1)
                    .map(|line| super::super::tcp_table::parse_row(line).unwrap()),
            );
        }
        rows
    }

    fn histogram(keys: &[Key]) -> BTreeMap<TcpState, usize> {
        let mut counts = BTreeMap::new();
        for key in keys {
            *counts.entry(key.0).or_insert(0) += 1;
        }
        counts
    }

    /// Polls until netlink shows `expected` for `port` and procfs lists the
    /// very same sockets, or panics after a few seconds.
    fn settle(port: u16, expected: &BTreeMap<TcpState, usize>) -> Vec<Key> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let netlink = keys(netlink_rows(ALL_STATES), port);
            let one_walk = keys(one_walk_rows(ALL_STATES), port);
            let procfs = keys(procfs_rows(), port);
            if &histogram(&netlink) == expected && netlink == procfs && one_walk == procfs {
                return netlink;
            }
            assert!(
                Instant::now() < deadline,
                "port {port}: netlink {netlink:?}\none walk {one_walk:?}\nprocfs {procfs:?}\nexpected {expected:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pair(listener: &TcpListener, to: SocketAddr) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(to).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn loopback_sockets_are_found_with_their_states() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let port = address.port();
        let _established: Vec<_> = (0..3).map(|_| pair(&listener, address)).collect();
        // Client closes, server holds: CLOSE_WAIT here, an orphaned
        // FIN_WAIT2 (a timewait-table entry) on the client side.
        let (client, _close_wait) = pair(&listener, address);
        drop(client);
        // Client closes first, server follows: the client is in TIME_WAIT.
        let (client, mut server) = pair(&listener, address);
        drop(client);
        assert_eq!(server.read(&mut [0; 1]).unwrap(), 0);
        drop(server);

        let expected = BTreeMap::from([
            (TcpState::Established, 6),
            (TcpState::FinWait2, 1),
            (TcpState::TimeWait, 1),
            (TcpState::CloseWait, 1),
            (TcpState::Listen, 1),
        ]);
        let keys = settle(port, &expected);
        // The listener is a full socket with an inode; TIME_WAIT has none.
        let inode = |state| keys.iter().find(|key| key.0 == state).map(|key| key.3);
        assert!(inode(TcpState::Listen).is_some_and(|inode| inode != 0));
        assert_eq!(inode(TcpState::TimeWait), Some(0));

        // The kernel filters: asking for CLOSE_WAIT returns nothing else.
        let only = netlink_rows(state_bit(TcpState::CloseWait));
        assert!(only.iter().all(|row| row.state == TcpState::CloseWait));
        assert_eq!(
            only.iter().filter(|row| row.local.port() == port).count(),
            1
        );

        // settle() proved the one legacy walk lists the very same sockets
        // as the two v2 dumps; it filters by state the same way.
        let only = one_walk_rows(state_bit(TcpState::CloseWait));
        assert!(only.iter().all(|row| row.state == TcpState::CloseWait));

        let mut census = Census::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let walk = super::census(
            &mut census,
            Query {
                states: ALL_STATES,
                time_wait_destinations: true,
                tcp_info: false,
            },
            &|| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
        )
        .unwrap();
        assert_eq!(walk.request, Request::OneWalk, "{walk:?}");
        assert_eq!(
            calls.into_inner() as u64,
            census.states.get(TcpState::CloseWait),
            "on_close_wait runs once per CLOSE_WAIT socket"
        );
        // The orphaned client of the CLOSE_WAIT pair sits in the timewait
        // table as FIN_WAIT2, and is recognised by its timer.
        assert!(walk.timewait_fin_wait2 >= 1, "{walk:?}");
        assert_eq!(census.source, Some(Source::Netlink));
        assert!(census.states.get(TcpState::Established) >= 6);
        assert!(
            census
                .listeners
                .iter()
                .any(|listener| listener.local == address)
        );
        assert!(
            census
                .close_wait
                .iter()
                .any(|socket| socket.local == address)
        );
    }

    #[test]
    fn without_destinations_time_wait_is_only_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (client, mut server) = pair(&listener, address);
        drop(client);
        assert_eq!(server.read(&mut [0; 1]).unwrap(), 0);
        drop(server);
        settle(
            address.port(),
            &BTreeMap::from([(TcpState::TimeWait, 1), (TcpState::Listen, 1)]),
        );
        let mut counted = Census::default();
        let query = Query {
            states: ALL_STATES,
            time_wait_destinations: false,
            tcp_info: false,
        };
        super::census(&mut counted, query, &|| {}).unwrap();
        assert!(counted.states.get(TcpState::TimeWait) >= 1);
        assert!(counted.time_wait_by_destination.is_empty());
        // Other processes' sockets may come and go between two dumps; this
        // test's TIME_WAIT socket is in both.
        let mut hashed = Census::default();
        let query = Query {
            time_wait_destinations: true,
            ..query
        };
        super::census(&mut hashed, query, &|| {}).unwrap();
        assert_eq!(hashed.time_wait_by_destination[&address], 1);
    }

    #[test]
    fn the_legacy_request_asks_for_every_family() {
        let bytes = legacy_request(
            state_bit(TcpState::SynRecv) | state_bit(TcpState::Listen),
            5,
        );
        assert_eq!(bytes.len(), 76);
        assert_eq!(bytes[..4], 76u32.to_ne_bytes());
        assert_eq!(bytes[4..6], 18u16.to_ne_bytes());
        assert_eq!(bytes[6..8], 0x301u16.to_ne_bytes());
        assert_eq!(bytes[8..12], 5u32.to_ne_bytes());
        // Family, prefix lengths, extensions and the socket id: all zero.
        assert!(bytes[16..68].iter().all(|&b| b == 0));
        assert_eq!(bytes[68..72], (1u32 << 3 | 1 << 10 | 1 << 12).to_ne_bytes());
        assert_eq!(bytes[72..76], [0; 4]);
    }

    #[test]
    fn legacy_replies_and_timewait_entries_are_read() {
        let mut datagram = reply(5, "127.0.0.1:40000", "127.0.0.1:80", 0, 0, false);
        // The legacy dump echoes its request type 18.
        datagram[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        // A timewait-table entry has timer 3; a full FIN_WAIT2 socket not.
        datagram[NLMSG_HDRLEN + 2] = TIMEWAIT_TIMER;
        datagram.extend(reply(5, "127.0.0.1:40001", "127.0.0.1:80", 0, 77, true));
        let mut replies = Vec::new();
        let result = parse_messages(&datagram, &mut |reply| replies.push(*reply));
        assert_eq!(result, Ok(Progress::More));
        assert_eq!(replies.len(), 2);
        assert!(replies[0].in_timewait_table);
        assert!(!replies[1].in_timewait_table);
        assert_eq!(replies[1].row.inode, 77);
    }

    #[test]
    fn ipv6_and_mapped_sockets_match_procfs() {
        // Hosts without IPv6 on loopback skip this part.
        if let Ok(listener) = TcpListener::bind("[::1]:0") {
            let address = listener.local_addr().unwrap();
            let _pair = pair(&listener, address);
            let expected = BTreeMap::from([(TcpState::Established, 2), (TcpState::Listen, 1)]);
            settle(address.port(), &expected);
        }
        // An IPv6 socket bound to a mapped address serves IPv4 clients: its
        // sockets are AF_INET6 (tcp6), the client's AF_INET (tcp).
        if let Ok(listener) = TcpListener::bind("[::ffff:127.0.0.1]:0") {
            let port = listener.local_addr().unwrap().port();
            let _pair = pair(&listener, SocketAddr::from(([127, 0, 0, 1], port)));
            let expected = BTreeMap::from([(TcpState::Established, 2), (TcpState::Listen, 1)]);
            let keys = settle(port, &expected);
            let mapped = keys.iter().filter(|key| key.1.is_ipv6()).count();
            assert_eq!(mapped, 2, "{keys:?}");
        }
    }
}
