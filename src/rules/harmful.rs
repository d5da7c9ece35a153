//! `harmful-value`: live values known to do harm or lowered below the
//! kernel's default, whatever the profile says. The judgements themselves
//! live in [`crate::knowledge::judgements`], which `lint` applies to files.

use crate::facts::Facts;
use crate::finding::Finding;
use crate::kernel::KernelVersion;
use crate::key::Value;
use crate::knowledge::judgements::{self, Kind};
use crate::profile::Profile;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.ipv4.tcp_tw_recycle",
        "net.ipv4.tcp_tw_reuse",
        "net.ipv4.tcp_timestamps",
        "net.ipv4.tcp_sack",
        "net.ipv4.tcp_window_scaling",
        "net.ipv4.tcp_max_tw_buckets",
        "net.ipv4.tcp_ehash_entries",
        "net.ipv4.tcp_max_orphans",
        "net.ipv4.tcp_syncookies",
        "net.core.somaxconn",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.core.rmem_default",
        "net.core.wmem_default",
        "net.ipv4.tcp_syn_retries",
        "net.ipv4.tcp_synack_retries",
        "net.ipv4.tcp_congestion_control",
        "net.ipv4.ip_local_port_range",
    ],
    evaluate,
};

/// Live values, as the judgements see them.
struct Live<'a>(&'a Facts);

impl judgements::Context for Live<'_> {
    fn kernel(&self) -> Option<KernelVersion> {
        self.0.kernel
    }

    fn value(&self, key: &str) -> Option<Value> {
        self.0.value(key).cloned()
    }

    fn ehash_entries(&self) -> Option<i64> {
        self.0.integer("net.ipv4.tcp_ehash_entries")
    }

    fn source(&self, _key: &str) -> String {
        "live".into()
    }
}

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    judgements::evaluate(&Live(facts), &[Kind::Harmful, Kind::Lowered])
        .into_iter()
        .map(|verdict| {
            let mut finding = verdict.finding;
            let counter = match verdict.judgement.key {
                "net.ipv4.tcp_tw_recycle" => Some("PAWSPassive"),
                "net.ipv4.tcp_syncookies" => Some("SyncookiesSent"),
                "net.ipv4.tcp_max_tw_buckets" => Some("TCPTimeWaitOverflow"),
                _ => None,
            };
            if let Some(name) = counter
                && let Some(count) = facts.counters.tcp_ext(name)
            {
                finding = finding.evidence(name, count);
            }
            if verdict.judgement.key == "net.ipv4.tcp_max_tw_buckets" {
                finding = finding.evidence("time_wait", facts.time_wait_count());
            }
            finding
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::rules::testing::{builtin, facts};

    fn codes(facts: &Facts) -> Vec<(String, Severity)> {
        evaluate(facts, &builtin("default"))
            .into_iter()
            .map(|f| (f.key.unwrap_or_default(), f.severity))
            .collect()
    }

    #[test]
    fn folklore_host_is_flagged() {
        let facts = facts(
            "4.9.0-19-amd64",
            &[
                ("net.ipv4.tcp_tw_recycle", "1"),
                ("net.ipv4.tcp_timestamps", "0"),
                ("net.ipv4.tcp_tw_reuse", "1"),
                ("net.ipv4.tcp_max_tw_buckets", "2000"),
                ("net.ipv4.tcp_max_orphans", "65536"),
                ("net.ipv4.tcp_syncookies", "0"),
            ],
        );
        assert_eq!(
            codes(&facts),
            vec![
                ("net.ipv4.tcp_tw_recycle".into(), Severity::Error),
                ("net.ipv4.tcp_syncookies".into(), Severity::Warning),
                ("net.ipv4.tcp_timestamps".into(), Severity::Warning),
                ("net.ipv4.tcp_max_tw_buckets".into(), Severity::Warning),
            ]
        );
    }

    #[test]
    fn a_raised_tcp_max_orphans_is_not_the_tw_default() {
        // A 4.9 host whose admin raised tcp_max_orphans: the tw default is
        // half the hash, not tcp_max_orphans, and 5000 is not provably low.
        let facts = facts(
            "4.9.0-19-amd64",
            &[
                ("net.ipv4.tcp_max_tw_buckets", "5000"),
                ("net.ipv4.tcp_max_orphans", "3276800"),
            ],
        );
        assert!(codes(&facts).is_empty(), "{:?}", codes(&facts));
    }

    #[test]
    fn defaults_are_not_harmful() {
        let facts = facts(
            "6.18.44",
            &[
                ("net.ipv4.tcp_tw_recycle", "<absent>"),
                ("net.ipv4.tcp_timestamps", "1"),
                ("net.ipv4.tcp_tw_reuse", "2"),
                ("net.ipv4.tcp_max_tw_buckets", "131072"),
                ("net.ipv4.tcp_ehash_entries", "-262144"),
                ("net.ipv4.tcp_syncookies", "1"),
                ("net.core.somaxconn", "4096"),
                ("net.ipv4.tcp_rmem", "4096 131072 33554432"),
                ("net.ipv4.tcp_wmem", "4096 16384 4194304"),
            ],
        );
        assert!(codes(&facts).is_empty());
    }

    #[test]
    fn tw_buckets_default_comes_from_the_hash_table() {
        let facts = facts(
            "6.18.44",
            &[
                ("net.ipv4.tcp_max_tw_buckets", "131071"),
                ("net.ipv4.tcp_ehash_entries", "262144"),
            ],
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(
            findings[0].evidence["compared_with"],
            "this kernel's default 131072 (tcp_ehash_entries / 2)"
        );
    }

    #[test]
    fn somaxconn_is_judged_against_that_kernels_default() {
        let old = facts("4.9.0", &[("net.core.somaxconn", "128")]);
        assert!(codes(&old).is_empty());
        let new = facts("5.4.0", &[("net.core.somaxconn", "1024")]);
        assert_eq!(
            codes(&new),
            vec![("net.core.somaxconn".into(), Severity::Warning)]
        );
    }

    #[test]
    fn timestamps_off_says_what_reuse_loses() {
        let facts = facts(
            "6.18.44",
            &[
                ("net.ipv4.tcp_timestamps", "0"),
                ("net.ipv4.tcp_tw_reuse", "0"),
            ],
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].rationale.contains("only PAWS is lost"));
    }
}
