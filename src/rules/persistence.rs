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
use crate::knowledge;
use crate::profile::{Expectation, Profile};

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[],
    evaluate,
};

/// The value a key returns to at boot when no file sets it: the kernel
/// default the knowledge base knows as a constant. The one place that asks
/// for it, so a per-kernel default plugs in here.
fn boot_default(key: &str) -> Option<Value> {
    knowledge::lookup(key)
        .and_then(|info| info.default_value)
        .map(Value::parse)
}

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
        let default = boot_default(&key);
        let at_boot = boot.resolution.lookup(&setting.key);
        let boot_value = at_boot
            .as_ref()
            .and_then(|resolution| resolution.value().cloned());
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
        let Some(winning) = resolution.value() else {
            continue;
        };
        for loser in resolution.shadowed() {
            let Some(lost) = loser.value() else { continue };
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
                .current(winning)
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

    if let Some(version) = facts.kernel {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for assignment in boot.resolution.assignments() {
            let Target::Key(key) = &assignment.target else {
                continue;
            };
            let name = key.to_string();
            let Some(info) = knowledge::lookup(&name) else {
                continue;
            };
            let Some(removed) = info.removed.filter(|removed| version >= *removed) else {
                continue;
            };
            let place = (assignment.source.display().to_string(), assignment.line);
            if seen.contains(&place) || assignment.value().is_none() {
                continue;
            }
            seen.push(place);
            findings.push(obsolete_in_file(
                assignment,
                &name,
                removed,
                &facts.kernel_release,
                info,
            ));
        }
    }
    findings
}

fn obsolete_in_file(
    assignment: &Assignment,
    key: &str,
    removed: crate::kernel::KernelVersion,
    release: &str,
    info: &knowledge::KeyInfo,
) -> Finding {
    let consequence = if assignment.ignore_failure {
        "the line starts with `-`, so the loaders ignore the failure, but it does nothing"
            .to_owned()
    } else {
        "procps `sysctl --system` and `sysctl -p` report an error for this line and exit 1 (the other lines still apply), and the line never does anything on this kernel".to_owned()
    };
    Finding::new(
        Code::ObsoleteKey,
        Severity::Warning,
        format!(
            "{}:{} sets {key}, which Linux removed in {removed}; this kernel is {release}",
            assignment.boot_path.display(),
            assignment.line
        ),
    )
    .key(key)
    .current(
        assignment
            .value()
            .map(ToString::to_string)
            .unwrap_or_default(),
    )
    .location(assignment.boot_path.display().to_string(), assignment.line)
    .rationale(format!(
        "{consequence}. What it did on older kernels: {}",
        info.summary
    ))
    .evidence("removed_in", removed.to_string())
    .fix(format!(
        "delete the line from {}",
        assignment.boot_path.display()
    ))
}
