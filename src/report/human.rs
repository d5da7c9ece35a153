//! Output for people: grouped by severity, wrapped to 80 columns, coloured
//! through anstyle (the stream decides whether colour reaches the terminal).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{
    CheckReport, DISPLAY_ORDER, Document, DocumentKind, Explanation, LintReport, OutcomeView,
    PlanView, Render, SocketsReport, destinations,
};
use crate::active::{ProfileChoice, ProfileSource};
use crate::apply::Outcome;
use crate::census::TcpState;
use crate::facts::Reading;
use crate::finding::{Finding, Severity};
use crate::journal::{Kind, Record, State, format_time};
use crate::plan::{Plan, Status};
use crate::profile::{Expectation, Listing, Origin, Profile};
use crate::text::{Shown, escape};

/// Output for people.
pub struct Human {
    /// Bars in block characters rather than `#`.
    pub fancy: bool,
}

impl Render for Human {
    fn prints(&self, _kind: DocumentKind) -> bool {
        true
    }

    fn render(&self, out: &mut dyn Write, document: &Document<'_>) -> io::Result<()> {
        match document {
            Document::Check(report) => check(out, report),
            Document::Sockets(report) => sockets(out, report, self.fancy),
            Document::Plan(plan, view) => self::plan(out, plan, *view, None),
            Document::Diff(report) => {
                self::plan(out, report.plan, PlanView::Diff, Some(report.choice))
            }
            Document::Status(report) => status(out, report),
            Document::Recommendation(recommendation) => recommend(out, recommendation),
            Document::PerNamespace(all) => {
                for (index, section) in all.sections.iter().enumerate() {
                    if index > 0 {
                        writeln!(out)?;
                    }
                    namespace_header(out, section.namespace)?;
                    self.render(out, &section.document)?;
                }
                for gone in all.vanished {
                    writeln!(out, "\n(gone before it could be audited: {})", Shown(gone))?;
                }
                super::finish(out)
            }
            Document::Outcome(outcome, view) => self::outcome(out, outcome, *view),
            Document::RollbackPreview(records) => rollback_preview(out, records),
            Document::Lint(report) => lint(out, report),
            Document::History(report) => history(out, report),
            Document::ProfileList(listings) => profile_list(out, listings),
            Document::Profile(profile) => self::profile(out, profile),
            Document::Explanation(explanation) => explain(out, explanation),
        }
    }
}

const WIDTH: usize = 80;
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::Error => AnsiColor::Red.on_default().bold(),
        Severity::Warning => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default().bold(),
    }
}

