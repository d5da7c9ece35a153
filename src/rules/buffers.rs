//! `buffer-limited`: long, busy connections that a buffer held back, from
//! their own `tcp_info` (the busy and limited times exist from 4.10).
//!
//! The kernel counts how long a connection had data to send
//! (`tcpi_busy_time`) and how much of that time the next segment did not
//! fit the peer's advertised window (`tcpi_rwnd_limited`) or everything
//! written was in flight while the application waited for send-buffer
//! space (`tcpi_sndbuf_limited`). Being limited is not yet evidence that a
//! bigger buffer helps: a window-limited connection delivers about
//! window / RTT, so its delivery rate times its RTT only gives the window
//! back, and a path that is already full would only queue more. So a
//! connection counts only when
//!
//! - it built no queue of its own: its smoothed RTT is below twice its
//!   minimum RTT (plus a millisecond of scheduling noise) — a window that
//!   overfills the path queues at its bottleneck, and a queue as long as
//!   the path's own delay doubles the RTT (other traffic's queues on the
//!   way make the RTT vary less than that); and
//! - its congestion window, which grows only while nothing signals a full
//!   path (in slow start while cwnd < 2 × max_packets_out, v6.12
//!   include/net/tcp.h:1396-1397), allows more bytes in flight than the
//!   window or buffer lets it use. cwnd × mss is then a lower bound of what
//!   the path carries per round trip, and the fix asks for a buffer sized
//!   from it; a connection still limited afterwards shows again.
//!
//! A send buffer counts only once it has grown to `tcp_wmem[2]`
//! (`SK_MEMINFO_SNDBUF`): below it, or above it by SO_SNDBUF (which stops
//! autotuning, v6.12 net/ipv4/tcp_input.c:562-563), the sysctl is not what
//! holds it back. The receive window is the peer's: its `tcp_rmem[2]`,
//! or an application that reads slowly; the fix says both.

use std::net::SocketAddr;

use crate::census::{BusyTimes, LimitedConnection};
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

const RMEM: &str = "net.ipv4.tcp_rmem";
const WMEM: &str = "net.ipv4.tcp_wmem";

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[RMEM, WMEM],
    evaluate,
};

/// Connections named in a finding's evidence.
const MAX_NAMED: usize = 5;

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let mut by_window = Vec::new();
    let mut by_send_buffer = Vec::new();
    let send_buffer_max = maximum(facts, WMEM);
    for connection in &facts.census.buffer_limited {
        let Some(judged) = Judged::of(connection) else {
            continue;
        };
        let busy = connection.busy;
        let window_limited = busy.receive_window_limited_us.saturating_mul(4) >= busy.busy_us
            && connection
                .info
                .send_window
                .is_none_or(|window| judged.in_flight_allowed > u64::from(window));
        // Autotuning reached the sysctl's maximum (SO_SNDBUF would have
        // stopped it below or set it above).
        let at_maximum = match (send_buffer_max, connection.info.send_buffer) {
            (Some(maximum), Some(buffer)) => {
                u64::from(buffer) == maximum && judged.send_buffer_wanted() > maximum
            }
            _ => false,
        };
        let send_buffer_limited =
            busy.send_buffer_limited_us.saturating_mul(4) >= busy.busy_us && at_maximum;
        if send_buffer_limited {
            by_send_buffer.push(judged);
        }
        if window_limited {
            by_window.push(judged);
        }
    }
    let mut findings = Vec::new();
    if let Some(finding) = window_finding(facts, &by_window) {
        findings.push(finding);
    }
    if let Some(finding) =
        send_buffer_max.and_then(|maximum| send_buffer_finding(maximum, &by_send_buffer))
    {
        findings.push(finding);
    }
    findings
}

/// The third field of a buffer triple (`min default max`).
fn maximum(facts: &Facts, key: &str) -> Option<u64> {
    let third = *facts.value(key)?.integers()?.get(2)?;
    u64::try_from(third).ok()
}

/// A limited connection that passed the evidence tests.
#[derive(Clone, Copy)]
struct Judged<'a> {
    connection: &'a LimitedConnection,
    /// cwnd × mss: what congestion control lets it have in flight.
    in_flight_allowed: u64,
}

