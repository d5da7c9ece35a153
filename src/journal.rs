//! The journal: one record per transaction under `<state-dir>/journal`, so
//! every change tcptune makes can be undone exactly, even after a crash.
//!
//! A record is written (and fsynced) before anything changes, with the
//! previous live value of every key and the previous bytes of the sysctl.d
//! file (kept beside it as `<id>.before`), and updated as the transaction
//! moves on. Records are JSON with `schema_version`, files 0600, the
//! directory 0700.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::key::{Key, Value};
use crate::system::write::{names_in, read_owned, write_atomic};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Apply,
    Rollback,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Apply => "apply",
            Kind::Rollback => "rollback",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Written before any change; still this state after a crash.
    Prepared,
    /// Every change made and verified.
    Committed,
    /// Failed part-way and put back by tcptune itself.
    Reverted,
    /// Undone by a later rollback.
    RolledBack,
    /// A rollback that restored everything it could; `unrestored` names
    /// the keys the kernel refused.
    Partial,
}

impl fmt::Display for State {
    /// The names of the JSON contract (`committed`, `rolled_back`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Prepared => "prepared",
            State::Committed => "committed",
            State::Reverted => "reverted",
            State::RolledBack => "rolled_back",
            State::Partial => "partial",
        })
    }
}

/// A key the transaction changes, with both values as the kernel printed
/// them. Validated when read: a record names only `net.` keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key: Key,
    /// The live value before the transaction.
    pub previous: Value,
    /// The live value the transaction sets.
    pub applied: Value,
}

/// An absolute path, checked when a record is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AbsolutePath(PathBuf);

impl AbsolutePath {
    /// None for a relative path.
    pub fn new(path: impl Into<PathBuf>) -> Option<AbsolutePath> {
        let path = path.into();
        path.is_absolute().then_some(AbsolutePath(path))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AbsolutePath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::deserialize(deserializer)?;
        AbsolutePath::new(path.clone()).ok_or_else(|| {
            serde::de::Error::custom(format!("{} is not an absolute path", path.display()))
        })
    }
}

impl std::ops::Deref for AbsolutePath {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

/// The sysctl.d file the transaction writes (or restores).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: AbsolutePath,
    /// Whether the file existed before; its bytes are kept as [`Side::Before`].
    pub existed_before: bool,
    /// Its permission bits before, restored with the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_before: Option<u32>,
    /// Whether the file exists after; its bytes are kept as [`Side::After`].
    pub exists_after: bool,
    /// Whether the transaction touches the file at all.
    pub changed: bool,
}

/// A network namespace, by the device and inode of its nsfs file
/// (`/proc/self/ns/net`, or the file `--netns` named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceId {
    pub dev: u64,
    pub inode: u64,
}

impl fmt::Display for NamespaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net:[{}] (device {})", self.inode, self.dev)
    }
}

/// The system a transaction changed: its network namespace, the root whose
/// files it wrote, the proc tree whose values it set and the sysctl.d
/// directory of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// None when the namespace could not be identified.
    pub netns: Option<NamespaceId>,
    pub root: AbsolutePath,
    pub proc: AbsolutePath,
    pub sysctl_dir: AbsolutePath,
}

impl Target {
    /// Whether a record of `self` belongs to the system `current` names.
    /// The sysctl.d directory is compared by the file check of rollback,
    /// which says which `--sysctl-dir` to pass.
    pub fn same_system(&self, current: &Target) -> bool {
        self.netns == current.netns && self.root == current.root && self.proc == current.proc
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.netns {
            Some(netns) => write!(f, "network namespace {netns}")?,
            None => f.write_str("an unidentified network namespace")?,
        }
        write!(
            f,
            ", root {}, proc {}, sysctl.d {}",
            self.root.display(),
            self.proc.display(),
            self.sysctl_dir.display()
        )
    }
}

/// A key a rollback could not put back, with the kernel's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unrestored {
    pub key: Key,
    /// The value it should have returned to.
    pub value: Value,
    pub reason: String,
}

/// Which copy of the file a record keeps beside it: `<id>.before` or
/// `<id>.after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Before,
    After,
}

impl Side {
    fn extension(self) -> &'static str {
        match self {
            Side::Before => "before",
            Side::After => "after",
        }
    }
}

