//! Planning: what `apply` would change, computed purely from facts, the
//! profile and the current content of tcptune's sysctl.d file.
//!
//! The plan lists every key of the profile with what will happen to it (a
//! live change, already right, or skipped and why), renders the complete new
//! file, and carries the later sysctl.d assignments that would override that
//! file at boot. `diff` shows a plan; `apply` carries one out.

use std::path::PathBuf;

use serde::Serialize;

use crate::facts::Facts;
use crate::facts::{Reading, Writability};
use crate::key::{Key, Value};
use crate::knowledge;
use crate::profile::{Expectation, Profile};

/// What happens to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The live value will be changed (and persisted).
    Change,
    /// The live value already meets the profile; it is persisted as it is.
    Unchanged,
    /// The key does not exist in this kernel or namespace.
    SkippedAbsent,
    /// The key exists but this namespace may not change it.
    SkippedReadOnly,
    /// The key could not be read.
    SkippedUnreadable,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Change => "change",
            Status::Unchanged => "unchanged",
            Status::SkippedAbsent => "skipped_absent",
            Status::SkippedReadOnly => "skipped_read_only",
            Status::SkippedUnreadable => "skipped_unreadable",
        }
    }
}

/// One key of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: Key,
    pub from: Option<Value>,
    /// The value written live and to the file (None when skipped).
    pub to: Option<Value>,
    pub status: Status,
    /// Whether the key goes into tcptune's file.
    pub persisted: bool,
    pub why: String,
    /// For skipped keys: the reason, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A later sysctl.d assignment that would override tcptune's file at boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shadow {
    pub key: String,
    pub loader: &'static str,
    pub path: String,
    pub line: usize,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub profile: String,
    /// Where the profile's files came from (see [`Profile::sources`]).
    pub profile_sources: Vec<crate::profile::Source>,
    pub changes: Vec<Change>,
    pub file: PathBuf,
    /// The file's current bytes, or None when it does not exist.
    pub old_file: Option<Vec<u8>>,
    pub new_file: Vec<u8>,
    pub shadows: Vec<Shadow>,
    /// Keys the current file persists that the new one no longer does (an
    /// earlier profile managed them): their live values stay until reboot.
    pub dropped: Vec<Dropped>,
    /// Why the file is not written at all, when it is not (a child network
    /// namespace's values do not belong in the host's boot configuration).
    pub not_persisted: Option<String>,
    /// Whether live values are written (false: an offline `--root` image).
    pub live: bool,
}

/// A key that leaves tcptune's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    pub key: String,
    pub value: String,
}

impl Plan {
    /// The live values the plan changes (none for an offline image).
    pub fn live_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(move |change| self.live && change.status == Status::Change)
    }

    /// The keys whose live value differs from what the profile wants, live
    /// or not: what an offline plan persists without setting.
    pub fn wanted_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|change| change.status == Status::Change)
    }

    pub fn file_changes(&self) -> bool {
        self.not_persisted.is_none() && self.old_file.as_deref() != Some(self.new_file.as_slice())
    }

    /// Files only: live values are left alone.
    pub fn offline(mut self) -> Plan {
        self.live = false;
        self
    }

    /// Live values only: the file is neither written nor removed.
    pub fn live_only(mut self, why: String) -> Plan {
        self.not_persisted = Some(why);
        self
    }

    /// True when applying would change nothing at all.
    pub fn is_empty(&self) -> bool {
        self.live_changes().next().is_none() && !self.file_changes()
    }

    /// What changed on the system between `earlier` (the plan shown before
    /// asking) and this plan of the same profile, for people: live values
    /// someone set meanwhile, tcptune's file rewritten, the files that
    /// override it at boot. Empty when nothing did.
    pub fn changed_since(&self, earlier: &Plan) -> Vec<String> {
        let mut changed = Vec::new();
        for change in &self.changes {
            let before = earlier
                .changes
                .iter()
                .find(|previous| previous.key == change.key);
            match before {
                Some(before) if before.from != change.from => changed.push(format!(
                    "{} changed from {} to {}",
                    change.key,
                    shown(before.from.as_ref()),
                    shown(change.from.as_ref())
                )),
                Some(before) if before.status != change.status => {
                    changed.push(format!("{} is now {}", change.key, change.status.name()))
                }
                Some(_) => {}
                None => changed.push(format!("{} is now part of the plan", change.key)),
            }
        }
        if self.old_file != earlier.old_file {
            changed.push(format!(
                "{} was changed by someone else",
                self.file.display()
            ));
        }
        if self.shadows != earlier.shadows {
            changed.push(format!(
                "the sysctl.d files that override {} at boot changed",
                self.file.display()
            ));
        }
        if changed.is_empty() && self != earlier {
            changed.push("the plan changed".to_owned());
        }
        changed
    }

    /// A unified diff of the file, old to new.
    pub fn file_diff(&self) -> String {
        let old = self
            .old_file
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let new = String::from_utf8_lossy(&self.new_file);
        let before = if self.old_file.is_some() {
            self.file.display().to_string()
        } else {
            "/dev/null".to_owned()
        };
        similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
            .unified_diff()
            .context_radius(3)
            .header(&before, &self.file.display().to_string())
            .to_string()
    }
}

