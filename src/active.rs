//! The active profile: which profile stack `apply` last put in force on each
//! target, kept in `<state>/active.json` beside the journal, and what
//! `status` makes of it (drift of live values since the transaction, whether
//! the boot configuration still carries them).
//!
//! An entry names the transaction it came with (or, for an apply that found
//! nothing to change, the standing transaction it was made on). An entry
//! whose transaction was rolled back no longer counts, so `rollback` gives
//! back the previous active profile, or none, even if the file could not be
//! tidied afterwards. Each profile file is recorded with its length and an
//! FNV-1a 64-bit hash of its bytes: enough to notice that a file was edited
//! since it was applied, which is all the digest is for (it guards against
//! accidents, not against an attacker who can write profiles as root), so
//! no cryptographic crate is needed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::journal::{Kind, Record, State, Target};
use crate::key::{Key, Value};
use crate::profile::{self, Origin};
use crate::system::System;
use crate::system::write::{read_owned, write_atomic};

/// The file beside the journal.
pub const FILE_NAME: &str = "active.json";

const SCHEMA_VERSION: u32 = 1;

/// Entries kept per state directory; older ones no longer matter.
const MAX_ENTRIES: usize = 256;

/// Where a profile file came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Source {
    Builtin,
    File(PathBuf),
}

/// One profile file as it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub name: String,
    pub source: Source,
    /// Length of its bytes.
    pub length: u64,
    /// FNV-1a 64 of its bytes, 16 hex digits.
    pub fnv1a64: String,
}

/// One `--profile` of the stack: how to find it again, and its files
/// (itself first, then what it extends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// A built-in name or an absolute path.
    pub argument: String,
    pub files: Vec<FileDigest>,
}

/// The profile stack put in force on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub target: Target,
    /// The profile's name, layers joined with `+`.
    pub profile: String,
    pub layers: Vec<Layer>,
    /// The transaction that applied it; None when nothing had to change.
    pub transaction: Option<u64>,
    /// With no transaction: the standing transaction it was made on, if any.
    #[serde(default)]
    pub basis: Option<u64>,
    /// Seconds since the epoch, UTC.
    pub recorded: u64,
}

