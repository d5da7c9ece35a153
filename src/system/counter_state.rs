//! The previous counter reading per target, kept in the state directory so
//! that a plain `check` can judge kernel counters by their change since the
//! last run instead of by totals since the namespace started.
//!
//! One small JSON file per target: `counters-<id>.json`, where the id is a
//! hash of the network namespace (device and inode of `/proc/self/ns/net`
//! on the live kernel, the proc root's path for a tree of plain files) and
//! the configuration root. The file also carries the kernel's boot id, so a
//! namespace inode reused after a reboot is not mistaken for the same
//! namespace. It is replaced atomically after every `check` that has a
//! state directory to keep it in.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::System;
use crate::facts::{CounterMap, Counters, PreviousCounters};
use crate::input::{self, Links};

/// Version of the file's layout; another version is ignored, not misread.
const FORMAT: u32 = 1;
/// The largest counter file read (a real one is a few KiB).
const FILE_MAX: u64 = 1024 * 1024;

/// What is kept for one target.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    format: u32,
    /// The network namespace, for people and for the identity check.
    target: String,
    root: String,
    boot_id: Option<String>,
    taken_at: f64,
    tcp_ext: CounterMap,
    tcp: CounterMap,
    #[serde(default)]
    conntrack: CounterMap,
}

/// Whose counters these are: the namespace (and boot) and the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub root: String,
    pub boot_id: Option<String>,
}

impl Target {
    /// The file that holds this target's reading in `state_dir`.
    pub fn path(&self, state_dir: &Path) -> PathBuf {
        state_dir.join(format!(
            "counters-{:016x}.json",
            fnv1a(format!("{}\n{}", self.name, self.root).as_bytes())
        ))
    }
}

/// FNV-1a, 64 bits: a stable file name from the target (not a secret).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

impl System {
    /// This system's counter target.
    pub fn counter_target(&self) -> Target {
        let name = if self.is_kernel_proc() {
            match super::netns_id() {
                Some((device, inode)) => format!("netns {device}:{inode}"),
                None => format!("proc {}", self.proc.display()),
            }
        } else {
            let proc = std::fs::canonicalize(&self.proc).unwrap_or_else(|_| self.proc.clone());
            format!("proc {}", proc.display())
        };
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let boot_id = input::read(
            &self.proc.join("sys/kernel/random/boot_id"),
            4096,
            Links::Follow,
        )
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned());
        Target {
            name,
            root: root.display().to_string(),
            boot_id,
        }
    }

    /// The reading an earlier run kept for `target` in `state_dir`, when
    /// there is one for this very target; a file of another target, boot or
    /// format, or one that cannot be parsed, is left alone (a note says why).
    pub fn previous_counters(&self, state_dir: &Path, target: &Target) -> Option<PreviousCounters> {
        let path = target.path(state_dir);
        let bytes = match input::read(&path, FILE_MAX, Links::Refuse) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
            Err(error) => {
                crate::note!(
                    "the previous counters in {} were not read ({error})",
                    path.display()
                );
                return None;
            }
        };
        let kept: Kept = match serde_json::from_slice(&bytes) {
            Ok(kept) => kept,
            Err(error) => {
                crate::note!(
                    "{} is not a counter reading ({error}); ignored",
                    path.display()
                );
                return None;
            }
        };
        if kept.format != FORMAT
            || kept.target != target.name
            || kept.root != target.root
            || kept.boot_id != target.boot_id
        {
            crate::note!(
                "{} holds another target's, boot's or format's counters; ignored",
                path.display()
            );
            return None;
        }
        Some(PreviousCounters {
            counters: Counters {
                tcp_ext: kept.tcp_ext,
                tcp: kept.tcp,
                conntrack: kept.conntrack,
            },
            taken_at: kept.taken_at,
            age_seconds: now() - kept.taken_at,
            path: path.display().to_string(),
        })
    }

    /// Keeps `counters` as the target's latest reading (atomically, 0600).
    pub fn keep_counters(
        &self,
        state_dir: &Path,
        target: &Target,
        counters: &Counters,
    ) -> io::Result<PathBuf> {
        let kept = Kept {
            format: FORMAT,
            target: target.name.clone(),
            root: target.root.clone(),
            boot_id: target.boot_id.clone(),
            taken_at: now(),
            tcp_ext: counters.tcp_ext.clone(),
            tcp: counters.tcp.clone(),
            conntrack: counters.conntrack.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&kept).map_err(io::Error::other)?;
        let path = target.path(state_dir);
        super::write::write_atomic(&path, &bytes, 0o600)?;
        Ok(path)
    }
}

/// Where `check` keeps its counter readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterState {
    /// Nowhere: a tree of plain files without `--state-dir`, or a live
    /// system whose default state directory does not exist.
    None,
    /// In this directory (created, private, when it was named explicitly).
    In(PathBuf),
}

impl System {
    /// Decides where `check` keeps counter readings. An explicit directory
    /// is created (private, as for apply's journal) when missing; the
    /// default `<root>/var/lib/tcptune` is used only on the live kernel and
    /// only when it already exists: a check never creates directories on a
    /// host that did not ask for them.
    pub fn counter_state(&self, explicit: Option<&Path>) -> io::Result<CounterState> {
        match explicit {
            Some(dir) => {
                super::write::ensure_private_dir(dir)?;
                Ok(CounterState::In(dir.to_owned()))
            }
            None => {
                let dir = self.default_state_dir();
                if self.is_kernel_proc() && dir.is_dir() && !dir.is_symlink() {
                    super::write::refuse_symlinked_components(&self.root, &dir)?;
                    super::write::ensure_private_dir(&dir)?;
                    Ok(CounterState::In(dir))
                } else {
                    Ok(CounterState::None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            root: "/".into(),
            boot_id: Some("b".into()),
        }
    }

    #[test]
    fn a_kept_reading_is_found_for_its_own_target_only() {
        let state = tempfile::tempdir().unwrap();
        let system = System::new("/nonexistent-root", "/nonexistent-proc");
        let mut counters = Counters::default();
        counters.tcp_ext.insert("ListenOverflows".into(), 7);
        let path = system
            .keep_counters(state.path(), &target("netns 1:2"), &counters)
            .unwrap();
        assert!(path.starts_with(state.path()));
        let previous = system
            .previous_counters(state.path(), &target("netns 1:2"))
            .unwrap();
        assert_eq!(previous.counters, counters);
        assert!(previous.age_seconds >= 0.0 && previous.age_seconds < 60.0);
        assert!(
            system
                .previous_counters(state.path(), &target("netns 1:3"))
                .is_none()
        );
        let rebooted = Target {
            boot_id: Some("other".into()),
            ..target("netns 1:2")
        };
        // Same file name, another boot: not the same namespace.
        std::fs::copy(&path, rebooted.path(state.path())).unwrap();
        assert!(system.previous_counters(state.path(), &rebooted).is_none());
    }

    #[test]
    fn a_plain_file_tree_keeps_nothing_unless_told_where() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("var/lib/tcptune")).unwrap();
        let system = System::new(root.path(), root.path().join("proc"));
        assert_eq!(system.counter_state(None).unwrap(), CounterState::None);
        let explicit = root.path().join("state");
        assert_eq!(
            system.counter_state(Some(&explicit)).unwrap(),
            CounterState::In(explicit.clone())
        );
        assert!(explicit.is_dir());
    }
}
