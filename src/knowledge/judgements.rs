//! The one table of judgements about values: harmful, obsolete, doing
//! nothing, or lowered below the kernel's default. `check` applies it to
//! live values (and its persistence rules to sysctl files), `lint` to the
//! values files leave in force after boot, so the two cannot disagree.
//!
//! Each judgement says for which releases it holds. When the kernel version
//! is not known, a judgement that holds only on some releases is still
//! reported, and its message says on which ones.

use super::history::{OLDEST, v};
use super::{KeyInfo, lookup, names};
use crate::finding::{Code, Finding, Severity};
use crate::kernel::KernelVersion;
use crate::key::Value;

/// What kind of judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Harmful,
    /// The key does not exist on these releases.
    Obsolete,
    /// The key exists and the kernel ignores it.
    NoOp,
    /// Below the kernel's default.
    Lowered,
}

/// When a judgement applies to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    /// Any value at all (for keys that are gone or ignored).
    Set,
    Equals(i64),
    NonZero,
    Above(i64),
    /// A single integer below the key's constant default at that release.
    BelowDefault,
    /// The `index`-th integer (0-based) below the `index`-th of the
    /// default, from the table of defaults per release below.
    VectorBelow(usize, &'static [(KernelVersion, i64)]),
    /// Below half the established hash: from `tcp_ehash_entries` when the
    /// context knows it, otherwise below 4096, the default of any host
    /// with 1 GiB of RAM or more.
    BelowHalfHash,
    /// A name that is not a mainline congestion control.
    NotMainlineCongestion,
    /// Two ports of the same parity.
    SameParity,
}

/// One judgement.
#[derive(Debug, Clone, Copy)]
pub struct Judgement {
    pub key: &'static str,
    pub kind: Kind,
    pub predicate: Predicate,
    pub severity: Severity,
    /// Releases it holds for: from (inclusive) .. below (exclusive).
    pub from: Option<KernelVersion>,
    pub below: Option<KernelVersion>,
    /// `{value}`, `{default}` are filled in.
    pub message: &'static str,
    pub rationale: &'static str,
    pub fix: &'static str,
}

impl Judgement {
    fn holds_at(&self, version: KernelVersion) -> bool {
        let line = v(version.major, version.minor);
        self.from.is_none_or(|from| line >= from) && self.below.is_none_or(|below| line < below)
    }

    /// "on Linux 4.12 and later", "before Linux 4.12", "on Linux 4.2 up to 4.12".
    fn releases(&self) -> String {
        match (self.from, self.below) {
            (Some(from), Some(below)) => format!("on Linux {from} up to (not including) {below}"),
            (Some(from), None) => format!("on Linux {from} and later"),
            (None, Some(below)) => format!("on kernels before {below}"),
            (None, None) => "on every kernel".into(),
        }
    }

    fn code(&self) -> Code {
        match self.kind {
            Kind::Harmful | Kind::Lowered => Code::HarmfulValue,
            Kind::Obsolete | Kind::NoOp => Code::ObsoleteKey,
        }
    }
}

/// What a judgement needs to know besides the value.
pub trait Context {
    /// The kernel judged for, when known.
    fn kernel(&self) -> Option<KernelVersion>;
    /// The value `key` holds (live, or in force after boot).
    fn value(&self, key: &str) -> Option<Value>;
    /// The size of the TCP established hash, when known.
    fn ehash_entries(&self) -> Option<i64>;
    /// Where `key`'s value comes from, for messages (`set at FILE:LINE`).
    fn source(&self, key: &str) -> String;
}

