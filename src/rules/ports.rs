//! `port-exhaustion`: sockets toward one destination use a large share of
//! the usable local port range.
//!
//! From one source address, connections to one destination address and port
//! can use each local port once, whatever their state: a pool of ESTABLISHED
//! connections holds its ports as surely as TIME_WAIT does, and a port stays
//! taken for the 60 s of TIME_WAIT after we close. Where the census counted
//! ports per path (commands that show destinations), every state counts;
//! otherwise the TIME_WAIT sockets per destination do. So the usable range (ip_local_port_range minus
//! ip_local_reserved_ports) divided by 60 s is the sustainable rate of new
//! connections per destination without tcp_tw_reuse.

use crate::census::{StateCounts, TcpState};
use crate::facts::{Facts, TIME_WAIT_SECONDS};
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_tw_reuse",
        "net.ipv4.tcp_timestamps",
    ],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let Some(usable) = facts.usable_ports() else {
        return Vec::new();
    };
    if usable == 0 {
        return Vec::new();
    }
    let threshold = profile.thresholds.port_exhaustion_percent;
    let reuse = facts.integer("net.ipv4.tcp_tw_reuse");
    let timestamps = facts.integer("net.ipv4.tcp_timestamps");
    // With a sample, a destination is judged by what its measured rate
    // leads to (rate x 60 s), not only by today's count.
    let projected =
        |destination: &std::net::SocketAddr, candidate: &Candidate| -> (u64, Option<f64>) {
            let rate = facts.sample.as_ref().and_then(|sample| {
                sample
                    .destinations
                    .iter()
                    .find(|row| row.destination == destination.to_string())
                    .map(|row| row.connections_per_second)
            });
            // `as` saturates for floats: an absurd rate cannot overflow.
            let steady = rate.map_or(0, |rate| (rate * TIME_WAIT_SECONDS as f64).round() as u64);
            // The open connections keep their ports beside the TIME_WAIT the
            // rate leads to.
            let others = candidate.total - candidate.time_wait;
            (candidate.total.max(steady + others), rate)
        };
    candidates(facts)
        .into_iter()
        .filter(|candidate| u128::from(projected(&candidate.destination, candidate).0) * 100 >= u128::from(threshold) * u128::from(usable))
        .map(|candidate| {
            let destination = candidate.destination;
            let count = candidate.total;
            let (expected, rate) = projected(&destination, &candidate);
            let percent = (u128::from(expected) * 100 / u128::from(usable)) as u64;
            let reuse_advice = match (reuse, timestamps) {
                (Some(1), Some(0)) => "tcp_tw_reuse is 1 but tcp_timestamps is 0, so reuse never happens: turn timestamps on",
                (Some(1), _) => "tcp_tw_reuse is already 1",
                (_, Some(0)) => "tcp_tw_reuse=1 would let new connections take over TIME_WAIT ports, but only with tcp_timestamps on",
                _ => "set tcp_tw_reuse=1 so new outgoing connections may take over TIME_WAIT ports (needs tcp_timestamps; it never affects accepted connections)",
            };
            let from = candidate
                .source
                .map(|source| format!(" from {source}"))
                .unwrap_or_default();
            let filled = filled_by(&candidate.states);
            let only_time_wait = candidate.time_wait == count;
            let message = match rate {
                Some(rate) if expected > count => format!(
                    "{rate:.1} connections/s toward {destination} end in TIME_WAIT here: at that rate they hold {expected} ports, {percent}% of the {usable} usable local ports ({count} now{})",
                    if only_time_wait { String::new() } else { format!(": {filled}") }
                ),
                _ if only_time_wait => format!("{count} TIME_WAIT sockets{from} toward {destination} use {percent}% of the {usable} usable local ports"),
                _ => format!("{count} sockets{from} toward {destination} ({filled}) use {percent}% of the {usable} usable local ports"),
            };
            let severity = if u128::from(expected) * 10 >= u128::from(usable) * 9 { Severity::Error } else { Severity::Warning };
            let pool_advice = if candidate.time_wait * 2 < count {
                format!("most of these ports are held by open connections: cap the connection pool toward {destination} below the usable range, or spread it over more source addresses or destination ports; ")
            } else {
                String::new()
            };
            let mut finding = Finding::new(Code::PortExhaustion, severity, message)
            .rationale(format!(
                "From one source address, each connection to {destination} needs a local port of its own for as long as it exists in any state, and a connection this host closes first keeps its port for {TIME_WAIT_SECONDS} s of TIME_WAIT. At most {usable} connections to one destination can exist at once from one address, which sustains about {} new connections per second; past that connect() fails with EADDRNOTAVAIL.",
                usable / TIME_WAIT_SECONDS
            ))
            .evidence("destination", destination.to_string())
            .evidence("sockets", count)
            .evidence("time_wait", candidate.time_wait)
            .evidence("states", nonzero(&candidate.states))
            .evidence("usable_ports", usable)
            .evidence("usage_percent", percent)
            .evidence("sustainable_connections_per_second", usable / TIME_WAIT_SECONDS)
            .fix(format!(
                "{pool_advice}first reuse connections to {destination} (keep-alive, a connection pool); then {reuse_advice}; then widen net.ipv4.ip_local_port_range or add source addresses"
            ));
            if let Some(source) = candidate.source {
                finding = finding.evidence("source", source.to_string());
            }
            if let Some(rate) = rate {
                finding = finding.evidence("connections_per_second", rate);
            }
            finding
        })
        .collect()
}

