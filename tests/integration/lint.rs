//! `tcptune lint`: sysctl files audited with no live system.

use crate::{fixture, json_output, tcptune, text_output};

/// Lints fixture files for Linux 6.18 (not the machine's own kernel).
fn lint(files: &[&str], code: i32) -> serde_json::Value {
    let mut command = tcptune();
    command.args(["lint", "--kernel", "6.18", "--format", "json"]);
    for file in files {
        command.arg(fixture(&format!("lint/{file}")));
    }
    json_output(&mut command, code)
}

#[test]
fn folklore_is_caught_line_by_line() {
    let document = lint(&["folklore.conf"], 1);
    let found: Vec<(String, u64, String)> = document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["code"].as_str().unwrap_or("").to_owned(),
                finding["location"]["line"].as_u64().unwrap_or(0),
                finding["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expect =
        |code: &str, line: u64, severity: &str| (code.to_owned(), line, severity.to_owned());
    for wanted in [
        expect("obsolete-key", 3, "warning"),
        expect("unknown-key", 4, "warning"),
        expect("unknown-key", 7, "warning"),
        expect("harmful-value", 9, "warning"),
        expect("harmful-value", 13, "warning"),
        expect("duplicate-key", 15, "warning"),
    ] {
        assert!(found.contains(&wanted), "{wanted:?} not in {found:?}");
    }
    // On 6.18 nothing in the file is an error: the removed key does nothing
    // (`sysctl --system` skips it and exits 0).
    assert_eq!(document["summary"]["error"], 0);
    let typo = document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["location"]["line"] == 4)
        .expect("line 4");
    assert_eq!(typo["evidence"]["did_you_mean"], "net.ipv4.tcp_tw_reuse");
}

#[test]
fn a_clean_file_passes_and_fail_on_controls_the_exit() {
    let document = lint(&["clean.conf"], 0);
    assert_eq!(document["findings"], serde_json::json!([]));
    // The duplicates across 90-tuning.conf and 99-sysctl.conf are a warning
    // (values differ) and an info (same value).
    let mut command = tcptune();
    command
        .args([
            "lint",
            "--kernel",
            "6.18",
            "--format",
            "json",
            "--fail-on",
            "error",
        ])
        .arg(fixture("lint/90-tuning.conf"))
        .arg(fixture("lint/99-sysctl.conf"));
    let document = json_output(&mut command, 0);
    // And 99-sysctl.conf's somaxconn = 1024 is below 6.18's default 4096.
    assert_eq!(document["summary"]["warning"], 2);
    assert_eq!(document["summary"]["info"], 1);
}

#[test]
fn unparseable_lines_name_their_line() {
    let text = text_output(
        tcptune()
            .args(["--color", "never", "lint"])
            .arg(fixture("lint/garbage.conf")),
        1,
    );
    assert!(text.contains("garbage.conf:4"), "{text}");
    assert!(text.contains("invalid-line"), "{text}");
}

#[test]
fn a_missing_file_is_invalid_input() {
    let output = tcptune()
        .args(["lint", "/nonexistent/sysctl.conf"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("/nonexistent/sysctl.conf: no such file")
    );
    let output = tcptune().arg("lint").output().expect("run");
    assert_eq!(output.status.code(), Some(2), "FILE is required");
}
