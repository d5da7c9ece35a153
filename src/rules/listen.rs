//! `listen-overflow`: listeners dropped connections because their accept
//! queue (ListenOverflows) or SYN handling (ListenDrops) could not keep up.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Listeners with the fullest accept queues named in the evidence.
const LISTENERS_IN_EVIDENCE: usize = 5;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let window = &facts.counter_window;
    let overflows = window.tcp_ext("ListenOverflows").unwrap_or(0);
    let drops = window.tcp_ext("ListenDrops").unwrap_or(0);
    let threshold = i64::try_from(profile.thresholds.listen_overflow).unwrap_or(i64::MAX);
    if overflows <= threshold && drops <= threshold {
        return Vec::new();
    }
    let mut queued: Vec<_> = facts
        .census
        .listeners
        .iter()
        .filter(|listener| listener.accept_queue > 0)
        .collect();
    queued.sort_by_key(|listener| std::cmp::Reverse(listener.accept_queue));
    queued.truncate(LISTENERS_IN_EVIDENCE);
    let somaxconn = facts.integer("net.core.somaxconn");
    let during = window.describe();
    // The kernel does not count overflows per listener; a listener whose
    // queue is full right now is the one dropping.
    let full: Vec<_> = facts
        .census
        .listeners
        .iter()
        .filter(|listener| listener.is_full())
        .collect();
    let culprits = if full.is_empty() {
        String::new()
    } else {
        format!(
            "; accept queue full now: {}",
            full.iter()
                .take(LISTENERS_IN_EVIDENCE)
                .map(|listener| format!(
                    "{} ({} of {})",
                    listener.name(),
                    listener.accept_queue,
                    listener.backlog.unwrap_or(0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut finding = if window.is_measured() {
        Finding::new(
            Code::ListenOverflow,
            Severity::Warning,
            format!("listeners dropped connections {during}: ListenOverflows +{overflows}, ListenDrops +{drops}{culprits}"),
        )
        .rationale("ListenOverflows counts connections dropped because a listener's accept queue was full: the application does not call accept() fast enough, or its backlog is too small. ListenDrops includes those and other drops of incoming connections. Clients see slow or failed connects. These are changes over the window in the evidence, so it is happening now.")
    } else {
        // A lifetime total says it happened once since the namespace
        // started, not that it still happens: worth knowing, not an alarm.
        Finding::new(
            Code::ListenOverflow,
            Severity::Info,
            format!("listeners dropped connections {during}: ListenOverflows {overflows}, ListenDrops {drops}; whether it still happens is not known{culprits}"),
        )
        .rationale("ListenOverflows counts connections dropped because a listener's accept queue was full; ListenDrops includes those and other drops. These totals only grow from the namespace's start, so a single burst long ago keeps them above zero: with no recent reading to compare, tcptune does not warn on them. Run check again (it keeps each reading in its state directory) or use --sample SECONDS to measure the rate.")
    }
    .evidence("counter_window", window.evidence())
    .evidence("ListenOverflows", overflows)
    .evidence("ListenDrops", drops)
    .evidence("ListenOverflows_total", facts.counters.tcp_ext("ListenOverflows").unwrap_or(0))
    .evidence("ListenDrops_total", facts.counters.tcp_ext("ListenDrops").unwrap_or(0))
    .fix("make the application accept faster (more workers, less work in the accept loop) and give it a larger listen() backlog; net.core.somaxconn caps that backlog and only applies at the next listen(), so restart the server after raising it");
    if let Some(per_second) = window.per_second(overflows) {
        finding = finding.evidence("ListenOverflows_per_second", per_second);
    }
    if let Some(per_second) = window.per_second(drops) {
        finding = finding.evidence("ListenDrops_per_second", per_second);
    }
    if let Some(somaxconn) = somaxconn {
        finding = finding.evidence("somaxconn", somaxconn);
    }
    if !queued.is_empty()
        && let Ok(listeners) = serde_json::to_value(&queued)
    {
        finding = finding.evidence("listeners_with_queued_connections", listeners);
    }
    if let (Some(first), Ok(listeners)) = (full.first(), serde_json::to_value(&full)) {
        finding = finding
            .evidence("listener", first.name())
            .evidence("listeners_full", listeners);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::Listener;
    use crate::rules::testing::{builtin, facts};

    fn measured(facts: &mut Facts, overflows: i64, drops: i64) {
        facts
            .counters
            .tcp_ext
            .insert("ListenOverflows".into(), overflows + 100);
        facts
            .counters
            .tcp_ext
            .insert("ListenDrops".into(), drops + 100);
        let mut before = facts.counters.clone();
        before.tcp_ext.insert("ListenOverflows".into(), 100);
        before.tcp_ext.insert("ListenDrops".into(), 100);
        facts.counter_window = crate::rates::window_since(
            Some(&crate::facts::PreviousCounters {
                counters: before,
                taken_at: 0.0,
                age_seconds: 20.0,
                path: "/state/counters.json".into(),
            }),
            &facts.counters,
        );
    }

    #[test]
    fn overflows_are_reported_with_the_queued_listeners() {
        let mut facts = facts("6.18.0", &[("net.core.somaxconn", "128")]);
        measured(&mut facts, 17, 17);
        facts.census.listeners.push(Listener {
            local: "0.0.0.0:80".parse().unwrap(),
            accept_queue: 129,
            backlog: Some(128),
            syn_recv: 0,
            owner: Some(crate::census::SocketOwner {
                pid: 42,
                comm: "nginx".into(),
            }),
            inode: 7,
        });
        facts.census.listeners.push(Listener {
            local: "0.0.0.0:22".parse().unwrap(),
            accept_queue: 0,
            backlog: Some(128),
            syn_recv: 0,
            owner: None,
            inode: 8,
        });
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].evidence["ListenOverflows"], 17);
        assert_eq!(findings[0].evidence["ListenOverflows_per_second"], 0.85);
        assert_eq!(
            findings[0].evidence["counter_window"]["basis"],
            "previous_run"
        );
        assert_eq!(
            findings[0].evidence["listeners_with_queued_connections"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(findings[0].evidence["somaxconn"], 128);
        assert_eq!(
            findings[0].evidence["listener"],
            "0.0.0.0:80 (nginx, pid 42)"
        );
        assert!(
            findings[0]
                .message
                .contains("accept queue full now: 0.0.0.0:80 (nginx, pid 42) (129 of 128)"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn zero_counters_are_quiet() {
        let mut facts = facts("6.18.0", &[]);
        facts.counters.tcp_ext.insert("ListenOverflows".into(), 0);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
        // No new overflow since the last run: quiet, whatever the total.
        measured(&mut facts, 0, 0);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }

    #[test]
    fn a_lifetime_total_alone_is_information_not_a_warning() {
        let mut facts = facts("6.18.0", &[]);
        facts
            .counters
            .tcp_ext
            .insert("ListenOverflows".into(), 5000);
        facts.counter_window = crate::rates::window_since(None, &facts.counters);
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(
            findings[0].message.contains("lifetime"),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[0].evidence["counter_window"]["basis"], "lifetime");
    }
}
