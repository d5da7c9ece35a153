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

/// Distribution and cloud-image files: nothing at warning level or above,
/// for any kernel from 3.10 to 6.18, nor without a known kernel.
#[test]
fn distribution_files_give_no_false_positive() {
    let dir = fixture("lint/distro");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    let kernels = [
        "3.10", "4.9", "4.14", "4.18", "5.4", "5.10", "5.15", "6.1", "6.6", "6.12", "6.18",
    ];
    for file in &files {
        for kernel in kernels.iter().map(Some).chain([None]) {
            let mut command = tcptune();
            match kernel {
                Some(kernel) => command.args(["lint", "--kernel", kernel]),
                // No live system: --proc names nothing.
                None => command.args(["--proc", "/nonexistent", "lint"]),
            };
            command.args(["--format", "json"]).arg(file);
            let document = json_output(&mut command, 0);
            for finding in document["findings"].as_array().expect("findings") {
                assert_eq!(
                    finding["severity"],
                    "info",
                    "{} on {kernel:?}: {finding}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn lint_takes_the_running_kernel_from_proc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("90-old.conf");
    std::fs::write(&file, "net.core.somaxconn = 1024\n").expect("write");
    // 4.9: 1024 is above that kernel's default 128.
    let mut old = tcptune();
    old.arg("--proc")
        .arg(fixture("kernels/4.9/proc"))
        .args(["lint", "--format", "json"])
        .arg(&file);
    assert_eq!(json_output(&mut old, 0)["findings"], serde_json::json!([]));
    // 6.18: below its default 4096.
    let mut new = tcptune();
    new.arg("--proc")
        .arg(fixture("kernels/6.18/proc"))
        .args(["lint", "--format", "json"])
        .arg(&file);
    let document = json_output(&mut new, 1);
    assert_eq!(document["findings"][0]["code"], "harmful-value");
    assert_eq!(document["findings"][0]["evidence"]["compared_with"], "4096");
}