/// A value for people; `-` when there is none (absent or unreadable).
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// Builds the plan from facts gathered for planning (the keys' live values
/// and writability, and tcptune's file as it is now with the later files
/// that beat it at boot) and the profile.
pub fn plan(facts: &Facts, profile: &Profile) -> Plan {
    let (file, old_file, overridden_by) = match &facts.own_file {
        Some(own) => (
            own.path.clone(),
            own.bytes.clone(),
            own.overridden_by.as_ref(),
        ),
        None => (PathBuf::from(crate::conf::FILE_NAME), None, None),
    };
    let writability = &facts.writability;
    let mut changes = Vec::new();
    for setting in &profile.settings {
        if let Some(version) = facts.kernel
            && !setting.gate.admits(version)
        {
            continue;
        }
        let reading = facts
            .sysctls
            .get(&setting.key)
            .cloned()
            .unwrap_or(Reading::Absent);
        let writable = writability
            .get(&setting.key)
            .copied()
            .unwrap_or(Writability::Absent);
        let info = knowledge::lookup(&setting.key.to_string());
        let mut change = Change {
            key: setting.key.clone(),
            from: reading.value().cloned(),
            to: None,
            status: Status::Unchanged,
            persisted: false,
            why: setting.why.clone(),
            note: None,
        };
        match (&reading, &setting.expect) {
            (Reading::Absent, Expectation::Forbidden) => continue,
            (Reading::Absent, _) => {
                change.status = Status::SkippedAbsent;
                change.note = Some(absent_note(facts, info));
            }
            (Reading::Unreadable { reason }, _) => {
                change.status = Status::SkippedUnreadable;
                change.note = Some(reason.clone());
            }
            (Reading::Present { value }, Expectation::Forbidden) => {
                // A forbidden key is set back to the kernel default live and
                // never written to the file: a file naming a removed key
                // makes `sysctl --system` fail on newer kernels.
                let default = info
                    .zip(facts.kernel)
                    .and_then(|(info, version)| info.default_value(version))
                    .unwrap_or_else(|| Value::parse("0"));
                if *value == default {
                    continue;
                }
                if writable == Writability::Writable {
                    change.status = Status::Change;
                    change.to = Some(default);
                } else {
                    change.status = Status::SkippedReadOnly;
                    change.note = Some("read-only in this namespace".into());
                }
            }
            (Reading::Present { value }, expectation) => {
                let met = expectation.is_met_by(value);
                if writable != Writability::Writable {
                    change.status = Status::SkippedReadOnly;
                    change.note = Some(if met {
                        "read-only in this namespace (already meets the profile)".into()
                    } else {
                        "read-only in this namespace: set it where it is writable (the host)".into()
                    });
                } else {
                    // A value that already meets an at_least/at_most bound is
                    // kept and persisted as it is: apply never lowers a value
                    // the profile accepts.
                    let target = if met {
                        value.clone()
                    } else {
                        expectation
                            .target()
                            .cloned()
                            .unwrap_or_else(|| value.clone())
                    };
                    change.status = if met {
                        Status::Unchanged
                    } else {
                        Status::Change
                    };
                    change.to = Some(target);
                    change.persisted = true;
                }
            }
        }
        changes.push(change);
    }
    let new_file = render_file(profile, &changes);
    let dropped = old_file
        .as_deref()
        .map(|old| dropped(&file, old, &changes))
        .unwrap_or_default();
    let shadows = overridden_by
        .map(|report| shadows(report, &changes))
        .unwrap_or_default();
    Plan {
        profile: profile.name.clone(),
        profile_sources: profile.sources.clone(),
        changes,
        file,
        old_file,
        new_file,
        shadows,
        dropped,
        not_persisted: None,
        live: true,
    }
}

