//! `tw-bucket-overflow`: TIME_WAIT hit its cap (TcpExt TCPTimeWaitOverflow
//! rose, so sockets skipped TIME_WAIT) or is near tcp_max_tw_buckets.

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &["net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_fin_timeout"],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let overflows = facts.counters.tcp_ext("TCPTimeWaitOverflow").unwrap_or(0);
    let buckets = facts
        .integer("net.ipv4.tcp_max_tw_buckets")
        .and_then(|value| u64::try_from(value).ok());
    let time_wait = facts.time_wait_count();
    // With a sample, judge the steady state the measured rate leads to.
    let steady = facts
        .sample
        .as_ref()
        .map_or(0, |sample| sample.steady_state_time_wait as u64);
    let expected = time_wait.max(steady);
    let percent = profile.thresholds.tw_bucket_percent;
    let near = buckets.is_some_and(|buckets| {
        u128::from(expected) * 100 >= u128::from(buckets) * u128::from(percent)
    });
    if overflows <= 0 && !near {
        return Vec::new();
    }
    let message = match (overflows > 0, buckets) {
        (true, _) => format!(
            "{overflows} sockets skipped TIME_WAIT because tcp_max_tw_buckets was full (TCPTimeWaitOverflow)"
        ),
        (false, Some(buckets)) if steady > time_wait => format!(
            "at the measured rate TIME_WAIT settles at {steady}, {}% of tcp_max_tw_buckets ({buckets}); {time_wait} now",
            u128::from(steady) * 100 / u128::from(buckets.max(1))
        ),
        (false, Some(buckets)) => format!(
            "{time_wait} TIME_WAIT sockets, {}% of tcp_max_tw_buckets ({buckets})",
            u128::from(time_wait) * 100 / u128::from(buckets.max(1))
        ),
        (false, None) => format!("{time_wait} TIME_WAIT sockets"),
    };
    let mut finding = Finding::new(Code::TwBucketOverflow, Severity::Warning, message)
        .key("net.ipv4.tcp_max_tw_buckets")
        .rationale("Past tcp_max_tw_buckets a closing socket skips TIME_WAIT, losing the protection against late segments of the old connection. The kernel logs nothing about it; the TcpExt counter TCPTimeWaitOverflow in /proc/net/netstat is the evidence. TIME_WAIT lasts a fixed 60 s, so the count is roughly the rate of connections this host closes first times 60.")
        .evidence("time_wait", time_wait)
        .evidence("TCPTimeWaitOverflow", overflows)
        .evidence("threshold_percent", percent)
        .fix("reuse connections so fewer are closed (keep-alive, pools); let peers close first where the protocol allows; raise tcp_max_tw_buckets if memory allows (each TIME_WAIT socket costs a few hundred bytes). Do not lower it.");
    if let Some(buckets) = buckets {
        finding = finding
            .current(buckets)
            .evidence("tcp_max_tw_buckets", buckets);
    }
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::TcpState;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn overflow_counter_triggers() {
        let mut facts = facts("6.18.0", &[("net.ipv4.tcp_max_tw_buckets", "131072")]);
        facts
            .counters
            .tcp_ext
            .insert("TCPTimeWaitOverflow".into(), 12);
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings[0].evidence["TCPTimeWaitOverflow"], 12);
    }

    #[test]
    fn eighty_percent_of_buckets_triggers() {
        let mut facts = facts("6.18.0", &[("net.ipv4.tcp_max_tw_buckets", "1000")]);
        facts.census.states.set(TcpState::TimeWait, 799);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
        facts.census.states.set(TcpState::TimeWait, 800);
        assert_eq!(
            evaluate(&facts, &builtin("default"))[0].message,
            "800 TIME_WAIT sockets, 80% of tcp_max_tw_buckets (1000)"
        );
    }
}
