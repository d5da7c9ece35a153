//! tcptune's integration tests: the real binary run against fixture trees
//! (`tests/fixtures/*`, built by `generate.py`) and, in `netns`, against the
//! real kernel inside private network namespaces. One test binary; each test
//! that writes anything gets its own temporary directory.

mod apply;
mod check;
mod explain;
mod lint;
mod manual;
mod netns;
mod netns_apply;
mod netns_enter;
mod profiles;
mod prometheus;
mod schema;
mod sockets;

use std::path::PathBuf;

use assert_cmd::Command;

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

/// The tcptune binary with a clean environment for colour decisions.
pub fn tcptune() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("tcptune"));
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
