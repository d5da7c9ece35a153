//! Facts: one snapshot of everything tcptune read from the machine.
//!
//! Once gathered, facts are plain data: the rules and the planner are pure
//! functions of facts and a profile, so they can be tested with literal
//! values and never touch the system themselves.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::census::{Census, CloseWaitOwners};
use crate::conf::{Loader, Resolution};
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};

#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `osrelease` as the kernel prints it.
    pub kernel_release: String,
    /// The numeric part of the release, when it has one.
    pub kernel: Option<KernelVersion>,
    pub sysctls: BTreeMap<Key, Reading>,
    pub census: Census,
    /// Owners of the CLOSE_WAIT sockets, when they were looked up.
    pub close_wait_owners: Option<CloseWaitOwners>,
    pub sockstat: Option<Sockstat>,
    pub counters: Counters,
    /// What the sysctl files under the root set at boot, when read.
    pub boot: Option<Boot>,
    /// Rates from a second reading, with `--sample`.
    pub sample: Option<Sample>,
    /// The counters as a previous run left them in the state directory,
    /// when one was asked for and found.
    pub previous_counters: Option<PreviousCounters>,
    /// What the counters are judged over: a `--sample`, the time since a
    /// recent previous run, or (with neither) their lifetime totals.
    pub counter_window: CounterWindow,
    /// For planning: whether this namespace may write each requested key.
    pub writability: BTreeMap<Key, Writability>,
    /// For planning: tcptune's own sysctl.d file as it is now.
    pub own_file: Option<OwnFile>,
    /// What could not be read and was left out of these facts, for people
    /// (each is shown as a warning: a rule that needed it said nothing).
    pub skipped: Vec<String>,
}

/// tcptune's sysctl.d file before a change.
#[derive(Debug, Clone)]
pub struct OwnFile {
    pub path: std::path::PathBuf,
    /// Its bytes, or None when it does not exist.
    pub bytes: Option<Vec<u8>>,
    /// The later assignments that beat a file of this name at boot, when it
    /// is in the root's standard sysctl.d directory (elsewhere the boot
    /// order is not known).
    pub overridden_by: Option<crate::conf::CandidateReport>,
}

/// The boot-time configuration as the machine's loader applies it.
#[derive(Debug, Clone)]
pub struct Boot {
    pub loader: Loader,
    pub resolution: Resolution,
}

impl Facts {
    pub fn reading(&self, key: &str) -> Option<&Reading> {
        let key = Key::parse(key).ok()?;
        self.sysctls.get(&key)
    }

    /// The live value of a key, when it was read and is present.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.reading(key).and_then(Reading::value)
    }

    /// The live value of a single-integer key.
    pub fn integer(&self, key: &str) -> Option<i64> {
        self.value(key).and_then(Value::as_integer)
    }

    /// TIME_WAIT sockets in this namespace: sockstat's `tw` when present
    /// (it also counts FIN_WAIT2 sockets kept in the timewait table, which is
    /// what tcp_max_tw_buckets caps), otherwise the census.
    pub fn time_wait_count(&self) -> u64 {
        let counted = self.census.states.get(crate::census::TcpState::TimeWait);
        self.sockstat
            .map_or(counted, |sockstat| sockstat.tw.max(counted))
    }

    /// Size of ip_local_port_range minus the reserved ports inside it.
    pub fn usable_ports(&self) -> Option<u64> {
        let range = self.value("net.ipv4.ip_local_port_range")?.integers()?;
        let [low, high] = range.as_slice() else {
            return None;
        };
        // Ports are 16-bit; anything else is not a range the kernel would hold.
        if low > high || *low < 0 || *high > 65535 {
            return None;
        }
        let size = u64::try_from(high - low + 1).ok()?;
        let reserved = self
            .value("net.ipv4.ip_local_reserved_ports")
            .map(|value| reserved_within(&value.tokens().join(""), *low, *high))
            .unwrap_or(0);
        Some(size.saturating_sub(reserved))
    }

    /// ip_local_port_range as (low, high), when it is a valid range.
    pub fn ephemeral_range(&self) -> Option<(u16, u16)> {
        let range = self.value("net.ipv4.ip_local_port_range")?.integers()?;
        let [low, high] = range.as_slice() else {
            return None;
        };
        let (low, high) = (u16::try_from(*low).ok()?, u16::try_from(*high).ok()?);
        (low <= high).then_some((low, high))
    }

    /// Whether ip_local_reserved_ports lists `port`.
    pub fn port_reserved(&self, port: u16) -> bool {
        self.value("net.ipv4.ip_local_reserved_ports")
            .is_some_and(|value| {
                reserved_within(&value.tokens().join(""), i64::from(port), i64::from(port)) > 0
            })
    }

    /// Whether this looks like a child network namespace: a global key such
    /// as `tcp_max_orphans` is missing, or `tcp_ehash_entries` is negative
    /// (a child sharing the host's table).
    pub fn in_child_namespace(&self) -> bool {
        matches!(
            self.reading("net.ipv4.tcp_max_orphans"),
            Some(Reading::Absent)
        ) || self
            .integer("net.ipv4.tcp_ehash_entries")
            .is_some_and(|entries| entries < 0)
    }
}

