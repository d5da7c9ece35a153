//! A key's history as data: what changed in which kernel release, and the
//! evaluation of that history at one release.
//!
//! Every event names the release that made the change (pinned: the release
//! and the one before it were both read) or the two releases it lies between
//! (unpinned: no source of the releases in between was read), and cites the
//! proof: a commit id or a tagged source line `vX.Y[.Z]:path:line-or-symbol`.
//! Evaluating the history at a release gives each aspect of the key (does it
//! exist, default, handler and range, scope, meaning) together with the event
//! it comes from, so every answer can say since when and why; inside an
//! unpinned gap the answer is "unsure" and names both sides, never a guess.

use serde::Serialize;

use super::value::Handler;
use crate::kernel::KernelVersion;

/// `major.minor`, for the tables.
pub const fn v(major: u32, minor: u32) -> KernelVersion {
    KernelVersion::new(major, minor, 0)
}

/// The oldest release tcptune knows about; the baseline events describe it.
pub const OLDEST: KernelVersion = v(3, 10);

/// When a change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The state of 3.10, where the history starts.
    Baseline,
    /// Pinned to this release.
    In(KernelVersion),
    /// Not pinned: after the first release and at the latest in the second.
    Between(KernelVersion, KernelVersion),
}

impl When {
    /// The release line of `version` (stable point releases belong to it).
    fn line(version: KernelVersion) -> KernelVersion {
        v(version.major, version.minor)
    }

    /// Whether the change is in force at `version`: `Some(true)` yes,
    /// `Some(false)` not yet, `None` unknown (inside an unpinned gap).
    pub fn in_force_at(self, version: KernelVersion) -> Option<bool> {
        let version = Self::line(version);
        match self {
            When::Baseline => Some(true),
            When::In(release) => Some(version >= release),
            When::Between(after, by) => {
                if version <= after {
                    Some(false)
                } else if version >= by {
                    Some(true)
                } else {
                    None
                }
            }
        }
    }

    pub fn is_pinned(self) -> bool {
        !matches!(self, When::Between(..))
    }

    /// The first release the change may be in (for ordering and spans).
    pub fn earliest(self) -> KernelVersion {
        match self {
            When::Baseline => OLDEST,
            When::In(release) => release,
            When::Between(after, _) => v(after.major, after.minor + 1),
        }
    }

    /// "in 4.18", "in a release after 6.14, by 6.18 at the latest (not
    /// pinned)": for "added in", "removed in".
    pub fn in_words(self) -> String {
        match self {
            When::Baseline => format!("in {OLDEST} or earlier"),
            When::In(release) => format!("in {release}"),
            When::Between(after, by) => {
                format!("in a release after {after}, by {by} at the latest (not pinned)")
            }
        }
    }

    /// "since 4.18", "from a release after 5.12, by 5.15 at the latest (not
    /// pinned)".
    pub fn describe(self) -> String {
        match self {
            When::Baseline => format!("in {OLDEST}"),
            When::In(release) => format!("since {release}"),
            When::Between(after, by) => {
                format!("from a release after {after}, by {by} at the latest (not pinned)")
            }
        }
    }
}

impl Serialize for When {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            When::Baseline => serializer.collect_str(&OLDEST),
            When::In(release) => serializer.collect_str(release),
            When::Between(after, by) => serializer.collect_str(&format!("{after}..{by}")),
        }
    }
}

/// Whether each network namespace has its own copy of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each namespace has its own value; a write in a child namespace does
    /// not touch the host.
    PerNetns,
    /// One value for the whole machine; absent in a child namespace.
    Global,
    /// One value for the whole machine, visible and writable in a child
    /// namespace, where a write changes it for everyone (5.7 to 5.11 for the
    /// congestion-control lists).
    GlobalWritableInChild,
    /// One value for the whole machine; a child namespace sees it read-only.
    GlobalReadOnlyInChild,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::PerNetns => "per network namespace",
            Scope::Global => "global (absent inside a child network namespace)",
            Scope::GlobalWritableInChild => {
                "global, visible and writable inside a child network namespace (a write there changes it for every namespace)"
            }
            Scope::GlobalReadOnlyInChild => "global (read-only inside a child network namespace)",
        }
    }

    /// Whether a child network namespace has the key at all.
    pub fn visible_in_child(self) -> bool {
        self != Scope::Global
    }
}

