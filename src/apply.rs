//! Transactions: carrying out a [`Plan`] and undoing it.
//!
//! `apply` takes the state directory's lock, writes the journal record (the
//! previous live values and file bytes) before it changes anything, replaces
//! the sysctl.d file atomically, writes each live value and reads it back. If
//! any step fails it puts back what it had changed, marks the record
//! reverted and reports the failure. A crash leaves a `prepared` record that
//! `rollback` restores like any other.
//!
//! `rollback` undoes the newest applied transaction (or, with `--to`, that
//! one and every later one), restoring the file's exact bytes and the live
//! values, and refuses to overwrite a key or file someone changed after
//! tcptune set it unless forced.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::journal::{self, Entry, FileRecord, Journal, KeyRecord, Kind, State};
use crate::key::{Key, Value};
use crate::plan::Plan;
use crate::system::System;
use crate::system::write::{ensure_dir, read_owned, remove_durably, write_atomic};

/// Environment variable naming a step at which tcptune aborts, as `kill -9`
/// would stop it there. Used by the crash tests; steps are `journal`,
/// `file`, `key-N`, `commit`, and the same prefixed with `rollback-`.
pub const CRASH_AT: &str = "TCPTUNE_CRASH_AT";

fn checkpoint(step: &str) {
    if std::env::var_os(CRASH_AT).is_some_and(|wanted| wanted == step) {
        std::process::abort();
    }
}

/// What a transaction did, per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOutcome {
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub changed: bool,
    pub transaction: Option<String>,
    pub file: PathBuf,
    pub changes: Vec<KeyOutcome>,
    /// For a rollback: the transactions undone, newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
}

impl Outcome {
    /// Nothing was done.
    pub fn nothing() -> Outcome {
        Outcome {
            changed: false,
            transaction: None,
            file: PathBuf::new(),
            changes: Vec::new(),
            rolled_back: Vec::new(),
        }
    }
}

/// The transactions a rollback would undo, newest first.
pub fn rollback_targets(journal: &Journal, to: Option<u64>) -> Result<Vec<Entry>> {
    targets(&journal.entries()?, to)
}

/// Holds the state directory's lock until dropped.
pub struct Lock {
    _file: File,
}

/// Takes `<state>/lock` without waiting: two transactions never interleave.
pub fn lock(state_dir: &Path) -> Result<Lock> {
    crate::system::write::ensure_private_dir(state_dir).map_err(|source| Error::Write {
        path: state_dir.to_owned(),
        source,
    })?;
    let path = state_dir.join("lock");
    crate::system::write::refuse_symlink(&path).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Write { path, source }),
    }
}

/// Carries out a plan as one transaction. The caller holds the lock.
pub fn apply(system: &System, journal: &Journal, plan: &Plan) -> Result<Outcome> {
    let id = journal.next_id()?;
    let keys: Vec<KeyRecord> = plan
        .live_changes()
        .filter_map(|change| {
            Some(KeyRecord {
                key: change.key.to_string(),
                previous: change.from.as_ref()?.to_string(),
                applied: change.to.as_ref()?.to_string(),
            })
        })
        .collect();
    let file_changed = plan.file_changes();
    let mut entry = Entry {
        schema_version: journal::SCHEMA_VERSION,
        id,
        kind: Kind::Apply,
        state: State::Prepared,
        created: journal::now(),
        profile: Some(plan.profile.clone()),
        file: FileRecord {
            path: plan.file.clone(),
            existed_before: plan.old_file.is_some(),
            mode_before: file_mode(&plan.file),
            exists_after: true,
            changed: file_changed,
        },
        keys,
        rolls_back: Vec::new(),
        rolled_back_by: None,
        failure: None,
    };
    if let Some(old) = &plan.old_file {
        journal.keep_bytes(id, "before", old)?;
    }
    journal.keep_bytes(id, "after", &plan.new_file)?;
    journal.write(&entry)?;
    checkpoint("journal");

    let mut file_written = false;
    let mut keys_written = 0usize;
    let result = (|| -> Result<()> {
        if file_changed {
            let dir = plan.file.parent().unwrap_or(Path::new("/"));
            ensure_dir(dir, 0o755).map_err(|source| Error::Write {
                path: dir.to_owned(),
                source,
            })?;
            write_atomic(&plan.file, &plan.new_file, 0o644).map_err(|source| Error::Write {
                path: plan.file.clone(),
                source,
            })?;
            file_written = true;
            checkpoint("file");
        }
        for record in &entry.keys {
            write_verified(system, &record.key, &record.applied)?;
            keys_written += 1;
            checkpoint(&format!("key-{keys_written}"));
        }
        Ok(())
    })();

    if let Err(error) = result {
        let mut problems = Vec::new();
        for record in entry.keys[..keys_written].iter().rev() {
            if let Err(undo) = write_verified(system, &record.key, &record.previous) {
                problems.push(undo.to_string());
            }
        }
        if file_written && let Err(undo) = restore_file(journal, &entry) {
            problems.push(undo.to_string());
        }
        entry.failure = Some(error.to_string());
        if problems.is_empty() {
            entry.state = State::Reverted;
            journal.write(&entry)?;
            return Err(Error::Failed(format!(
                "apply failed: {error}; everything it had changed was put back (transaction {id} is marked reverted)"
            )));
        }
        // The record stays `prepared`, so `rollback` can finish the job.
        journal.write(&entry)?;
        return Err(Error::Failed(format!(
            "apply failed: {error}; putting things back also failed ({}); run `tcptune rollback` to restore transaction {id}",
            problems.join("; ")
        )));
    }
    checkpoint("commit");
    entry.state = State::Committed;
    journal.write(&entry)?;

    Ok(Outcome {
        changed: true,
        transaction: Some(id.to_string()),
        file: plan.file.clone(),
        changes: plan
            .changes
            .iter()
            .map(|change| KeyOutcome {
                key: change.key.to_string(),
                from: change.from.as_ref().map(ToString::to_string),
                to: change.to.as_ref().map(ToString::to_string),
                status: change.status.name().to_owned(),
            })
            .collect(),
        rolled_back: Vec::new(),
    })
}

