//! Transactions: carrying out a [`Plan`] and undoing it.
//!
//! `apply` takes the state directory's lock, writes the journal record (the
//! previous live values and file bytes) before it changes anything, replaces
//! the sysctl.d file atomically, writes each live value and reads it back. If
//! any step fails it puts back what it had changed, marks the record
//! reverted and reports the failure. A crash leaves a `prepared` record that
//! `rollback` restores like any other.
//!
//! `rollback` is planned before it writes, like `apply`: [`plan_rollback`]
//! reads the records, the live values and the file, and the pure
//! [`RollbackPlan::new`] decides what to restore and what someone changed
//! since (a conflict, refused unless forced). [`rollback`] then carries the
//! plan out: it restores the file's exact bytes and the live values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::journal::{
    self, AbsolutePath, FileRecord, Journal, KeyRecord, Kind, Record, Side, State, Target,
    Unrestored,
};
use crate::key::{Key, Value};
use crate::plan::{self, Plan};
use crate::system::System;
use crate::system::write::{ensure_dir, file_mode, read_owned, remove_durably, write_atomic};

/// Environment variable naming a step at which tcptune aborts, as `kill -9`
/// would stop it there. Used by the crash tests; steps are `journal`,
/// `file`, `key-N`, `commit`, and the same prefixed with `rollback-`.
pub const CRASH_AT: &str = "TCPTUNE_CRASH_AT";

/// Environment variable naming steps (comma-separated) at which tcptune
/// fails as if the disk were full: `key-N` (the Nth live write),
/// `journal-commit`, `journal-revert`. Used by the fault tests.
pub const FAIL_AT: &str = "TCPTUNE_FAIL_AT";

/// Aborts at `step` when the crash tests ask for it. Only in debug builds:
/// a release binary never reads the variable.
#[cfg(debug_assertions)]
fn checkpoint(step: &str) {
    if std::env::var_os(CRASH_AT).is_some_and(|wanted| wanted == step) {
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn checkpoint(_step: &str) {}

/// An injected failure at `step` (debug builds only, see [`FAIL_AT`]).
#[cfg(debug_assertions)]
fn injected(step: &str) -> std::io::Result<()> {
    match std::env::var(FAIL_AT) {
        Ok(steps) if steps.split(',').any(|wanted| wanted == step) => {
            Err(std::io::Error::from_raw_os_error(28))
        }
        _ => Ok(()),
    }
}

#[cfg(not(debug_assertions))]
fn injected(_step: &str) -> std::io::Result<()> {
    Ok(())
}

/// What happened to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// The live value was changed (and persisted).
    Change,
    /// The live value already met the profile; persisted as it was.
    Unchanged,
    SkippedAbsent,
    SkippedReadOnly,
    SkippedUnreadable,
    /// A rollback put the value back.
    Restored,
    /// Persisted in the file only; the live value was left alone (an
    /// offline `--root` without `--live`).
    FileOnly,
}

impl From<plan::Status> for KeyStatus {
    fn from(status: plan::Status) -> KeyStatus {
        match status {
            plan::Status::Change => KeyStatus::Change,
            plan::Status::Unchanged => KeyStatus::Unchanged,
            plan::Status::SkippedAbsent => KeyStatus::SkippedAbsent,
            plan::Status::SkippedReadOnly => KeyStatus::SkippedReadOnly,
            plan::Status::SkippedUnreadable => KeyStatus::SkippedUnreadable,
        }
    }
}

/// What a transaction did, per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOutcome {
    pub key: Key,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub status: KeyStatus,
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
    /// Whether tcptune's file was written (or, for a rollback, restored).
    pub file_written: bool,
    /// The profile applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `rollback --forget`: the record set aside, and where it is now.
    #[serde(skip)]
    pub forgotten: Option<(String, PathBuf)>,
    /// For an apply: where the profile's files came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profile_sources: Vec<crate::profile::Source>,
    /// For an apply: the later sysctl.d assignments that override
    /// tcptune's file at boot, so the result will not survive a reboot.
    pub shadows: Vec<plan::Shadow>,
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
            file_written: false,
            profile: None,
            forgotten: None,
            profile_sources: Vec::new(),
            shadows: Vec::new(),
        }
    }
}

/// Which system a transaction acts on, and whether it may write live
/// values there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub target: Target,
    /// False for an offline `--root` image: files only.
    pub live: bool,
}

impl Scope {
    /// Whether `record` belongs to this target. A record written before
    /// records named their target belongs to the default target of its
    /// root: this state directory's.
    pub fn owns(&self, record: &Record) -> bool {
        record
            .target
            .as_ref()
            .is_none_or(|target| target.same_system(&self.target))
    }

    /// Refuses (exit 2) a record of another target, naming both.
    pub fn refuse_foreign(&self, record: &Record) -> Result<()> {
        match &record.target {
            Some(target) if !target.same_system(&self.target) => Err(Error::Usage(format!(
                "transaction {} belongs to {target}, not to this target ({}); run tcptune with that target's --root, --proc and --netns",
                record.id, self.target
            ))),
            _ => Ok(()),
        }
    }
}

