//! `tcptune lint`: sysctl.conf and sysctl.d files audited as data, with no
//! live system, the way a configuration repository is checked in CI, for
//! one kernel release (`--kernel`, or the running kernel) or, when none is
//! known, for every release from 3.10 on with the version-dependent
//! statements saying so.
//!
//! This module owns the checks that need nothing but the files: lines the
//! loaders skip or read differently (`invalid-line`), keys the kernel removed
//! or ignores (`obsolete-key`), keys it never had or does not have yet
//! (`unknown-key`), values the kernel refuses or reads differently from how
//! they are written (`invalid-value`), values judged harmful or lowered below
//! the default (`harmful-value`), and keys set more than once
//! (`duplicate-key`). Which line wins at boot comes from
//! [`crate::conf::boot_ranks`]; what a key means, accepts and defaults to,
//! and every judgement, from [`crate::knowledge`]. [`lint`] is a pure
//! function of the files' paths and bytes and the kernel version.

use std::collections::BTreeMap;
use std::path::Path;

use crate::conf::{self, Action, Diagnostic, DiagnosticKind, ParsedFile, Target};
use crate::finding::{Code, Finding, Severity};
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};
use crate::knowledge::judgements::{self, Kind};
use crate::knowledge::{self, KeyInfo, Presence};

/// One file to audit.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    /// The path findings name. Its file name also decides when the file is
    /// applied at boot relative to the other inputs.
    pub path: &'a Path,
    pub content: &'a [u8],
}

const TW_TIMEOUT: &str = "net.ipv4.tcp_tw_timeout";

/// The file procps `sysctl --system` reads after every sysctl.d file.
const SYSCTL_CONF_NAME: &str = "sysctl.conf";

/// What a loader does with a line whose key the kernel lacks.
const MISSING_KEY: &str = "`sysctl --system` skips a key the kernel lacks silently (exit 0), systemd-sysctl logs it and carries on, and `sysctl -p FILE` reports it and exits 1 (a leading `-` does not change that).";

/// One `key = value` line that names a single valid key.
struct Assignment<'a> {
    /// Index of the file in the caller's input.
    file: usize,
    line: usize,
    key: &'a Key,
    raw: &'a str,
    value: &'a Value,
}

/// A finding and where it sorts: input file, then line.
struct Located {
    file: usize,
    line: usize,
    finding: Finding,
}

/// The files as the checks need them.
struct Files<'a> {
    /// Each file's path as the caller gave it, for locations and messages.
    paths: Vec<String>,
    /// Each file's name alone: what the loaders sort by.
    names: Vec<String>,
    /// Every assignment of a key, ordered as the loaders apply them: files by
    /// name (ties in input order), lines in file order.
    by_key: BTreeMap<&'a Key, Vec<&'a Assignment<'a>>>,
    kernel: Option<KernelVersion>,
}

impl Files<'_> {
    fn place(&self, assignment: &Assignment<'_>) -> String {
        format!("{}:{}", self.paths[assignment.file], assignment.line)
    }

    /// The assignment in force after boot, if any file sets the key.
    fn effective(&self, name: &str) -> Option<&Assignment<'_>> {
        let key = Key::parse(name).ok()?;
        self.by_key.get(&key)?.last().copied()
    }
}

/// The values the files leave in force, as the judgements see them.
impl judgements::Context for Files<'_> {
    fn kernel(&self) -> Option<KernelVersion> {
        self.kernel
    }

    fn value(&self, key: &str) -> Option<Value> {
        let assignment = self.effective(key)?;
        Some(knowledge::as_stored(
            assignment.key,
            assignment.raw,
            self.kernel,
        ))
    }

    fn ehash_entries(&self) -> Option<i64> {
        None
    }

    fn source(&self, key: &str) -> String {
        match self.effective(key) {
            Some(assignment) => format!("set at {}", self.place(assignment)),
            None => "its default".into(),
        }
    }
}

/// One line alone, for judgements that hold for every line that sets a key.
struct Line<'a> {
    assignment: &'a Assignment<'a>,
    kernel: Option<KernelVersion>,
}

impl judgements::Context for Line<'_> {
    fn kernel(&self) -> Option<KernelVersion> {
        self.kernel
    }

    fn value(&self, key: &str) -> Option<Value> {
        (self.assignment.key.to_string() == key)
            .then(|| knowledge::as_stored(self.assignment.key, self.assignment.raw, self.kernel))
    }

    fn ehash_entries(&self) -> Option<i64> {
        None
    }

    fn source(&self, _key: &str) -> String {
        "this line".into()
    }
}

