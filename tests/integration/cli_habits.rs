//! The habits a user brings from other tools: `lint` on a directory, on
//! standard input and on the whole boot configuration; `explain --list` and
//! topics in any case; "did you mean" for a misspelt profile; completions
//! that offer profile names and topics; a subcommand's own options first in
//! its help.

use std::fs;

use crate::{Scene, tcptune, text_output};

#[test]
fn lint_takes_a_directory_in_loader_order_and_standard_input() {
    let dir = tempfile::tempdir().expect("dir");
    fs::write(
        dir.path().join("20-b.conf"),
        "net.ipv4.tcp_fin_timeout = 30\n",
    )
    .expect("b");
    fs::write(
        dir.path().join("10-a.conf"),
        "net.ipv4.tcp_tw_recycle = 1\n",
    )
    .expect("a");
    fs::write(dir.path().join("README"), "not a sysctl file\n").expect("readme");
    let document = crate::json_output(
        tcptune().args(["lint", "--format", "json"]).arg(dir.path()),
        1,
    );
    let files: Vec<String> = document["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        files,
        [
            dir.path().join("10-a.conf").display().to_string(),
            dir.path().join("20-b.conf").display().to_string()
        ]
    );

    let output = tcptune()
        .args(["lint", "-", "--format", "json"])
        .write_stdin("net.ipv4.tcp_tw_recycle = 1\n")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["findings"][0]["code"], "obsolete-key");
}

#[test]
fn lint_boot_reads_what_the_loader_reads() {
    let scene = Scene::new();
    let sysctl_d = scene.root().join("etc/sysctl.d");
    fs::create_dir_all(&sysctl_d).expect("sysctl.d");
    fs::write(sysctl_d.join("50-a.conf"), "net.ipv4.tcp_tw_recycle = 1\n").expect("a");
    fs::write(sysctl_d.join("notes.txt"), "net.ipv4.tcp_tw_recycle = 1\n").expect("txt");
    fs::write(
        scene.root().join("etc/sysctl.conf"),
        "net.ipv4.tcp_fin_timeout = 30\n",
    )
    .expect("sysctl.conf");
    let document = crate::json_output(
        scene.command().args(["lint", "--boot", "--format", "json"]),
        1,
    );
    let files: Vec<&str> = document["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file.as_str())
        .collect();
    assert!(
        files
            .iter()
            .any(|file| file.ends_with("etc/sysctl.d/50-a.conf")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|file| file.ends_with("etc/sysctl.conf")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|file| file.ends_with("notes.txt")),
        "{files:?}"
    );
}

#[test]
fn explain_lists_and_takes_topics_in_any_case() {
    let upper = text_output(tcptune().args(["explain", "TIME_WAIT"]), 0);
    assert!(
        upper.starts_with("TIME_WAIT: the side that closes first"),
        "{upper}"
    );
    let key = text_output(tcptune().args(["explain", "TCP_TW_REUSE"]), 0);
    assert!(key.starts_with("net.ipv4.tcp_tw_reuse"), "{key}");
    let list = text_output(tcptune().args(["explain", "--list"]), 0);
    assert!(list.contains("close-wait"), "{list}");
    assert!(list.contains("net.ipv4.tcp_fin_timeout"), "{list}");
}

#[test]
fn a_misspelt_profile_gets_a_suggestion() {
    let output = tcptune()
        .args(["--proc", "/nonexistent", "diff", "--profile", "webservr"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `webserver`?"), "{stderr}");
}

#[test]
fn completions_offer_profile_names_and_explain_topics() {
    let bash = text_output(tcptune().args(["generate", "completions", "bash"]), 0);
    assert!(bash.contains("loadbalancer"), "profile names missing");
    assert!(bash.contains("time-wait"), "explain topics missing");
    // Offered, not enforced: a path is still a profile.
    let help = text_output(tcptune().args(["check", "--help"]), 0);
    assert!(!help.contains("possible values: default"), "{help}");
}

#[test]
fn subcommand_help_shows_its_own_options_before_the_global_ones() {
    let help = text_output(tcptune().args(["check", "--help"]), 0);
    let own = help.find("--fail-on").expect("--fail-on");
    let heading = help
        .find("Global options:")
        .expect("Global options heading");
    let global = help.find("--root").expect("--root");
    assert!(own < heading && heading < global, "{help}");
}