/// The outcome of reading one sysctl. "Absent" and "unreadable" are kept
/// apart because they mean different things to an operator: the first says
/// this kernel (or this namespace) has no such key, the second that it does
/// but we may not look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reading {
    Present { value: Value },
    Absent,
    Unreadable { reason: String },
}

impl Reading {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Reading::Present { value } => Some(value),
            _ => None,
        }
    }
}

/// Counters by name. Values are signed: `Tcp: MaxConn` is -1.
pub type CounterMap = BTreeMap<String, i64>;

/// The counters tcptune reads as evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// `TcpExt:` of `/proc/net/netstat`.
    pub tcp_ext: CounterMap,
    /// `Tcp:` of `/proc/net/snmp`.
    pub tcp: CounterMap,
    /// `/proc/net/stat/nf_conntrack`, per-CPU rows summed (`entries` left
    /// out); empty where connection tracking is not loaded.
    #[serde(default)]
    pub conntrack: CounterMap,
}

impl Counters {
    pub fn tcp_ext(&self, name: &str) -> Option<i64> {
        self.tcp_ext.get(name).copied()
    }
}

/// A counter reading kept by an earlier run, with when it was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousCounters {
    pub counters: Counters,
    /// Seconds since the Unix epoch when it was read.
    pub taken_at: f64,
    /// Seconds between that reading and this one (negative when the clock
    /// went back).
    pub age_seconds: f64,
    /// The file it came from.
    pub path: String,
}

/// What the counters were judged over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterBasis {
    /// Since the namespace started (or the kernel booted): no recent
    /// reading to compare with, so whether it still happens is not known.
    #[default]
    Lifetime,
    /// Two readings `--sample SECONDS` apart.
    Sample,
    /// Since the reading an earlier run kept in the state directory.
    PreviousRun,
}

/// The counter changes the rules judge, and over what.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CounterWindow {
    pub basis: CounterBasis,
    /// The seconds the changes cover; None for lifetime totals.
    pub seconds: Option<f64>,
    /// Why the basis is what it is, for people (a previous reading too old,
    /// none kept, counters reset...).
    pub note: String,
    /// The change of every counter over the window (lifetime: the totals).
    pub changes: Counters,
}

impl CounterWindow {
    /// The change of a `TcpExt` counter over the window.
    pub fn tcp_ext(&self, name: &str) -> Option<i64> {
        self.changes.tcp_ext.get(name).copied()
    }

    /// The change of a connection-tracking counter over the window.
    pub fn conntrack(&self, name: &str) -> Option<i64> {
        self.changes.conntrack.get(name).copied()
    }

