//! Files that are not files: a FIFO or a symlink to /dev/zero wherever
//! tcptune reads (the --proc tree, the sysctl.d target, the lock, a journal
//! record, a kept copy, a profile, a lint input, a sysctl.d file) ends the
//! command with exit 2 or 3 naming the path, instead of waiting forever on
//! the FIFO or reading the device until memory runs out. Each run has a
//! deadline in the harness, so a hang fails the test instead of stalling
//! the suite.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::Scene;
use crate::netns::output_within;

/// Far longer than a refusal takes; a run that hangs is killed and fails.
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
enum Special {
    Fifo,
    DevZero,
}

const BOTH: [Special; 2] = [Special::Fifo, Special::DevZero];

/// Replaces whatever is at `path` with the special file.
fn plant(path: &Path, special: Special) {
    if path.is_dir() {
        fs::remove_dir_all(path).expect("remove dir");
    } else {
        let _ = fs::remove_file(path);
    }
    fs::create_dir_all(path.parent().expect("parent")).expect("parent dir");
    match special {
        Special::Fifo => nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644))
            .expect("mkfifo"),
        Special::DevZero => symlink("/dev/zero", path).expect("symlink"),
    }
}

fn run(scene: &Scene, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tcptune"));
    command
        .arg("--proc")
        .arg(scene.proc())
        .arg("--root")
        .arg(scene.root())
        .args(["--color", "never"])
        .args(args)
        .stdin(std::process::Stdio::null());
    output_within(&mut command, DEADLINE)
}

/// Exit 2 or 3, and stderr names `path`.
fn assert_refused(output: &Output, path: &Path, case: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(2 | 3)),
        "{case}: exit {:?}\n{stderr}",
        output.status.code()
    );
    assert!(
        stderr.contains(&path.display().to_string()),
        "{case}: stderr does not name {}: {stderr}",
        path.display()
    );
}

#[test]
fn special_files_in_the_proc_tree_are_refused() {
    for special in BOTH {
        for file in [
            "sys/kernel/osrelease",
            "net/sockstat",
            "net/tcp",
            "net/netstat",
        ] {
            let scene = Scene::new();
            let path = scene.proc().join(file);
            plant(&path, special);
            let output = run(&scene, &["check"]);
            assert_refused(&output, &path, &format!("{file} as {special:?}"));
        }
        // A sysctl that is not a file is a key that cannot be read.
        let scene = Scene::new();
        plant(&scene.proc().join("sys/net/ipv4/tcp_fin_timeout"), special);
        let output = run(&scene, &["diff", "--profile", "webserver"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{special:?}: {stdout}");
        assert!(
            stdout.contains("not a regular file"),
            "{special:?}: {stdout}"
        );
    }
}

#[test]
fn a_special_sysctl_d_target_is_refused_by_diff_and_apply() {
    for special in BOTH {
        for args in [
            &["diff", "--profile", "webserver"][..],
            &["apply", "--profile", "webserver", "--dry-run"][..],
            &["apply", "--profile", "webserver", "--yes"][..],
        ] {
            let scene = Scene::new();
            let before = scene.snapshot();
            plant(&scene.file(), special);
            let output = run(&scene, args);
            assert_refused(&output, &scene.file(), &format!("{args:?} {special:?}"));
            assert_eq!(scene.snapshot(), before, "{args:?}: nothing changed");
        }
    }
}

#[test]
fn special_files_in_the_state_directory_are_refused() {
    for special in BOTH {
        // The lock.
        let scene = Scene::new();
        let state = scene.root().join("var/lib/tcptune");
        fs::create_dir_all(&state).expect("state");
        fs::set_permissions(&state, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod");
        plant(&state.join("lock"), special);
        let output = run(&scene, &["apply", "--profile", "webserver", "--yes"]);
        assert_refused(&output, &state.join("lock"), &format!("lock {special:?}"));

        // A journal record, and a kept copy of the file.
        let scene = Scene::new();
        let applied = scene.run(&["apply", "--profile", "webserver", "--yes"]);
        assert_eq!(applied.status.code(), Some(0));
        let journal = scene.root().join("var/lib/tcptune/journal");
        let kept = journal.join("1.after");
        plant(&kept, special);
        let output = run(&scene, &["rollback", "--yes"]);
        assert_refused(&output, &kept, &format!("kept copy {special:?}"));
        let record = journal.join("1.json");
        plant(&record, special);
        let output = run(&scene, &["history"]);
        assert_refused(&output, &record, &format!("record {special:?}"));
    }
}

#[test]
fn special_profiles_lint_inputs_and_sysctl_files_are_refused() {
    for special in BOTH {
        let scene = Scene::new();
        let profile = scene.dir.path().join("profile.yaml");
        plant(&profile, special);
        let output = run(
            &scene,
            &["check", "--profile", profile.to_str().expect("UTF-8")],
        );
        assert_refused(&output, &profile, &format!("profile {special:?}"));

        let installed = scene.root().join("etc/tcptune/profiles/mine.yaml");
        plant(&installed, special);
        let output = run(&scene, &["check", "--profile", "mine"]);
        assert_refused(
            &output,
            &installed,
            &format!("installed profile {special:?}"),
        );

        let input = scene.dir.path().join("input.conf");
        plant(&input, special);
        let output = run(&scene, &["lint", input.to_str().expect("UTF-8")]);
        assert_refused(&output, &input, &format!("lint input {special:?}"));

        // A sysctl.d file the loaders would read: reported, never read.
        let other = scene.root().join("etc/sysctl.d/50-other.conf");
        plant(&other, special);
        let output = run(&scene, &["check"]);
        assert!(output.status.code().is_some(), "{special:?}: finished");
        let output = run(&scene, &["diff", "--profile", "webserver"]);
        assert!(output.status.code().is_some(), "{special:?}: finished");
    }
}

/// A sysctl.d file of many megabytes (9 MB of lines, or one line of 16 MB)
/// is refused by name instead of growing memory a hundredfold: tcptune runs
/// within a 512 MiB address space and says which file it left out.
#[test]
fn huge_sysctl_d_files_are_refused_within_bounded_memory() {
    let scene = Scene::new();
    let dir = scene.root().join("etc/sysctl.d");
    fs::create_dir_all(&dir).expect("sysctl.d");
    fs::write(
        dir.join("50-many-lines.conf"),
        "net.ipv4.tcp_fin_timeout = 30\n".repeat(300_000),
    )
    .expect("write");
    let mut line = b"net.ipv4.tcp_fin_timeout = ".to_vec();
    line.extend(std::iter::repeat_n(b'3', 16_000_000));
    line.push(b'\n');
    fs::write(dir.join("60-one-line.conf"), line).expect("write");
    for args in [&["check"][..], &["diff", "--profile", "webserver"][..]] {
        let mut command = std::process::Command::new("prlimit");
        command
            .arg(format!("--as={}", 512 * 1024 * 1024))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tcptune"))
            .arg("--proc")
            .arg(scene.proc())
            .arg("--root")
            .arg(scene.root())
            .args(args);
        let output = output_within(&mut command, DEADLINE);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{args:?}: {:?}\n{stderr}",
            output.status
        );
        if args[0] == "check" {
            for name in ["50-many-lines.conf", "60-one-line.conf"] {
                assert!(stderr.contains(name), "{args:?}: {stderr}");
            }
        }
    }
}