/// The table. Keys appear in the order findings are listed.
pub static JUDGEMENTS: &[Judgement] = &[
    Judgement {
        key: "net.ipv4.tcp_tw_recycle",
        kind: Kind::Harmful,
        predicate: Predicate::NonZero,
        severity: Severity::Error,
        from: None,
        below: Some(v(4, 12)),
        message: "tcp_tw_recycle = {value}: connections from clients behind NAT are silently dropped",
        rationale: "tcp_tw_recycle remembers the last TCP timestamp of each peer address and drops SYNs with an older one. Clients behind one NAT share an address but not a timestamp clock, so their new connections are silently dropped (counted as PAWSPassive). Clients running Linux 4.10 or later add a random offset per connection to their timestamps, so such clients are dropped even without NAT, whatever kernel this server runs. Linux 4.12 removed the key.",
        fix: "set net.ipv4.tcp_tw_recycle = 0 and remove it from every sysctl file; for this host's own outgoing connections that run short of ports, use net.ipv4.tcp_tw_reuse = 1",
    },
    Judgement {
        key: "net.ipv4.tcp_tw_recycle",
        kind: Kind::Obsolete,
        predicate: Predicate::Set,
        severity: Severity::Warning,
        from: Some(v(4, 12)),
        below: None,
        message: "tcp_tw_recycle was removed from Linux in 4.12: this line does nothing",
        rationale: "The kernel has no such key, so the line sets nothing. `sysctl --system` skips a missing key silently and exits 0, systemd-sysctl logs it and carries on, and `sysctl -p FILE` reports it and exits 1 (a leading `-` does not change that). What it did on older kernels: it dropped connections from clients behind NAT.",
        fix: "delete the line; for this host's own outgoing connections that run short of ports, net.ipv4.tcp_tw_reuse = 1 is the supported tool",
    },
    Judgement {
        key: "net.ipv4.tcp_syncookies",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(0),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_syncookies = 0: a SYN flood can fill every listener's queue",
        rationale: "With SYN cookies off, once a listener's SYN queue is full the kernel drops new SYNs, so a flood of spoofed SYNs makes the service unreachable. With 1, the default, cookies are sent only when the queue overflows, so normal traffic is unaffected.",
        fix: "set net.ipv4.tcp_syncookies = 1 (the default)",
    },
    Judgement {
        key: "net.ipv4.tcp_timestamps",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(0),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_timestamps = 0: PAWS protection is gone and tcp_tw_reuse cannot work",
        rationale: "Timestamps provide PAWS, which keeps old duplicate segments and wrapped sequence numbers out of fast, long connections, and they are what tcp_tw_reuse needs to take over a TIME_WAIT port safely. Turning them off was advice for the NAT problem of tcp_tw_recycle, a key removed in 4.12.",
        fix: "delete the line or set net.ipv4.tcp_timestamps = 1 (the default)",
    },
    Judgement {
        key: "net.ipv4.tcp_sack",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(0),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_sack = 0: every loss costs a window of retransmissions",
        rationale: "Without selective acknowledgements the sender cannot learn which segments arrived, so one loss can make it resend a whole window, and modern loss recovery (RACK) works far worse. Turning SACK off was a stop-gap for the 2019 SACK Panic bugs, fixed in every maintained kernel.",
        fix: "delete the line or set net.ipv4.tcp_sack = 1 (the default)",
    },
    Judgement {
        key: "net.ipv4.tcp_window_scaling",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(0),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_window_scaling = 0: each connection is capped at 64 KiB per round trip",
        rationale: "Without window scaling the receive window cannot exceed 64 KiB, which caps throughput at 64 KiB per round trip: about 5 Mbit/s at 100 ms.",
        fix: "delete the line or set net.ipv4.tcp_window_scaling = 1 (the default)",
    },
    Judgement {
        key: "net.ipv4.tcp_max_tw_buckets",
        kind: Kind::Lowered,
        predicate: Predicate::BelowHalfHash,
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_max_tw_buckets = {value} is below {default}",
        rationale: "The default is half the TCP established hash, which the kernel sizes from RAM: 4096 with 1 GiB, 32768 with 8 GiB, 131072 with 24 GiB. Past the cap a closing socket skips TIME_WAIT altogether (TcpExt TCPTimeWaitOverflow counts it; no kernel logs it), and TIME_WAIT is what keeps a late segment of an old connection from being accepted by a new one on the same ports. TIME_WAIT sockets cost little memory.",
        fix: "delete the line to keep the default; to have fewer TIME_WAIT sockets, reuse connections (keep-alive, connection pools)",
    },
    Judgement {
        key: "net.ipv4.tcp_max_orphans",
        kind: Kind::Lowered,
        predicate: Predicate::BelowHalfHash,
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_max_orphans = {value} is below {default}",
        rationale: "The default is half the TCP established hash, sized from RAM (4096 with 1 GiB, 32768 with 8 GiB). Past the limit, sockets the application has closed are reset at once instead of finishing their shutdown, and the kernel logs \"too many orphaned sockets\": peers see resets and lose the last data sent.",
        fix: "delete the line to keep the default",
    },
    Judgement {
        key: "net.core.somaxconn",
        kind: Kind::Lowered,
        predicate: Predicate::BelowDefault,
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "net.core.somaxconn = {value} is below this kernel's default {default}",
        rationale: "somaxconn caps every listener's accept queue; below the default, bursts of new connections overflow it (ListenOverflows) even for servers that ask for a deep backlog. The default is 4096 since 5.4 and 128 before.",
        fix: "delete the line to keep the default, or set a value no lower than it",
    },
    Judgement {
        key: "net.ipv4.tcp_rmem",
        kind: Kind::Lowered,
        predicate: Predicate::VectorBelow(2, &[(v(3, 10), 6_291_456)]),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_rmem's maximum {value} is below the default maximum {default}",
        rationale: "The third number caps receive-buffer autotuning for every TCP connection; below the default it limits throughput on long, fast paths. The default maximum is 6 MiB on hosts with 768 MiB of RAM or more (32 MiB on 6.18 with 4 GiB or more; the release between 6.14 and 6.18 that raised it is not pinned), so a value below 6 MiB is below the default of every such host.",
        fix: "raise the third number to at least the default, or delete the line",
    },
    Judgement {
        key: "net.ipv4.tcp_wmem",
        kind: Kind::Lowered,
        predicate: Predicate::VectorBelow(2, &[(v(3, 10), 4_194_304)]),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_wmem's maximum {value} is below the default maximum {default}",
        rationale: "The third number caps send-buffer autotuning for every TCP connection; below the default (4 MiB on hosts with 512 MiB of RAM or more) it limits throughput on long, fast paths.",
        fix: "raise the third number to at least the default, or delete the line",
    },
    Judgement {
        key: "net.core.rmem_default",
        kind: Kind::Harmful,
        predicate: Predicate::Above(4_194_304),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "net.core.rmem_default = {value}: every new non-TCP socket starts with this receive buffer",
        rationale: "rmem_default is the receive buffer of every new socket except TCP ones (UDP, unix, netlink, raw), which are many and mostly idle; TCP starts from tcp_rmem instead, so this does not speed TCP up. Large values let each of those sockets hold that much memory.",
        fix: "delete the line (default 212992); give the applications that need big buffers SO_RCVBUF, up to net.core.rmem_max",
    },
    Judgement {
        key: "net.core.wmem_default",
        kind: Kind::Harmful,
        predicate: Predicate::Above(4_194_304),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "net.core.wmem_default = {value}: every new non-TCP socket starts with this send buffer",
        rationale: "wmem_default is the send buffer of every new socket except TCP ones (UDP, unix, netlink, raw); TCP starts from tcp_wmem instead, so this does not speed TCP up. Large values let each of those sockets hold that much memory.",
        fix: "delete the line (default 212992); give the applications that need big buffers SO_SNDBUF, up to net.core.wmem_max",
    },
    Judgement {
        key: "net.ipv4.tcp_syn_retries",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(1),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_syn_retries = 1: one lost SYN makes connect() fail",
        rationale: "With one retry, connect() gives up about 3 s after a single lost SYN or SYN-ACK, which ordinary packet loss causes; the default 6 retries for about 127 s.",
        fix: "delete the line (default 6), or use 2 or 3 and per-socket timeouts (TCP_USER_TIMEOUT, connect timeouts) where fast failure matters",
    },
    Judgement {
        key: "net.ipv4.tcp_synack_retries",
        kind: Kind::Harmful,
        predicate: Predicate::Equals(1),
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_synack_retries = 1: one lost SYN-ACK or ACK loses the connection",
        rationale: "With one retry a half-open connection is dropped after about 3 s, so clients on lossy paths fail to connect. SYN cookies (tcp_syncookies = 1) are the defence against SYN floods, not fewer retries.",
        fix: "delete the line (default 5)",
    },
    Judgement {
        key: "net.ipv4.tcp_low_latency",
        kind: Kind::NoOp,
        predicate: Predicate::Set,
        severity: Severity::Info,
        from: Some(v(4, 14)),
        below: None,
        message: "tcp_low_latency does nothing on Linux 4.14 and later",
        rationale: "Linux 4.14 removed the prequeue that tcp_low_latency switched off; the sysctl still exists and accepts writes, but nothing reads it.",
        fix: "delete the line",
    },
    Judgement {
        key: "net.ipv4.tcp_fack",
        kind: Kind::NoOp,
        predicate: Predicate::Set,
        severity: Severity::Info,
        from: Some(v(4, 15)),
        below: None,
        message: "tcp_fack does nothing on Linux 4.15 and later",
        rationale: "Linux 4.15 removed FACK loss recovery (RACK replaced it); the sysctl still exists and accepts writes, but nothing reads it.",
        fix: "delete the line",
    },
    Judgement {
        key: "net.ipv4.tcp_congestion_control",
        kind: Kind::Harmful,
        predicate: Predicate::NotMainlineCongestion,
        severity: Severity::Warning,
        from: None,
        below: None,
        message: "tcp_congestion_control = {value} is not a congestion control of mainline Linux",
        rationale: "The kernel looks the name up among the algorithms it has loaded and tries to load the module tcp_<name>; a name mainline does not ship exists only with an out-of-tree module, and without it the write fails (ENOENT) and the previous algorithm stays.",
        fix: "use an algorithm listed in tcp_available_congestion_control (cubic is the usual default; bbr is mainline since 4.9), or make sure the module is installed on every host that reads this file",
    },
    Judgement {
        key: "net.ipv4.ip_local_port_range",
        kind: Kind::Harmful,
        predicate: Predicate::SameParity,
        severity: Severity::Info,
        from: Some(v(4, 2)),
        below: None,
        message: "ip_local_port_range {value}: both bounds have the same parity",
        rationale: "Since 4.2 connect() first tries ports with the parity of the low bound and bind(0) takes the others; the kernel's documentation asks for bounds of different parity so that the two halves are the same size.",
        fix: "make one bound odd and the other even (for example 32768 60999)",
    },
];

