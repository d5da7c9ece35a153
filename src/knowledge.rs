//! What tcptune knows about each key it sets or reads: what the key really
//! does (from the kernel's code, not from folklore), its default, the values
//! the kernel accepts, whether each network namespace has its own copy, and
//! the kernel releases that added or removed it. Also the longer topics that
//! `tcptune explain` prints (`time-wait`, `close-wait`, ...).
//!
//! Every statement here follows the project's checked fact sheet of kernel
//! behaviour; when the kernel's Documentation or tcp(7) disagree with the
//! code, the code wins.

use serde::Serialize;

use crate::kernel::KernelVersion;
use crate::key::Value;

/// Whether each network namespace has its own copy of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each namespace has its own value; a write in a child namespace does
    /// not touch the host.
    PerNetns,
    /// One value for the whole machine; absent in a child namespace.
    Global,
    /// One value for the whole machine; a child namespace sees it read-only.
    GlobalReadOnlyInChild,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::PerNetns => "per network namespace",
            Scope::Global => "global (absent inside a child network namespace)",
            Scope::GlobalReadOnlyInChild => {
                "global (read-only inside a child network namespace from 6.11, absent there before)"
            }
        }
    }
}

/// The values the kernel accepts (as far as tcptune validates them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// One integer, one of these.
    OneOf(&'static [i64]),
    /// One integer within the bounds, inclusive.
    Between(i64, i64),
    /// Three integers `min default max`, each within the bounds, non-decreasing.
    Triple(i64, i64),
    /// Two port numbers `low high` with low <= high.
    PortPair,
    /// A comma-separated list of ports or port ranges, or empty.
    PortList,
    /// One word (a congestion control algorithm's name).
    Word,
    /// Space-separated algorithm names.
    Words,
    /// Read-only: nothing may be written.
    ReadOnly,
}

impl Range {
    /// Checks a value; the message says what is accepted.
    pub fn check(self, value: &Value) -> Result<(), String> {
        let tokens = value.tokens();
        match self {
            Range::OneOf(allowed) => match value.as_integer() {
                Some(number) if allowed.contains(&number) => Ok(()),
                _ => Err(format!("must be one of {}", join(allowed))),
            },
            Range::Between(low, high) => match value.as_integer() {
                Some(number) if (low..=high).contains(&number) => Ok(()),
                _ => Err(format!("must be an integer from {low} to {high}")),
            },
            Range::Triple(low, high) => match value.integers() {
                Some(numbers)
                    if numbers.len() == 3
                        && numbers.iter().all(|n| (low..=high).contains(n))
                        && numbers[0] <= numbers[1]
                        && numbers[1] <= numbers[2] =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "must be three integers `min default max` from {low} to {high}, in that order"
                )),
            },
            Range::PortPair => match value.integers().as_deref() {
                Some([low, high])
                    if (1..=65535).contains(low) && (1..=65535).contains(high) && low <= high =>
                {
                    Ok(())
                }
                _ => Err("must be two ports `low high` from 1 to 65535 with low <= high".into()),
            },
            Range::PortList => {
                let text = tokens.join("");
                let valid = text.is_empty()
                    || text.split(',').all(|part| {
                        let bounds: Vec<&str> = part.split('-').collect();
                        matches!(bounds.len(), 1 | 2)
                            && bounds
                                .iter()
                                .all(|bound| bound.parse::<u16>().is_ok_and(|port| port > 0))
                    });
                if valid {
                    Ok(())
                } else {
                    Err("must be a comma-separated list of ports or ranges such as `8080,9000-9100`".into())
                }
            }
            Range::Word => match tokens {
                [word]
                    if word
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_') =>
                {
                    Ok(())
                }
                _ => Err("must be one algorithm name such as `cubic` or `bbr`".into()),
            },
            Range::Words => {
                if !tokens.is_empty()
                    && tokens.iter().all(|word| {
                        word.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                    })
                {
                    Ok(())
                } else {
                    Err(
                        "must be algorithm names separated by spaces, such as `reno cubic bbr`"
                            .into(),
                    )
                }
            }
            Range::ReadOnly => {
                Err("is read-only: the kernel reports it and does not accept writes".into())
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            Range::OneOf(allowed) => format!("one of {}", join(allowed)),
            Range::Between(low, high) => format!("integer {low}..{high}"),
            Range::Triple(low, high) => {
                format!("three integers `min default max` in {low}..{high}")
            }
            Range::PortPair => "two ports `low high`, low <= high".into(),
            Range::PortList => "comma-separated ports and ranges, or empty".into(),
            Range::Word => "an algorithm name".into(),
            Range::Words => "algorithm names separated by spaces".into(),
            Range::ReadOnly => "read-only".into(),
        }
    }
}