/// The target of a transaction and whether it may write live values: a
/// `--root` other than `/` is an offline image unless `--live`, when the
/// proc tree is the kernel's. The warning, when there is one, says which.
pub fn scope(
    system: &System,
    sysctl_dir: &Path,
    live_flag: bool,
) -> Result<(Scope, Option<String>)> {
    let absolute_path = |path: &Path| {
        AbsolutePath::new(path.to_path_buf())
            .ok_or_else(|| Error::Usage(format!("{} is not an absolute path", path.display())))
    };
    let image = !system.root_is_host();
    let kernel = system.is_kernel_proc();
    let live = !(image && kernel) || live_flag;
    let warning = (image && kernel).then(|| {
        if live_flag {
            format!(
                "--live: changing this kernel's live values as well as the files under {}",
                system.root().display()
            )
        } else {
            format!(
                "--root {} is handled as an offline image: only its files change, this kernel's live values are left alone (pass --live to change them too)",
                system.root().display()
            )
        }
    });
    let scope = Scope {
        target: crate::journal::Target {
            netns: crate::system::netns_id()
                .map(|(dev, inode)| crate::journal::NamespaceId { dev, inode }),
            root: absolute_path(system.root())?,
            proc: absolute_path(system.proc())?,
            sysctl_dir: absolute_path(sysctl_dir)?,
        },
        live,
    };
    Ok((scope, warning))
}

/// Why a child network namespace's values stay out of the host's boot
/// configuration, when they do: the namespace is not the host's, the root
/// is the host's, and no `--sysctl-dir` was named for them. When init's
/// namespace cannot be looked at, `--netns` decides.
pub fn live_only_reason(
    system: &System,
    sysctl_dir_named: bool,
    entered_netns: bool,
) -> Option<String> {
    let host_root = system.root_is_host();
    let child = crate::system::in_child_netns().unwrap_or(entered_netns);
    (host_root && child && !sysctl_dir_named).then(|| {
        "this is a child network namespace, whose values do not belong in the host's boot configuration: set live only. To persist them, let the container runtime set them (Kubernetes: pod securityContext.sysctls; Docker: docker run --sysctl KEY=VALUE), or name a --sysctl-dir for them".to_owned()
    })
}

/// Refuses a new apply while an earlier one was interrupted: its record
/// holds what `rollback` needs to restore.
pub fn refuse_interrupted(records: &[Record], scope: &Scope) -> Result<()> {
    match records.iter().find(|record| {
        record.kind == Kind::Apply && record.state == State::Prepared && scope.owns(record)
    }) {
        Some(interrupted) => Err(Error::Refused(format!(
            "transaction {} was interrupted before it finished; run `tcptune rollback` to restore what was there, then apply again",
            interrupted.id
        ))),
        None => Ok(()),
    }
}

/// Takes `<state>/lock` without waiting: two transactions never interleave.
/// Held until the returned lock is dropped.
pub fn lock(state_dir: &Path) -> Result<crate::system::write::Lock> {
    crate::system::write::ensure_private_dir(state_dir).map_err(|source| Error::Write {
        path: state_dir.to_owned(),
        source,
    })?;
    let path = state_dir.join("lock");
    crate::system::write::lock(&path).map_err(|error| match error {
        crate::system::write::LockError::Held => Error::Locked { path: path.clone() },
        crate::system::write::LockError::Io(source) => Error::Write {
            path: path.clone(),
            source,
        },
    })
}

