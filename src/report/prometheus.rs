//! The Prometheus text exposition format, as node_exporter's textfile
//! collector reads it: `# HELP` and `# TYPE` before each metric family,
//! every name prefixed `tcptune_`, label values escaped.

use std::io::{self, Write};

use super::{
    CheckReport, DISPLAY_ORDER, Document, DocumentKind, Render, SocketsReport, destinations,
    unsupported,
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
            other => Err(unsupported("prometheus", other.kind())),
        }
    }
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
        family(
            out,
            "close_wait_owner_sockets",
            "gauge",
            "CLOSE_WAIT sockets held by one process (pid \"unknown\": no readable owner).",
        )?;
        for owner in &owners.owners {
            writeln!(
                out,
                "tcptune_close_wait_owner_sockets{{pid=\"{}\",comm=\"{}\"}} {}",
                owner.pid,
                escape(&owner.comm),
                owner.count
            )?;
        }
        writeln!(
            out,
            "tcptune_close_wait_owner_sockets{{pid=\"unknown\",comm=\"\"}} {}",
            owners.unknown
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
        "Findings of this check by code and severity.",
    )?;
    let mut counted: Vec<(Code, Severity, usize)> = Vec::new();
    for finding in report.findings {
        match counted
            .iter_mut()
            .find(|(code, severity, _)| *code == finding.code && *severity == finding.severity)
        {
            Some(entry) => entry.2 += 1,
            None => counted.push((finding.code, finding.severity, 1)),
        }
    }
    counted.sort();
    for (code, severity, count) in counted {
        writeln!(
            out,
            "tcptune_findings{{code=\"{code}\",severity=\"{severity}\"}} {count}"
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
    if let Some(sockstat) = report.facts.sockstat {
        family(
            out,
            "orphan_sockets",
            "gauge",
            "Orphaned TCP sockets (machine-wide, from sockstat).",
        )?;
        writeln!(out, "tcptune_orphan_sockets {}", sockstat.orphan)?;
    }
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