impl Entry {
    /// The arguments that resolve the stack again.
    pub fn arguments(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|layer| layer.argument.clone())
            .collect()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ActiveFile {
    schema_version: u32,
    entries: Vec<Entry>,
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn digest(read: &profile::FileRead) -> Result<FileDigest> {
    Ok(FileDigest {
        name: read.name.clone(),
        source: match &read.origin {
            Origin::Builtin => Source::Builtin,
            Origin::File(path) => Source::File(absolute(path)?),
        },
        length: read.bytes.len() as u64,
        fnv1a64: format!("{:016x}", fnv1a64(&read.bytes)),
    })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|error| Error::Usage(format!("{}: not a usable path ({error})", path.display())))
}

/// The layers of a profile stack as they are now.
pub fn layers(system: &System, arguments: &[String]) -> Result<Vec<Layer>> {
    profile::stack_files(system, arguments)?
        .iter()
        .map(|files| {
            let files = files.iter().map(digest).collect::<Result<Vec<_>>>()?;
            let argument = match files.first().map(|file| &file.source) {
                Some(Source::File(path)) => path.display().to_string(),
                _ => files
                    .first()
                    .map(|file| file.name.clone())
                    .unwrap_or_default(),
            };
            Ok(Layer { argument, files })
        })
        .collect()
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

fn load(state_dir: &Path) -> Result<ActiveFile> {
    let file = path(state_dir);
    let read = read_owned(&file).map_err(|source| Error::Read {
        path: file.clone(),
        source,
    })?;
    match read {
        None => Ok(ActiveFile::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|error| Error::Journal {
            path: file.clone(),
            message: format!(
                "not a record of the active profile ({error}); move it away to start afresh"
            ),
        }),
    }
}

fn store(state_dir: &Path, mut file: ActiveFile) -> Result<()> {
    let excess = file.entries.len().saturating_sub(MAX_ENTRIES);
    file.entries.drain(..excess);
    file.schema_version = SCHEMA_VERSION;
    let target = path(state_dir);
    let bytes = serde_json::to_vec_pretty(&file).map_err(|error| Error::Journal {
        path: target.clone(),
        message: format!("cannot encode the active profile: {error}"),
    })?;
    write_atomic(&target, &bytes, 0o600).map_err(|source| Error::Write {
        path: target.clone(),
        source,
    })
}

/// Whether an apply record still stands: committed and not rolled back.
fn stands(records: &[Record], id: u64) -> bool {
    records.iter().any(|record| {
        record.id == id
            && record.kind == Kind::Apply
            && record.state == State::Committed
            && record.rolled_back_by.is_none()
    })
}

/// The newest standing apply of `target`.
pub fn standing(records: &[Record], target: &Target) -> Option<u64> {
    records
        .iter()
        .filter(|record| belongs(record, target) && stands(records, record.id))
        .map(|record| record.id)
        .max()
}

fn belongs(record: &Record, target: &Target) -> bool {
    record
        .target
        .as_ref()
        .is_none_or(|recorded| recorded.same_system(target))
}

fn valid(entry: &Entry, records: &[Record]) -> bool {
    match (entry.transaction, entry.basis) {
        (Some(id), _) | (None, Some(id)) => stands(records, id),
        (None, None) => true,
    }
}

/// The active profile of `target`: its newest entry that still stands.
pub fn active(state_dir: &Path, records: &[Record], target: &Target) -> Result<Option<Entry>> {
    Ok(load(state_dir)?
        .entries
        .into_iter()
        .rev()
        .find(|entry| entry.target.same_system(target) && valid(entry, records)))
}

/// Records that `layers` are now in force on `target`, after `transaction`
/// (None: the apply had nothing to change).
pub fn record(
    state_dir: &Path,
    records: &[Record],
    target: &Target,
    profile: &str,
    layers: Vec<Layer>,
    transaction: Option<u64>,
) -> Result<()> {
    let mut file = load(state_dir)?;
    file.entries.push(Entry {
        target: target.clone(),
        profile: profile.to_owned(),
        layers,
        transaction,
        basis: match transaction {
            Some(_) => None,
            None => standing(records, target),
        },
        recorded: crate::journal::now(),
    });
    store(state_dir, file)
}

/// After a rollback: drops the entries whose transaction was undone.
pub fn forget_undone(state_dir: &Path, records: &[Record]) -> Result<()> {
    let mut file = load(state_dir)?;
    let before = file.entries.len();
    file.entries.retain(|entry| valid(entry, records));
    if file.entries.len() == before {
        return Ok(());
    }
    store(state_dir, file)
}

/// Files of the active stack that are no longer what was applied.
pub fn changed_files(entry: &Entry, now: &[Layer]) -> Vec<String> {
    let then: Vec<&FileDigest> = entry.layers.iter().flat_map(|layer| &layer.files).collect();
    let now: Vec<&FileDigest> = now.iter().flat_map(|layer| &layer.files).collect();
    let mut changed: Vec<String> = now
        .iter()
        .filter(|file| !then.contains(file))
        .map(|file| match &file.source {
            Source::Builtin => format!("built-in {}", file.name),
            Source::File(path) => path.display().to_string(),
        })
        .collect();
    if then.len() != now.len() && changed.is_empty() {
        changed.push("the extends chain".into());
    }
    changed
}

/// Which profile a command without `--profile` used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// Given with `--profile`.
    Option,
    /// The active profile recorded by `apply`.
    Active,
    /// Nothing given and nothing applied: the built-in default.
    Default,
}

/// The profile a command audits against, and why that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileChoice {
    pub source: ProfileSource,
    /// With [`ProfileSource::Active`]: the record it came from.
    pub active: Option<Entry>,
    /// With [`ProfileSource::Active`]: profile files edited since applied.
    pub changed_files: Vec<String>,
}

impl ProfileChoice {
    pub fn given() -> ProfileChoice {
        ProfileChoice {
            source: ProfileSource::Option,
            active: None,
            changed_files: Vec::new(),
        }
    }
}

/// How the boot configuration treats one key tcptune set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Persistence {
    /// Boot sets the applied value.
    Persisted,
    /// No file sets the key at boot.
    NotPersisted,
    /// Another file's assignment wins at boot with another value.
    Shadowed,
    /// The boot configuration could not be read (an unreadable root).
    Unknown,
}

/// One key of the last standing apply, now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyState {
    pub key: Key,
    pub applied: Value,
    /// The live value now; None when it cannot be read.
    pub live: Option<Value>,
    pub drifted: bool,
    pub boot: Persistence,
    /// The file and line that win at boot, when it is not tcptune's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_winner: Option<String>,
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub active: Option<Entry>,
    /// Profile files changed since they were applied.
    pub changed_files: Vec<String>,
    /// The newest transaction of this target, standing or not.
    pub last_transaction: Option<Record>,
    /// The keys of the standing apply the active profile came with.
    pub keys: Vec<KeyState>,
}

