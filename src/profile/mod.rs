//! Profiles: what a host's TCP settings should be, and why.
//!
//! A profile is a YAML file (see `profiles/` for the built-ins, which are
//! embedded into the binary). This module owns the validated model and how a
//! profile name is found and its `extends` chain merged; `yaml` parses,
//! `validate` turns the positioned tree into settings and collects every
//! mistake of a file with its line and column.

mod validate;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::error::{ProfileError, ProfileErrors};
use crate::finding::Severity;
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};
use crate::system::System;

/// The profiles shipped inside the binary: name, YAML text.
pub static BUILTINS: &[(&str, &str)] = &[
    ("default", include_str!("../../profiles/default.yaml")),
    ("webserver", include_str!("../../profiles/webserver.yaml")),
    (
        "loadbalancer",
        include_str!("../../profiles/loadbalancer.yaml"),
    ),
    ("database", include_str!("../../profiles/database.yaml")),
];

/// Where installed profiles live, under the root.
/// The profile `check` uses when none is given: safe on any host.
pub const DEFAULT: &str = "default";

pub const INSTALLED_DIR: &str = "etc/tcptune/profiles";

/// Profile files larger than this are refused before parsing.
const MAX_PROFILE_BYTES: usize = 1024 * 1024;

/// Bytes read of a profile file: one more than allowed, so a larger file is
/// recognised without reading all of it.
const READ_LIMIT: u64 = MAX_PROFILE_BYTES as u64 + 1;

/// How deep `extends` may chain.
const MAX_EXTENDS_DEPTH: usize = 16;

/// What a setting asks of the live value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    Equal(Value),
    /// Every token at least the corresponding token (one token for most keys).
    AtLeast(Value),
    AtMost(Value),
    /// The key must not be set to anything but the kernel's default (for a
    /// removed key like `tcp_tw_recycle`: must not be set at all).
    Forbidden,
}

impl Expectation {
    /// Whether a live value meets the expectation. `Forbidden` is judged by
    /// the rules, which know the kernel default.
    pub fn is_met_by(&self, current: &Value) -> bool {
        let compare = |bound: &Value, ok: fn(i64, i64) -> bool| match (
            current.integers(),
            bound.integers(),
        ) {
            (Some(current), Some(bound)) if current.len() == bound.len() => {
                current.iter().zip(&bound).all(|(c, b)| ok(*c, *b))
            }
            _ => false,
        };
        match self {
            Expectation::Equal(wanted) => current == wanted,
            Expectation::AtLeast(bound) => compare(bound, |c, b| c >= b),
            Expectation::AtMost(bound) => compare(bound, |c, b| c <= b),
            Expectation::Forbidden => true,
        }
    }

    /// The value `apply` would write to meet the expectation.
    pub fn target(&self) -> Option<&Value> {
        match self {
            Expectation::Equal(value)
            | Expectation::AtLeast(value)
            | Expectation::AtMost(value) => Some(value),
            Expectation::Forbidden => None,
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Equal(value) => write!(f, "{value}"),
            Expectation::AtLeast(value) => write!(f, ">= {value}"),
            Expectation::AtMost(value) => write!(f, "<= {value}"),
            Expectation::Forbidden => f.write_str("not set"),
        }
    }
}

impl Serialize for Expectation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Kernel releases a setting applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KernelGate {
    /// Applies from this release on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
    /// Applies only to releases before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below_kernel: Option<KernelVersion>,
}

impl KernelGate {
    pub fn admits(&self, version: KernelVersion) -> bool {
        self.min_kernel.is_none_or(|min| version >= min)
            && self.below_kernel.is_none_or(|below| version < below)
    }

    pub fn is_open(&self) -> bool {
        self.min_kernel.is_none() && self.below_kernel.is_none()
    }
}

impl fmt::Display for KernelGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min_kernel, self.below_kernel) {
            (Some(min), Some(below)) => write!(f, "kernels {min} up to (not including) {below}"),
            (Some(min), None) => write!(f, "kernels {min} and later"),
            (None, Some(below)) => write!(f, "kernels before {below}"),
            (None, None) => f.write_str("all kernels"),
        }
    }
}

