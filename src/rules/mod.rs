//! The rules: pure functions from facts (and a profile) to findings.
//!
//! Each module is one family of rules with the same shape: a [`Family`]
//! naming the sysctl keys its rules read (so `check` gathers them whatever
//! the profile says) and `fn evaluate(&Facts, &Profile) -> Vec<Finding>`.
//! Adding a rule family means adding a module and one line in [`FAMILIES`];
//! its finding codes are declared in [`crate::finding`]. Nothing in a rule
//! reads the system.

mod buffers;
mod close_wait;
mod conntrack;
mod harmful;
mod idle_timeout;
mod listen;
mod listeners;
mod memory;
mod orphans;
mod persistence;
mod ports;
mod retransmits;
mod settings;
mod syn_queue;
mod time_wait;

use crate::facts::Facts;
use crate::finding::{Code, Finding};
use crate::key::Key;
use crate::profile::Profile;

/// One family of rules.
pub struct Family {
    /// Keys the rules read, whatever the profile says.
    pub keys: &'static [&'static str],
    pub evaluate: fn(&Facts, &Profile) -> Vec<Finding>,
}

/// Every rule family, in the order their findings are listed.
const FAMILIES: &[Family] = &[
    harmful::FAMILY,
    settings::FAMILY,
    persistence::FAMILY,
    close_wait::FAMILY,
    ports::FAMILY,
    time_wait::FAMILY,
    listen::FAMILY,
    listeners::FAMILY,
    syn_queue::FAMILY,
    orphans::FAMILY,
    memory::FAMILY,
    conntrack::FAMILY,
    retransmits::FAMILY,
    idle_timeout::FAMILY,
    buffers::FAMILY,
];

/// Every key some rule reads.
pub fn keys() -> impl Iterator<Item = Key> {
    FAMILIES
        .iter()
        .flat_map(|family| family.keys)
        .filter_map(|key| Key::parse(key).ok())
}

/// Runs every rule. A key that a `harmful-value` finding already covers gets
/// no second `drift` finding: the harmful one says more.
pub fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let mut findings: Vec<Finding> = FAMILIES
        .iter()
        .flat_map(|family| (family.evaluate)(facts, profile))
        .collect();
    let harmful_keys: Vec<String> = findings
        .iter()
        .filter(|finding| finding.code == Code::HarmfulValue)
        .filter_map(|finding| finding.key.clone())
        .collect();
    findings.retain(|finding| {
        finding.code != Code::Drift
            || finding
                .key
                .as_ref()
                .is_none_or(|key| !harmful_keys.contains(key))
    });
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    findings
}

#[cfg(test)]
pub(crate) mod testing {
    //! Literal facts for rule tests.

    use crate::facts::Facts;
    use crate::facts::Reading;
    use crate::kernel::KernelVersion;
    use crate::key::{Key, Value};
    use crate::profile::{self, Profile};
    use crate::system::System;

    pub fn facts(release: &str, sysctls: &[(&str, &str)]) -> Facts {
        Facts {
            kernel_release: release.to_owned(),
            kernel: KernelVersion::from_release(release),
            sysctls: sysctls
                .iter()
                .map(|(key, value)| {
                    let reading = match *value {
                        "<absent>" => Reading::Absent,
                        "<unreadable>" => Reading::Unreadable {
                            reason: "Permission denied (os error 13)".into(),
                        },
                        _ => Reading::Present {
                            value: Value::parse(value),
                        },
                    };
                    (Key::parse(key).unwrap(), reading)
                })
                .collect(),
            ..Facts::default()
        }
    }

    pub fn builtin(name: &str) -> Profile {
        profile::resolve(&System::new("/nonexistent-root", "/nonexistent-proc"), name).unwrap()
    }
}
