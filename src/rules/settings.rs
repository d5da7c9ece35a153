//! Profile settings against live values: `drift`, `obsolete-key`,
//! `unavailable-key` and `unreadable-key`.

use crate::facts::Facts;
use crate::facts::Reading;
use crate::finding::{Code, Finding, Severity};
use crate::knowledge::{self, Presence};
use crate::profile::{Expectation, Profile, Setting};

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    // Whether this is a child namespace decides how a missing key is told.
    keys: &["net.ipv4.tcp_max_orphans", "net.ipv4.tcp_ehash_entries"],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    profile
        .settings
        .iter()
        .filter(|setting| match facts.kernel {
            Some(version) => setting.gate.admits(version),
            // Without a version, gated settings cannot be judged.
            None => setting.gate.is_open(),
        })
        .filter_map(|setting| judge(facts, profile, setting))
        .collect()
}

fn judge(facts: &Facts, profile: &Profile, setting: &Setting) -> Option<Finding> {
    let key = setting.key.to_string();
    let info = knowledge::lookup(&key);
    let reading = facts
        .sysctls
        .get(&setting.key)
        .cloned()
        .unwrap_or(Reading::Absent);
    match reading {
        Reading::Present { value } => {
            let met = match &setting.expect {
                Expectation::Forbidden => {
                    let default = info
                        .zip(facts.kernel)
                        .and_then(|(info, version)| info.default_value(version))
                        .unwrap_or_else(|| crate::key::Value::parse("0"));
                    value == default
                }
                expectation => expectation.is_met_by(&value),
            };
            if met {
                return None;
            }
            let wanted = match &setting.expect {
                Expectation::Forbidden => "not set".to_owned(),
                expectation => expectation.to_string(),
            };
            let fix = match setting.expect.target() {
                Some(target) => format!(
                    "set `{key} = {target}` now (sysctl -w) and in a file under /etc/sysctl.d so it survives a reboot"
                ),
                None => {
                    format!("remove `{key}` from every sysctl file and restore the kernel default")
                }
            };
            Some(
                Finding::new(
                    Code::Drift,
                    setting.severity,
                    format!(
                        "{key} is {value}; profile `{}` wants {wanted}",
                        profile.name
                    ),
                )
                .key(&key)
                .current(&value)
                .expected(&wanted)
                .rationale(&setting.why)
                .evidence("profile", profile.name.as_str())
                .evidence("defined_in", setting.defined_in.as_str())
                .fix(fix),
            )
        }
        Reading::Unreadable { reason } => Some(
            Finding::new(
                Code::UnreadableKey,
                Severity::Warning,
                format!("{key} exists but cannot be read: {reason}"),
            )
            .key(&key)
            .expected(&setting.expect)
            .rationale("tcptune cannot judge a value it cannot read.")
            .evidence("reason", reason)
            .fix("run tcptune as root, or check what denies access to the key under /proc/sys"),
        ),
        Reading::Absent => absent(facts, setting, &key, info),
    }
}