/// One transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    pub id: u64,
    pub kind: Kind,
    pub state: State,
    /// Seconds since the epoch, UTC.
    pub created: u64,
    pub profile: Option<String>,
    pub file: FileRecord,
    pub keys: Vec<KeyRecord>,
    /// For a rollback: the transactions it undid, newest first.
    #[serde(default)]
    pub rolls_back: Vec<u64>,
    /// For an apply: the rollback that undid it.
    #[serde(default)]
    pub rolled_back_by: Option<u64>,
    /// What went wrong, for a reverted transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The system changed. None in records written before records named
    /// their target: those belong to the default target of their root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Whether the transaction wrote live values (false: files only, as
    /// for an offline `--root` image).
    #[serde(default = "yes")]
    pub live: bool,
    /// For a partial rollback: the keys the kernel refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrestored: Vec<Unrestored>,
    /// For a rollback: keys the operator chose to leave as they are
    /// (`rollback --skip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Key>,
}

fn yes() -> bool {
    true
}

impl Record {
    /// An applied transaction that a rollback can still undo.
    pub fn is_undoable(&self) -> bool {
        self.kind == Kind::Apply && matches!(self.state, State::Prepared | State::Committed)
    }
}

/// The journal directory of one state directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// Opens (creating, private) `<state>/journal`.
    pub fn open(state_dir: &Path) -> Result<Journal> {
        let dir = state_dir.join("journal");
        for path in [state_dir, dir.as_path()] {
            crate::system::write::ensure_private_dir(path).map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok(Journal { dir })
    }

    /// Opens an existing journal for reading; None when there is none. A
    /// journal this user may not look at is an error (exit 3), never an
    /// empty journal.
    pub fn existing(state_dir: &Path) -> Result<Option<Journal>> {
        let dir = state_dir.join("journal");
        match crate::system::write::is_directory(&dir) {
            Ok(exists) => Ok(exists.then_some(Journal { dir })),
            Err(source) => Err(unreadable_journal(&dir, source)),
        }
    }

    pub fn record_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn bytes_path(&self, id: u64, side: Side) -> PathBuf {
        self.dir.join(format!("{id}.{}", side.extension()))
    }

    /// The ids of the records present, ascending.
    fn ids(&self) -> Result<Vec<u64>> {
        let names = names_in(&self.dir).map_err(|source| unreadable_journal(&self.dir, source))?;
        let mut ids = Vec::new();
        for name in names {
            let Some(id) = name
                .to_str()
                .and_then(|name| name.strip_suffix(".json"))
                .and_then(canonical_id)
            else {
                continue;
            };
            ids.push(id);
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every record, oldest first; fails on the first that cannot be read.
    pub fn records(&self) -> Result<Vec<Record>> {
        self.ids()?.into_iter().map(|id| self.read(id)).collect()
    }

    /// Every record, oldest first, and apart the ones that cannot be read
    /// or do not validate: a bad record blocks only itself. Fails only when
    /// the directory cannot be listed.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan::default();
        for id in self.ids()? {
            match self.read(id) {
                Ok(record) => scan.records.push(record),
                Err(error) => scan.unreadable.push(Unreadable {
                    id,
                    path: self.record_path(id),
                    reason: match error {
                        Error::Journal { message, .. } => message,
                        other => other.to_string(),
                    },
                }),
            }
        }
        Ok(scan)
    }

    /// Sets a record aside: `<id>.json` becomes `<id>.forgotten` (its kept
    /// copies stay beside it for whoever investigates), so it no longer
    /// blocks or belongs to any transaction. Its id is never given again.
    pub fn forget(&self, id: u64) -> Result<PathBuf> {
        let from = self.record_path(id);
        let to = self.dir.join(format!("{id}.forgotten"));
        crate::system::write::rename_durably(&from, &to)
            .map_err(|source| Error::Write { path: from, source })?;
        Ok(to)
    }

    pub fn read(&self, id: u64) -> Result<Record> {
        let path = self.record_path(id);
        let bytes = read_owned(&path)
            .map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?
            .ok_or_else(|| Error::Journal {
                path: path.clone(),
                message: "the record is missing".into(),
            })?;
        let entry: Record = serde_json::from_slice(&bytes).map_err(|error| Error::Journal {
            path: path.clone(),
            message: {
                // serde's message ends with " at line L column C": said first.
                let text = error.to_string();
                let text = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(message, _)| message);
                format!("line {}, column {}: {text}", error.line(), error.column())
            },
        })?;
        if entry.schema_version != SCHEMA_VERSION {
            return Err(Error::Journal {
                path,
                message: format!(
                    "schema_version {} is not {SCHEMA_VERSION}; written by another tcptune version",
                    entry.schema_version
                ),
            });
        }
        if entry.id != id {
            return Err(Error::Journal {
                path,
                message: format!("the record says id {} but is named {id}", entry.id),
            });
        }
        validate(&entry).map_err(|message| Error::Journal { path, message })?;
        Ok(entry)
    }

    /// The id the next transaction gets: after every id any file in the
    /// journal names (unreadable and forgotten records and kept copies
    /// included), so nothing of an earlier transaction is ever overwritten.
    pub fn next_id(&self) -> Result<u64> {
        let names = names_in(&self.dir).map_err(|source| Error::Read {
            path: self.dir.clone(),
            source,
        })?;
        let last = names
            .iter()
            .filter_map(|name| {
                let name = name.to_str()?;
                canonical_id(name.split_once('.').map_or(name, |(id, _)| id))
            })
            .max();
        match last {
            None => Ok(1),
            Some(last) => last.checked_add(1).ok_or_else(|| Error::Journal {
                path: self.record_path(last),
                message: "no transaction id is left after this one".into(),
            }),
        }
    }

    /// Writes (or rewrites) a record durably. A record that would not
    /// validate when read back is refused before it is written: tcptune
    /// never leaves a record that it would then reject itself.
    pub fn write(&self, entry: &Record) -> Result<()> {
        let path = self.record_path(entry.id);
        validate(entry).map_err(|message| Error::Journal {
            path: path.clone(),
            message,
        })?;
        let mut bytes = serde_json::to_vec_pretty(entry).map_err(|error| Error::Journal {
            path: path.clone(),
            message: error.to_string(),
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes, 0o600).map_err(|source| Error::Write { path, source })
    }

    /// Keeps the file's bytes before or after a change.
    pub fn keep_bytes(&self, id: u64, side: Side, bytes: &[u8]) -> Result<()> {
        let path = self.bytes_path(id, side);
        write_atomic(&path, bytes, 0o600).map_err(|source| Error::Write { path, source })
    }

    pub fn kept_bytes(&self, id: u64, side: Side) -> Result<Vec<u8>> {
        let path = self.bytes_path(id, side);
        read_owned(&path)
            .map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?
            .ok_or(Error::Journal {
                path,
                message: "the kept copy of the file is missing".into(),
            })
    }
}

/// The journal directory cannot be looked at: permission denied says what
/// to do about it.
fn unreadable_journal(dir: &Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::PermissionDenied {
        Error::Failed(format!(
            "cannot read the journal: needs root (try sudo); {} is private ({source})",
            dir.display()
        ))
    } else {
        Error::Read {
            path: dir.to_owned(),
            source,
        }
    }
}

/// A record id as a file names it: only canonical decimal (`01` is not 1).
fn canonical_id(text: &str) -> Option<u64> {
    (!text.is_empty() && !text.starts_with('0') && text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The records of a journal, and the files that should be records but
/// cannot be read.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Oldest first.
    pub records: Vec<Record>,
    pub unreadable: Vec<Unreadable>,
}

/// A record file that cannot be read or does not validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub id: u64,
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal record {} ({}) cannot be read: {}; it is left out. Once you have checked what it changed, `tcptune rollback --forget {}` sets it aside",
            self.id,
            self.path.display(),
            self.reason,
            self.id
        )
    }
}