impl Status {
    /// Whether anything needs attention: drift, a value boot would not
    /// restore, or a profile file edited since it was applied.
    pub fn attention(&self) -> bool {
        !self.changed_files.is_empty()
            || self.keys.iter().any(|key| {
                key.drifted || matches!(key.boot, Persistence::NotPersisted | Persistence::Shadowed)
            })
    }
}

/// Compares what `applied` set with the live values and boot configuration
/// in `facts`. `persisted`: whether the transaction wrote a file at all (a
/// child namespace's or live-only apply has nothing boot could carry).
pub fn key_states(applied: &Record, facts: &Facts) -> Vec<KeyState> {
    applied
        .keys
        .iter()
        .map(|key| {
            let live = facts
                .sysctls
                .get(&key.key)
                .and_then(|reading| reading.value().cloned());
            let drifted = applied.live && live.as_ref() != Some(&key.applied);
            let (boot, boot_winner) = match &facts.boot {
                None => (Persistence::Unknown, None),
                Some(boot) => match boot.resolution.get(&key.key) {
                    None => (Persistence::NotPersisted, None),
                    Some(resolution) if resolution.value() == Some(&key.applied) => {
                        (Persistence::Persisted, None)
                    }
                    Some(resolution) => (
                        if resolution.value().is_none() {
                            Persistence::NotPersisted
                        } else {
                            Persistence::Shadowed
                        },
                        Some(format!(
                            "{}:{}",
                            resolution.winner.boot_path.display(),
                            resolution.winner.line
                        )),
                    ),
                },
            };
            KeyState {
                key: key.key.clone(),
                applied: key.applied.clone(),
                live,
                drifted,
                boot,
                boot_winner,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{AbsolutePath, FileRecord};

    fn target(root: &str) -> Target {
        let path = |text: &str| AbsolutePath::new(text).expect("absolute");
        Target {
            netns: None,
            root: path(root),
            proc: path("/proc"),
            sysctl_dir: path("/etc/sysctl.d"),
        }
    }

    fn apply(id: u64, state: State, rolled_back_by: Option<u64>) -> Record {
        Record {
            schema_version: 1,
            id,
            kind: Kind::Apply,
            state,
            created: 0,
            profile: None,
            file: FileRecord {
                path: AbsolutePath::new("/etc/sysctl.d/99-zz-tcptune.conf").expect("absolute"),
                existed_before: false,
                mode_before: None,
                exists_after: true,
                changed: true,
            },
            keys: Vec::new(),
            rolls_back: Vec::new(),
            rolled_back_by,
            failure: None,
            target: Some(target("/")),
            live: true,
            unrestored: Vec::new(),
            skipped: Vec::new(),
        }
    }

    fn entry(profile: &str, transaction: Option<u64>, basis: Option<u64>) -> Entry {
        Entry {
            target: target("/"),
            profile: profile.to_owned(),
            layers: Vec::new(),
            transaction,
            basis,
            recorded: 0,
        }
    }

    #[test]
    fn an_entry_counts_while_its_transaction_stands() {
        let standing = [apply(1, State::Committed, None)];
        let undone = [apply(1, State::RolledBack, Some(2))];
        let reverted = [apply(1, State::Reverted, None)];
        let webserver = entry("webserver", Some(1), None);
        assert!(valid(&webserver, &standing));
        assert!(!valid(&webserver, &undone));
        assert!(!valid(&webserver, &reverted));
        // An apply that had nothing to change stands on the transaction
        // that was in force, and falls with it.
        let again = entry("webserver", None, Some(1));
        assert!(valid(&again, &standing));
        assert!(!valid(&again, &undone));
        // Made on a machine where nothing stood: it stands on its own.
        assert!(valid(&entry("default", None, None), &undone));
    }

    #[test]
    fn the_newest_standing_apply_belongs_to_its_target() {
        let mut other = apply(3, State::Committed, None);
        other.target = Some(target("/srv/image"));
        let records = [
            apply(1, State::Committed, None),
            apply(2, State::RolledBack, Some(4)),
            other,
        ];
        assert_eq!(standing(&records, &target("/")), Some(1));
        assert_eq!(standing(&records, &target("/srv/image")), Some(3));
        assert_eq!(standing(&records, &target("/mnt")), None);
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