impl<'a> Judged<'a> {
    fn of(connection: &'a LimitedConnection) -> Option<Judged<'a>> {
        let info = &connection.info;
        let min_rtt = u64::from(info.min_rtt_us?);
        let rtt = u64::from(info.rtt_us);
        // No queue of its own: smoothed RTT below twice the minimum, plus
        // 1 ms.
        if min_rtt == 0 || rtt > min_rtt * 2 + 1_000 {
            return None;
        }
        Some(Judged {
            connection,
            in_flight_allowed: u64::from(info.congestion_window) * u64::from(info.send_mss),
        })
    }

    /// A send buffer for the congestion window: in-flight data plus the
    /// kernel's per-segment memory, which for Ethernet-sized segments is
    /// about as much again; the kernel's own sizing doubles that
    /// (tcp_sndbuf_expand, v6.12 net/ipv4/tcp_input.c:431-450).
    fn send_buffer_wanted(&self) -> u64 {
        self.in_flight_allowed.saturating_mul(4)
    }

    /// " (from java, pid 42) for 99% of 3.1 s{extra}, while congestion
    /// control allowed ... (RTT ...)": the evidence a message names.
    fn describe(&self, limited_us: u64, extra: &str) -> String {
        let connection = self.connection;
        format!(
            "{} for {:.0}% of {:.1} s{extra}, while congestion control allowed {} bytes in flight and the RTT stayed near its minimum ({} µs, minimum {} µs)",
            held_by(connection),
            self.share(limited_us) * 100.0,
            connection.busy.busy_us as f64 / 1e6,
            self.in_flight_allowed,
            connection.info.rtt_us,
            connection.info.min_rtt_us.unwrap_or(0),
        )
    }

    fn share(&self, limited_us: u64) -> f64 {
        limited_us as f64 / self.connection.busy.busy_us.max(1) as f64
    }

    fn evidence(&self, limited_us: u64) -> serde_json::Value {
        let connection = self.connection;
        let info = &connection.info;
        serde_json::json!({
            "local": connection.local.to_string(),
            "peer": connection.remote.to_string(),
            "busy_seconds": seconds(connection.busy.busy_us),
            "limited_seconds": seconds(limited_us),
            "limited_share": round(self.share(limited_us)),
            "rtt_us": info.rtt_us,
            "min_rtt_us": info.min_rtt_us,
            "congestion_window_bytes": self.in_flight_allowed,
            "peer_window_bytes": info.send_window,
            "send_buffer_bytes": info.send_buffer,
            "delivery_rate_bytes_per_second": info.delivery_rate,
            "bytes_acked": info.bytes_acked,
            "process": connection.holder,
        })
    }
}

fn seconds(microseconds: u64) -> f64 {
    round(microseconds as f64 / 1e6)
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The smallest power of two at or above `bytes` (at least 1 MiB): buffer
/// maxima are usually written that way, and the estimate is a lower bound.
fn suggested(bytes: u64) -> u64 {
    bytes
        .max(1 << 20)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX)
}

/// The first connections, each with the limited time `limited` picks.
fn named(judged: &[Judged<'_>], limited: fn(&BusyTimes) -> u64) -> serde_json::Value {
    judged
        .iter()
        .take(MAX_NAMED)
        .map(|judged| judged.evidence(limited(&judged.connection.busy)))
        .collect()
}

/// "3 connections spent most of their busy time".
fn connections_spent(count: usize) -> String {
    if count == 1 {
        "1 connection spent most of its busy time".to_owned()
    } else {
        format!("{count} connections spent most of their busy time")
    }
}

/// " (from java, pid 42)": who holds the connection, when known.
fn held_by(connection: &LimitedConnection) -> String {
    connection
        .holder
        .as_ref()
        .map(|holder| format!(" (from {}, pid {})", holder.comm, holder.pid))
        .unwrap_or_default()
}

fn is_local(address: &SocketAddr, local: &SocketAddr) -> bool {
    address.ip().is_loopback() || address.ip() == local.ip()
}

fn window_finding(facts: &Facts, judged: &[Judged<'_>]) -> Option<Finding> {
    let worst = judged.first()?;
    let connection = worst.connection;
    let busy = connection.busy;
    let wanted = judged
        .iter()
        .map(|judged| judged.in_flight_allowed.saturating_mul(2))
        .max()
        .unwrap_or(0);
    let value = suggested(wanted);
    let peer = connection.remote;
    let local_peer = is_local(&peer, &connection.local);
    let window = connection
        .info
        .send_window
        .map(|window| format!(", a window of {window} bytes"))
        .unwrap_or_default();
    let message = format!(
        "{} held back by the peer's receive window: {peer}{}",
        connections_spent(judged.len()),
        worst.describe(busy.receive_window_limited_us, &window),
    );
    let mut finding = Finding::new(
        Code::BufferLimited,
        // The fix is on this host only when the peer is.
        if local_peer {
            Severity::Warning
        } else {
            Severity::Info
        },
        message,
    )
    .rationale(format!(
        "A sender may have no more unacknowledged bytes in flight than the receiver's advertised window, so a window below the bandwidth-delay product caps a connection at window / RTT however fast the path is. That cap cannot be read from the connection's own delivery rate, which the window limits too; the evidence is elsewhere: the connection built no queue of its own (its smoothed RTT stayed below twice its minimum), so the path was not full, and its congestion window, which grows only while nothing signals a full path, allows more in flight than the window does. cwnd × mss is therefore a lower bound of what the path carries per round trip. The window is the receiver's: its tcp_rmem[2] caps how far receive autotuning grows it, and an application that reads slowly shrinks it whatever the maximum.{}",
        match maximum(facts, RMEM) {
            Some(here) if local_peer => format!(" This host's {RMEM} maximum is {here}."),
            _ => String::new(),
        }
    ))
    .evidence("limit", "receive_window")
    .evidence(
        "connections",
        named(judged, |busy| busy.receive_window_limited_us),
    )
    .evidence("suggested_maximum_bytes", value)
    .fix(format!(
        "on {} ({}), check that the application reads promptly (its Recv-Q in `ss -tn` stays near 0); if it does, raise the third field of {RMEM} to at least {value} (twice the largest congestion window seen, {} bytes, for the kernel's per-packet overhead in the same buffer), and check again: a connection still limited shows again",
        if local_peer { "this host" } else { "the peer" },
        peer.ip(),
        wanted / 2,
    ));
    if local_peer {
        finding = finding.key(RMEM);
    }
    Some(finding)
}

fn send_buffer_finding(maximum: u64, judged: &[Judged<'_>]) -> Option<Finding> {
    let worst = judged.first()?;
    let wanted = judged
        .iter()
        .map(Judged::send_buffer_wanted)
        .max()
        .unwrap_or(0);
    let value = suggested(wanted);
    let connection = worst.connection;
    let busy = connection.busy;
    let finding = Finding::new(
        Code::BufferLimited,
        Severity::Warning,
        format!(
            "{} waiting for send-buffer space with the buffer at {WMEM}'s maximum of {maximum} bytes: toward {}{}",
            connections_spent(judged.len()),
            connection.remote,
            worst.describe(busy.send_buffer_limited_us, ""),
        ),
    )
    .key(WMEM)
    .rationale("Data stays in the send buffer until it is acknowledged, so a send buffer smaller than the bandwidth-delay product (plus the kernel's per-segment memory) caps a connection at about buffer / RTT. The kernel counts the time everything written was in flight while the application waited for space; autotuning grows the buffer with the congestion window only up to tcp_wmem[2], and this buffer is there. The path's capacity is not read from the delivery rate, which the buffer limits too: the connection built no queue of its own (its smoothed RTT stayed below twice its minimum), so the path was not full, and its congestion window allows more in flight than the buffer holds; cwnd × mss is a lower bound of what the path carries per round trip.")
    .current(maximum)
    .evidence("limit", "send_buffer")
    .evidence("connections", named(judged, |busy| busy.send_buffer_limited_us))
    .evidence("suggested_maximum_bytes", value)
    .fix(format!(
        "raise the third field of {WMEM} to {value} (four times the largest congestion window seen, {} bytes: in-flight data, the kernel's per-segment memory, and the headroom its own sizing keeps), and check again: a connection still limited shows again",
        wanted / 4
    ));
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::{BusyTimes, SocketInfo};
    use crate::rules::testing::{builtin, facts};

    fn limited(
        remote: &str,
        busy: BusyTimes,
        rtt_us: u32,
        send_window: Option<u32>,
        send_buffer: Option<u32>,
    ) -> LimitedConnection {
        LimitedConnection {
            local: "10.9.0.1:40000".parse().unwrap(),
            remote: remote.parse().unwrap(),
            info: SocketInfo {
                send_mss: 1448,
                congestion_window: 97,
                rtt_us,
                min_rtt_us: Some(10_000),
                bytes_acked: Some(12 << 20),
                delivery_rate: Some(4_000_000),
                busy: Some(busy),
                send_window,
                send_buffer,
                ..SocketInfo::default()
            },
            busy,
            inode: 9,
            holder: None,
        }
    }

    fn window_limited() -> BusyTimes {
        BusyTimes {
            busy_us: 3_120_000,
            receive_window_limited_us: 3_088_000,
            send_buffer_limited_us: 0,
        }
    }

    fn buffer_limited() -> BusyTimes {
        BusyTimes {
            busy_us: 3_000_000,
            receive_window_limited_us: 0,
            send_buffer_limited_us: 2_400_000,
        }
    }

    const BUFFERS: [(&str, &str); 2] = [(RMEM, "4096 131072 6291456"), (WMEM, "4096 16384 65536")];

    #[test]
    fn a_window_below_what_congestion_control_allows_names_the_peer_and_a_value() {
        let mut facts = facts("6.18.0", &BUFFERS);
        let mut connection = limited(
            "10.9.0.2:7300",
            window_limited(),
            11_300,
            Some(48_896),
            None,
        );
        connection.holder = Some(crate::census::SocketOwner {
            pid: 42,
            comm: "backup".into(),
        });
        facts.census.buffer_limited = vec![connection];
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(finding.code, Code::BufferLimited);
        // The peer is another host: its setting, not ours.
        assert_eq!(finding.severity, Severity::Info);
        assert_eq!(finding.key, None);
        assert_eq!(
            finding.message,
            "1 connection spent most of its busy time held back by the peer's receive window: 10.9.0.2:7300 (from backup, pid 42) for 99% of 3.1 s, a window of 48896 bytes, while congestion control allowed 140456 bytes in flight and the RTT stayed near its minimum (11300 µs, minimum 10000 µs)"
        );
        assert_eq!(finding.evidence["limit"], "receive_window");
        assert_eq!(finding.evidence["suggested_maximum_bytes"], 1 << 20);
        assert_eq!(finding.evidence["connections"][0]["limited_share"], 0.99);
        assert!(
            finding.fix.starts_with("on the peer (10.9.0.2)"),
            "{}",
            finding.fix
        );
        assert!(
            finding
                .fix
                .contains("twice the largest congestion window seen, 140456 bytes"),
            "{}",
            finding.fix
        );
    }

    #[test]
    fn a_connection_that_built_a_queue_or_fills_its_window_is_not_advice() {
        let mut facts = facts("6.18.0", &BUFFERS);
        // RTT twice its minimum: the path is full, a bigger window queues.
        let queued = limited(
            "10.9.0.2:7300",
            window_limited(),
            23_000,
            Some(48_896),
            None,
        );
        // The congestion window is no larger than the peer's window.
        let mut filled = limited(
            "10.9.0.3:7300",
            window_limited(),
            11_000,
            Some(200_000),
            None,
        );
        filled.info.congestion_window = 100;
        facts.census.buffer_limited = vec![queued, filled];
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }

    #[test]
    fn a_send_buffer_at_the_maximum_names_tcp_wmem() {
        let mut facts = facts("6.18.0", &BUFFERS);
        facts.census.buffer_limited = vec![limited(
            "10.9.0.2:7300",
            buffer_limited(),
            10_800,
            None,
            Some(65_536),
        )];
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(finding.severity, Severity::Warning);
        assert_eq!(finding.key.as_deref(), Some(WMEM));
        assert_eq!(finding.evidence["limit"], "send_buffer");
        // 4 × 97 × 1448 = 561,824 → 1 MiB.
        assert_eq!(finding.evidence["suggested_maximum_bytes"], 1 << 20);
        assert!(
            finding
                .fix
                .starts_with(&format!("raise the third field of {WMEM} to 1048576"))
        );
    }

    #[test]
    fn a_send_buffer_not_at_the_maximum_is_not_the_sysctl() {
        let mut facts = facts("6.18.0", &BUFFERS);
        // Below the maximum (autotuning did not need more), or above it
        // (SO_SNDBUF): raising tcp_wmem would change nothing.
        facts.census.buffer_limited = vec![
            limited(
                "10.9.0.2:7300",
                buffer_limited(),
                10_800,
                None,
                Some(32_768),
            ),
            limited(
                "10.9.0.3:7300",
                buffer_limited(),
                10_800,
                None,
                Some(425_984),
            ),
        ];
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }

    #[test]
    fn a_loopback_peer_is_this_hosts_setting() {
        let mut facts = facts("6.18.0", &BUFFERS);
        let mut connection = limited("127.0.0.1:7300", window_limited(), 60, Some(48_896), None);
        connection.info.min_rtt_us = Some(40);
        facts.census.buffer_limited = vec![connection];
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].key.as_deref(), Some(RMEM));
        assert!(findings[0].rationale.contains("maximum is 6291456"));
        assert!(findings[0].fix.starts_with("on this host (127.0.0.1)"));
    }
}