    /// The change of a `Tcp` counter over the window.
    pub fn tcp(&self, name: &str) -> Option<i64> {
        self.changes.tcp.get(name).copied()
    }

    /// A change per second, when the window has a length.
    pub fn per_second(&self, change: i64) -> Option<f64> {
        self.seconds
            .filter(|seconds| *seconds > 0.0)
            .map(|seconds| (change as f64 / seconds * 100.0).round() / 100.0)
    }

    /// Whether the changes are measured over a known window (not lifetime).
    pub fn is_measured(&self) -> bool {
        self.basis != CounterBasis::Lifetime
    }

    /// The window in words, for messages: "in the last 12 s (since the
    /// previous check)", "in 10 s of --sample", "since the namespace started".
    pub fn describe(&self) -> String {
        match (self.basis, self.seconds) {
            (CounterBasis::Sample, Some(seconds)) => format!("in {seconds:.1} s of --sample"),
            (CounterBasis::PreviousRun, Some(seconds)) => {
                format!("in the {seconds:.1} s since the previous check")
            }
            _ => "since the namespace started (lifetime total)".to_owned(),
        }
    }

    /// The window as evidence: basis, seconds and note.
    pub fn evidence(&self) -> serde_json::Value {
        serde_json::json!({
            "basis": self.basis,
            "seconds": self.seconds,
            "note": self.note,
        })
    }
}

/// The `TCP:` line of `/proc/net/sockstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sockstat {
    pub inuse: u64,
    pub orphan: u64,
    pub tw: u64,
    pub alloc: u64,
    pub mem: u64,
}

/// Whether a key can be written in this namespace, judged before writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writability {
    Writable,
    Absent,
    /// The file has no write permission bits (global keys mirrored into a
    /// child namespace are 0444).
    ReadOnly,
}

/// TCP_TIMEWAIT_LEN: every TIME_WAIT socket lasts this long, fixed in the
/// kernel (no mainline sysctl changes it).
pub const TIME_WAIT_SECONDS: u64 = 60;

/// Rates from two readings a few seconds apart (`--sample`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub seconds: f64,
    /// Outgoing connections started per second (Tcp: ActiveOpens).
    pub active_opens_per_second: f64,
    /// Incoming connections accepted per second (Tcp: PassiveOpens).
    pub passive_opens_per_second: f64,
    /// Sockets entering TIME_WAIT per second (TcpExt TW, which the kernel
    /// counts as a socket enters TIME_WAIT, as measured in a namespace).
    pub time_wait_entries_per_second: f64,
    /// What the TIME_WAIT count settles at if the rate holds.
    pub steady_state_time_wait: f64,
    pub tcp_max_tw_buckets: Option<i64>,
    pub destinations: Vec<DestinationRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationRate {
    pub destination: String,
    pub time_wait: u64,
    /// Estimated new connections per second toward it that end in TIME_WAIT
    /// here: growth of the count plus the share that expired (count / 60).
    pub connections_per_second: f64,
    /// usable ports / 60.
    pub sustainable_per_second: Option<f64>,
    /// connections_per_second / sustainable_per_second, 0..1 and beyond.
    pub usage: Option<f64>,
}

/// How many ports of `low..=high` a reserved list such as `8080,9000-9100` covers.
fn reserved_within(list: &str, low: i64, high: i64) -> u64 {
    list.split(',')
        .filter_map(|part| {
            let (start, end) = match part.split_once('-') {
                Some((start, end)) => (
                    start.trim().parse::<i64>().ok()?,
                    end.trim().parse::<i64>().ok()?,
                ),
                None => {
                    let port = part.trim().parse::<i64>().ok()?;
                    (port, port)
                }
            };
            let (start, end) = (start.max(low), end.min(high));
            u64::try_from(end - start + 1).ok()
        })
        .sum()
}
