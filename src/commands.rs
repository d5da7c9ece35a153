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
use crate::system::counter_state::CounterState;
use crate::system::{Owners, Request, System, TimeWaitDetail};

/// Runs the parsed command line, printing through `printer`.
pub fn run(cli: &Cli, printer: &mut Printer<'_>) -> Result<u8> {
    // Every path a record names is absolute: a relative --root would make a
    // record that no later run (from another directory) could trust.
    let system = System::new(absolute(&cli.root)?, absolute(&cli.proc_dir)?);
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
        Command::Explain { subject, kernel } => explain(&system, subject, *kernel, printer),
        Command::Diff {
            profiles,
            sysctl_dir,
            live,
        } => diff(
            &system,
            profiles,
            sysctl_dir.as_deref(),
            &Confirmation {
                yes: false,
                entered_netns: cli.netns.is_some(),
                live: *live,
            },
            printer,
        ),
        Command::Apply {
            profiles,
            yes,
            dry_run,
            live,
            places,
        } => apply_command(
            &system,
            profiles,
            &Confirmation {
                yes: *yes,
                entered_netns: cli.netns.is_some(),
                live: *live,
            },
            *dry_run,
            places,
            printer,
        ),
        Command::Rollback {
            to,
            yes,
            force,
            live,
            skip,
            sysctl_dir,
            state_dir,
        } => rollback_command(
            &system,
            &RollbackRequest {
                to: *to,
                force: *force,
                skip,
            },
            &Confirmation {
                yes: *yes,
                entered_netns: cli.netns.is_some(),
                live: *live,
            },
            &Places {
                sysctl_dir: sysctl_dir.clone(),
                state_dir: state_dir.clone(),
            },
            printer,
        ),
        Command::History { state_dir } => history(&system, state_dir.as_deref(), printer),
        Command::Lint {
            files,
            fail_on,
            kernel,
        } => lint(&system, files, Severity::from(*fail_on), *kernel, printer),
        Command::Generate { what } => {
            printer.raw(|out| match what {
                Generate::Man => crate::manual::render_man(out),
                Generate::Completions { shell } => crate::manual::render_completions(*shell, out),
            })?;
            Ok(exit::SUCCESS)
        }
    }
}

/// The exit code once a final document was printed: a reader that went
/// away (`tcptune check | head -1`) still gets the verdict, any other output
/// failure is one.
fn deliver(printed: Result<()>, code: u8) -> Result<u8> {
    match printed {
        Err(Error::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(error) => Err(error),
        Ok(()) => Ok(code),
    }
}

/// After a transaction committed, the report failing changes nothing of
/// what happened: the exit code stays 0 and stderr says it committed.
fn report_committed(printed: Result<()>, outcome: &apply::Outcome) -> Result<u8> {
    if let Err(error) = printed {
        report::warn(&format!(
            "transaction {} committed; its report could not be written ({error})",
            outcome.transaction.as_deref().unwrap_or("-")
        ));
    }
    Ok(exit::SUCCESS)
}

/// `path` made absolute against the working directory (not resolved:
/// symlinks are judged where they are).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|error| Error::Usage(format!("{}: not a usable path ({error})", path.display())))
}

/// What the operator said on the command line about a transaction.
struct Confirmation {
    yes: bool,
    /// Whether `--netns` entered a namespace.
    entered_netns: bool,
    /// `--live`: with a --root other than /, change live values too.
    live: bool,
}

struct RollbackRequest<'a> {
    to: Option<u64>,
    force: bool,
    skip: &'a [String],
}

/// The transaction's scope (see [`apply::scope`]), its warning shown.
fn scope(system: &System, sysctl_dir: &Path, live_flag: bool) -> Result<apply::Scope> {
    let (scope, warning) = apply::scope(system, sysctl_dir, live_flag)?;
    if let Some(warning) = warning {
        report::warn(&warning);
    }
    Ok(scope)
}

