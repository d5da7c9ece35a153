//! What each command does, as a sequence: read through [`System`], evaluate
//! or plan with the pure layers, carry out with [`apply`], hand the result
//! to the [`Printer`]. No domain logic lives here: each step is a call into
//! the module that owns it. Returns the exit code of the contract.

use std::path::{Path, PathBuf};

use crate::active::{self, ProfileChoice, ProfileSource};
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
    self, CheckReport, DiffReport, Document, Explanation, LintReport, OutcomeView, PerNamespace,
    PlanView, Printer, Section, SocketsReport, StatusReport,
};
use crate::rules;
use crate::system::counter_state::CounterState;
use crate::system::namespaces::{self, Namespace};
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
        Command::Check(args) if args.all_netns => {
            refuse_netns_with_all(cli)?;
            check_all(&system, args, printer)
        }
        Command::Sockets(args) if args.all_netns => {
            refuse_netns_with_all(cli)?;
            sockets_all(&system, args, printer)
        }
        Command::Check(args) => check(&system, args, printer),
        Command::Sockets(args) => sockets(&system, args, printer),
        Command::Recommend => recommend(&system, printer),
        Command::Profiles { name } => profiles(&system, name.as_deref(), printer),
        Command::Explain { list: true, .. } => printer
            .print(Document::Explanation(&Explanation::List {
                topics: knowledge::TOPICS,
                keys: knowledge::KEYS,
            }))
            .map(|()| exit::SUCCESS),
        Command::Explain {
            subject, kernel, ..
        } => explain(
            &system,
            subject.as_deref().unwrap_or_default(),
            *kernel,
            printer,
        ),
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
            forget,
            sysctl_dir,
            state_dir,
        } => rollback_command(
            &system,
            &RollbackRequest {
                to: *to,
                force: *force,
                skip,
                forget: *forget,
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
        Command::Status { state_dir } => status(&system, state_dir.as_deref(), printer),
        Command::Lint {
            files,
            boot,
            fail_on,
            kernel,
        } => {
            let files = if *boot {
                system.boot_files()?
            } else {
                lint_files(&system, files)?
            };
            lint(&system, &files, Severity::from(*fail_on), *kernel, printer)
        }
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
    forget: Option<u64>,
}

/// A record that cannot be read, as the error of a command that cannot
/// go on without it (exit 3), with the way out.
fn unreadable_error(unreadable: &crate::journal::Unreadable) -> Error {
    Error::Journal {
        path: unreadable.path.clone(),
        message: format!(
            "{}; once you have checked what it changed, `tcptune rollback --forget {}` sets it aside",
            unreadable.reason, unreadable.id
        ),
    }
}

/// The journal's records; each one that cannot be read is named in a
/// warning and left out, so it blocks only itself.
fn readable_records(journal: &Journal) -> Result<Vec<crate::journal::Record>> {
    let scan = journal.scan()?;
    for unreadable in &scan.unreadable {
        report::warn(&unreadable.to_string());
    }
    Ok(scan.records)
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

/// The profiles given, or else the active profile `apply` recorded for
/// this target, or else the built-in default; said on stderr when the
/// active profile's files changed since they were applied.
fn choose_profile(system: &System, names: &[String]) -> Result<(Profile, ProfileChoice)> {
    if !names.is_empty() {
        return Ok((resolve_profiles(system, names)?, ProfileChoice::given()));
    }
    let state_dir = system.default_state_dir();
    let lookup = || -> Result<Option<active::Entry>> {
        match Journal::existing(&state_dir)? {
            None => Ok(None),
            Some(journal) => {
                let records = journal.records()?;
                active::active(&state_dir, &records, &current_target(system)?)
            }
        }
    };
    // A user who may not read the state directory (it is root's, 0700)
    // still gets an audit: against the default, said.
    let found = lookup().unwrap_or_else(|error| {
        report::warn(&format!(
            "the active profile cannot be read ({error}); using the built-in default"
        ));
        None
    });
    let Some(entry) = found else {
        return Ok((
            resolve_profiles(system, &[])?,
            ProfileChoice {
                source: ProfileSource::Default,
                active: None,
                changed_files: Vec::new(),
            },
        ));
    };
    let arguments = entry.arguments();
    let profile = resolve_profiles(system, &arguments)?;
    let changed_files = active::changed_files(&entry, &active::layers(system, &arguments)?);
    for file in &changed_files {
        report::warn(&format!(
            "{file} changed since the active profile {} was applied; judging against it as it is now",
            entry.profile
        ));
    }
    Ok((
        profile,
        ProfileChoice {
            source: ProfileSource::Active,
            active: Some(entry),
            changed_files,
        },
    ))
}

/// The system this invocation acts on, as transactions name it.
fn current_target(system: &System) -> Result<crate::journal::Target> {
    Ok(crate::journal::Target {
        netns: crate::system::netns_id()
            .map(|(dev, inode)| crate::journal::NamespaceId { dev, inode }),
        root: crate::journal::AbsolutePath::new(system.root().to_path_buf())
            .ok_or_else(|| Error::Usage("--root is not absolute".into()))?,
        proc: crate::journal::AbsolutePath::new(system.proc().to_path_buf())
            .ok_or_else(|| Error::Usage("--proc is not absolute".into()))?,
        sysctl_dir: crate::journal::AbsolutePath::new(system.default_sysctl_dir())
            .ok_or_else(|| Error::Usage("--root is not absolute".into()))?,
    })
}

fn refuse_netns_with_all(cli: &Cli) -> Result<()> {
    if cli.netns.is_some() {
        return Err(Error::Usage(
            "--netns and --all-netns exclude each other: --all-netns audits every namespace".into(),
        ));
    }
    Ok(())
}

/// What `check` reads.
fn check_request(profile: &Profile) -> Request {
    let mut keys: Vec<Key> = profile
        .settings
        .iter()
        .map(|setting| setting.key.clone())
        .chain(rules::keys())
        .collect();
    keys.sort();
    keys.dedup();
    Request {
        keys,
        sockets: true,
        // port-exhaustion names paths, but only one that can reach its
        // threshold needs the TIME_WAIT sockets listed.
        time_wait: TimeWaitDetail::WherePathsMayReach {
            percent: profile.thresholds.port_exhaustion_percent,
        },
        close_wait_owners: Owners::IfCloseWait,
        boot: true,
        sysctl_dir: None,
        // The previous counter reading: `check` says where (see `check`).
        counter_state: None,
        // `retransmits` names the peers; idle connections and buffer
        // limits are read from it too.
        tcp_info: true,
        idle_after_seconds: profile.thresholds.idle_timeout_seconds,
    }
}

/// Every network namespace, found; refused unless this is the kernel's
/// /proc (a saved tree has no namespaces to enter).
fn namespaces(system: &System) -> Result<Vec<Namespace>> {
    if !system.is_kernel_proc() {
        return Err(Error::Usage(
            "--all-netns needs the kernel's /proc: a saved tree has no namespaces to enter".into(),
        ));
    }
    let (found, unreadable) = namespaces::discover(system.proc(), Path::new("/run/netns"))?;
    if unreadable > 0 {
        crate::note!("{unreadable} processes or names could not be looked at (gone, or not ours)");
    }
    Ok(found)
}

/// Each audited namespace's index in the list found, with its facts; and
/// the namespaces that vanished first.
type Gathered = (Vec<(usize, crate::facts::Facts)>, Vec<String>);

/// Gathers in each namespace (tcptune's own on this thread, the others on
/// a thread that entered them). A namespace that is gone by the time it is
/// entered is listed as vanished, not an error.
fn gather_each(
    system: &System,
    found: &[Namespace],
    request: &Request,
    child_request: &Request,
    sample: Option<f64>,
) -> Result<Gathered> {
    let mut gathered = Vec::new();
    let mut vanished = Vec::new();
    let results = namespaces::audit_each(found, |namespace| {
        if namespace.host {
            system.gather_sampled(request, sample)
        } else {
            system
                .for_this_thread()
                .gather_sampled(child_request, sample)
        }
    });
    for ((index, namespace), facts) in found.iter().enumerate().zip(results) {
        match facts {
            Ok(facts) => {
                warn_skipped(&facts);
                gathered.push((index, facts));
            }
            Err(error) if namespaces::vanished(&error) => {
                vanished.push(namespace.label());
            }
            Err(error) => {
                return Err(Error::Failed(format!(
                    "network namespace {}: {error}",
                    namespace.label()
                )));
            }
        }
    }
    Ok((gathered, vanished))
}

fn check_all(system: &System, args: &CheckArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let system = &system.sharing_one_fd_walk();
    let (profile, choice) = choose_profile(system, &args.profiles)?;
    let found = namespaces(system)?;
    let request = check_request(&profile);
    // The boot configuration is the host's: read once, with its section.
    let child_request = Request {
        boot: false,
        ..check_request(&profile)
    };
    let (gathered, vanished) = gather_each(system, &found, &request, &child_request, args.sample)?;
    let fail_on = Severity::from(args.fail_on);
    let judged: Vec<(usize, &crate::facts::Facts, Vec<crate::finding::Finding>)> = gathered
        .iter()
        .map(|(index, facts)| (*index, facts, rules::evaluate(facts, &profile)))
        .collect();
    let failed = judged
        .iter()
        .flat_map(|(_, _, findings)| findings)
        .any(|finding| finding.severity >= fail_on);
    let reports: Vec<CheckReport<'_>> = judged
        .iter()
        .map(|(_, facts, findings)| CheckReport {
            kernel: &facts.kernel_release,
            profile: &profile,
            choice: &choice,
            summary: Summary::of(findings),
            findings,
            facts,
        })
        .collect();
    let sections: Vec<Section<'_>> = judged
        .iter()
        .zip(&reports)
        .map(|((index, _, _), report)| Section {
            namespace: &found[*index],
            document: Document::Check(report),
        })
        .collect();
    let printed = printer.print(Document::PerNamespace(&PerNamespace {
        kind: report::DocumentKind::Check,
        sections: &sections,
        vanished: &vanished,
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

fn sockets_all(system: &System, args: &SocketsArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let system = &system.sharing_one_fd_walk();
    let found = namespaces(system)?;
    let request = sockets_request(args);
    let (gathered, vanished) = gather_each(system, &found, &request, &request, args.sample)?;
    let reports: Vec<SocketsReport<'_>> = gathered
        .iter()
        .map(|(_, facts)| SocketsReport {
            facts,
            processes: args.processes,
            by_destination: args.by_destination,
        })
        .collect();
    let sections: Vec<Section<'_>> = gathered
        .iter()
        .zip(&reports)
        .map(|((index, _), report)| Section {
            namespace: &found[*index],
            document: Document::Sockets(report),
        })
        .collect();
    let printed = printer.print(Document::PerNamespace(&PerNamespace {
        kind: report::DocumentKind::Sockets,
        sections: &sections,
        vanished: &vanished,
    }));
    deliver(printed, exit::SUCCESS)
}

fn check(system: &System, args: &CheckArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let (profile, choice) = choose_profile(system, &args.profiles)?;
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
            counter_state: counter_state.clone(),
            ..check_request(&profile)
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
        choice: &choice,
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

fn sockets_request(args: &SocketsArgs) -> Request {
    let keys = SOCKET_KEYS
        .iter()
        .filter_map(|key| Key::parse(key).ok())
        .collect();
    Request {
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
        idle_after_seconds: None,
    }
}

fn sockets(system: &System, args: &SocketsArgs, printer: &mut Printer<'_>) -> Result<u8> {
    let facts = system.gather_sampled(&sockets_request(args), args.sample)?;
    warn_skipped(&facts);
    let printed = printer.print(Document::Sockets(&SocketsReport {
        facts: &facts,
        processes: args.processes,
        by_destination: args.by_destination,
    }));
    deliver(printed, exit::SUCCESS)
}

fn recommend(system: &System, printer: &mut Printer<'_>) -> Result<u8> {
    let mut collector = crate::recommend::Collector::default();
    system.each_tcp_row(&mut |row| collector.record(row))?;
    let recommendation = crate::recommend::recommend(collector.evidence());
    deliver(
        printer.print(Document::Recommendation(&recommendation)),
        exit::SUCCESS,
    )
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
        idle_after_seconds: None,
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
    let (profile, choice) = choose_profile(system, profiles)?;
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
    let printed = printer.print(Document::Diff(&DiffReport {
        plan: &plan,
        choice: &choice,
    }));
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
    // Nothing (no state directory, lock or journal) is created before there
    // is something to record: with no journal yet, the lock is taken after
    // the confirmation. With one, it is taken now, as it creates nothing,
    // and a record left `prepared` by another apply in progress is told
    // apart from an interrupted one.
    let mut held = None;
    if Journal::existing(&state_dir)?.is_some() {
        let lock = apply::lock(&state_dir)?;
        let journal = Journal::open(&state_dir)?;
        apply::refuse_interrupted(&readable_records(&journal)?, &scope)?;
        held = Some((lock, journal));
    }
    let layers = active::layers(system, profiles)?;
    let mut plan = shape(make_plan(system, &profile, &sysctl_dir)?);
    let journal = loop {
        if plan.is_empty() {
            // The profile is in force without a change. It is recorded as
            // the active one where a state directory already exists; a
            // first apply with nothing to do creates nothing.
            if let Some((_, journal)) = &held {
                record_active(journal, &state_dir, &scope, &profile, layers, None);
            }
            printer.print(Document::Plan(&plan, PlanView::NothingToDo))?;
            return Ok(exit::SUCCESS);
        }
        printer.print(Document::Plan(&plan, PlanView::Preview))?;
        report::confirm(confirmation.yes, "Apply these changes?")?;
        let journal = match held.take() {
            Some(held) => held,
            None => {
                let lock = apply::lock(&state_dir)?;
                let journal = Journal::open(&state_dir)?;
                apply::refuse_interrupted(&readable_records(&journal)?, &scope)?;
                (lock, journal)
            }
        };
        // The answer can take minutes, and the plan was made before the
        // lock: what was shown must still be what is there, or the journal
        // would record (and a rollback restore) a state that another
        // process has replaced meanwhile. Made again under the lock.
        let fresh = shape(make_plan(system, &profile, &sysctl_dir)?);
        let changed = fresh.changed_since(&plan);
        if changed.is_empty() {
            break journal;
        }
        report::warn(&format!(
            "the system changed while waiting for the answer: {}; planning again",
            changed.join("; ")
        ));
        plan = fresh;
        held = Some(journal);
    };
    let (_lock, journal) = journal;
    let outcome = apply::apply(system, &journal, &plan, &scope)?;
    let transaction = outcome
        .transaction
        .as_deref()
        .and_then(|id| id.parse::<u64>().ok());
    record_active(&journal, &state_dir, &scope, &profile, layers, transaction);
    report_committed(
        printer.print(Document::Outcome(&outcome, OutcomeView::Apply)),
        &outcome,
    )
}

/// Records the profile now in force. The transaction is already committed
/// when this runs, so a failure is said, not returned: without the record,
/// `check` audits against what was active before.
fn record_active(
    journal: &Journal,
    state_dir: &Path,
    scope: &apply::Scope,
    profile: &Profile,
    layers: Vec<active::Layer>,
    transaction: Option<u64>,
) {
    let recorded = journal.records().and_then(|records| {
        active::record(
            state_dir,
            &records,
            &scope.target,
            &profile.name,
            layers,
            transaction,
        )
    });
    if let Err(error) = recorded {
        report::warn(&format!(
            "the active profile could not be recorded ({error}); check and diff without --profile will not use {}",
            profile.name
        ));
    }
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
    let Some(_) = Journal::existing(&state_dir)? else {
        if let Some(id) = request.to.or(request.forget) {
            return Err(Error::Usage(format!(
                "there is no transaction {id} (see `tcptune history`)"
            )));
        }
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
    let scan = journal.scan()?;
    if let Some(id) = request.forget {
        let Some(unreadable) = scan.unreadable.iter().find(|bad| bad.id == id) else {
            return Err(Error::Usage(
                if scan.records.iter().any(|record| record.id == id) {
                    format!("transaction {id} can be read; roll it back instead of forgetting it")
                } else {
                    format!("there is no transaction {id} (see `tcptune history`)")
                },
            ));
        };
        report::confirm(confirmation.yes, &format!("Set aside record {id}?"))?;
        let moved = journal.forget(unreadable.id)?;
        let outcome = apply::Outcome {
            forgotten: Some((id.to_string(), moved)),
            ..apply::Outcome::nothing()
        };
        printer.print(Document::Outcome(&outcome, OutcomeView::Rollback))?;
        return Ok(exit::SUCCESS);
    }
    if let Some(unreadable) = scan
        .unreadable
        .iter()
        .find(|bad| request.to == Some(bad.id))
    {
        return Err(unreadable_error(unreadable));
    }
    let records = scan.records;
    let Some(plan) = apply::plan_rollback(system, &records, &journal, &scope, request.to, &skip)?
    else {
        // "Nothing to roll back" would not be so if the unreadable record
        // is a transaction still in effect.
        if let Some(unreadable) = scan.unreadable.first() {
            return Err(unreadable_error(unreadable));
        }
        printer.print(Document::Outcome(
            &apply::Outcome::nothing(),
            OutcomeView::Rollback,
        ))?;
        return Ok(exit::SUCCESS);
    };
    for unreadable in &scan.unreadable {
        report::warn(&unreadable.to_string());
    }
    plan.refuse_conflicts(request.force)?;
    system.refuse_redirects(&[&sysctl_dir])?;
    printer.print(Document::RollbackPreview(&plan.targets))?;
    report::confirm(confirmation.yes, "Roll back?")?;
    let outcome = apply::rollback(system, &journal, &plan, &scope)?;
    // The active profile is the one of the newest apply still standing;
    // entries of undone transactions no longer count (even if this fails).
    if let Err(error) = journal
        .records()
        .and_then(|records| active::forget_undone(&state_dir, &records))
    {
        report::warn(&format!(
            "the rollback committed; the record of the active profile could not be tidied ({error})"
        ));
    }
    report_committed(
        printer.print(Document::Outcome(&outcome, OutcomeView::Rollback)),
        &outcome,
    )
}

fn status(system: &System, state_dir: Option<&Path>, printer: &mut Printer<'_>) -> Result<u8> {
    let state_dir = match state_dir {
        Some(dir) => absolute(dir)?,
        None => system.default_state_dir(),
    };
    let target = current_target(system)?;
    let scope = apply::Scope {
        target: target.clone(),
        live: true,
    };
    let records: Vec<crate::journal::Record> = match Journal::existing(&state_dir)? {
        Some(journal) => journal
            .records()?
            .into_iter()
            .filter(|record| scope.owns(record))
            .collect(),
        None => Vec::new(),
    };
    let entry = active::active(&state_dir, &records, &target)?;
    let last_transaction = records.iter().max_by_key(|record| record.id).cloned();
    let applied = entry
        .as_ref()
        .and_then(|entry| entry.transaction.or(entry.basis))
        .and_then(|id| records.iter().find(|record| record.id == id));
    let keys = match applied {
        None => Vec::new(),
        Some(record) => {
            let facts = system.gather(&Request {
                keys: record.keys.iter().map(|key| key.key.clone()).collect(),
                sockets: false,
                time_wait: TimeWaitDetail::Count,
                close_wait_owners: Owners::Never,
                boot: true,
                sysctl_dir: None,
                counter_state: None,
                tcp_info: false,
                idle_after_seconds: None,
            })?;
            warn_skipped(&facts);
            active::key_states(record, &facts)
        }
    };
    let changed_files = match &entry {
        None => Vec::new(),
        Some(entry) => match active::layers(system, &entry.arguments()) {
            Ok(now) => active::changed_files(entry, &now),
            // A profile file that is gone or no longer valid has changed.
            Err(error) => vec![error.to_string()],
        },
    };
    let status = active::Status {
        active: entry,
        changed_files,
        last_transaction,
        keys,
    };
    let code = if status.attention() {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    };
    deliver(
        printer.print(Document::Status(&StatusReport {
            status: &status,
            target: &target,
        })),
        code,
    )
}

fn history(system: &System, state_dir: Option<&Path>, printer: &mut Printer<'_>) -> Result<u8> {
    let state_dir = match state_dir {
        Some(dir) => absolute(dir)?,
        None => system.default_state_dir(),
    };
    let scan = match Journal::existing(&state_dir)? {
        Some(journal) => journal.scan()?,
        None => crate::journal::Scan::default(),
    };
    let records = scan.records;
    // This target's records only; the sysctl.d directory does not matter
    // for which system a record belongs to.
    let scope = apply::Scope {
        target: current_target(system)?,
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
    let code = deliver(
        printer.print(Document::History(&report::HistoryReport {
            records: &own,
            unreadable: &scan.unreadable,
        })),
        exit::SUCCESS,
    )?;
    // Everything readable is shown; a damaged journal still fails (exit 3).
    match scan.unreadable.first() {
        Some(unreadable) => Err(unreadable_error(unreadable)),
        None => Ok(code),
    }
}

/// Largest sysctl file `lint` reads (real ones are a few KiB).
const LINT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The files `lint` was given: a directory expanded to its `*.conf` files
/// in loader order; `-` (standard input) kept as it is.
fn lint_files(system: &System, arguments: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for argument in arguments {
        if argument.as_os_str() == "-" {
            files.push(argument.clone());
            continue;
        }
        let found = system.conf_files(argument)?;
        if found.is_empty() {
            report::warn(&format!(
                "{} holds no *.conf file: nothing of it to lint",
                argument.display()
            ));
        }
        files.extend(found);
    }
    Ok(files)
}

fn lint(
    system: &System,
    files: &[PathBuf],
    fail_on: Severity,
    kernel: Option<crate::kernel::KernelVersion>,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let contents = files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                system.read_stdin(LINT_MAX_BYTES)
            } else {
                system.read_input_file(path, LINT_MAX_BYTES)
            }
        })
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