/// A record only ever names tcptune's own file and `net.` keys: anything
/// else was not written by tcptune, and rollback must not be steered into
/// writing elsewhere. (Paths are checked absolute and keys well-formed as
/// the record is parsed.) Values are whatever the kernel printed, control
/// characters included: JSON keeps them exactly and every printer escapes
/// them. A file mode is permission bits only (setuid, setgid and sticky
/// included, as the file had them), never a file type.
fn validate(entry: &Record) -> std::result::Result<(), String> {
    if entry
        .file
        .path
        .file_name()
        .is_none_or(|name| name != crate::conf::FILE_NAME)
    {
        return Err(format!(
            "names the file {}, which is not tcptune's",
            entry.file.path.display()
        ));
    }
    if let Some(mode) = entry.file.mode_before
        && mode & !0o7777 != 0
    {
        return Err(format!(
            "records the file mode {mode:o}, which is more than permission bits"
        ));
    }
    for record in &entry.keys {
        if !record.key.is_net() {
            return Err(format!(
                "names the key {}, which tcptune does not manage",
                record.key
            ));
        }
    }
    if entry
        .profile
        .as_deref()
        .is_some_and(|profile| profile.chars().any(char::is_control))
    {
        return Err("has a profile name with a control character".into());
    }
    Ok(())
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `2026-11-24T12:45:00Z` for seconds since the epoch.
pub fn format_time(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_524_300), "2026-11-24T12:45:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn records_round_trip_and_bad_records_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("state")).unwrap();
        assert_eq!(journal.next_id().unwrap(), 1);
        let entry = Record {
            schema_version: SCHEMA_VERSION,
            id: 1,
            kind: Kind::Apply,
            state: State::Prepared,
            created: 5,
            profile: Some("webserver".into()),
            file: FileRecord {
                path: AbsolutePath::new("/etc/sysctl.d/99-zz-tcptune.conf").unwrap(),
                existed_before: false,
                mode_before: None,
                exists_after: true,
                changed: true,
            },
            keys: vec![KeyRecord {
                key: Key::parse("net.ipv4.tcp_fin_timeout").unwrap(),
                previous: Value::parse("60"),
                applied: Value::parse("30"),
            }],
            rolls_back: Vec::new(),
            rolled_back_by: None,
            failure: None,
            target: None,
            live: true,
            unrestored: Vec::new(),
            skipped: Vec::new(),
        };
        journal.write(&entry).unwrap();
        assert_eq!(journal.records().unwrap(), vec![entry]);
        assert_eq!(journal.next_id().unwrap(), 2);
        std::fs::write(dir.path().join("state/journal/2.json"), "{ truncated").unwrap();
        let error = journal.records().unwrap_err().to_string();
        assert!(error.contains("2.json"), "{error}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("state/journal/1.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// A record exactly as tcptune 0.1.0 wrote it, before records were
    /// typed: it still reads, with the same meaning.
    const OLD_RECORD: &str = r#"{
  "schema_version": 1,
  "id": 7,
  "kind": "apply",
  "state": "committed",
  "created": 1795524300,
  "profile": "loadbalancer",
  "file": {
    "path": "/etc/sysctl.d/99-zz-tcptune.conf",
    "existed_before": true,
    "mode_before": 420,
    "exists_after": true,
    "changed": true
  },
  "keys": [
    {
      "key": "net.ipv4.ip_local_port_range",
      "previous": "32768 60999",
      "applied": "1024 65535"
    },
    {
      "key": "net.ipv4.conf.eth0/100.rp_filter",
      "previous": "1",
      "applied": "2"
    }
  ],
  "rolls_back": [],
  "rolled_back_by": null
}
"#;

    fn journal_with(id: u64, text: &str) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join(format!("state/journal/{id}.json")), text).unwrap();
        (dir, journal)
    }

    #[test]
    fn records_written_before_typing_still_read() {
        let (_dir, journal) = journal_with(7, OLD_RECORD);
        let record = journal.read(7).unwrap();
        assert_eq!(record.kind, Kind::Apply);
        assert_eq!(record.state, State::Committed);
        assert!(record.is_undoable());
        assert_eq!(
            record.file.path.as_path(),
            Path::new("/etc/sysctl.d/99-zz-tcptune.conf")
        );
        assert_eq!(record.file.mode_before, Some(0o644));
        assert_eq!(
            record.keys[0].previous,
            Value::parse("32768\t60999"),
            "values compare as the kernel prints them"
        );
        // A dotted interface name survives the round trip.
        assert_eq!(
            record.keys[1].key.relative_path(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
        // Writing it back gives a record that reads the same.
        journal.write(&record).unwrap();
        assert_eq!(journal.read(7).unwrap(), record);
    }

    #[test]
    fn a_record_is_validated_once_as_it_is_read() {
        for (change, expected) in [
            (
                (
                    "/etc/sysctl.d/99-zz-tcptune.conf",
                    "etc/sysctl.d/99-zz-tcptune.conf",
                ),
                "is not an absolute path",
            ),
            (
                (
                    "/etc/sysctl.d/99-zz-tcptune.conf",
                    "/etc/modprobe.d/evil.conf",
                ),
                "which is not tcptune's",
            ),
            (
                ("net.ipv4.ip_local_port_range", "kernel.core_pattern"),
                "which tcptune does not manage",
            ),
            (
                ("\"kind\": \"apply\"", "\"kind\": \"upgrade\""),
                "unknown variant",
            ),
            (
                ("\"mode_before\": 420", "\"mode_before\": 33188"),
                "more than permission bits",
            ),
        ] {
            let (_dir, journal) = journal_with(7, &OLD_RECORD.replace(change.0, change.1));
            let error = journal.read(7).unwrap_err().to_string();
            assert!(error.contains("7.json"), "{error}");
            assert!(error.contains(expected), "{change:?}: {error}");
        }
    }

    #[test]
    fn kept_copies_are_named_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("state")).unwrap();
        journal.keep_bytes(3, Side::Before, b"old").unwrap();
        journal.keep_bytes(3, Side::After, b"new").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("state/journal/3.before")).unwrap(),
            b"old"
        );
        assert_eq!(journal.kept_bytes(3, Side::After).unwrap(), b"new");
        let missing = journal.kept_bytes(4, Side::Before).unwrap_err().to_string();
        assert!(missing.contains("4.before"), "{missing}");
    }
}