/// Carries out a plan as one transaction. The caller holds the lock.
pub fn apply(system: &System, journal: &Journal, plan: &Plan, scope: &Scope) -> Result<Outcome> {
    let id = journal.next_id()?;
    let keys: Vec<KeyRecord> = plan
        .live_changes()
        .filter(|_| scope.live)
        .filter_map(|change| {
            Some(KeyRecord {
                key: change.key.clone(),
                previous: change.from.clone()?,
                applied: change.to.clone()?,
            })
        })
        .collect();
    let path = AbsolutePath::new(plan.file.clone()).ok_or_else(|| {
        Error::Usage(format!(
            "{} is not an absolute path; pass absolute --root and --sysctl-dir",
            plan.file.display()
        ))
    })?;
    let file_changed = plan.file_changes();
    let mut entry = Record {
        schema_version: journal::SCHEMA_VERSION,
        id,
        kind: Kind::Apply,
        state: State::Prepared,
        created: journal::now(),
        profile: Some(plan.profile.clone()),
        file: FileRecord {
            path,
            existed_before: plan.old_file.is_some(),
            mode_before: file_mode(&plan.file),
            exists_after: true,
            changed: file_changed,
        },
        keys,
        rolls_back: Vec::new(),
        rolled_back_by: None,
        failure: None,
        target: Some(scope.target.clone()),
        live: scope.live,
        unrestored: Vec::new(),
        skipped: Vec::new(),
    };
    if let Some(old) = &plan.old_file {
        journal.keep_bytes(id, Side::Before, old)?;
    }
    journal.keep_bytes(id, Side::After, &plan.new_file)?;
    journal.write(&entry)?;
    checkpoint("journal");

    let mut file_written = false;
    // Every key whose write was attempted, the failed one included: the
    // kernel may have stored a value and then printed it back differently
    // (`010` read as octal), so a failed read-back still changed the key.
    let mut attempted = 0usize;
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
            attempted += 1;
            injected(&format!("key-{attempted}")).map_err(|source| {
                Error::Failed(format!(
                    "writing {} = {}: {source}",
                    record.key, record.applied
                ))
            })?;
            write_verified(system, &record.key, &record.applied)?;
            checkpoint(&format!("key-{attempted}"));
        }
        Ok(())
    })();

    if let Err(error) = result {
        let mut problems = Vec::new();
        for record in entry.keys[..attempted].iter().rev() {
            if let Err(undo) = revert_key(system, &record.key, &record.previous) {
                problems.push(undo.to_string());
            }
        }
        if file_written && let Err(undo) = restore_file(journal, &entry) {
            problems.push(undo.to_string());
        }
        entry.failure = Some(error.to_string());
        if problems.is_empty() {
            entry.state = State::Reverted;
            if let Err(unrecorded) = injected("journal-revert")
                .map_err(|source| Error::Write {
                    path: journal.record_path(id),
                    source,
                })
                .and_then(|()| journal.write(&entry))
            {
                return Err(Error::Failed(format!(
                    "apply failed: {error}; everything it had changed was put back, but transaction {id} could not be marked reverted ({unrecorded}): its record still says prepared, and `tcptune rollback` will clear it with nothing left to restore"
                )));
            }
            return Err(Error::Failed(format!(
                "apply failed: {error}; everything it had changed was put back (transaction {id} is marked reverted)"
            )));
        }
        // The record stays `prepared`, so `rollback` can finish the job;
        // if even that rewrite fails, the record written before any change
        // already says `prepared`.
        let unrecorded = journal
            .write(&entry)
            .err()
            .map(|unrecorded| {
                format!(" (the failure could not be added to its record: {unrecorded})")
            })
            .unwrap_or_default();
        return Err(Error::Failed(format!(
            "apply failed: {error}; putting things back also failed ({}); run `tcptune rollback` to restore transaction {id}{unrecorded}",
            problems.join("; ")
        )));
    }
    checkpoint("commit");
    entry.state = State::Committed;
    if let Err(unrecorded) = injected("journal-commit")
        .map_err(|source| Error::Write {
            path: journal.record_path(id),
            source,
        })
        .and_then(|()| journal.write(&entry))
    {
        return Err(Error::Failed(format!(
            "every change of transaction {id} is live{}, but its record could not be marked committed ({unrecorded}); it still says prepared: `tcptune rollback` undoes the transaction, and `tcptune apply` refuses until then",
            if file_changed {
                format!(" and {} is written", plan.file.display())
            } else {
                String::new()
            }
        )));
    }

    Ok(Outcome {
        changed: true,
        transaction: Some(id.to_string()),
        file: plan.file.clone(),
        changes: plan
            .changes
            .iter()
            .map(|change| KeyOutcome {
                key: change.key.clone(),
                from: change.from.clone(),
                to: change.to.clone(),
                status: match change.status {
                    plan::Status::Change if !scope.live => KeyStatus::FileOnly,
                    status => status.into(),
                },
            })
            .collect(),
        rolled_back: Vec::new(),
        file_written: file_changed,
        profile: Some(plan.profile.clone()),
        forgotten: None,
        profile_sources: plan.profile_sources.clone(),
        shadows: plan.shadows.clone(),
    })
}

/// Writes a live value and reads it back.
fn write_verified(system: &System, key: &Key, value: &Value) -> Result<()> {
    system
        .write_sysctl(key, value)
        .map_err(|refusal| Error::Failed(format!("writing {key} = {value}: {refusal}")))?;
    match system.read_sysctl(key).value() {
        Some(read) if read == value => Ok(()),
        Some(read) => Err(Error::Failed(format!(
            "{key}: wrote {value} but the kernel reports {read}"
        ))),
        None => Err(Error::Failed(format!(
            "{key}: cannot read it back after writing"
        ))),
    }
}

/// Puts a key back to `previous`, unless it already holds it.
fn restore_key(system: &System, key: &Key, previous: &Value) -> Result<()> {
    if system.read_sysctl(key).value() == Some(previous) {
        return Ok(());
    }
    write_verified(system, key, previous)
}

/// Puts back a key apply attempted to write. A key that is not there at
/// all was not changed by this apply (its write failed with ENOENT), so
/// there is nothing to put back; anything else is restored like in a
/// rollback.
fn revert_key(system: &System, key: &Key, previous: &Value) -> Result<()> {
    match system.read_sysctl(key) {
        crate::facts::Reading::Absent => Ok(()),
        _ => restore_key(system, key, previous),
    }
}

