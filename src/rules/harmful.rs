//! `harmful-value`: live values known to do harm, whatever the profile says.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::kernel::KernelVersion;
use crate::profile::Profile;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.ipv4.tcp_tw_recycle",
        "net.ipv4.tcp_tw_reuse",
        "net.ipv4.tcp_timestamps",
        "net.ipv4.tcp_max_tw_buckets",
        "net.ipv4.tcp_ehash_entries",
        "net.ipv4.tcp_max_orphans",
        "net.ipv4.tcp_syncookies",
    ],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    [
        tw_recycle(facts),
        timestamps_off_with_reuse(facts),
        tw_buckets_lowered(facts),
        syncookies_off(facts),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn tw_recycle(facts: &Facts) -> Option<Finding> {
    const KEY: &str = "net.ipv4.tcp_tw_recycle";
    if facts.integer(KEY)? != 1 {
        return None;
    }
    let offsets = facts
        .kernel
        .is_some_and(|version| version >= KernelVersion::new(4, 10, 0));
    let mut rationale = String::from(
        "tcp_tw_recycle remembers the last TCP timestamp of each peer address and drops SYNs with an older one. Clients behind one NAT share an address but not a timestamp clock, so their new connections are silently dropped (counted as PAWSPassive).",
    );
    if offsets {
        rationale.push_str(" Since 4.10 timestamps carry a random per-connection offset, so on this kernel it drops connections from ordinary clients too.");
    }
    rationale.push_str(" The key was removed in Linux 4.12.");
    let mut finding = Finding::new(Code::HarmfulValue, Severity::Error, "tcp_tw_recycle is on: connections from clients behind NAT are silently dropped")
        .key(KEY)
        .current(1)
        .expected(0)
        .rationale(rationale)
        .fix("set net.ipv4.tcp_tw_recycle = 0 now and remove it from every sysctl file; for outgoing connections use tcp_tw_reuse instead");
    if let Some(dropped) = facts.counters.tcp_ext("PAWSPassive") {
        finding = finding.evidence("PAWSPassive", dropped);
    }
    Some(finding)
}

fn timestamps_off_with_reuse(facts: &Facts) -> Option<Finding> {
    const KEY: &str = "net.ipv4.tcp_timestamps";
    if facts.integer(KEY)? != 0 {
        return None;
    }
    let reuse = facts.integer("net.ipv4.tcp_tw_reuse")?;
    if reuse == 0 {
        return None;
    }
    Some(
        Finding::new(
            Code::HarmfulValue,
            Severity::Warning,
            format!("tcp_timestamps is off while tcp_tw_reuse is {reuse}: reuse cannot work and PAWS protection is gone"),
        )
        .key(KEY)
        .current(0)
        .expected(1)
        .rationale("tcp_tw_reuse only takes over a TIME_WAIT port when TCP timestamps prove the old connection's segments cannot be confused with the new one's; with timestamps off it never does. Timestamps also protect long fast connections against wrapped sequence numbers (PAWS). Turning them off was advice for the NAT problem of tcp_tw_recycle, which no longer exists.")
        .evidence("tcp_tw_reuse", reuse)
        .fix("set net.ipv4.tcp_timestamps = 1"),
    )
}

fn tw_buckets_lowered(facts: &Facts) -> Option<Finding> {
    const KEY: &str = "net.ipv4.tcp_max_tw_buckets";
    let current = facts.integer(KEY)?;
    // The default is half the established hash table. tcp_ehash_entries shows
    // that table (negative in a child namespace that shares the host's);
    // older kernels lack it, and tcp_max_orphans has the same default.
    let (default, basis) = match facts.integer("net.ipv4.tcp_ehash_entries") {
        Some(entries) if entries != 0 => (entries.abs() / 2, "tcp_ehash_entries / 2"),
        _ => (
            facts.integer("net.ipv4.tcp_max_orphans")?,
            "tcp_max_orphans (same default)",
        ),
    };
    if current >= default {
        return None;
    }
    Some(
        Finding::new(
            Code::HarmfulValue,
            Severity::Warning,
            format!("tcp_max_tw_buckets is {current}, below this kernel's default of {default}"),
        )
        .key(KEY)
        .current(current)
        .expected(default)
        .rationale("Past tcp_max_tw_buckets a closing socket skips TIME_WAIT altogether (TcpExt TCPTimeWaitOverflow counts it). TIME_WAIT is what keeps a late segment of an old connection from being accepted by a new one on the same ports, so lowering the cap trades correctness for a number that looks smaller. TIME_WAIT sockets cost little memory.")
        .evidence("default", default)
        .evidence("default_from", basis)
        .evidence("time_wait", facts.time_wait_count())
        .fix(format!("set net.ipv4.tcp_max_tw_buckets = {default} (the default) or higher; to have fewer TIME_WAIT sockets, reuse connections")),
    )
}

fn syncookies_off(facts: &Facts) -> Option<Finding> {
    const KEY: &str = "net.ipv4.tcp_syncookies";
    if facts.integer(KEY)? != 0 {
        return None;
    }
    let mut finding = Finding::new(Code::HarmfulValue, Severity::Warning, "tcp_syncookies is off: a SYN flood can fill every listener's queue")
        .key(KEY)
        .current(0)
        .expected(1)
        .rationale("With SYN cookies off, once a listener's SYN queue is full the kernel drops new SYNs, so a flood of spoofed SYNs makes the service unreachable. With 1 (the default) cookies are sent only when the queue overflows, so normal traffic is unaffected.")
        .fix("set net.ipv4.tcp_syncookies = 1");
    if let Some(sent) = facts.counters.tcp_ext("SyncookiesSent") {
        finding = finding.evidence("SyncookiesSent", sent);
    }
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
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
                ("net.ipv4.tcp_max_tw_buckets", "5000"),
                ("net.ipv4.tcp_max_orphans", "65536"),
                ("net.ipv4.tcp_syncookies", "0"),
            ],
        );
        assert_eq!(
            codes(&facts),
            vec![
                ("net.ipv4.tcp_tw_recycle".into(), Severity::Error),
                ("net.ipv4.tcp_timestamps".into(), Severity::Warning),
                ("net.ipv4.tcp_max_tw_buckets".into(), Severity::Warning),
                ("net.ipv4.tcp_syncookies".into(), Severity::Warning),
            ]
        );
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
        assert_eq!(findings[0].expected.as_deref(), Some("131072"));
    }

    #[test]
    fn timestamps_off_with_reuse_off_is_left_alone() {
        let facts = facts(
            "6.18.44",
            &[
                ("net.ipv4.tcp_timestamps", "0"),
                ("net.ipv4.tcp_tw_reuse", "0"),
            ],
        );
        assert!(codes(&facts).is_empty());
    }
}
