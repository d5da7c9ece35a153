//! What each command does, as a sequence: read through [`System`], evaluate
//! or plan with the pure layers, carry out with [`apply`], hand the result
//! to the [`Printer`]. No domain logic lives here: each step is a call into
//! the module that owns it. Returns the exit code of the contract.

use std::path::{Path, PathBuf};

use crate::apply;
use crate::cli::{CheckArgs, Cli, Command, Generate, Places, SocketsArgs};
use crate::error::{Error, Result, exit};
use crate::finding::{Severity, Summary};
use crate::journal::Journal;
use crate::key::Key;
use crate::knowledge;
use crate::plan::{self, Plan};
use crate::profile::{self, Profile};
use crate::report::{
    self, CheckReport, Document, Explanation, LintReport, OutcomeView, PlanView, Printer,
    SocketsReport,
};
use crate::rules;
use crate::system::{Owners, Request, System, TimeWaitDetail};

/// Runs the parsed command line, printing through `printer`.
pub fn run(cli: &Cli, printer: &mut Printer<'_>) -> Result<u8> {
    let system = System::new(&cli.root, &cli.proc_dir);
    let name = cli.command.name();
    if let Some((_, kinds)) = report::COMMAND_DOCUMENTS
        .iter()
        .find(|(command, _)| *command == name)
    {
        printer.require(name, kinds)?;
    }
    match &cli.command {
        Command::Check(args) => check(&system, args, printer),
        Command::Sockets(args) => sockets(&system, args, printer),
        Command::Profiles { name } => profiles(&system, name.as_deref(), printer),
        Command::Explain { subject } => explain(&system, subject, printer),
        Command::Diff {
            profiles,
            sysctl_dir,
        } => diff(&system, profiles, sysctl_dir.as_deref(), printer),
        Command::Apply {
            profiles,
            yes,
            dry_run,
            places,
        } => apply_command(&system, profiles, *yes, *dry_run, places, printer),
        Command::Rollback {
            to,
            yes,
            force,
            sysctl_dir,
            state_dir,
        } => rollback_command(
            &system,
            *to,
            *yes,
            *force,
            &Places {
                sysctl_dir: sysctl_dir.clone(),
                state_dir: state_dir.clone(),
            },
            printer,
        ),
        Command::History { state_dir } => history(&system, state_dir.as_deref(), printer),
        Command::Lint { files, fail_on } => lint(&system, files, Severity::from(*fail_on), printer),
        Command::Generate { what } => {
            printer.raw(|out| match what {
                Generate::Man => crate::manual::render_man(out),
                Generate::Completions { shell } => crate::manual::render_completions(*shell, out),
            })?;
            Ok(exit::SUCCESS)
        }
    }
}

/// Resolves the profiles once and shows their warnings once.
fn resolve_profiles(system: &System, names: &[String]) -> Result<Profile> {
    let profile = if names.is_empty() {
        profile::resolve(system, profile::DEFAULT)?
    } else {
        profile::resolve_stack(system, names)?
    };
    for warning in &profile.warnings {
        report::warn(warning);
    }
    Ok(profile)
}

/// Shows what gathering had to leave out.
fn warn_skipped(facts: &crate::facts::Facts) {
    for skipped in &facts.skipped {
        report::warn(skipped);
    }
}

fn check(system: &System, args: &CheckArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let profile = resolve_profiles(system, &args.profiles)?;
    let mut keys: Vec<Key> = profile
        .settings
        .iter()
        .map(|setting| setting.key.clone())
        .chain(rules::keys())
        .collect();
    keys.sort();
    keys.dedup();
    let facts = system.gather_sampled(
        &Request {
            keys,
            sockets: true,
            // port-exhaustion names destinations.
            time_wait: TimeWaitDetail::PerDestination,
            close_wait_owners: Owners::IfCloseWait,
            boot: true,
            sysctl_dir: None,
        },
        args.sample,
    )?;
    warn_skipped(&facts);
    let findings = rules::evaluate(&facts, &profile);
    let fail_on = Severity::from(args.fail_on);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    printer.print(Document::Check(&CheckReport {
        kernel: &facts.kernel_release,
        profile: &profile,
        summary: Summary::of(&findings),
        findings: &findings,
        facts: &facts,
    }))?;
    Ok(if failed {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    })
}

