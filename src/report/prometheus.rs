//! The Prometheus text exposition format, as node_exporter's textfile
//! collector reads it: `# HELP` and `# TYPE` before each metric family,
//! every name prefixed `tcptune_`, label values escaped.

use std::io::{self, Write};

use super::{
    CheckReport, DISPLAY_ORDER, Document, DocumentKind, KERNEL_COUNTERS, Render, SocketsReport,
    destinations, unsupported,
};
use crate::finding::{Code, Severity};

/// Destinations exported per scrape: enough for the busy ones, bounded so a
/// host with 100k destinations does not explode the series count.
const MAX_DESTINATIONS: usize = 50;

/// A label value: other control characters and invisible ones shown
/// visibly first (as for a terminal), then `\`, `"` and newlines escaped as
/// the exposition format requires.
fn escape(value: &str) -> String {
    crate::text::escape(value)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// node_exporter's textfile format, for `check` and `sockets`.
pub struct Prometheus;

impl Render for Prometheus {
    fn prints(&self, kind: DocumentKind) -> bool {
        matches!(kind, DocumentKind::Check | DocumentKind::Sockets)
    }

    fn render(&self, out: &mut dyn Write, document: &Document<'_>) -> io::Result<()> {
        match document {
            Document::Check(report) => check(out, report),
            Document::Sockets(report) => sockets(out, report),
            Document::PerNamespace(all) => per_namespace(self, out, all),
            other => Err(unsupported("prometheus", other.kind())),
        }
    }
}

/// Every namespace's metrics, one family at a time (the exposition format
/// wants a family's samples together), each sample labelled with `netns`
/// and `pod` (empty when none is known).
fn per_namespace(
    format: &Prometheus,
    out: &mut dyn Write,
    all: &super::PerNamespace<'_>,
) -> io::Result<()> {
    // family name -> (HELP and TYPE lines, samples)
    let mut families: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for section in all.sections {
        let mut text = Vec::new();
        format.render(&mut text, &section.document)?;
        let labels = format!(
            "netns=\"{}\",pod=\"{}\"",
            escape(&section.namespace.label()),
            escape(&section.namespace.pod().unwrap_or_default())
        );
        let mut current: Option<usize> = None;
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                let name = rest.split(' ').next().unwrap_or_default().to_owned();
                let at = match families.iter().position(|(known, _, _)| *known == name) {
                    Some(at) => at,
                    None => {
                        families.push((name, Vec::new(), Vec::new()));
                        families.len() - 1
                    }
                };
                if families[at].1.len() < 2 {
                    families[at].1.push(line.to_owned());
                }
                current = Some(at);
            } else if let Some(at) = current {
                let labelled = match line.split_once('{') {
                    Some((name, rest)) if rest.starts_with('}') => {
                        format!("{name}{{{labels}{rest}")
                    }
                    Some((name, rest)) => format!("{name}{{{labels},{rest}"),
                    None => match line.split_once(' ') {
                        Some((name, value)) => format!("{name}{{{labels}}} {value}"),
                        None => line.to_owned(),
                    },
                };
                families[at].2.push(labelled);
            }
        }
    }
    for (_, header, samples) in families {
        for line in header.iter().chain(&samples) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn family(out: &mut dyn Write, name: &str, kind: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP tcptune_{name} {help}")?;
    writeln!(out, "# TYPE tcptune_{name} {kind}")
}

fn states(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    family(
        out,
        "tcp_sockets",
        "gauge",
        "TCP sockets in this network namespace by state.",
    )?;
    for state in DISPLAY_ORDER {
        writeln!(
            out,
            "tcptune_tcp_sockets{{state=\"{}\"}} {}",
            state.name(),
            facts.census.states.get(state)
        )?;
    }
    let rows = destinations(facts);
    if !rows.is_empty() {
        family(
            out,
            "time_wait_destination_sockets",
            "gauge",
            "TIME_WAIT sockets toward one remote address and port.",
        )?;
        for row in rows.iter().take(MAX_DESTINATIONS) {
            writeln!(
                out,
                "tcptune_time_wait_destination_sockets{{destination=\"{}\"}} {}",
                escape(&row.destination),
                row.count
            )?;
        }
        if rows.iter().any(|row| row.usage.is_some()) {
            family(
                out,
                "time_wait_destination_port_usage_ratio",
                "gauge",
                "Share of the usable local port range held in TIME_WAIT toward one destination.",
            )?;
            for row in rows.iter().take(MAX_DESTINATIONS) {
                if let Some(usage) = row.usage {
                    writeln!(
                        out,
                        "tcptune_time_wait_destination_port_usage_ratio{{destination=\"{}\"}} {usage}",
                        escape(&row.destination)
                    )?;
                }
            }
        }
    }
    if let Some(owners) = &facts.close_wait_owners {
        // By command name, not pid: pids change with every restart and
        // would make each restart a new series; the leak is the program's.
        family(
            out,
            "close_wait_owner_sockets",
            "gauge",
            "CLOSE_WAIT sockets held by the processes of one command name.",
        )?;
        let mut by_comm: Vec<(&str, u64)> = Vec::new();
        for owner in &owners.owners {
            match by_comm.iter_mut().find(|(comm, _)| *comm == owner.comm) {
                Some(entry) => entry.1 += owner.count,
                None => by_comm.push((&owner.comm, owner.count)),
            }
        }
        by_comm.sort();
        for (comm, count) in by_comm {
            writeln!(
                out,
                "tcptune_close_wait_owner_sockets{{comm=\"{}\"}} {count}",
                escape(comm)
            )?;
        }
        family(
            out,
            "close_wait_unowned_sockets",
            "gauge",
            "CLOSE_WAIT sockets whose holding process could not be read.",
        )?;
        writeln!(out, "tcptune_close_wait_unowned_sockets {}", owners.unknown)?;
    }
    listeners(out, facts)?;
    retransmitting_peers(out, facts)?;
    connection_evidence(out, facts)?;
    limits(out, facts)?;
    counters(out, facts)
}

/// Peers exported per scrape, the most retransmissions first.
const MAX_PEERS: usize = 20;

/// Segments retransmitted by the open connections toward each peer (from
/// `tcp_info`, which only `check` asks for).
fn retransmitting_peers(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    let mut peers: Vec<_> = facts.census.retransmits_by_peer.iter().collect();
    if peers.is_empty() {
        return Ok(());
    }
    peers.sort_by(|a, b| b.1.segments.cmp(&a.1.segments).then(a.0.cmp(b.0)));
    peers.truncate(MAX_PEERS);
    family(
        out,
        "peer_retransmitted_segments",
        "gauge",
        "Segments retransmitted over their lifetime by the connections open now toward one peer (tcpi_total_retrans summed).",
    )?;
    for (peer, counts) in peers {
        writeln!(
            out,
            "tcptune_peer_retransmitted_segments{{peer=\"{}\"}} {}",
            escape(&peer.to_string()),
            counts.segments
        )?;
    }
    Ok(())
}

/// Idle connections past the profile's idle timeout, and connections held
/// back by a buffer (both from `tcp_info`, which only `check` asks for).
fn connection_evidence(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    let census = &facts.census;
    if let Some(after_ms) = census.idle_after_ms {
        family(
            out,
            "idle_timeout_seconds",
            "gauge",
            "The idle timeout of the load balancer or NAT on the path, as the profile names it.",
        )?;
        writeln!(out, "tcptune_idle_timeout_seconds {}", after_ms / 1000)?;
        family(
            out,
            "idle_connections",
            "gauge",
            "ESTABLISHED connections idle for at least the idle timeout, by whether a keepalive timer is pending.",
        )?;
        writeln!(
            out,
            "tcptune_idle_connections{{keepalive=\"no\"}} {}",
            census.idle.without_keepalive
        )?;
        writeln!(
            out,
            "tcptune_idle_connections{{keepalive=\"yes\"}} {}",
            census.idle.with_keepalive
        )?;
    }
    if census.busy_times.with_busy_times > 0 {
        let count = |limit: fn(&crate::census::BusyTimes) -> u64| {
            census
                .buffer_limited
                .iter()
                .filter(|connection| {
                    limit(&connection.busy).saturating_mul(4) >= connection.busy.busy_us
                })
                .count()
        };
        family(
            out,
            "buffer_limited_connections",
            "gauge",
            "Connections busy for at least 1 s that a buffer held back for at least a quarter of that time (tcpi_rwnd_limited, tcpi_sndbuf_limited), before the buffer-limited rule weighs the evidence.",
        )?;
        writeln!(
            out,
            "tcptune_buffer_limited_connections{{limit=\"receive_window\"}} {}",
            count(|busy| busy.receive_window_limited_us)
        )?;
        writeln!(
            out,
            "tcptune_buffer_limited_connections{{limit=\"send_buffer\"}} {}",
            count(|busy| busy.send_buffer_limited_us)
        )?;
    }
    Ok(())
}

/// Listeners exported per scrape, the fullest first.
const MAX_LISTENERS: usize = 50;

/// Each listener's accept queue, backlog and half-open connections, by
/// its local address (stable across restarts, unlike a pid).
fn listeners(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    let mut listeners: Vec<&crate::census::Listener> = facts.census.listeners.iter().collect();
    if listeners.is_empty() {
        return Ok(());
    }
    listeners.sort_by(|a, b| {
        b.accept_queue
            .cmp(&a.accept_queue)
            .then(b.syn_recv.cmp(&a.syn_recv))
            .then(a.local.cmp(&b.local))
    });
    listeners.truncate(MAX_LISTENERS);
    listeners.sort_by_key(|listener| listener.local);
    family(
        out,
        "listener_accept_queue",
        "gauge",
        "Connections waiting in a listener's accept queue (idiag_rqueue).",
    )?;
    for listener in &listeners {
        writeln!(
            out,
            "tcptune_listener_accept_queue{{listener=\"{}\"}} {}",
            escape(&listener.local.to_string()),
            listener.accept_queue
        )?;
    }
    if listeners.iter().any(|listener| listener.backlog.is_some()) {
        family(
            out,
            "listener_backlog",
            "gauge",
            "The backlog a listener was granted at listen() (idiag_wqueue: the request capped by somaxconn).",
        )?;
        for listener in &listeners {
            if let Some(backlog) = listener.backlog {
                writeln!(
                    out,
                    "tcptune_listener_backlog{{listener=\"{}\"}} {backlog}",
                    escape(&listener.local.to_string())
                )?;
            }
        }
    }
    family(
        out,
        "listener_syn_recv_sockets",
        "gauge",
        "Half-open connections (SYN_RECV) waiting on a listener's port.",
    )?;
    for listener in &listeners {
        writeln!(
            out,
            "tcptune_listener_syn_recv_sockets{{listener=\"{}\"}} {}",
            escape(&listener.local.to_string()),
            listener.syn_recv
        )?;
    }
    Ok(())
}

/// The limits the socket counts are judged against.
fn limits(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    if let Some(sockstat) = facts.sockstat {
        family(
            out,
            "orphan_sockets",
            "gauge",
            "Orphaned TCP sockets (machine-wide, from sockstat).",
        )?;
        writeln!(out, "tcptune_orphan_sockets {}", sockstat.orphan)?;
        family(
            out,
            "tcp_memory_pages",
            "gauge",
            "Memory all TCP sockets hold, in pages (sockstat mem; machine-wide).",
        )?;
        writeln!(out, "tcptune_tcp_memory_pages {}", sockstat.mem)?;
    }
    if let Some(values) = facts
        .value("net.ipv4.tcp_mem")
        .and_then(crate::key::Value::integers)
        && let [low, pressure, high] = values.as_slice()
    {
        family(
            out,
            "tcp_mem_pages",
            "gauge",
            "net.ipv4.tcp_mem thresholds in pages: low (no limit below), pressure, max (memory refused).",
        )?;
        for (threshold, value) in [("low", low), ("pressure", pressure), ("max", high)] {
            writeln!(
                out,
                "tcptune_tcp_mem_pages{{threshold=\"{threshold}\"}} {value}"
            )?;
        }
    }
    for (name, key, help) in [
        (
            "tcp_max_orphans",
            "net.ipv4.tcp_max_orphans",
            "net.ipv4.tcp_max_orphans: orphaned sockets past it are reset.",
        ),
        (
            "tcp_max_tw_buckets",
            "net.ipv4.tcp_max_tw_buckets",
            "net.ipv4.tcp_max_tw_buckets: closing sockets past it skip TIME_WAIT.",
        ),
    ] {
        if let Some(value) = facts.integer(key) {
            family(out, name, "gauge", help)?;
            writeln!(out, "tcptune_{name} {value}")?;
        }
    }
    for (name, key, help) in [
        (
            "conntrack_entries",
            "net.netfilter.nf_conntrack_count",
            "Connections tracked in this network namespace (nf_conntrack_count).",
        ),
        (
            "conntrack_max",
            "net.netfilter.nf_conntrack_max",
            "net.netfilter.nf_conntrack_max: the machine's limit, compared with each namespace's count.",
        ),
        (
            "conntrack_buckets",
            "net.netfilter.nf_conntrack_buckets",
            "net.netfilter.nf_conntrack_buckets: hash buckets of the connection-tracking table.",
        ),
    ] {
        if let Some(value) = facts.integer(key) {
            family(out, name, "gauge", help)?;
            writeln!(out, "tcptune_{name} {value}")?;
        }
    }
    if let Some(usable) = facts.usable_ports() {
        family(
            out,
            "usable_local_ports",
            "gauge",
            "ip_local_port_range minus the reserved ports in it: connections from one address to one destination.",
        )?;
        writeln!(out, "tcptune_usable_local_ports {usable}")?;
    }
    Ok(())
}

fn counters(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    let present: Vec<(&str, &str, i64)> = KERNEL_COUNTERS
        .iter()
        .filter_map(|(table, name)| {
            let map = super::counter_table(&facts.counters, table);
            map.get(*name).map(|value| (*table, *name, *value))
        })
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    family(
        out,
        "kernel_tcp_events_total",
        "counter",
        "Kernel counters since boot in this network namespace: TcpExt of /proc/net/netstat, Tcp of /proc/net/snmp, Conntrack of /proc/net/stat/nf_conntrack (per-CPU rows summed).",
    )?;
    for (table, name, value) in present {
        writeln!(
            out,
            "tcptune_kernel_tcp_events_total{{table=\"{table}\",counter=\"{name}\"}} {value}"
        )?;
    }
    counter_rates(out, &facts.counter_window)
}

/// The counters' change per second over the window the rules judged
/// (`--sample`, or since the previous check), so a scrape of a textfile
/// written by a timer shows rates without Prometheus keeping history.
fn counter_rates(out: &mut dyn Write, window: &crate::facts::CounterWindow) -> io::Result<()> {
    family(
        out,
        "rate_window_seconds",
        "gauge",
        "Seconds the counter rates cover, by basis (sample, previous_run); 0 with basis lifetime, where no rate is known.",
    )?;
    let basis = match serde_json::to_value(window.basis) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    };
    writeln!(
        out,
        "tcptune_rate_window_seconds{{basis=\"{basis}\"}} {}",
        window.seconds.unwrap_or(0.0)
    )?;
    let rates: Vec<(&str, &str, f64)> = KERNEL_COUNTERS
        .iter()
        .filter_map(|(table, name)| {
            let change = super::counter_table(&window.changes, table)
                .get(*name)
                .copied()?;
            window.per_second(change).map(|rate| (*table, *name, rate))
        })
        .collect();
    if rates.is_empty() {
        return Ok(());
    }
    family(
        out,
        "kernel_tcp_events_per_second",
        "gauge",
        "Kernel TCP counters' change per second over tcptune_rate_window_seconds.",
    )?;
    for (table, name, rate) in rates {
        writeln!(
            out,
            "tcptune_kernel_tcp_events_per_second{{table=\"{table}\",counter=\"{name}\"}} {rate}"
        )?;
    }
    Ok(())
}

