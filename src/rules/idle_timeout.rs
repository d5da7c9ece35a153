//! `keepalive-after-idle-timeout`: the profile names the idle timeout of
//! the load balancer or NAT on the path (`thresholds.idle_timeout_seconds`)
//! and `net.ipv4.tcp_keepalive_time` does not send the first keepalive probe
//! before it, so an idle connection is forgotten by the middlebox while both
//! ends still hold it.

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
        .rationale("A load balancer or NAT gateway forgets a connection that carried nothing for its idle timeout; the next segment either end sends is dropped or answered with a reset, and the application sees a hang or ECONNRESET long after the connection went quiet. A TCP keepalive probe sent before the timeout counts as traffic and keeps the entry. tcp_keepalive_time is how long a connection must be idle before the first probe. Keepalive only helps sockets whose application set SO_KEEPALIVE (many connection pools and database drivers do, many servers do not); for the others the application must send its own pings, or set TCP_KEEPIDLE per socket. `tcptune explain idle-timeout` lists the published timeouts of the major clouds.")
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
    fn keepalive_below_the_idle_timeout_or_no_timeout_is_quiet() {
        let below = facts("6.18.0", &[(KEY, "300")]);
        assert!(evaluate(&below, &with_idle_timeout(Some(350))).is_empty());
        let kernel_default = facts("6.18.0", &[(KEY, "7200")]);
        assert!(evaluate(&kernel_default, &with_idle_timeout(None)).is_empty());
        let absent = facts("6.18.0", &[(KEY, "<absent>")]);
        assert!(evaluate(&absent, &with_idle_timeout(Some(350))).is_empty());
    }
}
