//! What the next boot does: `not-persisted` (the live value is right but no
//! sysctl file keeps it), `shadowed` (a file's setting loses to a later
//! file), and `obsolete-key` for files that set keys this kernel removed.
//!
//! Judged under the loader this root boots with (systemd-sysctl when its
//! binary is present, procps `sysctl --system` otherwise), because the two
//! read different files: procps also reads `/etc/sysctl.conf`, last.

use crate::conf::{Assignment, Target};
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::key::Value;
use crate::knowledge::{self, judgements, judgements::Kind};
use crate::profile::{Expectation, Profile};

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let Some(boot) = &facts.boot else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    let loader = boot.loader.name();

    for setting in &profile.settings {
        if setting.expect == Expectation::Forbidden
            || facts
                .kernel
                .is_some_and(|version| !setting.gate.admits(version))
        {
            continue;
        }
        let Some(live) = facts
            .sysctls
            .get(&setting.key)
            .and_then(|reading| reading.value())
        else {
            continue;
        };
        if !setting.expect.is_met_by(live) {
            continue; // drift says it already
        }
        let key = setting.key.to_string();
        let default = knowledge::lookup(&key)
            .zip(facts.kernel)
            .and_then(|(info, version)| info.default_value(version));
        let at_boot = boot.resolution.lookup(&setting.key);
        // Compared as the kernel stores it: `4096 # comment` sets 4096.
        let boot_value = at_boot.as_ref().and_then(|resolution| {
            resolution.value()?;
            let raw = resolution.winner.raw_value()?;
            Some(knowledge::as_stored(&setting.key, raw, facts.kernel))
        });
        match (&at_boot, &boot_value) {
            (Some(_), Some(value)) if setting.expect.is_met_by(value) => {}
            (Some(resolution), _) => {
                let winner = &resolution.winner;
                let set = boot_value.as_ref().map_or_else(|| "excludes it".to_owned(), |value| format!("sets {value}"));
                findings.push(
                    Finding::new(
                        Code::NotPersisted,
                        setting.severity,
                        format!("{key} is {live} now, but at boot {}:{} {set}, which does not meet {}", winner.boot_path.display(), winner.line, setting.expect),
                    )
                    .key(&key)
                    .current(live)
                    .location(winner.boot_path.display().to_string(), winner.line)
                    .rationale(format!("The next boot ({loader}) applies the file's value, so the live value is lost. {}", setting.why))
                    .evidence("loader", loader)
                    .evidence("boot_value", boot_value.as_ref().map(ToString::to_string))
                    .fix(format!("change that line to `{key} = {live}` or remove it; `tcptune apply --profile {}` writes a file that sorts after it", profile.name)),
                );
            }
            // No file sets it: the next boot gives the kernel default,
            // which is no loss when it meets the profile too.
            (None, _) if default.as_ref().is_some_and(|value| setting.expect.is_met_by(value)) => {}
            (None, _) => findings.push(
                Finding::new(Code::NotPersisted, setting.severity, format!("{key} is {live} as the profile wants, but no sysctl file sets it: a reboot resets it"))
                    .key(&key)
                    .current(live)
                    .rationale(format!(
                        "Values written with `sysctl -w` live only until the next boot; {loader} then applies the files under /etc/sysctl.d and related directories, and none sets this key{}.",
                        default.as_ref().map(|value| format!(", so it returns to the kernel default {value}")).unwrap_or_default()
                    ))
                    .evidence("loader", loader)
                    .fix(format!("`tcptune apply --profile {}` persists it, or add `{key} = {live}` to a file in /etc/sysctl.d", profile.name)),
            ),
        }
    }

    for resolution in boot.resolution.keys() {
        if resolution.value().is_none() {
            continue;
        }
        let Some(winning) = resolution
            .winner
            .raw_value()
            .map(|raw| knowledge::as_stored(&resolution.key, raw, facts.kernel))
        else {
            continue;
        };
        for loser in resolution.shadowed() {
            if loser.value().is_none() {
                continue;
            }
            let Some(lost) = loser
                .raw_value()
                .map(|raw| knowledge::as_stored(&resolution.key, raw, facts.kernel))
            else {
                continue;
            };
            if lost == winning || !matches!(loser.target, Target::Key(_)) {
                continue;
            }
            let key = resolution.key.to_string();
            let winner = &resolution.winner;
            findings.push(
                Finding::new(
                    Code::Shadowed,
                    Severity::Warning,
                    format!(
                        "{}:{} sets {key} = {lost}, but {}:{} sets {winning} later and wins at boot",
                        loser.boot_path.display(),
                        loser.line,
                        winner.boot_path.display(),
                        winner.line
                    ),
                )
                .key(&key)
                .current(&winning)
                .location(loser.boot_path.display().to_string(), loser.line)
                .rationale(format!(
                    "{loader} applies files sorted by file name across all sysctl.d directories (procps reads /etc/sysctl.conf last of all), and for a key set twice the last assignment wins. A file named like 90-*.conf loses to 99-sysctl.conf, the usual link to /etc/sysctl.conf."
                ))
                .evidence("loader", loader)
                .evidence("winner", format!("{}:{}", winner.boot_path.display(), winner.line))
                .evidence("overridden_value", lost.to_string())
                .fix("keep each key in one file, or give the file that should win a name that sorts later"),
            );
        }
    }

    let mut seen: Vec<(String, usize)> = Vec::new();
    for assignment in boot.resolution.assignments() {
        let Target::Key(key) = &assignment.target else {
            continue;
        };
        let place = (assignment.source.display().to_string(), assignment.line);
        if seen.contains(&place) || assignment.value().is_none() {
            continue;
        }
        let line = FileLine {
            assignment,
            key,
            kernel: facts.kernel,
        };
        let verdicts = judgements::evaluate(&line, &[Kind::Obsolete]);
        if verdicts.is_empty() {
            continue;
        }
        seen.push(place);
        for verdict in verdicts {
            findings.push(
                verdict
                    .finding
                    .message(format!(
                        "{}:{}: {}",
                        assignment.boot_path.display(),
                        assignment.line,
                        verdict.judgement.message
                    ))
                    .location(assignment.boot_path.display().to_string(), assignment.line)
                    .evidence("kernel", facts.kernel_release.as_str())
                    .fix(format!(
                        "delete the line from {}",
                        assignment.boot_path.display()
                    )),
            );
        }
    }
    findings
}

/// One file line, as the judgements see it.
struct FileLine<'a> {
    assignment: &'a Assignment,
    key: &'a crate::key::Key,
    kernel: Option<crate::kernel::KernelVersion>,
}

impl judgements::Context for FileLine<'_> {
    fn kernel(&self) -> Option<crate::kernel::KernelVersion> {
        self.kernel
    }

    fn value(&self, key: &str) -> Option<Value> {
        if self.key.to_string() != key {
            return None;
        }
        let raw = self.assignment.raw_value()?;
        Some(knowledge::as_stored(self.key, raw, self.kernel))
    }

    fn ehash_entries(&self) -> Option<i64> {
        None
    }

    fn source(&self, _key: &str) -> String {
        format!(
            "set at {}:{}",
            self.assignment.boot_path.display(),
            self.assignment.line
        )
    }
}