/// The kernel's default: text for people, and the value when it is a
/// constant (compared with live and file values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Default {
    pub text: &'static str,
    pub value: Option<&'static str>,
}

/// One change of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The key exists from here on (at `Baseline`: it exists in 3.10).
    Added,
    /// The key does not exist (at `Baseline`: not in 3.10).
    Absent,
    Removed,
    Default(Default),
    /// How the kernel parses, bounds and prints the value.
    Handler(Handler),
    Scope(Scope),
    /// What the key does from here on, replacing the earlier meaning.
    Meaning(&'static str),
    /// The key is still there but the kernel ignores it from here on.
    NoOp(&'static str),
}

impl Change {
    fn aspect(&self) -> Aspect {
        match self {
            Change::Added | Change::Absent | Change::Removed => Aspect::Exists,
            Change::Default(_) => Aspect::Default,
            Change::Handler(_) => Aspect::Handler,
            Change::Scope(_) => Aspect::Scope,
            Change::Meaning(_) => Aspect::Meaning,
            Change::NoOp(_) => Aspect::NoOp,
        }
    }

    /// The kind, as `explain` and JSON name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Absent => "absent",
            Change::Removed => "removed",
            Change::Default(_) => "default",
            Change::Handler(_) => "values",
            Change::Scope(_) => "scope",
            Change::Meaning(_) => "semantics",
            Change::NoOp(_) => "no-op",
        }
    }

    /// The change in words.
    pub fn describe(&self) -> String {
        match self {
            Change::Added => "added".into(),
            Change::Absent => "not present".into(),
            Change::Removed => "removed".into(),
            Change::Default(default) => format!("default {}", default.text),
            Change::Handler(handler) => format!("accepts {}", handler.describe()),
            Change::Scope(scope) => scope.describe().to_owned(),
            Change::Meaning(text) => (*text).to_owned(),
            Change::NoOp(text) => format!("does nothing: {text}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aspect {
    Exists,
    Default,
    Handler,
    Scope,
    Meaning,
    NoOp,
}

/// One event of a key's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub when: When,
    pub change: Change,
    /// Commit ids or tagged source lines that prove it.
    pub cite: &'static [&'static str],
}

/// An aspect of a key at one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact<T> {
    Known {
        value: T,
        event: &'static Event,
    },
    /// The release lies inside an unpinned gap of this event.
    Unsure {
        before: T,
        after: T,
        event: &'static Event,
    },
}

impl<T: Copy> Fact<T> {
    /// The value when known; inside a gap, the one that holds *before* the
    /// change (callers that must be certain use [`Fact::both`]).
    pub fn value(&self) -> T {
        match self {
            Fact::Known { value, .. } => *value,
            Fact::Unsure { before, .. } => *before,
        }
    }

    /// Every value the aspect may have at this release.
    pub fn both(&self) -> Vec<T> {
        match self {
            Fact::Known { value, .. } => vec![*value],
            Fact::Unsure { before, after, .. } => vec![*before, *after],
        }
    }

    pub fn event(&self) -> &'static Event {
        match self {
            Fact::Known { event, .. } | Fact::Unsure { event, .. } => event,
        }
    }

    pub fn is_sure(&self) -> bool {
        matches!(self, Fact::Known { .. })
    }
}

/// Evaluates one aspect: the baseline, then every later event in order.
fn evaluate<T: Copy>(
    history: &'static [Event],
    aspect: Aspect,
    version: KernelVersion,
    pick: impl Fn(&Change) -> Option<T>,
) -> Option<Fact<T>> {
    let mut fact: Option<Fact<T>> = None;
    for event in history
        .iter()
        .filter(|event| event.change.aspect() == aspect)
    {
        let Some(value) = pick(&event.change) else {
            continue;
        };
        match event.when.in_force_at(version) {
            Some(true) => fact = Some(Fact::Known { value, event }),
            Some(false) => {}
            None => {
                if let Some(before) = fact {
                    fact = Some(Fact::Unsure {
                        before: before.value(),
                        after: value,
                        event,
                    });
                }
            }
        }
    }
    fact
}

/// The key at one release.
#[derive(Debug, Clone)]
pub struct State {
    pub version: KernelVersion,
    pub exists: Fact<bool>,
    pub default: Option<Fact<Default>>,
    pub handler: Option<Fact<Handler>>,
    pub scope: Option<Fact<Scope>>,
    pub meaning: Option<Fact<&'static str>>,
    pub no_op: Option<Fact<&'static str>>,
}

