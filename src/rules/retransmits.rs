//! `retransmits`: the share of segments this namespace sent again
//! (`RetransSegs` / `OutSegs`) over the counter window, with the kinds of
//! retransmission the kernel counts (`TCPSynRetrans`: SYNs and SYN-ACKs,
//! `TCPLostRetransmit`: a retransmission lost again, `TCPTimeouts`:
//! retransmission timer expiries, the slow recovery).
//!
//! The peers are named from the open connections' own `tcp_info`
//! (`tcpi_total_retrans`, through the INET_DIAG_INFO extension, which
//! `check` asks for): segments retransmitted over each connection's life,
//! summed per remote address and port.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Fewer segments than this in the window say nothing about a share.
const MIN_SEGMENTS: i64 = 1000;
/// Retransmitted share (per mille) reported, and warned about.
const INFO_PER_MILLE: i64 = 10;
const WARN_PER_MILLE: i64 = 50;

/// Peers named in the evidence.
const PEERS_IN_EVIDENCE: usize = 5;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let window = &facts.counter_window;
    let out = window.tcp("OutSegs").unwrap_or(0).max(0);
    let retransmitted = window.tcp("RetransSegs").unwrap_or(0).max(0);
    if out < MIN_SEGMENTS {
        return Vec::new();
    }
    let per_mille = retransmitted.saturating_mul(1000) / out;
    if per_mille < INFO_PER_MILLE {
        return Vec::new();
    }
    let severity = if window.is_measured() && per_mille >= WARN_PER_MILLE {
        Severity::Warning
    } else {
        Severity::Info
    };
    let change = |name: &str| window.tcp_ext(name).unwrap_or(0).max(0);
    let (syn, lost_again, timeouts) = (
        change("TCPSynRetrans"),
        change("TCPLostRetransmit"),
        change("TCPTimeouts"),
    );
    let during = window.describe();
    let percent = per_mille as f64 / 10.0;
    let mut peers: Vec<_> = facts.census.retransmits_by_peer.iter().collect();
    peers.sort_by(|a, b| b.1.segments.cmp(&a.1.segments).then(a.0.cmp(b.0)));
    peers.truncate(PEERS_IN_EVIDENCE);
    let toward = peers
        .first()
        .map(|(peer, counts)| {
            format!(
                "; most toward {peer} ({} segments over {} open connections)",
                counts.segments, counts.connections
            )
        })
        .unwrap_or_default();
    let mut finding = Finding::new(
        Code::Retransmits,
        severity,
        format!(
            "{percent:.1}% of the segments sent {during} were retransmissions ({retransmitted} of {out}); {timeouts} retransmission timeouts, {syn} SYN retransmissions{toward}"
        ),
    )
    .rationale("TCP retransmits what the path lost (or what arrived so late that the sender gave up on it). A few tenths of a percent are normal on the internet; percents mean loss on the path: a congested or faulty link, a full queue in a router or a NIC ring, a policer, a firewall or conntrack table dropping packets. Timeouts (TCPTimeouts) are the slow case: the sender waited a whole retransmission timeout (200 ms or more). SYN retransmissions (TCPSynRetrans) add a second or more to a connect.")
    .evidence("counter_window", window.evidence())
    .evidence("OutSegs", out)
    .evidence("RetransSegs", retransmitted)
    .evidence("retransmitted_percent", percent)
    .evidence("TCPSynRetrans", syn)
    .evidence("TCPLostRetransmit", lost_again)
    .evidence("TCPTimeouts", timeouts)
    .fix("find where the loss is (`ss -ti` shows retrans per connection; interface drops in `ip -s link`, NIC ring overruns in `ethtool -S`, `nstat` for the kernel's own drops, conntrack drops); no sysctl removes loss on the path. What tuning can do: keep SACK and timestamps on (net.ipv4.tcp_sack, tcp_timestamps), use a congestion control that tolerates random loss (bbr) where the loss is not congestion, and enable net.ipv4.tcp_mtu_probing=1 when large segments vanish (a path MTU black hole)");
    if let Some(per_second) = window.per_second(retransmitted) {
        finding = finding.evidence("RetransSegs_per_second", per_second);
    }
    if let Some((peer, _)) = peers.first() {
        finding = finding.evidence("peer", peer.to_string());
    }
    if !peers.is_empty() {
        let rows: Vec<serde_json::Value> = peers
            .iter()
            .map(|(peer, counts)| {
                serde_json::json!({
                    "peer": peer.to_string(),
                    "connections": counts.connections,
                    "segments": counts.segments,
                })
            })
            .collect();
        finding = finding.evidence("peers_of_open_connections", rows);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Counters, PreviousCounters};
    use crate::rules::testing::{builtin, facts};

    fn window(out: i64, retransmitted: i64, measured: bool) -> Facts {
        let mut facts = facts("6.18.0", &[]);
        facts.counters.tcp.insert("OutSegs".into(), 100_000 + out);
        facts
            .counters
            .tcp
            .insert("RetransSegs".into(), 100 + retransmitted);
        let mut before = Counters::default();
        before.tcp.insert("OutSegs".into(), 100_000);
        before.tcp.insert("RetransSegs".into(), 100);
        facts.counter_window = if measured {
            crate::rates::window_since(
                Some(&PreviousCounters {
                    counters: before,
                    taken_at: 0.0,
                    age_seconds: 10.0,
                    path: "/state/counters.json".into(),
                }),
                &facts.counters,
            )
        } else {
            let mut lifetime = facts.counters.clone();
            lifetime.tcp.insert("OutSegs".into(), out);
            lifetime.tcp.insert("RetransSegs".into(), retransmitted);
            crate::rates::window_since(None, &lifetime)
        };
        facts
    }

    #[test]
    fn the_retransmitted_share_is_judged_over_enough_segments() {
        assert!(evaluate(&window(500, 100, true), &builtin("default")).is_empty());
        assert!(evaluate(&window(100_000, 500, true), &builtin("default")).is_empty());
        let some = evaluate(&window(100_000, 2_000, true), &builtin("default"));
        assert_eq!(some[0].severity, Severity::Info);
        let many = evaluate(&window(100_000, 8_000, true), &builtin("default"));
        assert_eq!(many[0].severity, Severity::Warning);
        assert_eq!(many[0].evidence["retransmitted_percent"], 8.0);
        let lifetime = evaluate(&window(100_000, 8_000, false), &builtin("default"));
        assert_eq!(lifetime[0].severity, Severity::Info);
        let mut named = window(100_000, 8_000, true);
        named.census.retransmits_by_peer.insert(
            "10.0.0.9:443".parse().unwrap(),
            crate::census::PeerRetransmits {
                connections: 3,
                segments: 900,
            },
        );
        let findings = evaluate(&named, &builtin("default"));
        assert_eq!(findings[0].evidence["peer"], "10.0.0.9:443");
        assert!(
            findings[0]
                .message
                .ends_with("most toward 10.0.0.9:443 (900 segments over 3 open connections)")
        );
    }
}
