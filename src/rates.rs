//! Rates from two readings a few seconds apart: connections per second, the
//! TIME_WAIT they imply, and per destination how close the rate of new
//! connections is to what the local port range can sustain.
//!
//! The arithmetic operators get wrong, made explicit: a TIME_WAIT socket
//! lasts a fixed 60 s, so the steady-state TIME_WAIT count is the rate at
//! which this host closes connections first times 60, and toward one
//! destination a source address can open at most (usable ports / 60) new
//! connections per second without tcp_tw_reuse.

use crate::facts::{
    CounterBasis, CounterMap, CounterWindow, Counters, DestinationRate, Facts, PreviousCounters,
    Sample,
};

/// The oldest previous reading a plain `check` compares with. An hourly
/// check still gets rates; a reading from yesterday would average a burst
/// away, so it is not used and the counters are shown as lifetime totals.
pub const PREVIOUS_RUN_MAX_AGE_SECONDS: f64 = 3600.0;

/// TCP_TIMEWAIT_LEN, fixed in the kernel.
const TIME_WAIT_SECONDS: f64 = crate::facts::TIME_WAIT_SECONDS as f64;

fn tcp(facts: &Facts) -> &CounterMap {
    &facts.counters.tcp
}

fn tcp_ext(facts: &Facts) -> &CounterMap {
    &facts.counters.tcp_ext
}

