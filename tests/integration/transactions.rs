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
    assert_eq!(history["transactions"][0]["state"], "prepared", "{history:#}");
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
    assert!(message.contains("writing net."), "the first cause: {message}");
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
