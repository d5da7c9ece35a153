//! What tcptune knows about each key it sets or reads, per kernel release:
//! what the key really does (from the kernel's code, not from folklore),
//! whether it exists, its default, the values the kernel accepts and how it
//! stores them, and whether each network namespace has its own copy. Also
//! the judgements (harmful, obsolete, no-op, lowered below the default) that
//! `check` and `lint` both apply, and the longer topics `tcptune explain`
//! prints (`time-wait`, `close-wait`, ...).
//!
//! Every per-release answer comes from evaluating a key's history
//! ([`history`]) at the running or requested kernel, and every event of that
//! history cites a commit id or a tagged source line; a unit test fails when
//! one does not. Where a release could not be pinned the answer says so.

pub mod history;
pub mod judgements;
mod keys;
pub mod names;
pub mod value;

pub use history::{Change, Default, Event, Fact, Scope, State, When};
pub use keys::KEYS;
pub use value::{Handler, Outcome};

use crate::kernel::KernelVersion;
use crate::key::{Key, Value};

/// What tcptune knows about one key.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo {
    pub key: &'static str,
    /// What the key does, true on every release that has it; what changed
    /// is in the history's `Meaning` and `NoOp` events.
    pub summary: &'static str,
    /// Folklore about this key and what is true instead.
    pub myth: Option<&'static str>,
    /// The values that have a meaning, when the kernel stores others too.
    pub meaningful: Option<&'static [i64]>,
    pub history: &'static [Event],
}

