//! One sysctl.conf / sysctl.d file, line by line, as the loaders read it.
//!
//! The rules come from systemd-sysctl's `parse_line` and procps-ng 4's
//! `parse_setting_line`, which agree on everything that matters here: blanks
//! around a line are stripped; a line whose first non-blank character is `#`
//! or `;` is a comment (there are no trailing comments: `1 # one` is the
//! value); `key = value` splits at the first `=`; a leading `-` means "ignore
//! a failure to set this key"; a `-key` line without `=` sets nothing but
//! keeps globs away from that key; any other line without `=` is warned about
//! and ignored. Problems become [`Diagnostic`]s that name the line and
//! column, and parsing always carries on, because the loaders carry on too.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::key::{Key, KeyError, Value};

use super::glob::{Glob, is_glob};

/// systemd-sysctl's `read_line(f, LONG_LINE_MAX, ..)` fails as soon as a line
/// holds this many bytes (`if (n >= limit) return -ENOBUFS`, src/basic/fileio.c
/// `read_line_full`, v252 line 1308), delimiters not counted, and the rest of
/// the file is ignored. So a line of exactly 1 MiB already stops it. procps has
/// no limit.
pub const LONG_LINE_MAX: usize = 1024 * 1024;

/// What one file contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    /// The path used in diagnostics.
    pub path: PathBuf,
    /// Assignments and exclusions, in file order. A key set twice appears
    /// twice; the later one wins.
    pub entries: Vec<Entry>,
    pub diagnostics: Vec<Diagnostic>,
    /// The line at which systemd-sysctl stops reading (a line longer than
    /// [`LONG_LINE_MAX`]); entries from this line on are seen by procps only.
    pub systemd_stops_at: Option<usize>,
}

impl ParsedFile {
    /// The entries a loader actually takes from this file.
    pub fn entries_for(&self, loader: super::Loader) -> impl Iterator<Item = &Entry> {
        let limit = match loader {
            super::Loader::Systemd => self.systemd_stops_at.unwrap_or(usize::MAX),
            super::Loader::Procps => usize::MAX,
        };
        self.entries.iter().filter(move |entry| entry.line < limit)
    }
}

/// One `key = value` or `-key` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) where the key starts.
    pub column: usize,
    /// The key as written, blanks and the leading `-` removed.
    pub raw_key: String,
    pub target: Target,
    pub action: Action,
    /// The line started with `-`: a failure to set the key is not an error.
    pub ignore_failure: bool,
    /// Whether this line keeps globs off its key. procps compares the path
    /// it built from the line with each glob match as text
    /// (`settinglist_findpath`, `strcmp`), so a key spelt `net..ipv4.x`
    /// (path `/proc/sys/net//ipv4/x`) is written but does not stop a glob;
    /// systemd compares normalised keys, so there it always does.
    pub glob_guard: bool,
}

impl Entry {
    /// The key, when the line names a single valid key.
    pub fn key(&self) -> Option<&Key> {
        match &self.target {
            Target::Key(key) => Some(key),
            Target::Glob(_) | Target::Invalid(_) => None,
        }
    }

    /// The value, unless this is an exclusion.
    pub fn value(&self) -> Option<&Value> {
        self.action.value()
    }
}

/// What a line's key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Key(Key),
    /// A key with `*`, `?` or `[`: it applies to every matching key that no
    /// line sets explicitly.
    Glob(Glob),
    /// Text that is not a valid key. The loaders would still try to write a
    /// path built from it; we refuse to build one, and report it.
    Invalid(KeyError),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Key(key) => key.fmt(f),
            Target::Glob(glob) => glob.fmt(f),
            Target::Invalid(error) => write!(f, "(invalid key: {error})"),
        }
    }
}

/// What a line does to its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `key = value`. `raw` is the text after `=`, blanks trimmed, exactly
    /// what the loader writes to the kernel.
    Set { value: Value, raw: String },
    /// `-key` with no `=`: sets nothing, but counts as an explicit setting so
    /// that no glob touches the key. systemd also lets it replace an earlier
    /// assignment of the same key, which then is not written at all.
    Exclude,
}

impl Action {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Action::Set { value, .. } => Some(value),
            Action::Exclude => None,
        }
    }

    /// The raw value text, unless this is an exclusion.
    pub fn raw(&self) -> Option<&str> {
        match self {
            Action::Set { raw, .. } => Some(raw),
            Action::Exclude => None,
        }
    }
}