/// One key of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: Key,
    pub expect: Expectation,
    pub why: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub gate: KernelGate,
    /// The profile that defined it (a parent when inherited).
    pub defined_in: String,
}

/// Observation thresholds for the socket and counter rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// CLOSE_WAIT sockets (on the host, or held by one process) that count as a leak.
    pub close_wait_leak: u64,
    /// Share of the usable local port range that TIME_WAIT toward one
    /// destination may use before it is `port-exhaustion`.
    pub port_exhaustion_percent: u64,
    /// Share of tcp_max_tw_buckets that TIME_WAIT may reach.
    pub tw_bucket_percent: u64,
    /// ListenOverflows / ListenDrops above this are `listen-overflow`.
    pub listen_overflow: u64,
    /// The idle timeout of the load balancer or NAT in front of or behind
    /// this host, when the profile names one: keepalive must start before it.
    pub idle_timeout_seconds: Option<u64>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            close_wait_leak: 100,
            port_exhaustion_percent: 50,
            tw_bucket_percent: 80,
            listen_overflow: 0,
            idle_timeout_seconds: None,
        }
    }
}

/// Thresholds as one file wrote them: each may be left to the parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartialThresholds {
    pub close_wait_leak: Option<u64>,
    pub port_exhaustion_percent: Option<u64>,
    pub tw_bucket_percent: Option<u64>,
    pub listen_overflow: Option<u64>,
    pub idle_timeout_seconds: Option<u64>,
}

impl PartialThresholds {
    fn over(self, base: Thresholds) -> Thresholds {
        Thresholds {
            close_wait_leak: self.close_wait_leak.unwrap_or(base.close_wait_leak),
            port_exhaustion_percent: self
                .port_exhaustion_percent
                .unwrap_or(base.port_exhaustion_percent),
            tw_bucket_percent: self.tw_bucket_percent.unwrap_or(base.tw_bucket_percent),
            listen_overflow: self.listen_overflow.unwrap_or(base.listen_overflow),
            idle_timeout_seconds: self.idle_timeout_seconds.or(base.idle_timeout_seconds),
        }
    }
}

/// Where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Origin {
    Builtin,
    File(PathBuf),
}

impl Origin {
    fn display_name(&self, name: &str) -> String {
        match self {
            Origin::Builtin => format!("<built-in profile {name}>"),
            Origin::File(path) => path.display().to_string(),
        }
    }
}

/// A validated profile with its `extends` chain merged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub origin: Origin,
    /// This profile and the ones it extends, nearest first.
    pub chain: Vec<String>,
    pub settings: Vec<Setting>,
    pub thresholds: Thresholds,
    /// Files of the chain that other users could change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where each profile of the chains came from, nearest first (for a
    /// stack, each layer's chain in the order given).
    pub sources: Vec<Source>,
}

/// Where one profile of a chain came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub name: String,
    /// The file; None for a built-in.
    pub path: Option<PathBuf>,
    /// An installed file with a built-in's name, which replaces it.
    pub replaces_builtin: bool,
}

impl Profile {
    pub fn setting(&self, key: &Key) -> Option<&Setting> {
        self.settings.iter().find(|setting| &setting.key == key)
    }
}

/// One file's content, validated but not merged with its parents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFile {
    pub description: Option<String>,
    /// The parent's name and where `extends` was written.
    pub extends: Option<(String, yaml::Position)>,
    pub settings: Vec<Setting>,
    pub thresholds: PartialThresholds,
}

/// Parses and validates one profile file's bytes. `file` names it in errors.
pub fn parse(file: &str, name: &str, bytes: &[u8]) -> Result<ProfileFile, ProfileErrors> {
    let single = |line, column, message: String| {
        ProfileErrors(vec![ProfileError {
            file: file.to_owned(),
            line,
            column,
            message,
        }])
    };
    if bytes.len() > MAX_PROFILE_BYTES {
        return Err(single(
            1,
            1,
            format!(
                "the file is over {MAX_PROFILE_BYTES} bytes; profiles are limited to {MAX_PROFILE_BYTES} bytes"
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let (line, column) = line_and_column(bytes, error.valid_up_to());
            return Err(single(line, column, "the file is not valid UTF-8".into()));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A truncated file must not pass as a profile that expects nothing
    // (and so turn an audit green).
    if text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    }) {
        return Err(single(
            1,
            1,
            "the profile is empty (a truncated file?); a profile has at least a description, extends or settings".into(),
        ));
    }
    let tree = yaml::parse(text).map_err(|error| {
        single(
            error.position.line.max(1),
            error.position.column.max(1),
            format!("invalid YAML: {}", error.message),
        )
    })?;
    validate::document(file, name, &tree)
}

fn line_and_column(bytes: &[u8], offset: usize) -> (u64, u64) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|byte| **byte == b'\n').count() as u64 + 1;
    let line_start = before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u64
        + 1;
    (line, column)
}