/// Evaluates a history at `version`.
pub fn state_at(history: &'static [Event], version: KernelVersion) -> Option<State> {
    let exists = evaluate(history, Aspect::Exists, version, |change| match change {
        Change::Added => Some(true),
        Change::Absent | Change::Removed => Some(false),
        _ => None,
    })?;
    Some(State {
        version,
        exists,
        default: evaluate(history, Aspect::Default, version, |change| match change {
            Change::Default(default) => Some(*default),
            _ => None,
        }),
        handler: evaluate(history, Aspect::Handler, version, |change| match change {
            Change::Handler(handler) => Some(*handler),
            _ => None,
        }),
        scope: evaluate(history, Aspect::Scope, version, |change| match change {
            Change::Scope(scope) => Some(*scope),
            _ => None,
        }),
        meaning: evaluate(history, Aspect::Meaning, version, |change| match change {
            Change::Meaning(text) => Some(*text),
            _ => None,
        }),
        no_op: evaluate(history, Aspect::NoOp, version, |change| match change {
            Change::NoOp(text) => Some(*text),
            _ => None,
        }),
    })
}

/// The releases at which anything in `history` may change, oldest first:
/// evaluating at each of them (and reading the gaps as unsure) covers every
/// release tcptune knows.
pub fn boundaries(history: &[Event]) -> Vec<KernelVersion> {
    let mut versions = vec![OLDEST];
    for event in history {
        match event.when {
            When::Baseline => {}
            When::In(release) => versions.push(release),
            When::Between(after, by) => {
                versions.push(v(after.major, after.minor + 1));
                versions.push(by);
            }
        }
    }
    versions.sort();
    versions.dedup();
    versions
}

/// Whether a citation has one of the accepted forms: a commit id of at least
/// 12 hex digits, or `vX.Y[.Z]:path:line-or-symbol` (a tagged source line;
/// `rhel7-3.10.0-1160:` for the one distribution tree read).
pub fn is_citation(text: &str) -> bool {
    if text.len() >= 12 && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let mut parts = text.splitn(3, ':');
    let (Some(tag), Some(path), Some(place)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let tag_ok = tag == "rhel7-3.10.0-1160"
        || tag.strip_prefix('v').is_some_and(|numbers| {
            let parts: Vec<&str> = numbers.split('.').collect();
            (2..=3).contains(&parts.len())
                && parts
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        });
    let path_ok = !path.is_empty()
        && path.contains('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    let place_ok = !place.is_empty()
        && place
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    tag_ok && path_ok && place_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_unknown_inside_and_known_at_both_ends() {
        let gap = When::Between(v(5, 12), v(5, 15));
        assert_eq!(gap.in_force_at(v(5, 12)), Some(false));
        assert_eq!(gap.in_force_at(KernelVersion::new(5, 12, 9)), Some(false));
        assert_eq!(gap.in_force_at(v(5, 13)), None);
        assert_eq!(gap.in_force_at(v(5, 14)), None);
        assert_eq!(gap.in_force_at(v(5, 15)), Some(true));
        assert_eq!(
            When::In(v(4, 18)).in_force_at(KernelVersion::new(4, 17, 19)),
            Some(false)
        );
        assert_eq!(
            When::In(v(4, 18)).in_force_at(KernelVersion::new(4, 18, 0)),
            Some(true)
        );
    }

    #[test]
    fn citation_forms() {
        for good in [
            "79e9fed460385a3d8ba0b5782e9e74405cb199b1",
            "19f92a030ca6",
            "v4.18:net/ipv4/sysctl_net_ipv4.c:853",
            "v4.14.177:net/ipv4/sysctl_net_ipv4.c:437",
            "v4.20:net/ipv4/tcp.c:tcp_init",
            "rhel7-3.10.0-1160:net/ipv4/af_inet.c:inet_init_net",
        ] {
            assert!(is_citation(good), "{good}");
        }
        for bad in [
            "",
            "79e9fed",
            "about 4.18",
            "v4:net/ipv4/tcp.c:1",
            "v4.18:tcp.c:1",
            "v4.18:net/ipv4/tcp.c:",
        ] {
            assert!(!is_citation(bad), "{bad}");
        }
    }
}
