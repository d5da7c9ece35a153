//! The TCP socket census over NETLINK_SOCK_DIAG, the interface `ss` uses:
//! this module owns the request, the receive loop and the reply parser.
//!
//! Netlink rather than `/proc/net/tcp` because the kernel applies the state
//! filter itself (asking only for CLOSE_WAIT returns only those sockets) and
//! hands back fixed binary records, while `/proc/net/tcp` walks the whole
//! hash table, formats every socket as text and has us parse it back, which
//! is many times slower on a machine with 100k TIME_WAIT sockets. The
//! counting is shared with the procfs path ([`super::tcp_table::record`]),
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

use super::tcp_table::{Row, record};
use crate::census::{Census, Source, TcpState};

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
/// request; every other variant means the bytes are not a well-formed
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
    #[error("the kernel refused the socket dump: {}", io::Error::from_raw_os_error(*errno))]
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

/// Adds every TCP socket (IPv4 and IPv6) whose state is in `states_mask`
/// (bits `1 << state`, [`ALL_STATES`] for all) to `census`, and marks it as
/// coming from netlink.
///
/// The census counts the same sockets as `System::census_procfs`: an
/// AF_INET6 dump returns the sockets whose family is AF_INET6, including
/// dual-stack ones talking IPv4 through mapped addresses, exactly those
/// `/proc/net/tcp6` lists. On error the census may hold part of the
/// sockets; discard it (and fall back to procfs).
pub fn census(census: &mut Census, states_mask: u32) -> io::Result<()> {
    visit(states_mask, &mut |row| record(census, row))?;
    census.source = Some(Source::Netlink);
    Ok(())
}

