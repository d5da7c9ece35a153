//! Streaming parser for `/proc/net/tcp` and `/proc/net/tcp6`.
//!
//! One line buffer is reused for the whole file, so memory stays flat however
//! many sockets the kernel lists. Addresses are the kernel's network-order
//! 32-bit words printed with `%08X` as native integers: parse each word as a
//! `u32` and take its native-endian bytes.

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::census::{Census, Row, TcpState};
use crate::error::{Error, Result};

/// Parses one data row; the message says what was wrong.
pub fn parse_row(line: &str) -> Result<Row, String> {
    let mut fields = line.split_whitespace();
    let mut next = |name: &str| {
        fields
            .next()
            .ok_or_else(|| format!("missing the {name} column"))
    };
    let _slot = next("sl")?;
    let local = parse_address(next("local_address")?)?;
    let remote = parse_address(next("rem_address")?)?;
    let state_field = next("st")?;
    let state_number =
        u8::from_str_radix(state_field, 16).map_err(|_| format!("bad state `{state_field}`"))?;
    let state = TcpState::from_number(state_number)
        .ok_or_else(|| format!("unknown state `{state_field}`"))?;
    let queues = next("tx_queue:rx_queue")?;
    let rx_queue = queues
        .split_once(':')
        .and_then(|(_, rx)| u64::from_str_radix(rx, 16).ok())
        .ok_or_else(|| format!("bad queue field `{queues}`"))?;
    let _timer = next("tr:tm->when")?;
    let _retransmits = next("retrnsmt")?;
    let _uid = next("uid")?;
    let _timeout = next("timeout")?;
    let inode_field = next("inode")?;
    let inode = inode_field
        .parse()
        .map_err(|_| format!("bad inode `{inode_field}`"))?;
    Ok(Row {
        local,
        remote,
        state,
        rx_queue,
        // /proc/net/tcp does not show a listener's backlog.
        listen_backlog: None,
        info: None,
        inode,
    })
}

/// Parses `0100007F:1388` (IPv4) or the 32-digit IPv6 form.
pub fn parse_address(field: &str) -> Result<SocketAddr, String> {
    let bad = || format!("bad address `{field}`");
    let (ip_hex, port_hex) = field.split_once(':').ok_or_else(bad)?;
    if port_hex.len() != 4 {
        return Err(bad());
    }
    let port = u16::from_str_radix(port_hex, 16).map_err(|_| bad())?;
    let word = |at: usize| -> Result<[u8; 4], String> {
        let digits = ip_hex.get(at..at + 8).ok_or_else(bad)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(digits, 16)
            .map(u32::to_ne_bytes)
            .map_err(|_| bad())
    };
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut octets = [0u8; 16];
            for index in 0..4 {
                octets[index * 4..index * 4 + 4].copy_from_slice(&word(index * 8)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err(bad()),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Adds every row of one table to the census.
pub fn count(reader: impl BufRead, path: &Path, census: &mut Census) -> Result<()> {
    each_row(reader, path, &mut |row| census.record(row))
}

/// Hands every row of one table to `visit`, streaming.
pub fn each_row(mut reader: impl BufRead, path: &Path, visit: &mut dyn FnMut(&Row)) -> Result<()> {
    let mut line = Vec::with_capacity(256);
    let mut number = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let text = String::from_utf8_lossy(&line);
        // The first line is the column header; blank lines carry nothing.
        if number == 1 || text.trim().is_empty() {
            continue;
        }
        let row = parse_row(&text).map_err(|message| Error::Malformed {
            path: path.to_owned(),
            line: number,
            message,
        })?;
        visit(&row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    #[test]
    fn ipv4_loopback_reads_in_host_order() {
        let address = parse_address("0100007F:1388").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(address, "127.0.0.1:5000".parse().unwrap());
        }
    }

    #[test]
    fn ipv6_words_are_native_integers() {
        let address = parse_address("00000000000000000000000001000000:0050").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(address, "[::1]:80".parse().unwrap());
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for field in [
            "",
            "0100007F",
            "0100007F:13",
            "0100007G:1388",
            "01007F:1388",
            "0100007F:ZZZZ",
        ] {
            assert!(parse_address(field).is_err(), "{field}");
        }
    }

    #[test]
    fn rows_are_counted_per_state_with_details() {
        let text = format!(
            "{HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 1124 1 0 100 0 0 10 0\n\
             1: 0100007F:1F90 0200007F:C000 08 00000000:00000000 00:00000000 00000000  1000        0 2222 1 0 20 4 30 10 -1\n\
             2: 0100007F:C001 0100007F:1F91 06 00000000:00000000 03:00001770 00000000     0        0 0\n\
             3: 0100007F:C002 0100007F:1F91 06 00000000:00000000 03:00001770 00000000     0        0 0\n"
        );
        let mut census = Census::default();
        count(text.as_bytes(), Path::new("tcp"), &mut census).unwrap();
        assert_eq!(census.states.get(TcpState::Listen), 1);
        assert_eq!(census.states.get(TcpState::CloseWait), 1);
        assert_eq!(census.states.get(TcpState::TimeWait), 2);
        assert_eq!(census.listeners[0].accept_queue, 5);
        assert_eq!(census.close_wait[0].inode, 2222);
        if cfg!(target_endian = "little") {
            let destination: SocketAddr = "127.0.0.1:8081".parse().unwrap();
            assert_eq!(census.time_wait_by_destination[&destination], 2);
        }
    }

    #[test]
    fn a_truncated_row_names_file_and_line() {
        let text = format!("{HEADER}   0: 0100007F:1F90 00000000:0000 0A\n");
        let mut census = Census::default();
        let error = count(text.as_bytes(), Path::new("/p/net/tcp"), &mut census).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/p/net/tcp:2: missing the tx_queue:rx_queue column"
        );
    }
}
