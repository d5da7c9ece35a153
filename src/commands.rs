//! What each command does: read through [`System`], evaluate, hand the result
//! to [`report`]. Returns the exit code of the contract.

use std::io::Write;

use crate::cli::{CheckArgs, Cli, Command, Generate, SocketsArgs};
use crate::error::{Error, Result, exit};
use crate::facts::RULE_KEYS;
use crate::finding::{Severity, Summary};
use crate::key::Key;
use crate::knowledge;
use crate::profile::{self, Profile};
use crate::report::{CheckReport, Explanation, Printer, SocketsReport};
use crate::rules;
use crate::suggest;
use crate::system::{Request, System};

/// Runs the parsed command line, printing through `printer`.
pub fn run(cli: &Cli, printer: &mut Printer<'_>) -> Result<u8> {
    let system = System::new(&cli.root, &cli.proc_dir);
    match &cli.command {
        Command::Check(args) => check(&system, args, printer),
        Command::Sockets(args) => sockets(&system, args, printer),
        Command::Profiles { name } => profiles(&system, name.as_deref(), printer),
        Command::Explain { subject } => explain(&system, subject, printer),
        Command::Generate { what } => {
            printer.raw(|out| match what {
                Generate::Man => crate::manual::render_man(out),
                Generate::Completions { shell } => {
                    crate::manual::render_completions(*shell, out);
                    Ok(())
                }
            })?;
            Ok(exit::SUCCESS)
        }
    }
}

fn check(system: &System, args: &CheckArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let names: Vec<&str> = if args.profiles.is_empty() {
        vec!["default"]
    } else {
        args.profiles.iter().map(String::as_str).collect()
    };
    let profile = layered(system, &names)?;
    let mut keys: Vec<Key> = profile.settings.iter().map(|setting| setting.key.clone()).collect();
    keys.extend(RULE_KEYS.iter().filter_map(|key| Key::parse(key).ok()));
    keys.sort();
    keys.dedup();
    let facts = system.gather(&Request {
        keys,
        close_wait_owners: true,
    })?;
    let findings = rules::evaluate(&facts, &profile);
    let fail_on = Severity::from(args.fail_on);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    let report = CheckReport {
        kernel: &facts.kernel_release,
        profile: &profile,
        summary: Summary::of(&findings),
        findings: &findings,
        facts: &facts,
    };
    printer.check(&report)?;
    Ok(if failed { exit::FINDINGS } else { exit::SUCCESS })
}

/// Resolves several profiles and layers them: later ones override earlier
/// ones key by key, and the last one's thresholds apply.
fn layered(system: &System, names: &[&str]) -> Result<Profile> {
    let mut layered: Option<Profile> = None;
    for name in names {
        let next = profile::resolve(system, name)?;
        layered = Some(match layered {
            None => next,
            Some(mut base) => {
                for setting in next.settings {
                    base.settings.retain(|existing| existing.key != setting.key);
                    base.settings.push(setting);
                }
                base.settings.sort_by(|a, b| a.key.cmp(&b.key));
                base.name = format!("{}+{}", base.name, next.name);
                base.chain.extend(next.chain);
                base.thresholds = next.thresholds;
                base.description = next.description;
                base
            }
        });
    }
    layered.ok_or_else(|| Error::Usage("no profile given".into()))
}

fn sockets(system: &System, args: &SocketsArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let keys = if args.by_destination {
        ["net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports"]
            .iter()
            .filter_map(|key| Key::parse(key).ok())
            .collect()
    } else {
        Vec::new()
    };
    let facts = system.gather(&Request {
        keys,
        close_wait_owners: args.processes,
    })?;
    printer.sockets(&SocketsReport {
        facts: &facts,
        processes: args.processes,
        by_destination: args.by_destination,
    })?;
    Ok(exit::SUCCESS)
}

fn profiles(system: &System, name: Option<&str>, printer: &mut Printer<'_>) -> Result<u8> {
    match name {
        None => printer.profile_list(&profile::list(system)?)?,
        Some(name) => printer.profile(&profile::resolve(system, name)?)?,
    }
    Ok(exit::SUCCESS)
}

fn explain(system: &System, subject: &str, printer: &mut Printer<'_>) -> Result<u8> {
    let subject = subject.trim();
    if let Some(topic) = knowledge::topic(subject) {
        printer.explain(&Explanation::Topic(topic))?;
        return Ok(exit::SUCCESS);
    }
    // Accept either spelling, or the leaf alone (`tcp_tw_reuse`).
    let canonical = Key::parse(subject).ok().map(|key| key.to_string());
    let info = canonical.as_deref().and_then(knowledge::lookup).or_else(|| {
        knowledge::KEYS
            .iter()
            .find(|info| info.key.rsplit('.').next() == Some(subject))
    });
    if let Some(info) = info {
        let key = Key::parse(info.key).map_err(|error| Error::Usage(error.to_string()))?;
        let kernel = system.kernel_release().ok();
        let reading = system.read_sysctl(&key);
        printer.explain(&Explanation::Key {
            info,
            kernel: kernel.as_deref(),
            reading: &reading,
        })?;
        return Ok(exit::SUCCESS);
    }
    let vendor = knowledge::VENDOR_ONLY_KEYS.iter().find(|(key, _)| {
        Some(*key) == canonical.as_deref() || key.rsplit('.').next() == Some(subject)
    });
    if let Some((key, why)) = vendor {
        printer.explain(&Explanation::VendorOnly { key, why })?;
        return Ok(exit::SUCCESS);
    }
    let candidates = knowledge::KEYS
        .iter()
        .map(|info| info.key)
        .chain(knowledge::TOPICS.iter().map(|topic| topic.name));
    let mut message = format!("tcptune knows no key or topic `{subject}`");
    let full = if subject.contains('.') || subject.contains('/') {
        subject.to_owned()
    } else {
        format!("net.ipv4.{subject}")
    };
    if let Some(near) = suggest::closest(&full, candidates.clone()).or_else(|| suggest::closest(subject, candidates)) {
        message.push_str(&format!("; did you mean `{near}`?"));
    }
    message.push_str(" (topics: time-wait, close-wait, fin-wait2)");
    Err(Error::UnknownTopic(message))
}

/// Writes an error for people to stderr.
pub fn print_error(error: &Error) {
    let mut stderr = std::io::stderr().lock();
    for line in error.to_string().lines() {
        // Nothing useful can be done when stderr itself is gone.
        let _ = writeln!(stderr, "tcptune: {line}");
    }
}
