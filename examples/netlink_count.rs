//! The physical limit for a socket census: dump every TCP socket through
//! NETLINK_SOCK_DIAG (as `ss` and tcptune do) and only count the reply
//! messages, reading nothing inside them. Benchmarks compare tcptune with it.
//!
//! ```text
//! target/release/examples/netlink_count     # prints the number of sockets
//! ```

use std::os::fd::AsRawFd;
use std::process::ExitCode;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};
use tcptune::system::netlink::{ALL_STATES, request};

/// nlmsg_type of a socket reply.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
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
    for (sequence, family) in [(1u32, 2u8), (2, 10)] {
        sendto(
            fd.as_raw_fd(),
            &request(family, ALL_STATES, sequence),
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
                    SOCK_DIAG_BY_FAMILY => sockets += 1,
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