/// Puts the file back as the record says it was before.
fn restore_file(journal: &Journal, entry: &Record) -> Result<()> {
    let path = &entry.file.path;
    if entry.file.existed_before {
        let bytes = journal.kept_bytes(entry.id, Side::Before)?;
        write_atomic(path, &bytes, entry.file.mode_before.unwrap_or(0o644))
    } else {
        remove_durably(path)
    }
    .map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Earlier rollbacks of the same transactions that stopped part-way (a
/// crash, a journal write that failed) are still `prepared`; once rollback
/// `by` has finished their work, their records say so instead of staying
/// "interrupted" forever. Best effort: the work itself is done and
/// recorded, so a record that cannot be rewritten is only noted.
fn resolve_stopped_rollbacks(journal: &Journal, targets: &[Record], by: u64, scope: &Scope) {
    let undone: Vec<u64> = targets.iter().map(|target| target.id).collect();
    let records = match journal.scan() {
        Ok(scan) => scan.records,
        Err(error) => {
            crate::note!("cannot look for stopped rollbacks: {error}");
            return;
        }
    };
    for mut stopped in records.into_iter().filter(|record| {
        record.kind == Kind::Rollback
            && record.state == State::Prepared
            && record.id < by
            && scope.owns(record)
            && record.rolls_back.iter().all(|id| undone.contains(id))
    }) {
        stopped.state = State::Partial;
        stopped.failure = Some(format!(
            "stopped before it finished; rollback {by} completed what it started"
        ));
        if let Err(error) = journal.write(&stopped) {
            crate::note!(
                "cannot mark rollback {} as finished by {by}: {error}",
                stopped.id
            );
        }
    }
}

/// Which transactions a rollback undoes, newest first: the current
/// target's only.
fn targets(records: &[Record], to: Option<u64>, scope: &Scope) -> Result<Vec<Record>> {
    let undoable = |record: &&Record| record.is_undoable() && scope.owns(record);
    match to {
        None => Ok(records
            .iter()
            .rev()
            .find(undoable)
            .cloned()
            .into_iter()
            .collect()),
        Some(id) => {
            let Some(record) = records.iter().find(|record| record.id == id) else {
                return Err(Error::Usage(format!(
                    "there is no transaction {id} (see `tcptune history`)"
                )));
            };
            scope.refuse_foreign(record)?;
            if !record.is_undoable() {
                return Err(Error::Usage(format!(
                    "transaction {id} is {}; only applied transactions that are in effect can be rolled back",
                    match (record.kind, record.state) {
                        (Kind::Rollback, _) => "a rollback",
                        (Kind::Apply, State::Reverted) => "an apply that failed and was put back",
                        (Kind::Apply, State::RolledBack) => "an apply that was already rolled back",
                        (Kind::Apply, _) => "an apply that is not in effect",
                    }
                )));
            }
            Ok(records
                .iter()
                .rev()
                .filter(|record| record.id >= id)
                .filter(undoable)
                .cloned()
                .collect())
        }
    }
}

/// One key a rollback puts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub key: Key,
    /// The live value now (None: unreadable or absent).
    pub current: Option<Value>,
    /// The value it returns to: what it was before the oldest transaction
    /// undone.
    pub previous: Value,
}

/// What a rollback will do, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPlan {
    /// The transactions undone, newest first.
    pub targets: Vec<Record>,
    /// Every key the transactions changed, in the order first met.
    pub keys: Vec<Restore>,
    /// tcptune's file.
    pub file: AbsolutePath,
    /// Its bytes now (None: it does not exist).
    pub file_now: Option<Vec<u8>>,
    /// Its bytes after the rollback (None: it will not exist).
    pub file_after: Option<Vec<u8>>,
    /// Changes made after tcptune's that the rollback would overwrite.
    pub conflicts: Vec<String>,
    /// Keys the operator chose to leave as they are (`--skip`).
    pub skip: Vec<Key>,
}

/// What the planner needs to know besides the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackFacts {
    /// The live value of every key the records name (None: unreadable).
    pub live: BTreeMap<Key, Option<Value>>,
    /// tcptune's file now.
    pub file_now: Option<Vec<u8>>,
    /// The kept copies of the file, per transaction and side.
    pub kept: BTreeMap<(u64, Side), Vec<u8>>,
}