fn live_only_reason(system: &System, places: &Places, entered_netns: bool) -> Option<String> {
    apply::live_only_reason(system, places.sysctl_dir.is_some(), entered_netns)
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
    // Where the previous counter reading is kept; a directory that cannot
    // be used costs the rates, not the audit.
    let counter_state = match system.counter_state(args.state_dir.as_deref()) {
        Ok(CounterState::In(dir)) => Some(dir),
        Ok(CounterState::None) => None,
        Err(error) => {
            report::warn(&format!(
                "counters are judged without a previous reading: the state directory cannot be used ({error})"
            ));
            None
        }
    };
    let facts = system.gather_sampled(
        &Request {
            keys,
            sockets: true,
            // port-exhaustion names destinations.
            time_wait: TimeWaitDetail::PerDestination,
            close_wait_owners: Owners::IfCloseWait,
            boot: true,
            sysctl_dir: None,
            counter_state: counter_state.clone(),
            // `retransmits` names the peers.
            tcp_info: true,
        },
        args.sample,
    )?;
    warn_skipped(&facts);
    if let Some(dir) = &counter_state {
        match system.keep_counters(dir, &system.counter_target(), &facts.counters) {
            Ok(path) => {
                crate::note!("kept this counter reading in {}", path.display());
            }
            Err(error) => {
                report::warn(&format!(
                    "this counter reading could not be kept in {} ({error}): the next check judges lifetime totals",
                    dir.display()
                ));
            }
        }
    }
    let findings = rules::evaluate(&facts, &profile);
    let fail_on = Severity::from(args.fail_on);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    let printed = printer.print(Document::Check(&CheckReport {
        kernel: &facts.kernel_release,
        profile: &profile,
        summary: Summary::of(&findings),
        findings: &findings,
        facts: &facts,
    }));
    deliver(
        printed,
        if failed {
            exit::FINDINGS
        } else {
            exit::SUCCESS
        },
    )
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
            counter_state: None,
            tcp_info: false,
        },
        args.sample,
    )?;
    warn_skipped(&facts);
    let printed = printer.print(Document::Sockets(&SocketsReport {
        facts: &facts,
        processes: args.processes,
        by_destination: args.by_destination,
    }));
    deliver(printed, exit::SUCCESS)
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

fn explain(
    system: &System,
    subject: &str,
    kernel: Option<crate::kernel::KernelVersion>,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let explanation = match knowledge::find(subject) {
        Some(knowledge::Subject::Topic(topic)) => Explanation::Topic(topic),
        Some(knowledge::Subject::VendorOnly(key, why)) => Explanation::VendorOnly { key, why },
        Some(knowledge::Subject::Key(info)) => {
            let key = Key::parse(info.key).map_err(|error| Error::Usage(error.to_string()))?;
            // The key is explained without a kernel when the release cannot
            // be read; say why under -v.
            let release = system
                .kernel_release()
                .map_err(|error| crate::note!("not naming the kernel: {error}"))
                .ok();
            // --kernel wins; otherwise the running kernel's release.
            let version = kernel.or_else(|| {
                release
                    .as_deref()
                    .and_then(crate::kernel::KernelVersion::from_release)
            });
            let reading = system.read_sysctl(&key);
            let view = knowledge::KeyView::new(info, version);
            return printer
                .print(Document::Explanation(&Explanation::Key {
                    view: &view,
                    kernel: release.as_deref(),
                    reading: &reading,
                }))
                .map(|()| exit::SUCCESS);
        }
        None => return Err(Error::UnknownTopic(knowledge::unknown_subject(subject))),
    };
    printer.print(Document::Explanation(&explanation))?;
    Ok(exit::SUCCESS)
}

/// The sysctl.d directory and state directory, defaulting under the root,
/// absolute.
fn places(system: &System, places: &Places) -> Result<(PathBuf, PathBuf)> {
    Ok((
        match &places.sysctl_dir {
            Some(dir) => absolute(dir)?,
            None => system.default_sysctl_dir(),
        },
        match &places.state_dir {
            Some(dir) => absolute(dir)?,
            None => system.default_state_dir(),
        },
    ))
}

