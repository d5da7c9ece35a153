//! What each command does: read through [`System`], evaluate, hand the result
//! to [`report`]. Returns the exit code of the contract.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::apply;
use crate::cli::{CheckArgs, Cli, Command, Generate, Places, SocketsArgs};
use crate::conf;
use crate::error::{Error, Result, exit};
use crate::facts::RULE_KEYS;
use crate::finding::{Severity, Summary};
use crate::journal::{self, Journal};
use crate::key::Key;
use crate::knowledge;
use crate::plan::{self, Plan};
use crate::profile::{self, Profile};
use crate::report::{CheckReport, Explanation, OutcomeView, PlanView, Printer, SocketsReport};
use crate::rules;
use crate::suggest;
use crate::system::{Owners, Request, System, Writability, write};

/// Runs the parsed command line, printing through `printer`.
pub fn run(cli: &Cli, printer: &mut Printer<'_>) -> Result<u8> {
    let system = System::new(&cli.root, &cli.proc_dir);
    if cli.format == crate::cli::Format::Prometheus
        && !matches!(cli.command, Command::Check(_) | Command::Sockets(_))
    {
        return Err(Error::Usage(
            "--format prometheus is for `check` and `sockets`".into(),
        ));
    }
    match &cli.command {
        Command::Check(args) => check(&system, args, printer),
        Command::Sockets(args) => sockets(&system, args, printer),
        Command::Profiles { name } => profiles(&system, name.as_deref(), printer),
        Command::Explain { subject } => explain(&system, subject, printer),
        Command::Diff {
            profile,
            sysctl_dir,
        } => diff(&system, profile, sysctl_dir.as_deref(), printer),
        Command::Apply {
            profile,
            yes,
            dry_run,
            places,
        } => apply_command(&system, profile, *yes, *dry_run, places, printer),
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
    let mut keys: Vec<Key> = profile
        .settings
        .iter()
        .map(|setting| setting.key.clone())
        .collect();
    keys.extend(RULE_KEYS.iter().filter_map(|key| Key::parse(key).ok()));
    keys.sort();
    keys.dedup();
    let facts = gather_sampled(
        system,
        &Request {
            keys,
            sockets: true,
            close_wait_owners: Owners::IfCloseWait,
            boot: true,
        },
        args.sample,
    )?;
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
    Ok(if failed {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    })
}

/// Resolves several profiles and layers them: later ones override earlier
/// ones key by key, and the last one's thresholds apply.
fn layered(system: &System, names: &[&str]) -> Result<Profile> {
    let mut layered: Option<Profile> = None;
    for name in names {
        let next = profile::resolve(system, name)?;
        for warning in &next.warnings {
            print_warning(warning);
        }
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
                base.warnings.extend(next.warnings);
                base.description = next.description;
                base
            }
        });
    }
    layered.ok_or_else(|| Error::Usage("no profile given".into()))
}