/// Writes a live value and reads it back.
fn write_verified(system: &System, key: &str, value: &str) -> Result<()> {
    let parsed = Key::parse(key).map_err(|error| Error::Failed(format!("{key}: {error}")))?;
    let wanted = Value::parse(value);
    system
        .write_sysctl(&parsed, &wanted)
        .map_err(|refusal| Error::Failed(format!("writing {key} = {value}: {refusal}")))?;
    match system.read_sysctl(&parsed).value() {
        Some(read) if *read == wanted => Ok(()),
        Some(read) => Err(Error::Failed(format!(
            "{key}: wrote {value} but the kernel reports {read}"
        ))),
        None => Err(Error::Failed(format!(
            "{key}: cannot read it back after writing"
        ))),
    }
}

/// Puts the file back as the record says it was before.
fn restore_file(journal: &Journal, entry: &Entry) -> Result<()> {
    let path = &entry.file.path;
    if entry.file.existed_before {
        let bytes = journal.kept_bytes(entry.id, "before")?;
        write_atomic(path, &bytes, entry.file.mode_before.unwrap_or(0o644))
    } else {
        remove_durably(path)
    }
    .map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })
}

/// The permission bits of a regular file (not following symlinks).
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|meta| meta.is_file())
        .map(|meta| meta.permissions().mode() & 0o7777)
}

/// Which transactions a rollback undoes, newest first.
fn targets(entries: &[Entry], to: Option<u64>) -> Result<Vec<Entry>> {
    let undoable = |entry: &&Entry| {
        entry.kind == Kind::Apply && matches!(entry.state, State::Prepared | State::Committed)
    };
    match to {
        None => Ok(entries
            .iter()
            .rev()
            .find(undoable)
            .cloned()
            .into_iter()
            .collect()),
        Some(id) => {
            let Some(entry) = entries.iter().find(|entry| entry.id == id) else {
                return Err(Error::Usage(format!(
                    "there is no transaction {id} (see `tcptune history`)"
                )));
            };
            if !undoable(&entry) {
                return Err(Error::Usage(format!(
                    "transaction {id} is a {:?} in state {:?}; only applied transactions can be rolled back",
                    entry.kind, entry.state
                )));
            }
            Ok(entries
                .iter()
                .rev()
                .filter(|entry| entry.id >= id)
                .filter(undoable)
                .cloned()
                .collect())
        }
    }
}

