//! apply, rollback, diff and history against the real kernel, inside private
//! network namespaces, with every file under a temporary `--root`: what
//! tcptune sets live is what procps `sysctl` reads back, the file it writes
//! is one `sysctl -p` accepts in a fresh namespace, and after a refused
//! write, a crash at any step or a rollback over someone else's change, every
//! `net.ipv4.*` and `net.core.*` value is back exactly where it was.
//!
//! This module owns these scenarios and a variant of `netns::in_netns` that
//! re-executes `netns_apply::<test>` (optionally also in a private mount
//! namespace, for read-only bind mounts over /proc/sys files) and a nested
//! namespace in which a written file is loaded. The namespace checks are the
//! ones in `netns`: nothing is written (no sysctl, no mount) until the child
//! has proved that its namespaces are not its parent's nor the host's.

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::netns::{
    CHILD_ENV, CHILD_TIMEOUT, DONE_MARKER, PARENT_NETNS_ENV, REQUIRE_ENV, assert_private_netns,
    current_netns, netns_available, output_within, run, sysctl_read, words,
};
use crate::{json_output, tcptune};

/// The network namespace of the process that started the first child: the
/// host's. Every descendant checks it is not there before writing.
const HOST_NETNS_ENV: &str = "TCPTUNE_HOST_NETNS";
/// The parent's `/proc/self/ns/mnt`, for children that bind-mount.
const PARENT_MNTNS_ENV: &str = "TCPTUNE_PARENT_MNTNS";
/// Set in a grandchild that loads a sysctl file into a fresh namespace.
const LOAD_ENV: &str = "TCPTUNE_NETNS_APPLY_LOAD";
/// Precedes the grandchild's JSON report on its stdout.
const LOADED_MARKER: &str = "TCPTUNE_NETNS_APPLY_LOADED";
/// tcptune's own crash switch (see `src/apply.rs`).
const CRASH_ENV: &str = "TCPTUNE_CRASH_AT";
/// What every snapshot reads: the families tcptune's profiles touch.
const NET_PATTERN: &str = r"^net\.(ipv4|core)\.";
const FILE_NAME: &str = "99-zz-tcptune.conf";
/// The keys the built-in webserver profile changes on a namespace at kernel
/// defaults; the rest of what it persists is already the default.
const WEBSERVER_CHANGES: [&str; 3] = [
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_tw_reuse",
];

// ───────────────────────── namespace plumbing ─────────────────────────

#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// `unshare -n`.
    Net,
    /// `unshare -n -m`, with all mounts made private in the child, so a bind
    /// mount over a /proc/sys file stays inside it and vanishes with it.
    NetAndMount,
}

/// Runs `scenario` in a fresh network namespace (and, with
/// `Isolation::NetAndMount`, a private mount namespace): the parent
/// re-executes `netns_apply::<test>` under `unshare`; the child proves its
/// namespaces are new and runs the scenario; a grandchild started by
/// `load_in_fresh_netns` loads a file and reports.
fn in_namespace(test: &str, isolation: Isolation, scenario: impl FnOnce()) {
    if let Ok(file) = env::var(LOAD_ENV) {
        load_and_report(Path::new(&file));
        return;
    }
    if env::var_os(CHILD_ENV).is_some() {
        assert_isolated();
        if isolation == Isolation::NetAndMount {
            assert_private_mntns();
            // util-linux already defaults to private propagation with -m;
            // saying it again means a bind mount can never reach the host.
            run(Command::new("mount").args(["--make-rprivate", "/"]));
        }
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        scenario();
        println!("{DONE_MARKER} netns_apply::{test}");
        return;
    }
    if let Err(reason) = unshare_available(isolation) {
        assert!(
            env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but the namespaces cannot be created: {reason}"
        );
        eprintln!(
            "skipping netns_apply::{test}: {reason} (set {REQUIRE_ENV}=1 to make this a failure)"
        );
        return;
    }

    let mut command = Command::new("unshare");
    command.arg("-n");
    if isolation == Isolation::NetAndMount {
        command.arg("-m");
    }
    command
        .arg("--")
        .arg(env::current_exe().expect("path of the test binary"))
        .args(libtest_filter(test))
        .env(CHILD_ENV, "1")
        .env(PARENT_NETNS_ENV, current_netns())
        .env(HOST_NETNS_ENV, current_netns())
        .env(PARENT_MNTNS_ENV, current_mntns())
        .env_remove(LOAD_ENV)
        .env_remove(CRASH_ENV);
    let output = output_within(&mut command, CHILD_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("{DONE_MARKER} netns_apply::{test}")),
        "netns_apply::{test} failed inside its namespace ({})\n--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}",
        output.status
    );
}

/// Arguments that make the test binary run exactly `netns_apply::<test>`.
fn libtest_filter(test: &str) -> [String; 4] {
    [
        "--exact".to_owned(),
        format!("netns_apply::{test}"),
        "--nocapture".to_owned(),
        "--test-threads=1".to_owned(),
    ]
}