/// A profile name the way users give it on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Name(String),
    Path(PathBuf),
}

impl Reference {
    fn from_argument(argument: &str, relative_to: Option<&Path>) -> Reference {
        if argument.contains('/') || argument.ends_with(".yaml") || argument.ends_with(".yml") {
            let path = PathBuf::from(argument);
            match relative_to {
                Some(dir) if path.is_relative() => Reference::Path(dir.join(path)),
                _ => Reference::Path(path),
            }
        } else {
            Reference::Name(argument.to_owned())
        }
    }
}

/// A profile file found but not yet parsed.
struct Located {
    name: String,
    origin: Origin,
    bytes: Vec<u8>,
}

/// Like ssh and sudo with their configuration: a profile, or the directory
/// holding it, that users other than its owner may write lets them decide
/// what tcptune writes into the kernel as root. Said, not refused, because
/// a test tree or a user's own profile is legitimately theirs.
fn writable_by_others(path: &Path) -> Option<String> {
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for (what, checked) in [("profile", path), ("directory", parent)] {
        let Some(meta) = crate::system::write::permissions(checked) else {
            continue;
        };
        // Sticky directories (/tmp) still let others replace nothing of ours.
        let sticky = meta.is_dir && meta.mode & 0o1000 != 0;
        if meta.mode & 0o002 != 0 && !sticky {
            return Some(format!(
                "the {what} {} is writable by every user: anyone could change what tcptune applies as root",
                checked.display()
            ));
        }
        if meta.mode & 0o020 != 0 && meta.gid != 0 {
            return Some(format!(
                "the {what} {} is writable by group {}: its members could change what tcptune applies as root",
                checked.display(),
                meta.gid
            ));
        }
    }
    None
}

/// Finds and loads a profile by name or path, with its `extends` chain.
pub fn resolve(system: &System, argument: &str) -> Result<Profile> {
    Ok(merge(vec![chain(system, argument)?]))
}

