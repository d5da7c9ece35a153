//! Human output of the transaction commands (`diff`, `apply`, `rollback`,
//! `history`) as snapshots: what an operator reads before saying yes, and
//! after. Temporary paths and times are masked; the rest is exact.

use crate::Scene;

/// Runs `args` in `scene` and returns stdout, checking the exit code.
fn human(scene: &Scene, args: &[&str], code: i32) -> String {
    let output = scene.run(args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Snapshot with the scene's temporary directory and the times masked.
fn assert_view(name: &str, scene: &Scene, text: &str) {
    let root = scene.dir.path().display().to_string();
    insta::with_settings!({filters => vec![
        (root.as_str(), "[TMP]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn diff_apply_rollback_and_history_for_people() {
    let scene = Scene::new();
    let diff = human(&scene, &["diff", "--profile", "webserver"], 1);
    assert_view("diff_webserver", &scene, &diff);

    let apply = human(&scene, &["apply", "--profile", "webserver", "--yes"], 0);
    assert_view("apply_webserver", &scene, &apply);

    let again = human(&scene, &["apply", "--profile", "webserver", "--yes"], 0);
    assert_view("apply_again", &scene, &again);

    let rollback = human(&scene, &["rollback", "--yes"], 0);
    assert_view("rollback", &scene, &rollback);

    let history = human(&scene, &["history"], 0);
    assert_view("history", &scene, &history);
}
