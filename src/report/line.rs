//! One line for plugin monitors: node-problem-detector's custom plugins (and
//! Nagios-style checks) read the first line of stdout as the condition's
//! message, the exit code as its status (0 OK, 1 problem, anything else
//! unknown) and cut the message at `max_output_length` bytes (80 by
//! default). So the line starts with the verdict and the most severe
//! findings, is plain ASCII (a cut never splits a character), and an error
//! is reported on stdout too, where the detector looks.

use std::io::{self, Write};

use super::{CheckReport, Document, DocumentKind, Render, unsupported};
use crate::error::Error;
use crate::finding::{Finding, Severity};

/// `check` as one line.
pub struct Line;

impl Render for Line {
    fn prints(&self, kind: DocumentKind) -> bool {
        kind == DocumentKind::Check
    }

    fn render(&self, out: &mut dyn Write, document: &Document<'_>) -> io::Result<()> {
        match document {
            Document::Check(report) => check(out, report),
            Document::PerNamespace(all) => per_namespace(out, all),
            other => Err(unsupported("line", other.kind())),
        }
    }

    fn failure(&self, out: &mut dyn Write, error: &Error) -> io::Result<bool> {
        let message = error.to_string();
        let first = message.lines().next().unwrap_or("");
        writeln!(out, "tcptune: cannot check: {}", ascii(first))?;
        out.flush()?;
        Ok(true)
    }
}

/// Printable ASCII only: anything else is shown as `\u{...}`, so the line
/// stays one line and a byte cut stays valid text.
fn ascii(text: &str) -> String {
    text.chars()
        .flat_map(|ch| {
            if ch == ' ' || ch.is_ascii_graphic() {
                vec![ch]
            } else {
                ch.escape_unicode().collect()
            }
        })
        .collect()
}

/// `close-wait-leak (java 2000)`: a finding's code and what it is about.
fn mention(finding: &Finding) -> String {
    match &finding.key {
        Some(key) => format!("{} {}", finding.code, ascii(key)),
        None => finding.code.to_string(),
    }
}

/// `check --all-netns`: the line of the namespace with the worst findings,
/// naming it and how many others have findings too.
fn per_namespace(out: &mut dyn Write, all: &super::PerNamespace<'_>) -> io::Result<()> {
    let checks: Vec<(&super::Section<'_>, &CheckReport<'_>)> = all
        .sections
        .iter()
        .filter_map(|section| match &section.document {
            Document::Check(report) => Some((section, *report)),
            _ => None,
        })
        .collect();
    let with_findings = checks
        .iter()
        .filter(|(_, report)| !report.findings.is_empty())
        .count();
    let worst = checks
        .iter()
        .filter(|(_, report)| !report.findings.is_empty())
        .max_by_key(|(_, report)| {
            let summary = report.summary;
            (summary.error, summary.warning, summary.info)
        });
    let Some((section, report)) = worst else {
        writeln!(
            out,
            "tcptune: OK, no findings in {} network namespaces",
            checks.len()
        )?;
        return super::finish(out);
    };
    let mut line = Vec::new();
    check(&mut line, report)?;
    let text = String::from_utf8_lossy(&line);
    let others = match with_findings {
        0 | 1 => String::new(),
        more => format!(" (+{} more)", more - 1),
    };
    writeln!(
        out,
        "tcptune: netns {}{others}: {}",
        ascii(&section.namespace.label()),
        text.trim_end()
            .strip_prefix("tcptune: ")
            .unwrap_or(text.trim_end())
    )?;
    super::finish(out)
}

fn check(out: &mut dyn Write, report: &CheckReport<'_>) -> io::Result<()> {
    let summary = report.summary;
    if report.findings.is_empty() {
        writeln!(
            out,
            "tcptune: OK, no findings (profile {}, kernel {})",
            ascii(&report.profile.name),
            ascii(report.kernel)
        )?;
        return super::finish(out);
    }
    let mut counts = Vec::new();
    for (severity, count) in [
        (Severity::Error, summary.error),
        (Severity::Warning, summary.warning),
        (Severity::Info, summary.info),
    ] {
        if count > 0 {
            let plural = if count == 1 || severity == Severity::Info {
                ""
            } else {
                "s"
            };
            counts.push(format!("{count} {severity}{plural}"));
        }
    }
    // Findings arrive most severe first; the line names them in that order.
    let mentions: Vec<String> = report.findings.iter().map(mention).collect();
    writeln!(
        out,
        "tcptune: {}: {}",
        counts.join(", "),
        mentions.join("; ")
    )?;
    super::finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_ascii_and_one_line() {
        assert_eq!(ascii("java"), "java");
        assert_eq!(ascii("a\nb"), "a\\u{a}b");
        assert_eq!(ascii("caf\u{e9}"), "caf\\u{e9}");
    }
}
