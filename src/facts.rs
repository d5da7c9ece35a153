//! Facts: one snapshot of everything tcptune read from the machine.
//!
//! Once gathered, facts are plain data: the rules and the planner are pure
//! functions of facts and a profile, so they can be tested with literal
//! values and never touch the system themselves.

use std::collections::BTreeMap;

use crate::census::{Census, CloseWaitOwners};
use crate::conf::{Loader, Resolution};
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};
use crate::system::{Counters, Reading, Sockstat};

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
    pub sample: Option<crate::rates::Sample>,
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

/// Keys the rules read, whatever the profile says.
pub const RULE_KEYS: &[&str] = &[
    "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_ehash_entries",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
];