/// The later assignments that would override a persisted key at boot.
fn shadows(report: &crate::conf::CandidateReport, changes: &[Change]) -> Vec<Shadow> {
    changes
        .iter()
        .filter(|change| change.persisted)
        .flat_map(|change| {
            report
                .overriders(&change.key)
                .map(move |(loader, assignment)| Shadow {
                    key: change.key.to_string(),
                    loader: loader.name(),
                    path: assignment.boot_path.display().to_string(),
                    line: assignment.line,
                    value: assignment.value().map(ToString::to_string),
                })
        })
        .collect()
}

/// The keys the old file sets that the new changes do not persist.
fn dropped(file: &std::path::Path, old: &[u8], changes: &[Change]) -> Vec<Dropped> {
    crate::conf::parse(file, old)
        .entries
        .iter()
        .filter_map(|entry| {
            let key = entry.key()?;
            let value = entry.value()?;
            let kept = changes
                .iter()
                .any(|change| change.persisted && &change.key == key);
            (!kept).then(|| Dropped {
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

fn absent_note(facts: &Facts, info: Option<&knowledge::KeyInfo>) -> String {
    if let (Some(info), Some(version)) = (info, facts.kernel) {
        match info.presence(version) {
            knowledge::Presence::Removed(event) => {
                return format!("removed from Linux {}", event.when.in_words());
            }
            knowledge::Presence::NotYet(event) => {
                return format!("added to Linux {}", event.when.in_words());
            }
            _ => {}
        }
        if info
            .scope(version)
            .is_some_and(|scope| !scope.visible_in_child())
        {
            return format!("global key on Linux {version}: not visible in this network namespace");
        }
    }
    "not present on this kernel or in this namespace".into()
}

/// The key listing the congestion control algorithms this kernel offers.
pub const AVAILABLE_CONGESTION_CONTROL: &str = "net.ipv4.tcp_available_congestion_control";

/// Why the profile cannot be applied here: it asks for a congestion control
/// algorithm that `tcp_available_congestion_control` does not list (the
/// kernel would refuse the write with ENOENT). `None` when every such
/// setting names an available algorithm, or the list cannot be read.
pub fn unavailable_congestion_control(facts: &Facts, profile: &Profile) -> Option<String> {
    let available = facts
        .sysctls
        .get(&Key::parse(AVAILABLE_CONGESTION_CONTROL).ok()?)?
        .value()?
        .clone();
    profile.settings.iter().find_map(|setting| {
        if let Some(version) = facts.kernel
            && !setting.gate.admits(version)
        {
            return None;
        }
        let info = knowledge::lookup_key(&setting.key)?;
        if !info
            .all_handlers()
            .contains(&knowledge::Handler::CongestionControl)
        {
            return None;
        }
        let wanted = setting.expect.target()?;
        let [name] = wanted.tokens() else {
            return None;
        };
        (!available.tokens().contains(name)).then(|| {
            format!(
                "profile `{}` sets {} = {name}, which this kernel does not offer (tcp_available_congestion_control: {available}); load the module tcp_{name} first, or choose one of those",
                profile.name, setting.key
            )
        })
    })
}

/// The file: a header, then each persisted key with its reason as a comment.
/// No timestamps, so the same plan renders the same bytes and a repeated
/// apply rewrites nothing.
pub fn render_file(profile: &Profile, changes: &[Change]) -> Vec<u8> {
    let mut text = String::new();
    text.push_str(&format!(
        "# Written by tcptune from profile \"{}\"",
        // Names come from file names: escaped, so no character of theirs can
        // end the comment line and start a setting.
        crate::text::escape(&profile.name)
    ));
    if profile.chain.len() > 1 {
        let parents: Vec<String> = profile.chain[1..]
            .iter()
            .map(|parent| crate::text::escape(parent).into_owned())
            .collect();
        text.push_str(&format!(" (extends {})", parents.join(", ")));
    }
    text.push_str(".\n");
    text.push_str(
        "# `tcptune apply` rewrites this file and `tcptune rollback` restores what was\n",
    );
    text.push_str("# here before; edit the profile instead of this file.\n");
    for change in changes.iter().filter(|change| change.persisted) {
        let Some(value) = &change.to else { continue };
        text.push('\n');
        for line in comment_lines(&change.why) {
            text.push_str(&format!("# {line}\n"));
        }
        text.push_str(&format!("{} = {value}\n", change.key));
    }
    text.into_bytes()
}

fn comment_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        // Whitespace (a newline of a YAML block) splits words; any other
        // control character is shown escaped, never written raw.
        let word = crate::text::escape(word);
        if !line.is_empty() && line.len() + 1 + word.len() > 76 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rules::testing::{builtin, facts};

    /// Plans with `writability` and tcptune's file (path, bytes) as gathered.
    fn plan(
        facts: &Facts,
        profile: &Profile,
        writability: &BTreeMap<Key, Writability>,
        file: PathBuf,
        old_file: Option<Vec<u8>>,
    ) -> Plan {
        let mut facts = facts.clone();
        facts.writability = writability.clone();
        facts.own_file = Some(crate::facts::OwnFile {
            path: file,
            bytes: old_file,
            overridden_by: None,
        });
        super::plan(&facts, profile)
    }

    fn writable(keys: &[&str]) -> BTreeMap<Key, Writability> {
        keys.iter()
            .map(|key| (Key::parse(key).unwrap(), Writability::Writable))
            .collect()
    }

    #[test]
    fn webserver_on_defaults() {
        let facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.tcp_fin_timeout", "60"),
                ("net.ipv4.tcp_tw_reuse", "2"),
                ("net.ipv4.tcp_syncookies", "1"),
                ("net.core.somaxconn", "8192"),
                ("net.ipv4.tcp_slow_start_after_idle", "1"),
                ("net.ipv4.tcp_sack", "1"),
                ("net.ipv4.tcp_window_scaling", "1"),
                ("net.ipv4.tcp_timestamps", "1"),
                ("net.ipv4.tcp_tw_recycle", "<absent>"),
            ],
        );
        let all = [
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_syncookies",
            "net.core.somaxconn",
            "net.ipv4.tcp_slow_start_after_idle",
            "net.ipv4.tcp_sack",
            "net.ipv4.tcp_window_scaling",
            "net.ipv4.tcp_timestamps",
        ];
        let plan = plan(
            &facts,
            &builtin("webserver"),
            &writable(&all),
            PathBuf::from("/etc/sysctl.d/99-zz-tcptune.conf"),
            None,
        );
        let changed: Vec<String> = plan
            .live_changes()
            .map(|change| {
                format!(
                    "{} {} -> {}",
                    change.key,
                    change.from.as_ref().unwrap(),
                    change.to.as_ref().unwrap()
                )
            })
            .collect();
        assert_eq!(
            changed,
            [
                "net.ipv4.tcp_fin_timeout 60 -> 30",
                "net.ipv4.tcp_slow_start_after_idle 1 -> 0",
                "net.ipv4.tcp_tw_reuse 2 -> 1",
            ]
        );
        let file = String::from_utf8(plan.new_file.clone()).unwrap();
        // somaxconn 8192 meets ">= 4096" and is persisted as it is.
        assert!(file.contains("\nnet.core.somaxconn = 8192\n"), "{file}");
        assert!(file.contains("\nnet.ipv4.tcp_fin_timeout = 30\n"));
        assert!(
            !file
                .lines()
                .any(|line| line.starts_with("net.ipv4.tcp_tw_recycle"))
        );
        assert!(plan.file_changes());
        assert!(
            plan.file_diff()
                .starts_with("--- /dev/null\n+++ /etc/sysctl.d/99-zz-tcptune.conf\n")
        );
    }

    #[test]
    fn keys_an_earlier_profile_persisted_are_reported_when_dropped() {
        let facts = facts("6.18.0", &[("net.ipv4.tcp_sack", "1")]);
        let old = b"# Written by tcptune\nnet.ipv4.ip_local_port_range = 10240 65535\nnet.ipv4.tcp_sack = 1\n".to_vec();
        let plan = plan(
            &facts,
            &builtin("default"),
            &writable(&["net.ipv4.tcp_sack"]),
            PathBuf::from("f"),
            Some(old),
        );
        assert_eq!(
            plan.dropped,
            [Dropped {
                key: "net.ipv4.ip_local_port_range".into(),
                value: "10240 65535".into()
            }]
        );
    }

    #[test]
    fn same_state_twice_is_empty() {
        let facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.tcp_sack", "1"),
                ("net.ipv4.tcp_window_scaling", "1"),
                ("net.ipv4.tcp_timestamps", "1"),
                ("net.ipv4.tcp_syncookies", "1"),
                ("net.core.somaxconn", "4096"),
            ],
        );
        let keys = writable(&[
            "net.ipv4.tcp_sack",
            "net.ipv4.tcp_window_scaling",
            "net.ipv4.tcp_timestamps",
            "net.ipv4.tcp_syncookies",
            "net.core.somaxconn",
        ]);
        let first = plan(&facts, &builtin("default"), &keys, PathBuf::from("f"), None);
        let second = plan(
            &facts,
            &builtin("default"),
            &keys,
            PathBuf::from("f"),
            Some(first.new_file.clone()),
        );
        assert!(second.is_empty());
    }

    #[test]
    fn absent_and_read_only_keys_are_skipped_and_not_persisted() {
        let document = crate::profile::parse(
            "p.yaml",
            "p",
            b"settings:\n  net.core.rmem_max:\n    value: 4194304\n    why: w\n  net.ipv4.tcp_max_orphans:\n    value: 65536\n    why: w\n",
        )
        .unwrap();
        let mut profile = builtin("default");
        profile.settings = document.settings;
        let facts = facts(
            "6.18.0",
            &[
                ("net.core.rmem_max", "212992"),
                ("net.ipv4.tcp_max_orphans", "<absent>"),
            ],
        );
        let mut access = BTreeMap::new();
        access.insert(
            Key::parse("net.core.rmem_max").unwrap(),
            Writability::ReadOnly,
        );
        let plan = plan(&facts, &profile, &access, PathBuf::from("f"), None);
        assert_eq!(plan.changes[0].status, Status::SkippedReadOnly);
        assert_eq!(plan.changes[1].status, Status::SkippedAbsent);
        assert!(plan.changes.iter().all(|change| !change.persisted));
        assert!(plan.live_changes().next().is_none());
    }

    #[test]
    fn forbidden_key_is_reset_live_but_never_written_to_the_file() {
        let facts = facts("4.9.0", &[("net.ipv4.tcp_tw_recycle", "1")]);
        let plan = plan(
            &facts,
            &builtin("default"),
            &writable(&["net.ipv4.tcp_tw_recycle"]),
            PathBuf::from("f"),
            None,
        );
        let change = plan
            .changes
            .iter()
            .find(|change| change.key.to_string() == "net.ipv4.tcp_tw_recycle")
            .unwrap();
        assert_eq!(change.to, Some(Value::parse("0")));
        assert!(!change.persisted);
        assert!(
            !String::from_utf8_lossy(&plan.new_file)
                .lines()
                .any(|line| line.contains("tcp_tw_recycle ="))
        );
    }

    #[test]
    fn a_congestion_control_the_kernel_lacks_is_refused_before_planning() {
        let document = crate::profile::parse(
            "p.yaml",
            "p",
            b"settings:\n  net.ipv4.tcp_congestion_control:\n    value: bbr\n    why: w\n",
        )
        .unwrap();
        let mut profile = builtin("default");
        profile.settings = document.settings;
        let without = facts(
            "6.1.0",
            &[("net.ipv4.tcp_available_congestion_control", "reno cubic")],
        );
        let message = unavailable_congestion_control(&without, &profile).unwrap();
        assert!(message.contains("does not offer"), "{message}");
        let with = facts(
            "6.1.0",
            &[(
                "net.ipv4.tcp_available_congestion_control",
                "reno cubic bbr",
            )],
        );
        assert_eq!(unavailable_congestion_control(&with, &profile), None);
    }
}
