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
    let overflows = facts.counters.tcp_ext("ListenOverflows").unwrap_or(0);
    let drops = facts.counters.tcp_ext("ListenDrops").unwrap_or(0);
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
    let mut finding = Finding::new(
        Code::ListenOverflow,
        Severity::Warning,
        format!("listeners dropped connections: ListenOverflows {overflows}, ListenDrops {drops} since the namespace started"),
    )
    .rationale("ListenOverflows counts connections dropped because a listener's accept queue was full: the application does not call accept() fast enough, or its backlog is too small. ListenDrops includes those and other drops of incoming connections. Clients see slow or failed connects. The counters only grow, so compare two readings to see whether it is still happening.")
    .evidence("ListenOverflows", overflows)
    .evidence("ListenDrops", drops)
    .fix("make the application accept faster (more workers, less work in the accept loop) and give it a larger listen() backlog; net.core.somaxconn caps that backlog and only applies at the next listen(), so restart the server after raising it");
    if let Some(somaxconn) = somaxconn {
        finding = finding.evidence("somaxconn", somaxconn);
    }
    if !queued.is_empty()
        && let Ok(listeners) = serde_json::to_value(&queued)
    {
        finding = finding.evidence("listeners_with_queued_connections", listeners);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::Listener;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn overflows_are_reported_with_the_queued_listeners() {
        let mut facts = facts("6.18.0", &[("net.core.somaxconn", "128")]);
        facts.counters.tcp_ext.insert("ListenOverflows".into(), 17);
        facts.counters.tcp_ext.insert("ListenDrops".into(), 17);
        facts.census.listeners.push(Listener {
            local: "0.0.0.0:80".parse().unwrap(),
            accept_queue: 129,
        });
        facts.census.listeners.push(Listener {
            local: "0.0.0.0:22".parse().unwrap(),
            accept_queue: 0,
        });
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].evidence["listeners_with_queued_connections"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(findings[0].evidence["somaxconn"], 128);
    }

    #[test]
    fn zero_counters_are_quiet() {
        let mut facts = facts("6.18.0", &[]);
        facts.counters.tcp_ext.insert("ListenOverflows".into(), 0);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }
}
