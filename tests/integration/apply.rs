//! diff, apply, rollback and history against a writable copy of a fixture's
//! `/proc` and a temporary root: the transaction logic, exit codes and files,
//! exactly and fast. (The same behaviour against the real kernel is in
//! `netns_apply`.)

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{Scene, fixture};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn apply_changes_live_values_writes_the_file_and_is_idempotent() {
    let scene = Scene::new();
    let diff = scene.json(&["diff", "--profile", "webserver"], 1);
    assert_eq!(diff["pending"], true);
    let outcome = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(outcome["changed"], true);
    assert_eq!(outcome["transaction"], "1");
    let changed: Vec<(&str, &str, &str)> = outcome["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|change| change["status"] == "change")
        .map(|change| {
            (
                change["key"].as_str().unwrap_or(""),
                change["from"].as_str().unwrap_or(""),
                change["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("net.ipv4.tcp_fin_timeout", "60", "30"),
            ("net.ipv4.tcp_slow_start_after_idle", "1", "0"),
            ("net.ipv4.tcp_tw_reuse", "2", "1"),
        ]
    );
    assert_eq!(scene.live("net.ipv4.tcp_fin_timeout"), "30");
    assert_eq!(scene.live("net.ipv4.tcp_tw_reuse"), "1");
    let file = fs::read_to_string(scene.file()).expect("file written");
    assert!(file.contains("\nnet.ipv4.tcp_fin_timeout = 30\n"), "{file}");
    assert!(file.contains("\nnet.core.somaxconn = 4096\n"), "{file}");
    assert_eq!(mode(&scene.file()), 0o644);
    assert_eq!(mode(&scene.root().join("var/lib/tcptune")), 0o700);
    assert_eq!(
        mode(&scene.root().join("var/lib/tcptune/journal/1.json")),
        0o600
    );

    let mtime = fs::metadata(scene.file())
        .expect("meta")
        .modified()
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(again["changed"], false);
    assert_eq!(again["transaction"], serde_json::Value::Null);
    assert_eq!(
        fs::metadata(scene.file())
            .expect("meta")
            .modified()
            .expect("mtime"),
        mtime
    );
    assert_eq!(
        scene.json(&["diff", "--profile", "webserver"], 0)["pending"],
        false
    );
    assert_eq!(
        scene.json(&["history"], 0)["transactions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn without_a_terminal_or_yes_nothing_changes() {
    let scene = Scene::new();
    let before = scene.snapshot();
    let output = scene.run(&["apply", "--profile", "webserver"]);
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pass --yes"));
    assert_eq!(scene.snapshot(), before);
    assert!(!scene.root().join("etc").exists());
    // Not even a state directory, lock or journal directory: nothing is
    // created before there is something to record.
    assert!(!scene.root().join("var").exists());
}

/// An apply with nothing to change creates no state directory either.
#[test]
fn an_apply_with_nothing_to_change_creates_nothing() {
    let scene = Scene::new();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    fs::remove_dir_all(scene.root().join("var")).expect("remove the state");
    let again = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(again["changed"], false, "{again:#}");
    assert!(!scene.root().join("var").exists());
}

#[test]
fn dry_run_and_bad_profiles_write_nothing() {
    let scene = Scene::new();
    let before = scene.snapshot();
    let dry = scene.json(&["apply", "--profile", "webserver", "--dry-run"], 0);
    assert_eq!(dry["changed"], false);
    assert_eq!(dry["dry_run"], true);
    assert!(
        dry["file_diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+net.ipv4.tcp_fin_timeout = 30")
    );
    let output = scene
        .command()
        .args(["apply", "--yes", "--profile"])
        .arg(fixture("invalid-profiles/out-of-range.yaml"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(scene.snapshot(), before);
    assert!(!scene.root().join("etc").exists());
    assert!(!scene.root().join("var").exists());
}

#[test]
fn a_later_file_that_wins_at_boot_is_named() {
    let scene = Scene::new();
    let etc = scene.root().join("etc");
    fs::create_dir_all(etc.join("sysctl.d")).expect("mkdir");
    fs::write(
        etc.join("sysctl.conf"),
        "# local tuning\nnet.ipv4.tcp_fin_timeout = 15\n",
    )
    .expect("write");
    std::os::unix::fs::symlink("../sysctl.conf", etc.join("sysctl.d/99-sysctl.conf"))
        .expect("symlink");
    fs::write(
        etc.join("sysctl.d/99-zzz-late.conf"),
        "net.ipv4.tcp_tw_reuse = 0\n",
    )
    .expect("write");
    let diff = scene.json(&["diff", "--profile", "webserver"], 1);
    let shadows: Vec<(String, String, u64, String)> = diff["shadows"]
        .as_array()
        .expect("shadows")
        .iter()
        .map(|shadow| {
            (
                shadow["key"].as_str().unwrap_or("").to_owned(),
                shadow["path"].as_str().unwrap_or("").to_owned(),
                shadow["line"].as_u64().unwrap_or(0),
                shadow["loader"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    // /etc/sysctl.conf loses to tcptune under systemd (99-sysctl.conf sorts
    // first) but wins under procps, which reads it last; 99-zzz-late.conf
    // wins under both.
    assert!(
        shadows.contains(&(
            "net.ipv4.tcp_fin_timeout".into(),
            "/etc/sysctl.conf".into(),
            2,
            "sysctl --system".into()
        )),
        "{shadows:?}"
    );
    assert!(
        !shadows
            .iter()
            .any(|(key, _, _, loader)| key == "net.ipv4.tcp_fin_timeout"
                && loader == "systemd-sysctl"),
        "{shadows:?}"
    );
    assert!(
        shadows.contains(&(
            "net.ipv4.tcp_tw_reuse".into(),
            "/etc/sysctl.d/99-zzz-late.conf".into(),
            1,
            "systemd-sysctl".into()
        )),
        "{shadows:?}"
    );
    assert!(
        shadows.contains(&(
            "net.ipv4.tcp_tw_reuse".into(),
            "/etc/sysctl.d/99-zzz-late.conf".into(),
            1,
            "sysctl --system".into()
        )),
        "{shadows:?}"
    );
}

#[test]
fn rollback_pops_applies_like_a_stack() {
    let scene = Scene::new();
    let before = scene.snapshot();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let after_webserver = scene.snapshot();
    let file_after_webserver = fs::read(scene.file()).expect("file");
    scene.json(&["apply", "--profile", "loadbalancer", "--yes"], 0);
    assert_eq!(scene.live("net.ipv4.ip_local_port_range"), "10240 65535");

    let first = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(first["rolled_back"], serde_json::json!(["2"]));
    assert_eq!(scene.snapshot(), after_webserver);
    assert_eq!(fs::read(scene.file()).expect("file"), file_after_webserver);

    let second = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(second["rolled_back"], serde_json::json!(["1"]));
    assert_eq!(scene.snapshot(), before);
    assert!(!scene.file().exists());

    let third = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(third["changed"], false);
    let history = scene.json(&["history"], 0);
    let states: Vec<&str> = history["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|entry| entry["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        states,
        ["rolled_back", "rolled_back", "committed", "committed"]
    );
}

#[test]
fn rollback_to_undoes_that_transaction_and_every_later_one() {
    let scene = Scene::new();
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    fs::write(
        scene.file(),
        b"# hand-written before tcptune\nnet.ipv4.tcp_sack = 1\n",
    )
    .expect("write");
    let before = scene.snapshot();
    let before_file = fs::read(scene.file()).expect("file");
    scene.json(&["apply", "--profile", "database", "--yes"], 0);
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let outcome = scene.json(&["rollback", "--yes", "--to", "1"], 0);
    assert_eq!(outcome["rolled_back"], serde_json::json!(["2", "1"]));
    assert_eq!(scene.snapshot(), before);
    assert_eq!(fs::read(scene.file()).expect("file"), before_file);
    let output = scene.run(&["rollback", "--yes", "--to", "7"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn rollback_refuses_to_clobber_a_later_change_unless_forced() {
    let scene = Scene::new();
    let before = scene.snapshot();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    scene.set_live("net.ipv4.tcp_fin_timeout", "45");
    let output = scene.run(&["rollback", "--yes"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("net.ipv4.tcp_fin_timeout is 45 but transaction 1 set it to 30"),
        "{stderr}"
    );
    assert_eq!(
        scene.live("net.ipv4.tcp_tw_reuse"),
        "1",
        "nothing was restored"
    );
    scene.json(&["rollback", "--yes", "--force"], 0);
    assert_eq!(scene.snapshot(), before);
}

#[test]
fn a_write_failing_half_way_puts_everything_back() {
    let scene = Scene::new();
    // tcp_tw_reuse is written after tcp_fin_timeout and
    // tcp_slow_start_after_idle (keys go in order); a symlink there passes
    // the writability check but the no-follow open refuses it.
    let reuse = scene.proc().join("sys/net/ipv4/tcp_tw_reuse");
    let real = scene.dir.path().join("elsewhere");
    fs::rename(&reuse, &real).expect("move");
    std::os::unix::fs::symlink(&real, &reuse).expect("symlink");
    let before = scene.snapshot();
    let output = scene.run(&["apply", "--profile", "webserver", "--yes"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("writing net.ipv4.tcp_tw_reuse = 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("everything it had changed was put back"),
        "{stderr}"
    );
    assert_eq!(scene.snapshot(), before);
    assert!(!scene.file().exists());
    let history = scene.json(&["history"], 0);
    assert_eq!(history["transactions"][0]["state"], "reverted");
    // A reverted transaction is not undone again.
    assert_eq!(scene.json(&["rollback", "--yes"], 0)["changed"], false);
}

#[test]
fn a_crash_at_any_step_is_restored_by_rollback() {
    for (step, existing) in [
        ("journal", false),
        ("file", true),
        ("key-1", false),
        ("key-2", true),
        ("key-3", false),
        ("commit", true),
    ] {
        let scene = Scene::new();
        let old = b"# kept by the operator\nnet.ipv4.tcp_fin_timeout = 60\n";
        if existing {
            fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
            fs::write(scene.file(), old).expect("write");
        }
        let before = scene.snapshot();
        let crashed = scene
            .command()
            .args(["apply", "--profile", "webserver", "--yes"])
            .env("TCPTUNE_CRASH_AT", step)
            .output()
            .expect("run");
        assert_eq!(
            crashed.status.code(),
            None,
            "{step}: tcptune must have been killed"
        );
        let on_disk = fs::read(scene.file()).ok();
        let complete = on_disk.as_deref().is_none_or(|bytes| {
            bytes == old
                || bytes.starts_with(b"# Written by tcptune")
                    && bytes.ends_with(b"net.ipv4.tcp_window_scaling = 1\n")
        });
        assert!(
            complete,
            "{step}: the file is neither old nor new: {on_disk:?}"
        );
        let leftovers: Vec<_> = fs::read_dir(scene.root().join("etc/sysctl.d"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|entry| entry.file_name())
                    .filter(|name| name.to_string_lossy().ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{step}: {leftovers:?}");

        let refused = scene.run(&["apply", "--profile", "webserver", "--yes"]);
        assert_eq!(refused.status.code(), Some(3), "{step}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("interrupted"),
            "{step}"
        );

        scene.json(&["rollback", "--yes"], 0);
        assert_eq!(scene.snapshot(), before, "{step}");
        match existing {
            true => assert_eq!(fs::read(scene.file()).expect("file"), old, "{step}"),
            false => assert!(!scene.file().exists(), "{step}"),
        }
    }
}

#[test]
fn a_held_lock_means_exit_3_and_no_change() {
    let scene = Scene::new();
    let state = scene.root().join("var/lib/tcptune");
    fs::create_dir_all(&state).expect("mkdir");
    let lock = fs::File::create(state.join("lock")).expect("lock file");
    lock.lock().expect("take the lock");
    let before = scene.snapshot();
    let output = scene.run(&["apply", "--profile", "webserver", "--yes"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is held"));
    assert_eq!(scene.snapshot(), before);
    drop(lock);
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
}

#[test]
fn a_symlink_planted_at_the_file_is_not_followed() {
    let scene = Scene::new();
    let victim = scene.dir.path().join("victim");
    fs::write(&victim, "precious\n").expect("write");
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, scene.file()).expect("plant");
    let before = scene.snapshot();
    let output = scene.run(&["apply", "--profile", "webserver", "--yes"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("symlink"));
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert_eq!(scene.snapshot(), before);
}

#[test]
fn read_only_keys_are_skipped_by_policy() {
    let scene = Scene::new();
    let rmem = scene.proc().join("sys/net/core/rmem_max");
    fs::set_permissions(&rmem, fs::Permissions::from_mode(0o444)).expect("chmod");
    let profile = scene.dir.path().join("buffers.yaml");
    fs::write(
        &profile,
        "settings:\n  net.core.rmem_max:\n    value: 4194304\n    why: larger SO_RCVBUF for the proxy\n  net.ipv4.tcp_fin_timeout:\n    value: 30\n    why: orphaned FIN_WAIT2 go sooner\n  net.ipv4.tcp_max_orphans:\n    at_least: 1\n    why: absent here\n",
    )
    .expect("profile");
    fs::remove_file(scene.proc().join("sys/net/ipv4/tcp_max_orphans")).expect("make it absent");
    let profile = profile.display().to_string();
    let outcome = scene.json(&["apply", "--yes", "--profile", &profile], 0);
    let statuses: Vec<(&str, &str)> = outcome["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["key"].as_str().unwrap_or(""),
                change["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("net.core.rmem_max", "skipped_read_only"),
            ("net.ipv4.tcp_fin_timeout", "change"),
            ("net.ipv4.tcp_max_orphans", "skipped_absent"),
        ]
    );
    assert_eq!(scene.live("net.core.rmem_max"), "212992");
    let file = fs::read_to_string(scene.file()).expect("file");
    assert!(!file.contains("rmem_max ="), "{file}");
    assert!(!file.contains("tcp_max_orphans ="), "{file}");
}

#[test]
fn apply_without_root_says_it_needs_root() {
    if !nix_is_root() {
        eprintln!("skipped: needs root to drop to an unprivileged user");
        return;
    }
    // A copy of the binary that the unprivileged user can execute.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = dir.path().join("tcptune");
    fs::copy(assert_cmd::cargo::cargo_bin!("tcptune"), &binary).expect("copy binary");
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(&binary)
        .args(["--root"])
        .arg(dir.path())
        .args(["apply", "--profile", "webserver", "--yes"])
        .output()
        .expect("run setpriv");
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs root"));
    assert!(!dir.path().join("var").exists());
}

fn nix_is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
        .unwrap_or(false)
}

#[test]
fn rollback_restores_the_files_mode_too() {
    let scene = Scene::new();
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    fs::write(scene.file(), b"net.ipv4.tcp_sack = 1\n").expect("write");
    fs::set_permissions(scene.file(), fs::Permissions::from_mode(0o600)).expect("chmod");
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(mode(&scene.file()), 0o644);
    assert_eq!(mode(&scene.root().join("var/lib/tcptune/lock")), 0o600);
    let outcome = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(mode(&scene.file()), 0o600);
    assert_eq!(
        fs::read(scene.file()).expect("file"),
        b"net.ipv4.tcp_sack = 1\n"
    );
    // Only keys that actually moved are listed.
    let keys: Vec<&str> = outcome["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|change| change["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_slow_start_after_idle",
            "net.ipv4.tcp_tw_reuse"
        ]
    );
}

#[test]
fn switching_profiles_names_keys_that_leave_the_file() {
    let scene = Scene::new();
    scene.json(&["apply", "--profile", "loadbalancer", "--yes"], 0);
    let diff = scene.json(&["diff", "--profile", "webserver"], 1);
    assert_eq!(
        diff["dropped"],
        serde_json::json!([{"key": "net.ipv4.ip_local_port_range", "value": "10240 65535"}])
    );
}

/// When a later file overrides tcptune's value at boot, the result of apply
/// will not survive a reboot: apply says so (human warning, JSON `shadows`,
/// exit 0 because the transaction committed), and diff shows the override
/// even when there is nothing left to change.
#[test]
fn an_override_at_boot_is_shown_by_apply_and_by_an_empty_diff() {
    let scene = Scene::new();
    let etc = scene.root().join("etc/sysctl.d");
    fs::create_dir_all(&etc).expect("mkdir");
    fs::write(etc.join("99-zzz-late.conf"), "net.ipv4.tcp_tw_reuse = 0\n").expect("write");
    let applied = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(applied["changed"], true);
    assert_eq!(
        applied["shadows"][0]["key"], "net.ipv4.tcp_tw_reuse",
        "{applied:#}"
    );
    let again = scene.run(&["apply", "--profile", "webserver", "--yes"]);
    assert_eq!(again.status.code(), Some(0));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("nothing to change"), "{text}");
    assert!(text.contains("99-zzz-late.conf:1"), "{text}");
    let diff = scene.run(&["diff", "--profile", "webserver"]);
    assert_eq!(diff.status.code(), Some(0));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("nothing to change"), "{text}");
    assert!(
        text.contains("99-zzz-late.conf:1 sets net.ipv4.tcp_tw_reuse = 0"),
        "{text}"
    );
    let json = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(
        json["shadows"][0]["key"], "net.ipv4.tcp_tw_reuse",
        "{json:#}"
    );
}

/// Apply and rollback say "written" / "restored" only when the file really
/// changed: a transaction that changed a live value alone leaves the file
/// unchanged and says so.
#[test]
fn the_file_is_said_written_or_restored_only_when_it_changed() {
    let scene = Scene::new();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let mtime = fs::metadata(scene.file())
        .expect("file")
        .modified()
        .expect("mtime");
    scene.set_live("net.ipv4.tcp_fin_timeout", "60");
    let apply = scene.run(&["apply", "--profile", "webserver", "--yes"]);
    assert_eq!(apply.status.code(), Some(0));
    let text = String::from_utf8_lossy(&apply.stdout);
    let last = text.lines().rev().nth(1).unwrap_or_default();
    assert!(
        last.contains("1 live values changed") && last.ends_with("99-zz-tcptune.conf unchanged"),
        "{text}"
    );
    let rollback = scene.run(&["rollback", "--yes"]);
    assert_eq!(rollback.status.code(), Some(0));
    let text = String::from_utf8_lossy(&rollback.stdout);
    assert!(text.contains("1 live values restored"), "{text}");
    assert!(text.contains("99-zz-tcptune.conf unchanged"), "{text}");
    assert!(!text.contains("conf restored"), "{text}");
    assert_eq!(
        fs::metadata(scene.file())
            .expect("file")
            .modified()
            .expect("mtime"),
        mtime
    );
}

/// `diff` only reads tcptune's file: a symlink planted there is refused as
/// something it cannot read, not write.
#[test]
fn diff_says_cannot_read_for_a_file_it_only_reads() {
    let scene = Scene::new();
    let victim = scene.dir.path().join("victim");
    fs::write(&victim, "precious\n").expect("write");
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, scene.file()).expect("plant");
    let output = scene.run(&["diff", "--profile", "webserver"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(!stderr.contains("write"), "{stderr}");
}