/// Gathers once, or with `sample`, twice that many seconds apart; the second
/// reading carries the rates.
fn gather_sampled(
    system: &System,
    request: &Request,
    sample: Option<f64>,
) -> Result<crate::facts::Facts> {
    let Some(seconds) = sample else {
        return system.gather(request);
    };
    let quick = Request {
        close_wait_owners: Owners::Never,
        boot: false,
        ..request.clone()
    };
    let started = std::time::Instant::now();
    let first = system.gather(&quick)?;
    std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    let mut second = system.gather(request)?;
    second.sample = Some(crate::rates::compare(
        &first,
        &second,
        started.elapsed().as_secs_f64(),
    ));
    Ok(second)
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
    let facts = gather_sampled(
        system,
        &Request {
            keys,
            sockets: true,
            close_wait_owners: if args.processes {
                Owners::Always
            } else {
                Owners::Never
            },
            boot: false,
        },
        args.sample,
    )?;
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
    let info = canonical
        .as_deref()
        .and_then(knowledge::lookup)
        .or_else(|| {
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
    if let Some(near) = suggest::closest(&full, candidates.clone())
        .or_else(|| suggest::closest(subject, candidates))
    {
        message.push_str(&format!("; did you mean `{near}`?"));
    }
    message.push_str(" (topics: time-wait, close-wait, fin-wait2)");
    Err(Error::UnknownTopic(message))
}

/// Writes a warning for people to stderr.
pub fn print_warning(message: &str) {
    let mut stderr = std::io::stderr().lock();
    // Nothing useful can be done when stderr itself is gone.
    let _ = writeln!(
        stderr,
        "tcptune: warning: {}",
        crate::report::printable(message)
    );
}

/// Writes an error for people to stderr.
pub fn print_error(error: &Error) {
    let mut stderr = std::io::stderr().lock();
    // Each line escaped on its own: lines are tcptune's, their content may
    // not be (a key or value quoted from a file).
    for line in error.to_string().split('\n') {
        // Nothing useful can be done when stderr itself is gone.
        let _ = writeln!(stderr, "tcptune: {}", crate::report::printable(line));
    }
}

/// The sysctl.d directory and state directory, defaulting under the root.
fn places(
    system: &System,
    sysctl_dir: Option<&Path>,
    state_dir: Option<&Path>,
) -> (PathBuf, PathBuf) {
    (
        sysctl_dir.map_or_else(|| system.config_path("etc/sysctl.d"), Path::to_path_buf),
        state_dir.map_or_else(|| system.config_path(STATE_DIR), Path::to_path_buf),
    )
}

/// Where the journal lives under the root.
pub const STATE_DIR: &str = "var/lib/tcptune";

/// Reads what planning needs and builds the plan.
fn make_plan(system: &System, profile_name: &str, sysctl_dir: &Path) -> Result<Plan> {
    let profile = layered(system, &[profile_name])?;
    let keys: Vec<Key> = profile
        .settings
        .iter()
        .map(|setting| setting.key.clone())
        .collect();
    let facts = system.gather(&Request {
        keys: keys.clone(),
        sockets: false,
        close_wait_owners: Owners::Never,
        boot: false,
    })?;
    let writability: BTreeMap<Key, Writability> = keys
        .iter()
        .map(|key| (key.clone(), system.sysctl_writability(key)))
        .collect();
    let file = sysctl_dir.join(plan::FILE_NAME);
    let old_file = write::read_owned(&file).map_err(|source| Error::Write {
        path: file.clone(),
        source,
    })?;
    let mut plan = plan::plan(&facts, &profile, &writability, file, old_file);
    // Boot precedence is known for the standard directory only.
    if sysctl_dir == system.config_path("etc/sysctl.d")
        && let Ok(report) = conf::candidate(system.root(), plan::FILE_NAME)
    {
        for change in plan.changes.iter().filter(|change| change.persisted) {
            for (loader, assignment) in report.overriders(&change.key) {
                plan.shadows.push(plan::Shadow {
                    key: change.key.to_string(),
                    loader: loader.name(),
                    path: assignment.boot_path.display().to_string(),
                    line: assignment.line,
                    value: assignment.value().map(ToString::to_string),
                });
            }
        }
    }
    Ok(plan)
}

fn diff(
    system: &System,
    profile: &str,
    sysctl_dir: Option<&Path>,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, _) = places(system, sysctl_dir, None);
    let plan = make_plan(system, profile, &sysctl_dir)?;
    printer.plan(&plan, PlanView::Diff)?;
    Ok(if plan.is_empty() {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}

fn apply_command(
    system: &System,
    profile: &str,
    yes: bool,
    dry_run: bool,
    places_args: &Places,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let (sysctl_dir, state_dir) = places(
        system,
        places_args.sysctl_dir.as_deref(),
        places_args.state_dir.as_deref(),
    );
    // The profile must be valid before anything is locked or created.
    layered(system, &[profile])?;
    if !dry_run {
        require_root(system, "apply")?;
        refuse_redirects(system, &[&sysctl_dir, &state_dir])?;
    }
    if dry_run {
        let plan = make_plan(system, profile, &sysctl_dir)?;
        printer.plan(&plan, PlanView::DryRun)?;
        return Ok(exit::SUCCESS);
    }
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    if let Some(interrupted) = journal
        .entries()?
        .into_iter()
        .find(|entry| entry.kind == journal::Kind::Apply && entry.state == journal::State::Prepared)
    {
        return Err(Error::Refused(format!(
            "transaction {} was interrupted before it finished; run `tcptune rollback` to restore what was there, then apply again",
            interrupted.id
        )));
    }
    let plan = make_plan(system, profile, &sysctl_dir)?;
    if plan.is_empty() {
        printer.plan(&plan, PlanView::NothingToDo)?;
        return Ok(exit::SUCCESS);
    }
    printer.plan(&plan, PlanView::Preview)?;
    confirm(yes, "Apply these changes?")?;
    let outcome = apply::apply(system, &journal, &plan)?;
    printer.outcome(&outcome, OutcomeView::Apply)?;
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
    let (sysctl_dir, state_dir) = places(
        system,
        places_args.sysctl_dir.as_deref(),
        places_args.state_dir.as_deref(),
    );
    let Some(_) = Journal::existing(&state_dir) else {
        printer.outcome(&apply::Outcome::nothing(), OutcomeView::Rollback)?;
        return Ok(exit::SUCCESS);
    };
    require_root(system, "rollback")?;
    refuse_redirects(system, &[&state_dir])?;
    let _lock = apply::lock(&state_dir)?;
    let journal = Journal::open(&state_dir)?;
    let pending = apply::rollback_targets(&journal, to)?;
    if pending.is_empty() {
        printer.outcome(&apply::Outcome::nothing(), OutcomeView::Rollback)?;
        return Ok(exit::SUCCESS);
    }
    // A record names the file it wrote; rollback writes back only to
    // tcptune's own file in the sysctl.d directory, whatever a record says,
    // so a planted record cannot steer it into modprobe.d or a unit
    // directory.
    let own_file = sysctl_dir.join(plan::FILE_NAME);
    if let Some(stray) = pending.iter().find(|entry| entry.file.path != own_file) {
        return Err(Error::Journal {
            path: state_dir.join("journal").join(format!("{}.json", stray.id)),
            message: format!(
                "transaction {} wrote {}, not {}; if apply used --sysctl-dir, pass the same to rollback",
                stray.id,
                crate::report::printable(&stray.file.path.display().to_string()),
                own_file.display()
            ),
        });
    }
    refuse_redirects(system, &[&sysctl_dir])?;

    printer.rollback_preview(&pending)?;
    confirm(yes, "Roll back?")?;
    let outcome = apply::rollback(system, &journal, to, force)?;
    printer.outcome(&outcome, OutcomeView::Rollback)?;
    Ok(exit::SUCCESS)
}

fn history(system: &System, state_dir: Option<&Path>, printer: &mut Printer<'_>) -> Result<u8> {
    let (_, state_dir) = places(system, None, state_dir);
    let entries = match Journal::existing(&state_dir) {
        Some(journal) => journal.entries()?,
        None => Vec::new(),
    };
    printer.history(&entries)?;
    Ok(exit::SUCCESS)
}

/// Directories under the root that tcptune writes into must be reached
/// without symlinks: one planted at `<root>/etc` or `<root>/var/lib` would
/// send the file or the journal elsewhere. (The file's own directory for
/// rollback is checked too, through the journal's path.)
fn refuse_redirects(system: &System, dirs: &[&Path]) -> Result<()> {
    for dir in dirs {
        write::refuse_symlinked_components(system.root(), dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Changing the live kernel needs root; say so plainly instead of failing
/// half-way on a permission error. (With `--proc` pointing elsewhere, as in
/// tests, the files decide.)
fn require_root(system: &System, command: &str) -> Result<()> {
    if system.proc() == Path::new("/proc") && !nix::unistd::geteuid().is_root() {
        return Err(Error::Failed(format!(
            "tcptune {command} changes kernel settings and files under /etc and /var/lib: it needs root (try sudo)"
        )));
    }
    Ok(())
}

/// Largest sysctl file `lint` reads (real ones are a few KiB).
const LINT_MAX_BYTES: u64 = 16 * 1024 * 1024;

fn lint(
    system: &System,
    files: &[PathBuf],
    fail_on: Severity,
    printer: &mut Printer<'_>,
) -> Result<u8> {
    let mut contents = Vec::new();
    for path in files {
        // A sysctl file is a regular file of modest size; `/dev/zero` or a
        // link to it must not be read until memory runs out.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(Error::Usage(format!(
                    "{}: not a regular file",
                    crate::report::printable(&path.display().to_string())
                )));
            }
            Ok(meta) if meta.len() > LINT_MAX_BYTES => {
                return Err(Error::Usage(format!(
                    "{}: {} bytes; lint reads files of at most {LINT_MAX_BYTES} bytes",
                    crate::report::printable(&path.display().to_string()),
                    meta.len()
                )));
            }
            _ => {}
        }
        let bytes = match system.read_file_limited(path, LINT_MAX_BYTES + 1) {
            Ok(bytes) if bytes.len() as u64 > LINT_MAX_BYTES => {
                return Err(Error::Usage(format!(
                    "{}: grew past {LINT_MAX_BYTES} bytes while being read",
                    path.display()
                )));
            }
            Ok(bytes) => bytes,
            // A file named on the command line that is not there is the
            // user's mistake, not the system's.
            Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Usage(format!("{}: no such file", path.display())));
            }
            Err(error) => return Err(error),
        };
        contents.push(bytes);
    }
    let inputs: Vec<crate::lint::LintInput<'_>> = files
        .iter()
        .zip(&contents)
        .map(|(path, content)| crate::lint::LintInput { path, content })
        .collect();
    let findings = crate::lint::lint(&inputs);
    let failed = findings.iter().any(|finding| finding.severity >= fail_on);
    printer.lint(files, &findings)?;
    Ok(if failed {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    })
}

/// Asks on the terminal unless `yes`; without a terminal, refuses (exit 4).
fn confirm(yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::NotConfirmed(
            "nothing changed: confirmation needed and there is no terminal; pass --yes to proceed"
                .into(),
        ));
    }
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|error| Error::NotConfirmed(format!("nothing changed: {error}")))?;
    if answer {
        Ok(())
    } else {
        Err(Error::NotConfirmed("nothing changed: not confirmed".into()))
    }
}
