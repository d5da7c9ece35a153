//! The only code that prints. Every command hands its result to a
//! [`Printer`] as a [`Document`]; the printer renders it in one format
//! (`human`, `json`, `prometheus`), one type per format behind [`Render`].
//! Each format says which documents it can print, so a format a command
//! cannot use is refused in one place ([`Printer::require`]) before the
//! command does anything. Warnings and errors for people go to stderr
//! through [`warn`] and [`error`].
//!
//! Data arrives raw. Every string that reaches a terminal or a
//! line-oriented format passes through [`crate::text::escape`] here, at the
//! moment it is written, never earlier; JSON keeps exact values.

mod human;
mod json;
mod line;
mod prometheus;

use std::io::{self, Write};

use crate::active::ProfileChoice;
use crate::apply::Outcome;
use crate::census::TcpState;
use crate::error::{Error, Result};
use crate::facts::{Facts, Reading};
use crate::finding::{Finding, Summary};
use crate::journal::Record;
use crate::knowledge::{KeyView, Topic};
use crate::plan::Plan;
use crate::profile::{Listing, Profile};
use crate::text::escape;

/// The output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// node_exporter textfile-collector format (check and sockets only).
    Prometheus,
    /// One line and a plugin exit code, for node-problem-detector's custom
    /// plugins and Nagios-style checks (check only).
    Line,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Prometheus => "prometheus",
            Format::Line => "line",
        }
    }
}

/// JSON documents carry this; it changes only with an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The result of `check`.
pub struct CheckReport<'a> {
    pub kernel: &'a str,
    pub profile: &'a Profile,
    /// Why this profile: given, the active one, or the default.
    pub choice: &'a ProfileChoice,
    pub summary: Summary,
    pub findings: &'a [Finding],
    pub facts: &'a Facts,
}

/// The result of `sockets`.
pub struct SocketsReport<'a> {
    pub facts: &'a Facts,
    pub processes: bool,
    pub by_destination: bool,
}

/// What `explain` found.
pub enum Explanation<'a> {
    Topic(&'a Topic),
    Key {
        view: &'a KeyView,
        kernel: Option<&'a str>,
        reading: &'a Reading,
    },
    VendorOnly {
        key: &'a str,
        why: &'a str,
    },
    /// `explain --list`: everything it answers.
    List {
        topics: &'a [Topic],
        keys: &'a [crate::knowledge::KeyInfo],
    },
}

/// Why a plan is being shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanView {
    /// `tcptune diff`.
    Diff,
    /// `apply --dry-run`: shown, nothing changed.
    DryRun,
    /// `apply`, before asking.
    Preview,
    /// `apply` when there is nothing to do.
    NothingToDo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeView {
    Apply,
    Rollback,
}

/// The result of `history`: this target's records, and the record files
/// that cannot be read.
pub struct HistoryReport<'a> {
    pub records: &'a [Record],
    pub unreadable: &'a [crate::journal::Unreadable],
}

/// The result of `diff`: the plan and which profile it was made for.
pub struct DiffReport<'a> {
    pub plan: &'a Plan,
    pub choice: &'a ProfileChoice,
}

/// The result of `status`.
pub struct StatusReport<'a> {
    pub status: &'a crate::active::Status,
    pub target: &'a crate::journal::Target,
}

/// One network namespace's part of a `--all-netns` result.
pub struct Section<'a> {
    pub namespace: &'a crate::system::namespaces::Namespace,
    /// `check` or `sockets` for this namespace.
    pub document: Document<'a>,
}

/// The result of `check --all-netns` or `sockets --all-netns`.
pub struct PerNamespace<'a> {
    /// The command's own document kind (check or sockets).
    pub kind: DocumentKind,
    pub sections: &'a [Section<'a>],
    /// Namespaces found but gone before they could be audited.
    pub vanished: &'a [String],
}

/// The result of `lint`.
pub struct LintReport<'a> {
    pub files: &'a [std::path::PathBuf],
    pub findings: &'a [Finding],
}