/// What a judgement concluded about one value.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub judgement: &'static Judgement,
    pub finding: Finding,
}

/// The releases (3.10 on) where `judgement` may give a different answer.
fn boundaries(judgement: &Judgement, info: Option<&KeyInfo>) -> Vec<KernelVersion> {
    let mut versions = info.map_or_else(
        || vec![OLDEST],
        |info| super::history::boundaries(info.history),
    );
    versions.extend(judgement.from);
    versions.extend(judgement.below);
    if let Predicate::VectorBelow(_, table) = judgement.predicate {
        versions.extend(table.iter().map(|(version, _)| *version));
    }
    versions.sort();
    versions.dedup();
    versions
}

/// The default the value is compared with at `version`, as text, when the
/// predicate needs one and it is known.
fn triggers(
    judgement: &Judgement,
    value: &Value,
    version: Option<KernelVersion>,
    context: &dyn Context,
) -> Option<Option<String>> {
    let single = value.as_integer();
    let info = lookup(judgement.key);
    match judgement.predicate {
        Predicate::Set => Some(None),
        Predicate::Equals(wanted) => (single? == wanted).then_some(None),
        Predicate::NonZero => (single? != 0).then_some(None),
        Predicate::Above(limit) => (single? > limit).then_some(None),
        Predicate::BelowDefault => {
            let default = info?.default_value(version?)?.as_integer()?;
            (single? < default).then(|| Some(default.to_string()))
        }
        Predicate::VectorBelow(index, table) => {
            let numbers = value.integers()?;
            let number = *numbers.get(index)?;
            let version = version?;
            let default = table
                .iter()
                .rev()
                .find(|(since, _)| v(version.major, version.minor) >= *since)?
                .1;
            (number < default).then(|| Some(default.to_string()))
        }
        Predicate::BelowHalfHash => {
            let number = single?;
            if number < 0 {
                return None;
            }
            match context.ehash_entries() {
                Some(entries) if entries != 0 => {
                    let default = entries.abs() / 2;
                    (number < default).then(|| {
                        Some(format!(
                            "this kernel's default {default} (tcp_ehash_entries / 2)"
                        ))
                    })
                }
                _ => (number < 4096).then(|| {
                    Some("4096, the default of any host with 1 GiB of RAM or more".to_owned())
                }),
            }
        }
        Predicate::NotMainlineCongestion => {
            let [name] = value.tokens() else { return None };
            (!names::MAINLINE_CONGESTION_CONTROL.contains(&name.as_str())).then_some(None)
        }
        Predicate::SameParity => {
            let numbers = value.integers()?;
            let [low, high] = numbers.as_slice() else {
                return None;
            };
            (low % 2 == high % 2).then_some(None)
        }
    }
}