/// Wraps `text` to the width, every line starting with `indent`, the first
/// line starting with `label` instead (padded to the indent).
fn wrapped(out: &mut dyn Write, label: &str, indent: usize, text: &str) -> io::Result<()> {
    let mut line = format!("{:indent$}", Shown(label));
    let mut empty = true;
    for word in text.split_whitespace() {
        // Words may quote a file or a process name: shown escaped.
        let word = escape(word);
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            writeln!(out, "{}", line.trim_end())?;
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&word);
        empty = false;
    }
    writeln!(out, "{}", line.trim_end())
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 || word == "info" {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

fn check(out: &mut dyn Write, report: &CheckReport<'_>) -> io::Result<()> {
    let facts = report.facts;
    writeln!(
        out,
        "{BOLD}tcptune check{BOLD:#}: profile {}{}, kernel {}",
        Shown(&report.profile.name),
        profile_origin(report.choice),
        Shown(report.kernel)
    )?;
    profile_sources(out, &report.profile.sources)?;
    let states = &facts.census.states;
    writeln!(
        out,
        "sockets: {} established, {} time_wait, {} close_wait, {} listen ({} in all)",
        states.get(TcpState::Established),
        states.get(TcpState::TimeWait),
        states.get(TcpState::CloseWait),
        states.get(TcpState::Listen),
        states.total()
    )?;
    let busy_times = facts.census.busy_times;
    if busy_times.with_busy_times == 0 && busy_times.without_busy_times > 0 {
        writeln!(
            out,
            "buffer limits: not measured (this kernel's tcp_info has no busy times; they came with 4.10, efd901741675)"
        )?;
    }
    if let Some(sample) = &facts.sample {
        writeln!(
            out,
            "rates over {:.1} s: {:.1} outgoing/s, {:.1} incoming/s, {:.1} entering TIME_WAIT/s (steady state {:.0})",
            sample.seconds,
            sample.active_opens_per_second,
            sample.passive_opens_per_second,
            sample.time_wait_entries_per_second,
            sample.steady_state_time_wait
        )?;
    }
    grouped(out, report.findings)?;
    writeln!(out)?;
    let summary = report.summary;
    if report.findings.is_empty() {
        writeln!(
            out,
            "no findings: this host matches profile {}",
            Shown(&report.profile.name)
        )?;
    } else {
        summary_line(out, summary)?;
    }
    super::finish(out)
}

fn summary_line(out: &mut dyn Write, summary: crate::finding::Summary) -> io::Result<()> {
    writeln!(
        out,
        "summary: {}, {}, {}",
        plural(summary.error, "error"),
        plural(summary.warning, "warning"),
        plural(summary.info, "info")
    )
}

/// Findings under a heading per severity, most severe first.
fn grouped(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for severity in Severity::ALL_DESCENDING {
        let group: Vec<&Finding> = findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let style = severity_style(severity);
        writeln!(out)?;
        writeln!(
            out,
            "{style}{} ({}){style:#}",
            severity.name().to_uppercase(),
            group.len()
        )?;
        for finding in group {
            writeln!(out)?;
            finding_block(out, finding, style)?;
        }
    }
    Ok(())
}

fn finding_block(out: &mut dyn Write, finding: &Finding, style: Style) -> io::Result<()> {
    let mut head = format!("{style}{}{style:#}", finding.code);
    if let Some(key) = &finding.key {
        head.push_str(&format!("  {BOLD}{}{BOLD:#}", Shown(key)));
    }
    match (&finding.current, &finding.expected) {
        (Some(current), Some(expected)) => {
            head.push_str(&format!(": {} -> {}", Shown(current), Shown(expected)));
        }
        (Some(current), None) => head.push_str(&format!(": {}", Shown(current))),
        _ => {}
    }
    writeln!(out, "  {head}")?;
    if let Some(location) = &finding.location {
        writeln!(out, "    at {}", Shown(&location.to_string()))?;
    }
    wrapped(out, "    ", 4, &finding.message)?;
    if !finding.rationale.is_empty() {
        wrapped(out, "    why: ", 9, &finding.rationale)?;
    }
    if !finding.evidence.is_empty() {
        let evidence: Vec<String> = finding
            .evidence
            .iter()
            .filter(|(_, value)| !value.is_array() && !value.is_object())
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect();
        if !evidence.is_empty() {
            wrapped(out, "    evidence: ", 14, &evidence.join(", "))?;
        }
    }
    if !finding.fix.is_empty() {
        wrapped(out, "    fix: ", 9, &finding.fix)?;
    }
    Ok(())
}

/// TIME_WAIT, orphans and FIN_WAIT2 against the limits that govern them.
fn limits(out: &mut dyn Write, facts: &crate::facts::Facts) -> io::Result<()> {
    let mut lines = Vec::new();
    let time_wait = facts.time_wait_count();
    // sockstat's `tw` is every timewait socket, FIN_WAIT2 ones included;
    // when it is what is counted, it is not the table's TIME_WAIT.
    let counted = facts.census.states.get(TcpState::TimeWait);
    let what = if time_wait > counted {
        format!(
            "{time_wait} timewait sockets (sockstat tw: TIME_WAIT {counted} plus FIN_WAIT2 sockets the kernel keeps in timewait)"
        )
    } else {
        format!("TIME_WAIT {time_wait}")
    };
    if let Some(buckets) = facts
        .integer("net.ipv4.tcp_max_tw_buckets")
        .filter(|buckets| *buckets > 0)
    {
        lines.push(format!(
            "{what} of tcp_max_tw_buckets {buckets} ({:.1}%); each lasts a fixed 60 s",
            time_wait as f64 * 100.0 / buckets as f64
        ));
    }
    if let Some(sockstat) = facts.sockstat {
        match facts.integer("net.ipv4.tcp_max_orphans").filter(|max| *max > 0) {
            Some(max) => lines.push(format!(
                "orphans {} of tcp_max_orphans {max} ({:.1}%): sockets their application closed, still finishing the TCP teardown",
                sockstat.orphan,
                sockstat.orphan as f64 * 100.0 / max as f64
            )),
            None => lines.push(format!(
                "orphans {} (machine-wide; tcp_max_orphans is global and not visible here)",
                sockstat.orphan
            )),
        }
    }
    let fin_wait2 = facts.census.states.get(TcpState::FinWait2);
    if fin_wait2 > 0 {
        let timeout = facts.integer("net.ipv4.tcp_fin_timeout").map_or_else(
            || "tcp_fin_timeout".to_owned(),
            |seconds| format!("tcp_fin_timeout ({seconds} s)"),
        );
        lines.push(format!(
            "FIN_WAIT2 {fin_wait2}: we closed, the peer has not; orphaned ones are dropped after {timeout}, which does not shorten TIME_WAIT"
        ));
    }
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for line in lines {
        wrapped(out, "  ", 4, &line)?;
    }
    Ok(())
}

/// The sampled rates and what they imply.
fn rates(out: &mut dyn Write, sample: &crate::facts::Sample, fancy: bool) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{BOLD}rates over {:.1} s{BOLD:#}", sample.seconds)?;
    writeln!(
        out,
        "  {:.1} outgoing and {:.1} incoming connections per second",
        sample.active_opens_per_second, sample.passive_opens_per_second
    )?;
    let steady = match sample.tcp_max_tw_buckets.filter(|buckets| *buckets > 0) {
        Some(buckets) => format!(
            "{:.0} TIME_WAIT in steady state, {:.1}% of tcp_max_tw_buckets ({buckets})",
            sample.steady_state_time_wait,
            sample.steady_state_time_wait * 100.0 / buckets as f64
        ),
        None => format!(
            "{:.0} TIME_WAIT in steady state",
            sample.steady_state_time_wait
        ),
    };
    wrapped(
        out,
        "  ",
        4,
        &format!(
            "{:.1} sockets enter TIME_WAIT per second x 60 s = {steady}",
            sample.time_wait_entries_per_second
        ),
    )?;
    let busy: Vec<_> = sample
        .destinations
        .iter()
        .filter(|row| row.connections_per_second > 0.0)
        .take(10)
        .collect();
    if !busy.is_empty() {
        let width = busy
            .iter()
            .map(|row| row.destination.len())
            .max()
            .unwrap_or(0)
            .clamp(11, 45);
        writeln!(
            out,
            "  {:<width$} {:>9} {:>11}",
            "destination", "closes/s", "sustainable"
        )?;
        for row in busy {
            let limit = row
                .sustainable_per_second
                .map_or_else(|| "?".to_owned(), |limit| format!("{limit:.1}/s"));
            let share = row
                .usage
                .map(|usage| bar((usage * 1000.0) as u64, 1000, fancy))
                .unwrap_or_default();
            let line = format!(
                "  {:<width$} {:>9.1} {:>11}  {share}",
                row.destination, row.connections_per_second, limit
            );
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// Width of the longest bar.
const BAR_WIDTH: usize = 32;

/// A bar of `value` against `max`: at least one cell for a non-zero value.
fn bar(value: u64, max: u64, fancy: bool) -> String {
    if value == 0 || max == 0 {
        return String::new();
    }
    let cells = ((value as f64 / max as f64) * BAR_WIDTH as f64)
        .round()
        .max(1.0) as usize;
    let cell = if fancy { "\u{2588}" } else { "#" };
    cell.repeat(cells.min(BAR_WIDTH))
}

fn sockets(out: &mut dyn Write, report: &SocketsReport<'_>, fancy: bool) -> io::Result<()> {
    let facts = report.facts;
    let states = &facts.census.states;
    let source = match facts.census.source {
        Some(crate::census::Source::Netlink) => "netlink",
        _ => "procfs",
    };
    writeln!(
        out,
        "{BOLD}TCP sockets{BOLD:#} ({} in all, read from {source})",
        states.total()
    )?;
    if let crate::census::TimeWaitCount::SockstatTwMinusFinWait2 { tw, fin_wait2 } =
        facts.census.time_wait_count
    {
        writeln!(
            out,
            "  TIME_WAIT = /proc/net/sockstat tw {tw} minus {fin_wait2} FIN_WAIT2 in the timewait table"
        )?;
    }
    let max = DISPLAY_ORDER
        .iter()
        .map(|state| states.get(*state))
        .max()
        .unwrap_or(0);
    for state in DISPLAY_ORDER {
        let count = states.get(state);
        let line = format!(
            "  {:<12} {count:>9}  {}",
            state.label(),
            bar(count, max, fancy)
        );
        if count == 0 {
            writeln!(out, "{DIM}{}{DIM:#}", line.trim_end())?;
        } else {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    limits(out, facts)?;
    if let Some(sample) = &facts.sample {
        rates(out, sample, fancy)?;
    }
    if report.processes {
        writeln!(out)?;
        let owners = facts.close_wait_owners.clone().unwrap_or_default();
        if states.get(TcpState::CloseWait) == 0 {
            writeln!(out, "no CLOSE_WAIT sockets")?;
        } else {
            writeln!(
                out,
                "{BOLD}CLOSE_WAIT owners{BOLD:#} (the application has not called close(); no sysctl fixes this)"
            )?;
            writeln!(
                out,
                "  {:>8}  {:<16} {:>7}  where",
                "pid", "command", "sockets"
            )?;
            for owner in &owners.owners {
                let location = owner
                    .location()
                    .unwrap_or_else(|| "on many local and remote ports".to_owned());
                writeln!(
                    out,
                    "  {:>8}  {:<16} {:>7}  {}",
                    owner.pid,
                    Shown(&owner.comm),
                    owner.count,
                    Shown(&location)
                )?;
            }
            if owners.unknown > 0 {
                writeln!(
                    out,
                    "  {:>8}  {:<16} {:>7}  (process not readable)",
                    "?", "?", owners.unknown
                )?;
            }
        }
    }
    if report.by_destination {
        writeln!(out)?;
        let rows = destinations(facts);
        if rows.is_empty() {
            writeln!(out, "no TIME_WAIT sockets")?;
        } else {
            let range = rows.first().and_then(|row| row.port_range_size);
            match range {
                Some(range) => writeln!(
                    out,
                    "{BOLD}TIME_WAIT by destination{BOLD:#} (share of the {range} usable local ports)"
                )?,
                None => writeln!(out, "{BOLD}TIME_WAIT by destination{BOLD:#}")?,
            }
            let width = rows
                .iter()
                .map(|row| row.destination.len())
                .max()
                .unwrap_or(0)
                .clamp(11, 45);
            writeln!(
                out,
                "  {:<width$} {:>8} {:>6}",
                "destination", "sockets", "ports"
            )?;
            for row in rows {
                let usage = row
                    .usage
                    .map_or_else(|| "?".to_owned(), |usage| format!("{:.1}%", usage * 100.0));
                // The bar is the share of the port range, so a full bar is an
                // exhausted range.
                let share = row
                    .port_range_size
                    .map(|size| bar(row.count.min(size), size, fancy))
                    .unwrap_or_default();
                let line = format!(
                    "  {:<width$} {:>8} {:>6}  {share}",
                    row.destination, row.count, usage
                );
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    super::finish(out)
}

fn profile_list(out: &mut dyn Write, listings: &[Listing]) -> io::Result<()> {
    let width = listings
        .iter()
        .map(|listing| listing.name.len())
        .max()
        .unwrap_or(0)
        .max(8);
    for listing in listings {
        let origin = match &listing.origin {
            Origin::Builtin => "built-in".to_owned(),
            Origin::File(path) if listing.overrides_builtin => {
                format!("{} (replaces the built-in)", path.display())
            }
            Origin::File(path) => path.display().to_string(),
        };
        writeln!(
            out,
            "{BOLD}{:<width$}{BOLD:#}  {}",
            Shown(&listing.name),
            Shown(&origin)
        )?;
        wrapped(out, "", width + 2, &listing.description)?;
    }
    super::finish(out)
}

fn profile(out: &mut dyn Write, profile: &Profile) -> io::Result<()> {
    writeln!(out, "{BOLD}profile {}{BOLD:#}", Shown(&profile.name))?;
    if profile.chain.len() > 1 {
        writeln!(out, "extends: {}", Shown(&profile.chain[1..].join(" -> ")))?;
    }
    if let Origin::File(path) = &profile.origin {
        writeln!(out, "file: {}", Shown(&path.display().to_string()))?;
    }
    wrapped(out, "", 0, &profile.description)?;
    writeln!(out)?;
    for setting in &profile.settings {
        let expectation = match &setting.expect {
            Expectation::Equal(value) => format!("= {value}"),
            other => other.to_string(),
        };
        let mut head = format!(
            "{BOLD}{}{BOLD:#} {}",
            Shown(&setting.key.to_string()),
            Shown(&expectation)
        );
        let mut notes = vec![setting.severity.name().to_owned()];
        if !setting.gate.is_open() {
            notes.push(setting.gate.to_string());
        }
        if setting.defined_in != profile.name {
            notes.push(format!("from {}", Shown(&setting.defined_in)));
        }
        head.push_str(&format!("  {DIM}({}){DIM:#}", notes.join(", ")));
        writeln!(out, "{head}")?;
        wrapped(out, "  why: ", 7, &setting.why)?;
    }
    let thresholds = profile.thresholds;
    writeln!(out)?;
    writeln!(out, "{BOLD}thresholds{BOLD:#}")?;
    writeln!(
        out,
        "  close_wait_leak: {} CLOSE_WAIT sockets",
        thresholds.close_wait_leak
    )?;
    writeln!(
        out,
        "  port_exhaustion_percent: {}% of the usable port range per destination",
        thresholds.port_exhaustion_percent
    )?;
    writeln!(
        out,
        "  tw_bucket_percent: {}% of tcp_max_tw_buckets",
        thresholds.tw_bucket_percent
    )?;
    writeln!(
        out,
        "  listen_overflow: more than {} new ListenOverflows or ListenDrops between readings",
        thresholds.listen_overflow
    )?;
    if let Some(seconds) = thresholds.idle_timeout_seconds {
        writeln!(
            out,
            "  idle_timeout_seconds: {seconds} s, the idle timeout of the load balancer or NAT on the path"
        )?;
    }
    super::finish(out)
}

fn explain(out: &mut dyn Write, explanation: &Explanation<'_>) -> io::Result<()> {
    match explanation {
        Explanation::List { topics, keys } => {
            writeln!(out, "{BOLD}topics{BOLD:#}")?;
            for topic in *topics {
                writeln!(out, "  {:<14} {}", topic.name, topic.title)?;
            }
            writeln!(out, "\n{BOLD}keys{BOLD:#}")?;
            for info in *keys {
                writeln!(out, "  {}", info.key)?;
            }
        }
        Explanation::Topic(topic) => {
            writeln!(out, "{BOLD}{}{BOLD:#}", topic.title)?;
            for paragraph in topic.paragraphs {
                writeln!(out)?;
                wrapped(out, "", 0, paragraph)?;
            }
        }
        Explanation::Key {
            view,
            kernel,
            reading,
        } => {
            writeln!(out, "{BOLD}{}{BOLD:#}", view.key)?;
            writeln!(out)?;
            wrapped(out, "", 0, &view.summary)?;
            writeln!(out)?;
            let evaluated = match view.kernel {
                Some(version) => format!("Linux {version}"),
                None => "no kernel version known: every statement below that depends on the version says so".to_owned(),
            };
            wrapped(out, "for:      ", 10, &evaluated)?;
            wrapped(out, "exists:   ", 10, &view.exists)?;
            wrapped(out, "default:  ", 10, &view.default)?;
            wrapped(out, "values:   ", 10, &view.values)?;
            wrapped(out, "scope:    ", 10, &view.scope)?;
            let live = match reading {
                Reading::Present { value } => format!("{value}"),
                Reading::Absent => "absent on this kernel or in this namespace".to_owned(),
                Reading::Unreadable { reason } => format!("present but unreadable ({reason})"),
            };
            let here = match kernel {
                Some(kernel) => format!("here:     kernel {kernel}: "),
                None => "here:     ".to_owned(),
            };
            wrapped(out, &here, 10, &live)?;
            if let Some(myth) = view.folklore {
                writeln!(out)?;
                wrapped(out, "folklore: ", 10, myth)?;
            }
            writeln!(out)?;
            writeln!(out, "history (3.10 to 6.18; sources in brackets):")?;
            for line in &view.history {
                let when = match line.version {
                    crate::knowledge::When::Baseline => "3.10".to_owned(),
                    crate::knowledge::When::In(version) => version.to_string(),
                    crate::knowledge::When::Between(after, by) => {
                        format!("{after}..{by} (not pinned)")
                    }
                };
                wrapped(
                    out,
                    &format!("  {when}: "),
                    6,
                    &format!("{} [{}]", line.text, line.cite.join(", ")),
                )?;
            }
        }
        Explanation::VendorOnly { key, why } => {
            writeln!(out, "{BOLD}{}{BOLD:#}", Shown(key))?;
            writeln!(out)?;
            wrapped(out, "", 0, &format!("Not a mainline Linux key: it {why}."))?;
        }
    }
    super::finish(out)
}

/// Why this profile, after its name: nothing when it was given.
fn profile_origin(choice: &ProfileChoice) -> String {
    match (&choice.source, &choice.active) {
        (ProfileSource::Active, Some(entry)) => match entry.transaction {
            Some(id) => format!(" (active: applied by transaction {id})"),
            None => format!(" (active: applied {})", format_time(entry.recorded)),
        },
        // Given, or the default when nothing was applied: as it always read.
        _ => String::new(),
    }
}

fn status(out: &mut dyn Write, report: &super::StatusReport<'_>) -> io::Result<()> {
    let status = report.status;
    match &status.active {
        None => writeln!(
            out,
            "{BOLD}tcptune status{BOLD:#}: no active profile (nothing applied here, or everything rolled back)"
        )?,
        Some(entry) => {
            writeln!(
                out,
                "{BOLD}tcptune status{BOLD:#}: active profile {}",
                Shown(&entry.profile)
            )?;
            for layer in &entry.layers {
                for file in &layer.files {
                    let source = match &file.source {
                        crate::active::Source::Builtin => "built-in".to_owned(),
                        crate::active::Source::File(path) => path.display().to_string(),
                    };
                    writeln!(
                        out,
                        "  {} from {} ({} bytes, fnv1a64 {})",
                        Shown(&file.name),
                        Shown(&source),
                        file.length,
                        file.fnv1a64
                    )?;
                }
            }
        }
    }
    for file in &status.changed_files {
        writeln!(out, "  changed since applied: {}", Shown(file))?;
    }
    match &status.last_transaction {
        None => writeln!(out, "last transaction: none")?,
        Some(record) => writeln!(
            out,
            "last transaction: {} {} {} at {} (profile {})",
            record.id,
            record.kind,
            record.state,
            format_time(record.created),
            Shown(record.profile.as_deref().unwrap_or("-"))
        )?,
    }
    for key in &status.keys {
        let live = key
            .live
            .as_ref()
            .map_or_else(|| "unreadable".to_owned(), ToString::to_string);
        let drift = if key.drifted {
            format!(
                "drifted: live {}, applied {}",
                Shown(&live),
                Shown(&key.applied.to_string())
            )
        } else {
            format!("live {}", Shown(&live))
        };
        let boot = match (key.boot, &key.boot_winner) {
            (crate::active::Persistence::Persisted, _) => "persisted".to_owned(),
            (crate::active::Persistence::NotPersisted, _) => "not persisted at boot".to_owned(),
            (crate::active::Persistence::Shadowed, Some(winner)) => {
                format!("shadowed at boot by {}", Shown(winner))
            }
            (crate::active::Persistence::Shadowed, None) => "shadowed at boot".to_owned(),
            (crate::active::Persistence::Unknown, _) => "boot configuration unread".to_owned(),
        };
        writeln!(out, "  {}: {drift}; {boot}", Shown(&key.key.to_string()))?;
    }
    if status.active.is_some() {
        writeln!(
            out,
            "{}",
            if status.attention() {
                "attention: the system no longer matches the active profile as applied"
            } else {
                "in force: live values and boot configuration carry the active profile"
            }
        )?;
    }
    super::finish(out)
}

/// The line that opens one namespace's section: its label and owner.
fn namespace_header(
    out: &mut dyn Write,
    namespace: &crate::system::namespaces::Namespace,
) -> io::Result<()> {
    let mut owner = Vec::new();
    if namespace.host {
        owner.push("tcptune's own (host)".to_owned());
    }
    if let Some(pod) = namespace.pod() {
        owner.push(format!("pod {pod}"));
    }
    if let Some(uid) = &namespace.owner.pod_uid {
        owner.push(format!("pod uid {uid}"));
    }
    if let Some(id) = &namespace.owner.container_id {
        let short: String = id.chars().take(12).collect();
        match &namespace.owner.runtime {
            Some(runtime) => owner.push(format!("{runtime} container {short}")),
            None => owner.push(format!("container {short}")),
        }
    }
    if let Some(pid) = namespace.pids.first() {
        owner.push(format!(
            "pid {pid} {} ({} processes)",
            namespace.comm.as_deref().unwrap_or("?"),
            namespace.process_count
        ));
    }
    let label = namespace.label();
    let inode = format!("net:[{}]", namespace.inode);
    writeln!(
        out,
        "{BOLD}== network namespace {}{BOLD:#}{}{}{}",
        Shown(&label),
        if label == inode {
            String::new()
        } else {
            format!(" {inode}")
        },
        if owner.is_empty() { "" } else { ": " },
        Shown(&owner.join(", "))
    )
}

fn recommend(
    out: &mut dyn Write,
    recommendation: &crate::recommend::Recommendation,
) -> io::Result<()> {
    let evidence = &recommendation.evidence;
    writeln!(
        out,
        "{BOLD}tcptune recommend{BOLD:#}: profile {}",
        recommendation.profile
    )?;
    wrapped(
        out,
        "",
        0,
        &format!("because {}", Shown(&recommendation.reason)),
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "inbound:  {} established, {} time_wait, from {} client addresses, listening on {:?}",
        evidence.inbound_established,
        evidence.inbound_time_wait,
        evidence.inbound_clients,
        evidence.listening_ports
    )?;
    writeln!(
        out,
        "outgoing: {} established, {} time_wait, toward {} destinations",
        evidence.outgoing_established, evidence.outgoing_time_wait, evidence.outgoing_destinations
    )?;
    for destination in &evidence.top_destinations {
        writeln!(
            out,
            "  {:<44} {:>6} established {:>6} time_wait",
            Shown(&destination.destination),
            destination.established,
            destination.time_wait
        )?;
    }
    writeln!(out)?;
    for shape in &recommendation.considered {
        writeln!(
            out,
            "{} {}: {}",
            if shape.matched {
                "fits    "
            } else {
                "does not"
            },
            shape.profile,
            Shown(&shape.why)
        )?;
    }
    writeln!(
        out,
        "nothing was changed; to use it: tcptune diff --profile {0}, then tcptune apply --profile {0}",
        recommendation.profile
    )?;
    super::finish(out)
}

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();

fn plan(
    out: &mut dyn Write,
    plan: &Plan,
    view: PlanView,
    choice: Option<&ProfileChoice>,
) -> io::Result<()> {
    let title = match view {
        PlanView::Diff => "tcptune diff",
        PlanView::DryRun => "tcptune apply --dry-run",
        PlanView::Preview | PlanView::NothingToDo => "tcptune apply",
    };
    writeln!(
        out,
        "{BOLD}{title}{BOLD:#}: profile {}{}",
        Shown(&plan.profile),
        choice.map(profile_origin).unwrap_or_default()
    )?;
    profile_sources(out, &plan.profile_sources)?;
    let file = plan.file.display().to_string();
    if plan.is_empty() {
        writeln!(
            out,
            "nothing to change: live values and {} already match",
            Shown(&file)
        )?;
        // Nothing to apply does not mean the values survive a reboot.
        shadows(out, &plan.shadows)?;
        return super::finish(out);
    }
    let live: Vec<_> = plan.wanted_changes().collect();
    writeln!(out)?;
    if !plan.live && !live.is_empty() {
        wrapped(
            out,
            "",
            2,
            &format!(
                "live values: left alone ({} differ from the profile): --root is an offline image; pass --live to change this kernel's values too",
                live.len()
            ),
        )?;
    } else if live.is_empty() {
        writeln!(out, "live values: all already as the profile wants")?;
    } else {
        let width = live
            .iter()
            .map(|change| change.key.to_string().len())
            .max()
            .unwrap_or(0);
        writeln!(out, "live values ({} to change):", live.len())?;
        writeln!(
            out,
            "  {:<width$}  {:>12}  {:>12}",
            "key", "current", "wanted"
        )?;
        for change in &live {
            let from = change
                .from
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            let to = change
                .to
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            writeln!(
                out,
                "  {:<width$}  {:>12}  {GREEN}{:>12}{GREEN:#}",
                Shown(&change.key.to_string()),
                Shown(&from),
                Shown(&to)
            )?;
        }
        for change in &live {
            wrapped(out, &format!("  {}: ", change.key.leaf()), 4, &change.why)?;
        }
    }
    let skipped: Vec<_> = plan
        .changes
        .iter()
        .filter(|change| {
            matches!(
                change.status,
                Status::SkippedAbsent | Status::SkippedReadOnly | Status::SkippedUnreadable
            )
        })
        .collect();
    if !skipped.is_empty() {
        writeln!(out)?;
        writeln!(out, "left alone here (not written live, not persisted):")?;
        for change in skipped {
            wrapped(
                out,
                &format!("  {}: ", change.key),
                4,
                change.note.as_deref().unwrap_or(""),
            )?;
        }
    }
    writeln!(out)?;
    if plan.file_changes() {
        writeln!(out, "file {}:", Shown(&file))?;
        for line in plan.file_diff().lines() {
            // The old file is anyone's bytes: a line of it is escaped.
            let line = escape(line);
            let style = if line.starts_with('+') && !line.starts_with("+++") {
                GREEN
            } else if line.starts_with('-') && !line.starts_with("---") {
                RED
            } else {
                Style::new()
            };
            writeln!(out, "{style}{line}{style:#}")?;
        }
    } else if let Some(why) = &plan.not_persisted {
        wrapped(out, "", 2, &format!("file {file}: not written: {why}"))?;
    } else {
        writeln!(out, "file {}: unchanged", Shown(&file))?;
    }
    if !plan.dropped.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "no longer persisted (an earlier profile set them; live values stay until reboot):"
        )?;
        for dropped in &plan.dropped {
            writeln!(out, "  {} = {}", Shown(&dropped.key), Shown(&dropped.value))?;
        }
    }
    shadows(out, &plan.shadows)?;
    if view == PlanView::DryRun {
        writeln!(out)?;
        writeln!(out, "dry run: nothing changed")?;
    }
    super::finish(out)
}

/// Which file each profile of the chain came from, so an installed file
/// that replaces a built-in is never mistaken for it.
fn profile_sources(out: &mut dyn Write, sources: &[crate::profile::Source]) -> io::Result<()> {
    let described: Vec<String> = sources
        .iter()
        .map(|source| match &source.path {
            Some(path) if source.replaces_builtin => format!(
                "{} from {} (replaces the built-in {})",
                source.name,
                path.display(),
                source.name
            ),
            Some(path) => format!("{} from {}", source.name, path.display()),
            None => format!("{} (built-in)", source.name),
        })
        .collect();
    if described.is_empty() {
        return Ok(());
    }
    // Not wrapped: a path is copied from here whole.
    writeln!(
        out,
        "profile files (nearest first): {}",
        Shown(&described.join("; "))
    )
}

/// The later sysctl.d assignments that override tcptune's file at boot.
fn shadows(out: &mut dyn Write, shadows: &[crate::plan::Shadow]) -> io::Result<()> {
    if !shadows.is_empty() {
        writeln!(out)?;
        let style = severity_style(Severity::Warning);
        writeln!(
            out,
            "{style}warning{style:#}: at boot, later sysctl files override tcptune's file:"
        )?;
        for shadow in shadows {
            let value = shadow.value.as_deref().unwrap_or("(excluded)");
            wrapped(
                out,
                "  ",
                4,
                &format!(
                    "{}:{} sets {} = {value} and wins under {}",
                    shadow.path, shadow.line, shadow.key, shadow.loader
                ),
            )?;
        }
        wrapped(
            out,
            "  ",
            2,
            "remove those lines (or move the settings into the profile) so the profile's values survive a reboot",
        )?;
    }
    Ok(())
}

fn outcome(out: &mut dyn Write, outcome: &Outcome, view: OutcomeView) -> io::Result<()> {
    if let Some((id, path)) = &outcome.forgotten {
        writeln!(
            out,
            "set aside journal record {id}: it is now {}; nothing was restored",
            Shown(&path.display().to_string())
        )?;
        return super::finish(out);
    }
    let Some(id) = &outcome.transaction else {
        match view {
            OutcomeView::Apply => writeln!(out, "nothing changed")?,
            OutcomeView::Rollback => {
                writeln!(out, "nothing to roll back: no applied transaction is left")?
            }
        }
        return super::finish(out);
    };
    match view {
        OutcomeView::Apply => {
            let count = outcome
                .changes
                .iter()
                .filter(|change| change.status == crate::apply::KeyStatus::Change)
                .count();
            let file_only = outcome
                .changes
                .iter()
                .filter(|change| change.status == crate::apply::KeyStatus::FileOnly)
                .count();
            let file = Shown(&outcome.file.display().to_string()).to_string();
            let file = if outcome.file_written {
                format!("{file} written")
            } else {
                format!("{file} unchanged")
            };
            if file_only > 0 {
                writeln!(
                    out,
                    "applied transaction {id}: files only, {file}; {file_only} live values left alone (offline --root)"
                )?;
            } else {
                writeln!(
                    out,
                    "applied transaction {id}: {count} live values changed, {file}"
                )?;
            }
            writeln!(out, "undo with: tcptune rollback")?;
            shadows(out, &outcome.shadows)?;
        }
        OutcomeView::Rollback => {
            writeln!(
                out,
                "rolled back transaction {} (recorded as {id}): {} live values restored, {} {}",
                outcome.rolled_back.join(", "),
                outcome.changes.len(),
                Shown(&outcome.file.display().to_string()),
                if outcome.file_written {
                    "restored"
                } else {
                    "unchanged"
                }
            )?;
        }
    }
    super::finish(out)
}

fn rollback_preview(out: &mut dyn Write, entries: &[Record]) -> io::Result<()> {
    writeln!(out, "{BOLD}tcptune rollback{BOLD:#}: undoes, newest first:")?;
    for entry in entries {
        writeln!(
            out,
            "  transaction {} ({}, profile {}): {} keys, {}",
            entry.id,
            format_time(entry.created),
            Shown(entry.profile.as_deref().unwrap_or("-")),
            entry.keys.len(),
            Shown(&entry.file.path.display().to_string())
        )?;
        for key in &entry.keys {
            writeln!(
                out,
                "    {}: {} -> {}",
                Shown(&key.key.to_string()),
                Shown(&key.applied.to_string()),
                Shown(&key.previous.to_string())
            )?;
        }
    }
    super::finish(out)
}

fn history(out: &mut dyn Write, report: &super::HistoryReport<'_>) -> io::Result<()> {
    let entries = report.records;
    history_table(out, entries)?;
    for bad in report.unreadable {
        writeln!(
            out,
            "  {:>4}  unreadable: {} ({}); `tcptune rollback --forget {}` sets it aside",
            bad.id,
            Shown(&bad.reason),
            Shown(&bad.path.display().to_string()),
            bad.id
        )?;
    }
    super::finish(out)
}

fn history_table(out: &mut dyn Write, entries: &[Record]) -> io::Result<()> {
    if entries.is_empty() {
        writeln!(out, "no transactions")?;
        return Ok(());
    }
    writeln!(
        out,
        "  {:>4}  {:<20}  {:<8}  {:<17}  {:<14}  keys",
        "id", "time", "kind", "state", "profile"
    )?;
    for entry in entries {
        let kind = match entry.kind {
            Kind::Apply => "apply",
            Kind::Rollback => "rollback",
        };
        // The JSON contract's state names, so both outputs say the same.
        let state = match (entry.state, entry.rolled_back_by) {
            (State::RolledBack, Some(by)) => format!("rolled_back by {by}"),
            (State::Prepared, _) => "prepared (interrupted)".to_owned(),
            (state, _) => state.to_string(),
        };
        let mut keys = entry.keys.len().to_string();
        if !entry.rolls_back.is_empty() {
            let ids: Vec<String> = entry.rolls_back.iter().map(ToString::to_string).collect();
            keys.push_str(&format!(" (undid {})", ids.join(", ")));
        }
        writeln!(
            out,
            "  {:>4}  {:<20}  {:<8}  {:<17}  {:<14}  {keys}",
            entry.id,
            format_time(entry.created),
            kind,
            state,
            Shown(entry.profile.as_deref().unwrap_or("-"))
        )?;
    }
    Ok(())
}

fn lint(out: &mut dyn Write, report: &LintReport<'_>) -> io::Result<()> {
    let (files, findings) = (report.files, report.findings);
    writeln!(
        out,
        "{BOLD}tcptune lint{BOLD:#}: {}",
        plural(files.len(), "file")
    )?;
    grouped(out, findings)?;
    writeln!(out)?;
    if findings.is_empty() {
        writeln!(out, "no findings")?;
    } else {
        let summary = crate::finding::Summary::of(findings);
        summary_line(out, summary)?;
    }
    super::finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::active::{ProfileChoice, ProfileSource};
    use crate::facts::Facts;

    fn rendered(facts: &Facts) -> String {
        let profile = crate::rules::testing::builtin("default");
        let choice = ProfileChoice {
            source: ProfileSource::Default,
            active: None,
            changed_files: Vec::new(),
        };
        let report = CheckReport {
            kernel: "3.10.0-1160.el7.x86_64",
            profile: &profile,
            choice: &choice,
            summary: crate::finding::Summary::of(&[]),
            findings: &[],
            facts,
        };
        let mut out = Vec::new();
        check(&mut out, &report).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_kernel_without_busy_times_is_said_to_leave_buffer_limits_unmeasured() {
        let mut facts = Facts::default();
        facts.census.busy_times.without_busy_times = 3;
        assert!(
            rendered(&facts).contains("buffer limits: not measured (this kernel's tcp_info has no busy times; they came with 4.10, efd901741675)")
        );
        facts.census.busy_times.with_busy_times = 3;
        assert!(!rendered(&facts).contains("buffer limits"));
    }
}
