//! `conntrack-table-full`: where connection tracking is loaded, this
//! namespace's tracked connections (`nf_conntrack_count`) against
//! `nf_conntrack_max`, and the per-CPU counters of
//! `/proc/net/stat/nf_conntrack` that say the table refused entries:
//! `drop` (a new connection's packet dropped, "nf_conntrack: table full,
//! dropping packet"), `early_drop` (an unreplied entry evicted to make
//! room) and `insert_failed` (an entry lost a race on insert: usually
//! parallel UDP, such as DNS queries through NAT).
//!
//! Scope, verified on 6.18 (tests/integration/netns_evidence.rs) and in
//! nf_conntrack_standalone_init_sysctl: the count and the statistics are
//! each namespace's own; `nf_conntrack_max` and `nf_conntrack_buckets` are
//! the machine's, read-only in a child namespace. Older kernels: unpinned.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Share of nf_conntrack_max that is a warning, and an error.
const WARN_PERCENT: u64 = 80;
const ERROR_PERCENT: u64 = 95;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.netfilter.nf_conntrack_count",
        "net.netfilter.nf_conntrack_max",
        "net.netfilter.nf_conntrack_buckets",
    ],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let (Some(count), Some(max)) = (
        facts
            .integer("net.netfilter.nf_conntrack_count")
            .and_then(|count| u64::try_from(count).ok()),
        facts
            .integer("net.netfilter.nf_conntrack_max")
            .and_then(|max| u64::try_from(max).ok()),
    ) else {
        return Vec::new();
    };
    let window = &facts.counter_window;
    let change = |name: &str| window.conntrack(name).unwrap_or(0).max(0);
    let (drops, early_drops, insert_failed) = (
        change("drop"),
        change("early_drop"),
        change("insert_failed"),
    );
    let percent = if max == 0 {
        0
    } else {
        (u128::from(count) * 100 / u128::from(max)) as u64
    };
    let full = max > 0 && percent >= WARN_PERCENT;
    let refused = drops > 0 || early_drops > 0 || insert_failed > 0;
    if !full && !refused {
        return Vec::new();
    }
    let during = window.describe();
    let severity = if max > 0 && percent >= ERROR_PERCENT {
        Severity::Error
    } else if full || (refused && window.is_measured()) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let child = facts.in_child_namespace();
    let mut finding = Finding::new(
        Code::ConntrackTableFull,
        severity,
        format!(
            "connection tracking holds {count} entries, {percent}% of nf_conntrack_max ({max}); {during}: drop +{drops}, early_drop +{early_drops}, insert_failed +{insert_failed}"
        ),
    )
    .key("net.netfilter.nf_conntrack_max")
    .current(max)
    .rationale("Every connection that crosses a stateful rule (NAT, `ct state`, Kubernetes Services) takes an entry. When the table is full the kernel first evicts an entry that never saw a reply (early_drop), then drops the new connection's packets (drop) and logs \"nf_conntrack: table full, dropping packet\": clients see connects time out. insert_failed counts entries that lost a race on insert, typically parallel UDP (DNS) through NAT. The count and these counters belong to this network namespace; nf_conntrack_max and nf_conntrack_buckets are the machine's (read-only in a child namespace).")
    .evidence("counter_window", window.evidence())
    .evidence("nf_conntrack_count", count)
    .evidence("nf_conntrack_max", max)
    .evidence("usage_percent", percent)
    .evidence("drop", drops)
    .evidence("early_drop", early_drops)
    .evidence("insert_failed", insert_failed)
    .evidence("child_namespace", child)
    .fix(format!(
        "find what fills the table (`conntrack -L` by destination: short connections through NAT, UDP); exempt traffic that needs no tracking (nftables `notrack` in a raw-priority chain); nf_conntrack_tcp_timeout_established (5 days by default) keeps idle entries long; then raise net.netfilter.nf_conntrack_max{} and keep nf_conntrack_buckets near max/4 or more. On a Kubernetes node kube-proxy raises nf_conntrack_max to max(conntrack.maxPerCore x CPUs, conntrack.min) at start (never lowers it): set it there. See `tcptune explain nf_conntrack_max`",
        if child { " on the host (it is global)" } else { "" }
    ));
    if let Some(buckets) = facts.integer("net.netfilter.nf_conntrack_buckets") {
        finding = finding.evidence("nf_conntrack_buckets", buckets);
    }
    if let Some(per_second) = window.per_second(drops) {
        finding = finding.evidence("drop_per_second", per_second);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn a_nearly_full_table_is_named_with_its_limit() {
        let facts = facts(
            "6.18.0",
            &[
                ("net.netfilter.nf_conntrack_count", "250000"),
                ("net.netfilter.nf_conntrack_max", "262144"),
                ("net.netfilter.nf_conntrack_buckets", "65536"),
            ],
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(findings[0].evidence["usage_percent"], 95);
        assert!(findings[0].fix.contains("kube-proxy"));
    }

    #[test]
    fn drops_warn_over_a_window_and_are_information_over_a_lifetime() {
        let mut facts = facts(
            "6.18.0",
            &[
                ("net.netfilter.nf_conntrack_count", "10"),
                ("net.netfilter.nf_conntrack_max", "262144"),
            ],
        );
        facts.counters.conntrack.insert("drop".into(), 40);
        facts.counter_window = crate::rates::window_since(None, &facts.counters);
        assert_eq!(
            evaluate(&facts, &builtin("default"))[0].severity,
            Severity::Info
        );
        let mut before = facts.counters.clone();
        before.conntrack.insert("drop".into(), 10);
        facts.counter_window = crate::rates::window_since(
            Some(&crate::facts::PreviousCounters {
                counters: before,
                taken_at: 0.0,
                age_seconds: 10.0,
                path: "/state/counters.json".into(),
            }),
            &facts.counters,
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].evidence["drop"], 30);
        assert_eq!(findings[0].evidence["drop_per_second"], 3.0);
    }

    #[test]
    fn without_connection_tracking_nothing_is_said() {
        let facts = facts("6.18.0", &[("net.netfilter.nf_conntrack_max", "<absent>")]);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }
}
