//! `syn-queue-full`: the kernel answered SYNs with cookies (or dropped them)
//! because a listener's SYN queue was full: a SYN flood, or a backlog too
//! small for the legitimate rate of new connections. The two are told
//! apart by how many cookies come back.
//!
//! The kernel's own reasoning (tcp_conn_request): with `tcp_syncookies=1` a
//! SYN gets a cookie instead of a request socket once the listener holds as
//! many half-open requests as its backlog (`TCPReqQFullDoCookies`,
//! `SyncookiesSent`, and the log line "Possible SYN flooding on port N.
//! Sending cookies."); with 0 the SYN is dropped (`TCPReqQFullDrop`). A
//! client that completes the handshake returns a valid cookie
//! (`SyncookiesRecv`); a spoofed or flooding source never does.

use crate::census::Listener;
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Listeners named in the evidence, the most half-open first.
const LISTENERS_IN_EVIDENCE: usize = 5;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_max_syn_backlog",
        "net.ipv4.tcp_synack_retries",
        "net.core.somaxconn",
    ],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let window = &facts.counter_window;
    let change = |name: &str| window.tcp_ext(name).unwrap_or(0).max(0);
    let sent = change("SyncookiesSent");
    let received = change("SyncookiesRecv");
    let failed = change("SyncookiesFailed");
    let full_cookies = change("TCPReqQFullDoCookies");
    let full_drops = change("TCPReqQFullDrop");
    let syncookies = facts.integer("net.ipv4.tcp_syncookies");
    // tcp_syncookies=2 sends a cookie for every SYN: cookies then say
    // nothing about a full queue.
    let queue_full = if syncookies == Some(2) {
        full_cookies
    } else {
        sent.max(full_cookies)
    };
    if queue_full == 0 && full_drops == 0 {
        return Vec::new();
    }
    let mut half_open: Vec<&Listener> = facts
        .census
        .listeners
        .iter()
        .filter(|listener| listener.syn_recv > 0)
        .collect();
    half_open.sort_by_key(|listener| std::cmp::Reverse(listener.syn_recv));
    half_open.truncate(LISTENERS_IN_EVIDENCE);
    let during = window.describe();
    let on = half_open
        .first()
        .map(|listener| {
            format!(
                "; most half-open connections on {} ({} SYN_RECV, backlog {})",
                listener.name(),
                listener.syn_recv,
                listener
                    .backlog
                    .map_or_else(|| "unknown".to_owned(), |backlog| backlog.to_string())
            )
        })
        .unwrap_or_default();
    // Real clients return their cookie with the handshake's last ACK; a
    // flood's sources (spoofed, or bots that never answer) do not.
    let flood = sent > 0 && received * 2 < sent;
    let (message, diagnosis, fix) = if full_drops > 0 {
        (
            format!("{full_drops} SYNs were dropped {during} because a listener's SYN queue was full and tcp_syncookies is {}{on}", syncookies.map_or_else(|| "off".to_owned(), |value| value.to_string())),
            "without SYN cookies a full SYN queue drops new connections outright",
            "set net.ipv4.tcp_syncookies=1 (the default): the kernel then answers with cookies instead of dropping; then raise the listener's backlog (net.core.somaxconn and the application's listen() argument) if the connections are legitimate".to_owned(),
        )
    } else if flood {
        (
            format!("the kernel sent {sent} SYN cookies {during} and only {received} came back: a SYN flood, or clients that never finish the handshake{on}"),
            "most cookies were never returned, so most SYNs came from sources that do not complete the handshake (spoofed addresses, a flood); cookies keep the listener answering real clients meanwhile",
            "keep net.ipv4.tcp_syncookies=1; filter the flood upstream (a firewall, the provider's DDoS protection); lowering net.ipv4.tcp_synack_retries (default 5) frees half-open requests sooner; a bigger backlog only delays the cookies".to_owned(),
        )
    } else {
        (
            format!("the kernel sent {sent} SYN cookies {during} and {received} came back: real clients arrive faster than the listener's SYN queue holds them{on}"),
            "most cookies came back with a valid handshake, so the SYNs are legitimate: the SYN queue, whose size is the listener's backlog (its listen() argument capped by net.core.somaxconn), is too small for the rate of new connections. Cookies lose TCP options the handshake would have negotiated (window scaling without timestamps, SACK), so those connections are slower",
            "raise net.core.somaxconn and the application's listen() backlog, then have it call listen() again (restart it); net.ipv4.tcp_max_syn_backlog matters only with tcp_syncookies=0".to_owned(),
        )
    };
    let severity = if window.is_measured() {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut finding = Finding::new(Code::SynQueueFull, severity, message)
        .rationale(format!(
            "{diagnosis}. The kernel logs \"Possible SYN flooding on port N. Sending cookies.\" when this starts. Counters are judged {during} ({}).",
            window.note
        ))
        .evidence("counter_window", window.evidence())
        .evidence("SyncookiesSent", sent)
        .evidence("SyncookiesRecv", received)
        .evidence("SyncookiesFailed", failed)
        .evidence("TCPReqQFullDoCookies", full_cookies)
        .evidence("TCPReqQFullDrop", full_drops)
        .evidence("diagnosis", if full_drops > 0 { "dropped" } else if flood { "flood" } else { "backlog_too_small" })
        .fix(fix);
    if let Some(per_second) = window.per_second(sent) {
        finding = finding.evidence("SyncookiesSent_per_second", per_second);
    }
    if let Some(value) = syncookies {
        finding = finding.evidence("tcp_syncookies", value);
    }
    if let Some(first) = half_open.first() {
        finding = finding.evidence("listener", first.name());
    }
    if !half_open.is_empty()
        && let Ok(listeners) = serde_json::to_value(&half_open)
    {
        finding = finding.evidence("listeners_with_half_open_connections", listeners);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Counters, PreviousCounters};
    use crate::rules::testing::{builtin, facts};

    fn with_changes(changes: &[(&str, i64)], syncookies: &str) -> Facts {
        let mut facts = facts("6.18.0", &[("net.ipv4.tcp_syncookies", syncookies)]);
        for (name, change) in changes {
            facts.counters.tcp_ext.insert((*name).into(), 1000 + change);
        }
        let mut before = Counters::default();
        for (name, _) in changes {
            before.tcp_ext.insert((*name).into(), 1000);
        }
        facts.counter_window = crate::rates::window_since(
            Some(&PreviousCounters {
                counters: before,
                taken_at: 0.0,
                age_seconds: 10.0,
                path: "/state/counters.json".into(),
            }),
            &facts.counters,
        );
        facts.census.listeners.push(Listener {
            local: "0.0.0.0:443".parse().unwrap(),
            accept_queue: 0,
            backlog: Some(511),
            syn_recv: 511,
            owner: None,
            inode: 1,
        });
        facts
    }

    #[test]
    fn cookies_that_never_come_back_are_a_flood() {
        let facts = with_changes(
            &[
                ("SyncookiesSent", 5000),
                ("SyncookiesRecv", 3),
                ("TCPReqQFullDoCookies", 5000),
            ],
            "1",
        );
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].evidence["diagnosis"], "flood");
        assert_eq!(findings[0].evidence["SyncookiesSent_per_second"], 500.0);
        assert!(
            findings[0]
                .message
                .contains("0.0.0.0:443 (511 SYN_RECV, backlog 511)")
        );
    }

    #[test]
    fn cookies_that_come_back_mean_a_small_backlog() {
        let facts = with_changes(&[("SyncookiesSent", 800), ("SyncookiesRecv", 790)], "1");
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings[0].evidence["diagnosis"], "backlog_too_small");
        assert!(findings[0].fix.contains("listen() again"));
    }

    #[test]
    fn drops_without_cookies_say_to_turn_them_on() {
        let facts = with_changes(&[("TCPReqQFullDrop", 40)], "0");
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings[0].evidence["diagnosis"], "dropped");
        assert!(findings[0].fix.starts_with("set net.ipv4.tcp_syncookies=1"));
    }

    #[test]
    fn lifetime_cookies_are_information_and_always_on_cookies_are_quiet() {
        let mut lifetime = facts("6.18.0", &[("net.ipv4.tcp_syncookies", "1")]);
        lifetime.counters.tcp_ext.insert("SyncookiesSent".into(), 9);
        lifetime.counter_window = crate::rates::window_since(None, &lifetime.counters);
        assert_eq!(
            evaluate(&lifetime, &builtin("default"))[0].severity,
            Severity::Info
        );
        let always = with_changes(&[("SyncookiesSent", 800), ("SyncookiesRecv", 800)], "2");
        assert!(evaluate(&always, &builtin("default")).is_empty());
    }
}
