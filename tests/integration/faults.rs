//! Faults during apply and rollback: a full disk under the sysctl.d and the
//! state directories, a read-only filesystem, and kill -9 at random moments.
//! After every fault the live values are as before (or as the profile
//! says), tcptune's file is the old bytes or the new bytes, never partial,
//! and rollback restores exactly.
//!
//! Mounts happen in a private mount namespace (`unshare -m`, propagation
//! private) around one tcptune run, so the host's mount table never sees
//! them; live values are a writable copy of a fixture's `/proc`.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::Scene;
use crate::netns::REQUIRE_ENV;

/// Whether private mount namespaces can be made here.
fn mounts_usable(test: &str) -> bool {
    let works = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        assert!(
            std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but `unshare -m` fails"
        );
        eprintln!("skipping {test}: `unshare -m` is not available");
    }
    works
}

/// Runs `script` with sh in a private mount namespace; `$TCPTUNE`, `$PROC`
/// and `$ROOT` are set. Returns (exit code, stdout, stderr).
fn in_mount_namespace(scene: &Scene, script: &str) -> (i32, String, String) {
    let output = Command::new("unshare")
        .args(["-m", "--propagation", "private", "--", "sh", "-c"])
        .arg(format!("set -u\n{script}"))
        .env("TCPTUNE", env!("CARGO_BIN_EXE_tcptune"))
        .env("PROC", scene.proc())
        .env("ROOT", scene.root())
        .output()
        .expect("run unshare");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_full_sysctl_d_filesystem_fails_cleanly_and_keeps_the_old_file() {
    if !mounts_usable("a_full_sysctl_d_filesystem_fails_cleanly_and_keeps_the_old_file") {
        return;
    }
    let scene = Scene::new();
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    let before = scene.snapshot();
    // A 16 KiB tmpfs holding an old tcptune file, then filled to the brim.
    let (code, stdout, stderr) = in_mount_namespace(
        &scene,
        r#"mount -t tmpfs -o size=16k tmpfs "$ROOT/etc/sysctl.d"
printf 'net.ipv4.tcp_sack = 1\n' > "$ROOT/etc/sysctl.d/99-zz-tcptune.conf"
dd if=/dev/zero of="$ROOT/etc/sysctl.d/filler" bs=1k count=64 2>/dev/null || true
"$TCPTUNE" --proc "$PROC" --root "$ROOT" apply --profile webserver --yes >/dev/null; echo "apply=$?"
echo "file:"; cat "$ROOT/etc/sysctl.d/99-zz-tcptune.conf"
ls -a "$ROOT/etc/sysctl.d""#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("apply=3"), "{stdout}\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        stdout.contains("file:\nnet.ipv4.tcp_sack = 1\n"),
        "the old bytes stay: {stdout}"
    );
    assert!(!stdout.contains(".tmp"), "no temporary left: {stdout}");
    assert_eq!(scene.snapshot(), before, "no live value changed");
}

#[test]
fn a_full_state_directory_stops_apply_before_any_change() {
    if !mounts_usable("a_full_state_directory_stops_apply_before_any_change") {
        return;
    }
    let scene = Scene::new();
    let state = scene.root().join("var/lib/tcptune");
    fs::create_dir_all(&state).expect("mkdir");
    let before = scene.snapshot();
    let (code, stdout, stderr) = in_mount_namespace(
        &scene,
        r#"mount -t tmpfs -o size=8k,mode=0700 tmpfs "$ROOT/var/lib/tcptune"
dd if=/dev/zero of="$ROOT/var/lib/tcptune/filler" bs=1k count=64 2>/dev/null || true
"$TCPTUNE" --proc "$PROC" --root "$ROOT" apply --profile webserver --yes >/dev/null; echo "apply=$?"
ls "$ROOT/etc/sysctl.d" 2>/dev/null | grep -c tcptune || true"#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("apply=3"), "{stdout}\n{stderr}");
    assert!(
        stdout.trim_end().ends_with('0'),
        "no sysctl.d file was written: {stdout}"
    );
    assert_eq!(scene.snapshot(), before, "no live value changed");
}

#[test]
fn a_read_only_filesystem_fails_cleanly() {
    if !mounts_usable("a_read_only_filesystem_fails_cleanly") {
        return;
    }
    let scene = Scene::new();
    fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    let before = scene.snapshot();
    let (code, stdout, stderr) = in_mount_namespace(
        &scene,
        r#"mount --bind "$ROOT/etc" "$ROOT/etc" && mount -o remount,bind,ro "$ROOT/etc"
"$TCPTUNE" --proc "$PROC" --root "$ROOT" apply --profile webserver --yes >/dev/null; echo "apply=$?"
ls -a "$ROOT/etc/sysctl.d""#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("apply=3"), "{stdout}\n{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!stdout.contains("tcptune"), "nothing written: {stdout}");
    assert_eq!(scene.snapshot(), before, "no live value changed");
    // The journal says what happened: the apply is marked reverted.
    let history = scene.json(&["history"], 0);
    assert_eq!(history["transactions"][0]["state"], "reverted");
}

/// A tiny deterministic generator, so a failing moment can be replayed.
struct Moments(u64);

impl Moments {
    fn next_micros(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[test]
fn kill_9_at_random_moments_then_rollback_restores_exactly() {
    let mut moments = Moments(0x7c97_1e55);
    let old = b"# kept by the operator\nnet.ipv4.tcp_fin_timeout = 60\n".to_vec();
    let mut killed_mid_way = 0;
    for round in 0..60 {
        let scene = Scene::new();
        let existing = round % 2 == 0;
        if existing {
            fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
            fs::write(scene.file(), &old).expect("write");
        }
        let before = scene.snapshot();
        let delay = moments.next_micros(12_000);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tcptune"))
            .arg("--proc")
            .arg(scene.proc())
            .arg("--root")
            .arg(scene.root())
            .args([
                "apply",
                "--profile",
                "webserver",
                "--yes",
                "--format",
                "json",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start apply");
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let status = child.wait().expect("wait");
        if !status.success() {
            killed_mid_way += 1;
        }
        // Never a partial file: the old bytes, none, or the complete new file.
        let on_disk = fs::read(scene.file()).ok();
        let whole = match &on_disk {
            None => !existing,
            Some(bytes) => {
                *bytes == old
                    || (bytes.starts_with(b"# Written by tcptune")
                        && bytes.ends_with(b"net.ipv4.tcp_window_scaling = 1\n"))
            }
        };
        assert!(
            whole,
            "round {round} (killed after {delay} us): {on_disk:?}"
        );
        let rollback = scene.run(&["rollback", "--yes"]);
        assert_eq!(
            rollback.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&rollback.stderr)
        );
        assert_eq!(
            scene.snapshot(),
            before,
            "round {round} (killed after {delay} us)"
        );
        match existing {
            true => assert_eq!(fs::read(scene.file()).expect("file"), old, "round {round}"),
            false => assert!(!scene.file().exists(), "round {round}"),
        }
        let leftovers: Vec<_> = fs::read_dir(scene.root().join("etc/sysctl.d"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            leftovers.is_empty(),
            "round {round}: temporaries left: {leftovers:?}"
        );
    }
    // The moments must actually interrupt some applies, or the test proves
    // nothing about crashes.
    assert!(
        killed_mid_way >= 10,
        "only {killed_mid_way} of 60 applies were interrupted"
    );
}
