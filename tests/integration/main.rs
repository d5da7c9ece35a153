//! tcptune's integration tests: the real binary run against fixture trees
//! (`tests/fixtures/*`, built by `generate.py`) and, in `netns`, against the
//! real kernel inside private network namespaces. One test binary; each test
//! that writes anything gets its own temporary directory.

mod active;
mod apply;
mod architecture;
mod check;
mod cli_habits;
mod counters;
mod explain;
mod faults;
mod hostile;
mod kernels;
mod lint;
mod loader_fidelity;
mod manual;
mod netns;
mod netns_all;
mod netns_apply;
mod netns_enter;
mod netns_evidence;
mod npd;
mod output;
mod profiles;
mod prometheus;
mod prompt;
mod recommend;
mod schema;
mod sockets;
mod special_files;
mod transactions;
mod views;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The fixture tree `name` under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// tcptune pointed at a fixture's proc and root, colour off.
pub fn tcptune_on(name: &str) -> Command {
    let base = fixture(name);
    let mut command = tcptune();
    command
        .arg("--proc")
        .arg(base.join("proc"))
        .arg("--root")
        .arg(base.join("root"))
        .arg("--color")
        .arg("never");
    command
}

/// The binary under test: this build's, or the one `TCPTUNE_TEST_BINARY`
/// names (to show that a regression test fails on an older build).
pub fn binary() -> PathBuf {
    std::env::var_os("TCPTUNE_TEST_BINARY").map_or_else(
        || assert_cmd::cargo::cargo_bin!("tcptune").to_path_buf(),
        PathBuf::from,
    )
}

/// The tcptune binary with a clean environment for colour decisions.
pub fn tcptune() -> Command {
    let mut command = Command::new(binary());
    command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    command
}

/// Runs and parses stdout as JSON, asserting the exit code.
pub fn json_output(command: &mut Command, code: i32) -> serde_json::Value {
    let output = command.output().expect("run tcptune");
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// Runs and returns stdout as text, asserting the exit code.
pub fn text_output(command: &mut Command, code: i32) -> String {
    let output = command.output().expect("run tcptune");
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// A temporary machine: `proc/` copied from a fixture, an empty `root/`.
pub struct Scene {
    pub dir: TempDir,
}

impl Default for Scene {
    fn default() -> Scene {
        Scene::new()
    }
}

impl Scene {
    pub fn new() -> Scene {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&fixture("modern-defaults/proc"), &dir.path().join("proc"));
        fs::create_dir_all(dir.path().join("root")).expect("root");
        Scene { dir }
    }

    pub fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn file(&self) -> PathBuf {
        self.root().join("etc/sysctl.d/99-zz-tcptune.conf")
    }

    pub fn command(&self) -> assert_cmd::Command {
        let mut command = tcptune();
        command
            .arg("--proc")
            .arg(self.proc())
            .arg("--root")
            .arg(self.root())
            .args(["--color", "never"]);
        command
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().expect("run tcptune")
    }

    pub fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut command = self.command();
        command.args(args).args(["--format", "json"]);
        json_output(&mut command, code)
    }

    /// A live value, as the (fixture) kernel holds it.
    pub fn live(&self, key: &str) -> String {
        let path = self.proc().join("sys").join(key.replace('.', "/"));
        fs::read_to_string(path)
            .expect("read key")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn set_live(&self, key: &str, value: &str) {
        fs::write(
            self.proc().join("sys").join(key.replace('.', "/")),
            format!("{value}\n"),
        )
        .expect("write key");
    }

    /// Every value under proc/sys, for comparing before and after, token by
    /// token (the real kernel prints a tab where tcptune writes a space).
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let mut values = Vec::new();
        walk(&self.proc().join("sys"), &mut |path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            values.push((
                path.display().to_string(),
                text.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
        });
        values.sort();
        values
    }
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// Copies a fixture tree (files and directories) to a writable place.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