/// How much a diagnostic matters (a finding's severity is decided by lint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    /// The line, or part of the file, does not do what its author meant.
    Warning,
    /// The line is ignored or cannot take effect.
    Error,
}

/// A problem on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub kind: DiagnosticKind,
}

impl Diagnostic {
    pub fn severity(&self) -> Impact {
        self.kind.severity()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.kind
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// A line with no `=` that is not a `-key` exclusion. Both loaders warn
    /// and skip it.
    NotAnAssignment { text: String },
    /// The key is empty or breaks the key grammar.
    InvalidKey(KeyError),
    /// `key =` with nothing after it: both loaders write an empty string,
    /// which the kernel refuses for almost every key.
    EmptyValue,
    /// The value contains ` #`: there are no trailing comments, so the `#`
    /// and what follows are written to the kernel as part of the value.
    TrailingComment,
    /// `- key = value`: systemd strips the blank after `-`, procps keeps it
    /// in the key and fails to find it.
    BlankAfterDash,
    /// Bytes that are not UTF-8; they were replaced by U+FFFD.
    NotUtf8,
    /// A line of [`LONG_LINE_MAX`] bytes or more: systemd-sysctl stops reading
    /// the file here; procps reads on.
    LineTooLong { bytes: usize },
}

impl DiagnosticKind {
    pub fn severity(&self) -> Impact {
        match self {
            DiagnosticKind::NotAnAssignment { .. }
            | DiagnosticKind::InvalidKey(_)
            | DiagnosticKind::LineTooLong { .. } => Impact::Error,
            DiagnosticKind::EmptyValue
            | DiagnosticKind::TrailingComment
            | DiagnosticKind::BlankAfterDash
            | DiagnosticKind::NotUtf8 => Impact::Warning,
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagnosticKind::NotAnAssignment { text } => {
                write!(f, "line is not an assignment (no `=`), ignored: {text}")
            }
            DiagnosticKind::InvalidKey(error) => write!(f, "invalid key: {error}"),
            DiagnosticKind::EmptyValue => {
                f.write_str("empty value: an empty string is written, which the kernel usually refuses")
            }
            DiagnosticKind::TrailingComment => f.write_str(
                "`#` inside a value is not a comment; it is written to the kernel with the value",
            ),
            DiagnosticKind::BlankAfterDash => f.write_str(
                "blank after the leading `-`: systemd-sysctl ignores it, procps makes it part of the key",
            ),
            DiagnosticKind::NotUtf8 => {
                f.write_str("the line is not valid UTF-8; invalid bytes were replaced")
            }
            DiagnosticKind::LineTooLong { bytes } if *bytes == LONG_LINE_MAX => write!(
                f,
                "line of {bytes} bytes reaches the limit of {LONG_LINE_MAX}: systemd-sysctl ignores the rest of the file"
            ),
            DiagnosticKind::LineTooLong { bytes } => write!(
                f,
                "line of {bytes} bytes is longer than {LONG_LINE_MAX}: systemd-sysctl ignores the rest of the file"
            ),
        }
    }
}

/// Blank as both loaders strip it (systemd: space, tab, CR, LF; procps:
/// isspace, which adds VT and FF).
fn is_blank(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c')
}

/// Parses one file. `path` is only used to label diagnostics.
pub fn parse(path: &Path, content: &[u8]) -> ParsedFile {
    let mut parsed = ParsedFile {
        path: path.to_owned(),
        entries: Vec::new(),
        diagnostics: Vec::new(),
        systemd_stops_at: None,
    };
    let mut lines: Vec<&[u8]> = content.split(|byte| *byte == b'\n').collect();
    // A final newline does not start another line.
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    for (index, bytes) in lines.into_iter().enumerate() {
        parse_line(&mut parsed, index + 1, bytes);
    }
    parsed
}

/// Parses one file as one loader reads it. The diagnostics (and
/// `systemd_stops_at`) are those of [`parse`], so every caller reports the
/// same problems; the entries are what this loader really takes from the
/// file, which differs in these ways:
///
/// - Lines. systemd's `read_line()` ends a line at `\n`, `\r` or `\0` (and
///   their pairs such as `\r\n`, src/basic/fileio.c `read_line_full`, v252
///   lines 1270-1292); procps' `getline()` ends it at `\n` only, and the C
///   string it then parses ends at the first `\0`, so the rest of that line
///   is lost. A `\r` inside a procps line stays in the value, and the kernel
///   refuses a number followed by `\r`.
/// - Blanks. systemd strips `WHITESPACE`, " \t\n\r" (src/basic/string-util.h,
///   v252 line 13); procps strips `isspace()`, which adds `\v` and `\f`.
/// - Comments: `#` or `;` first, for both (systemd's `COMMENTS` is still
///   "#;" in every release up to v256).
/// - The dash. systemd drops one `-` and then strips blanks again, so
///   `- key = v` is applied and `--key = v` names a key `-key` that does
///   not exist. procps (4.0.2 `parse_setting_line` and `setting_new`) drops
///   one `-` in each, without stripping in between: `--key = v` is applied
///   and `- key = v` names a path with a blank in it, which writes nothing.
/// - A line after the systemd line limit is not read by systemd.
pub fn parse_for(path: &Path, content: &[u8], loader: super::Loader) -> ParsedFile {
    let generic = parse(path, content);
    let mut parsed = ParsedFile {
        path: path.to_owned(),
        entries: Vec::new(),
        diagnostics: generic.diagnostics,
        // The entries below already stop where this loader stops.
        systemd_stops_at: None,
    };
    match loader {
        super::Loader::Systemd => {
            for (index, line) in systemd_lines(content).into_iter().enumerate() {
                let Some(line) = line else { break };
                loader_line(&mut parsed, index + 1, line, loader);
            }
        }
        super::Loader::Procps => {
            let mut lines: Vec<&[u8]> = content.split(|byte| *byte == b'\n').collect();
            if lines.last().is_some_and(|last| last.is_empty()) {
                lines.pop();
            }
            for (index, line) in lines.into_iter().enumerate() {
                // `getline()` returned fewer than two bytes: skipped.
                if line.is_empty() {
                    continue;
                }
                let line = line.split(|byte| *byte == 0).next().unwrap_or_default();
                loader_line(&mut parsed, index + 1, line, loader);
            }
        }
    }
    parsed
}

/// The lines systemd's `read_line()` returns, in order; `None` where it
/// fails (a line of [`LONG_LINE_MAX`] bytes or more) and stops the file.
fn systemd_lines(content: &[u8]) -> Vec<Option<&[u8]>> {
    const LF: u8 = 1;
    const CR: u8 = 2;
    const NUL: u8 = 4;
    let kind = |byte: u8| match byte {
        b'\n' => LF,
        b'\r' => CR,
        0 => NUL,
        _ => 0,
    };
    let mut lines = Vec::new();
    let mut at = 0;
    while at < content.len() {
        let start = at;
        let mut end = at;
        let mut previous = 0u8;
        while at < content.len() {
            let eol = kind(content[at]);
            if previous & NUL != 0
                || (eol == 0 && previous != 0)
                || (eol != 0 && previous & eol != 0)
            {
                break;
            }
            at += 1;
            if eol != 0 {
                previous |= eol;
            } else {
                end = at;
            }
        }
        // `if (n >= limit) return -ENOBUFS` runs before every character,
        // the one after the last as well: a line this long always fails.
        if end - start >= LONG_LINE_MAX {
            lines.push(None);
            break;
        }
        lines.push(Some(&content[start..end]));
    }
    lines
}

/// One line as `loader` reads it; pushes at most one entry.
fn loader_line(parsed: &mut ParsedFile, line: usize, bytes: &[u8], loader: super::Loader) {
    let text = String::from_utf8_lossy(bytes);
    let blank: fn(char) -> bool = match loader {
        super::Loader::Systemd => |ch| matches!(ch, ' ' | '\t' | '\n' | '\r'),
        super::Loader::Procps => is_blank,
    };
    let start = text.len() - text.trim_start_matches(blank).len();
    let body = &text[start..];
    if loader == super::Loader::Procps && body.len() < 2 {
        // procps: `if (strlen(key) < 2) return NULL`.
        return;
    }
    if body.trim_end_matches(blank).is_empty() || body.starts_with(['#', ';']) {
        return;
    }
    let (key_part, action, mut ignore_failure) = match body.find('=') {
        Some(eq) => {
            let raw = body[eq + 1..].trim_matches(blank);
            let action = Action::Set {
                value: Value::parse(raw),
                raw: raw.to_owned(),
            };
            (&body[..eq], action, false)
        }
        None if body.starts_with('-') => (body.trim_end_matches(blank), Action::Exclude, false),
        None => return,
    };
    let mut key_at = start;
    let mut key_part = key_part;
    if let Some(rest) = key_part.strip_prefix('-') {
        ignore_failure = matches!(action, Action::Set { .. });
        key_part = rest;
        key_at += 1;
    }
    let key_text = match loader {
        // `p = strstrip(p)` after the dash.
        super::Loader::Systemd => key_part.trim_matches(blank),
        // `rstrip(key)` only; then `setting_new` drops one more `-`.
        super::Loader::Procps => {
            let trimmed = key_part.trim_end_matches(blank);
            match trimmed.strip_prefix('-') {
                Some(rest) => {
                    key_at += 1;
                    rest
                }
                None => trimmed,
            }
        }
    };
    let leading = key_part.len() - key_part.trim_start_matches(blank).len();
    let column = column_of(&text, key_at + leading);
    // `Key::parse` trims, the loaders do not: a blank left in the key
    // (procps' `- key`, systemd's `key\x0b`) makes a path no sysctl has.
    let target = match key_text.chars().find(|ch| ch.is_whitespace()) {
        Some(ch) => Target::Invalid(KeyError::BadCharacter {
            key: key_text.to_owned(),
            ch,
        }),
        _ => target_of(key_text),
    };
    // procps keeps globs off a key only when the path it built is the
    // canonical one (see `Entry::glob_guard`).
    let glob_guard = loader == super::Loader::Systemd || normalise_key(key_text) == key_text;
    parsed.entries.push(Entry {
        line,
        column,
        raw_key: key_text.to_owned(),
        target,
        action,
        ignore_failure,
        glob_guard,
    });
}

fn parse_line(parsed: &mut ParsedFile, line: usize, bytes: &[u8]) {
    let diagnose = |parsed: &mut ParsedFile, column: usize, kind: DiagnosticKind| {
        parsed.diagnostics.push(Diagnostic {
            path: parsed.path.clone(),
            line,
            column,
            kind,
        });
    };

    if bytes.len() >= LONG_LINE_MAX {
        diagnose(
            parsed,
            1,
            DiagnosticKind::LineTooLong { bytes: bytes.len() },
        );
        parsed.systemd_stops_at.get_or_insert(line);
    }
    let text: Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(error) => {
            let column = column_of(
                &String::from_utf8_lossy(&bytes[..error.valid_up_to()]),
                usize::MAX,
            );
            diagnose(parsed, column, DiagnosticKind::NotUtf8);
            String::from_utf8_lossy(bytes)
        }
    };
    let text: &str = &text;