fn absent(
    facts: &Facts,
    setting: &Setting,
    key: &str,
    info: Option<&knowledge::KeyInfo>,
) -> Option<Finding> {
    if setting.expect == Expectation::Forbidden {
        return None;
    }
    let release = &facts.kernel_release;
    if let (Some(info), Some(version)) = (info, facts.kernel) {
        match info.presence(version) {
            Presence::Removed(event) => {
                let removed = event.when.in_words();
                let gate = info
                    .removed_in()
                    .map(|removed| format!(", or gate it with `below_kernel: \"{removed}\"`"))
                    .unwrap_or_default();
                return Some(
                    Finding::new(
                        Code::ObsoleteKey,
                        Severity::Warning,
                        format!("{key} was removed from Linux {removed}; this kernel is {release}"),
                    )
                    .key(key)
                    .expected(&setting.expect)
                    .rationale(info.myth.unwrap_or(info.summary))
                    .evidence(
                        "removed_in",
                        info.removed_in().map(|version| version.to_string()),
                    )
                    .evidence("cite", event.cite.join(", "))
                    .fix(format!(
                        "remove `{key}` from the profile and from every sysctl file{gate}"
                    )),
                );
            }
            Presence::NotYet(event) => {
                let gate = info
                    .added_in()
                    .map(|added| {
                        format!(
                            "gate the setting with `min_kernel: \"{added}\"`, or upgrade the kernel"
                        )
                    })
                    .unwrap_or_else(|| "upgrade the kernel, or remove the setting".to_owned());
                return Some(
                    Finding::new(
                        Code::UnavailableKey,
                        Severity::Info,
                        format!(
                            "{key} was added to Linux {}; this kernel ({release}) does not have it",
                            event.when.in_words()
                        ),
                    )
                    .key(key)
                    .expected(&setting.expect)
                    .rationale(info.summary)
                    .evidence(
                        "added_in",
                        info.added_in().map(|version| version.to_string()),
                    )
                    .evidence("cite", event.cite.join(", "))
                    .fix(gate),
                );
            }
            Presence::Present | Presence::Unsure(_) => {}
        }
        // A key that is global on this release is missing in a child
        // namespace, even when later releases made it per namespace.
        if let Some(scope) = info.state(version).and_then(|state| state.scope)
            && scope.both().iter().any(|scope| !scope.visible_in_child())
            && facts.in_child_namespace()
        {
            let later = info
                .history
                .iter()
                .find(|event| matches!(event.change, knowledge::Change::Scope(scope) if scope.visible_in_child()) && event.when.in_force_at(version) != Some(true))
                .map(|event| format!(" It became visible in child namespaces {}.", event.when.describe()))
                .unwrap_or_default();
            return Some(
                Finding::new(Code::UnavailableKey, Severity::Info, format!("{key} is global on Linux {version} and not visible inside this network namespace"))
                    .key(key)
                    .expected(&setting.expect)
                    .rationale(format!("On this kernel the key exists only in the host's initial network namespace; a container cannot see or set it.{later}"))
                    .evidence("scope", "global")
                    .fix("check and set this key on the host"),
            );
        }
    }
    Some(
        Finding::new(Code::UnavailableKey, Severity::Warning, format!("{key} does not exist on this kernel ({release})"))
            .key(key)
            .expected(&setting.expect)
            .rationale("A setting for a key the kernel does not have cannot take effect. A sysctl file line for it does nothing either: `sysctl --system` skips it silently, systemd-sysctl logs it.")
            .fix("check the key's spelling and the kernel version; remove it from the profile if it does not apply"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn drift_carries_the_settings_reason() {
        let facts = facts(
            "6.18.44",
            &[
                ("net.ipv4.tcp_fin_timeout", "60"),
                ("net.ipv4.tcp_tw_reuse", "1"),
            ],
        );
        let findings = evaluate(&facts, &builtin("webserver"));
        let drift = findings
            .iter()
            .find(|f| f.key.as_deref() == Some("net.ipv4.tcp_fin_timeout"))
            .unwrap();
        assert_eq!(drift.code, Code::Drift);
        assert_eq!(drift.current.as_deref(), Some("60"));
        assert_eq!(drift.expected.as_deref(), Some("30"));
        assert!(drift.rationale.contains("does NOT shorten TIME_WAIT"));
        assert!(
            !findings
                .iter()
                .any(|f| f.key.as_deref() == Some("net.ipv4.tcp_tw_reuse"))
        );
    }

    #[test]
    fn at_least_accepts_larger_values() {
        let facts = facts("6.18.44", &[("net.core.somaxconn", "65535")]);
        let findings = evaluate(&facts, &builtin("webserver"));
        assert!(
            !findings
                .iter()
                .any(|f| f.key.as_deref() == Some("net.core.somaxconn"))
        );
        let facts = crate::rules::testing::facts("4.9.0", &[("net.core.somaxconn", "128")]);
        let findings = evaluate(&facts, &builtin("webserver"));
        assert!(
            findings
                .iter()
                .any(|f| f.key.as_deref() == Some("net.core.somaxconn")
                    && f.expected.as_deref() == Some(">= 4096"))
        );
    }

    #[test]
    fn a_removed_key_in_a_profile_is_obsolete() {
        let profile = {
            let mut profile = builtin("default");
            let document = crate::profile::parse(
                "p.yaml",
                "p",
                b"settings:\n  net.ipv4.tcp_tw_recycle:\n    value: 0\n    why: old habit\n",
            )
            .unwrap();
            profile.settings = document.settings;
            profile
        };
        let findings = evaluate(
            &facts("6.1.0", &[("net.ipv4.tcp_tw_recycle", "<absent>")]),
            &profile,
        );
        assert_eq!(findings[0].code, Code::ObsoleteKey);
        let findings = evaluate(
            &facts("4.9.0", &[("net.ipv4.tcp_tw_recycle", "0")]),
            &profile,
        );
        assert!(findings.is_empty());
    }

    #[test]
    fn forbidden_key_absent_is_fine_and_set_is_drift() {
        let findings = evaluate(
            &facts("6.18.0", &[("net.ipv4.tcp_tw_recycle", "<absent>")]),
            &builtin("default"),
        );
        assert!(
            !findings
                .iter()
                .any(|f| f.key.as_deref() == Some("net.ipv4.tcp_tw_recycle"))
        );
        let findings = evaluate(
            &facts("4.9.0", &[("net.ipv4.tcp_tw_recycle", "1")]),
            &builtin("default"),
        );
        let finding = findings
            .iter()
            .find(|f| f.key.as_deref() == Some("net.ipv4.tcp_tw_recycle"))
            .unwrap();
        assert_eq!(finding.severity, Severity::Error);
        assert_eq!(finding.expected.as_deref(), Some("not set"));
    }

    #[test]
    fn keys_added_later_or_global_are_unavailable_not_errors() {
        let document = crate::profile::parse(
            "p.yaml",
            "p",
            b"settings:\n  net.ipv4.tcp_tw_reuse_delay:\n    value: 1000\n    why: w\n  net.ipv4.tcp_max_orphans:\n    at_least: 65536\n    why: w\n",
        )
        .unwrap();
        let mut profile = builtin("default");
        profile.settings = document.settings;
        let findings = evaluate(
            &facts(
                "6.1.0",
                &[
                    ("net.ipv4.tcp_tw_reuse_delay", "<absent>"),
                    ("net.ipv4.tcp_max_orphans", "<absent>"),
                ],
            ),
            &profile,
        );
        assert_eq!(findings.len(), 2);
        assert!(
            findings
                .iter()
                .all(|f| f.code == Code::UnavailableKey && f.severity == Severity::Info)
        );
        assert!(
            findings[0].message.contains("added to Linux in 6.14"),
            "{}",
            findings[0].message
        );
        assert!(findings[1].message.contains("global"));
    }

    #[test]
    fn unreadable_is_not_absent() {
        let findings = evaluate(
            &facts("6.18.0", &[("net.ipv4.tcp_sack", "<unreadable>")]),
            &builtin("default"),
        );
        let finding = findings
            .iter()
            .find(|f| f.key.as_deref() == Some("net.ipv4.tcp_sack"))
            .unwrap();
        assert_eq!(finding.code, Code::UnreadableKey);
    }

    #[test]
    fn kernel_gates_skip_settings_for_other_kernels() {
        let document = crate::profile::parse(
            "p.yaml",
            "p",
            b"settings:\n  net.ipv4.tcp_fin_timeout:\n    value: 30\n    min_kernel: \"5.4\"\n    why: w\n",
        )
        .unwrap();
        let mut profile = builtin("default");
        profile.settings = document.settings;
        assert!(
            evaluate(
                &facts("4.19.0", &[("net.ipv4.tcp_fin_timeout", "60")]),
                &profile
            )
            .is_empty()
        );
        assert_eq!(
            evaluate(
                &facts("5.4.0", &[("net.ipv4.tcp_fin_timeout", "60")]),
                &profile
            )
            .len(),
            1
        );
    }
}