impl RollbackPlan {
    /// Walks the undo forward on paper, newest transaction first: every key
    /// must still hold what tcptune set (or already its old value), and the
    /// file what tcptune wrote, or the rollback would destroy someone else's
    /// change; such cases are conflicts.
    pub fn new(
        targets: Vec<Record>,
        file: AbsolutePath,
        facts: &RollbackFacts,
        skip: &[Key],
    ) -> RollbackPlan {
        let mut live: BTreeMap<&Key, Option<Value>> = BTreeMap::new();
        let mut keys: Vec<Restore> = Vec::new();
        let mut conflicts = Vec::new();
        let mut file_state = facts.file_now.clone();
        for record in &targets {
            for change in record
                .keys
                .iter()
                .filter(|change| !skip.contains(&change.key))
            {
                let current = live
                    .entry(&change.key)
                    .or_insert_with(|| facts.live.get(&change.key).cloned().flatten());
                if current.as_ref() != Some(&change.applied)
                    && current.as_ref() != Some(&change.previous)
                {
                    conflicts.push(format!(
                        "{} is {} but transaction {} set it to {}",
                        change.key,
                        current
                            .as_ref()
                            .map_or_else(|| "unreadable".to_owned(), ToString::to_string),
                        record.id,
                        change.applied
                    ));
                }
                match keys.iter_mut().find(|restore| restore.key == change.key) {
                    Some(restore) => restore.previous = change.previous.clone(),
                    None => keys.push(Restore {
                        key: change.key.clone(),
                        current: current.clone(),
                        previous: change.previous.clone(),
                    }),
                }
                *current = Some(change.previous.clone());
            }
            if record.file.changed {
                let kept = |side| facts.kept.get(&(record.id, side)).cloned();
                let after = record
                    .file
                    .exists_after
                    .then(|| kept(Side::After))
                    .flatten();
                let before = record
                    .file
                    .existed_before
                    .then(|| kept(Side::Before))
                    .flatten();
                if file_state != after && file_state != before {
                    conflicts.push(format!(
                        "{} was changed after transaction {} wrote it",
                        file.display(),
                        record.id
                    ));
                }
                file_state = before;
            }
        }
        RollbackPlan {
            targets,
            keys,
            file,
            file_now: facts.file_now.clone(),
            file_after: file_state,
            conflicts,
            skip: skip.to_vec(),
        }
    }

    /// The keys whose live value actually changes.
    pub fn changing(&self) -> impl Iterator<Item = &Restore> {
        self.keys
            .iter()
            .filter(|restore| restore.current.as_ref() != Some(&restore.previous))
    }

    /// Refuses a plan that would overwrite later changes, unless forced.
    pub fn refuse_conflicts(&self, force: bool) -> Result<()> {
        if self.conflicts.is_empty() || force {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "rollback refused, to keep changes made after tcptune: {}; use --force to restore anyway",
            self.conflicts.join("; ")
        )))
    }
}

/// Reads what a rollback of the newest transaction (or of `to` and every
/// later one) needs, and plans it. None when nothing is left to undo.
pub fn plan_rollback(
    system: &System,
    records: &[Record],
    journal: &Journal,
    scope: &Scope,
    to: Option<u64>,
    skip: &[Key],
) -> Result<Option<RollbackPlan>> {
    let sysctl_dir = scope.target.sysctl_dir.as_path();
    let targets = targets(records, to, scope)?;
    if targets.is_empty() {
        return Ok(None);
    }
    if !scope.live
        && let Some(live) = targets
            .iter()
            .find(|record| record.live && !record.keys.is_empty())
    {
        return Err(Error::Usage(format!(
            "transaction {} changed live values, and --root {} is handled as an offline image: pass --live to restore this kernel's values too",
            live.id,
            scope.target.root.display()
        )));
    }
    // A record names the file it wrote; rollback writes back only to
    // tcptune's own file in the sysctl.d directory, whatever a record says,
    // so a planted record cannot steer it into modprobe.d or a unit
    // directory.
    let own_file = sysctl_dir.join(crate::conf::FILE_NAME);
    if let Some(stray) = targets.iter().find(|record| *record.file.path != own_file) {
        return Err(Error::Journal {
            path: journal.record_path(stray.id),
            message: format!(
                "transaction {} wrote {}, not {}; if apply used --sysctl-dir, pass the same to rollback",
                stray.id,
                stray.file.path.display(),
                own_file.display()
            ),
        });
    }
    let file = targets[0].file.path.clone();
    let mut facts = RollbackFacts {
        file_now: read_owned(&file).map_err(|source| Error::Read {
            path: file.to_path_buf(),
            source,
        })?,
        ..RollbackFacts::default()
    };
    for record in &targets {
        for change in &record.keys {
            facts
                .live
                .entry(change.key.clone())
                .or_insert_with(|| system.read_sysctl(&change.key).value().cloned());
        }
        if record.file.changed {
            for (side, exists) in [
                (Side::After, record.file.exists_after),
                (Side::Before, record.file.existed_before),
            ] {
                if exists {
                    facts
                        .kept
                        .insert((record.id, side), journal.kept_bytes(record.id, side)?);
                }
            }
        }
    }
    Ok(Some(RollbackPlan::new(targets, file, &facts, skip)))
}