fn counter_delta(
    first: &Facts,
    second: &Facts,
    table: fn(&Facts) -> &CounterMap,
    names: &[&str],
) -> f64 {
    names
        .iter()
        .map(|name| {
            let before = table(first).get(*name).copied().unwrap_or(0);
            let after = table(second).get(*name).copied().unwrap_or(0);
            // Counters only grow; a smaller value means they were reset.
            (after - before).max(0) as f64
        })
        .sum()
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Window lengths to the millisecond: two checks a moment apart still have
/// a window, and a rate.
fn milliseconds(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Compares two readings taken `seconds` apart.
pub fn compare(first: &Facts, second: &Facts, seconds: f64) -> Sample {
    let seconds = seconds.max(0.001);
    let active = counter_delta(first, second, tcp, &["ActiveOpens"]) / seconds;
    let passive = counter_delta(first, second, tcp, &["PassiveOpens"]) / seconds;
    let entries = counter_delta(first, second, tcp_ext, &["TW"]) / seconds;
    let sustainable = second
        .usable_ports()
        .filter(|ports| *ports > 0)
        .map(|ports| ports as f64 / TIME_WAIT_SECONDS);
    let destinations = second
        .census
        .time_wait_destinations()
        .into_iter()
        .map(|(destination, count)| {
            let before = first
                .census
                .time_wait_by_destination
                .get(&destination)
                .copied()
                .unwrap_or(0);
            let rate = ((count as f64 - before as f64) / seconds
                + before as f64 / TIME_WAIT_SECONDS)
                .max(0.0);
            DestinationRate {
                destination: destination.to_string(),
                time_wait: count,
                connections_per_second: round(rate),
                sustainable_per_second: sustainable.map(round),
                usage: sustainable.map(|limit| (rate / limit * 1000.0).round() / 1000.0),
            }
        })
        .collect();
    Sample {
        seconds,
        active_opens_per_second: round(active),
        passive_opens_per_second: round(passive),
        time_wait_entries_per_second: round(entries),
        steady_state_time_wait: (entries * TIME_WAIT_SECONDS).round(),
        tcp_max_tw_buckets: second.integer("net.ipv4.tcp_max_tw_buckets"),
        destinations,
    }
}

/// Each counter's change from `before` to `after`; None when any counter
/// went down (the namespace or the kernel started again in between).
fn changes(before: &Counters, after: &Counters) -> Option<Counters> {
    let table = |before: &CounterMap, after: &CounterMap| -> Option<CounterMap> {
        after
            .iter()
            .map(|(name, value)| {
                let earlier = before.get(name).copied().unwrap_or(0);
                // `Tcp: MaxConn` is the constant -1 and CurrEstab a gauge:
                // neither is a counter that can be reset.
                if value < &earlier && name != "CurrEstab" {
                    return None;
                }
                Some((name.clone(), value - earlier))
            })
            .collect()
    };
    Some(Counters {
        tcp_ext: table(&before.tcp_ext, &after.tcp_ext)?,
        tcp: table(&before.tcp, &after.tcp)?,
        conntrack: table(&before.conntrack, &after.conntrack)?,
    })
}

/// The counters over a `--sample`: the second reading minus the first.
pub fn sampled_window(first: &Facts, second: &Facts, seconds: f64) -> CounterWindow {
    match changes(&first.counters, &second.counters) {
        Some(changes) => CounterWindow {
            basis: CounterBasis::Sample,
            seconds: Some(milliseconds(seconds)),
            note: format!("two readings {seconds:.1} s apart (--sample)"),
            changes,
        },
        None => lifetime(
            &second.counters,
            "the counters went down during --sample (the namespace restarted)".to_owned(),
        ),
    }
}

/// The counters since a previous run's reading, when it is recent enough;
/// otherwise the lifetime totals with the reason.
pub fn window_since(previous: Option<&PreviousCounters>, now: &Counters) -> CounterWindow {
    let Some(previous) = previous else {
        return lifetime(
            now,
            "no earlier reading kept for this namespace: these are totals since it started; run check again later or use --sample".to_owned(),
        );
    };
    if previous.age_seconds <= 0.0 {
        return lifetime(
            now,
            format!(
                "the reading in {} is not older than this one (the clock went back): totals since the namespace started",
                previous.path
            ),
        );
    }
    if previous.age_seconds > PREVIOUS_RUN_MAX_AGE_SECONDS {
        return lifetime(
            now,
            format!(
                "the reading in {} is {:.0} s old, more than the {PREVIOUS_RUN_MAX_AGE_SECONDS:.0} s a rate is taken over: totals since the namespace started",
                previous.path, previous.age_seconds
            ),
        );
    }
    match changes(&previous.counters, now) {
        Some(changes) => CounterWindow {
            basis: CounterBasis::PreviousRun,
            seconds: Some(milliseconds(previous.age_seconds)),
            note: format!(
                "since the reading kept in {} {:.0} s ago (rates are taken over at most {PREVIOUS_RUN_MAX_AGE_SECONDS:.0} s)",
                previous.path, previous.age_seconds
            ),
            changes,
        },
        None => lifetime(
            now,
            format!(
                "the counters are lower than in {} (the namespace or the kernel started again): totals since then",
                previous.path
            ),
        ),
    }
}

fn lifetime(now: &Counters, note: String) -> CounterWindow {
    CounterWindow {
        basis: CounterBasis::Lifetime,
        seconds: None,
        note,
        changes: now.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::TcpState;
    use crate::rules::testing::facts;

    #[test]
    fn rates_and_steady_state_follow_the_60_second_rule() {
        let mut first = facts(
            "6.18.0",
            &[
                ("net.ipv4.ip_local_port_range", "32768 60999"),
                ("net.ipv4.tcp_max_tw_buckets", "131072"),
            ],
        );
        first.counters.tcp.insert("ActiveOpens".into(), 1000);
        first.counters.tcp_ext.insert("TW".into(), 500);
        first.census.states.set(TcpState::TimeWait, 6000);
        let destination: std::net::SocketAddr = "10.0.0.7:5432".parse().unwrap();
        first
            .census
            .time_wait_by_destination
            .insert(destination, 6000);
        let mut second = first.clone();
        second.counters.tcp.insert("ActiveOpens".into(), 2000);
        second.counters.tcp_ext.insert("TW".into(), 1500);
        second.census.states.set(TcpState::TimeWait, 6000);
        second
            .census
            .time_wait_by_destination
            .insert(destination, 6000);
        let sample = compare(&first, &second, 10.0);
        assert_eq!(sample.active_opens_per_second, 100.0);
        // 1000 entered TIME_WAIT in 10 s: 100/s, so 6000 in steady state.
        assert_eq!(sample.time_wait_entries_per_second, 100.0);
        assert_eq!(sample.steady_state_time_wait, 6000.0);
        let row = &sample.destinations[0];
        assert_eq!(row.connections_per_second, 100.0);
        // 28232 ports / 60 s = 470.5 per second.
        assert_eq!(row.sustainable_per_second, Some(470.5));
        assert_eq!(row.usage, Some(0.213));
    }

    fn counters(overflows: i64) -> Counters {
        let mut counters = Counters::default();
        counters.tcp_ext.insert("ListenOverflows".into(), overflows);
        counters
    }

    fn previous(overflows: i64, age_seconds: f64) -> PreviousCounters {
        PreviousCounters {
            counters: counters(overflows),
            taken_at: 0.0,
            age_seconds,
            path: "/state/counters.json".into(),
        }
    }

    #[test]
    fn a_recent_previous_reading_gives_the_change_since() {
        let window = window_since(Some(&previous(10, 30.0)), &counters(25));
        assert_eq!(window.basis, CounterBasis::PreviousRun);
        assert_eq!(window.seconds, Some(30.0));
        assert_eq!(window.tcp_ext("ListenOverflows"), Some(15));
        assert_eq!(window.per_second(15), Some(0.5));
    }

    #[test]
    fn without_a_usable_reading_the_totals_are_lifetime() {
        for (previous, why) in [
            (None, "no earlier reading"),
            (Some(previous(10, 7200.0)), "7200 s old"),
            (Some(previous(10, -5.0)), "clock went back"),
            (Some(previous(99, 30.0)), "started again"),
        ] {
            let window = window_since(previous.as_ref(), &counters(25));
            assert_eq!(window.basis, CounterBasis::Lifetime, "{why}");
            assert_eq!(window.tcp_ext("ListenOverflows"), Some(25), "{why}");
            assert!(window.note.contains(why), "{}", window.note);
            assert_eq!(window.per_second(25), None);
        }
    }
}
