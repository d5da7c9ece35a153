//! `keepalive-after-idle-timeout`: the profile names the idle timeout of
//! the load balancer or NAT on the path (`thresholds.idle_timeout_seconds`)
//! and `net.ipv4.tcp_keepalive_time` does not send the first keepalive probe
//! before it, so an idle connection is forgotten by the middlebox while both
//! ends still hold it.
//!
//! `idle-past-timeout`: ESTABLISHED connections that have carried nothing
//! for longer than that timeout and have no keepalive timer pending
//! (`idiag_timer` 2, which SO_KEEPALIVE arms), counted from each
//! connection's `tcp_info` (`tcpi_last_data_sent`, `tcpi_last_data_recv`,
//! `tcpi_last_ack_recv`): the middlebox has most likely dropped them, and the
//! next write will hang or be reset.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

const KEY: &str = "net.ipv4.tcp_keepalive_time";

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[KEY],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let Some(idle_timeout) = profile.thresholds.idle_timeout_seconds else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    findings.extend(keepalive_setting(facts, idle_timeout));
    findings.extend(idle_connections(facts, idle_timeout));
    findings
}

/// Peers named in the evidence, the most idle connections first.
const MAX_PEERS: usize = 5;

/// The connections idle past the timeout without a keepalive timer.
fn idle_connections(facts: &Facts, idle_timeout: u64) -> Option<Finding> {
    let census = &facts.census;
    census.idle_after_ms?;
    let idle = &census.idle;
    if idle.without_keepalive == 0 {
        return None;
    }
    let peers = census.idle_peers();
    let (top_peer, top_count) = peers.first().copied()?;
    let named: Vec<serde_json::Value> = peers
        .iter()
        .take(MAX_PEERS)
        .map(|(peer, count)| serde_json::json!({"peer": peer.to_string(), "connections": count}))
        .collect();
    let count = idle.without_keepalive;
    let toward = if peers.len() == 1 {
        format!("all toward {top_peer}")
    } else {
        format!(
            "{top_count} toward {top_peer}, the most of {} peers",
            peers.len()
        )
    };
    let held = match idle.holders.first() {
        Some(holder) => format!(
            "; {} held by {} (pid {})",
            holder.connections, holder.comm, holder.pid
        ),
        None => String::new(),
    };
    Some(
        Finding::new(
            Code::IdlePastTimeout,
            Severity::Warning,
            format!(
                "{count} ESTABLISHED connection{} carried nothing for {idle_timeout} s or more without a keepalive timer ({toward}{held}): past the idle timeout the profile names, the load balancer or NAT on the path has probably forgotten them",
                if count == 1 { " has" } else { "s have" }
            ),
        )
        .rationale("A load balancer or NAT gateway drops its entry for a connection that stayed idle past its timeout, silently. Both ends still hold the connection; the next segment either sends is dropped or answered with a reset, so the application sees a hang (until its retransmissions time out) or ECONNRESET, often on a pooled database or HTTP connection that sat unused. The kernel sends keepalive probes only on sockets whose application set SO_KEEPALIVE, and these connections have no keepalive timer pending, so nothing will cross them before the application writes. Idle time here is the shortest of the time since data was last sent, data last received and an ACK last received (tcp_info).")
        .evidence("idle_timeout_seconds", idle_timeout)
        .evidence("idle_without_keepalive", count)
        .evidence("idle_with_keepalive", idle.with_keepalive)
        .evidence("peers", serde_json::Value::Array(named))
        .evidence(
            "processes",
            serde_json::to_value(idle.holders.iter().take(MAX_PEERS).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .fix(format!(
            "make the applications that hold them keep them alive: set SO_KEEPALIVE on the socket, with {KEY} (or the socket's own TCP_KEEPIDLE, which only takes effect once SO_KEEPALIVE is set) below {idle_timeout} s, send application-level pings, or retire pooled connections after less than {idle_timeout} s idle (the pool's max-idle setting); `ss -tnpo state established dst {}` shows which process holds those toward {top_peer} and that they have no timer",
            top_peer.ip()
        )),
    )
}

/// `tcp_keepalive_time` against the timeout.
fn keepalive_setting(facts: &Facts, idle_timeout: u64) -> Vec<Finding> {
    let Some(keepalive) = facts.integer(KEY) else {
        return Vec::new();
    };
    let Ok(keepalive_seconds) = u64::try_from(keepalive) else {
        return Vec::new();
    };
    if keepalive_seconds < idle_timeout {
        return Vec::new();
    }
    // A margin for the probe to cross the path: two thirds of the timeout,
    // at least one second below it.
    let suggested = (idle_timeout * 2 / 3).clamp(1, idle_timeout.saturating_sub(1).max(1));
    vec![
        Finding::new(
            Code::KeepaliveAfterIdleTimeout,
            Severity::Warning,
            format!(
                "{KEY} is {keepalive_seconds} s, not below the idle timeout of {idle_timeout} s that the profile names for the load balancer or NAT on the path"
            ),
        )
        .key(KEY)
        .current(keepalive_seconds)
        .rationale("A load balancer or NAT gateway forgets a connection that carried nothing for its idle timeout; the next segment either end sends is dropped or answered with a reset, and the application sees a hang or ECONNRESET long after the connection went quiet. A TCP keepalive probe sent before the timeout counts as traffic and keeps the entry. tcp_keepalive_time is how long a connection must be idle before the first probe. Keepalive only helps sockets whose application set SO_KEEPALIVE (many connection pools and database drivers do, many servers do not); for the others the application must set it (TCP_KEEPIDLE then overrides tcp_keepalive_time for that socket) or send its own pings. `tcptune explain idle-timeout` lists the published timeouts of the major clouds.")
        .evidence("tcp_keepalive_time", keepalive_seconds)
        .evidence("idle_timeout_seconds", idle_timeout)
        .fix(format!(
            "set {KEY} below the idle timeout, for example {suggested} (in a profile: `{KEY}: {{at_most: {suggested}, why: ...}}`), and make sure the long-lived connections' applications set SO_KEEPALIVE"
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{builtin, facts};

    fn with_idle_timeout(seconds: Option<u64>) -> Profile {
        let mut profile = builtin("default");
        profile.thresholds.idle_timeout_seconds = seconds;
        profile
    }

    #[test]
    fn keepalive_not_below_the_idle_timeout_is_reported() {
        let kernel_default = facts("6.18.0", &[(KEY, "7200")]);
        let findings = evaluate(&kernel_default, &with_idle_timeout(Some(350)));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::KeepaliveAfterIdleTimeout);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].evidence["tcp_keepalive_time"], 7200);
        assert_eq!(findings[0].evidence["idle_timeout_seconds"], 350);
        assert!(findings[0].rationale.contains("SO_KEEPALIVE"));
        assert!(findings[0].fix.contains("for example 233"));
        let equal = facts("6.18.0", &[(KEY, "350")]);
        assert_eq!(evaluate(&equal, &with_idle_timeout(Some(350))).len(), 1);
    }

    #[test]
    fn idle_connections_without_keepalive_are_counted_per_peer() {
        let mut facts = facts("6.18.0", &[(KEY, "300")]);
        let peer: std::net::SocketAddr = "10.0.0.5:5432".parse().unwrap();
        facts.census.idle_after_ms = Some(350_000);
        facts.census.idle.without_keepalive = 3;
        facts.census.idle.with_keepalive = 2;
        facts.census.idle.without_keepalive_by_peer.insert(peer, 2);
        facts
            .census
            .idle
            .without_keepalive_by_peer
            .insert("10.0.0.6:443".parse().unwrap(), 1);
        facts.census.idle.holders = vec![crate::census::IdleHolder {
            pid: 4242,
            comm: "java".into(),
            connections: 3,
        }];
        let findings = evaluate(&facts, &with_idle_timeout(Some(350)));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(finding.code, Code::IdlePastTimeout);
        assert_eq!(finding.evidence["processes"][0]["comm"], "java");
        assert_eq!(
            finding.message,
            "3 ESTABLISHED connections have carried nothing for 350 s or more without a keepalive timer (2 toward 10.0.0.5:5432, the most of 2 peers; 3 held by java (pid 4242)): past the idle timeout the profile names, the load balancer or NAT on the path has probably forgotten them"
        );
        assert_eq!(finding.evidence["idle_with_keepalive"], 2);
        assert_eq!(finding.evidence["peers"][0]["peer"], "10.0.0.5:5432");
        // TCP_KEEPIDLE alone never turns keepalive on.
        assert!(
            finding
                .fix
                .contains("TCP_KEEPIDLE, which only takes effect once SO_KEEPALIVE is set"),
            "{}",
            finding.fix
        );
        // None idle past the timeout, or no timeout named: nothing.
        facts.census.idle = Default::default();
        assert!(evaluate(&facts, &with_idle_timeout(Some(350))).is_empty());
        assert!(evaluate(&facts, &with_idle_timeout(None)).is_empty());
    }

    #[test]
    fn keepalive_below_the_idle_timeout_or_no_timeout_is_quiet() {
        let below = facts("6.18.0", &[(KEY, "300")]);
        assert!(evaluate(&below, &with_idle_timeout(Some(350))).is_empty());
        let kernel_default = facts("6.18.0", &[(KEY, "7200")]);
        assert!(evaluate(&kernel_default, &with_idle_timeout(None)).is_empty());
        let absent = facts("6.18.0", &[(KEY, "<absent>")]);
        assert!(evaluate(&absent, &with_idle_timeout(Some(350))).is_empty());
    }
}
