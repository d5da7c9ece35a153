//! `tcp-memory-pressure`: the memory all TCP sockets hold (sockstat `mem`,
//! in pages) against the three `tcp_mem` thresholds, and the counters of
//! what the kernel did about it (`TCPMemoryPressures`, `TCPAbortOnMemory`).
//!
//! Above `tcp_mem[1]` the kernel is "under pressure": it shrinks buffers and
//! stops growing them. Above `tcp_mem[2]` it refuses memory: sends fail,
//! received data is dropped and orphans are reset, with the log line
//! "TCP: out of memory -- consider tuning tcp_mem" (tcp_check_oom, which
//! prints "too many orphaned sockets" for the other cause). A bigger
//! `tcp_mem` only moves the wall: the memory is usually held by orphaned
//! sockets or by a few thousand sockets with multi-megabyte buffers.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.ipv4.tcp_mem",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_max_orphans",
    ],
    evaluate,
};

/// The three tcp_mem thresholds, in pages.
fn thresholds(facts: &Facts) -> Option<[u64; 3]> {
    let values = facts.value("net.ipv4.tcp_mem")?.integers()?;
    let [low, pressure, high] = values.as_slice() else {
        return None;
    };
    Some([
        u64::try_from(*low).ok()?,
        u64::try_from(*pressure).ok()?,
        u64::try_from(*high).ok()?,
    ])
}

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let window = &facts.counter_window;
    let pressures = window.tcp_ext("TCPMemoryPressures").unwrap_or(0).max(0);
    let aborts = window.tcp_ext("TCPAbortOnMemory").unwrap_or(0).max(0);
    let mem = facts.sockstat.map(|sockstat| sockstat.mem);
    let limits = thresholds(facts);
    let (level, now) = match (mem, limits) {
        (Some(mem), Some([_, _, high])) if high > 0 && mem >= high => (
            Severity::Error,
            format!("TCP memory is at its hard limit: {mem} pages, tcp_mem[2] is {high}"),
        ),
        (Some(mem), Some([_, pressure, high])) if pressure > 0 && mem >= pressure => (
            Severity::Warning,
            format!(
                "TCP memory is under pressure: {mem} pages, above tcp_mem[1] ({pressure}) and below tcp_mem[2] ({high})"
            ),
        ),
        _ => (Severity::Info, String::new()),
    };
    let counted = pressures > 0 || aborts > 0;
    if now.is_empty() && !counted {
        return Vec::new();
    }
    let during = window.describe();
    let sign = if window.is_measured() { "+" } else { "" };
    let counters =
        format!("TCPMemoryPressures {sign}{pressures}, TCPAbortOnMemory {sign}{aborts} {during}");
    let severity = match (level, counted && window.is_measured()) {
        (Severity::Info, true) => Severity::Warning,
        (level, _) => level,
    };
    let message = if now.is_empty() {
        format!("the kernel ran short of TCP memory: {counters}")
    } else {
        format!("{now}; {counters}")
    };
    let orphans = facts.sockstat.map_or(0, |sockstat| sockstat.orphan);
    let max_buffer = |key: &str| {
        facts
            .value(key)
            .and_then(|value| value.integers())
            .and_then(|values| values.get(2).copied())
    };
    let mut finding = Finding::new(Code::TcpMemoryPressure, severity, message)
        .key("net.ipv4.tcp_mem")
        .rationale("tcp_mem is three numbers of pages for all TCP sockets together: below the first the kernel does not limit buffers, above the second it is under pressure and shrinks them, at the third it refuses memory: sends fail, received data is dropped, orphaned sockets are reset (TCPAbortOnMemory) and the kernel logs \"TCP: out of memory -- consider tuning tcp_mem\". Raising tcp_mem only moves that wall and takes memory from everything else: the memory is usually held by orphaned sockets (closed by the application, still sending to a slow or vanished peer) or by sockets whose buffers grew to tcp_rmem[2]/tcp_wmem[2] toward slow readers.")
        .evidence("counter_window", window.evidence())
        .evidence("TCPMemoryPressures", pressures)
        .evidence("TCPAbortOnMemory", aborts)
        .evidence("orphans", orphans)
        .fix("find what holds the memory first: orphans (`ss -tan state fin-wait-1`, sockstat orphan; lower tcp_orphan_retries and tcp_fin_timeout, or fix the peers that stop reading) and sockets with large queues (`ss -tmn`: big Recv-Q/Send-Q toward slow readers; lower tcp_rmem[2]/tcp_wmem[2] if a few thousand sockets may each grow to them); raise tcp_mem only when the host has the memory and the sockets legitimately need it");
    if let Some(mem) = mem {
        finding = finding.evidence("mem_pages", mem);
    }
    if let Some([low, pressure, high]) = limits {
        finding = finding
            .current(format!("{low} {pressure} {high}"))
            .evidence("tcp_mem", vec![low, pressure, high]);
    }
    if let Some(per_second) = window.per_second(aborts) {
        finding = finding.evidence("TCPAbortOnMemory_per_second", per_second);
    }
    for (key, name) in [
        ("net.ipv4.tcp_rmem", "tcp_rmem_max"),
        ("net.ipv4.tcp_wmem", "tcp_wmem_max"),
    ] {
        if let Some(max) = max_buffer(key) {
            finding = finding.evidence(name, max);
        }
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Sockstat;
    use crate::rules::testing::{builtin, facts};

    fn with_mem(mem: u64) -> Facts {
        let mut facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.tcp_mem", "1000 2000 3000"),
                ("net.ipv4.tcp_rmem", "4096 131072 6291456"),
            ],
        );
        facts.sockstat = Some(Sockstat {
            mem,
            orphan: 700,
            ..Sockstat::default()
        });
        facts
    }

    #[test]
    fn memory_is_judged_against_the_three_thresholds() {
        assert!(evaluate(&with_mem(1500), &builtin("default")).is_empty());
        let pressure = evaluate(&with_mem(2500), &builtin("default"));
        assert_eq!(pressure[0].severity, Severity::Warning);
        assert!(pressure[0].message.contains("under pressure"));
        let full = evaluate(&with_mem(3000), &builtin("default"));
        assert_eq!(full[0].severity, Severity::Error);
        assert_eq!(
            full[0].evidence["tcp_mem"],
            serde_json::json!([1000, 2000, 3000])
        );
        assert_eq!(full[0].evidence["orphans"], 700);
        assert_eq!(full[0].evidence["tcp_rmem_max"], 6291456);
        assert!(
            full[0]
                .rationale
                .contains("out of memory -- consider tuning tcp_mem")
        );
    }

    #[test]
    fn aborts_count_as_a_warning_only_over_a_measured_window() {
        let mut lifetime = with_mem(10);
        lifetime
            .counters
            .tcp_ext
            .insert("TCPAbortOnMemory".into(), 12);
        lifetime.counter_window = crate::rates::window_since(None, &lifetime.counters);
        assert_eq!(
            evaluate(&lifetime, &builtin("default"))[0].severity,
            Severity::Info
        );
        let mut measured = lifetime.clone();
        let mut before = measured.counters.clone();
        before.tcp_ext.insert("TCPAbortOnMemory".into(), 2);
        measured.counter_window = crate::rates::window_since(
            Some(&crate::facts::PreviousCounters {
                counters: before,
                taken_at: 0.0,
                age_seconds: 5.0,
                path: "/state/counters.json".into(),
            }),
            &measured.counters,
        );
        let findings = evaluate(&measured, &builtin("default"));
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].evidence["TCPAbortOnMemory"], 10);
        assert_eq!(findings[0].evidence["TCPAbortOnMemory_per_second"], 2.0);
    }
}