/// Reads what planning needs and plans.
fn make_plan(system: &System, profile: &Profile, sysctl_dir: &Path) -> Result<Plan> {
    let facts = system.gather(&Request {
        keys: profile
            .settings
            .iter()
            .map(|setting| setting.key.clone())
            .chain(Key::parse(plan::AVAILABLE_CONGESTION_CONTROL).ok())
            .collect(),
        sockets: false,
        time_wait: TimeWaitDetail::Count,
        close_wait_owners: Owners::Never,
        boot: false,
        sysctl_dir: Some(sysctl_dir.to_path_buf()),
        counter_state: None,
        tcp_info: false,
    })?;
    warn_skipped(&facts);
    // Refused before anything changes: the kernel would answer ENOENT.
    if let Some(message) = plan::unavailable_congestion_control(&facts, profile) {
        return Err(Error::Usage(message));
    }
    Ok(plan::plan(&facts, profile))
}

fn diff(
    system: &System,
    profiles: &[String],
    sysctl_dir: Option<&Path>,
    confirmation: &Confirmation,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let profile = resolve_profiles(system, profiles)?;
    let places_args = Places {
        sysctl_dir: sysctl_dir.map(Path::to_path_buf),
        state_dir: None,
    };
    let (sysctl_dir, _) = places(system, &places_args)?;
    // The same plan `apply` would carry out with the same options.
    let scope = scope(system, &sysctl_dir, confirmation.live)?;
    let plan = shape(
        make_plan(system, &profile, &sysctl_dir)?,
        &scope,
        live_only_reason(system, &places_args, confirmation.entered_netns),
    );
    let printed = printer.print(Document::Plan(&plan, PlanView::Diff));
    deliver(
        printed,
        if plan.is_empty() {
            exit::SUCCESS
        } else {
            exit::FINDINGS
        },
    )
}

/// A plan as the transaction's scope allows it: files only for an offline
/// image, live values only for a child namespace on the host's root.
fn shape(plan: Plan, scope: &apply::Scope, live_only: Option<String>) -> Plan {
    let plan = if scope.live { plan } else { plan.offline() };
    match live_only {
        Some(why) => plan.live_only(why),
        None => plan,
    }
}

fn apply_command(
    system: &System,
    profiles: &[String],
    confirmation: &Confirmation,
    dry_run: bool,
    places_args: &Places,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, state_dir) = places(system, places_args)?;
    // The profile must be valid before anything is locked or created.
    let profile = resolve_profiles(system, profiles)?;
    let scope = scope(system, &sysctl_dir, confirmation.live)?;
    let shape = |plan: Plan| {
        shape(
            plan,
            &scope,
            live_only_reason(system, places_args, confirmation.entered_netns),
        )
    };
    if dry_run {
        let plan = shape(make_plan(system, &profile, &sysctl_dir)?);
        printer.print(Document::Plan(&plan, PlanView::DryRun))?;
        return Ok(exit::SUCCESS);
    }
    system.require_root("apply")?;
    system.refuse_redirects(&[&sysctl_dir, &state_dir])?;
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    apply::refuse_interrupted(&journal.records()?, &scope)?;
    let plan = shape(make_plan(system, &profile, &sysctl_dir)?);
    if plan.is_empty() {
        printer.print(Document::Plan(&plan, PlanView::NothingToDo))?;
        return Ok(exit::SUCCESS);
    }
    printer.print(Document::Plan(&plan, PlanView::Preview))?;
    report::confirm(confirmation.yes, "Apply these changes?")?;
    let outcome = apply::apply(system, &journal, &plan, &scope)?;
    report_committed(
        printer.print(Document::Outcome(&outcome, OutcomeView::Apply)),
        &outcome,
    )
}