/// Whether a key exists at a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    /// Not yet added: the event that adds it.
    NotYet(&'static Event),
    /// Removed: the event that removed it.
    Removed(&'static Event),
    /// Inside an unpinned gap of this event.
    Unsure(&'static Event),
}

impl KeyInfo {
    /// The key at `version`.
    pub fn state(&self, version: KernelVersion) -> Option<State> {
        history::state_at(self.history, version)
    }

    pub fn presence(&self, version: KernelVersion) -> Presence {
        let Some(state) = self.state(version) else {
            return Presence::Present;
        };
        match state.exists {
            Fact::Known { value: true, .. } => Presence::Present,
            Fact::Known {
                value: false,
                event,
            } => {
                if matches!(event.change, Change::Removed) {
                    Presence::Removed(event)
                } else {
                    Presence::NotYet(self.added().unwrap_or(event))
                }
            }
            Fact::Unsure { event, .. } => Presence::Unsure(event),
        }
    }

    /// Whether a kernel of this version has the key (`None`: not pinned).
    pub fn exists_in(&self, version: KernelVersion) -> Option<bool> {
        match self.presence(version) {
            Presence::Present => Some(true),
            Presence::NotYet(_) | Presence::Removed(_) => Some(false),
            Presence::Unsure(_) => None,
        }
    }

    /// The event that added the key after 3.10, if any.
    pub fn added(&self) -> Option<&'static Event> {
        self.history
            .iter()
            .find(|event| event.when != When::Baseline && event.change == Change::Added)
    }

    /// The event that removed the key, if any.
    pub fn removed(&self) -> Option<&'static Event> {
        self.history
            .iter()
            .find(|event| event.change == Change::Removed)
    }

    /// The release that removed the key, when pinned.
    pub fn removed_in(&self) -> Option<KernelVersion> {
        match self.removed()?.when {
            When::In(release) => Some(release),
            _ => None,
        }
    }

    /// The release that added the key, when pinned.
    pub fn added_in(&self) -> Option<KernelVersion> {
        match self.added()?.when {
            When::In(release) => Some(release),
            _ => None,
        }
    }

    /// The key's default at `version`, when it is a constant and certain.
    pub fn default_value(&self, version: KernelVersion) -> Option<Value> {
        match self.state(version)?.default? {
            Fact::Known { value, .. } => value.value.map(Value::parse),
            Fact::Unsure { .. } => None,
        }
    }

    /// The scope at `version` (the one before the change inside a gap).
    pub fn scope(&self, version: KernelVersion) -> Option<Scope> {
        Some(self.state(version)?.scope?.value())
    }

    /// Every handler the key may have at `version` (two inside a gap).
    pub fn handlers(&self, version: KernelVersion) -> Vec<Handler> {
        self.state(version)
            .and_then(|state| state.handler)
            .map(|fact| fact.both())
            .unwrap_or_default()
    }

    /// What the kernel stores when `written` is written at `version`: the
    /// value when every handler the key may have there agrees, `None` when
    /// the kernel refuses it or the read-back cannot be predicted.
    pub fn stored(&self, written: &str, version: Option<KernelVersion>) -> Option<Value> {
        let handlers = match version {
            Some(version) => self.handlers(version),
            None => self.all_handlers(),
        };
        let mut stored: Option<Value> = None;
        for handler in handlers {
            match handler.write(written) {
                Outcome::Stored(value) => {
                    if stored.as_ref().is_some_and(|earlier| *earlier != value) {
                        return None;
                    }
                    stored = Some(value);
                }
                Outcome::Partial | Outcome::Refused(_) => return None,
            }
        }
        stored
    }

    /// Every handler the key has had, for judging without a version.
    pub fn all_handlers(&self) -> Vec<Handler> {
        let mut handlers: Vec<Handler> = Vec::new();
        for event in self.history {
            if let Change::Handler(handler) = event.change
                && !handlers.contains(&handler)
            {
                handlers.push(handler);
            }
        }
        handlers
    }

    /// The releases where the key's history changes, each with its state:
    /// evaluating at these covers every release from 3.10 on.
    pub fn spans(&self) -> Vec<State> {
        history::boundaries(self.history)
            .into_iter()
            .filter_map(|version| self.state(version))
            .collect()
    }

    /// What is wrong with writing `written`, for every span of releases
    /// (`admits(first, next)`: the span from `first` up to, not including,
    /// `next`) where the key exists and the kernel would refuse it or store
    /// something else than the text says, with the span's first release;
    /// empty when every admitted release stores exactly the written value.
    pub fn problems(
        &self,
        written: &str,
        admits: impl Fn(KernelVersion, Option<KernelVersion>) -> bool,
    ) -> Vec<(KernelVersion, String)> {
        let spans = self.spans();
        let mut problems = Vec::new();
        for (index, state) in spans.iter().enumerate() {
            let next = spans.get(index + 1).map(|next| next.version);
            if !admits(state.version, next) || state.exists.both().iter().all(|exists| !exists) {
                continue;
            }
            let Some(handler) = state.handler else {
                continue;
            };
            for handler in handler.both() {
                let problem = match handler.write(written) {
                    Outcome::Stored(value) if value == Value::parse(written) => None,
                    Outcome::Stored(value) => Some(format!(
                        "the kernel would store `{value}`, not `{}`",
                        written.trim()
                    )),
                    Outcome::Partial => Some(format!(
                        "is incomplete: the key holds {}, and the kernel keeps the old values of the missing ones",
                        handler.describe()
                    )),
                    Outcome::Refused(reason) => Some(format!(
                        "the kernel refuses it ({reason}); it accepts {}",
                        handler.describe()
                    )),
                };
                if let Some(problem) = problem
                    && !problems.iter().any(|(_, known)| *known == problem)
                {
                    problems.push((state.version, problem));
                }
            }
        }
        problems
    }
}

/// Keys that exist only in some vendor kernels; mainline has no such key.
pub static VENDOR_ONLY_KEYS: &[(&str, &str)] = &[(
    "net.ipv4.tcp_tw_timeout",
    "exists only in one vendor kernel; mainline TIME_WAIT is TCP_TIMEWAIT_LEN, a hard-coded 60 s that no sysctl changes",
)];

/// Looks a key up by its canonical dotted name.
pub fn lookup(key: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|info| info.key == key)
}

/// Looks a parsed key up.
pub fn lookup_key(key: &Key) -> Option<&'static KeyInfo> {
    lookup(&key.to_string())
}

/// A known key this one is probably a misspelling of (for lint and profile
/// validation alike). Only `net.` keys that tcptune does not describe are
/// compared, and never a name the mainline kernel has: the kernel has
/// hundreds of keys tcptune does not describe, and flagging them would
/// teach users to ignore this.
pub fn likely_typo(key: &Key) -> Option<&'static str> {
    if !key.is_net() || lookup_key(key).is_some() || names::is_other_mainline_key(key) {
        return None;
    }
    crate::suggest::closest(&key.to_string(), KEYS.iter().map(|info| info.key))
}

/// What the kernel stores for `written` on `key`, or the text split into
/// tokens when tcptune cannot predict it (an unknown key, a refused value):
/// the form in which file, profile and live values are compared.
pub fn as_stored(key: &Key, written: &str, version: Option<KernelVersion>) -> Value {
    lookup_key(key)
        .and_then(|info| info.stored(written, version))
        .unwrap_or_else(|| Value::parse(written))
}

