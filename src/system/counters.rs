//! Parsers for the kernel's counter files: `/proc/net/netstat` and
//! `/proc/net/snmp` (pairs of header and value lines under one prefix) and
//! `/proc/net/sockstat`.

use std::path::Path;

use crate::error::{Error, Result};
use crate::facts::{CounterMap, Sockstat};

/// Reads every `PREFIX:` header/value pair of a netstat-style file.
pub fn parse_pairs(text: &str, prefix: &str, path: &Path) -> Result<CounterMap> {
    let tag = format!("{prefix}:");
    let mut counters = CounterMap::new();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.split_whitespace().next() == Some(tag.as_str()));
    while let Some((_, header)) = lines.next() {
        let Some((number, values)) = lines.next() else {
            return Err(Error::Malformed {
                path: path.to_owned(),
                line: text.lines().count(),
                message: format!("a `{tag}` header line has no value line"),
            });
        };
        let names: Vec<&str> = header.split_whitespace().skip(1).collect();
        let numbers: Vec<&str> = values.split_whitespace().skip(1).collect();
        if names.len() != numbers.len() {
            return Err(Error::Malformed {
                path: path.to_owned(),
                line: number + 1,
                message: format!("{} `{tag}` names but {} values", names.len(), numbers.len()),
            });
        }
        for (name, value) in names.into_iter().zip(numbers) {
            let value = value.parse().map_err(|_| Error::Malformed {
                path: path.to_owned(),
                line: number + 1,
                message: format!("`{name}` has the non-numeric value `{value}`"),
            })?;
            counters.insert(name.to_owned(), value);
        }
    }
    Ok(counters)
}

/// Reads the `TCP:` line of sockstat (`TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0`).
pub fn parse_sockstat(text: &str, path: &Path) -> Result<Sockstat> {
    let mut sockstat = Sockstat::default();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some("TCP:") {
            continue;
        }
        let rest: Vec<&str> = fields.collect();
        for pair in rest.chunks(2) {
            let [name, value] = pair else {
                return Err(Error::Malformed {
                    path: path.to_owned(),
                    line: index + 1,
                    message: "a `TCP:` name has no value".into(),
                });
            };
            let value: u64 = value.parse().map_err(|_| Error::Malformed {
                path: path.to_owned(),
                line: index + 1,
                message: format!("`{name}` has the non-numeric value `{value}`"),
            })?;
            match *name {
                "inuse" => sockstat.inuse = value,
                "orphan" => sockstat.orphan = value,
                "tw" => sockstat.tw = value,
                "alloc" => sockstat.alloc = value,
                "mem" => sockstat.mem = value,
                _ => {}
            }
        }
    }
    Ok(sockstat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_pairs_are_matched_by_position() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 17\nIpExt: InNoRoutes\nIpExt: 3\n";
        let counters = parse_pairs(text, "TcpExt", Path::new("netstat")).unwrap();
        assert_eq!(counters["ListenOverflows"], 17);
        assert_eq!(counters.len(), 3);
    }

    #[test]
    fn snmp_tcp_line_keeps_negative_values() {
        let text = "Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm MaxConn ActiveOpens\nTcp: 1 -1 13\n";
        let counters = parse_pairs(text, "Tcp", Path::new("snmp")).unwrap();
        assert_eq!(counters["MaxConn"], -1);
        assert_eq!(counters["ActiveOpens"], 13);
    }

    #[test]
    fn mismatched_counts_name_the_line() {
        let text = "TcpExt: A B\nTcpExt: 1\n";
        let error = parse_pairs(text, "TcpExt", Path::new("netstat")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "netstat:2: 2 `TcpExt:` names but 1 values"
        );
    }

    #[test]
    fn sockstat_tcp_line() {
        let text =
            "sockets: used 8\nTCP: inuse 1 orphan 2 tw 3 alloc 4 mem 5\nUDP: inuse 0 mem 0\n";
        let sockstat = parse_sockstat(text, Path::new("sockstat")).unwrap();
        assert_eq!(
            sockstat,
            Sockstat {
                inuse: 1,
                orphan: 2,
                tw: 3,
                alloc: 4,
                mem: 5
            }
        );
    }
}

/// Sums the per-CPU rows of `/proc/net/stat/nf_conntrack`: a header of
/// column names, then one row of hexadecimal numbers per CPU. `entries`
/// is the table's size, printed the same on every row, so it is left out
/// (the count is `nf_conntrack_count`); every other column is a per-CPU
/// counter of this network namespace, summed.
pub fn parse_conntrack_stat(text: &str, path: &Path) -> Result<CounterMap> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Ok(CounterMap::new());
    };
    let names: Vec<&str> = header.split_whitespace().collect();
    let mut sums = vec![0i64; names.len()];
    for (number, row) in lines {
        let values: Vec<&str> = row.split_whitespace().collect();
        if values.is_empty() {
            continue;
        }
        if values.len() != names.len() {
            return Err(Error::Malformed {
                path: path.to_owned(),
                line: number + 1,
                message: format!("{} columns but {} values", names.len(), values.len()),
            });
        }
        for (sum, value) in sums.iter_mut().zip(values) {
            let parsed = i64::from_str_radix(value, 16).map_err(|_| Error::Malformed {
                path: path.to_owned(),
                line: number + 1,
                message: format!("`{value}` is not a hexadecimal counter"),
            })?;
            *sum = sum.saturating_add(parsed);
        }
    }
    Ok(names
        .into_iter()
        .zip(sums)
        .filter(|(name, _)| *name != "entries")
        .map(|(name, sum)| (name.to_owned(), sum))
        .collect())
}

#[cfg(test)]
mod conntrack_tests {
    use super::*;

    #[test]
    fn per_cpu_hex_rows_are_summed_without_entries() {
        let text = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
                    00000005  00000000 00000000 00000000 00000002 00000000 00000000 00000000 0000000a 00000001 00000010 00000000 00000000  00000000 00000000 00000000 00000000\n\
                    00000005  00000001 00000000 00000000 00000000 00000000 00000000 00000000 0000000b 00000002 000000f0 00000003 00000000  00000000 00000000 00000000 00000000\n";
        let sums = parse_conntrack_stat(text, Path::new("stat")).unwrap();
        assert_eq!(sums.get("entries"), None);
        assert_eq!(sums["insert"], 21);
        assert_eq!(sums["insert_failed"], 3);
        assert_eq!(sums["drop"], 256);
        assert_eq!(sums["early_drop"], 3);
        assert_eq!(sums["clashres"], 1);
        let error = parse_conntrack_stat("a b\n1\n", Path::new("stat")).unwrap_err();
        assert!(error.to_string().starts_with("stat:2:"), "{error}");
        assert!(parse_conntrack_stat("a\nzz\n", Path::new("stat")).is_err());
    }
}