    let Some(start) = text.find(|ch: char| !is_blank(ch)) else {
        return;
    };
    let body = text[start..].trim_end_matches(is_blank);
    if body.starts_with(['#', ';']) {
        return;
    }

    let (key_part, action) = match body.find('=') {
        Some(eq) => {
            let value_part = &body[eq + 1..];
            let raw = value_part.trim_matches(is_blank);
            let value_at =
                start + eq + 1 + (value_part.len() - value_part.trim_start_matches(is_blank).len());
            if raw.is_empty() {
                diagnose(
                    parsed,
                    column_of(text, start + eq + 1),
                    DiagnosticKind::EmptyValue,
                );
            } else if let Some(hash) = trailing_comment(raw) {
                diagnose(
                    parsed,
                    column_of(text, value_at + hash),
                    DiagnosticKind::TrailingComment,
                );
            }
            let action = Action::Set {
                value: Value::parse(raw),
                raw: raw.to_owned(),
            };
            (&body[..eq], action)
        }
        None if body.starts_with('-') => (body, Action::Exclude),
        None => {
            diagnose(
                parsed,
                column_of(text, start),
                DiagnosticKind::NotAnAssignment {
                    text: body.to_owned(),
                },
            );
            return;
        }
    };

    let (ignore_failure, key_at, key_part) = match key_part.strip_prefix('-') {
        // For an exclusion the `-` is the syntax itself, not "ignore failure".
        Some(rest) => (matches!(action, Action::Set { .. }), start + 1, rest),
        None => (false, start, key_part),
    };
    if key_at > start && key_part.starts_with(is_blank) {
        diagnose(
            parsed,
            column_of(text, key_at),
            DiagnosticKind::BlankAfterDash,
        );
    }
    let leading = key_part.len() - key_part.trim_start_matches(is_blank).len();
    let raw_key = key_part.trim_matches(is_blank);
    let column = column_of(text, key_at + leading);

