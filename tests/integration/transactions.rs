//! Transactions under faults that leave the kernel and the journal in
//! disagreement unless tcptune is careful: a journal write failing at the
//! commit or at the revert, a key rollback cannot restore, a record of
//! another target. Live values are a writable copy of a fixture's `/proc`.

use std::fs;

use crate::Scene;

/// tcptune on the scene with failures injected at `steps` (debug builds
/// read `TCPTUNE_FAIL_AT`).
fn failing_at(scene: &Scene, steps: &str, args: &[&str]) -> std::process::Output {
    scene
        .command()
        .env("TCPTUNE_FAIL_AT", steps)
        .args(args)
        .output()
        .expect("run tcptune")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_failed_commit_record_says_the_changes_are_live() {
    let scene = Scene::new();
    let before = scene.snapshot();
    let output = failing_at(
        &scene,
        "journal-commit",
        &["apply", "--profile", "webserver", "--yes"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("is live"), "{message}");
    assert!(message.contains("tcptune rollback"), "{message}");
    assert_ne!(scene.snapshot(), before, "the changes are live, as it says");
    let history = scene.json(&["history"], 0);
    assert_eq!(
        history["transactions"][0]["state"], "prepared",
        "{history:#}"
    );
    scene.json(&["rollback", "--yes"], 0);
    assert_eq!(scene.snapshot(), before, "rollback undoes it");
    assert!(!scene.file().exists());
}

#[test]
fn a_failed_revert_record_keeps_the_first_cause() {
    let scene = Scene::new();
    let before = scene.snapshot();
    let output = failing_at(
        &scene,
        "key-2,journal-revert",
        &["apply", "--profile", "webserver", "--yes"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("No space left"), "{message}");
    assert!(
        message.contains("writing net."),
        "the first cause: {message}"
    );
    assert!(message.contains("put back"), "{message}");
    assert_eq!(scene.snapshot(), before);
    assert!(!scene.file().exists());
    // The record still says prepared; rollback clears it, restoring nothing.
    let cleared = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(cleared["changes"], serde_json::json!([]), "{cleared:#}");
    assert_eq!(scene.snapshot(), before);
    let _ = fs::remove_dir_all(scene.root());
}

/// Crash and failure injection exist for the tests only: every read of
/// their environment variables sits in a function compiled into debug
/// builds alone, so a release binary cannot be made to abort by its
/// environment.
#[test]
fn fault_injection_is_compiled_into_debug_builds_only() {
    let source = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/apply.rs"))
        .expect("read src/apply.rs");
    let lines: Vec<&str> = source.lines().collect();
    let mut reads = 0;
    for (index, line) in lines.iter().enumerate() {
        if !line.contains("std::env::var") {
            continue;
        }
        reads += 1;
        let function = (0..index)
            .rev()
            .find(|at| lines[*at].starts_with("fn ") || lines[*at].starts_with("pub fn "))
            .expect("inside a function");
        assert_eq!(
            lines[function - 1].trim(),
            "#[cfg(debug_assertions)]",
            "line {}: {line}",
            index + 1
        );
    }
    assert!(reads >= 2, "the crash and failure switches are read");
}

/// A key the kernel no longer accepts (here: its file became a directory,
/// as an interface's keys vanish with the interface) does not stop the
/// rollback: every other key and the file are restored, the rollback is
/// recorded as partial naming the key and the reason, and `--skip` lets the
/// operator finish.
#[test]
fn one_unrestorable_key_does_not_block_the_rest_of_the_rollback() {
    let scene = Scene::new();
    let before = scene.snapshot();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(scene.live("net.ipv4.tcp_fin_timeout"), "30");
    // tcp_tw_reuse is written after tcp_fin_timeout; it disappears.
    let gone = scene.proc().join("sys/net/ipv4/tcp_fin_timeout");
    fs::remove_file(&gone).expect("remove the key");
    fs::create_dir(&gone).expect("a directory where the key was");

    let partial = scene.run(&["rollback", "--yes", "--force"]);
    assert_eq!(partial.status.code(), Some(3), "{}", stderr(&partial));
    let message = stderr(&partial);
    assert!(message.contains("partial"), "{message}");
    assert!(message.contains("net.ipv4.tcp_fin_timeout"), "{message}");
    assert!(
        message.contains("--skip net.ipv4.tcp_fin_timeout"),
        "{message}"
    );
    assert_eq!(
        scene.live("net.ipv4.tcp_tw_reuse"),
        "2",
        "the later key is restored"
    );
    assert!(!scene.file().exists(), "the file is restored");
    let history = scene.json(&["history"], 0);
    let rollback = &history["transactions"][1];
    assert_eq!(rollback["state"], "partial", "{history:#}");
    assert_eq!(
        rollback["unrestored"][0]["key"], "net.ipv4.tcp_fin_timeout",
        "{history:#}"
    );
    assert_eq!(
        history["transactions"][0]["state"], "committed",
        "still in effect"
    );

    let skipped = scene.json(
        &[
            "rollback",
            "--yes",
            "--force",
            "--skip",
            "net.ipv4.tcp_fin_timeout",
        ],
        0,
    );
    assert_eq!(
        skipped["rolled_back"],
        serde_json::json!(["1"]),
        "{skipped:#}"
    );
    let history = scene.json(&["history"], 0);
    assert_eq!(
        history["transactions"][0]["state"], "rolled_back",
        "{history:#}"
    );
    fs::remove_dir(&gone).expect("remove the directory");
    fs::write(&gone, "60\n").expect("the key again");
    assert_eq!(scene.snapshot(), before);
}

/// Every record names its target; a rollback or history from another
/// target (here: another proc tree sharing the state directory) neither
/// sees nor undoes it, and naming it is refused with both targets named.
#[test]
fn another_targets_record_is_neither_shown_nor_rolled_back() {
    let host = Scene::new();
    let guest = Scene::new();
    let state = host.dir.path().join("shared-state");
    let state_arg = state.to_str().expect("UTF-8 path");
    host.json(
        &[
            "apply",
            "--profile",
            "webserver",
            "--yes",
            "--state-dir",
            state_arg,
        ],
        0,
    );
    let applied = host.snapshot();

    let history = guest.json(&["history", "--state-dir", state_arg], 0);
    assert_eq!(
        history["transactions"],
        serde_json::json!([]),
        "{history:#}"
    );
    let nothing = guest.json(&["rollback", "--yes", "--state-dir", state_arg], 0);
    assert_eq!(nothing["changed"], false, "{nothing:#}");
    let refused = guest.run(&["rollback", "--yes", "--to", "1", "--state-dir", state_arg]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&host.proc().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&guest.proc().display().to_string()),
        "{message}"
    );
    assert_eq!(host.snapshot(), applied, "nothing was undone");

    let history = host.json(&["history", "--state-dir", state_arg], 0);
    let target = &history["transactions"][0]["target"];
    assert_eq!(
        target["proc"],
        host.proc().display().to_string(),
        "{history:#}"
    );
    assert_eq!(
        target["root"],
        host.root().display().to_string(),
        "{history:#}"
    );
    assert!(target["netns"]["inode"].is_u64(), "{history:#}");
}

/// A relative --root is made absolute before anything is recorded, so the
/// record validates for every later command.
#[test]
fn a_relative_root_makes_a_record_that_later_commands_accept() {
    let scene = Scene::new();
    let mut command = crate::tcptune();
    command
        .current_dir(scene.dir.path())
        .args(["--proc", "proc", "--root", "root", "--color", "never"]);
    let output = command
        .args(["apply", "--profile", "webserver", "--yes"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let history = scene.json(&["history"], 0);
    assert_eq!(
        history["transactions"][0]["file"],
        scene.file().display().to_string()
    );
    scene.json(&["rollback", "--yes"], 0);
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// An existing file with setgid (mode 2644) is recorded as it is, later
/// commands read the record, and rollback gives the file back its bytes
/// and its mode.
#[test]
fn a_setgid_file_is_recorded_and_restored_with_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let scene = Scene::new();
    fs::create_dir_all(scene.file().parent().expect("dir")).expect("mkdir");
    fs::write(scene.file(), "net.core.somaxconn = 4096\n").expect("seed");
    fs::set_permissions(scene.file(), fs::Permissions::from_mode(0o2644)).expect("chmod");
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let history = scene.json(&["history"], 0);
    assert_eq!(history["transactions"][0]["state"], "committed");
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    scene.json(&["rollback", "--yes"], 0);
    assert_eq!(
        fs::read_to_string(scene.file()).expect("file"),
        "net.core.somaxconn = 4096\n"
    );
    assert_eq!(mode(&scene.file()), 0o2644);
}

/// A live value with a control character (a forged `--proc`) is kept
/// exactly in the record: history reads it, and rollback writes back the
/// very bytes that were there.
#[test]
fn a_live_value_with_a_control_character_is_recorded_losslessly() {
    let scene = Scene::new();
    let key = "net.ipv4.tcp_fin_timeout";
    let path = scene.proc().join("sys").join(key.replace('.', "/"));
    fs::write(&path, "\u{7}\n").expect("forge");
    let applied = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(applied["changed"], true, "{applied:#}");
    let history = scene.json(&["history"], 0);
    let keys = history["transactions"][0]["keys"].as_array().expect("keys");
    let recorded = keys.iter().find(|k| k["key"] == key).expect("recorded");
    assert_eq!(recorded["previous"], "\u{7}", "{history:#}");
    let human = scene.run(&["history"]);
    assert_eq!(human.status.code(), Some(0), "{}", stderr(&human));
    assert!(!String::from_utf8_lossy(&human.stdout).contains('\u{7}'));
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    scene.json(&["rollback", "--yes"], 0);
    assert_eq!(scene.live(key), "\u{7}");
}

/// A record that cannot be read blocks only itself: history lists it as
/// unreadable, rollback undoes the other transactions, apply runs, ids are
/// never reused, and `rollback --forget ID` sets it aside.
#[test]
fn a_bad_record_blocks_only_itself_and_can_be_forgotten() {
    let scene = Scene::new();
    let before = scene.snapshot();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let journal = scene.root().join("var/lib/tcptune/journal");
    fs::write(journal.join("2.json"), "{ truncated").expect("plant");

    // Everything readable is listed; the damaged journal still fails.
    let history = scene.json(&["history"], 3);
    assert_eq!(history["transactions"][0]["id"], "1", "{history:#}");
    assert_eq!(history["unreadable"][0]["id"], "2", "{history:#}");
    let human = scene.run(&["history"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("unreadable"), "{text}");
    assert!(text.contains("rollback --forget 2"), "{text}");

    let output = scene.run(&["rollback", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("2.json"), "{}", stderr(&output));
    assert_eq!(scene.snapshot(), before);
    assert!(
        journal.join("3.json").exists(),
        "the rollback is record 3: id 2 is not reused"
    );

    let refused = scene.run(&["rollback", "--forget", "1", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let forgotten = scene.json(&["rollback", "--forget", "2", "--yes"], 0);
    assert_eq!(forgotten["forgotten"]["id"], "2", "{forgotten:#}");
    assert!(!journal.join("2.json").exists());
    assert!(journal.join("2.forgotten").exists());
    let history = scene.json(&["history"], 0);
    assert_eq!(history["unreadable"], serde_json::json!([]), "{history:#}");
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert!(journal.join("4.json").exists());
}

/// A user who may not read root's 0700 state directory is told so: history
/// and rollback exit 3 "cannot read the journal: needs root" instead of
/// "no transactions" / "nothing to roll back" (exit 0) while a committed
/// transaction exists.
#[test]
fn without_root_the_journal_is_unreadable_not_empty() {
    use std::os::unix::fs::PermissionsExt;
    let scene = Scene::new();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let state = scene.root().join("var/lib/tcptune");
    assert_eq!(mode(&state), 0o700);
    // Everything up to the state directory is readable by anyone, as on a
    // real system.
    for dir in [scene.dir.path().to_path_buf(), scene.root()] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for args in [&["history"][..], &["rollback", "--yes"][..]] {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(crate::binary())
            .arg("--proc")
            .arg(scene.proc())
            .arg("--root")
            .arg(scene.root())
            .args(args)
            .output()
            .expect("setpriv runs tcptune");
        assert_eq!(
            output.status.code(),
            Some(3),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("cannot read the journal")
                && stderr(&output).contains("needs root"),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("no transactions"),
            "{args:?}"
        );
    }
}

/// `rollback --to ID` of a transaction that does not exist is a usage
/// error (exit 2) whether the journal is empty or not, and messages use the
/// contract's words, not internal names.
#[test]
fn rollback_to_a_missing_id_is_exit_2_and_messages_use_contract_words() {
    let scene = Scene::new();
    let empty = scene.run(&["rollback", "--to", "99", "--yes"]);
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert!(
        stderr(&empty).contains("no transaction 99"),
        "{}",
        stderr(&empty)
    );
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let missing = scene.run(&["rollback", "--to", "99", "--yes"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    scene.json(&["rollback", "--yes"], 0);
    for id in ["1", "2"] {
        let refused = scene.run(&["rollback", "--to", id, "--yes"]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        let message = stderr(&refused);
        for internal in ["Apply", "Rollback", "RolledBack", "Committed", "Prepared"] {
            assert!(!message.contains(internal), "{message}");
        }
    }
}

/// A rollback stopped part-way stays `prepared` only until a later
/// rollback finishes the work; then its record says what happened.
#[test]
fn an_interrupted_rollback_is_resolved_by_the_next_one() {
    let scene = Scene::new();
    let before = scene.snapshot();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let crashed = scene
        .command()
        .env("TCPTUNE_CRASH_AT", "rollback-key-1")
        .args(["rollback", "--yes", "--force"])
        .output()
        .expect("run");
    assert_ne!(crashed.status.code(), Some(0));
    let history = scene.json(&["history"], 0);
    assert_eq!(
        history["transactions"][1]["state"], "prepared",
        "{history:#}"
    );
    scene.json(&["rollback", "--yes", "--force"], 0);
    assert_eq!(scene.snapshot(), before);
    let history = scene.json(&["history"], 0);
    let stopped = &history["transactions"][1];
    assert_ne!(stopped["state"], "prepared", "{history:#}");
    assert!(
        stopped["failure"]
            .as_str()
            .unwrap_or("")
            .contains("rollback 3"),
        "{history:#}"
    );
    let human = crate::text_output(scene.command().arg("history"), 0);
    assert!(!human.contains("interrupted"), "{human}");
}