/// The limits `sockets` shows beside the counts.
const SOCKET_KEYS: &[&str] = &[
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_fin_timeout",
];

fn sockets(system: &System, args: &SocketsArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let keys = SOCKET_KEYS
        .iter()
        .filter_map(|key| Key::parse(key).ok())
        .collect();
    let facts = system.gather_sampled(
        &Request {
            keys,
            sockets: true,
            time_wait: if args.by_destination || args.sample.is_some() {
                TimeWaitDetail::PerDestination
            } else {
                TimeWaitDetail::Count
            },
            close_wait_owners: if args.processes {
                Owners::Always
            } else {
                Owners::Never
            },
            boot: false,
            sysctl_dir: None,
        },
        args.sample,
    )?;
    warn_skipped(&facts);
    printer.print(Document::Sockets(&SocketsReport {
        facts: &facts,
        processes: args.processes,
        by_destination: args.by_destination,
    }))?;
    Ok(exit::SUCCESS)
}

fn profiles(system: &System, name: Option<&str>, printer: &mut Printer<'_>) -> Result<u8> {
    match name {
        None => printer.print(Document::ProfileList(&profile::list(system)?))?,
        Some(name) => printer.print(Document::Profile(&resolve_profiles(
            system,
            &[name.to_owned()],
        )?))?,
    }
    Ok(exit::SUCCESS)
}

fn explain(system: &System, subject: &str, printer: &mut Printer<'_>) -> Result<u8> {
    let explanation = match knowledge::find(subject) {
        Some(knowledge::Subject::Topic(topic)) => Explanation::Topic(topic),
        Some(knowledge::Subject::VendorOnly(key, why)) => Explanation::VendorOnly { key, why },
        Some(knowledge::Subject::Key(info)) => {
            let key = Key::parse(info.key).map_err(|error| Error::Usage(error.to_string()))?;
            let kernel = system.kernel_release().ok();
            let reading = system.read_sysctl(&key);
            return printer
                .print(Document::Explanation(&Explanation::Key {
                    info,
                    kernel: kernel.as_deref(),
                    reading: &reading,
                }))
                .map(|()| exit::SUCCESS);
        }
        None => return Err(Error::UnknownTopic(knowledge::unknown_subject(subject))),
    };
    printer.print(Document::Explanation(&explanation))?;
    Ok(exit::SUCCESS)
}

/// The sysctl.d directory and state directory, defaulting under the root.
fn places(system: &System, places: &Places) -> (PathBuf, PathBuf) {
    (
        places
            .sysctl_dir
            .clone()
            .unwrap_or_else(|| system.default_sysctl_dir()),
        places
            .state_dir
            .clone()
            .unwrap_or_else(|| system.default_state_dir()),
    )
}

/// Reads what planning needs and plans.
fn make_plan(system: &System, profile: &Profile, sysctl_dir: &Path) -> Result<Plan> {
    let facts = system.gather(&Request {
        keys: profile
            .settings
            .iter()
            .map(|setting| setting.key.clone())
            .collect(),
        sockets: false,
        time_wait: TimeWaitDetail::Count,
        close_wait_owners: Owners::Never,
        boot: false,
        sysctl_dir: Some(sysctl_dir.to_path_buf()),
    })?;
    warn_skipped(&facts);
    Ok(plan::plan(&facts, profile))
}