/// Applies every judgement of `kinds` to the values `context` knows. With a
/// known kernel only judgements for that release count; without one, a
/// judgement that holds on some releases only is reported with a sentence
/// saying which.
pub fn evaluate(context: &dyn Context, kinds: &[Kind]) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for judgement in JUDGEMENTS
        .iter()
        .filter(|judgement| kinds.contains(&judgement.kind))
    {
        let Some(value) = context.value(judgement.key) else {
            continue;
        };
        let info = lookup(judgement.key);
        let (default, version_note) = match context.kernel() {
            Some(version) => {
                if !judgement.holds_at(version) {
                    continue;
                }
                let Some(default) = triggers(judgement, &value, Some(version), context) else {
                    continue;
                };
                (default, None)
            }
            None => {
                let hits: Vec<(KernelVersion, Option<String>)> = boundaries(judgement, info)
                    .into_iter()
                    .filter(|version| judgement.holds_at(*version))
                    .filter_map(|version| {
                        triggers(judgement, &value, Some(version), context)
                            .map(|default| (version, default))
                    })
                    .collect();
                let every = boundaries(judgement, info).len() == hits.len();
                let Some((first, default)) = hits.first().cloned() else {
                    continue;
                };
                let note = (!every).then(|| {
                    if judgement.from.is_some() || judgement.below.is_some() {
                        format!("The kernel version is not known: this holds {}.", judgement.releases())
                    } else {
                        format!(
                            "The kernel version is not known: this holds on Linux {first} and later."
                        )
                    }
                });
                (default, note)
            }
        };
        let value_text = value.to_string();
        let fill = |text: &str| {
            text.replace("{value}", &value_text)
                .replace("{default}", default.as_deref().unwrap_or("the default"))
        };
        let mut rationale = fill(judgement.rationale);
        if judgement.key == "net.ipv4.tcp_timestamps" {
            rationale.push_str(&reuse_note(context));
        }
        if let Some(note) = &version_note {
            rationale.push(' ');
            rationale.push_str(note);
        }
        let mut finding = Finding::new(
            judgement.code(),
            judgement.severity,
            fill(judgement.message),
        )
        .key(judgement.key)
        .current(&value_text)
        .rationale(rationale)
        .fix(fill(judgement.fix));
        if let Some(default) = &default {
            finding = finding.evidence("compared_with", default.as_str());
        }
        if version_note.is_some() {
            finding = finding.evidence("depends_on_kernel", judgement.releases());
        }
        // The value to go back to, when the default is a constant.
        if judgement.kind == Kind::Harmful
            && let Some(default) = info
                .zip(context.kernel())
                .and_then(|(info, version)| info.default_value(version))
                .filter(|default| *default != value)
        {
            finding = finding.expected(default);
        }
        verdicts.push(Verdict { judgement, finding });
    }
    verdicts
}

/// What tcp_timestamps = 0 does to tcp_tw_reuse in this context.
fn reuse_note(context: &dyn Context) -> String {
    const REUSE: &str = "net.ipv4.tcp_tw_reuse";
    let reuse = context
        .value(REUSE)
        .and_then(|value| value.as_integer())
        .or_else(|| {
            let version = context.kernel()?;
            lookup(REUSE)?.default_value(version)?.as_integer()
        });
    match reuse {
        Some(0) => " tcp_tw_reuse is off here, so only PAWS is lost.".into(),
        Some(reuse) => format!(
            " tcp_tw_reuse is {reuse} here ({}), and with timestamps off it never reuses a port.",
            context.source(REUSE)
        ),
        None => String::new(),
    }
}
