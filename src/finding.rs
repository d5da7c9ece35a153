//! Findings: what an audit found, as data.
//!
//! A finding carries a stable kebab-case code (part of the JSON contract), a
//! severity, the key and values it is about, and three pieces of text: what
//! is wrong (`message`), why it matters (`rationale`) and what to do (`fix`).
//! `evidence` holds the numbers that triggered it. Only `report` turns
//! findings into text for people.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::Serialize;

/// How much a finding matters. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub const ALL_DESCENDING: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Severity, String> {
        match text {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(format!(
                "`{text}` is not a severity: use info, warning or error"
            )),
        }
    }
}

/// Declares the finding codes once: the enum, its list, and (through serde's
/// kebab-case renaming) the stable names. Adding a code is one line here; the
/// schema test then asks for it in the schemas and their README.
macro_rules! finding_codes {
    ($($(#[doc = $doc:literal])* $variant:ident,)*) => {
        /// The stable finding codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// What the code means, for people: its documentation above
            /// (the man page lists every code with it).
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc,)*),)*
                }
            }
        }
    };
}

finding_codes! {
    /// A live value differs from what the profile expects.
    Drift,
    /// The profile or a sysctl file sets a key this kernel removed.
    ObsoleteKey,
    /// The live value is right but no sysctl file sets it for the next boot.
    NotPersisted,
    /// A sysctl file's setting loses at boot to a later file.
    Shadowed,
    /// A value known to do harm.
    HarmfulValue,
    /// The profile sets a key this kernel or namespace does not have, for a
    /// reason other than removal (added later, global key in a child
    /// namespace, unknown key).
    UnavailableKey,
    /// A key exists but could not be read.
    UnreadableKey,
    /// CLOSE_WAIT sockets pile up.
    CloseWaitLeak,
    /// TIME_WAIT toward one destination uses a large share of the port range.
    PortExhaustion,
    /// TIME_WAIT reached or neared tcp_max_tw_buckets.
    TwBucketOverflow,
    /// Listeners dropped connections because their queues were full.
    ListenOverflow,
    /// Orphaned sockets near tcp_max_orphans.
    OrphanOverflow,
    /// A listener's backlog equals net.core.somaxconn: probably clamped.
    ListenBacklogClamped,
    /// A listener's port lies in the ephemeral range and is not reserved.
    ListenerInEphemeralRange,
    /// SYN cookies sent or SYNs dropped because a SYN queue was full.
    SynQueueFull,
    /// TCP memory above the tcp_mem pressure or hard threshold, or the
    /// kernel counted memory pressure or aborts.
    TcpMemoryPressure,
    /// The connection-tracking table is nearly full, or refused entries.
    ConntrackTableFull,
    /// A large share of the segments sent were retransmissions.
    Retransmits,
    /// net.ipv4.tcp_keepalive_time is not below the idle timeout of the load
    /// balancer or NAT the profile names.
    KeepaliveAfterIdleTimeout,
    /// ESTABLISHED connections idle past the named idle timeout without a
    /// keepalive timer.
    IdlePastTimeout,
    /// Long, busy connections held back by a receive window or send buffer
    /// below what the path carries.
    BufferLimited,
    /// A sysctl file sets a key no mainline kernel has: a vendor-only key,
    /// or a likely misspelling of a known one.
    UnknownKey,
    /// A sysctl file sets a known key to a value outside what it accepts.
    InvalidValue,
    /// A sysctl file sets a key that the same or a later file sets again.
    DuplicateKey,
    /// A sysctl file line that the loaders skip or read differently.
    InvalidLine,
}

/// What a finding is about, so that configuration management and
/// monitoring can each act on their own: settings converge when applied;
/// workload findings come from sockets and counters under traffic, and
/// applying a profile does not make them go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A live value, a sysctl file or a profile: fixed by configuration.
    Setting,
    /// What the sockets and counters show under the host's traffic.
    Workload,
}

impl Code {
    /// Whether configuration or the workload is what the finding is about.
    /// A new code must say (the match has no default).
    pub fn kind(self) -> Kind {
        match self {
            Code::Drift
            | Code::ObsoleteKey
            | Code::NotPersisted
            | Code::Shadowed
            | Code::HarmfulValue
            | Code::UnavailableKey
            | Code::UnreadableKey
            | Code::UnknownKey
            | Code::InvalidValue
            | Code::DuplicateKey
            | Code::InvalidLine
            | Code::KeepaliveAfterIdleTimeout => Kind::Setting,
            Code::CloseWaitLeak
            | Code::PortExhaustion
            | Code::TwBucketOverflow
            | Code::ListenOverflow
            | Code::OrphanOverflow
            | Code::ListenBacklogClamped
            | Code::ListenerInEphemeralRange
            | Code::SynQueueFull
            | Code::TcpMemoryPressure
            | Code::ConntrackTableFull
            | Code::Retransmits
            | Code::IdlePastTimeout
            | Code::BufferLimited => Kind::Workload,
        }
    }

    /// The kebab-case name of the JSON contract, as serde derives it.
    pub fn name(self) -> &'static str {
        static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
            Code::ALL
                .iter()
                .map(|code| match serde_json::to_value(code) {
                    Ok(serde_json::Value::String(name)) => name,
                    // A unit variant always serialises as its name.
                    _ => format!("{code:?}"),
                })
                .collect()
        });
        NAMES.get(self as usize).map_or("", String::as_str)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One result of an audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: Code,
    /// Derived from the code: what the finding is about.
    pub kind: Kind,
    pub severity: Severity,
    /// The sysctl the finding is about, when there is one.
    pub key: Option<String>,
    pub current: Option<String>,
    pub expected: Option<String>,
    pub message: String,
    pub rationale: String,
    /// The numbers that triggered the finding.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    pub fix: String,
    /// The file and line the finding is about, for findings about files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

impl Finding {
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code,
            kind: code.kind(),
            severity,
            key: None,
            current: None,
            expected: None,
            message: message.into(),
            rationale: String::new(),
            evidence: serde_json::Map::new(),
            fix: String::new(),
            location: None,
        }
    }

    pub fn location(mut self, path: impl Into<String>, line: usize) -> Finding {
        self.location = Some(Location {
            path: path.into(),
            line,
        });
        self
    }

    pub fn key(mut self, key: impl ToString) -> Finding {
        self.key = Some(key.to_string());
        self
    }

    pub fn current(mut self, current: impl ToString) -> Finding {
        self.current = Some(current.to_string());
        self
    }

    pub fn expected(mut self, expected: impl ToString) -> Finding {
        self.expected = Some(expected.to_string());
        self
    }

    /// Replaces the message.
    pub fn message(mut self, message: impl Into<String>) -> Finding {
        self.message = message.into();
        self
    }

    pub fn rationale(mut self, rationale: impl Into<String>) -> Finding {
        self.rationale = rationale.into();
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }

    pub fn evidence(mut self, name: &str, value: impl Into<serde_json::Value>) -> Finding {
        self.evidence.insert(name.to_owned(), value.into());
        self
    }
}

/// Findings counted by severity, as the JSON `summary` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let mut summary = Summary::default();
        for finding in findings {
            match finding.severity {
                Severity::Error => summary.error += 1,
                Severity::Warning => summary.warning += 1,
                Severity::Info => summary.info += 1,
            }
        }
        summary
    }
}