/// Undoes the newest applied transaction, or `to` and every later one.
pub fn rollback(
    system: &System,
    journal: &Journal,
    to: Option<u64>,
    force: bool,
) -> Result<Outcome> {
    let entries = journal.entries()?;
    let targets = targets(&entries, to)?;
    let Some(newest) = targets.first() else {
        return Ok(Outcome::nothing());
    };

    // Walk the undo forward on paper first: every key must still hold what
    // tcptune set (or already its old value), and every file what tcptune
    // wrote, or the rollback would destroy someone else's change.
    let mut live: HashMap<String, Option<Value>> = HashMap::new();
    let mut files: HashMap<PathBuf, Option<Vec<u8>>> = HashMap::new();
    let mut conflicts = Vec::new();
    let mut restored: Vec<(String, Option<Value>, Value)> = Vec::new();
    for entry in &targets {
        for record in &entry.keys {
            let current = live.entry(record.key.clone()).or_insert_with(|| {
                Key::parse(&record.key)
                    .ok()
                    .and_then(|key| system.read_sysctl(&key).value().cloned())
            });
            let applied = Value::parse(&record.applied);
            let previous = Value::parse(&record.previous);
            if current.as_ref() != Some(&applied) && current.as_ref() != Some(&previous) {
                conflicts.push(format!(
                    "{} is {} but transaction {} set it to {}",
                    record.key,
                    current
                        .as_ref()
                        .map_or_else(|| "unreadable".to_owned(), ToString::to_string),
                    entry.id,
                    record.applied
                ));
            }
            if let Some(slot) = restored.iter_mut().find(|(key, _, _)| *key == record.key) {
                slot.2 = previous.clone();
            } else {
                restored.push((record.key.clone(), current.clone(), previous.clone()));
            }
            *current = Some(previous);
        }
        if entry.file.changed {
            let path = entry.file.path.clone();
            let current = match files.get(&path) {
                Some(bytes) => bytes.clone(),
                None => read_owned(&path).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?,
            };
            let after = if entry.file.exists_after {
                Some(journal.kept_bytes(entry.id, "after")?)
            } else {
                None
            };
            let before = if entry.file.existed_before {
                Some(journal.kept_bytes(entry.id, "before")?)
            } else {
                None
            };
            if current != after && current != before {
                conflicts.push(format!(
                    "{} was changed after transaction {} wrote it",
                    path.display(),
                    entry.id
                ));
            }
            files.insert(path, before);
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(Error::Refused(format!(
            "rollback refused, to keep changes made after tcptune: {}; use --force to restore anyway",
            conflicts.join("; ")
        )));
    }

    let id = journal.next_id()?;
    let newest_path = newest.file.path.clone();
    let current_file = read_owned(&newest_path).map_err(|source| Error::Read {
        path: newest_path.clone(),
        source,
    })?;
    if let Some(bytes) = &current_file {
        journal.keep_bytes(id, "before", bytes)?;
    }
    let final_file = files.get(&newest_path).cloned().flatten();
    if let Some(bytes) = &final_file {
        journal.keep_bytes(id, "after", bytes)?;
    }
    let mut record = Entry {
        schema_version: journal::SCHEMA_VERSION,
        id,
        kind: Kind::Rollback,
        state: State::Prepared,
        created: journal::now(),
        profile: newest.profile.clone(),
        file: FileRecord {
            path: newest_path.clone(),
            existed_before: current_file.is_some(),
            mode_before: file_mode(&newest_path),
            exists_after: final_file.is_some(),
            changed: current_file != final_file,
        },
        keys: restored
            .iter()
            .filter(|(_, current, previous)| current.as_ref() != Some(previous))
            .map(|(key, current, previous)| KeyRecord {
                key: key.clone(),
                previous: current
                    .as_ref()
                    .map_or_else(String::new, ToString::to_string),
                applied: previous.to_string(),
            })
            .collect(),
        rolls_back: targets.iter().map(|entry| entry.id).collect(),
        rolled_back_by: None,
        failure: None,
    };
    journal.write(&record)?;
    checkpoint("rollback-journal");

    for entry in &targets {
        if entry.file.changed {
            restore_file(journal, entry)?;
            checkpoint("rollback-file");
        }
        for (index, key) in entry.keys.iter().enumerate() {
            let parsed = Key::parse(&key.key)
                .map_err(|error| Error::Failed(format!("{}: {error}", key.key)))?;
            let previous = Value::parse(&key.previous);
            if system.read_sysctl(&parsed).value() != Some(&previous) {
                write_verified(system, &key.key, &key.previous).map_err(|error| {
                    Error::Failed(format!(
                        "rollback stopped: {error}; run `tcptune rollback` again to finish"
                    ))
                })?;
            }
            checkpoint(&format!("rollback-key-{}", index + 1));
        }
        let mut undone = entry.clone();
        undone.state = State::RolledBack;
        undone.rolled_back_by = Some(id);
        journal.write(&undone)?;
    }
    checkpoint("rollback-commit");
    record.state = State::Committed;
    journal.write(&record)?;

    Ok(Outcome {
        changed: true,
        transaction: Some(id.to_string()),
        file: newest_path,
        changes: restored
            .into_iter()
            .filter(|(_, current, previous)| current.as_ref() != Some(previous))
            .map(|(key, current, previous)| KeyOutcome {
                key,
                from: current.map(|value| value.to_string()),
                to: Some(previous.to_string()),
                status: "restored".into(),
            })
            .collect(),
        rolled_back: targets.iter().map(|entry| entry.id.to_string()).collect(),
    })
}