/// One line of a key's history, for `explain`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryLine {
    pub kind: &'static str,
    /// The release (`4.18`) or the gap (`6.14..6.18`).
    pub version: When,
    pub pinned: bool,
    pub text: String,
    pub cite: &'static [&'static str],
}

/// A key as `explain` shows it: evaluated at a release when one is known.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyView {
    pub key: &'static str,
    pub summary: String,
    /// The release evaluated, or None when no kernel version is known.
    pub kernel: Option<KernelVersion>,
    pub exists: String,
    pub default: String,
    pub values: String,
    pub scope: String,
    pub folklore: Option<&'static str>,
    pub added_in: Option<KernelVersion>,
    pub removed_in: Option<KernelVersion>,
    pub history: Vec<HistoryLine>,
}

/// "x (since 5.4)", "x or y (the change lies between 6.14 and 6.18)".
fn fact_text<T: Copy>(fact: &Fact<T>, text: impl Fn(T) -> String) -> String {
    match fact {
        Fact::Known { value, event } => match event.when {
            When::Baseline => text(*value),
            when => format!("{} ({})", text(*value), when.describe()),
        },
        Fact::Unsure {
            before,
            after,
            event,
        } => {
            let (after_release, by) = match event.when {
                When::Between(after_release, by) => (after_release, by),
                _ => (history::OLDEST, history::OLDEST),
            };
            format!(
                "{} on {after_release}, {} on {by}; this release lies between them and the change is not pinned",
                text(*before),
                text(*after)
            )
        }
    }
}