fn check(out: &mut dyn Write, report: &CheckReport<'_>) -> io::Result<()> {
    family(
        out,
        "info",
        "gauge",
        "tcptune version, kernel release and profile of this check.",
    )?;
    writeln!(
        out,
        "tcptune_info{{version=\"{}\",kernel=\"{}\",profile=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        escape(report.kernel),
        escape(&report.profile.name)
    )?;
    family(
        out,
        "findings",
        "gauge",
        "Findings of this check by code, severity and key (empty for findings about no key).",
    )?;
    let mut counted: Vec<(Code, Severity, &str, usize)> = Vec::new();
    for finding in report.findings {
        let key = finding.key.as_deref().unwrap_or("");
        match counted.iter_mut().find(|(code, severity, known, _)| {
            *code == finding.code && *severity == finding.severity && *known == key
        }) {
            Some(entry) => entry.3 += 1,
            None => counted.push((finding.code, finding.severity, key, 1)),
        }
    }
    counted.sort();
    for (code, severity, key, count) in counted {
        writeln!(
            out,
            "tcptune_findings{{code=\"{code}\",severity=\"{severity}\",key=\"{}\"}} {count}",
            escape(key)
        )?;
    }
    family(
        out,
        "findings_by_severity",
        "gauge",
        "Findings of this check by severity, zero included.",
    )?;
    for (severity, count) in [
        (Severity::Error, report.summary.error),
        (Severity::Warning, report.summary.warning),
        (Severity::Info, report.summary.info),
    ] {
        writeln!(
            out,
            "tcptune_findings_by_severity{{severity=\"{severity}\"}} {count}"
        )?;
    }
    states(out, report.facts)?;
    super::finish(out)
}

fn sockets(out: &mut dyn Write, report: &SocketsReport<'_>) -> io::Result<()> {
    states(out, report.facts)?;
    super::finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        // Quote and backslash as the format requires; a newline or an
        // escape sequence shown visibly, never as a line break or raw ESC.
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(escape("c\nd"), "c\\\\nd");
        assert_eq!(escape("\u{1b}]0;x\u{7}"), "\\\\u{1b}]0;x\\\\u{7}");
    }
}