/// Audits sysctl files as systemd-sysctl and `sysctl --system` would apply
/// them together, for `kernel` (every release from 3.10 on when `None`).
/// Findings come in input order of the files, then by line.
pub fn lint(files: &[LintInput<'_>], kernel: Option<KernelVersion>) -> Vec<Finding> {
    let parsed: Vec<ParsedFile> = files
        .iter()
        .map(|file| conf::parse(file.path, file.content))
        .collect();
    let assignments: Vec<Assignment<'_>> = parsed
        .iter()
        .enumerate()
        .flat_map(|(file, parsed)| {
            parsed
                .entries
                .iter()
                .filter_map(move |entry| match (&entry.target, &entry.action) {
                    (Target::Key(key), Action::Set { value, raw }) => Some(Assignment {
                        file,
                        line: entry.line,
                        key,
                        raw,
                        value,
                    }),
                    // Globs and `-key` exclusions set no value of their own.
                    _ => None,
                })
        })
        .collect();

    let paths: Vec<&Path> = files.iter().map(|file| file.path).collect();
    let ranks = conf::boot_ranks(&paths);
    let mut in_boot_order: Vec<&Assignment<'_>> = assignments.iter().collect();
    // Stable: assignments start in input order, so equal ranks keep it.
    in_boot_order.sort_by_key(|assignment| (ranks[assignment.file], assignment.line));
    let mut by_key: BTreeMap<&Key, Vec<&Assignment<'_>>> = BTreeMap::new();
    for assignment in in_boot_order {
        by_key.entry(assignment.key).or_default().push(assignment);
    }
    let context = Files {
        paths: files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect(),
        names: files.iter().map(|file| file_name(file.path)).collect(),
        by_key,
        kernel,
    };

    let mut found = Vec::new();
    for (index, file) in parsed.iter().enumerate() {
        for diagnostic in &file.diagnostics {
            found.push(Located {
                file: index,
                line: diagnostic.line,
                finding: invalid_line(file, diagnostic),
            });
        }
    }
    for assignment in &assignments {
        for finding in check_assignment(assignment, kernel) {
            found.push(Located {
                file: assignment.file,
                line: assignment.line,
                finding,
            });
        }
    }
    found.extend(duplicates(&context));
    found.extend(harmful(&context));

    found.sort_by_key(|located| (located.file, located.line));
    found
        .into_iter()
        .map(|located| {
            let path = context.paths[located.file].clone();
            located.finding.location(path, located.line)
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// A conf diagnostic as a finding. Invalid keys arrive here too: the parser
/// reports every `Target::Invalid` entry as a diagnostic.
fn invalid_line(file: &ParsedFile, diagnostic: &Diagnostic) -> Finding {
    let severity = match diagnostic.severity() {
        conf::Impact::Error => Severity::Error,
        conf::Impact::Warning => Severity::Warning,
    };
    let (rationale, fix): (&str, &str) = match &diagnostic.kind {
        DiagnosticKind::NotAnAssignment { .. } => (
            "systemd-sysctl and `sysctl --system` accept only `key = value` lines, `-key` exclusions and comments (a first non-blank `#` or `;`). They warn about any other line and skip it, so whatever it was meant to set is not applied.",
            "write it as `key = value`, or start it with `#` if it is a comment",
        ),
        DiagnosticKind::InvalidKey(_) => (
            "No sysctl has a name like this (names are words joined by `.` or `/`, without blanks), so the line cannot set anything.",
            "correct the key (`sysctl -a` lists the names a kernel has) or delete the line",
        ),
        DiagnosticKind::EmptyValue => (
            "Both loaders write an empty string to the key, which the kernel refuses for almost every key.",
            "give the key a value, or delete the line to leave the key alone",
        ),
        DiagnosticKind::TrailingComment => (
            "sysctl files have no trailing comments: everything after `=` up to the end of the line, `#` included, is written to the kernel. A number key stores the leading number and ignores the rest (`4096 # was 128` sets 4096); a name key (a congestion control) looks the whole text up and refuses it.",
            "move the comment to a line of its own that starts with `#`",
        ),
        DiagnosticKind::BlankAfterDash => (
            "systemd-sysctl skips blanks after the leading `-`; procps keeps them as part of the key and finds no such key, so the two loaders treat this line differently.",
            "remove the blank: `-key = value`",
        ),
        DiagnosticKind::NotUtf8 => (
            "Sysctl names and the values people write are plain text; bytes that are not UTF-8 mean a binary, damaged or wrongly encoded file, and the loaders pass such bytes on unchanged.",
            "remove the stray bytes, or save the file again as plain text (UTF-8)",
        ),
        DiagnosticKind::LineTooLong { .. } => (
            "systemd-sysctl stops reading a file at a line longer than 1 MiB, so nothing from here on is applied by it at boot, while procps `sysctl --system` reads on: the two loaders disagree about every later line.",
            "shorten the line or delete it",
        ),
    };
    let mut finding = Finding::new(
        Code::InvalidLine,
        severity,
        excerpt(&diagnostic.kind.to_string(), 200),
    )
    .rationale(rationale)
    .fix(fix)
    .evidence("column", diagnostic.column);
    // Name the key when the line still has a valid one (an empty value, a
    // `#` inside the value), so the finding can be grouped with the others.
    let entry = file
        .entries
        .iter()
        .find(|entry| entry.line == diagnostic.line);
    if let Some(entry) = entry {
        match &entry.target {
            Target::Key(key) => finding = finding.key(key),
            Target::Glob(glob) => finding = finding.key(glob),
            Target::Invalid(_) => {
                finding = finding.evidence("raw_key", excerpt(&entry.raw_key, 200));
            }
        }
        if let Some(raw) = entry.action.raw() {
            finding = finding.current(excerpt(raw, 200));
        }
    }
    finding
}

/// Text quoted from a file, cut to `limit` characters (a junk line can be a
/// megabyte long). Kept raw: the printers escape what they show.
fn excerpt(text: &str, limit: usize) -> String {
    let mut out: String = text.chars().take(limit).collect();
    if text.chars().nth(limit).is_some() {
        out.push('…');
    }
    out
}

/// A value for a message: an empty one (`key =`) is shown as `""` so that
/// the sentence still reads.
fn value_text(raw: &str) -> String {
    if raw.is_empty() {
        "\"\"".to_owned()
    } else {
        excerpt(raw, 200)
    }
}

/// The checks that look at one line alone. Every line counts, not just the
/// one that wins: procps writes each assignment in turn.
fn check_assignment(assignment: &Assignment<'_>, kernel: Option<KernelVersion>) -> Vec<Finding> {
    let name = assignment.key.to_string();
    let mut findings = Vec::new();
    if let Some(info) = knowledge::lookup(&name) {
        let line = Line { assignment, kernel };
        // Keys gone or ignored on this kernel: every line that sets them.
        for verdict in judgements::evaluate(&line, &[Kind::Obsolete, Kind::NoOp]) {
            findings.push(verdict.finding);
        }
        let judged_missing = findings
            .iter()
            .any(|finding| finding.code == Code::ObsoleteKey);
        if !judged_missing && let Some(finding) = not_there(assignment, &name, info, kernel) {
            findings.push(finding);
        }
        findings.extend(invalid_value(assignment, &name, info, kernel));
    } else if let Some((_, note)) = knowledge::VENDOR_ONLY_KEYS
        .iter()
        .find(|(vendor_key, _)| *vendor_key == name)
    {
        findings.push(vendor_only(assignment, &name, note));
    } else if let Some(near) = knowledge::likely_typo(assignment.key) {
        findings.push(typo(assignment, &name, near));
    }
    findings
}

/// A key this kernel does not have (yet, or any more) without a judgement
/// of its own: the line does nothing there.
fn not_there(
    assignment: &Assignment<'_>,
    name: &str,
    info: &KeyInfo,
    kernel: Option<KernelVersion>,
) -> Option<Finding> {
    let version = kernel?;
    let (code, what) = match info.presence(version) {
        Presence::Present | Presence::Unsure(_) => return None,
        Presence::NotYet(event) => (
            Code::UnknownKey,
            format!(
                "{name} does not exist on Linux {version}: it was added {} upstream (distribution kernels may carry it earlier)",
                event.when.in_words()
            ),
        ),
        Presence::Removed(event) => (
            Code::ObsoleteKey,
            format!(
                "{name} does not exist on Linux {version}: it was removed {}",
                event.when.in_words()
            ),
        ),
    };
    Some(
        Finding::new(code, Severity::Info, format!("{what}; this line does nothing there"))
            .key(name)
            .current(excerpt(assignment.raw, 200))
            .rationale(format!("{MISSING_KEY} What the key does where it exists: {}", info.summary))
            .evidence("kernel", version.to_string())
            .fix("keep the line only if the file is also used on kernels that have the key; otherwise delete it"),
    )
}

/// A value the kernel refuses, reads differently from how it is written, or
/// stores without a documented meaning.
fn invalid_value(
    assignment: &Assignment<'_>,
    name: &str,
    info: &KeyInfo,
    kernel: Option<KernelVersion>,
) -> Option<Finding> {
    // An empty value is already an `invalid-line` finding of its own.
    if assignment.value.is_empty() {
        return None;
    }
    // A value with a comment after it is an `invalid-line` finding; judge
    // what the kernel makes of the rest.
    let admits = |first: KernelVersion, next: Option<KernelVersion>| {
        kernel.is_none_or(|kernel| {
            let kernel = v_line(kernel);
            first <= kernel && next.is_none_or(|next| kernel < next)
        })
    };
    let problems = info.problems(assignment.raw, admits);
    let raw = excerpt(assignment.raw, 200);
    let handlers = match kernel {
        Some(kernel) => info.handlers(kernel),
        None => info.all_handlers(),
    };
    let accepts = handlers
        .iter()
        .map(|handler| handler.describe())
        .collect::<Vec<_>>()
        .join(", or ");
    if let Some((since, problem)) = problems
        .iter()
        .find(|(_, problem)| problem.starts_with("the kernel refuses"))
    {
        let when = match kernel {
            Some(kernel) => format!("on Linux {kernel}"),
            None if problems.len() == 1 && *since == knowledge::history::OLDEST => {
                "on every kernel".into()
            }
            None => {
                format!("on some kernels (the first: {since}; the kernel version is not known)")
            }
        };
        let finding = Finding::new(
            Code::InvalidValue,
            Severity::Error,
            format!("{name} = {raw}: {problem}"),
        )
        .key(name)
        .current(&raw)
        .expected(&accepts)
        .rationale(if handlers.contains(&knowledge::Handler::ReadOnly) {
            format!("{name} is read-only: the kernel reports it and refuses writes, even from root, so this line changes nothing ({when}).")
        } else {
            format!("{name} accepts {accepts} ({when}). The kernel refuses this value (EINVAL), so the key keeps the value it had. What the key does: {}", info.summary)
        })
        .fix(if handlers.contains(&knowledge::Handler::ReadOnly) {
            "delete the line".to_owned()
        } else {
            format!("write a value the kernel accepts ({accepts}), or delete the line to keep the default")
        });
        return Some(finding);
    }
    if let Some((_, problem)) = problems.first() {
        return Some(
            Finding::new(
                Code::InvalidValue,
                Severity::Warning,
                format!("{name} = {raw}: {problem}"),
            )
            .key(name)
            .current(&raw)
            .rationale("The kernel reads a number in base 0 (`0x` hex, a leading `0` octal) and stores only as many numbers as the key holds, ignoring the rest of the line; what it stores is not what the line says.")
            .fix("write the value exactly as the kernel stores it"),
        );
    }
    let meaningful = info.meaningful?;
    let number = knowledge::as_stored(assignment.key, assignment.raw, kernel).as_integer()?;
    (!meaningful.contains(&number)).then(|| {
        let list = meaningful.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        Finding::new(
            Code::InvalidValue,
            Severity::Warning,
            format!("{name} = {raw}: only {list} have a meaning"),
        )
        .key(name)
        .current(&raw)
        .expected(format!("one of {list}"))
        .rationale(format!("The kernel stores {number}, but only {list} have a documented meaning. What the key does: {}", info.summary))
        .fix(format!("set {name} to one of {list}, or delete the line to keep the default"))
    })
}

/// The release line of a version, for comparisons.
fn v_line(version: KernelVersion) -> KernelVersion {
    KernelVersion::new(version.major, version.minor, 0)
}

fn vendor_only(assignment: &Assignment<'_>, name: &str, note: &str) -> Finding {
    let mut fix = String::from("delete the line: mainline kernels have no such key");
    if name == TW_TIMEOUT {
        fix.push_str(
            "; to have fewer TIME_WAIT sockets, reuse connections (keep-alive, connection pools), and for this host's own outgoing connections use net.ipv4.tcp_tw_reuse = 1",
        );
    }
    Finding::new(
        Code::UnknownKey,
        Severity::Warning,
        format!("{name} is not a mainline kernel key"),
    )
    .key(name)
    .current(assignment.raw)
    .rationale(format!(
        "{name} {note}. On a mainline kernel the line does nothing: {MISSING_KEY}"
    ))
    .fix(fix)
}

fn typo(assignment: &Assignment<'_>, name: &str, near: &str) -> Finding {
    let consequence = MISSING_KEY;
    Finding::new(
        Code::UnknownKey,
        Severity::Warning,
        format!("{name} is not a key tcptune knows; did you mean {near}?"),
    )
    .key(name)
    .current(excerpt(assignment.raw, 200))
    .rationale(format!(
        "{name} is neither a key tcptune describes nor another mainline kernel key it knows of, and it is a few letters away from {near}. A misspelt key names no file under /proc/sys, so the line does nothing and {near} keeps whatever value it had: {consequence}"
    ))
    .evidence("did_you_mean", near)
    .fix(format!(
        "if you meant {near}, write `{near} = {}`; otherwise check the name against `sysctl -a`",
        excerpt(assignment.raw, 200)
    ))
}

/// Keys set more than once. Within a file the later line wins; across files
/// the file applied last wins. Each overridden assignment gets one finding:
/// an earlier line of the same file names the file's last line, and a
/// file's last line names the winner at boot when that is in another file.
fn duplicates(files: &Files<'_>) -> Vec<Located> {
    let mut found = Vec::new();
    for (key, assignments) in &files.by_key {
        let Some(winner) = assignments.last() else {
            continue;
        };
        for (position, assignment) in assignments.iter().enumerate() {
            let later_in_file = assignments[position + 1..]
                .iter()
                .rfind(|later| later.file == assignment.file);
            let finding = match later_in_file {
                Some(later) => duplicate_in_file(key, assignment, later, files),
                None if assignment.file != winner.file => {
                    duplicate_across_files(key, assignment, winner, files)
                }
                None => continue,
            };
            found.push(Located {
                file: assignment.file,
                line: assignment.line,
                finding,
            });
        }
    }
    found
}

fn duplicate_in_file(
    key: &Key,
    assignment: &Assignment<'_>,
    later: &Assignment<'_>,
    files: &Files<'_>,
) -> Finding {
    let (line, later_line) = (assignment.line, later.line);
    Finding::new(
        Code::DuplicateKey,
        Severity::Warning,
        format!(
            "{key} is set on line {line} and again on line {later_line} of this file; line {later_line} wins ({key} = {})",
            value_text(later.raw)
        ),
    )
    .key(key)
    .current(excerpt(assignment.raw, 200))
    .rationale(
        "The loaders apply a file's lines in order, so for a key set twice the later line decides the value (procps writes both one after the other; systemd-sysctl writes only the last). Someone who edits the earlier line changes nothing.",
    )
    .evidence("overridden_by", files.place(later))
    .evidence("winning_value", excerpt(later.raw, 200))
    .fix(format!(
        "keep one assignment of {key}: delete line {line}, and put the value you want on line {later_line}"
    ))
}

fn duplicate_across_files(
    key: &Key,
    assignment: &Assignment<'_>,
    winner: &Assignment<'_>,
    files: &Files<'_>,
) -> Finding {
    let raw = value_text(assignment.raw);
    let winner_raw = value_text(winner.raw);
    let winner_place = files.place(winner);
    let (name, winner_name) = (&files.names[assignment.file], &files.names[winner.file]);
    let why_later = if winner_name == name {
        format!(
            "Both files are named `{name}`; as given, the second is taken as applied later, though in real sysctl.d directories the copy in /etc hides a same-named file in /run or /usr/lib altogether"
        )
    } else if winner_name == SYSCTL_CONF_NAME {
        format!(
            "procps reads `{SYSCTL_CONF_NAME}` after every sysctl.d file (systemd-sysctl reads it through the 99-sysctl.conf link many distributions ship), so it comes after `{name}`"
        )
    } else {
        format!("`{winner_name}` sorts after `{name}`")
    };
    let same = assignment.value == winner.value;
    let (severity, message, effect, fix) = if same {
        (
            Severity::Info,
            format!(
                "{key} = {raw} is set again, to the same value, by {winner_place}, which is applied later at boot"
            ),
            "The two agree today, but an edit made here would be silently overridden.",
            format!("set {key} in one file only: delete this line, or the one at {winner_place}"),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{key} = {raw} here is overridden at boot by {winner_place} ({key} = {winner_raw})"
            ),
            "The value on this line never takes effect at boot.",
            format!(
                "keep {key} in one file: delete this line, or put the value you want at {winner_place}"
            ),
        )
    };
    Finding::new(Code::DuplicateKey, severity, message)
        .key(key)
        .current(excerpt(assignment.raw, 200))
        .rationale(format!(
            "systemd-sysctl and `sysctl --system` apply sysctl.d files sorted by file name, whatever their directory, and for a key set more than once the last assignment wins. {why_later}, so {winner_place} decides the value. {effect}"
        ))
        .evidence("overridden_by", winner_place.clone())
        .evidence("winning_value", excerpt(winner.raw, 200))
        .fix(fix)
}

/// Judgements on what each key holds after boot: an assignment some later
/// line overrides harms nothing (it is a `duplicate-key` finding instead).
fn harmful(files: &Files<'_>) -> Vec<Located> {
    judgements::evaluate(files, &[Kind::Harmful, Kind::Lowered])
        .into_iter()
        .filter_map(|verdict| {
            let assignment = files.effective(verdict.judgement.key)?;
            Some(Located {
                file: assignment.file,
                line: assignment.line,
                finding: verdict.finding,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use Severity::{Error, Info, Warning};

    const TW_RECYCLE: &str = "net.ipv4.tcp_tw_recycle";
    const TW_REUSE: &str = "net.ipv4.tcp_tw_reuse";
    const TIMESTAMPS: &str = "net.ipv4.tcp_timestamps";
    const SYNCOOKIES: &str = "net.ipv4.tcp_syncookies";
    const MAX_TW_BUCKETS: &str = "net.ipv4.tcp_max_tw_buckets";
    const TW_TIMEOUT_KEY: &str = TW_TIMEOUT;

    /// The kernel most tests judge for.
    const NEW: Option<KernelVersion> = Some(KernelVersion::new(6, 18, 0));

    /// One finding as the tests compare it: code, key, severity and
    /// `file-name:line`.
    type Row = (&'static str, String, Severity, String);

    fn row(finding: &Finding) -> Row {
        let location = finding
            .location
            .as_ref()
            .expect("every lint finding has a location");
        let name = file_name(Path::new(&location.path));
        (
            finding.code.name(),
            finding.key.clone().unwrap_or_default(),
            finding.severity,
            format!("{name}:{}", location.line),
        )
    }

    fn expect(code: &'static str, key: &str, severity: Severity, at: &str) -> Row {
        (code, key.to_owned(), severity, at.to_owned())
    }

    fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/lint")
            .join(name);
        let content =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        (path, content)
    }

    fn lint_files(files: &[(PathBuf, Vec<u8>)]) -> Vec<Finding> {
        let inputs: Vec<LintInput<'_>> = files
            .iter()
            .map(|(path, content)| LintInput { path, content })
            .collect();
        lint(&inputs, NEW)
    }

    fn lint_fixtures(names: &[&str]) -> Vec<Finding> {
        lint_files(&names.iter().map(|name| fixture(name)).collect::<Vec<_>>())
    }

    /// Files given as (path, text), for small inline cases.
    fn lint_texts(files: &[(&str, &str)]) -> Vec<Finding> {
        lint_files(
            &files
                .iter()
                .map(|(path, text)| (PathBuf::from(path), text.as_bytes().to_vec()))
                .collect::<Vec<_>>(),
        )
    }

    fn rows(findings: &[Finding]) -> Vec<Row> {
        findings.iter().map(row).collect()
    }

    #[test]
    fn folklore_is_flagged_line_by_line() {
        let findings = lint_fixtures(&["folklore.conf"]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("obsolete-key", TW_RECYCLE, Warning, "folklore.conf:3"),
                expect(
                    "unknown-key",
                    "net.ipv4.tcp_tw_resue",
                    Warning,
                    "folklore.conf:4"
                ),
                expect("unknown-key", TW_TIMEOUT, Warning, "folklore.conf:7"),
                expect("harmful-value", TIMESTAMPS, Warning, "folklore.conf:9"),
                expect("harmful-value", SYNCOOKIES, Warning, "folklore.conf:13"),
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "folklore.conf:15"
                ),
            ]
        );

        let obsolete = &findings[0];
        assert_eq!(
            obsolete.message,
            "tcp_tw_recycle was removed from Linux in 4.12: this line does nothing"
        );
        // procps `sysctl --system` skips a missing key and exits 0.
        assert!(!obsolete.rationale.contains("exit with status 1"));
        assert!(
            obsolete
                .rationale
                .contains("`sysctl --system` skips a missing key silently and exits 0"),
            "{}",
            obsolete.rationale
        );
        assert!(obsolete.fix.contains("tcp_tw_reuse"));

        let typo = &findings[1];
        assert!(
            typo.message
                .ends_with("did you mean net.ipv4.tcp_tw_reuse?"),
            "{}",
            typo.message
        );
        assert_eq!(typo.evidence["did_you_mean"], TW_REUSE);
        assert!(
            typo.fix.contains("`net.ipv4.tcp_tw_reuse = 1`"),
            "{}",
            typo.fix
        );

        let vendor = &findings[2];
        assert!(
            vendor
                .rationale
                .contains("exists only in one vendor kernel")
        );
        assert!(vendor.rationale.contains("60 s"));

        // tcp_tw_reuse is only misspelt in this file, so its default 2 holds.
        let timestamps = &findings[3];
        assert!(
            timestamps
                .rationale
                .contains("tcp_tw_reuse is 2 here (its default)")
        );
        assert_eq!(
            (
                timestamps.current.as_deref(),
                timestamps.expected.as_deref()
            ),
            (Some("0"), Some("1"))
        );

        // tcp_max_tw_buckets = 5000 (line 11) is not provably below this
        // host's default: half the established hash, 4096 with 1 GiB.
        assert!(
            !findings
                .iter()
                .any(|finding| finding.key.as_deref() == Some(MAX_TW_BUCKETS))
        );

        let duplicate = &findings[5];
        assert!(
            duplicate.message.contains("line 15 and again on line 17"),
            "{}",
            duplicate.message
        );
        assert_eq!(duplicate.current.as_deref(), Some("1024"));
        assert_eq!(duplicate.evidence["winning_value"], "65535");

        // tcp_fin_timeout = 10 is folklore but a legal, harmless value.
        assert!(
            !findings
                .iter()
                .any(|finding| finding.location.as_ref().is_some_and(|at| at.line == 6))
        );
    }

    #[test]
    fn clean_file_has_nothing_to_report() {
        assert_eq!(rows(&lint_fixtures(&["clean.conf"])), Vec::<Row>::new());
    }

    #[test]
    fn across_files_the_later_file_name_wins_whatever_the_input_order() {
        let expected = vec![
            expect(
                "duplicate-key",
                "net.core.somaxconn",
                Warning,
                "90-tuning.conf:2",
            ),
            expect(
                "duplicate-key",
                "net.ipv4.tcp_fin_timeout",
                Info,
                "90-tuning.conf:3",
            ),
        ];
        // 99-sysctl.conf's somaxconn = 1024 wins, and is below 6.18's
        // default 4096: a harmful-value finding of its own, left out here.
        let duplicates_only = |findings: Vec<Finding>| -> Vec<Finding> {
            findings
                .into_iter()
                .filter(|finding| finding.code == Code::DuplicateKey)
                .collect()
        };
        let reversed = duplicates_only(lint_fixtures(&["99-sysctl.conf", "90-tuning.conf"]));
        assert_eq!(rows(&reversed), expected);
        assert_eq!(
            rows(&duplicates_only(lint_fixtures(&[
                "90-tuning.conf",
                "99-sysctl.conf"
            ]))),
            expected
        );

        let somaxconn = &reversed[0];
        assert!(
            somaxconn.message.contains("overridden at boot by"),
            "{}",
            somaxconn.message
        );
        assert!(
            somaxconn
                .message
                .ends_with("99-sysctl.conf:8 (net.core.somaxconn = 1024)"),
            "{}",
            somaxconn.message
        );
        assert!(
            somaxconn
                .rationale
                .contains("`99-sysctl.conf` sorts after `90-tuning.conf`")
        );
        assert_eq!(somaxconn.current.as_deref(), Some("8192"));
        let overridden_by = somaxconn.evidence["overridden_by"]
            .as_str()
            .unwrap_or_default();
        assert!(
            overridden_by.ends_with("99-sysctl.conf:8"),
            "{overridden_by}"
        );
        assert!(reversed[1].message.contains("to the same value"));
    }

    #[test]
    fn garbage_lines_become_invalid_line_findings() {
        let findings = lint_fixtures(&["garbage.conf"]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("invalid-line", "", Error, "garbage.conf:4"),
                expect(
                    "invalid-line",
                    "net.ipv4.tcp_dsack",
                    Warning,
                    "garbage.conf:7"
                ),
                expect(
                    "invalid-line",
                    "net.ipv4.tcp_fin_timeout",
                    Warning,
                    "garbage.conf:8"
                ),
                expect(
                    "invalid-value",
                    "net.ipv4.tcp_fin_timeout",
                    Warning,
                    "garbage.conf:8"
                ),
                expect("invalid-line", "", Error, "garbage.conf:9"),
                expect(
                    "invalid-line",
                    "net.core.somaxconn",
                    Warning,
                    "garbage.conf:10"
                ),
                expect("invalid-line", "", Warning, "garbage.conf:11"),
                expect("invalid-line", "", Error, "garbage.conf:11"),
            ]
        );
        assert!(findings[0].message.contains("not an assignment"));
        assert_eq!(
            findings[4].evidence["raw_key"],
            "net.ipv4.tcp keepalive_time"
        );
        // The binary junk is quoted raw (the printers escape it) and cut
        // short: a junk line can be a megabyte long.
        assert!(findings[7].message.contains("ELF"));
        assert!(findings[7].message.chars().count() < 400);
    }

    #[test]
    fn fixtures_together_keep_input_order_then_line_order() {
        let names = [
            "garbage.conf",
            "folklore.conf",
            "clean.conf",
            "99-sysctl.conf",
            "90-tuning.conf",
        ];
        let findings = lint_fixtures(&names);
        let places: Vec<(usize, usize)> = findings
            .iter()
            .filter_map(|finding| finding.location.as_ref())
            .map(|at| {
                let name = file_name(Path::new(&at.path));
                let file = names.iter().position(|known| *known == name);
                (file.unwrap_or(usize::MAX), at.line)
            })
            .collect();
        assert_eq!(places.len(), findings.len());
        assert!(
            places.windows(2).all(|pair| pair[0] <= pair[1]),
            "{places:?}"
        );
        // Every file has something to say once they are read together: the
        // clean file shares keys with the others, and sorts first.
        let files: Vec<usize> = places.iter().map(|(file, _)| *file).collect();
        assert_eq!(files.first(), Some(&0));
        assert!(
            (0..names.len() - 1).all(|file| files.contains(&file)),
            "{files:?}"
        );
        for finding in &findings {
            assert!(
                !finding.message.is_empty()
                    && !finding.rationale.is_empty()
                    && !finding.fix.is_empty(),
                "{finding:?}"
            );
        }
    }

    #[test]
    fn both_key_spellings_are_one_key() {
        let findings = lint_texts(&[(
            "/etc/sysctl.d/50-vlan.conf",
            "net.ipv4.conf.eth0/100.rp_filter = 1\nnet/ipv4/conf/eth0.100/rp_filter = 2\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![expect(
                "duplicate-key",
                "net.ipv4.conf.eth0/100.rp_filter",
                Warning,
                "50-vlan.conf:1"
            )]
        );
    }

    #[test]
    fn every_earlier_line_in_a_file_names_the_last_one() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.core.somaxconn = 1024\nnet.core.somaxconn = 2048\nnet.core.somaxconn = 4096\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("duplicate-key", "net.core.somaxconn", Warning, "a.conf:1"),
                expect("duplicate-key", "net.core.somaxconn", Warning, "a.conf:2"),
            ]
        );
        assert!(
            findings[0].message.contains("line 1 and again on line 3"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[1].message.contains("line 2 and again on line 3"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn a_file_losing_to_another_reports_within_and_across() {
        let findings = lint_texts(&[
            (
                "/etc/sysctl.d/10-a.conf",
                "net.core.somaxconn = 1024\nnet.core.somaxconn = 2048\n",
            ),
            ("/etc/sysctl.d/20-b.conf", "net.core.somaxconn = 4096\n"),
        ]);
        assert_eq!(
            rows(&findings),
            vec![
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "10-a.conf:1"
                ),
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "10-a.conf:2"
                ),
            ]
        );
        assert!(findings[0].message.contains("again on line 2"));
        assert!(
            findings[1].message.contains("/etc/sysctl.d/20-b.conf:1"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn sysctl_conf_is_applied_after_every_sysctl_d_file() {
        let findings = lint_texts(&[
            ("/etc/sysctl.conf", "net.core.somaxconn = 1024\n"),
            ("/etc/sysctl.d/zz-last.conf", "net.core.somaxconn = 4096\n"),
        ]);
        assert_eq!(
            rows(&findings),
            vec![
                // 1024 wins at boot, below 6.18's default 4096.
                expect(
                    "harmful-value",
                    "net.core.somaxconn",
                    Warning,
                    "sysctl.conf:1"
                ),
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "zz-last.conf:1"
                )
            ]
        );
        assert!(
            findings[1].message.contains("/etc/sysctl.conf:1"),
            "{}",
            findings[1].message
        );
        assert!(findings[1].rationale.contains("after every sysctl.d file"));
    }

    #[test]
    fn harm_is_judged_on_the_value_in_force_after_boot() {
        // Turned off early, turned back on by a later file: only a duplicate.
        let repaired = lint_texts(&[
            (
                "10-old.conf",
                "net.ipv4.tcp_syncookies = 0\nnet.ipv4.tcp_tw_recycle = 1\n",
            ),
            (
                "20-fix.conf",
                "net.ipv4.tcp_syncookies = 1\nnet.ipv4.tcp_tw_recycle = 0\n",
            ),
        ]);
        assert_eq!(
            rows(&repaired),
            vec![
                expect("duplicate-key", SYNCOOKIES, Warning, "10-old.conf:1"),
                expect("obsolete-key", TW_RECYCLE, Warning, "10-old.conf:2"),
                expect("duplicate-key", TW_RECYCLE, Warning, "10-old.conf:2"),
                expect("obsolete-key", TW_RECYCLE, Warning, "20-fix.conf:2"),
            ]
        );
        // The other way round the harmful line is the one that wins.
        let broken = lint_texts(&[
            ("20-late.conf", "net.ipv4.tcp_syncookies = 0\n"),
            ("10-early.conf", "net.ipv4.tcp_syncookies = 1\n"),
        ]);
        assert_eq!(
            rows(&broken),
            vec![
                expect("harmful-value", SYNCOOKIES, Warning, "20-late.conf:1"),
                expect("duplicate-key", SYNCOOKIES, Warning, "10-early.conf:1"),
            ]
        );
    }

    #[test]
    fn timestamps_off_is_harmful_and_says_what_reuse_loses() {
        let alone = lint_texts(&[("a.conf", "net.ipv4.tcp_timestamps = 0\n")]);
        assert_eq!(
            rows(&alone),
            vec![expect("harmful-value", TIMESTAMPS, Warning, "a.conf:1")]
        );
        // 6.18's tcp_tw_reuse default is 2.
        assert!(
            alone[0]
                .rationale
                .contains("tcp_tw_reuse is 2 here (its default)"),
            "{}",
            alone[0].rationale
        );

        let reuse_off = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_timestamps = 0\nnet.ipv4.tcp_tw_reuse = 0\n",
        )]);
        assert_eq!(
            rows(&reuse_off),
            vec![expect("harmful-value", TIMESTAMPS, Warning, "a.conf:1")]
        );
        assert!(reuse_off[0].rationale.contains("only PAWS is lost"));

        // tcp_tw_reuse = 1 from another file, later in boot order.
        let reuse_elsewhere = lint_texts(&[
            ("/etc/sysctl.d/10-ts.conf", "net.ipv4.tcp_timestamps = 0\n"),
            (
                "/etc/sysctl.d/20-reuse.conf",
                "net.ipv4.tcp_tw_reuse = 0\nnet.ipv4.tcp_tw_reuse = 1\n",
            ),
        ]);
        assert_eq!(
            rows(&reuse_elsewhere),
            vec![
                expect("harmful-value", TIMESTAMPS, Warning, "10-ts.conf:1"),
                expect("duplicate-key", TW_REUSE, Warning, "20-reuse.conf:1"),
            ]
        );
        assert!(
            reuse_elsewhere[0]
                .rationale
                .contains("tcp_tw_reuse is 1 here (set at /etc/sysctl.d/20-reuse.conf:2)")
        );

        let timestamps_on = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_timestamps = 1\nnet.ipv4.tcp_tw_reuse = 1\n",
        )]);
        assert_eq!(rows(&timestamps_on), Vec::<Row>::new());
    }
    #[test]
    fn tw_buckets_are_flagged_below_the_smallest_real_default_only() {
        // Half the established hash: 4096 with 1 GiB of RAM, more with more.
        let low = lint_texts(&[("a.conf", "net.ipv4.tcp_max_tw_buckets = 4095\n")]);
        assert_eq!(
            rows(&low),
            vec![expect("harmful-value", MAX_TW_BUCKETS, Warning, "a.conf:1")]
        );
        assert_eq!(low[0].current.as_deref(), Some("4095"));
        assert!(!low[0].rationale.contains("typical"));
        for enough in ["4096", "65535", "5000"] {
            let findings = lint_texts(&[(
                "a.conf",
                &format!("net.ipv4.tcp_max_tw_buckets = {enough}\n"),
            )]);
            assert_eq!(rows(&findings), Vec::<Row>::new(), "{enough}");
        }
    }
    #[test]
    fn real_kernel_keys_are_not_typos_and_other_trees_are_left_alone() {
        let text = [
            "net.ipv4.tcp_dsack = 1",
            "net.ipv4.tcp_fack = 0",
            "net.ipv4.tcp_ecn = 2",
            "net.ipv4.tcp_frto = 2",
            "net.ipv4.tcp_retries1 = 3",
            "net.ipv4.tcp_fastopen_key = 00000000-00000000-00000000-00000000",
            "net.ipv4.udp_mem = 1 2 3",
            "net.ipv4.udp_hash_entries = 0",
            "net.core.optmem_max = 81920",
            "net.ipv4.tcp_abc = 0",
            "net.ipv6.ip_nonlocal_bind = 1",
            // Unknown to tcptune and far from every key it knows.
            "net.netfilter.nf_conntrack_max = 262144",
            "net.ipv4.conf.all.accept_redirects = 0",
            // Typos outside net. are not tcptune's business.
            "kernel.pid_mx = 4194304",
            "vm.swapiness = 10",
        ]
        .join("\n");
        // tcp_fack exists on 6.18 but does nothing there: said, as info.
        assert_eq!(
            rows(&lint_texts(&[("a.conf", &text)])),
            vec![expect(
                "obsolete-key",
                "net.ipv4.tcp_fack",
                Info,
                "a.conf:2"
            )]
        );
    }

    #[test]
    fn misspelt_net_keys_get_a_suggestion() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.core.somaxcon = 4096\nnet.ipv6.ip_local_port_range = 1024 65000\n-net.ipv4.tcp_fin_timout = 30\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("unknown-key", "net.core.somaxcon", Warning, "a.conf:1"),
                expect(
                    "unknown-key",
                    "net.ipv6.ip_local_port_range",
                    Warning,
                    "a.conf:2"
                ),
                expect(
                    "unknown-key",
                    "net.ipv4.tcp_fin_timout",
                    Warning,
                    "a.conf:3"
                ),
            ]
        );
        assert_eq!(findings[0].evidence["did_you_mean"], "net.core.somaxconn");
        assert_eq!(
            findings[1].evidence["did_you_mean"],
            "net.ipv4.ip_local_port_range"
        );
        assert!(
            findings[2]
                .rationale
                .contains("skips a key the kernel lacks silently (exit 0)"),
            "{}",
            findings[2].rationale
        );
    }

    #[test]
    fn a_removed_key_is_judged_for_the_kernel_given() {
        let text = "-net.ipv4.tcp_tw_recycle = 1\n-net.ipv4.tcp_tw_timeout = 5\n";
        // 6.18: the key is gone, the line does nothing; no exit-1 claim.
        let findings = lint_texts(&[("a.conf", text)]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("obsolete-key", TW_RECYCLE, Warning, "a.conf:1"),
                expect("unknown-key", TW_TIMEOUT_KEY, Warning, "a.conf:2"),
            ]
        );
        assert!(
            findings[0]
                .rationale
                .contains("skips a missing key silently and exits 0")
        );
        assert!(!findings[0].rationale.contains("at every boot"));
        // 4.9: the key exists and 1 is harmful; nothing is obsolete.
        let old = lint(
            &[LintInput {
                path: Path::new("a.conf"),
                content: text.as_bytes(),
            }],
            Some(KernelVersion::new(4, 9, 0)),
        );
        assert_eq!(
            rows(&old),
            vec![
                expect("harmful-value", TW_RECYCLE, Error, "a.conf:1"),
                expect("unknown-key", TW_TIMEOUT_KEY, Warning, "a.conf:2"),
            ]
        );
        assert!(old[0].rationale.contains("4.10 or later"));
        // No kernel known: both, each saying on which releases it holds.
        let unknown = lint(
            &[LintInput {
                path: Path::new("a.conf"),
                content: text.as_bytes(),
            }],
            None,
        );
        assert_eq!(
            rows(&unknown)[..2],
            [
                expect("obsolete-key", TW_RECYCLE, Warning, "a.conf:1"),
                expect("harmful-value", TW_RECYCLE, Error, "a.conf:1"),
            ]
        );
        assert_eq!(
            unknown[0].evidence["depends_on_kernel"],
            "on Linux 4.12 and later"
        );
        assert_eq!(
            unknown[1].evidence["depends_on_kernel"],
            "on kernels before 4.12"
        );
    }
    #[test]
    fn exclusions_and_globs_are_not_value_checked() {
        let findings = lint_texts(&[(
            "a.conf",
            "-net.ipv4.tcp_tw_recycle\n-net.ipv4.tcp_tw_timeout\nnet.ipv4.conf.*.rp_filter = 9\nnet.ipv4.tcp_tw_re*se = 7\n-net.ipv4.conf.lo.rp_filter\n",
        )]);
        assert_eq!(rows(&findings), Vec::<Row>::new());
    }

    #[test]
    fn values_outside_the_accepted_range_are_errors() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_tw_reuse = 3\nnet.ipv4.ip_local_port_range = 60999 32768\nnet.ipv4.tcp_available_congestion_control = bbr\nnet.ipv4.tcp_allowed_congestion_control = cubic bbr\nnet.ipv4.tcp_rmem = 4096 131072\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("invalid-value", TW_REUSE, Error, "a.conf:1"),
                expect(
                    "invalid-value",
                    "net.ipv4.ip_local_port_range",
                    Error,
                    "a.conf:2"
                ),
                expect(
                    "invalid-value",
                    "net.ipv4.tcp_available_congestion_control",
                    Error,
                    "a.conf:3"
                ),
                expect("invalid-value", "net.ipv4.tcp_rmem", Warning, "a.conf:5"),
            ]
        );
        assert_eq!(
            findings[0].message,
            "net.ipv4.tcp_tw_reuse = 3: the kernel refuses it (3 is above the maximum 2); it accepts integer 0..2"
        );
        assert_eq!(
            (
                findings[0].current.as_deref(),
                findings[0].expected.as_deref()
            ),
            (Some("3"), Some("integer 0..2"))
        );
        assert!(findings[2].rationale.contains("read-only"));
        assert_eq!(findings[2].fix, "delete the line");
    }

    #[test]
    fn an_empty_value_is_one_finding_not_two() {
        let findings = lint_texts(&[("a.conf", "net.ipv4.tcp_tw_reuse =\n")]);
        assert_eq!(
            rows(&findings),
            vec![expect("invalid-line", TW_REUSE, Warning, "a.conf:1")]
        );
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(lint(&[], NEW).is_empty());
        assert!(lint_texts(&[("empty.conf", "")]).is_empty());
        assert!(lint_texts(&[("comments.conf", "# a\n; b\n\n")]).is_empty());
    }

    #[test]
    fn long_junk_is_cut_short_in_messages() {
        let junk = "x".repeat(5000);
        let findings = lint_texts(&[("a.conf", &junk)]);
        assert_eq!(
            rows(&findings),
            vec![expect("invalid-line", "", Error, "a.conf:1")]
        );
        assert!(
            findings[0].message.chars().count() < 300,
            "{}",
            findings[0].message.len()
        );
        assert!(findings[0].message.ends_with('…'));
    }

    fn lint_for(kernel: Option<KernelVersion>, text: &str) -> Vec<Finding> {
        lint(
            &[LintInput {
                path: Path::new("a.conf"),
                content: text.as_bytes(),
            }],
            kernel,
        )
    }

    fn release(major: u32, minor: u32) -> Option<KernelVersion> {
        Some(KernelVersion::new(major, minor, 0))
    }

    #[test]
    fn the_new_checks_find_what_they_are_for() {
        let text = [
            "net.ipv4.ip_local_port_range = 1024 65000",
            "net.core.somaxconn = 1024",
            "net.ipv4.tcp_window_scaling = 0",
            "net.ipv4.tcp_sack = 0",
            "net.ipv4.tcp_congestion_control = bbr2",
            "net.ipv4.tcp_low_latency = 1",
            "net.ipv4.tcp_fack = 1",
            "net.core.rmem_default = 16777216",
            "net.core.wmem_default = 16777216",
            "net.ipv4.tcp_rmem = 4096 87380 4194304",
            "net.ipv4.tcp_wmem = 4096 65536 1048576",
            "net.ipv4.tcp_max_orphans = 1024",
            "net.ipv4.tcp_syn_retries = 1",
            "net.ipv4.tcp_synack_retries = 1",
        ]
        .join("\n");
        let findings = lint_for(NEW, &text);
        let harmful = |key: &str, line: usize| {
            expect("harmful-value", key, Warning, &format!("a.conf:{line}"))
        };
        assert_eq!(
            rows(&findings),
            vec![
                expect(
                    "harmful-value",
                    "net.ipv4.ip_local_port_range",
                    Info,
                    "a.conf:1"
                ),
                harmful("net.core.somaxconn", 2),
                harmful("net.ipv4.tcp_window_scaling", 3),
                harmful("net.ipv4.tcp_sack", 4),
                harmful("net.ipv4.tcp_congestion_control", 5),
                expect("obsolete-key", "net.ipv4.tcp_low_latency", Info, "a.conf:6"),
                expect("obsolete-key", "net.ipv4.tcp_fack", Info, "a.conf:7"),
                harmful("net.core.rmem_default", 8),
                harmful("net.core.wmem_default", 9),
                harmful("net.ipv4.tcp_rmem", 10),
                harmful("net.ipv4.tcp_wmem", 11),
                harmful("net.ipv4.tcp_max_orphans", 12),
                harmful("net.ipv4.tcp_syn_retries", 13),
                harmful("net.ipv4.tcp_synack_retries", 14),
            ]
        );
        assert_eq!(findings[1].evidence["compared_with"], "4096");
    }

    #[test]
    fn version_dependent_checks_follow_the_kernel() {
        let count = |kernel, text: &str| lint_for(kernel, text).len();
        // somaxconn's default is 128 before 5.4.
        assert_eq!(count(release(4, 19), "net.core.somaxconn = 1024\n"), 0);
        assert_eq!(count(release(5, 4), "net.core.somaxconn = 1024\n"), 1);
        // tcp_low_latency does nothing from 4.14, tcp_fack from 4.15.
        assert_eq!(count(release(4, 13), "net.ipv4.tcp_low_latency = 1\n"), 0);
        assert_eq!(count(release(4, 14), "net.ipv4.tcp_low_latency = 1\n"), 1);
        assert_eq!(count(release(4, 14), "net.ipv4.tcp_fack = 1\n"), 0);
        assert_eq!(count(release(4, 15), "net.ipv4.tcp_fack = 1\n"), 1);
        // The parity preference came with 4.2.
        assert_eq!(
            count(release(4, 1), "net.ipv4.ip_local_port_range = 1024 65000\n"),
            0
        );
        assert_eq!(
            count(release(4, 2), "net.ipv4.ip_local_port_range = 1024 65000\n"),
            1
        );
        // The low end must be >= ip_unprivileged_port_start from 4.11.
        assert_eq!(
            count(release(4, 10), "net.ipv4.ip_local_port_range = 500 65001\n"),
            0
        );
        let refused = lint_for(release(4, 11), "net.ipv4.ip_local_port_range = 500 65001\n");
        assert_eq!(
            rows(&refused),
            vec![expect(
                "invalid-value",
                "net.ipv4.ip_local_port_range",
                Error,
                "a.conf:1"
            )]
        );
        // u8 knobs refuse more than 255 from 5.15; int before 5.13.
        assert_eq!(
            count(release(5, 10), "net.ipv4.tcp_keepalive_probes = 300\n"),
            0
        );
        assert_eq!(count(NEW, "net.ipv4.tcp_keepalive_probes = 300\n"), 1);
        // tcp_tw_reuse took 0..2 in 4.18.
        assert_eq!(count(release(4, 17), "net.ipv4.tcp_tw_reuse = 5\n"), 0);
        assert_eq!(count(release(4, 18), "net.ipv4.tcp_tw_reuse = 5\n"), 1);
    }

    #[test]
    fn without_a_kernel_version_the_findings_say_what_depends_on_it() {
        let findings = lint_for(None, "net.core.somaxconn = 1024\nnet.ipv4.tcp_fack = 1\n");
        assert_eq!(
            rows(&findings),
            vec![
                expect("harmful-value", "net.core.somaxconn", Warning, "a.conf:1"),
                expect("obsolete-key", "net.ipv4.tcp_fack", Info, "a.conf:2"),
            ]
        );
        assert_eq!(findings[0].evidence["depends_on_kernel"], "on every kernel");
        assert!(
            findings[0]
                .rationale
                .contains("holds on Linux 5.4 and later"),
            "{}",
            findings[0].rationale
        );
        assert_eq!(
            findings[1].evidence["depends_on_kernel"],
            "on Linux 4.15 and later"
        );
    }

    #[test]
    fn ranges_are_the_sysctls_not_setsockopts() {
        for fine in [
            "net.ipv4.tcp_keepalive_time = 0",
            "net.ipv4.tcp_keepalive_time = 40000",
            "net.ipv4.tcp_keepalive_intvl = 0",
            "net.ipv4.tcp_keepalive_probes = 255",
            "net.ipv4.tcp_fin_timeout = 0",
            "net.ipv4.tcp_rmem = 8192 4096 16777216",
            "net.ipv4.tcp_fastopen = 2051",
            "net.ipv4.tcp_mem = 300000 200000 100000",
        ] {
            let findings = lint_for(NEW, &format!("{fine}\n"));
            assert!(
                findings
                    .iter()
                    .all(|finding| finding.code != Code::InvalidValue),
                "{fine}: {:?}",
                rows(&findings)
            );
        }
        for refused in [
            "net.ipv4.tcp_syn_retries = 0",
            "net.ipv4.tcp_syn_retries = 128",
            "net.ipv4.ip_local_reserved_ports = 8080, 8081",
        ] {
            let findings = lint_for(NEW, &format!("{refused}\n"));
            assert!(
                findings
                    .iter()
                    .any(|finding| finding.code == Code::InvalidValue && finding.severity == Error),
                "{refused}: {:?}",
                rows(&findings)
            );
        }
    }

    #[test]
    fn trailing_text_and_other_bases_are_read_as_the_kernel_reads_them() {
        // The kernel stores 4096: not below the default, not refused.
        let comment = lint_for(NEW, "net.core.somaxconn = 4096 # was 128\n");
        assert_eq!(
            rows(&comment),
            vec![
                expect("invalid-line", "net.core.somaxconn", Warning, "a.conf:1"),
                expect("invalid-value", "net.core.somaxconn", Warning, "a.conf:1"),
            ]
        );
        assert!(comment[0].rationale.contains("stores the leading number"));
        assert!(comment[1].message.contains("would store `4096`"));
        assert!(
            !comment
                .iter()
                .any(|finding| finding.message.contains("refuse"))
        );
        let octal = lint_for(NEW, "net.ipv4.tcp_fin_timeout = 010\n");
        assert!(
            octal[0].message.contains("would store `8`"),
            "{}",
            octal[0].message
        );
        let hex = lint_for(NEW, "net.ipv4.tcp_fin_timeout = 0x1e\n");
        assert!(
            hex[0].message.contains("would store `30`"),
            "{}",
            hex[0].message
        );
        let reserved = lint_for(NEW, "net.ipv4.ip_local_reserved_ports = 8081,8080\n");
        assert!(reserved[0].message.contains("would store `8080-8081`"));
    }
}
