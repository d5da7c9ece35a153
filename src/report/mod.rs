//! The only code that prints. Every command hands its result to a
//! [`Printer`], which renders it for people (`human`) or machines (`json`).

mod human;
mod json;
mod prometheus;

use std::io::{self, Write};

use crate::apply::Outcome;
use crate::census::TcpState;
use crate::cli::Format;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::finding::{Finding, Summary};
use crate::journal::Entry;
use crate::knowledge::{KeyInfo, Topic};
use crate::plan::Plan;
use crate::profile::{Listing, Profile};
use crate::system::Reading;

/// Text with control characters escaped (`\u{1b}`, `\n`), for anything
/// that came from a file or the command line and goes to a terminal: an
/// escape sequence in a profile must not reach it, nor a newline forge a
/// line of tcptune's own.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|ch| {
                    if ch.is_control() {
                        ch.escape_default().to_string()
                    } else {
                        ch.to_string()
                    }
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// JSON documents carry this; it changes only with an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The result of `check`.
pub struct CheckReport<'a> {
    pub kernel: &'a str,
    pub profile: &'a Profile,
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
        info: &'a KeyInfo,
        kernel: Option<&'a str>,
        reading: &'a Reading,
    },
    VendorOnly {
        key: &'a str,
        why: &'a str,
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

/// Renders results to one output stream in one format.
pub struct Printer<'w> {
    out: &'w mut dyn Write,
    format: Format,
    fancy: bool,
}

impl<'w> Printer<'w> {
    pub fn new(out: &'w mut dyn Write, format: Format) -> Printer<'w> {
        Printer {
            out,
            format,
            fancy: false,
        }
    }

    /// Draw bars with block characters (a colour terminal) instead of `#`.
    pub fn fancy(mut self, fancy: bool) -> Printer<'w> {
        self.fancy = fancy;
        self
    }

    /// Output that is already formatted (man page, completions).
    pub fn raw(&mut self, render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        render(self.out).map_err(Error::Output)
    }

    pub fn plan(&mut self, plan: &Plan, view: PlanView) -> Result<()> {
        match (self.format, view) {
            (Format::Human, _) => human::plan(self.out, plan, view),
            // In JSON, apply prints one document: the outcome (or, when
            // nothing happens, an outcome with `"changed": false`).
            (Format::Json | Format::Prometheus, PlanView::Preview) => Ok(()),
            (Format::Json | Format::Prometheus, _) => {
                json::write(self.out, &json::plan(plan, view))
            }
        }
        .map_err(Error::Output)
    }

    pub fn outcome(&mut self, outcome: &Outcome, view: OutcomeView) -> Result<()> {
        match self.format {
            Format::Human => human::outcome(self.out, outcome, view),
            Format::Json | Format::Prometheus => json::write(
                self.out,
                &json::outcome(outcome, view == OutcomeView::Rollback),
            ),
        }
        .map_err(Error::Output)
    }

    pub fn rollback_preview(&mut self, entries: &[Entry]) -> Result<()> {
        match self.format {
            Format::Human => human::rollback_preview(self.out, entries),
            Format::Json | Format::Prometheus => Ok(()),
        }
        .map_err(Error::Output)
    }

    pub fn lint(&mut self, files: &[std::path::PathBuf], findings: &[Finding]) -> Result<()> {
        match self.format {
            Format::Human => human::lint(self.out, files, findings),
            // `commands` refuses prometheus for every command but check and sockets.
            Format::Json | Format::Prometheus => {
                json::write(self.out, &json::lint(files, findings))
            }
        }
        .map_err(Error::Output)
    }

    pub fn history(&mut self, entries: &[Entry]) -> Result<()> {
        match self.format {
            Format::Human => human::history(self.out, entries),
            // `commands` refuses prometheus for every command but check and sockets.
            Format::Json | Format::Prometheus => json::write(self.out, &json::history(entries)),
        }
        .map_err(Error::Output)
    }

    pub fn check(&mut self, report: &CheckReport<'_>) -> Result<()> {
        match self.format {
            Format::Human => human::check(self.out, report),
            Format::Json => json::write(self.out, &json::check(report)),
            Format::Prometheus => prometheus::check(self.out, report),
        }
        .map_err(Error::Output)
    }

    pub fn sockets(&mut self, report: &SocketsReport<'_>) -> Result<()> {
        match self.format {
            Format::Human => human::sockets(self.out, report, self.fancy),
            Format::Json => json::write(self.out, &json::sockets(report)),
            Format::Prometheus => prometheus::sockets(self.out, report),
        }
        .map_err(Error::Output)
    }

    pub fn profile_list(&mut self, listings: &[Listing]) -> Result<()> {
        match self.format {
            Format::Human => human::profile_list(self.out, listings),
            // `commands` refuses prometheus for every command but check and sockets.
            Format::Json | Format::Prometheus => {
                json::write(self.out, &json::profile_list(listings))
            }
        }
        .map_err(Error::Output)
    }

    pub fn profile(&mut self, profile: &Profile) -> Result<()> {
        match self.format {
            Format::Human => human::profile(self.out, profile),
            // `commands` refuses prometheus for every command but check and sockets.
            Format::Json | Format::Prometheus => json::write(self.out, &json::profile(profile)),
        }
        .map_err(Error::Output)
    }

    pub fn explain(&mut self, explanation: &Explanation<'_>) -> Result<()> {
        match self.format {
            Format::Human => human::explain(self.out, explanation),
            // `commands` refuses prometheus for every command but check and sockets.
            Format::Json | Format::Prometheus => json::write(self.out, &json::explain(explanation)),
        }
        .map_err(Error::Output)
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
    let usable = crate::rules::usable_ports(facts).filter(|usable| *usable > 0);
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

/// Writes a trailing newline even when the writer failed half-way, for tests.
pub(crate) fn finish(out: &mut dyn Write) -> io::Result<()> {
    out.flush()
}