impl KeyView {
    pub fn new(info: &'static KeyInfo, kernel: Option<KernelVersion>) -> KeyView {
        let history = info
            .history
            .iter()
            .map(|event| HistoryLine {
                kind: event.change.kind(),
                version: event.when,
                pinned: event.when.is_pinned(),
                text: event.change.describe(),
                cite: event.cite,
            })
            .collect();
        let unknown = "depends on the kernel version (see history)".to_owned();
        let Some(state) = kernel.and_then(|version| info.state(version)) else {
            return KeyView {
                key: info.key,
                summary: info.summary.to_owned(),
                kernel,
                exists: match (info.added(), info.removed()) {
                    (None, None) => "in every release from 3.10 to 6.18".into(),
                    (added, removed) => {
                        let mut parts = Vec::new();
                        if let Some(added) = added {
                            parts.push(format!("added {}", added.when.in_words()));
                        }
                        if let Some(removed) = removed {
                            parts.push(format!("removed {}", removed.when.in_words()));
                        }
                        parts.join("; ")
                    }
                },
                default: unknown.clone(),
                values: unknown.clone(),
                scope: unknown,
                folklore: info.myth,
                added_in: info.added_in(),
                removed_in: info.removed_in(),
                history,
            };
        };
        let mut summary = info.summary.to_owned();
        if let Some(meaning) = &state.meaning {
            summary.push(' ');
            summary.push_str(&fact_text(meaning, |text| text.to_owned()));
        }
        if let Some(no_op) = &state.no_op {
            summary.push_str(&format!(
                " On this kernel it does nothing: {}",
                fact_text(no_op, |text| text.to_owned())
            ));
        }
        let exists = match info.presence(state.version) {
            Presence::Present => "yes".to_owned(),
            Presence::NotYet(event) => format!("no: added {}", event.when.in_words()),
            Presence::Removed(event) => format!("no: removed {}", event.when.in_words()),
            Presence::Unsure(event) => format!(
                "not known: it changed in a release not pinned ({})",
                event.when.describe()
            ),
        };
        let absent = "-".to_owned();
        KeyView {
            key: info.key,
            summary,
            kernel,
            exists,
            default: state.default.map_or(absent.clone(), |fact| {
                fact_text(&fact, |default| default.text.to_owned())
            }),
            values: state
                .handler
                .map_or(absent.clone(), |fact| fact_text(&fact, Handler::describe)),
            scope: state.scope.map_or(absent, |fact| {
                fact_text(&fact, |scope| scope.describe().to_owned())
            }),
            folklore: info.myth,
            added_in: info.added_in(),
            removed_in: info.removed_in(),
            history,
        }
    }
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
            "It hurts when one host opens many short connections to the same destination (a proxy or load balancer to its backends, an application to its database): from one source address at most the size of ip_local_port_range (28232 ports with the default range of 4.2 and later) connections to one destination address and port can exist at once, TIME_WAIT included, which sustains about 28232 / 60 = 470 new connections per second. Past that, connect() fails with EADDRNOTAVAIL.",
            "What helps, best first: reuse connections (HTTP keep-alive, connection pools) so fewer are opened at all; let the peer close first where the protocol allows it, so the TIME_WAIT lands on the other side; net.ipv4.tcp_tw_reuse=1 for this host's outgoing connections (needs tcp_timestamps, never helps accepted connections); a wider ip_local_port_range or more source addresses.",
            "What does not help: tcp_fin_timeout (it limits orphaned FIN_WAIT2, not TIME_WAIT); tcp_tw_recycle (removed in 4.12, and before that it dropped clients behind NAT); tcp_tw_timeout (not in mainline kernels); lowering tcp_max_tw_buckets (sockets past the cap skip TIME_WAIT and lose its protection); SO_LINGER with a zero timeout (it sends RST and throws away unsent data: the peer sees ECONNRESET).",
            "Evidence: the tw count in /proc/net/sockstat, TIME_WAIT per destination (`tcptune sockets --by-destination`), and TcpExt TCPTimeWaitOverflow in /proc/net/netstat, which rises when tcp_max_tw_buckets is reached. No kernel from 3.10 to 6.18 logs a message for that (3.x kernels did not either: they only count it).",
        ],
    },
    Topic {
        name: "close-wait",
        title: "CLOSE_WAIT: the application never called close()",
        paragraphs: &[
            "A socket is in CLOSE_WAIT when the peer has closed its side (its FIN arrived) and the local application has not yet closed the socket. The kernel has nothing left to do: it waits for the application to call close() or shutdown(). A pile of CLOSE_WAIT sockets therefore means a bug or a stall in the application that owns them: a leaked file descriptor, an error path that skips close(), a connection pool that never checks for closed connections, or threads blocked elsewhere.",
            "No sysctl fixes CLOSE_WAIT. tcp_fin_timeout, tcp_max_orphans and tcp_tw_* do not touch these sockets, because they are not orphaned: the process still holds them. Keepalive (only on sockets where the application enabled SO_KEEPALIVE) can reset one whose peer has gone, but the descriptor stays open until the process closes it or exits.",
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
    Topic {
        name: "nf_conntrack_max",
        title: "net.netfilter.nf_conntrack_max: the size limit of the connection-tracking table",
        paragraphs: &[
            "Where connection tracking is loaded (any NAT, any `ct state` or `-m conntrack` rule, Docker and Kubernetes Services), every connection crossing it takes an entry. When the count reaches nf_conntrack_max (each namespace has its own count, net.netfilter.nf_conntrack_count; that the kernel compares each namespace's count with the one machine-wide limit is how __nf_conntrack_alloc is understood, not verified here), the kernel first evicts an entry that never saw a reply (the early_drop column of /proc/net/stat/nf_conntrack), then drops the packet that would start a new connection (drop) and logs \"nf_conntrack: table full, dropping packet\". Established connections keep working; new ones time out. `tcptune check` judges the count against the limit and those counters as rates (conntrack-table-full).",
            "Scope, read in net/netfilter/nf_conntrack_standalone.c (nf_conntrack_standalone_init_sysctl at torvalds/linux commit dc1ccb4c0f850038a35eddc919a65b3131925a6c: \"Don't allow non-init_net ns to alter global sysctls\" makes nf_conntrack_max, nf_conntrack_expect_max and nf_conntrack_buckets 0444 outside the initial namespace, and points nf_conntrack_count at the namespace's own count) and verified on 6.18 in a private namespace (tests/integration/netns_evidence.rs): nf_conntrack_max is the machine's and read-only in a child namespace; the count and /proc/net/stat/nf_conntrack are each namespace's own. How older kernels scope them was not verified: unpinned.",
            "Its default is sized from memory when the module loads, from the hash table size: on 6.18 here it equals nf_conntrack_buckets (262144 and 262144); older kernels set four times the buckets (Ubuntu 24.04's 6.8 shows 262144 over 65536). When that factor changed is not pinned.",
            "Kubernetes: kube-proxy sets it when it starts, to max(conntrack.maxPerCore x number of CPUs, conntrack.min) (flags --conntrack-max-per-core, default 32768, and --conntrack-min, default 131072; maxPerCore 0 leaves it alone), only ever raising it (setIntSysCtl writes only a larger value), and then raises /sys/module/nf_conntrack/parameters/hashsize to max/4 when it is smaller (kubernetes/kubernetes cmd/kube-proxy/app/conntrack.go, realConntracker.SetMax). It also sets nf_conntrack_tcp_timeout_established (24h) and nf_conntrack_tcp_timeout_close_wait (1h). A value in sysctl.d below kube-proxy's is therefore raised again at every kube-proxy start: tune it in kube-proxy's configuration.",
            "Before raising it: find what fills the table (`conntrack -L`, grouped by destination), exempt traffic that needs no tracking (nftables `notrack` in a chain at raw priority), and shorten nf_conntrack_tcp_timeout_established (5 days by default) if idle entries pile up. Each entry costs a few hundred bytes of unswappable kernel memory; keep nf_conntrack_buckets near max/4 or more so lookups stay short.",
        ],
    },
    Topic {
        name: "nf_conntrack_buckets",
        title: "net.netfilter.nf_conntrack_buckets: the hash table behind connection tracking",
        paragraphs: &[
            "The number of hash buckets the tracked connections are spread over (the module parameter /sys/module/nf_conntrack/parameters/hashsize shows the same). It does not limit the number of entries (nf_conntrack_max does); it sets how long the chains the kernel walks for every packet become: max / buckets entries per chain when the table is full. Raising nf_conntrack_max without the buckets keeps working but makes every lookup slower.",
            "It is the machine's: writable only from the initial network namespace (0444 elsewhere, nf_conntrack_standalone_init_sysctl at torvalds/linux commit dc1ccb4c0f850038a35eddc919a65b3131925a6c; verified read-only in a child namespace on 6.18), and writing it rehashes the whole table. kube-proxy raises hashsize to nf_conntrack_max / 4 when it is smaller (cmd/kube-proxy/app/conntrack.go), and skips that when it runs outside the initial namespace.",
        ],
    },
    Topic {
        name: "idle-timeout",
        title: "Idle timeouts of load balancers and NAT gateways: keepalive must come first",
        paragraphs: &[
            "A load balancer or NAT gateway keeps a table entry per connection and drops the entry when the connection carried nothing for its idle timeout. Neither end is told: the next segment is dropped or answered with a reset, so a pooled database connection or an idle websocket fails long after it went quiet. Linux sends the first TCP keepalive probe after net.ipv4.tcp_keepalive_time (7200 s by default), far later than these timeouts; a probe sent earlier counts as traffic and keeps the entry.",
            "Keepalive only helps sockets whose application set SO_KEEPALIVE (TCP_KEEPIDLE overrides tcp_keepalive_time per socket); a socket without it never sends a probe, whatever the sysctl says. For those the application must send its own pings. Name the timeout in a profile (`thresholds: idle_timeout_seconds: 350`) and `tcptune check` reports keepalive-after-idle-timeout while tcp_keepalive_time is not below it, and idle-past-timeout for ESTABLISHED connections already idle that long with no keepalive timer pending.",
            "Published defaults (all adjustable per resource, so check your own): AWS Application Load Balancer 60 s (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html); AWS Network Load Balancer 350 s for TCP flows, 60 to 6000 s, fixed 350 s for TLS listeners (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html); Azure Load Balancer 4 minutes, up to 100 minutes, for load-balancing, outbound and inbound NAT rules (https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout); Azure NAT Gateway 4 minutes, up to 120 minutes (https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource). The AWS NAT gateway (350 s) and Google Cloud NAT (1200 s for established TCP) are widely quoted, but their own documentation pages were not verified here: unpinned.",
        ],
    },
];

/// A topic by name, in any case and with `_` or `-` (`TIME_WAIT`,
/// `time_wait`, `time-wait`).
pub fn topic(name: &str) -> Option<&'static Topic> {
    let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
    TOPICS.iter().find(|topic| topic.name == wanted)
}