/// Finds and loads several profiles and layers them: each with its
/// `extends` chain, later profiles overriding earlier ones key by key, by
/// the same rules as `extends` (the one merge of tcptune). The name joins
/// the names with `+`.
pub fn resolve_stack<S: AsRef<str>>(system: &System, arguments: &[S]) -> Result<Profile> {
    if arguments.is_empty() {
        return Err(Error::Usage("no profile given".into()));
    }
    let layers = arguments
        .iter()
        .map(|argument| chain(system, argument.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    Ok(merge(layers))
}

/// One file of a profile as it was read: its name, where it came from and
/// its bytes (what `apply` records of the active profile).
pub struct FileRead {
    pub name: String,
    pub origin: Origin,
    pub bytes: Vec<u8>,
}

/// For each argument, its files as read: itself first, then each parent it
/// extends. The same lookup as [`resolve_stack`].
pub fn stack_files<S: AsRef<str>>(system: &System, arguments: &[S]) -> Result<Vec<Vec<FileRead>>> {
    arguments
        .iter()
        .map(|argument| {
            Ok(chain(system, argument.as_ref())?
                .into_iter()
                .map(|(located, _)| FileRead {
                    name: located.name,
                    origin: located.origin,
                    bytes: located.bytes,
                })
                .collect())
        })
        .collect()
}

/// One profile's files: itself first, then each parent it extends.
fn chain(system: &System, argument: &str) -> Result<Vec<(Located, ProfileFile)>> {
    let reference = Reference::from_argument(argument, None);
    let mut located = locate(system, &reference, None)?;
    let mut documents: Vec<(Located, ProfileFile)> = Vec::new();
    loop {
        let file = located.origin.display_name(&located.name);
        let document = parse(&file, &located.name, &located.bytes)?;
        let parent = document.extends.clone();
        documents.push((located, document));
        let Some((parent_name, position)) = parent else {
            break;
        };
        let child = &documents[documents.len() - 1].0;
        let child_dir = match &child.origin {
            Origin::File(path) => path.parent().map(Path::to_path_buf),
            Origin::Builtin => None,
        };
        let reference = Reference::from_argument(&parent_name, child_dir.as_deref());
        // `extends: webserver` inside an installed `webserver.yaml` means the
        // built-in one, the way a method calls its parent.
        let skip_installed = matches!(&reference, Reference::Name(name) if *name == child.name);
        let error_at = |message: String| {
            Error::Profile(ProfileErrors(vec![ProfileError {
                file: file.clone(),
                line: position.line,
                column: position.column,
                message,
            }]))
        };
        let next = match locate(system, &reference, Some(skip_installed)) {
            Ok(next) => next,
            Err(Error::UnknownProfile { .. }) => {
                return Err(error_at(format!(
                    "extends the unknown profile `{parent_name}`"
                )));
            }
            Err(other) => return Err(other),
        };
        // The same file under another spelling (`../dir/a.yaml` from
        // dir/a.yaml) is the same profile: compared by device and inode.
        let same_file = |seen: &Located| match (&seen.origin, &next.origin) {
            (Origin::File(seen_path), Origin::File(next_path)) => {
                crate::system::write::identity(seen_path).is_some_and(|seen_id| {
                    crate::system::write::identity(next_path) == Some(seen_id)
                })
            }
            _ => false,
        };
        if documents.iter().any(|(seen, _)| {
            (seen.origin == next.origin && seen.name == next.name) || same_file(seen)
        }) {
            return Err(error_at(format!("`extends: {parent_name}` makes a cycle")));
        }
        if documents.len() >= MAX_EXTENDS_DEPTH {
            return Err(error_at(format!(
                "`extends` chains more than {MAX_EXTENDS_DEPTH} profiles"
            )));
        }
        located = next;
    }
    Ok(documents)
}

/// Merges layers of profile chains (each nearest first) into one profile:
/// the first layer's oldest ancestor is the base, every later file
/// overrides what came before it key by key and threshold by threshold.
fn merge(layers: Vec<Vec<(Located, ProfileFile)>>) -> Profile {
    let chain: Vec<String> = layers
        .iter()
        .flatten()
        .map(|(located, _)| located.name.clone())
        .collect();
    let warnings: Vec<String> = layers
        .iter()
        .flatten()
        .filter_map(|(located, _)| match &located.origin {
            Origin::File(path) => writable_by_others(path),
            Origin::Builtin => None,
        })
        .collect();
    let sources: Vec<Source> = layers
        .iter()
        .flatten()
        .map(|(located, _)| match &located.origin {
            Origin::File(path) => Source {
                name: located.name.clone(),
                path: Some(path.clone()),
                replaces_builtin: BUILTINS.iter().any(|(builtin, _)| *builtin == located.name),
            },
            Origin::Builtin => Source {
                name: located.name.clone(),
                path: None,
                replaces_builtin: false,
            },
        })
        .collect();
    let mut settings: BTreeMap<Key, Setting> = BTreeMap::new();
    let mut thresholds = Thresholds::default();
    let mut description = String::new();
    let mut names = Vec::new();
    let mut origin = Origin::Builtin;
    for layer in layers {
        let mut name = String::new();
        // Oldest ancestor first, so nearer profiles override.
        for (located, document) in layer.into_iter().rev() {
            for setting in document.settings {
                settings.insert(setting.key.clone(), setting);
            }
            thresholds = document.thresholds.over(thresholds);
            if let Some(text) = document.description {
                description = text;
            }
            name = located.name;
            origin = located.origin;
        }
        names.push(name);
    }
    Profile {
        name: names.join("+"),
        description,
        origin,
        chain,
        settings: settings.into_values().collect(),
        thresholds,
        warnings,
        sources,
    }
}

/// `skip_installed`: Some(true) when resolving a parent of the same name.
fn locate(system: &System, reference: &Reference, skip_installed: Option<bool>) -> Result<Located> {
    match reference {
        Reference::Path(path) => {
            let bytes = match crate::system::write::permissions(path) {
                Some(meta) if meta.is_file => system.read_file_limited(path, READ_LIMIT)?,
                _ => return Err(unknown(system, &path.display().to_string())),
            };
            let name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The name goes into the journal and the sysctl.d file's header.
            if name.chars().any(char::is_control) {
                return Err(Error::Usage(format!(
                    "the profile file name {} contains a control character",
                    path.display()
                )));
            }
            Ok(Located {
                name,
                origin: Origin::File(path.clone()),
                bytes,
            })
        }
        Reference::Name(name) => {
            if !valid_name(name) {
                return Err(unknown(system, name));
            }
            let installed = system
                .config_path(INSTALLED_DIR)
                .join(format!("{name}.yaml"));
            if skip_installed != Some(true) && installed.is_file() {
                let bytes = system.read_file_limited(&installed, READ_LIMIT)?;
                return Ok(Located {
                    name: name.clone(),
                    origin: Origin::File(installed),
                    bytes,
                });
            }
            match BUILTINS.iter().find(|(builtin, _)| builtin == name) {
                Some((builtin, text)) => Ok(Located {
                    name: (*builtin).to_owned(),
                    origin: Origin::Builtin,
                    bytes: text.as_bytes().to_vec(),
                }),
                None => Err(unknown(system, name)),
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
        && !name.starts_with('.')
}

fn unknown(system: &System, name: &str) -> Error {
    // The installed names only, from the directory: resolving them (as
    // `list` does) would meet this same unknown name again in a broken
    // `extends` chain.
    let installed_names: Vec<String> = system
        .list_yaml(&system.config_path(INSTALLED_DIR))
        .map(|paths| {
            paths
                .iter()
                .filter_map(|path| path.file_stem())
                .map(|stem| stem.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let candidates = BUILTINS
        .iter()
        .map(|(builtin, _)| *builtin)
        .chain(installed_names.iter().map(String::as_str));
    Error::UnknownProfile {
        name: name.to_owned(),
        suggestion: crate::suggest::closest(name, candidates)
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default(),
        builtins: BUILTINS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", "),
        installed: system
            .config_path(INSTALLED_DIR)
            .join(format!("{name}.yaml")),
    }
}

/// A profile as `tcptune profiles` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub name: String,
    pub origin: Origin,
    pub description: String,
    /// An installed profile with a built-in's name replaces the built-in.
    pub overrides_builtin: bool,
}

/// The built-in and installed profiles. An installed file that does not
/// validate is still listed, with the first error as its description.
pub fn list(system: &System) -> Result<Vec<Listing>> {
    let mut listings = Vec::new();
    let installed_dir = system.config_path(INSTALLED_DIR);
    let installed = system.list_yaml(&installed_dir)?;
    let installed_names: Vec<String> = installed
        .iter()
        .filter_map(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .collect();
    for (name, text) in BUILTINS {
        if installed_names.iter().any(|installed| installed == name) {
            continue;
        }
        let description = parse(name, name, text.as_bytes())
            .map(|document| document.description.unwrap_or_default())
            .unwrap_or_default();
        listings.push(Listing {
            name: (*name).to_owned(),
            origin: Origin::Builtin,
            description,
            overrides_builtin: false,
        });
    }
    for (path, name) in installed.into_iter().zip(installed_names) {
        let bytes = system.read_file_limited(&path, READ_LIMIT)?;
        let first = |errors: &ProfileErrors| {
            errors
                .0
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        let description = match parse(&path.display().to_string(), &name, &bytes) {
            // Valid on its own is not enough: its `extends` chain must
            // resolve too (no cycle, no missing parent).
            Ok(document) => match chain(system, &path.display().to_string()) {
                Ok(_) => document.description.unwrap_or_default(),
                Err(Error::Profile(errors)) => format!("INVALID: {}", first(&errors)),
                Err(other) => format!("INVALID: {other}"),
            },
            Err(errors) => format!("INVALID: {}", first(&errors)),
        };
        let overrides_builtin = BUILTINS.iter().any(|(builtin, _)| *builtin == name);
        listings.push(Listing {
            name,
            origin: Origin::File(path),
            description,
            overrides_builtin,
        });
    }
    Ok(listings)
}
