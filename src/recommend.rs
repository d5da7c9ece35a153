//! `recommend`: which built-in profile the traffic on this host looks like,
//! with the evidence and the reason. Pure: it is given the socket table's
//! rows and judges their shape; it never applies anything.
//!
//! A connection is inbound when its local port is one this namespace listens
//! on, outgoing otherwise. The shapes, tried in this order (a load balancer
//! also accepts clients, and a web server also keeps upstream pools):
//! - `loadbalancer`: many outgoing connections closed by this side (TIME_WAIT
//!   toward the destination) concentrated on few destinations: the port
//!   range and TIME_WAIT reuse are what limit it;
//! - `webserver`: many inbound connections from several client addresses;
//! - `database`: many established outgoing connections to few servers and
//!   little TIME_WAIT toward them: long-lived pooled client connections;
//! - otherwise `default`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::census::{Row, TcpState};

/// Fewest outgoing TIME_WAIT sockets that count as churn.
pub const MIN_OUTGOING_TIME_WAIT: u64 = 32;
/// Fewest inbound connections (established or TIME_WAIT) that count as many.
pub const MIN_INBOUND: u64 = 32;
/// Fewest distinct client addresses that count as several clients.
pub const MIN_CLIENTS: usize = 4;
/// Fewest established outgoing connections that count as a pool.
pub const MIN_OUTGOING_ESTABLISHED: u64 = 16;
/// At most this many destinations are "few".
pub const FEW_DESTINATIONS: usize = 8;
/// The few destinations must carry at least this share of the traffic.
pub const CONCENTRATION: f64 = 0.8;
/// Destinations listed in the evidence.
const LISTED_DESTINATIONS: usize = 10;

/// One outgoing destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub destination: String,
    pub established: u64,
    pub time_wait: u64,
}

/// What the socket table shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    pub listening_ports: Vec<u16>,
    pub inbound_established: u64,
    pub inbound_time_wait: u64,
    /// Distinct remote addresses of inbound connections.
    pub inbound_clients: usize,
    pub outgoing_established: u64,
    pub outgoing_time_wait: u64,
    /// Distinct outgoing destinations (address and port).
    pub outgoing_destinations: usize,
    /// The busiest destinations, most connections first.
    pub top_destinations: Vec<Destination>,
    /// Share of outgoing TIME_WAIT sockets toward the few busiest
    /// destinations (at most [`FEW_DESTINATIONS`]).
    pub time_wait_concentration: f64,
    /// Share of established outgoing connections toward the few busiest.
    pub established_concentration: f64,
}

/// One shape tried, and whether the evidence fits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Considered {
    pub profile: &'static str,
    pub matched: bool,
    pub why: String,
}

/// The suggestion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub profile: &'static str,
    pub reason: String,
    pub evidence: Evidence,
    pub considered: Vec<Considered>,
}

/// Collects rows, then judges them. Keeps the established and TIME_WAIT
/// rows' local port and remote address (a few bytes each): whether a row
/// is inbound is known only once every listener was seen.
#[derive(Debug, Default)]
pub struct Collector {
    listening: BTreeSet<u16>,
    rows: Vec<(u16, SocketAddr, TcpState)>,
}

impl Collector {
    pub fn record(&mut self, row: &Row) {
        match row.state {
            TcpState::Listen => {
                self.listening.insert(row.local.port());
            }
            TcpState::Established | TcpState::TimeWait => {
                self.rows.push((row.local.port(), row.remote, row.state));
            }
            _ => {}
        }
    }