fn join(numbers: &[i64]) -> String {
    numbers
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What tcptune knows about one key.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo {
    pub key: &'static str,
    /// What the key really does, in a few sentences.
    pub summary: &'static str,
    /// The kernel's default, as text (some defaults depend on memory size).
    pub default: &'static str,
    /// The default as a value when it is a constant, for comparisons.
    pub default_value: Option<&'static str>,
    pub range: Range,
    pub scope: Scope,
    pub added: Option<KernelVersion>,
    /// First kernel release WITHOUT the key.
    pub removed: Option<KernelVersion>,
    /// Folklore about this key and what is true instead.
    pub myth: Option<&'static str>,
}

impl KeyInfo {
    /// Whether a kernel of this version has the key at all.
    pub fn exists_in(&self, version: KernelVersion) -> bool {
        self.added.is_none_or(|added| version >= added)
            && self.removed.is_none_or(|removed| version < removed)
    }
}

const fn v(major: u32, minor: u32) -> Option<KernelVersion> {
    Some(KernelVersion::new(major, minor, 0))
}

const INT_MAX: i64 = i32::MAX as i64;

/// Every key tcptune sets or reads.
pub static KEYS: &[KeyInfo] = &[
    KeyInfo {
        key: "net.ipv4.tcp_tw_recycle",
        summary: "Cached the last TCP timestamp per peer address and dropped SYNs carrying an older one. Hosts behind one NAT share an address but not a timestamp clock, so their connections were silently dropped (counter PAWSPassive); once timestamps got per-connection offsets (4.10) it broke for everyone.",
        default: "0",
        default_value: Some("0"),
        range: Range::OneOf(&[0, 1]),
        scope: Scope::PerNetns,
        added: None,
        removed: v(4, 12),
        myth: Some(
            "\"Set tcp_tw_recycle=1 to get rid of TIME_WAIT\": it dropped SYNs from clients behind NAT and was removed in Linux 4.12. A sysctl file that still sets it makes `sysctl -p` and `sysctl --system` exit 1 on every newer kernel.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_tw_reuse",
        summary: "Lets an outgoing connect() take over the address/port pair of a TIME_WAIT socket when that is safe: TCP timestamps on both ends and the last timestamp at least 1 s old (tcp_tw_reuse_delay on 6.14+). 0 off, 1 on, 2 loopback only. It never affects connections a server accepts.",
        default: "2 (loopback only)",
        default_value: Some("2"),
        range: Range::OneOf(&[0, 1, 2]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"tcp_tw_reuse fixes TIME_WAIT pile-up on servers\": it only helps this host's own outgoing connections (to upstreams, databases, backends), needs tcp_timestamps, and the default 2 already covers loopback.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_tw_reuse_delay",
        summary: "Minimum age in milliseconds of the peer's last timestamp before tcp_tw_reuse may take over a TIME_WAIT socket.",
        default: "1000",
        default_value: Some("1000"),
        range: Range::Between(1, 60000),
        scope: Scope::PerNetns,
        added: v(6, 14),
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_fin_timeout",
        summary: "How long an orphaned socket (the application already closed it) waits in FIN_WAIT2 for the peer's FIN before the kernel drops it. It does not change how long TIME_WAIT lasts: that is fixed at 60 s.",
        default: "60",
        default_value: Some("60"),
        range: Range::Between(1, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"tcp_fin_timeout=30 halves TIME_WAIT\": it limits orphaned FIN_WAIT2 only. TIME_WAIT is TCP_TIMEWAIT_LEN, 60 s, hard-coded; no mainline sysctl changes it.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_tw_buckets",
        summary: "Upper limit on TIME_WAIT sockets. Past it, a closing socket skips TIME_WAIT entirely and TcpExt TCPTimeWaitOverflow rises; current kernels print no message about it.",
        default: "half the established hash table (tcp_ehash_entries / 2; 131072 on a typical host)",
        default_value: None,
        range: Range::Between(0, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"Lower tcp_max_tw_buckets to get rid of TIME_WAIT\": sockets past the cap skip TIME_WAIT, which removes its protection against old duplicate segments being accepted by a new connection on the same ports.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_ehash_entries",
        summary: "Read-only: the size of the TCP established hash table this namespace uses; negative when a child namespace shares the host's table. tcp_max_tw_buckets and tcp_max_orphans default to half of it.",
        default: "depends on memory",
        default_value: None,
        range: Range::ReadOnly,
        scope: Scope::PerNetns,
        added: v(5, 19),
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_syncookies",
        summary: "SYN cookies: 1 answers with a cookie instead of queueing when a listener's SYN queue overflows (SYN floods), 2 always sends cookies, 0 never. The kernel also accepts other numbers, so tcptune checks the value itself.",
        default: "1",
        default_value: Some("1"),
        range: Range::OneOf(&[0, 1, 2]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_syn_backlog",
        summary: "Limit on half-open connections (SYN_RECV) per listener. On current kernels a listener's SYN queue is also bounded by its listen() backlog; with tcp_syncookies=1 the kernel answers with cookies once that queue is full, and this limit mainly matters when cookies are off.",
        default: "max(128, tcp_ehash_entries / 128) (2048 on a typical host)",
        default_value: None,
        range: Range::Between(1, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.somaxconn",
        summary: "Caps the backlog an application passes to listen(): the length of the accept queue of completed connections. It is applied when listen() is called, so a running server only profits after it listens again (usually a restart).",
        default: "4096 (128 before 5.4)",
        default_value: Some("4096"),
        range: Range::Between(1, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"Raise somaxconn and the running server is fixed\": the cap is read at listen(); restart or re-listen the server, and make sure it asks for a large backlog itself.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_abort_on_overflow",
        summary: "When a listener's accept queue is full, reset new connections (1) instead of dropping the final ACK and letting the client retry (0). Resets hide a slow application from its clients; the default is usually right.",
        default: "0",
        default_value: Some("0"),
        range: Range::OneOf(&[0, 1]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.ip_local_port_range",
        summary: "The ephemeral ports connect() and bind(0) choose from. connect() first tries ports with the parity of the low bound and bind(0) the other, so keep the two bounds of different parity. From one source address, at most (high - low + 1) minus reserved ports connections can exist to one destination address and port at once.",
        default: "32768 60999",
        default_value: Some("32768 60999"),
        range: Range::PortPair,
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.ip_local_reserved_ports",
        summary: "Ports excluded from automatic assignment by connect() and bind(0); explicit binds may still use them.",
        default: "empty",
        default_value: Some(""),
        range: Range::PortList,
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_time",
        summary: "Seconds a connection may be idle before the first keepalive probe, for sockets that enabled SO_KEEPALIVE. Per-socket options (TCP_KEEPIDLE) override it.",
        default: "7200",
        default_value: Some("7200"),
        range: Range::Between(1, 32767),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_intvl",
        summary: "Seconds between keepalive probes, for sockets with SO_KEEPALIVE. Per-socket TCP_KEEPINTVL overrides it.",
        default: "75",
        default_value: Some("75"),
        range: Range::Between(1, 32767),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_probes",
        summary: "Unanswered keepalive probes before the connection is declared dead, for sockets with SO_KEEPALIVE. Per-socket TCP_KEEPCNT overrides it.",
        default: "9",
        default_value: Some("9"),
        range: Range::Between(1, 127),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_retries2",
        summary: "How many times an unacknowledged segment is retransmitted on an established connection before it is given up; with exponential backoff 15 means about 924.6 s.",
        default: "15 (about 924.6 s)",
        default_value: Some("15"),
        range: Range::Between(0, 255),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_orphan_retries",
        summary: "Retransmissions before an orphaned socket (closed by its application) is given up. 0, the default, is treated as 8 by the code.",
        default: "0 (treated as 8)",
        default_value: Some("0"),
        range: Range::Between(0, 255),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"tcp_orphan_retries=0 is a misconfiguration\": 0 is the default and the kernel treats it as 8; tcp(7) and the kernel docs saying \"default 8\" describe the effect, not the stored value.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_orphans",
        summary: "Upper limit on orphaned sockets (closed by their application, still finishing the TCP teardown). Past it the kernel resets them and logs \"too many orphaned sockets\".",
        default: "tcp_ehash_entries / 2",
        default_value: None,
        range: Range::Between(0, INT_MAX),
        scope: Scope::Global,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_mem",
        summary: "Three thresholds, in pages (not bytes), for all TCP memory of the machine: below the first no pressure, above the second the kernel moderates buffers, above the third it refuses allocations.",
        default: "computed from memory size at boot",
        default_value: None,
        range: Range::Triple(1, i64::MAX),
        scope: Scope::Global,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_fastopen",
        summary: "TCP Fast Open as a bit mask: 1 client, 2 server, 0x4 client without cookie, 0x200 and 0x400 server without cookie. Data in the SYN saves a round trip for repeat clients.",
        default: "1 (client only)",
        default_value: Some("1"),
        range: Range::Between(0, 0x7ff),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_slow_start_after_idle",
        summary: "After an idle period, shrink the congestion window back to the initial window (1) or keep it (0). Keeping it helps long-lived connections that send in bursts, such as HTTP/2 or database connections.",
        default: "1",
        default_value: Some("1"),
        range: Range::OneOf(&[0, 1]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_mtu_probing",
        summary: "Packetization-layer path MTU discovery: 0 off, 1 on after an ICMP black hole is detected, 2 always.",
        default: "0",
        default_value: Some("0"),
        range: Range::OneOf(&[0, 1, 2]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_congestion_control",
        summary: "Congestion control for new connections. A new namespace inherits the host's algorithm; inside a child namespace only algorithms listed in tcp_allowed_congestion_control may be chosen (otherwise the write fails with EPERM).",
        default: "chosen at build time (cubic in mainline)",
        default_value: None,
        range: Range::Word,
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"Set tcp_congestion_control=bbr in a container\": EPERM unless the host loaded bbr and lists it in tcp_allowed_congestion_control.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_available_congestion_control",
        summary: "Read-only list of congestion control algorithms the running kernel has loaded.",
        default: "depends on the kernel build",
        default_value: None,
        range: Range::ReadOnly,
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_allowed_congestion_control",
        summary: "Algorithms unprivileged sockets and child namespaces may choose. Global: writable on the host, read-only inside a child namespace.",
        default: "depends on the kernel build",
        default_value: None,
        range: Range::Words,
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_rmem",
        summary: "Receive buffer per socket in bytes: min, default, max. Autotuning grows a socket's receive buffer up to the third number (32 MiB by default since 6.16); net.core.rmem_max does not cap autotuning.",
        default: "4096 131072 6291456 (max 33554432 since 6.16)",
        default_value: None,
        range: Range::Triple(1, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"Raise net.core.rmem_max so autotuning grows\": autotuning is capped by tcp_rmem's third number; rmem_max caps only buffers set explicitly with SO_RCVBUF.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_wmem",
        summary: "Send buffer per socket in bytes: min, default, max. Autotuning grows the send buffer up to the third number.",
        default: "4096 16384 4194304 on most hosts (the maximum is lowered on small-memory machines)",
        default_value: None,
        range: Range::Triple(1, INT_MAX),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.rmem_max",
        summary: "Largest receive buffer an application may request with SO_RCVBUF. It does not limit TCP autotuning (tcp_rmem does).",
        default: "212992",
        default_value: Some("212992"),
        range: Range::Between(0, INT_MAX),
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.wmem_max",
        summary: "Largest send buffer an application may request with SO_SNDBUF. It does not limit TCP autotuning (tcp_wmem does).",
        default: "212992",
        default_value: Some("212992"),
        range: Range::Between(0, INT_MAX),
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.rmem_default",
        summary: "Default receive buffer of non-TCP sockets; TCP sockets start from tcp_rmem's middle number instead.",
        default: "212992",
        default_value: Some("212992"),
        range: Range::Between(0, INT_MAX),
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.wmem_default",
        summary: "Default send buffer of non-TCP sockets; TCP sockets start from tcp_wmem's middle number instead.",
        default: "212992",
        default_value: Some("212992"),
        range: Range::Between(0, INT_MAX),
        scope: Scope::GlobalReadOnlyInChild,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.core.netdev_max_backlog",
        summary: "Packets a CPU may queue from network devices before the kernel processes them; past it packets are dropped (softnet_stat's second column).",
        default: "1000",
        default_value: Some("1000"),
        range: Range::Between(1, INT_MAX),
        scope: Scope::Global,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_timestamps",
        summary: "TCP timestamps (RFC 7323): 1 on with a random per-connection offset, 2 on without the offset, 0 off. PAWS protection against old duplicate segments and tcp_tw_reuse both need them.",
        default: "1",
        default_value: Some("1"),
        range: Range::OneOf(&[0, 1, 2]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: Some(
            "\"tcp_timestamps=0 fixes NAT drops\": that was only ever about tcp_tw_recycle, removed in 4.12. Turning timestamps off breaks PAWS and makes tcp_tw_reuse do nothing.",
        ),
    },
    KeyInfo {
        key: "net.ipv4.tcp_sack",
        summary: "Selective acknowledgements: the receiver tells the sender exactly which segments arrived, so a loss costs one retransmission instead of a window.",
        default: "1",
        default_value: Some("1"),
        range: Range::OneOf(&[0, 1]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_window_scaling",
        summary: "Window scaling (RFC 7323): receive windows larger than 64 KiB. Without it throughput is capped at 64 KiB per round trip.",
        default: "1",
        default_value: Some("1"),
        range: Range::OneOf(&[0, 1]),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
    KeyInfo {
        key: "net.ipv4.tcp_notsent_lowat",
        summary: "Bytes of not-yet-sent data a socket may queue before poll() stops reporting it writable. Lowering it (e.g. 131072) keeps less stale data queued for latency-sensitive senders such as HTTP/2 servers.",
        default: "4294967295 (no limit)",
        default_value: Some("4294967295"),
        range: Range::Between(1, 4_294_967_295),
        scope: Scope::PerNetns,
        added: None,
        removed: None,
        myth: None,
    },
];

/// Keys that exist only in some vendor kernels; mainline has no such key.
pub static VENDOR_ONLY_KEYS: &[(&str, &str)] = &[(
    "net.ipv4.tcp_tw_timeout",
    "exists only in one vendor kernel; mainline TIME_WAIT is TCP_TIMEWAIT_LEN, a hard-coded 60 s that no sysctl changes",
)];

/// Looks a key up by its canonical dotted name.
pub fn lookup(key: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|info| info.key == key)
}

/// A longer explanation `tcptune explain TOPIC` prints.
#[derive(Debug, Clone, Copy)]
pub struct Topic {
    pub name: &'static str,
    pub title: &'static str,
    pub paragraphs: &'static [&'static str],
}

pub static TOPICS: &[Topic] = &[
    Topic {
        name: "time-wait",
        title: "TIME_WAIT: the side that closes first waits 60 seconds",
        paragraphs: &[
            "The endpoint that sends the first FIN ends in TIME_WAIT for TCP_TIMEWAIT_LEN, a hard-coded 60 seconds. During that time the address/port pair cannot be used for a new connection to the same peer, so a late duplicate segment of the old connection cannot be mistaken for data of a new one. TIME_WAIT sockets belong to no process and cost little memory; they are a symptom of many short connections, not a leak.",
            "It hurts when one host opens many short connections to the same destination (a proxy or load balancer to its backends, an application to its database): from one source address at most the size of ip_local_port_range (28232 ports by default) connections to one destination address and port can exist at once, TIME_WAIT included, which sustains about 28232 / 60 = 470 new connections per second. Past that, connect() fails with EADDRNOTAVAIL.",
            "What helps, best first: reuse connections (HTTP keep-alive, connection pools) so fewer are opened at all; let the peer close first where the protocol allows it, so the TIME_WAIT lands on the other side; net.ipv4.tcp_tw_reuse=1 for this host's outgoing connections (needs tcp_timestamps, never helps accepted connections); a wider ip_local_port_range or more source addresses.",
            "What does not help: tcp_fin_timeout (it limits orphaned FIN_WAIT2, not TIME_WAIT); tcp_tw_recycle (removed in 4.12, and before that it dropped clients behind NAT); tcp_tw_timeout (not in mainline kernels); lowering tcp_max_tw_buckets (sockets past the cap skip TIME_WAIT and lose its protection); SO_LINGER with a zero timeout (it sends RST and throws away unsent data: the peer sees ECONNRESET).",
            "Evidence: the tw count in /proc/net/sockstat, TIME_WAIT per destination (`tcptune sockets --by-destination`), and TcpExt TCPTimeWaitOverflow in /proc/net/netstat, which rises when tcp_max_tw_buckets is reached. Current kernels print no log message for that.",
        ],
    },
    Topic {
        name: "close-wait",
        title: "CLOSE_WAIT: the application never called close()",
        paragraphs: &[
            "A socket is in CLOSE_WAIT when the peer has closed its side (its FIN arrived) and the local application has not yet closed the socket. The kernel has nothing left to do: it waits for the application to call close() or shutdown(). A pile of CLOSE_WAIT sockets therefore means a bug or a stall in the application that owns them: a leaked file descriptor, an error path that skips close(), a connection pool that never checks for closed connections, or threads blocked elsewhere.",
            "No sysctl fixes CLOSE_WAIT. tcp_fin_timeout, tcp_keepalive_*, tcp_max_orphans and tcp_tw_* do not touch these sockets, because they are not orphaned: the process still holds them. They go away when the process closes them or exits.",
            "What to do: find the process (`tcptune sockets --processes`, or `ss -tanp state close-wait`), look at which local and remote ports the sockets use (a server leaking on its listening port reads differently from a client leaking toward one backend), and fix the code path that forgets to close. Restarting the process frees them for now.",
        ],
    },
    Topic {
        name: "fin-wait2",
        title: "FIN_WAIT2: we closed, the peer has not",
        paragraphs: &[
            "A socket is in FIN_WAIT2 after it sent its FIN and got it acknowledged, while the peer has not closed its side yet. If the local application still holds the socket (it used shutdown()), it stays as long as the peer keeps its side open. If the application closed it, the socket is orphaned and tcp_fin_timeout (60 s by default) limits how long it waits for the peer's FIN.",
            "tcp_fin_timeout therefore frees orphaned FIN_WAIT2 sockets sooner. It does not change TIME_WAIT, which lasts a fixed 60 s.",
        ],
    },
];

pub fn topic(name: &str) -> Option<&'static Topic> {
    TOPICS.iter().find(|topic| topic.name == name)
}

/// What `explain SUBJECT` names.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Topic(&'static Topic),
    Key(&'static KeyInfo),
    /// A key that exists only in vendor kernels: its name and why it is not
    /// mainline.
    VendorOnly(&'static str, &'static str),
}

/// Finds a topic or key in either spelling (`net.ipv4.tcp_tw_reuse`,
/// `net/ipv4/tcp_tw_reuse`) or by its last part alone (`tcp_tw_reuse`).
pub fn find(subject: &str) -> Option<Subject> {
    let subject = subject.trim();
    if let Some(topic) = topic(subject) {
        return Some(Subject::Topic(topic));
    }
    let canonical = crate::key::Key::parse(subject)
        .ok()
        .map(|key| key.to_string());
    let leaf_is = |key: &str| key.rsplit('.').next() == Some(subject);
    if let Some(info) = canonical
        .as_deref()
        .and_then(lookup)
        .or_else(|| KEYS.iter().find(|info| leaf_is(info.key)))
    {
        return Some(Subject::Key(info));
    }
    VENDOR_ONLY_KEYS
        .iter()
        .find(|(key, _)| Some(*key) == canonical.as_deref() || leaf_is(key))
        .map(|(key, why)| Subject::VendorOnly(key, why))
}

/// Why `explain` cannot answer, with the nearest known name if there is one.
pub fn unknown_subject(subject: &str) -> String {
    let subject = subject.trim();
    let candidates = KEYS
        .iter()
        .map(|info| info.key)
        .chain(TOPICS.iter().map(|topic| topic.name));
    let mut message = format!("tcptune knows no key or topic `{subject}`");
    let full = if subject.contains('.') || subject.contains('/') {
        subject.to_owned()
    } else {
        format!("net.ipv4.{subject}")
    };
    if let Some(near) = crate::suggest::closest(&full, candidates.clone())
        .or_else(|| crate::suggest::closest(subject, candidates))
    {
        message.push_str(&format!("; did you mean `{near}`?"));
    }
    let topics: Vec<&str> = TOPICS.iter().map(|topic| topic.name).collect();
    message.push_str(&format!(" (topics: {})", topics.join(", ")));
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    #[test]
    fn every_entry_is_a_valid_net_key_with_a_valid_default() {
        for info in KEYS {
            let key = Key::parse(info.key).unwrap();
            assert!(key.is_net(), "{}", info.key);
            assert_eq!(key.to_string(), info.key);
            if let Some(default) = info.default_value
                && info.range != Range::ReadOnly
            {
                info.range
                    .check(&Value::parse(default))
                    .unwrap_or_else(|message| panic!("{}: default {default} {message}", info.key));
            }
        }
    }

    #[test]
    fn tw_recycle_is_gone_from_4_12() {
        let info = lookup("net.ipv4.tcp_tw_recycle").unwrap();
        assert!(info.exists_in(KernelVersion::new(4, 11, 12)));
        assert!(!info.exists_in(KernelVersion::new(4, 12, 0)));
    }

    #[test]
    fn ranges_follow_the_kernel() {
        let reuse = lookup("net.ipv4.tcp_tw_reuse").unwrap().range;
        assert!(reuse.check(&Value::parse("2")).is_ok());
        assert!(reuse.check(&Value::parse("3")).is_err());
        let syncookies = lookup("net.ipv4.tcp_syncookies").unwrap().range;
        assert!(syncookies.check(&Value::parse("3")).is_err());
        let ports = lookup("net.ipv4.ip_local_port_range").unwrap().range;
        assert!(ports.check(&Value::parse("1024\t65535")).is_ok());
        assert!(ports.check(&Value::parse("60999 32768")).is_err());
        let rmem = lookup("net.ipv4.tcp_rmem").unwrap().range;
        assert!(rmem.check(&Value::parse("4096 131072 33554432")).is_ok());
        assert!(rmem.check(&Value::parse("4096 131072")).is_err());
        let reserved = lookup("net.ipv4.ip_local_reserved_ports").unwrap().range;
        assert!(reserved.check(&Value::parse("8080,9000-9100")).is_ok());
        assert!(reserved.check(&Value::parse("")).is_ok());
        assert!(reserved.check(&Value::parse("http")).is_err());
    }
}