fn rollback_command(
    system: &System,
    request: &RollbackRequest<'_>,
    confirmation: &Confirmation,
    places_args: &Places,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, state_dir) = places(system, places_args)?;
    let skip = request
        .skip
        .iter()
        .map(|key| Key::parse(key).map_err(|error| Error::Usage(format!("--skip {key}: {error}"))))
        .collect::<Result<Vec<_>>>()?;
    let Some(_) = Journal::existing(&state_dir) else {
        printer.print(Document::Outcome(
            &apply::Outcome::nothing(),
            OutcomeView::Rollback,
        ))?;
        return Ok(exit::SUCCESS);
    };
    system.require_root("rollback")?;
    system.refuse_redirects(&[&state_dir])?;
    let scope = scope(system, &sysctl_dir, confirmation.live)?;
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    let records = journal.records()?;
    let Some(plan) = apply::plan_rollback(system, &records, &journal, &scope, request.to, &skip)?
    else {
        printer.print(Document::Outcome(
            &apply::Outcome::nothing(),
            OutcomeView::Rollback,
        ))?;
        return Ok(exit::SUCCESS);
    };
    plan.refuse_conflicts(request.force)?;
    system.refuse_redirects(&[&sysctl_dir])?;
    printer.print(Document::RollbackPreview(&plan.targets))?;
    report::confirm(confirmation.yes, "Roll back?")?;
    let outcome = apply::rollback(system, &journal, &plan, &scope)?;
    report_committed(
        printer.print(Document::Outcome(&outcome, OutcomeView::Rollback)),
        &outcome,
    )
}

fn history(system: &System, state_dir: Option<&Path>, printer: &mut Printer<'_>) -> Result<u8> {
    let state_dir = match state_dir {
        Some(dir) => absolute(dir)?,
        None => system.default_state_dir(),
    };
    let records = match Journal::existing(&state_dir) {
        Some(journal) => journal.records()?,
        None => Vec::new(),
    };
    // This target's records only; the sysctl.d directory does not matter
    // for which system a record belongs to.
    let scope = apply::Scope {
        target: crate::journal::Target {
            netns: crate::system::netns_id()
                .map(|(dev, inode)| crate::journal::NamespaceId { dev, inode }),
            root: crate::journal::AbsolutePath::new(system.root().to_path_buf())
                .ok_or_else(|| Error::Usage("--root is not absolute".into()))?,
            proc: crate::journal::AbsolutePath::new(system.proc().to_path_buf())
                .ok_or_else(|| Error::Usage("--proc is not absolute".into()))?,
            sysctl_dir: crate::journal::AbsolutePath::new(system.default_sysctl_dir())
                .ok_or_else(|| Error::Usage("--root is not absolute".into()))?,
        },
        live: true,
    };
    let (own, other): (Vec<_>, Vec<_>) = records.into_iter().partition(|record| scope.owns(record));
    if !other.is_empty() {
        report::warn(&format!(
            "{} transactions in {} belong to other targets (another network namespace, root or proc) and are not shown",
            other.len(),
            state_dir.display()
        ));
    }
    if own.iter().any(|record| record.target.is_none()) {
        report::warn(
            "transactions recorded before records named their target are shown as belonging to this root's default target",
        );
    }
    deliver(printer.print(Document::History(&own)), exit::SUCCESS)
}

/// Largest sysctl file `lint` reads (real ones are a few KiB).
const LINT_MAX_BYTES: u64 = 16 * 1024 * 1024;

fn lint(
    system: &System,
    files: &[PathBuf],
    fail_on: Severity,
    kernel: Option<crate::kernel::KernelVersion>,
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
    // --kernel wins; otherwise the running kernel, when it can be read.
    let kernel = kernel.or_else(|| {
        system
            .kernel_release()
            .ok()
            .as_deref()
            .and_then(crate::kernel::KernelVersion::from_release)
    });
    let findings = crate::lint::lint(&inputs, kernel);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    let printed = printer.print(Document::Lint(&LintReport {
        files,
        findings: &findings,
    }));
    deliver(
        printed,
        if failed {
            exit::FINDINGS
        } else {
            exit::SUCCESS
        },
    )
}