/// Whether the namespaces `isolation` needs can be made here.
fn unshare_available(isolation: Isolation) -> Result<(), String> {
    netns_available()?;
    if isolation == Isolation::Net {
        return Ok(());
    }
    static MOUNT: OnceLock<Result<(), String>> = OnceLock::new();
    MOUNT
        .get_or_init(
            || match Command::new("unshare").args(["-n", "-m", "true"]).output() {
                Ok(output) if output.status.success() => Ok(()),
                Ok(output) => Err(format!(
                    "`unshare -n -m true` failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Err(error) => Err(format!("cannot run `unshare`: {error}")),
            },
        )
        .clone()
}

/// The safety gate before any sysctl write or tcptune run that may write:
/// this process is neither in its parent's network namespace (the netns
/// check) nor in the host's.
fn assert_isolated() {
    assert_private_netns();
    let host = env::var(HOST_NETNS_ENV).unwrap_or_default();
    let own = current_netns();
    assert!(
        !host.is_empty() && own != host,
        "refusing to touch the network: this process is in namespace {own}, the host's is {host:?}"
    );
}

/// The `mnt:[INODE]` link naming this process's mount namespace.
fn current_mntns() -> String {
    fs::read_link("/proc/self/ns/mnt")
        .expect("readlink /proc/self/ns/mnt")
        .to_string_lossy()
        .into_owned()
}

/// The gate before any mount: a bind mount in the parent's mount namespace
/// would cover the host's /proc/sys file.
fn assert_private_mntns() {
    let parent = env::var(PARENT_MNTNS_ENV).unwrap_or_default();
    let own = current_mntns();
    assert!(
        !parent.is_empty() && own != parent,
        "refusing to mount: this process is in mount namespace {own}, its parent's is {parent:?}"
    );
}

/// What `sysctl -p FILE` did in a namespace of its own.
struct Loaded {
    status: Option<i32>,
    stderr: String,
    /// `sysctl -n` of each key the file sets, before and after the load.
    before: BTreeMap<String, String>,
    after: BTreeMap<String, String>,
}

/// Loads `file` with procps `sysctl -p` in a fresh namespace (a grandchild
/// under `unshare -n`, so the values this test set are not there) and says
/// what the kernel then reports for each key the file sets.
fn load_in_fresh_netns(test: &str, file: &Path) -> Loaded {
    assert_isolated();
    let mut command = Command::new("unshare");
    command
        .args(["-n", "--"])
        .arg(env::current_exe().expect("path of the test binary"))
        .args(libtest_filter(test))
        .env(LOAD_ENV, file)
        .env(PARENT_NETNS_ENV, current_netns())
        .env_remove(CHILD_ENV);
    let output = output_within(&mut command, CHILD_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = stdout
        .lines()
        .find_map(|line| line.split_once(&format!("{LOADED_MARKER} ")))
        .map(|(_, report)| report)
        .unwrap_or_else(|| {
            panic!(
                "the loading namespace did not report ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let report: Value = serde_json::from_str(report).expect("the load report is JSON");
    let values = |side: &str| -> BTreeMap<String, String> {
        serde_json::from_value(report[side].clone()).expect("a map of values")
    };
    Loaded {
        status: report["status"]
            .as_i64()
            .map(|code| i32::try_from(code).expect("exit code")),
        stderr: report["stderr"].as_str().expect("stderr").to_owned(),
        before: values("before"),
        after: values("after"),
    }
}

/// The grandchild's side of `load_in_fresh_netns`.
fn load_and_report(file: &Path) {
    assert_isolated();
    let keys: Vec<String> = file_settings(&fs::read(file).expect("read the file to load"))
        .into_keys()
        .collect();
    let read_all = || -> BTreeMap<String, String> {
        keys.iter()
            .map(|key| (key.clone(), sysctl_read(key)))
            .collect()
    };
    let before = read_all();
    let output = Command::new("sysctl")
        .arg("-p")
        .arg(file)
        .output()
        .expect("run sysctl -p");
    let after = read_all();
    let report = json!({
        "status": output.status.code(),
        "stderr": String::from_utf8_lossy(&output.stderr),
        "before": before,
        "after": after,
    });
    println!("{LOADED_MARKER} {report}");
}

// ───────────────────────── the kernel's view ─────────────────────────

/// Every readable `net.ipv4.*` and `net.core.*` value, as procps prints it.
///
/// Nothing is excluded: in a fresh namespace where no socket is made, none
/// of these changes on its own. The one that would is
/// `net.ipv4.tcp_fastopen_key`: all zeros until the first TCP Fast Open
/// listener makes the namespace draw a random key (checked by hand on
/// 6.18); these tests make no sockets. Global values mirrored read-only into
/// the namespace (`net.core.rmem_max`, `tcp_available_congestion_control`)
/// could only move if the host changed them during a test, which no test may
/// do. Write-only keys (`net.ipv4.route.flush`) are not listed by `sysctl -a`.
fn snapshot() -> BTreeMap<String, String> {
    let output = run(Command::new("sysctl").args(["-a", "--pattern", NET_PATTERN]));
    let text = String::from_utf8(output.stdout).expect("sysctl output is UTF-8");
    let values: BTreeMap<String, String> = text
        .lines()
        .map(|line| {
            // `key = value`; an empty value prints as `key = `.
            let (key, value) = line
                .split_once(" =")
                .unwrap_or_else(|| panic!("unexpected sysctl -a line {line:?}"));
            (key.to_owned(), value.trim_start_matches(' ').to_owned())
        })
        .collect();
    // A snapshot that lost its keys would make every comparison vacuous.
    for key in WEBSERVER_CHANGES
        .iter()
        .chain(&["net.core.somaxconn", "net.ipv4.ip_local_port_range"])
    {
        assert!(values.contains_key(*key), "{key} missing from sysctl -a");
    }
    assert!(
        values.len() > 100,
        "only {} keys from sysctl -a",
        values.len()
    );
    values
}

/// Asserts two snapshots are equal, listing only the keys that differ.
fn assert_same_values(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
    context: &str,
) {
    let differing = differing_keys(expected, actual);
    assert!(
        differing.is_empty(),
        "{context}: these values are not what they were:\n{}",
        differing
            .iter()
            .map(|key| format!(
                "  {key}: expected {:?}, sysctl says {:?}",
                expected.get(key),
                actual.get(key)
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn differing_keys(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> BTreeSet<String> {
    a.keys()
        .chain(b.keys())
        .filter(|key| a.get(*key) != b.get(*key))
        .cloned()
        .collect()
}

/// Sets a sysctl as an administrator would, behind the same gate.
fn sysctl_set(key: &str, value: &str) {
    assert_isolated();
    run(Command::new("sysctl")
        .arg("-w")
        .arg(format!("{key}={value}")));
}

/// Makes `key` read-only in this mount namespace only: a read-only bind
/// mount of its /proc/sys file onto itself. Its mode stays 0644, so only the
/// write itself can fail.
fn make_read_only(key: &str) {
    assert_isolated();
    assert_private_mntns();
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    run(Command::new("mount").args(["--bind", &path, &path]));
    run(Command::new("mount").args(["-o", "remount,bind,ro", &path]));
}

/// `key = value` lines of a sysctl.d file, as procps reads them.
fn file_settings(bytes: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8(bytes.to_vec())
        .expect("the sysctl file is UTF-8")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not `key = value`: {line:?}"));
            (key.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

// ───────────────────────── tcptune under a temporary root ─────────────────────────

/// A temporary root: tcptune's file and journal live under it and nowhere
/// else, because every command is built by `command`, which passes it.
struct Root {
    dir: TempDir,
}

impl Root {
    fn new() -> Root {
        Root {
            dir: tempfile::tempdir().expect("temporary root"),
        }
    }

    /// Also with `bytes` already in tcptune's file, as a previous run or an
    /// administrator might have left it.
    fn with_file(bytes: &[u8]) -> Root {
        let root = Root::new();
        fs::create_dir_all(root.sysctl_dir()).expect("create etc/sysctl.d");
        fs::write(root.file(), bytes).expect("write the earlier file");
        fs::set_permissions(root.file(), fs::Permissions::from_mode(0o644)).expect("chmod 0644");
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn sysctl_dir(&self) -> PathBuf {
        self.path().join("etc/sysctl.d")
    }

    fn file(&self) -> PathBuf {
        self.sysctl_dir().join(FILE_NAME)
    }

    fn state_dir(&self) -> PathBuf {
        self.path().join("var/lib/tcptune")
    }

    /// tcptune with `--root` this root and colour off; it runs in the temp
    /// directory, so even a core dump of a crash lands there.
    fn command(&self) -> assert_cmd::Command {
        assert_isolated();
        let mut command = tcptune();
        command
            .current_dir(self.path())
            .arg("--root")
            .arg(self.path())
            .args(["--color", "never"])
            .env_remove(CRASH_ENV);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tcptune")
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        json_output(self.command().args(args).args(["--format", "json"]), code)
    }

    /// The file's bytes, None when it does not exist.
    fn file_bytes(&self) -> Option<Vec<u8>> {
        match fs::read(self.file()) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => panic!("read {}: {error}", self.file().display()),
        }
    }

    /// Names in etc/sysctl.d other than tcptune's file: temporary files
    /// left by an interrupted atomic write would show up here.
    fn strays(&self) -> Vec<String> {
        let Ok(listing) = fs::read_dir(self.sysctl_dir()) else {
            return Vec::new();
        };
        listing
            .map(|entry| {
                entry
                    .expect("list etc/sysctl.d")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name != FILE_NAME)
            .collect()
    }

    /// `history --format json`'s transactions.
    fn history(&self) -> Vec<Value> {
        self.json(&["history"], 0)["transactions"]
            .as_array()
            .expect("transactions")
            .clone()
    }
}

/// The exit code, with both streams in the message when it is not `code`.
fn assert_exit(output: &Output, code: i32, context: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{context} ({})\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|error| panic!("stat {}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The `changes` of an apply document as key -> (from, to, status).
fn changes(document: &Value) -> BTreeMap<String, (String, String, String)> {
    document["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            let text = |field: &str| {
                change[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{field} of {change}"))
                    .to_owned()
            };
            (text("key"), (text("from"), text("to"), text("status")))
        })
        .collect()
}

/// The keys a document reports with status `change`, in name order: the
/// order tcptune writes them.
fn changed_keys(document: &Value) -> Vec<String> {
    changes(document)
        .into_iter()
        .filter(|(_, (_, _, status))| status == "change")
        .map(|(key, _)| key)
        .collect()
}

fn ids(values: &Value) -> Vec<&str> {
    values
        .as_array()
        .expect("a list of ids")
        .iter()
        .map(|id| id.as_str().expect("ids are strings"))
        .collect()
}

// ───────────────────────── scenarios ─────────────────────────

/// apply sets each value live exactly as `sysctl -n` then reads it, touches
/// nothing else, writes a 0644 file that `sysctl -p` loads cleanly into a
/// fresh namespace with the profile's values, keeps its journal private, and
/// a second apply is a no-op that leaves the file alone.
#[test]
fn apply_sets_live_values_and_a_file_sysctl_accepts() {
    const TEST: &str = "apply_sets_live_values_and_a_file_sysctl_accepts";
    in_namespace(TEST, Isolation::Net, || {
        let root = Root::new();
        let before = snapshot();

        // No terminal and no --yes: asked, not done.
        let unconfirmed = root.run(&["apply", "--live", "--profile", "webserver"]);
        assert_exit(&unconfirmed, 4, "apply without --yes or a terminal");
        assert_same_values(&before, &snapshot(), "after an unconfirmed apply");
        assert_eq!(root.file_bytes(), None, "no file without confirmation");

        let applied = root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
        assert_eq!(applied["schema_version"], 1);
        assert_eq!(applied["changed"], true);
        assert_eq!(applied["transaction"], "1");
        assert_eq!(applied["file"], root.file().to_str().expect("UTF-8 path"));
        let reported = changes(&applied);
        assert_eq!(changed_keys(&applied), WEBSERVER_CHANGES, "{applied:#}");
        for (key, (from, to, _)) in &reported {
            assert_eq!(
                words(&sysctl_read(key)),
                words(to),
                "{key} against sysctl -n"
            );
            assert_eq!(
                words(&before[key]),
                words(from),
                "{key}: `from` is what was live"
            );
        }
        // Only what tcptune reported changing moved, and to its `to`.
        let after = snapshot();
        assert_eq!(
            differing_keys(&before, &after),
            WEBSERVER_CHANGES
                .iter()
                .map(|key| key.to_string())
                .collect::<BTreeSet<String>>(),
            "the keys sysctl -a shows changed"
        );

        // The file: 0644, setting every key the profile persists, to `to`.
        let file = root.file();
        assert_eq!(mode(&file), 0o644, "{}", file.display());
        let bytes = root.file_bytes().expect("apply wrote the file");
        let settings = file_settings(&bytes);
        let wanted: BTreeMap<String, String> = reported
            .iter()
            .map(|(key, (_, to, _))| (key.clone(), to.clone()))
            .collect();
        assert_eq!(settings, wanted, "the file sets what apply reported");
        assert_eq!(root.strays(), Vec::<String>::new(), "only tcptune's file");

        // The journal holds previous values and file bytes: private.
        let state = root.state_dir();
        assert_eq!(mode(&state), 0o700, "{}", state.display());
        let journal = state.join("journal");
        assert_eq!(mode(&journal), 0o700, "{}", journal.display());
        let records: Vec<PathBuf> = fs::read_dir(&journal)
            .expect("list the journal")
            .map(|entry| entry.expect("journal entry").path())
            .collect();
        assert!(!records.is_empty(), "an apply leaves a journal record");
        for record in &records {
            assert_eq!(mode(record), 0o600, "{}", record.display());
        }

        // The file alone, in a namespace still at the kernel's defaults.
        let loaded = load_in_fresh_netns(TEST, &file);
        assert_eq!(
            loaded.status,
            Some(0),
            "sysctl -p {} exits 0; it said: {}",
            file.display(),
            loaded.stderr
        );
        assert_eq!(
            loaded.after.keys().collect::<Vec<_>>(),
            settings.keys().collect::<Vec<_>>()
        );
        for (key, value) in &settings {
            assert_eq!(
                words(&loaded.after[key]),
                words(value),
                "{key} after sysctl -p"
            );
        }
        for key in WEBSERVER_CHANGES {
            // So it was the file that set them, not a namespace default.
            assert_ne!(
                words(&loaded.before[key]),
                words(&settings[key]),
                "{key} before sysctl -p"
            );
        }

        // Again: nothing to do, and the file is not rewritten (a rename
        // would give a new inode, a rewrite a new mtime).
        let stat = fs::metadata(&file).expect("stat the file");
        let again = root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
        assert_eq!(again["changed"], false, "{again:#}");
        assert_eq!(again["transaction"], Value::Null, "{again:#}");
        let restat = fs::metadata(&file).expect("stat the file");
        assert_eq!(restat.ino(), stat.ino(), "the file was replaced");
        assert_eq!(
            restat.modified().expect("mtime"),
            stat.modified().expect("mtime"),
            "the file was rewritten"
        );
        assert_eq!(root.file_bytes(), Some(bytes));
        assert_eq!(
            root.history().len(),
            1,
            "a no-op apply is not a transaction"
        );

        let diff = root.json(&["diff", "--profile", "webserver"], 0);
        assert_eq!(diff["pending"], false, "{diff:#}");
        assert_same_values(&after, &snapshot(), "after the no-op apply and diff");
    });
}

/// Two profiles applied on top of each other, then a third that moves a key
/// again; `rollback --to 1` undoes all of them and every net value is what
/// it was, the file gone.
#[test]
fn rollback_restores_every_net_value_exactly() {
    in_namespace(
        "rollback_restores_every_net_value_exactly",
        Isolation::Net,
        || {
            let root = Root::new();
            let before = snapshot();

            let first = root.json(
                &["apply", "--live", "--profile", "loadbalancer", "--yes"],
                0,
            );
            assert_eq!(first["transaction"], "1");
            assert_eq!(
                words(&sysctl_read("net.ipv4.ip_local_port_range")),
                ["10240", "65535"]
            );
            // Every key loadbalancer sets is already right for webserver, so
            // this transaction changes only the file.
            let second = root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
            assert_eq!(second["transaction"], "2", "{second:#}");
            // A third moves a key the first already moved, and a new one:
            // rollback must restore the first transaction's `previous`, not
            // an intermediate value.
            let profile = root.path().join("stacked.yaml");
            fs::write(
                &profile,
                "description: webserver with a shorter FIN_WAIT2 and keepalive.\n\
                 extends: webserver\n\
                 settings:\n  \
                   net.ipv4.tcp_fin_timeout:\n    value: 20\n    why: moved a second time\n  \
                   net.ipv4.tcp_keepalive_time:\n    value: 600\n    why: moved only here\n",
            )
            .expect("write the stacked profile");
            let profile = profile.to_str().expect("UTF-8 path");
            let third = root.json(&["apply", "--live", "--profile", profile, "--yes"], 0);
            assert_eq!(third["transaction"], "3", "{third:#}");
            assert_eq!(
                changed_keys(&third),
                ["net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_time"]
            );
            assert_eq!(sysctl_read("net.ipv4.tcp_fin_timeout"), "20");

            let undone = root.json(&["rollback", "--live", "--yes", "--to", "1"], 0);
            assert_eq!(undone["changed"], true, "{undone:#}");
            assert_eq!(ids(&undone["rolled_back"]), ["3", "2", "1"], "{undone:#}");
            assert_same_values(&before, &snapshot(), "after rollback --to 1");
            assert_eq!(root.file_bytes(), None, "the file did not exist before");
            assert_eq!(root.strays(), Vec::<String>::new());

            let history = root.history();
            let rollback_id = undone["transaction"].as_str().expect("rollback id");
            for id in ["1", "2", "3"] {
                let entry = history
                    .iter()
                    .find(|entry| entry["id"] == id)
                    .unwrap_or_else(|| panic!("transaction {id} in {history:#?}"));
                assert_eq!(entry["kind"], "apply", "{entry:#}");
                assert_eq!(entry["state"], "rolled_back", "{entry:#}");
                assert_eq!(entry["rolled_back_by"], rollback_id, "{entry:#}");
            }
            let rollback = history
                .iter()
                .find(|entry| entry["id"] == rollback_id)
                .expect("the rollback's own record");
            assert_eq!(rollback["kind"], "rollback");
            assert_eq!(rollback["state"], "committed");

            // Nothing left to undo.
            let nothing = root.json(&["rollback", "--live", "--yes"], 0);
            assert_eq!(nothing["changed"], false, "{nothing:#}");
            assert_same_values(&before, &snapshot(), "after an empty rollback");
        },
    );
}

/// The kernel refuses the third write of webserver (a read-only bind mount
/// over tcp_tw_reuse): apply exits 3 having put back the two keys it had
/// written and the file, and says so; the record is `reverted`, and does
/// not block a later apply.
#[test]
fn live_write_refused_half_way_puts_everything_back() {
    const READ_ONLY: &str = "net.ipv4.tcp_tw_reuse";
    in_namespace(
        "live_write_refused_half_way_puts_everything_back",
        Isolation::NetAndMount,
        || {
            // Keys are written in name order; at least one must come first.
            let position = WEBSERVER_CHANGES
                .iter()
                .position(|key| *key == READ_ONLY)
                .expect("a key webserver changes");
            assert!(position >= 1, "{READ_ONLY} must not be written first");

            make_read_only(READ_ONLY);
            let refused = Command::new("sysctl")
                .arg("-w")
                .arg(format!("{READ_ONLY}=1"))
                .output()
                .expect("run sysctl -w");
            assert!(
                !refused.status.success(),
                "sysctl -w {READ_ONLY} should fail under a read-only bind mount"
            );
            assert_eq!(
                sysctl_read(READ_ONLY),
                "2",
                "the refused write changed nothing"
            );

            let before = snapshot();
            let root = Root::new();
            let failed = root.run(&["apply", "--live", "--profile", "webserver", "--yes"]);
            assert_exit(&failed, 3, "apply with a read-only key");
            let stderr = String::from_utf8_lossy(&failed.stderr);
            assert!(stderr.contains("put back"), "stderr: {stderr}");
            assert!(stderr.contains(READ_ONLY), "stderr: {stderr}");
            assert_same_values(&before, &snapshot(), "after the failed apply");
            assert_eq!(root.file_bytes(), None, "the file did not exist before");
            assert_eq!(root.strays(), Vec::<String>::new());
            let history = root.history();
            assert_eq!(history.len(), 1, "{history:#?}");
            assert_eq!(history[0]["state"], "reverted", "{history:#?}");
            let keys: Vec<&str> = history[0]["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|record| record["key"].as_str().expect("key"))
                .collect();
            assert_eq!(
                keys, WEBSERVER_CHANGES,
                "the record names what it meant to change"
            );

            // With an earlier file: it comes back byte for byte.
            let earlier = b"# kept by hand\nnet.ipv4.tcp_fin_timeout = 45\n";
            let root = Root::with_file(earlier);
            let failed = root.run(&["apply", "--live", "--profile", "webserver", "--yes"]);
            assert_exit(
                &failed,
                3,
                "apply with a read-only key over an earlier file",
            );
            assert_same_values(&before, &snapshot(), "after the second failed apply");
            assert_eq!(root.file_bytes().as_deref(), Some(&earlier[..]));
            assert_eq!(root.strays(), Vec::<String>::new());

            // A reverted transaction needs no rollback: once the key is
            // writable again, apply goes through.
            run(Command::new("umount").arg(format!("/proc/sys/{}", READ_ONLY.replace('.', "/"))));
            let applied = root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
            assert_eq!(applied["changed"], true, "{applied:#}");
            assert_eq!(sysctl_read(READ_ONLY), "1");
            root.json(&["rollback", "--live", "--yes"], 0);
            assert_same_values(&before, &snapshot(), "after rolling back the retry");
            assert_eq!(root.file_bytes().as_deref(), Some(&earlier[..]));
        },
    );
}

/// tcptune killed (SIGABRT) at each step of apply, with and without an
/// earlier file: the file is never partial, the live values are exactly as
/// far as it got, apply refuses until rollback, and rollback restores every
/// net value and the file's bytes.
#[test]
fn crash_at_every_step_then_rollback_restores_exactly() {
    const STEPS: [&str; 6] = ["journal", "file", "key-1", "key-2", "key-3", "commit"];
    const EARLIER: &[u8] = b"# an earlier tcptune file\nnet.ipv4.tcp_fin_timeout = 45\n";
    in_namespace(
        "crash_at_every_step_then_rollback_restores_exactly",
        Isolation::Net,
        || {
            let before = snapshot();

            // The complete new file and the write order, from an apply that
            // ran to the end (and is rolled back at once).
            let reference = Root::new();
            let applied =
                reference.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
            let new_bytes = reference.file_bytes().expect("the reference file");
            let order = changed_keys(&applied);
            assert_eq!(order, WEBSERVER_CHANGES, "three keys, three key-N steps");
            let reported = changes(&applied);
            reference.json(&["rollback", "--live", "--yes"], 0);
            assert_same_values(&before, &snapshot(), "after the reference rollback");

            for step in STEPS {
                for earlier in [None, Some(EARLIER)] {
                    let context = format!(
                        "crash at {step}, {} earlier file",
                        if earlier.is_some() { "with an" } else { "no" }
                    );
                    let root = earlier.map_or_else(Root::new, Root::with_file);

                    let crashed = root
                        .command()
                        .args(["apply", "--live", "--profile", "webserver", "--yes"])
                        .env(CRASH_ENV, step)
                        .output()
                        .expect("run tcptune");
                    assert_eq!(
                        crashed.status.signal(),
                        Some(6),
                        "{context}: SIGABRT expected ({}); stderr: {}",
                        crashed.status,
                        String::from_utf8_lossy(&crashed.stderr)
                    );

                    // Old bytes until the file step, the complete new ones
                    // from it on; never anything in between.
                    let written = match step {
                        "journal" | "file" => 0,
                        "commit" => order.len(),
                        key => key
                            .strip_prefix("key-")
                            .and_then(|n| n.parse().ok())
                            .expect("key-N"),
                    };
                    let expected_file = if step == "journal" {
                        earlier.map(<[u8]>::to_vec)
                    } else {
                        Some(new_bytes.clone())
                    };
                    assert_eq!(root.file_bytes(), expected_file, "{context}: file");
                    assert_eq!(root.strays(), Vec::<String>::new(), "{context}: strays");
                    for (index, key) in order.iter().enumerate() {
                        let (from, to, _) = &reported[key];
                        let wanted = if index < written { to } else { from };
                        assert_eq!(words(&sysctl_read(key)), words(wanted), "{context}: {key}");
                    }

                    let crashed_state = snapshot();
                    let blocked = root.run(&["apply", "--live", "--profile", "webserver", "--yes"]);
                    assert_exit(&blocked, 3, &format!("{context}: apply after the crash"));
                    assert!(
                        String::from_utf8_lossy(&blocked.stderr).contains("interrupted"),
                        "{context}: stderr: {}",
                        String::from_utf8_lossy(&blocked.stderr)
                    );
                    assert_same_values(
                        &crashed_state,
                        &snapshot(),
                        &format!("{context}: a refused apply changes nothing"),
                    );

                    let undone = root.json(&["rollback", "--live", "--yes"], 0);
                    assert_eq!(ids(&undone["rolled_back"]), ["1"], "{context}: {undone:#}");
                    assert_same_values(&before, &snapshot(), &format!("{context}: after rollback"));
                    assert_eq!(
                        root.file_bytes(),
                        earlier.map(<[u8]>::to_vec),
                        "{context}: file after rollback"
                    );
                    assert_eq!(root.strays(), Vec::<String>::new(), "{context}: strays");
                    let history = root.history();
                    assert_eq!(
                        history[0]["state"], "rolled_back",
                        "{context}: {history:#?}"
                    );
                }
            }
        },
    );
}

/// A value changed by hand after apply makes rollback refuse, naming the
/// key and restoring nothing; `--force` then restores everything.
#[test]
fn rollback_refuses_to_clobber_a_later_change() {
    const FIN_TIMEOUT: &str = "net.ipv4.tcp_fin_timeout";
    in_namespace(
        "rollback_refuses_to_clobber_a_later_change",
        Isolation::Net,
        || {
            let root = Root::new();
            let before = snapshot();
            root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
            let written = root.file_bytes().expect("apply wrote the file");

            sysctl_set(FIN_TIMEOUT, "45");
            let mut expected = snapshot();
            assert_eq!(expected[FIN_TIMEOUT], "45");

            let refused = root.run(&["rollback", "--live", "--yes"]);
            assert_exit(&refused, 3, "rollback over a later change");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(
                stderr.contains(FIN_TIMEOUT),
                "stderr names the key: {stderr}"
            );
            assert_same_values(&expected, &snapshot(), "after the refused rollback");
            assert_eq!(root.file_bytes(), Some(written), "the file is untouched");
            let history = root.history();
            assert_eq!(
                history.len(),
                1,
                "a refusal is not a transaction: {history:#?}"
            );
            assert_eq!(history[0]["state"], "committed");

            let forced = root.json(&["rollback", "--live", "--yes", "--force"], 0);
            assert_eq!(forced["changed"], true, "{forced:#}");
            expected = before;
            assert_same_values(&expected, &snapshot(), "after rollback --force");
            assert_eq!(root.file_bytes(), None);
        },
    );
}

/// A value the kernel accepts but prints back differently (`010` is read
/// as octal 8) fails apply's read-back after the kernel stored it: that
/// key, and every other key apply wrote, is put back, and the record says
/// reverted only because it is true.
#[test]
fn a_value_the_kernel_prints_back_differently_is_still_put_back() {
    in_namespace(
        "a_value_the_kernel_prints_back_differently_is_still_put_back",
        Isolation::Net,
        || {
            let root = Root::new();
            let profile = root.path().join("octal.yaml");
            fs::write(
                &profile,
                "description: octal\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: \"010\"\n    why: a leading zero\n  net.ipv4.tcp_tw_reuse:\n    value: 1\n    why: written last\n",
            )
            .expect("write the profile");
            let before = snapshot();
            let failed = root.run(&[
                "apply",
                "--profile",
                profile.to_str().expect("UTF-8 path"),
                "--yes",
                "--live",
            ]);
            let code = failed.status.code();
            // Refused up front (a value model that knows octal) or failed
            // and put back: never exit 0, and never a changed kernel.
            assert!(
                code == Some(2) || code == Some(3),
                "exit {code:?}: {}",
                String::from_utf8_lossy(&failed.stderr)
            );
            assert_same_values(&before, &snapshot(), "after the failed apply");
            if code == Some(3) {
                let history = root.history();
                assert_eq!(history[0]["state"], "reverted", "{history:#?}");
                let nothing = root.json(&["rollback", "--live", "--yes"], 0);
                assert_eq!(nothing["changed"], false, "{nothing:#}");
            }
        },
    );
}

/// `--root IMAGE` is an offline image: apply writes the image's file and
/// leaves this kernel's values alone unless `--live`; a record in the image
/// that changed live values is not restored onto this kernel without
/// `--live` either.
#[test]
fn an_image_root_changes_files_only_unless_live() {
    in_namespace(
        "an_image_root_changes_files_only_unless_live",
        Isolation::Net,
        || {
            let root = Root::new();
            let before = snapshot();
            // diff shows what apply would do with the same options: files
            // only for an image, live values too with --live.
            let files_only = root.json(&["diff", "--profile", "webserver"], 1);
            assert_eq!(files_only["live"], false, "{files_only:#}");
            let with_live = root.json(&["diff", "--live", "--profile", "webserver"], 1);
            assert_eq!(with_live["live"], true, "{with_live:#}");
            let offline = root.run(&["apply", "--profile", "webserver", "--yes"]);
            assert_exit(&offline, 0, "offline apply");
            let stderr = String::from_utf8_lossy(&offline.stderr);
            assert!(stderr.contains("offline image"), "stderr: {stderr}");
            assert_same_values(&before, &snapshot(), "after an offline apply");
            assert!(root.file_bytes().is_some(), "the image's file is written");
            let history = root.history();
            assert_eq!(history[0]["live"], false, "{history:#?}");
            assert_eq!(history[0]["keys"], json!([]), "{history:#?}");
            // The image converged: nothing pending for it any more, while
            // the kernel's own values still differ (a diff --live says so).
            root.json(&["diff", "--profile", "webserver"], 0);
            root.json(&["diff", "--live", "--profile", "webserver"], 1);
            root.json(&["rollback", "--yes"], 0);
            assert_eq!(root.file_bytes(), None);

            root.json(&["apply", "--live", "--profile", "webserver", "--yes"], 0);
            assert_eq!(sysctl_read("net.ipv4.tcp_fin_timeout"), "30");
            let applied = snapshot();
            let refused = root.run(&["rollback", "--yes"]);
            assert_exit(&refused, 2, "offline rollback of a live transaction");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains("--live"), "stderr: {stderr}");
            assert_same_values(&applied, &snapshot(), "after the refused rollback");
            root.json(&["rollback", "--live", "--yes"], 0);
            assert_same_values(&before, &snapshot(), "after rollback --live");
        },
    );
}

/// In a child network namespace (a container's), apply on the host's root
/// sets the values live only: the host's boot configuration is not the
/// place for them, and tcptune says where it is. /etc/sysctl.d is a tmpfs
/// in a private mount namespace here, so the host's directory is never at
/// risk.
#[test]
fn a_child_namespace_is_not_persisted_into_the_hosts_boot_configuration() {
    in_namespace(
        "a_child_namespace_is_not_persisted_into_the_hosts_boot_configuration",
        Isolation::NetAndMount,
        || {
            fs::create_dir_all("/etc/sysctl.d").expect("/etc/sysctl.d");
            run(Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/etc/sysctl.d"]));
            let state = tempfile::tempdir().expect("state");
            let state_arg = state.path().to_str().expect("UTF-8");
            let before = snapshot();
            // Init's namespace may be out of sight (a sandbox); --netns
            // names the child namespace explicitly, as a container host does.
            let own = format!("/proc/{}/ns/net", std::process::id());
            let output = tcptune()
                .args(["--netns", &own])
                .args([
                    "--color",
                    "never",
                    "apply",
                    "--profile",
                    "webserver",
                    "--yes",
                ])
                .args(["--state-dir", state_arg])
                .output()
                .expect("run tcptune");
            assert_exit(&output, 0, "apply in a child namespace");
            let stdout = String::from_utf8_lossy(&output.stdout);
            for words in ["securityContext.sysctls", "docker", "--sysctl"] {
                assert!(stdout.contains(words), "stdout: {stdout}");
            }
            assert_eq!(sysctl_read("net.ipv4.tcp_fin_timeout"), "30");
            let names: Vec<_> = fs::read_dir("/etc/sysctl.d")
                .expect("list")
                .map(|entry| entry.expect("entry").file_name())
                .collect();
            assert!(names.is_empty(), "nothing persisted: {names:?}");
            let rolled = tcptune()
                .args(["--netns", &own])
                .args([
                    "--color",
                    "never",
                    "rollback",
                    "--yes",
                    "--state-dir",
                    state_arg,
                ])
                .output()
                .expect("run tcptune");
            assert_exit(&rolled, 0, "rollback in a child namespace");
            assert_same_values(&before, &snapshot(), "after rollback");
            run(Command::new("umount").arg("/etc/sysctl.d"));
        },
    );
}

/// A congestion control algorithm the kernel does not have is refused
/// before any change, naming the algorithm and the ones it offers, never as
/// "the key does not exist" (the kernel's ENOENT on such a write, which
/// `WriteRefusal` also names as an unknown algorithm).
#[test]
fn an_unknown_congestion_control_algorithm_is_named_as_such() {
    in_namespace(
        "an_unknown_congestion_control_algorithm_is_named_as_such",
        Isolation::Net,
        || {
            let root = Root::new();
            let profile = root.path().join("cc.yaml");
            fs::write(
                &profile,
                "description: cc\nsettings:\n  net.ipv4.tcp_congestion_control:\n    value: nosuchalgorithm\n    why: a typo\n",
            )
            .expect("write the profile");
            let before = snapshot();
            let failed = root.run(&[
                "apply",
                "--profile",
                profile.to_str().expect("UTF-8 path"),
                "--yes",
                "--live",
            ]);
            // Refused before any change: the kernel's own list of
            // algorithms is read first (exit 2, bad input, nothing written).
            assert_exit(&failed, 2, "unknown algorithm");
            let stderr = String::from_utf8_lossy(&failed.stderr);
            assert!(
                stderr.contains("nosuchalgorithm, which this kernel does not offer"),
                "{stderr}"
            );
            assert!(!stderr.contains("does not exist here"), "{stderr}");
            assert_same_values(&before, &snapshot(), "after the refused apply");
            assert!(
                root.file_bytes().is_none(),
                "nothing written under the root"
            );
        },
    );
}