/// Carries out a rollback plan. The caller holds the lock and has refused
/// conflicts unless forced. Every key is tried: one the kernel refuses (an
/// interface that is gone, a port range below a raised
/// `ip_unprivileged_port_start`) is reported with the kernel's reason and
/// recorded, the rollback is marked partial, and the transactions it
/// belongs to stay in effect so that `rollback` can finish them later, or
/// `rollback --skip KEY` leave that key as it is.
pub fn rollback(
    system: &System,
    journal: &Journal,
    plan: &RollbackPlan,
    scope: &Scope,
) -> Result<Outcome> {
    let Some(newest) = plan.targets.first() else {
        return Ok(Outcome::nothing());
    };
    let id = journal.next_id()?;
    if let Some(bytes) = &plan.file_now {
        journal.keep_bytes(id, Side::Before, bytes)?;
    }
    if let Some(bytes) = &plan.file_after {
        journal.keep_bytes(id, Side::After, bytes)?;
    }
    let mut record = Record {
        schema_version: journal::SCHEMA_VERSION,
        id,
        kind: Kind::Rollback,
        state: State::Prepared,
        created: journal::now(),
        profile: newest.profile.clone(),
        file: FileRecord {
            path: plan.file.clone(),
            existed_before: plan.file_now.is_some(),
            mode_before: file_mode(&plan.file),
            exists_after: plan.file_after.is_some(),
            changed: plan.file_now != plan.file_after,
        },
        keys: plan
            .changing()
            .filter(|_| scope.live)
            .map(|restore| KeyRecord {
                key: restore.key.clone(),
                previous: restore.current.clone().unwrap_or_else(|| Value::parse("")),
                applied: restore.previous.clone(),
            })
            .collect(),
        rolls_back: plan.targets.iter().map(|target| target.id).collect(),
        rolled_back_by: None,
        failure: None,
        target: Some(scope.target.clone()),
        live: scope.live,
        unrestored: Vec::new(),
        skipped: plan.skip.clone(),
    };
    journal.write(&record)?;
    checkpoint("rollback-journal");

    let mut unrestored: Vec<Unrestored> = Vec::new();
    let mut undone = Vec::new();
    let mut file_failure = None;
    for target in &plan.targets {
        if target.file.changed {
            if let Err(error) = restore_file(journal, target) {
                file_failure = Some(error.to_string());
                break;
            }
            checkpoint("rollback-file");
        }
        let mut complete = true;
        for (index, change) in target.keys.iter().enumerate() {
            if !scope.live || plan.skip.contains(&change.key) {
                continue;
            }
            if let Err(error) = restore_key(system, &change.key, &change.previous) {
                complete = false;
                unrestored.retain(|earlier| earlier.key != change.key);
                unrestored.push(Unrestored {
                    key: change.key.clone(),
                    value: change.previous.clone(),
                    reason: error.to_string(),
                });
            } else {
                unrestored.retain(|earlier| earlier.key != change.key);
            }
            checkpoint(&format!("rollback-key-{}", index + 1));
        }
        if complete {
            let mut done = target.clone();
            done.state = State::RolledBack;
            done.rolled_back_by = Some(id);
            journal.write(&done)?;
            undone.push(target.id);
        }
    }
    if unrestored.is_empty() && file_failure.is_none() {
        checkpoint("rollback-commit");
        record.state = State::Committed;
        journal.write(&record)?;
        resolve_stopped_rollbacks(journal, &plan.targets, id, scope);
    } else {
        record.state = State::Partial;
        record.failure = file_failure.clone();
        record.unrestored = unrestored.clone();
        let unrecorded = journal
            .write(&record)
            .err()
            .map(|error| format!(" (recording that failed too: {error})"))
            .unwrap_or_default();
        let mut parts = Vec::new();
        if let Some(failure) = file_failure {
            parts.push(format!("restoring the file failed: {failure}"));
        }
        for key in &unrestored {
            parts.push(format!(
                "{} could not be set back to {}: {}",
                key.key, key.value, key.reason
            ));
        }
        let skip: Vec<String> = unrestored
            .iter()
            .map(|key| format!("--skip {}", key.key))
            .collect();
        return Err(Error::Failed(format!(
            "rollback {id} is partial: {}; every other key and the file were restored{}. Run `tcptune rollback` again once the cause is fixed{}{unrecorded}",
            parts.join("; "),
            if undone.is_empty() {
                String::new()
            } else {
                format!(
                    " (transactions {} are fully undone)",
                    undone
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if skip.is_empty() {
                String::new()
            } else {
                format!(
                    ", or `tcptune rollback {}` to leave those keys as they are",
                    skip.join(" ")
                )
            }
        )));
    }

    Ok(Outcome {
        changed: true,
        transaction: Some(id.to_string()),
        file: plan.file.to_path_buf(),
        changes: plan
            .changing()
            .filter(|_| scope.live)
            .map(|restore| KeyOutcome {
                key: restore.key.clone(),
                from: restore.current.clone(),
                to: Some(restore.previous.clone()),
                status: KeyStatus::Restored,
            })
            .collect(),
        rolled_back: plan
            .targets
            .iter()
            .map(|target| target.id.to_string())
            .collect(),
        file_written: plan.file_now != plan.file_after,
        profile: newest.profile.clone(),
        forgotten: None,
        profile_sources: Vec::new(),
        shadows: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::SCHEMA_VERSION;

    const FILE: &str = "/etc/sysctl.d/99-zz-tcptune.conf";

    fn key(name: &str) -> Key {
        Key::parse(name).unwrap()
    }

    fn value(text: &str) -> Value {
        Value::parse(text)
    }

    /// A committed apply that set `keys` (key, previous, applied) and
    /// wrote the file (`existed_before` says whether there was one).
    fn applied(id: u64, keys: &[(&str, &str, &str)], existed_before: bool) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            id,
            kind: Kind::Apply,
            state: State::Committed,
            created: 0,
            profile: Some("webserver".into()),
            file: FileRecord {
                path: AbsolutePath::new(FILE).unwrap(),
                existed_before,
                mode_before: None,
                exists_after: true,
                changed: true,
            },
            keys: keys
                .iter()
                .map(|(name, previous, applied)| KeyRecord {
                    key: key(name),
                    previous: value(previous),
                    applied: value(applied),
                })
                .collect(),
            rolls_back: Vec::new(),
            rolled_back_by: None,
            failure: None,
            target: None,
            live: true,
            unrestored: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// The default target of a root, writing live values.
    fn scope(root: &Path, proc: &Path, sysctl_dir: &Path) -> Scope {
        Scope {
            target: crate::journal::Target {
                netns: None,
                root: AbsolutePath::new(root).unwrap(),
                proc: AbsolutePath::new(proc).unwrap(),
                sysctl_dir: AbsolutePath::new(sysctl_dir).unwrap(),
            },
            live: true,
        }
    }

    fn facts(live: &[(&str, &str)], file_now: Option<&str>) -> RollbackFacts {
        RollbackFacts {
            live: live
                .iter()
                .map(|(name, text)| (key(name), Some(value(text))))
                .collect(),
            file_now: file_now.map(|text| text.as_bytes().to_vec()),
            kept: BTreeMap::new(),
        }
    }

    #[test]
    fn one_transaction_restores_its_keys_and_removes_a_new_file() {
        let target = applied(1, &[("net.ipv4.tcp_fin_timeout", "60", "30")], false);
        let mut facts = facts(&[("net.ipv4.tcp_fin_timeout", "30")], Some("new"));
        facts.kept.insert((1, Side::After), b"new".to_vec());
        let plan = RollbackPlan::new(vec![target], AbsolutePath::new(FILE).unwrap(), &facts, &[]);
        assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
        assert!(plan.refuse_conflicts(false).is_ok());
        let restores: Vec<(String, Option<String>, String)> = plan
            .changing()
            .map(|restore| {
                (
                    restore.key.to_string(),
                    restore.current.as_ref().map(ToString::to_string),
                    restore.previous.to_string(),
                )
            })
            .collect();
        assert_eq!(
            restores,
            [(
                "net.ipv4.tcp_fin_timeout".into(),
                Some("30".into()),
                "60".into()
            )]
        );
        assert_eq!(plan.file_now.as_deref(), Some(b"new".as_slice()));
        assert_eq!(plan.file_after, None, "the file did not exist before");
    }

    #[test]
    fn stacked_transactions_return_to_the_oldest_previous_value() {
        // 1 set 60 -> 30, 2 set 30 -> 20; rolling back both gives 60.
        let first = applied(1, &[("net.ipv4.tcp_fin_timeout", "60", "30")], true);
        let second = applied(2, &[("net.ipv4.tcp_fin_timeout", "30", "20")], true);
        let mut facts = facts(&[("net.ipv4.tcp_fin_timeout", "20")], Some("two"));
        facts.kept.insert((2, Side::After), b"two".to_vec());
        facts.kept.insert((2, Side::Before), b"one".to_vec());
        facts.kept.insert((1, Side::After), b"one".to_vec());
        facts.kept.insert((1, Side::Before), b"zero".to_vec());
        let plan = RollbackPlan::new(
            vec![second, first],
            AbsolutePath::new(FILE).unwrap(),
            &facts,
            &[],
        );
        assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
        let restore = plan.changing().next().unwrap();
        assert_eq!(restore.current, Some(value("20")));
        assert_eq!(restore.previous, value("60"));
        assert_eq!(plan.file_after.as_deref(), Some(b"zero".as_slice()));
    }

    #[test]
    fn later_changes_by_someone_else_are_conflicts() {
        let target = applied(3, &[("net.core.somaxconn", "4096", "8192")], true);
        let mut facts = facts(&[("net.core.somaxconn", "1024")], Some("edited by hand"));
        facts.kept.insert((3, Side::After), b"ours".to_vec());
        facts.kept.insert((3, Side::Before), b"theirs".to_vec());
        let plan = RollbackPlan::new(vec![target], AbsolutePath::new(FILE).unwrap(), &facts, &[]);
        assert_eq!(plan.conflicts.len(), 2, "{:?}", plan.conflicts);
        assert!(plan.conflicts[0].contains("net.core.somaxconn is 1024"));
        assert!(plan.conflicts[1].contains("was changed after transaction 3"));
        let refused = plan.refuse_conflicts(false).unwrap_err();
        assert_eq!(refused.exit_code(), crate::error::exit::SYSTEM);
        assert!(plan.refuse_conflicts(true).is_ok());
    }

    #[test]
    fn a_value_already_back_is_no_conflict_and_not_rewritten() {
        let target = applied(4, &[("net.ipv4.tcp_sack", "1", "0")], true);
        let mut facts = facts(&[("net.ipv4.tcp_sack", "1")], Some("ours"));
        facts.kept.insert((4, Side::After), b"ours".to_vec());
        facts.kept.insert((4, Side::Before), b"before".to_vec());
        let plan = RollbackPlan::new(vec![target], AbsolutePath::new(FILE).unwrap(), &facts, &[]);
        assert!(plan.conflicts.is_empty());
        assert_eq!(plan.changing().count(), 0);
        assert_eq!(plan.keys.len(), 1);
    }

    #[test]
    fn targets_pick_the_newest_undoable_or_everything_from_an_id() {
        let mut reverted = applied(2, &[], true);
        reverted.state = State::Reverted;
        let records = vec![applied(1, &[], true), reverted, applied(3, &[], true)];
        let scope = scope(
            Path::new("/"),
            Path::new("/proc"),
            Path::new("/etc/sysctl.d"),
        );
        let newest: Vec<u64> = targets(&records, None, &scope)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(newest, [3]);
        let from_one: Vec<u64> = targets(&records, Some(1), &scope)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(from_one, [3, 1]);
        let error = targets(&records, Some(2), &scope).unwrap_err().to_string();
        assert!(
            error.contains("transaction 2 is an apply that failed and was put back"),
            "{error}"
        );
        assert!(targets(&records, Some(9), &scope).is_err());
    }

    /// A writable stand-in for `<proc>/sys`: apply writes and reads back
    /// plain files there.
    fn proc_with(values: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/kernel")).unwrap();
        std::fs::write(dir.path().join("sys/kernel/osrelease"), "6.18.0\n").unwrap();
        for (name, text) in values {
            let path = dir.path().join("sys").join(key(name).relative_path());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, format!("{text}\n")).unwrap();
        }
        dir
    }

    fn one_change_plan(file: &Path) -> Plan {
        Plan {
            profile: "test".into(),
            profile_sources: Vec::new(),
            changes: vec![plan::Change {
                key: key("net.ipv4.tcp_fin_timeout"),
                from: Some(value("60")),
                to: Some(value("30")),
                status: plan::Status::Change,
                persisted: true,
                why: "test".into(),
                note: None,
            }],
            file: file.to_path_buf(),
            old_file: None,
            new_file: b"net.ipv4.tcp_fin_timeout = 30\n".to_vec(),
            shadows: Vec::new(),
            dropped: Vec::new(),
            not_persisted: None,
            live: true,
        }
    }

    #[test]
    fn apply_journals_first_then_commits_and_rollback_undoes_it() {
        let proc = proc_with(&[("net.ipv4.tcp_fin_timeout", "60")]);
        let state = tempfile::tempdir().unwrap();
        let sysctl_dir = state.path().join("sysctl.d");
        let file = sysctl_dir.join(crate::conf::FILE_NAME);
        let system = System::new("/", proc.path());
        let journal = Journal::open(&state.path().join("state")).unwrap();
        let scope = scope(Path::new("/"), proc.path(), &sysctl_dir);
        let outcome = apply(&system, &journal, &one_change_plan(&file), &scope).unwrap();
        assert_eq!(outcome.transaction.as_deref(), Some("1"));
        assert_eq!(outcome.changes[0].status, KeyStatus::Change);
        let key = key("net.ipv4.tcp_fin_timeout");
        assert_eq!(system.read_sysctl(&key).value(), Some(&value("30")));
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"net.ipv4.tcp_fin_timeout = 30\n"
        );
        let record = journal.read(1).unwrap();
        assert_eq!(record.state, State::Committed);
        assert_eq!(record.keys[0].previous, value("60"));

        let records = journal.records().unwrap();
        let plan = plan_rollback(&system, &records, &journal, &scope, None, &[])
            .unwrap()
            .unwrap();
        let outcome = rollback(&system, &journal, &plan, &scope).unwrap();
        assert_eq!(outcome.rolled_back, ["1"]);
        assert_eq!(system.read_sysctl(&key).value(), Some(&value("60")));
        assert!(!file.exists(), "the file did not exist before");
        assert_eq!(journal.read(1).unwrap().state, State::RolledBack);
        assert_eq!(journal.read(2).unwrap().kind, Kind::Rollback);
        assert!(
            plan_rollback(
                &system,
                &journal.records().unwrap(),
                &journal,
                &scope,
                None,
                &[]
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn a_refused_write_reverts_and_marks_the_record() {
        // The key's file is missing: the write fails after the file was
        // written, which must be put back.
        let proc = proc_with(&[]);
        let state = tempfile::tempdir().unwrap();
        let file = state.path().join("sysctl.d").join(crate::conf::FILE_NAME);
        let system = System::new("/", proc.path());
        let journal = Journal::open(&state.path().join("state")).unwrap();
        let scope = scope(Path::new("/"), proc.path(), file.parent().unwrap());
        let error = apply(&system, &journal, &one_change_plan(&file), &scope).unwrap_err();
        assert!(error.to_string().contains("was put back"), "{error}");
        assert_eq!(error.exit_code(), crate::error::exit::SYSTEM);
        assert!(!file.exists());
        assert_eq!(journal.read(1).unwrap().state, State::Reverted);
    }
}
