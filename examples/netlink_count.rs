//! The physical limit for a socket census: dump every TCP socket through
//! NETLINK_SOCK_DIAG (as `ss` and tcptune do) and only count the reply
//! messages, reading nothing inside them. Benchmarks compare tcptune with it.
//!
//! ```text
//! target/release/examples/netlink_count             # one v2 dump per family: two walks
//! target/release/examples/netlink_count --one-walk  # one legacy TCPDIAG_GETSOCK dump
//! ```

use std::os::fd::AsRawFd;
use std::process::ExitCode;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};
use tcptune::system::netlink::{ALL_STATES, legacy_request, request};

/// nlmsg_type of a socket reply (the legacy dump's replies carry 18).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCPDIAG_GETSOCK: u16 = 18;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;

fn main() -> ExitCode {
    match count() {
        Ok(sockets) => {
            println!("{sockets}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("netlink_count: {error}");
            ExitCode::from(3)
        }
    }
}

fn count() -> Result<u64, Box<dyn std::error::Error>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut sockets = 0u64;
    let requests: Vec<Vec<u8>> = if std::env::args().any(|arg| arg == "--one-walk") {
        vec![legacy_request(ALL_STATES, 1).to_vec()]
    } else {
        vec![
            request(2, ALL_STATES, 1).to_vec(),
            request(10, ALL_STATES, 2).to_vec(),
        ]
    };
    for request in requests {
        sendto(
            fd.as_raw_fd(),
            &request,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        'dump: loop {
            let received = recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty())?;
            let mut rest = &buffer[..received];
            while rest.len() >= 16 {
                let length = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                match kind {
                    SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => sockets += 1,
                    NLMSG_DONE => break 'dump,
                    NLMSG_ERROR => return Err("the kernel answered with an error".into()),
                    _ => {}
                }
                let step = (length + 3) & !3;
                if step == 0 || step > rest.len() {
                    break;
                }
                rest = &rest[step..];
            }
        }
    }
    Ok(sockets)
}