    pub fn evidence(&self) -> Evidence {
        let mut evidence = Evidence {
            listening_ports: self.listening.iter().copied().collect(),
            ..Evidence::default()
        };
        let mut clients: HashSet<IpAddr> = HashSet::new();
        let mut destinations: BTreeMap<SocketAddr, (u64, u64)> = BTreeMap::new();
        for (local_port, remote, state) in &self.rows {
            let established = *state == TcpState::Established;
            if self.listening.contains(local_port) {
                clients.insert(remote.ip());
                if established {
                    evidence.inbound_established += 1;
                } else {
                    evidence.inbound_time_wait += 1;
                }
            } else {
                let entry = destinations.entry(*remote).or_insert((0, 0));
                if established {
                    evidence.outgoing_established += 1;
                    entry.0 += 1;
                } else {
                    evidence.outgoing_time_wait += 1;
                    entry.1 += 1;
                }
            }
        }
        evidence.inbound_clients = clients.len();
        evidence.outgoing_destinations = destinations.len();
        let share = |pick: fn(&(u64, u64)) -> u64, total: u64| {
            let mut counts: Vec<u64> = destinations.values().map(pick).collect();
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let few: u64 = counts.iter().take(FEW_DESTINATIONS).sum();
            if total == 0 {
                0.0
            } else {
                few as f64 / total as f64
            }
        };
        evidence.time_wait_concentration = share(|counts| counts.1, evidence.outgoing_time_wait);
        evidence.established_concentration =
            share(|counts| counts.0, evidence.outgoing_established);
        let mut listed: Vec<(SocketAddr, (u64, u64))> = destinations.into_iter().collect();
        listed.sort_by(|a, b| (b.1.0 + b.1.1).cmp(&(a.1.0 + a.1.1)).then(a.0.cmp(&b.0)));
        evidence.top_destinations = listed
            .into_iter()
            .take(LISTED_DESTINATIONS)
            .map(|(address, (established, time_wait))| Destination {
                destination: address.to_string(),
                established,
                time_wait,
            })
            .collect();
        evidence
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// Judges the evidence.
pub fn recommend(evidence: Evidence) -> Recommendation {
    let e = &evidence;
    let few = FEW_DESTINATIONS;
    let loadbalancer = Considered {
        profile: "loadbalancer",
        matched: e.outgoing_time_wait >= MIN_OUTGOING_TIME_WAIT
            && e.time_wait_concentration >= CONCENTRATION,
        why: format!(
            "{} outgoing connections in TIME_WAIT (needs {MIN_OUTGOING_TIME_WAIT}), {} of them toward the {few} busiest of {} destinations (needs {})",
            e.outgoing_time_wait,
            percent(e.time_wait_concentration),
            e.outgoing_destinations,
            percent(CONCENTRATION)
        ),
    };
    let webserver = Considered {
        profile: "webserver",
        matched: e.inbound_established + e.inbound_time_wait >= MIN_INBOUND
            && e.inbound_clients >= MIN_CLIENTS,
        why: format!(
            "{} inbound connections (needs {MIN_INBOUND}) from {} client addresses (needs {MIN_CLIENTS}) on listening ports {:?}",
            e.inbound_established + e.inbound_time_wait,
            e.inbound_clients,
            e.listening_ports
        ),
    };
    let database = Considered {
        profile: "database",
        matched: e.outgoing_established >= MIN_OUTGOING_ESTABLISHED
            && e.established_concentration >= CONCENTRATION
            && e.outgoing_time_wait < e.outgoing_established,
        why: format!(
            "{} established outgoing connections (needs {MIN_OUTGOING_ESTABLISHED}), {} of them to the {few} busiest of {} destinations (needs {}), {} in TIME_WAIT (must be fewer than the established: kept open, not churned)",
            e.outgoing_established,
            percent(e.established_concentration),
            e.outgoing_destinations,
            percent(CONCENTRATION),
            e.outgoing_time_wait
        ),
    };
    let considered = vec![loadbalancer, webserver, database];
    let (profile, reason) = match considered.iter().find(|shape| shape.matched) {
        Some(shape) => (shape.profile, shape.why.clone()),
        None => (
            "default",
            "no traffic shape stands out: neither outgoing churn to few destinations, many inbound clients, nor a pool of long-lived connections to few servers".to_owned(),
        ),
    };
    Recommendation {
        profile,
        reason,
        evidence,
        considered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(local: &str, remote: &str, state: TcpState) -> Row {
        Row {
            local: local.parse().expect("address"),
            remote: remote.parse().expect("address"),
            state,
            rx_queue: 0,
            listen_backlog: None,
            info: None,
            inode: 0,
        }
    }

    fn judge(rows: &[Row]) -> Recommendation {
        let mut collector = Collector::default();
        for row in rows {
            collector.record(row);
        }
        recommend(collector.evidence())
    }

    #[test]
    fn an_idle_host_gets_the_default() {
        assert_eq!(judge(&[]).profile, "default");
    }

    #[test]
    fn churn_toward_two_backends_is_a_load_balancer() {
        let mut rows = vec![row("0.0.0.0:80", "0.0.0.0:0", TcpState::Listen)];
        for port in 0..40u16 {
            let backend = if port % 2 == 0 {
                "10.0.0.1:8080"
            } else {
                "10.0.0.2:8080"
            };
            rows.push(row(
                &format!("10.0.0.9:{}", 40000 + port),
                backend,
                TcpState::TimeWait,
            ));
        }
        let verdict = judge(&rows);
        assert_eq!(verdict.profile, "loadbalancer", "{verdict:?}");
        assert_eq!(verdict.evidence.outgoing_time_wait, 40);
        assert_eq!(verdict.evidence.outgoing_destinations, 2);
    }

    #[test]
    fn many_clients_on_a_listening_port_is_a_web_server() {
        let mut rows = vec![row("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen)];
        for client in 0..40u16 {
            rows.push(row(
                "10.0.0.9:443",
                &format!("192.0.2.{}:{}", client % 10, 50000 + client),
                TcpState::Established,
            ));
        }
        let verdict = judge(&rows);
        assert_eq!(verdict.profile, "webserver", "{verdict:?}");
        assert_eq!(verdict.evidence.inbound_clients, 10);
    }

    #[test]
    fn a_pool_of_long_lived_connections_is_a_database_client() {
        let mut rows = Vec::new();
        for port in 0..20u16 {
            rows.push(row(
                &format!("10.0.0.9:{}", 40000 + port),
                "10.0.0.5:5432",
                TcpState::Established,
            ));
        }
        let verdict = judge(&rows);
        assert_eq!(verdict.profile, "database", "{verdict:?}");
        // The same pool, churned instead of kept, is not a pool.
        let churned: Vec<Row> = rows
            .iter()
            .map(|r| Row {
                state: TcpState::TimeWait,
                ..*r
            })
            .chain(rows.iter().copied())
            .collect();
        assert_ne!(judge(&churned).profile, "database");
    }

    #[test]
    fn one_client_address_is_not_many_clients() {
        let mut rows = vec![row("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen)];
        for client in 0..40u16 {
            rows.push(row(
                "10.0.0.9:443",
                &format!("192.0.2.1:{}", 50000 + client),
                TcpState::Established,
            ));
        }
        assert_eq!(judge(&rows).profile, "default");
    }
}