    // The generic reading keeps the strict key grammar: lint holds odd
    // spellings to account even though the loaders normalise them.
    let target = if raw_key.is_empty() {
        Target::Invalid(KeyError::Empty)
    } else if is_glob(raw_key) {
        Glob::parse(raw_key).map_or_else(Target::Invalid, Target::Glob)
    } else {
        Key::parse(raw_key).map_or_else(Target::Invalid, Target::Key)
    };
    if let Target::Invalid(error) = &target {
        diagnose(parsed, column, DiagnosticKind::InvalidKey(error.clone()));
    }

    parsed.entries.push(Entry {
        line,
        column,
        raw_key: raw_key.to_owned(),
        target,
        action,
        ignore_failure,
        glob_guard: true,
    });
}

/// The key or glob a line names, after the normalisation both loaders apply
/// (see [`normalise_key`]).
fn target_of(raw_key: &str) -> Target {
    let normalised = normalise_key(raw_key);
    if normalised.is_empty() {
        Target::Invalid(KeyError::Empty)
    } else if is_glob(&normalised) {
        Glob::parse(&normalised).map_or_else(Target::Invalid, Target::Glob)
    } else {
        Key::parse(&normalised).map_or_else(Target::Invalid, Target::Key)
    }
}

/// The key as the loaders turn it into a path: the first separator decides
/// the spelling (`.` means dots and slashes swap), then empty and `.`
/// components vanish. systemd does this in `sysctl_normalize()` (swap, then
/// `path_simplify()`, then drop a leading `/`; src/basic/sysctl-util.c,
/// v252 line 18); procps swaps in `slashdot()` and leaves `net//ipv4`
/// to the kernel's path lookup, which ignores repeated slashes. So
/// `net..core.x`, `net//ipv4/x`, `.net.x` and `/net/x` all name a key. The
/// result is spelt so that [`Key::parse`] reads it back unchanged. `..` is
/// kept, and refused by the key grammar.
pub(crate) fn normalise_key(text: &str) -> String {
    let slash_separated = text
        .find(['.', '/'])
        .is_none_or(|at| text[at..].starts_with('/'));
    let components: Vec<String> = if slash_separated {
        text.split('/').map(str::to_owned).collect()
    } else {
        text.split('.').map(|part| part.replace('/', ".")).collect()
    };
    let kept: Vec<&String> = components
        .iter()
        .filter(|component| !component.is_empty() && component.as_str() != ".")
        .collect();
    if kept.len() == components.len() {
        return text.to_owned();
    }
    if kept.first().is_some_and(|first| first.contains('.')) {
        kept.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("/")
    } else {
        kept.iter()
            .map(|c| c.replace('.', "/"))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The byte offset of a `#` that follows a blank inside a value: what people
/// mean as a trailing comment. A `#` glued to text (`a#b`) is left alone.
fn trailing_comment(raw: &str) -> Option<usize> {
    raw.char_indices()
        .zip(raw.chars().skip(1))
        .find(|((_, before), ch)| is_blank(*before) && *ch == '#')
        .map(|((at, before), _)| at + before.len_utf8())
}

/// The 1-based character column of a byte offset (clamped to the text).
fn column_of(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    text.get(..byte)
        .map_or(byte, |prefix| prefix.chars().count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> ParsedFile {
        parse(Path::new("/etc/sysctl.d/test.conf"), text.as_bytes())
    }

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let parsed = parse_text(
            "# hash comment\n; semicolon comment\n   # indented hash\n\t; tabbed semicolon\n\n   \t \nnet.ipv4.tcp_syncookies = 1\n",
        );
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(parsed.entries.len(), 1);
        let entry = &parsed.entries[0];
        assert_eq!(entry.line, 7);
        assert_eq!(entry.column, 1);
        assert_eq!(entry.key(), Some(&key("net.ipv4.tcp_syncookies")));
        assert_eq!(entry.action.raw(), Some("1"));
        assert!(!entry.ignore_failure);
    }

    #[test]
    fn there_are_no_trailing_comments() {
        let parsed = parse_text("net.ipv4.tcp_fin_timeout = 30 # seconds\n");
        let entry = &parsed.entries[0];
        assert_eq!(entry.action.raw(), Some("30 # seconds"));
        assert_eq!(
            entry.value().map(Value::tokens).map(<[String]>::len),
            Some(3)
        );
        assert_eq!(parsed.diagnostics.len(), 1);
        assert_eq!(parsed.diagnostics[0].kind, DiagnosticKind::TrailingComment);
        assert_eq!(parsed.diagnostics[0].column, 31);
        assert_eq!(parsed.diagnostics[0].severity(), Impact::Warning);
        // `#` inside a word is not what people mean as a comment.
        assert!(
            parse_text("kernel.core_pattern = core#%p\n")
                .diagnostics
                .is_empty()
        );
    }

    #[test]
    fn leading_dash_means_ignore_failure() {
        let parsed = parse_text("-net.ipv4.tcp_ecn = 2\nnet.ipv4.tcp_sack=1\n");
        assert!(parsed.diagnostics.is_empty());
        assert!(parsed.entries[0].ignore_failure);
        assert_eq!(parsed.entries[0].raw_key, "net.ipv4.tcp_ecn");
        assert_eq!(parsed.entries[0].column, 2);
        assert_eq!(parsed.entries[0].key(), Some(&key("net.ipv4.tcp_ecn")));
        assert!(!parsed.entries[1].ignore_failure);
        assert_eq!(parsed.entries[1].action.raw(), Some("1"));
    }

    #[test]
    fn blank_after_dash_is_accepted_like_systemd_but_flagged() {
        let parsed = parse_text("- net.ipv4.tcp_ecn = 2\n");
        assert_eq!(parsed.entries[0].key(), Some(&key("net.ipv4.tcp_ecn")));
        assert!(parsed.entries[0].ignore_failure);
        assert_eq!(parsed.diagnostics.len(), 1);
        assert_eq!(parsed.diagnostics[0].kind, DiagnosticKind::BlankAfterDash);
    }

    #[test]
    fn dash_without_equals_is_a_glob_exclusion() {
        let parsed = parse_text("-net.ipv4.conf.lo.rp_filter\n");
        assert!(parsed.diagnostics.is_empty());
        let entry = &parsed.entries[0];
        assert_eq!(entry.action, Action::Exclude);
        assert!(!entry.ignore_failure);
        assert_eq!(entry.key(), Some(&key("net.ipv4.conf.lo.rp_filter")));
        assert_eq!(entry.value(), None);
    }

    #[test]
    fn both_separator_spellings_name_the_same_key() {
        let parsed = parse_text(
            "net/ipv4/conf/eth0.100/rp_filter = 1\nnet.ipv4.conf.eth0/100.rp_filter = 2\n",
        );
        assert!(parsed.diagnostics.is_empty());
        assert_eq!(parsed.entries[0].key(), parsed.entries[1].key());
        assert_eq!(
            parsed.entries[0].raw_key,
            "net/ipv4/conf/eth0.100/rp_filter"
        );
        assert_eq!(
            parsed.entries[0].key().map(Key::relative_path),
            Some(PathBuf::from("net/ipv4/conf/eth0.100/rp_filter"))
        );
    }

    #[test]
    fn glob_keys_are_kept_apart_from_keys() {
        let parsed =
            parse_text("net.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.e[th]*.log_martians = 1\n");
        assert!(parsed.diagnostics.is_empty());
        let Target::Glob(glob) = &parsed.entries[0].target else {
            panic!("expected a glob: {:?}", parsed.entries[0].target);
        };
        assert!(glob.matches(&key("net.ipv4.conf.eth0/100.rp_filter")));
        assert_eq!(parsed.entries[0].key(), None);
        assert!(matches!(parsed.entries[1].target, Target::Glob(_)));
        assert!(parsed.entries[1].ignore_failure);
    }

    #[test]
    fn blanks_and_tabs_around_key_and_value_are_trimmed() {
        let parsed = parse_text("\t net.ipv4.tcp_rmem\t=\t4096  87380\t6291456 \t\r\n");
        assert!(parsed.diagnostics.is_empty());
        let entry = &parsed.entries[0];
        assert_eq!(entry.raw_key, "net.ipv4.tcp_rmem");
        assert_eq!(entry.column, 3);
        assert_eq!(entry.action.raw(), Some("4096  87380\t6291456"));
        assert_eq!(entry.value(), Some(&Value::parse("4096 87380 6291456")));
    }

    #[test]
    fn value_splits_at_the_first_equals_only() {
        let parsed = parse_text("kernel.core_pattern = |/bin/x a=b\n");
        assert_eq!(parsed.entries[0].action.raw(), Some("|/bin/x a=b"));
    }

    #[test]
    fn missing_equals_is_reported_with_line_and_column_and_parsing_goes_on() {
        let parsed =
            parse_text("net.ipv4.tcp_sack = 1\n   net.ipv4.tcp_dsack 1\nnet.ipv4.tcp_fack = 0\n");
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[1].line, 3);
        assert_eq!(parsed.diagnostics.len(), 1);
        let diagnostic = &parsed.diagnostics[0];
        assert_eq!((diagnostic.line, diagnostic.column), (2, 4));
        assert_eq!(diagnostic.severity(), Impact::Error);
        assert!(
            matches!(diagnostic.kind, DiagnosticKind::NotAnAssignment { ref text } if text == "net.ipv4.tcp_dsack 1")
        );
        assert!(
            diagnostic
                .to_string()
                .starts_with("/etc/sysctl.d/test.conf:2:4: line is not an assignment")
        );
    }

    #[test]
    fn invalid_and_empty_keys_and_empty_values() {
        let parsed = parse_text("net.ipv4.tcp sack = 1\n = 1\nnet.ipv4.tcp_sack =\n");
        assert_eq!(parsed.entries.len(), 3);
        assert!(matches!(
            parsed.entries[0].target,
            Target::Invalid(KeyError::BadCharacter { .. })
        ));
        assert!(matches!(
            parsed.entries[1].target,
            Target::Invalid(KeyError::Empty)
        ));
        assert_eq!(parsed.entries[2].action.raw(), Some(""));
        let kinds: Vec<_> = parsed
            .diagnostics
            .iter()
            .map(|d| (d.line, d.kind.clone()))
            .collect();
        assert!(matches!(
            kinds[0],
            (1, DiagnosticKind::InvalidKey(KeyError::BadCharacter { .. }))
        ));
        assert_eq!(kinds[1], (2, DiagnosticKind::InvalidKey(KeyError::Empty)));
        assert_eq!(kinds[2], (3, DiagnosticKind::EmptyValue));
    }

    #[test]
    fn duplicates_within_a_file_are_kept_in_order() {
        let parsed = parse_text("net.core.somaxconn = 128\nnet/core/somaxconn = 4096\n");
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].key(), parsed.entries[1].key());
        assert_eq!(parsed.entries[1].action.raw(), Some("4096"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_and_reported() {
        let mut content = b"net.core.somaxconn = 1024\n".to_vec();
        content.extend_from_slice(b"kernel.hostname = h\xffst\n");
        let parsed = parse(Path::new("x.conf"), &content);
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[1].action.raw(), Some("h\u{fffd}st"));
        assert_eq!(parsed.diagnostics.len(), 1);
        assert_eq!(parsed.diagnostics[0].kind, DiagnosticKind::NotUtf8);
        assert_eq!(
            (parsed.diagnostics[0].line, parsed.diagnostics[0].column),
            (2, 20)
        );
    }

    #[test]
    fn a_very_long_line_stops_systemd_but_not_procps() {
        let mut content = String::from("net.core.somaxconn = 1024\n");
        content.push_str("net.core.rmem_max = ");
        content.push_str(&"9".repeat(LONG_LINE_MAX));
        content.push_str("\nnet.core.wmem_max = 1\n");
        let parsed = parse_text(&content);
        assert_eq!(parsed.entries.len(), 3);
        assert_eq!(parsed.systemd_stops_at, Some(2));
        assert!(matches!(
            parsed.diagnostics[0].kind,
            DiagnosticKind::LineTooLong { .. }
        ));
        assert_eq!(parsed.entries_for(super::super::Loader::Systemd).count(), 1);
        assert_eq!(parsed.entries_for(super::super::Loader::Procps).count(), 3);
    }

    #[test]
    fn no_final_newline_and_empty_input() {
        let parsed = parse_text("net.core.somaxconn = 1024");
        assert_eq!(parsed.entries.len(), 1);
        assert!(parse_text("").entries.is_empty());
        assert!(parse_text("\n\n").diagnostics.is_empty());
    }

    fn keys_for(text: &[u8], loader: super::super::Loader) -> Vec<(String, Option<String>)> {
        parse_for(Path::new("x.conf"), text, loader)
            .entries
            .iter()
            .map(|entry| {
                (
                    entry.target.to_string(),
                    entry.action.raw().map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn odd_separators_are_normalised_by_both_loaders() {
        for spelt in [
            "net..ipv4.tcp_sack",
            "net//ipv4/tcp_sack",
            ".net.ipv4.tcp_sack",
            "/net/ipv4/tcp_sack",
        ] {
            let line = format!("{spelt} = 1\n");
            for loader in super::super::Loader::ALL {
                let parsed = parse_for(Path::new("x.conf"), line.as_bytes(), loader);
                assert_eq!(
                    parsed.entries[0].key(),
                    Some(&key("net.ipv4.tcp_sack")),
                    "{spelt}"
                );
            }
            // The generic reading (lint) still calls the spelling invalid.
            assert!(matches!(
                parse_text(&line).entries[0].target,
                Target::Invalid(_)
            ));
        }
        assert_eq!(
            normalise_key("net.ipv4.conf.eth0/100.rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
    }

    #[test]
    fn dashes_differ_between_loaders() {
        use super::super::Loader::{Procps, Systemd};
        let text = b"- net.ipv4.tcp_sack = 0\n--net.ipv4.tcp_syn_retries = 3\n";
        let procps = parse_for(Path::new("x.conf"), text, Procps);
        assert!(matches!(procps.entries[0].target, Target::Invalid(_)));
        assert_eq!(
            procps.entries[1].key(),
            Some(&key("net.ipv4.tcp_syn_retries"))
        );
        let systemd = parse_for(Path::new("x.conf"), text, Systemd);
        assert_eq!(systemd.entries[0].key(), Some(&key("net.ipv4.tcp_sack")));
        assert_eq!(
            systemd.entries[1].key(),
            Some(&key("-net.ipv4.tcp_syn_retries"))
        );
    }

    #[test]
    fn line_ends_and_blanks_differ_between_loaders() {
        use super::super::Loader::{Procps, Systemd};
        let text = b"net.ipv4.tcp_sack = 0\rnet.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_dsack = 1\0net.ipv4.tcp_fack = 1\nnet.ipv4.tcp_mtu_probing = 1\x0b\n";
        assert_eq!(
            keys_for(text, Systemd),
            [
                ("net.ipv4.tcp_sack".into(), Some("0".into())),
                ("net.ipv4.tcp_ecn".into(), Some("1".into())),
                ("net.ipv4.tcp_dsack".into(), Some("1".into())),
                ("net.ipv4.tcp_fack".into(), Some("1".into())),
                ("net.ipv4.tcp_mtu_probing".into(), Some("1\x0b".into())),
            ]
        );
        assert_eq!(
            keys_for(text, Procps),
            [
                (
                    "net.ipv4.tcp_sack".into(),
                    Some("0\rnet.ipv4.tcp_ecn = 1".into())
                ),
                ("net.ipv4.tcp_dsack".into(), Some("1".into())),
                ("net.ipv4.tcp_mtu_probing".into(), Some("1".into())),
            ]
        );
    }

    #[test]
    fn systemd_stops_at_a_line_of_exactly_the_limit() {
        use super::super::Loader::{Procps, Systemd};
        let mut text = b"net.ipv4.tcp_sack = 1\n".to_vec();
        text.extend(std::iter::repeat_n(b'#', LONG_LINE_MAX));
        text.extend_from_slice(b"\nnet.ipv4.tcp_ecn = 1\n");
        assert_eq!(keys_for(&text, Systemd).len(), 1);
        assert_eq!(keys_for(&text, Procps).len(), 2);
        assert_eq!(parse(Path::new("x"), &text).systemd_stops_at, Some(2));
    }
}
