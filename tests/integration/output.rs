//! Output that fails: a reader that goes away, a full device, a closed or
//! full stderr. The exit code still tells the verdict or the transaction's
//! real outcome, nothing panics, and after a commit stderr says so.

use std::fs::File;
use std::process::{Command, Stdio};

use crate::{Scene, fixture};

fn tcptune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcptune"))
}

/// Runs with stdout a pipe whose reader closes after one line.
fn through_head(command: &mut Command) -> i32 {
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("first byte");
    drop(stdout);
    child.wait().expect("wait").code().expect("exit code")
}

/// The scene's command as a std Command, so stdout can be redirected.
fn on_scene(scene: &Scene) -> Command {
    let mut command = tcptune();
    command
        .arg("--proc")
        .arg(scene.proc())
        .arg("--root")
        .arg(scene.root())
        .args(["--color", "never"]);
    command
}

fn on_folklore(command: &mut Command) -> &mut Command {
    let base = fixture("old-folklore-4.9");
    command
        .arg("--proc")
        .arg(base.join("proc"))
        .arg("--root")
        .arg(base.join("root"))
}

#[test]
fn a_reader_that_goes_away_does_not_turn_findings_into_success() {
    for _ in 0..3 {
        let code = through_head(on_folklore(&mut tcptune()).arg("check"));
        assert_eq!(code, 1, "check | head -1 keeps the verdict");
    }
    let lint = fixture("lint");
    let files: Vec<_> = std::fs::read_dir(&lint)
        .expect("lint fixtures")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file())
        .collect();
    let code = through_head(tcptune().arg("lint").args(&files));
    assert_eq!(code, 1, "lint | head -1 keeps the verdict");
}

#[test]
fn output_failures_never_pass_for_success_or_panic() {
    let full = || {
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    let help = tcptune()
        .arg("--help")
        .stdout(full())
        .output()
        .expect("run");
    assert_eq!(help.status.code(), Some(3), "--help >/dev/full");
    let completions = tcptune()
        .args(["generate", "completions", "bash"])
        .stdout(full())
        .stderr(full())
        .output()
        .expect("run");
    assert_eq!(completions.status.code(), Some(3));
    let verbose = on_folklore(&mut tcptune())
        .args(["-v", "check"])
        .stdout(Stdio::null())
        .stderr(full())
        .output()
        .expect("run");
    assert_eq!(verbose.status.code(), Some(1), "-v with a full stderr");
}

#[test]
fn a_report_that_fails_after_the_commit_does_not_undo_the_exit_code() {
    let scene = Scene::new();
    let output = on_scene(&scene)
        .args([
            "--format",
            "json",
            "apply",
            "--profile",
            "webserver",
            "--yes",
        ])
        .stdout(
            File::options()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        )
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("transaction 1 committed"), "{stderr}");
    assert_eq!(scene.live("net.ipv4.tcp_fin_timeout"), "30");

    // A preview that cannot be written stops apply before any change,
    // and says so.
    let scene = Scene::new();
    let before = scene.snapshot();
    let output = on_scene(&scene)
        .args(["apply", "--profile", "webserver", "--yes"])
        .stdout(
            File::options()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        )
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write output"));
    assert_eq!(scene.snapshot(), before);
}
