//! Rates from two readings a few seconds apart: connections per second, the
//! TIME_WAIT they imply, and per destination how close the rate of new
//! connections is to what the local port range can sustain.
//!
//! The arithmetic operators get wrong, made explicit: a TIME_WAIT socket
//! lasts a fixed 60 s, so the steady-state TIME_WAIT count is the rate at
//! which this host closes connections first times 60, and toward one
//! destination a source address can open at most (usable ports / 60) new
//! connections per second without tcp_tw_reuse.

use crate::facts::{CounterMap, DestinationRate, Facts, Sample};

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
}
