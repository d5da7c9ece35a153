//! tcptune as a node-problem-detector custom plugin, run the way the
//! detector runs it: the rule's path and arguments from
//! `contrib/kubernetes/tcptune-monitor.json`, stdout trimmed and cut at
//! `max_output_length` bytes, the exit code read as 0 OK, 1 problem, anything
//! else unknown (node-problem-detector's pkg/custompluginmonitor/plugin). The
//! DaemonSet manifest beside it is checked for what makes it read-only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{fixture, netns::output_within};

fn contrib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/kubernetes")
        .join(name)
}

fn monitor() -> Value {
    let text = std::fs::read_to_string(contrib("tcptune-monitor.json")).expect("plugin config");
    serde_json::from_str(&text).expect("plugin config is JSON")
}

#[derive(Debug, PartialEq)]
enum Status {
    Ok,
    NonOk,
    Unknown,
}

/// Runs the config's single rule as the detector would, against a proc tree
/// and a root (appended as global options, which the detector's node would
/// not need), and returns the status and the condition message.
fn run_rule(proc: &Path, root: &Path) -> (Status, String) {
    let config = monitor();
    let rules = config["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 1, "one rule");
    let rule = &rules[0];
    assert_eq!(rule["path"], "/usr/local/bin/tcptune");
    let args: Vec<&str> = rule["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|arg| arg.as_str().expect("string arg"))
        .collect();
    let max = config["pluginConfig"]["max_output_length"]
        .as_u64()
        .expect("max_output_length") as usize;
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("tcptune"));
    command
        .args(&args)
        .arg("--proc")
        .arg(proc)
        .arg("--root")
        .arg(root);
    let output = output_within(&mut command, Duration::from_secs(60));
    let text = String::from_utf8(output.stdout).expect("plugin output is UTF-8");
    let mut message = text.trim().to_owned();
    if message.len() > max {
        message.truncate(max);
    }
    let status = match output.status.code() {
        Some(0) => Status::Ok,
        Some(1) => Status::NonOk,
        _ => Status::Unknown,
    };
    (status, message)
}

#[test]
fn a_clean_node_is_ok() {
    let base = fixture("modern-defaults");
    let (status, message) = run_rule(&base.join("proc"), &base.join("root"));
    assert_eq!(status, Status::Ok, "{message}");
    assert!(message.starts_with("tcptune: OK, no findings"), "{message}");
}

#[test]
fn findings_make_the_condition_true_with_the_worst_first() {
    let base = fixture("close-wait-storm");
    let (status, message) = run_rule(&base.join("proc"), &base.join("root"));
    assert_eq!(status, Status::NonOk, "{message}");
    assert!(
        message
            // The fixture's ListenOverflows is a lifetime total: info.
            .starts_with(
                "tcptune: 2 warnings, 1 info: harmful-value net.core.somaxconn; close-wait-leak"
            ),
        "{message}"
    );
    assert!(
        message.len() <= 80 && !message.contains('\n'),
        "{message:?}"
    );
}

#[test]
fn a_node_tcptune_cannot_read_is_unknown_with_the_reason_on_stdout() {
    let empty = tempfile::tempdir().expect("tempdir");
    let (status, message) = run_rule(empty.path(), empty.path());
    assert_eq!(status, Status::Unknown, "{message}");
    assert!(
        message.starts_with("tcptune: cannot check: cannot read"),
        "{message}"
    );
    assert!(message.is_ascii());
}

#[test]
fn the_daemonset_is_read_only_in_the_host_namespaces() {
    let text =
        std::fs::read_to_string(contrib("node-problem-detector-tcptune.yaml")).expect("manifest");
    let manifest: Value = serde_saphyr::from_str(&text).expect("manifest is YAML");
    assert_eq!(manifest["kind"], "DaemonSet");
    let pod = &manifest["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true, "checks the node's own namespace");
    assert_eq!(pod["hostPID"], true, "sees the node's processes");
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["privileged"], false);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    assert!(!mounts.is_empty());
    for mount in mounts {
        assert_eq!(mount["readOnly"], true, "{mount}");
    }
    // It runs the plugin config tested above, which only checks.
    let command: Vec<&str> = container["command"]
        .as_array()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(command.contains(&"--config.custom-plugin-monitor=/config/tcptune-monitor.json"));
    let args = monitor()["rules"][0]["args"].clone();
    assert!(
        args.as_array()
            .expect("args")
            .contains(&Value::from("check"))
    );
    assert!(!args.to_string().contains("apply") && !args.to_string().contains("rollback"));
}