/// Every name `explain` answers to: the topics, then the keys.
pub fn subjects() -> impl Iterator<Item = &'static str> {
    TOPICS
        .iter()
        .map(|topic| topic.name)
        .chain(KEYS.iter().map(|info| info.key))
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
    if let Some(topic) = topic(subject) {
        return Some(Subject::Topic(topic));
    }
    // Kernel keys are lower case; `TCP_TW_REUSE` means the key.
    let lowered = subject.trim().to_ascii_lowercase();
    let subject = lowered.as_str();
    // The connection-tracking keys are explained as topics (their history
    // is not pinned release by release), under their dotted names too.
    if let Some(leaf) = subject.strip_prefix("net.netfilter.")
        && let Some(topic) = topic(leaf)
    {
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
    use super::history::v;
    use super::*;

    /// Every statement that depends on the version cites its proof.
    #[test]
    fn every_event_cites_a_commit_or_a_tagged_source_line() {
        for info in KEYS {
            for event in info.history {
                assert!(
                    !event.cite.is_empty(),
                    "{}: {:?} has no citation",
                    info.key,
                    event.change
                );
                for cite in event.cite {
                    assert!(
                        history::is_citation(cite),
                        "{}: `{cite}` is not a commit id or a tagged source line",
                        info.key
                    );
                }
            }
        }
    }

    /// A key that exists has a handler, a default and a scope at every
    /// release, and its constant default is a value its handler stores as
    /// written.
    #[test]
    fn every_release_has_a_complete_and_consistent_state() {
        for info in KEYS {
            let key = Key::parse(info.key).unwrap();
            assert!(key.is_net(), "{}", info.key);
            assert_eq!(key.to_string(), info.key);
            assert!(
                info.history
                    .first()
                    .is_some_and(|event| event.when == When::Baseline),
                "{}: history must start at the baseline",
                info.key
            );
            for state in info.spans() {
                if !state.exists.both().contains(&true) {
                    continue;
                }
                let what = format!("{} at {}", info.key, state.version);
                let handler = state
                    .handler
                    .unwrap_or_else(|| panic!("{what}: no handler"));
                let default = state
                    .default
                    .unwrap_or_else(|| panic!("{what}: no default"));
                assert!(state.scope.is_some(), "{what}: no scope");
                for (handler, default) in handler.both().into_iter().zip(default.both()) {
                    if let Some(value) = default.value
                        && handler != Handler::ReadOnly
                    {
                        assert_eq!(
                            handler.write(value),
                            Outcome::Stored(Value::parse(value)),
                            "{what}: default {value}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn facts_per_release() {
        let reuse = lookup("net.ipv4.tcp_tw_reuse").unwrap();
        assert_eq!(reuse.default_value(v(4, 17)), Some(Value::parse("0")));
        assert_eq!(reuse.default_value(v(4, 18)), Some(Value::parse("2")));
        assert_eq!(reuse.scope(v(4, 9)), Some(Scope::Global));
        assert_eq!(reuse.scope(v(4, 10)), Some(Scope::PerNetns));
        let somaxconn = lookup("net.core.somaxconn").unwrap();
        assert_eq!(somaxconn.default_value(v(5, 3)), Some(Value::parse("128")));
        assert_eq!(somaxconn.default_value(v(5, 4)), Some(Value::parse("4096")));
        let recycle = lookup("net.ipv4.tcp_tw_recycle").unwrap();
        assert_eq!(recycle.exists_in(KernelVersion::new(4, 11, 12)), Some(true));
        assert_eq!(recycle.exists_in(v(4, 12)), Some(false));
        let ehash = lookup("net.ipv4.tcp_ehash_entries").unwrap();
        assert_eq!(ehash.exists_in(v(5, 19)), Some(false));
        assert_eq!(ehash.exists_in(v(6, 1)), Some(true));
        let lowat = lookup("net.ipv4.tcp_notsent_lowat").unwrap();
        assert_eq!(lowat.exists_in(v(3, 11)), Some(false));
        assert_eq!(lowat.default_value(v(4, 9)), Some(Value::parse("-1")));
        assert_eq!(
            lowat.default_value(v(4, 10)),
            Some(Value::parse("4294967295"))
        );
        let allowed = lookup("net.ipv4.tcp_allowed_congestion_control").unwrap();
        assert_eq!(allowed.scope(v(5, 6)), Some(Scope::Global));
        assert_eq!(allowed.scope(v(5, 7)), Some(Scope::GlobalWritableInChild));
        assert_eq!(allowed.scope(v(5, 12)), Some(Scope::GlobalReadOnlyInChild));
        let ports = lookup("net.ipv4.ip_local_port_range").unwrap();
        assert_eq!(
            ports.default_value(v(4, 1)),
            Some(Value::parse("32768 61000"))
        );
        assert_eq!(
            ports.default_value(v(4, 2)),
            Some(Value::parse("32768 60999"))
        );
    }

    /// Inside an unpinned gap the answer is unsure and says so.
    #[test]
    fn unpinned_changes_are_never_guessed() {
        let rmem_max = lookup("net.core.rmem_max").unwrap();
        assert_eq!(
            rmem_max.default_value(v(6, 14)),
            Some(Value::parse("212992"))
        );
        assert_eq!(rmem_max.default_value(v(6, 16)), None);
        assert_eq!(
            rmem_max.default_value(v(6, 18)),
            Some(Value::parse("4194304"))
        );
        let view = KeyView::new(rmem_max, Some(v(6, 16)));
        assert!(
            view.default.contains("212992 on 6.14, 4194304 on 6.18"),
            "{}",
            view.default
        );
        assert!(view.default.contains("not pinned"), "{}", view.default);
        let probes = lookup("net.ipv4.tcp_keepalive_probes").unwrap();
        assert_eq!(probes.handlers(v(5, 13)).len(), 2);
        // 300 is stored by 5.12's int handler, refused by 5.15's u8 one:
        // not predictable on 5.13.
        assert_eq!(probes.stored("300", Some(v(5, 13))), None);
        assert_eq!(
            probes.stored("300", Some(v(5, 12))),
            Some(Value::parse("300"))
        );
        assert_eq!(probes.stored("300", Some(v(5, 15))), None);
        assert_eq!(
            probes.stored("255", Some(v(5, 15))),
            Some(Value::parse("255"))
        );
    }

    /// The kernel's ctl_table ranges, not setsockopt's.
    #[test]
    fn ranges_are_the_sysctls_own() {
        let accepts = |key: &str, value: &str, version| {
            lookup(key).unwrap().stored(value, Some(version)).is_some()
        };
        let new = v(6, 18);
        assert!(accepts("net.ipv4.tcp_keepalive_time", "0", new));
        assert!(accepts("net.ipv4.tcp_keepalive_time", "40000", new));
        assert!(accepts("net.ipv4.tcp_keepalive_intvl", "0", new));
        assert!(accepts("net.ipv4.tcp_keepalive_probes", "255", new));
        assert!(accepts("net.ipv4.tcp_fin_timeout", "0", new));
        assert!(accepts("net.ipv4.tcp_rmem", "8192 4096 1", new));
        assert!(accepts("net.ipv4.tcp_fastopen", "2048", new));
        assert!(accepts("net.ipv4.tcp_mem", "3 2 1", new));
        assert!(!accepts("net.ipv4.tcp_syn_retries", "0", new));
        assert!(!accepts("net.ipv4.tcp_syn_retries", "128", new));
        assert!(!accepts("net.ipv4.ip_local_port_range", "1000 65535", new));
        assert!(accepts(
            "net.ipv4.ip_local_port_range",
            "1000 65535",
            v(4, 10)
        ));
        assert!(!accepts(
            "net.ipv4.ip_local_reserved_ports",
            "8080, 8081",
            new
        ));
        assert!(accepts("net.ipv4.tcp_tw_reuse", "5", v(4, 17)));
        assert!(!accepts("net.ipv4.tcp_tw_reuse", "5", v(4, 18)));
    }

    #[test]
    fn explain_shows_the_release_asked_for() {
        let somaxconn = lookup("net.core.somaxconn").unwrap();
        let old = KeyView::new(somaxconn, Some(v(4, 19)));
        assert_eq!(old.default, "128");
        let new = KeyView::new(somaxconn, Some(v(5, 15)));
        assert_eq!(new.default, "4096 (since 5.4)");
        let reuse = lookup("net.ipv4.tcp_tw_reuse").unwrap();
        assert_eq!(
            KeyView::new(reuse, Some(v(4, 9))).scope,
            "global (absent inside a child network namespace)"
        );
        let fack = lookup("net.ipv4.tcp_fack").unwrap();
        assert!(
            KeyView::new(fack, Some(v(5, 4)))
                .summary
                .contains("does nothing")
        );
        assert!(
            !KeyView::new(fack, Some(v(4, 14)))
                .summary
                .contains("does nothing")
        );
        let unknown = KeyView::new(somaxconn, None);
        assert!(unknown.default.contains("depends on the kernel version"));
    }
}