/// Reads one datagram of a sock_diag dump and adds its sockets to `census`.
///
/// Pure and total: any byte string gives `Ok` or `Err`, never a panic.
pub fn parse_datagram(bytes: &[u8], census: &mut Census) -> Result<Progress, ParseError> {
    parse_messages(bytes, &mut |row| record(census, row))
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
const REQUEST_LEN: usize = NLMSG_HDRLEN + 8 + 48;
/// SYN_RECV request sockets live in the hash table as NEW_SYN_RECV (12).
/// Recent kernels add this bit themselves when SYN_RECV is asked for; we
/// add it too so older ones list half-open connections as procfs does.
const NEW_SYN_RECV_BIT: u32 = 1 << 12;

/// The dump request for one address family.
fn request(family: u8, states_mask: u32, sequence: u32) -> [u8; REQUEST_LEN] {
    let mut states = states_mask & ALL_STATES;
    if states & state_bit(TcpState::SynRecv) != 0 {
        states |= NEW_SYN_RECV_BIT;
    }
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

/// Splits `N` bytes off the front of a cursor.
fn take<const N: usize>(cursor: &mut &[u8]) -> Option<[u8; N]> {
    let (head, tail) = cursor.split_first_chunk::<N>()?;
    *cursor = tail;
    Some(*head)
}

/// Walks the netlink messages of one datagram, handing each socket to `sink`.
fn parse_messages(bytes: &[u8], sink: &mut impl FnMut(&Row)) -> Result<Progress, ParseError> {
    let mut offset = 0;
    while let Some(rest) = bytes.get(offset..).filter(|rest| !rest.is_empty()) {
        let truncated = |needed| ParseError::Truncated {
            offset,
            needed,
            available: rest.len(),
        };
        let mut cursor = rest;
        let length = take::<4>(&mut cursor).ok_or(truncated(NLMSG_HDRLEN))?;
        let kind = take::<2>(&mut cursor).ok_or(truncated(NLMSG_HDRLEN))?;
        // Flags, sequence and port id: one dump is in flight per socket and
        // read to its end, so nothing in them changes what we count.
        take::<10>(&mut cursor).ok_or(truncated(NLMSG_HDRLEN))?;
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
            .ok_or(truncated(length))?;
        let short = |needed| ParseError::ShortPayload {
            offset,
            kind,
            length: payload.len(),
            needed,
        };
        match kind {
            SOCK_DIAG_BY_FAMILY => {
                let row = parse_socket(payload, offset)?.ok_or(short(INET_DIAG_MSG_LEN))?;
                sink(&row);
            }
            NLMSG_DONE => {
                // A dump that failed part-way ends with DONE carrying the
                // negative errno; a clean one carries 0 (or nothing on old
                // kernels).
                let status = take::<4>(&mut { payload }).map_or(0, i32::from_ne_bytes);
                return match status {
                    0.. => Ok(Progress::Done),
                    _ => Err(ParseError::Kernel {
                        errno: status.saturating_neg(),
                    }),
                };
            }
            NLMSG_ERROR => {
                let status = take::<4>(&mut { payload })
                    .map(i32::from_ne_bytes)
                    .ok_or(short(4))?;
                // Error 0 is an acknowledgement: nothing more will come.
                return match status {
                    0 => Ok(Progress::Done),
                    _ => Err(ParseError::Kernel {
                        errno: status.saturating_neg(),
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
    source_port: u16,
    destination_port: u16,
    source: [u8; 16],
    destination: [u8; 16],
    rx_queue: u32,
    inode: u32,
}

impl DiagMessage {
    /// `None` when the payload is shorter than the fixed part. Attributes
    /// after it are skipped: we asked for none, and the kernel adds a few
    /// to full sockets anyway.
    fn read(mut payload: &[u8]) -> Option<DiagMessage> {
        let cursor = &mut payload;
        let [family, state, _timer, _retransmits] = take(cursor)?;
        let source_port = u16::from_be_bytes(take(cursor)?);
        let destination_port = u16::from_be_bytes(take(cursor)?);
        let source = take(cursor)?;
        let destination = take(cursor)?;
        // Interface index, cookie and expires.
        take::<16>(cursor)?;
        let rx_queue = u32::from_ne_bytes(take(cursor)?);
        // Write queue and uid.
        take::<8>(cursor)?;
        let inode = u32::from_ne_bytes(take(cursor)?);
        Some(DiagMessage {
            family,
            state,
            source_port,
            destination_port,
            source,
            destination,
            rx_queue,
            inode,
        })
    }
}

/// Reads one socket reply; `None` when the payload is too short.
fn parse_socket(payload: &[u8], offset: usize) -> Result<Option<Row>, ParseError> {
    let Some(DiagMessage {
        family,
        state: state_number,
        source_port,
        destination_port,
        source,
        destination,
        rx_queue,
        inode,
    }) = DiagMessage::read(payload)
    else {
        return Ok(None);
    };
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
    Ok(Some(Row {
        local,
        remote,
        state,
        // For a listener this is the accept backlog, as in procfs.
        rx_queue: u64::from(rx_queue),
        inode: u64::from(inode),
    }))
}

// ───────────────────────── the socket ─────────────────────────

/// Bytes per recv. The kernel fills one skb of at most about 32 KiB per
/// recv of a dump; a smaller buffer would truncate datagrams (the upstream
/// example's 4 KiB does), a larger one costs nothing but memory.
const RECEIVE_BUFFER: usize = 256 * 1024;

/// Streams both families' dumps through `sink`.
fn visit(states_mask: u32, sink: &mut impl FnMut(&Row)) -> io::Result<()> {
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    // One buffer for the whole census, zeroed once.
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    dump(&socket, AF_INET, states_mask, 1, &mut buffer, sink)?;
    match dump(&socket, AF_INET6, states_mask, 2, &mut buffer, sink) {
        // No handler for AF_INET6 (a kernel without IPv6): no tcp6 sockets,
        // as procfs has no tcp6 file then.
        Err(error) if error.raw_os_error() == Some(Errno::ENOENT as i32) => Ok(()),
        other => other,
    }
}

/// Sends one family's dump request and reads the replies to their end.
fn dump(
    socket: &OwnedFd,
    family: u8,
    states_mask: u32,
    sequence: u32,
    buffer: &mut [u8],
    sink: &mut impl FnMut(&Row),
) -> io::Result<()> {
    let request = request(family, states_mask, sequence);
    let kernel = NetlinkAddr::new(0, 0);
    loop {
        match sendto(socket.as_raw_fd(), &request, &kernel, MsgFlags::empty()) {
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