fn diff(
    system: &System,
    profiles: &[String],
    sysctl_dir: Option<&Path>,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let profile = resolve_profiles(system, profiles)?;
    let (sysctl_dir, _) = places(
        system,
        &Places {
            sysctl_dir: sysctl_dir.map(Path::to_path_buf),
            state_dir: None,
        },
    );
    let plan = make_plan(system, &profile, &sysctl_dir)?;
    printer.print(Document::Plan(&plan, PlanView::Diff))?;
    Ok(if plan.is_empty() {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}

fn apply_command(
    system: &System,
    profiles: &[String],
    yes: bool,
    dry_run: bool,
    places_args: &Places,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, state_dir) = places(system, places_args);
    // The profile must be valid before anything is locked or created.
    let profile = resolve_profiles(system, profiles)?;
    if dry_run {
        let plan = make_plan(system, &profile, &sysctl_dir)?;
        printer.print(Document::Plan(&plan, PlanView::DryRun))?;
        return Ok(exit::SUCCESS);
    }
    system.require_root("apply")?;
    system.refuse_redirects(&[&sysctl_dir, &state_dir])?;
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    apply::refuse_interrupted(&journal)?;
    let plan = make_plan(system, &profile, &sysctl_dir)?;
    if plan.is_empty() {
        printer.print(Document::Plan(&plan, PlanView::NothingToDo))?;
        return Ok(exit::SUCCESS);
    }
    printer.print(Document::Plan(&plan, PlanView::Preview))?;
    report::confirm(yes, "Apply these changes?")?;
    let outcome = apply::apply(system, &journal, &plan)?;
    printer.print(Document::Outcome(&outcome, OutcomeView::Apply))?;
    Ok(exit::SUCCESS)
}

fn rollback_command(
    system: &System,
    to: Option<u64>,
    yes: bool,
    force: bool,
    places_args: &Places,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, state_dir) = places(system, places_args);
    let Some(_) = Journal::existing(&state_dir) else {
        printer.print(Document::Outcome(
            &apply::Outcome::nothing(),
            OutcomeView::Rollback,
        ))?;
        return Ok(exit::SUCCESS);
    };
    system.require_root("rollback")?;
    system.refuse_redirects(&[&state_dir])?;
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    let Some(plan) = apply::plan_rollback(system, &journal, &sysctl_dir, to)? else {
        printer.print(Document::Outcome(
            &apply::Outcome::nothing(),
            OutcomeView::Rollback,
        ))?;
        return Ok(exit::SUCCESS);
    };
    plan.refuse_conflicts(force)?;
    system.refuse_redirects(&[&sysctl_dir])?;
    printer.print(Document::RollbackPreview(&plan.targets))?;
    report::confirm(yes, "Roll back?")?;
    let outcome = apply::rollback(system, &journal, &plan)?;
    printer.print(Document::Outcome(&outcome, OutcomeView::Rollback))?;
    Ok(exit::SUCCESS)
}

fn history(system: &System, state_dir: Option<&Path>, printer: &mut Printer<'_>) -> Result<u8> {
    let state_dir = state_dir.map_or_else(|| system.default_state_dir(), Path::to_path_buf);
    let records = match Journal::existing(&state_dir) {
        Some(journal) => journal.records()?,
        None => Vec::new(),
    };
    printer.print(Document::History(&records))?;
    Ok(exit::SUCCESS)
}

/// Largest sysctl file `lint` reads (real ones are a few KiB).
const LINT_MAX_BYTES: u64 = 16 * 1024 * 1024;

fn lint(
    system: &System,
    files: &[PathBuf],
    fail_on: Severity,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let contents = files
        .iter()
        .map(|path| system.read_input_file(path, LINT_MAX_BYTES))
        .collect::<Result<Vec<_>>>()?;
    let inputs: Vec<crate::lint::LintInput<'_>> = files
        .iter()
        .zip(&contents)
        .map(|(path, content)| crate::lint::LintInput { path, content })
        .collect();
    let findings = crate::lint::lint(&inputs);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    printer.print(Document::Lint(&LintReport {
        files,
        findings: &findings,
    }))?;
    Ok(if failed {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    })
}