/// Sockets holding local ports toward one destination.
struct Candidate {
    /// The source address, when ports were counted per path.
    source: Option<std::net::IpAddr>,
    destination: std::net::SocketAddr,
    total: u64,
    time_wait: u64,
    states: StateCounts,
}

/// Per path in every state when the census counted them; otherwise the
/// TIME_WAIT sockets per destination.
fn candidates(facts: &Facts) -> Vec<Candidate> {
    if facts.census.track_ports.is_some() {
        return facts
            .census
            .busiest_paths()
            .into_iter()
            .map(|(path, states)| Candidate {
                source: Some(path.source),
                destination: path.destination,
                total: states.total(),
                time_wait: states.get(TcpState::TimeWait),
                states,
            })
            .collect();
    }
    facts
        .census
        .time_wait_destinations()
        .into_iter()
        .map(|(destination, count)| {
            let mut states = StateCounts::default();
            states.set(TcpState::TimeWait, count);
            Candidate {
                source: None,
                destination,
                total: count,
                time_wait: count,
                states,
            }
        })
        .collect()
}

/// The states that hold ports on a path, by JSON name, zeros left out.
fn nonzero(states: &StateCounts) -> serde_json::Value {
    TcpState::ALL
        .iter()
        .filter(|state| states.get(**state) > 0)
        .map(|state| {
            (
                state.name().to_owned(),
                serde_json::json!(states.get(*state)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// "950 ESTABLISHED, 40 TIME_WAIT": the states that fill a path, largest first.
fn filled_by(states: &StateCounts) -> String {
    let mut present: Vec<(TcpState, u64)> = TcpState::ALL
        .iter()
        .map(|state| (*state, states.get(*state)))
        .filter(|(_, count)| *count > 0)
        .collect();
    present.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    present
        .iter()
        .map(|(state, count)| format!("{count} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn usable_range_excludes_reserved_ports() {
        let facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.ip_local_port_range", "32768\t60999"),
                ("net.ipv4.ip_local_reserved_ports", "8080,32768-32867,70000"),
            ],
        );
        assert_eq!(facts.usable_ports(), Some(28232 - 100));
    }

    #[test]
    fn a_measured_rate_predicts_exhaustion_before_it_happens() {
        let mut facts = facts("6.18.0", &[("net.ipv4.ip_local_port_range", "40000 40999")]);
        let destination: std::net::SocketAddr = "10.0.0.7:5432".parse().unwrap();
        facts
            .census
            .time_wait_by_destination
            .insert(destination, 100);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
        facts.sample = Some(crate::facts::Sample {
            seconds: 5.0,
            active_opens_per_second: 12.0,
            passive_opens_per_second: 0.0,
            time_wait_entries_per_second: 12.0,
            steady_state_time_wait: 720.0,
            tcp_max_tw_buckets: None,
            destinations: vec![crate::facts::DestinationRate {
                destination: destination.to_string(),
                time_wait: 100,
                connections_per_second: 12.0,
                sustainable_per_second: Some(16.7),
                usage: Some(0.719),
            }],
        });
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "12.0 connections/s toward 10.0.0.7:5432 end in TIME_WAIT here: at that rate they hold 720 ports, 72% of the 1000 usable local ports (100 now)"
        );
    }

    #[test]
    fn a_busy_destination_is_named_with_the_arithmetic() {
        let mut facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.ip_local_port_range", "40000 40999"),
                ("net.ipv4.tcp_tw_reuse", "2"),
            ],
        );
        facts
            .census
            .time_wait_by_destination
            .insert("10.0.0.7:5432".parse().unwrap(), 600);
        facts
            .census
            .time_wait_by_destination
            .insert("10.0.0.8:5432".parse().unwrap(), 10);
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "600 TIME_WAIT sockets toward 10.0.0.7:5432 use 60% of the 1000 usable local ports"
        );
        assert_eq!(
            findings[0].evidence["sustainable_connections_per_second"],
            16
        );
        assert!(findings[0].fix.starts_with("first reuse connections"));
    }

    #[test]
    fn a_pool_of_established_connections_exhausts_ports_too() {
        let mut facts = facts("6.18.0", &[("net.ipv4.ip_local_port_range", "40000 40999")]);
        facts.census.track_ports = Some((40000, 40999));
        let mut counts = StateCounts::default();
        counts.set(TcpState::Established, 950);
        counts.set(TcpState::TimeWait, 40);
        facts.census.ports_by_path.insert(
            crate::census::Path {
                source: "10.0.0.2".parse().unwrap(),
                destination: "10.0.0.7:5432".parse().unwrap(),
            },
            counts,
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(
            findings[0].message,
            "990 sockets from 10.0.0.2 toward 10.0.0.7:5432 (950 ESTABLISHED, 40 TIME_WAIT) use 99% of the 1000 usable local ports"
        );
        assert_eq!(findings[0].evidence["states"]["established"], 950);
        assert!(
            findings[0]
                .fix
                .starts_with("most of these ports are held by open connections")
        );
    }
}