/// Everything a command can print.
pub enum Document<'a> {
    Check(&'a CheckReport<'a>),
    Sockets(&'a SocketsReport<'a>),
    Plan(&'a Plan, PlanView),
    Diff(&'a DiffReport<'a>),
    Status(&'a StatusReport<'a>),
    Recommendation(&'a crate::recommend::Recommendation),
    PerNamespace(&'a PerNamespace<'a>),
    Outcome(&'a Outcome, OutcomeView),
    RollbackPreview(&'a [Record]),
    Lint(&'a LintReport<'a>),
    History(&'a HistoryReport<'a>),
    ProfileList(&'a [Listing]),
    Profile(&'a Profile),
    Explanation(&'a Explanation<'a>),
}

/// The kinds of [`Document`], for asking a format what it can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Check,
    Sockets,
    Plan,
    Status,
    Recommendation,
    Outcome,
    RollbackPreview,
    Lint,
    History,
    ProfileList,
    Profile,
    Explanation,
}

impl Document<'_> {
    pub fn kind(&self) -> DocumentKind {
        match self {
            Document::Check(_) => DocumentKind::Check,
            Document::Sockets(_) => DocumentKind::Sockets,
            Document::Plan(..) | Document::Diff(_) => DocumentKind::Plan,
            Document::Status(_) => DocumentKind::Status,
            Document::Recommendation(_) => DocumentKind::Recommendation,
            Document::PerNamespace(all) => all.kind,
            Document::Outcome(..) => DocumentKind::Outcome,
            Document::RollbackPreview(_) => DocumentKind::RollbackPreview,
            Document::Lint(_) => DocumentKind::Lint,
            Document::History(_) => DocumentKind::History,
            Document::ProfileList(_) => DocumentKind::ProfileList,
            Document::Profile(_) => DocumentKind::Profile,
            Document::Explanation(_) => DocumentKind::Explanation,
        }
    }
}

/// One output format.
pub trait Render {
    /// Whether this format can print documents of this kind.
    fn prints(&self, kind: DocumentKind) -> bool;
    /// Writes one document. Only called for kinds the format prints.
    fn render(&self, out: &mut dyn Write, document: &Document<'_>) -> io::Result<()>;

    /// Reports an error on the output itself, for formats whose reader
    /// looks only there (a plugin monitor reads stdout, not stderr).
    /// Returns whether it did; most formats leave errors to stderr.
    fn failure(&self, _out: &mut dyn Write, _error: &Error) -> io::Result<bool> {
        Ok(false)
    }
}

/// The error a format returns for a document it does not print; never
/// reached through [`Printer`], which asks [`Render::prints`] first.
fn unsupported(format: &str, kind: DocumentKind) -> io::Error {
    io::Error::other(format!("the {format} format cannot print {kind:?}"))
}

/// Renders results to one output stream in one format.
pub struct Printer<'w> {
    out: &'w mut dyn Write,
    format: Format,
    render: Box<dyn Render>,
}

impl<'w> Printer<'w> {
    /// `fancy`: draw bars with block characters (a colour terminal) instead
    /// of `#`.
    pub fn new(out: &'w mut dyn Write, format: Format, fancy: bool) -> Printer<'w> {
        let render: Box<dyn Render> = match format {
            Format::Human => Box::new(human::Human { fancy }),
            Format::Json => Box::new(json::Json),
            Format::Prometheus => Box::new(prometheus::Prometheus),
            Format::Line => Box::new(line::Line),
        };
        Printer {
            out,
            format,
            render,
        }
    }

    /// Refuses, before anything is done, a command whose documents this
    /// format cannot print.
    pub fn require(&self, command: &str, kinds: &[DocumentKind]) -> Result<()> {
        if kinds.iter().all(|kind| self.render.prints(*kind)) {
            return Ok(());
        }
        let usable: Vec<&str> = COMMAND_DOCUMENTS
            .iter()
            .filter(|(_, kinds)| kinds.iter().all(|kind| self.render.prints(*kind)))
            .map(|(name, _)| *name)
            .collect();
        Err(Error::Usage(format!(
            "--format {} is not available for `{command}`; it is for {}",
            self.format.name(),
            usable
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    pub fn print(&mut self, document: Document<'_>) -> Result<()> {
        if !self.render.prints(document.kind()) {
            return Err(Error::Usage(format!(
                "--format {} cannot print this result",
                self.format.name()
            )));
        }
        // Rendered whole, then written at once: stdout is line-buffered, and
        // a JSON document of a busy host is thousands of lines (one write
        // each cost more than a millisecond at 10k sockets). A failing
        // output fails the same way, at the one write.
        let mut rendered = Vec::new();
        self.render
            .render(&mut rendered, &document)
            .and_then(|()| self.out.write_all(&rendered))
            .and_then(|()| self.out.flush())
            .map_err(Error::Output)
    }

    /// Reports `error` on the output too, where the format's reader looks
    /// for it (see [`Render::failure`]). Errors still go to stderr as well.
    pub fn failure(&mut self, error: &Error) -> Result<bool> {
        self.render.failure(self.out, error).map_err(Error::Output)
    }

    /// Output that is already formatted (man page, completions).
    pub fn raw(&mut self, render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        render(self.out)
            .and_then(|()| self.out.flush())
            .map_err(Error::Output)
    }
}

/// The documents each command prints, for [`Printer::require`] and its
/// message.
pub const COMMAND_DOCUMENTS: &[(&str, &[DocumentKind])] = &[
    ("check", &[DocumentKind::Check]),
    ("sockets", &[DocumentKind::Sockets]),
    ("diff", &[DocumentKind::Plan]),
    ("apply", &[DocumentKind::Plan, DocumentKind::Outcome]),
    (
        "rollback",
        &[DocumentKind::RollbackPreview, DocumentKind::Outcome],
    ),
    ("history", &[DocumentKind::History]),
    ("status", &[DocumentKind::Status]),
    ("recommend", &[DocumentKind::Recommendation]),
    (
        "profiles",
        &[DocumentKind::ProfileList, DocumentKind::Profile],
    ),
    ("explain", &[DocumentKind::Explanation]),
    ("lint", &[DocumentKind::Lint]),
];

/// Writes a warning for people to stderr, escaped. Returns whether it
/// could be written: when stderr itself is gone there is no one to tell.
pub fn warn(message: &str) -> bool {
    let mut stderr = io::stderr().lock();
    writeln!(stderr, "tcptune: warning: {}", escape(message)).is_ok()
}

/// Writes an error for people to stderr, each line escaped on its own:
/// the lines are tcptune's, their content may not be (a key or value
/// quoted from a file). Returns whether it could be written.
pub fn error(error: &Error) -> bool {
    let mut stderr = io::stderr().lock();
    let lines: Vec<String> = match error {
        // One line per mistake, whatever the mistake quotes from the file.
        Error::Profile(errors) => errors.0.iter().map(ToString::to_string).collect(),
        other => other.to_string().split('\n').map(str::to_owned).collect(),
    };
    lines
        .iter()
        .all(|line| writeln!(stderr, "tcptune: {}", escape(line)).is_ok())
}

/// Asks on the terminal unless `yes`; without a terminal, refuses (exit 4).
///
/// One key answers: `y` is yes; `n`, `q`, Esc, Enter, Ctrl-D and Ctrl-C are
/// no (exit 4, nothing changed); other keys are ignored. The key is read
/// with the terminal in raw mode for that one read only, and the cursor is
/// never hidden, so no answer (Ctrl-C included) can leave the operator's
/// terminal without one.
pub fn confirm(yes: bool, question: &str) -> Result<()> {
    use console::Key;
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
        return Err(Error::NotConfirmed(
            "nothing changed: confirmation needed and there is no terminal; pass --yes to proceed"
                .into(),
        ));
    }
    let term = console::Term::stderr();
    let not_confirmed = |why: &str| Error::NotConfirmed(format!("nothing changed: {why}"));
    let answer = |text: &str| {
        // The answer stays on the screen beside the question; a failing
        // stderr does not change what the key meant.
        let _ = term.write_line(text);
    };
    term.write_str(&format!("{} [y/N] ", escape(question)))
        .map_err(|error| not_confirmed(&format!("cannot ask ({error})")))?;
    loop {
        match term.read_key_raw() {
            Ok(Key::Char('y' | 'Y')) => {
                answer("yes");
                return Ok(());
            }
            Ok(Key::Char('n' | 'N' | 'q' | 'Q') | Key::Escape | Key::Enter) => {
                answer("no");
                return Err(not_confirmed("not confirmed"));
            }
            // Ctrl-D: raw mode hands over the byte instead of an end of file.
            Ok(Key::Char('\u{4}')) => {
                answer("no (end of input)");
                return Err(not_confirmed("not confirmed (end of input)"));
            }
            Ok(Key::CtrlC) => {
                answer("no (interrupted)");
                return Err(not_confirmed("interrupted"));
            }
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                answer("no (end of input)");
                return Err(not_confirmed("not confirmed (end of input)"));
            }
            Err(error) => {
                answer("no");
                return Err(not_confirmed(&format!("cannot read the answer ({error})")));
            }
            Ok(_) => {}
        }
    }
}

/// Kernel counters behind the findings: exported as totals and, over the
/// window the rules judged, as changes and rates (JSON and Prometheus).
pub const KERNEL_COUNTERS: &[(&str, &str)] = &[
    ("TcpExt", "TCPTimeWaitOverflow"),
    ("TcpExt", "ListenOverflows"),
    ("TcpExt", "ListenDrops"),
    ("TcpExt", "TW"),
    ("TcpExt", "SyncookiesSent"),
    ("TcpExt", "SyncookiesRecv"),
    ("TcpExt", "SyncookiesFailed"),
    ("TcpExt", "TCPReqQFullDrop"),
    ("TcpExt", "TCPReqQFullDoCookies"),
    ("TcpExt", "TCPMemoryPressures"),
    ("TcpExt", "TCPAbortOnMemory"),
    ("Tcp", "ActiveOpens"),
    ("Tcp", "PassiveOpens"),
    ("Tcp", "OutSegs"),
    ("Tcp", "RetransSegs"),
    ("TcpExt", "TCPSynRetrans"),
    ("TcpExt", "TCPLostRetransmit"),
    ("TcpExt", "TCPTimeouts"),
    ("Conntrack", "drop"),
    ("Conntrack", "early_drop"),
    ("Conntrack", "insert_failed"),
];

/// The table of [`KERNEL_COUNTERS`] a counter lives in.
pub(crate) fn counter_table<'a>(
    counters: &'a crate::facts::Counters,
    table: &str,
) -> &'a crate::facts::CounterMap {
    match table {
        "TcpExt" => &counters.tcp_ext,
        "Conntrack" => &counters.conntrack,
        _ => &counters.tcp,
    }
}

/// State counts in the order people read them: the busy states first.
pub(crate) const DISPLAY_ORDER: [TcpState; 11] = [
    TcpState::Established,
    TcpState::TimeWait,
    TcpState::CloseWait,
    TcpState::Listen,
    TcpState::SynSent,
    TcpState::SynRecv,
    TcpState::FinWait1,
    TcpState::FinWait2,
    TcpState::LastAck,
    TcpState::Closing,
    TcpState::Close,
];

/// Port usage of one TIME_WAIT destination.
pub(crate) struct DestinationUsage {
    pub destination: String,
    pub count: u64,
    pub port_range_size: Option<u64>,
    /// count / port_range_size, 0..1 (can exceed 1 with several source addresses).
    pub usage: Option<f64>,
}

pub(crate) fn destinations(facts: &Facts) -> Vec<DestinationUsage> {
    let usable = facts.usable_ports().filter(|usable| *usable > 0);
    facts
        .census
        .time_wait_destinations()
        .into_iter()
        .map(|(destination, count)| DestinationUsage {
            destination: destination.to_string(),
            count,
            port_range_size: usable,
            usage: usable
                .map(|usable| (count as f64 / usable as f64 * 10_000.0).round() / 10_000.0),
        })
        .collect()
}

/// Ends a document: flushes, so a failing output is seen by the command.
pub(crate) fn finish(out: &mut dyn Write) -> io::Result<()> {
    out.flush()
}
