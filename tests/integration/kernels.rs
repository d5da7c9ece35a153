//! The version fixtures (tests/fixtures/kernels/): a stock kernel of each
//! release from 3.10 to 6.18, and a child network namespace of 4.14. Each
//! is copied to a temporary root first (the commands here only read).

use std::path::PathBuf;

use tcptune::kernel::KernelVersion;
use tcptune::key::{Key, Value};

use crate::{copy_tree, fixture, json_output, tcptune};

/// Tree name and the release it stands for.
const TREES: &[(&str, &str)] = &[
    ("3.10", "3.10"),
    ("4.9", "4.9"),
    ("4.14", "4.14"),
    ("4.14-child-netns", "4.14"),
    ("4.18", "4.18"),
    ("5.4", "5.4"),
    ("5.10", "5.10"),
    ("5.15", "5.15"),
    ("6.1", "6.1"),
    ("6.6", "6.6"),
    ("6.12", "6.12"),
    ("6.18", "6.18"),
];

/// A temporary copy of a version tree: `proc/` and an empty `root/`.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(
            &fixture(&format!("kernels/{name}/proc")),
            &dir.path().join("proc"),
        );
        std::fs::create_dir_all(dir.path().join("root")).expect("root");
        Tree { dir }
    }

    fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut command = tcptune();
        command
            .arg("--proc")
            .arg(self.proc())
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .args(args)
            .args(["--format", "json"]);
        json_output(&mut command, code)
    }
}

/// Every file under `dir` with its content, sorted.
fn values(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(values(&path));
        } else {
            let content = std::fs::read(&path).expect("read");
            found.push((path, content));
        }
    }
    found.sort();
    found
}

fn version(text: &str) -> KernelVersion {
    text.parse().expect("version")
}

#[test]
fn stock_defaults_give_no_finding_on_any_release() {
    for (name, _) in TREES {
        let document = Tree::new(name).json(&["check"], 0);
        assert_eq!(
            document["findings"],
            serde_json::json!([]),
            "{name}: {document:#}"
        );
    }
}

#[test]
fn explain_shows_each_releases_default_and_scope() {
    // (key, release, default shown, scope shown)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("net.core.somaxconn", "3.10", "128", "per network namespace"),
        ("net.core.somaxconn", "4.18", "128", "per network namespace"),
        (
            "net.core.somaxconn",
            "5.4",
            "4096 (since 5.4)",
            "per network namespace",
        ),
        (
            "net.core.somaxconn",
            "6.18",
            "4096 (since 5.4)",
            "per network namespace",
        ),
        (
            "net.ipv4.tcp_tw_reuse",
            "4.9",
            "0",
            "global (absent inside a child network namespace)",
        ),
        (
            "net.ipv4.tcp_tw_reuse",
            "4.14-child-netns",
            "0",
            "per network namespace (since 4.10)",
        ),
        (
            "net.ipv4.tcp_tw_reuse",
            "4.18",
            "2 (loopback only) (since 4.18)",
            "per network namespace (since 4.10)",
        ),
        (
            "net.ipv4.tcp_rmem",
            "4.18",
            "4096 87380 6291456 (the maximum is lower with little RAM)",
            "per network namespace (since 4.15)",
        ),
        (
            "net.ipv4.tcp_rmem",
            "5.10",
            "4096 131072 6291456 (the maximum is lower with little RAM) (since 4.19)",
            "per network namespace (since 4.15)",
        ),
        (
            "net.ipv4.tcp_rmem",
            "6.18",
            "4096 131072 33554432 (the maximum is lower with little RAM) (from a release after 6.14, by 6.18 at the latest (not pinned))",
            "per network namespace (since 4.15)",
        ),
        (
            "net.core.rmem_max",
            "6.12",
            "212992",
            "global (read-only inside a child network namespace) (from a release after 6.9, by 6.11 at the latest (not pinned))",
        ),
        (
            "net.core.rmem_max",
            "6.18",
            "4194304 (from a release after 6.14, by 6.18 at the latest (not pinned))",
            "global (read-only inside a child network namespace) (from a release after 6.9, by 6.11 at the latest (not pinned))",
        ),
        (
            "net.ipv4.tcp_fastopen",
            "3.10",
            "0",
            "global (absent inside a child network namespace)",
        ),
        (
            "net.ipv4.tcp_fastopen",
            "4.14",
            "1 (client) (since 3.13)",
            "global (absent inside a child network namespace)",
        ),
        (
            "net.ipv4.tcp_fastopen",
            "4.18",
            "1 (client) (since 3.13)",
            "per network namespace (since 4.15)",
        ),
        (
            "net.ipv4.ip_local_port_range",
            "3.10",
            "32768 61000",
            "global (absent inside a child network namespace)",
        ),
    ];
    for (key, tree, default, scope) in cases {
        let release = TREES
            .iter()
            .find(|(name, _)| name == tree)
            .map(|(_, release)| *release)
            .expect("tree");
        let document = Tree::new(tree).json(&["explain", key], 0);
        let evaluated =
            KernelVersion::from_release(document["evaluated_for"].as_str().expect("evaluated_for"))
                .expect("a version");
        assert_eq!(
            (evaluated.major, evaluated.minor),
            (version(release).major, version(release).minor),
            "{key} on {tree}"
        );
        assert_eq!(document["default"], *default, "{key} on {tree}");
        assert_eq!(document["scope"], *scope, "{key} on {tree}");
        // The history always cites its sources.
        for line in document["history"].as_array().expect("history") {
            assert!(
                !line["cite"].as_array().expect("cite").is_empty(),
                "{key}: {line}"
            );
        }
    }
    // A key the release does not have, and what the fixture reads.
    let document = Tree::new("6.1").json(&["explain", "tcp_tw_reuse_delay"], 0);
    assert_eq!(document["exists"], "no: added in 6.14");
    assert_eq!(document["live"]["status"], "absent");
    // --kernel overrides the running release.
    let document = Tree::new("6.18").json(&["explain", "somaxconn", "--kernel", "4.19"], 0);
    assert_eq!(document["evaluated_for"], "4.19");
    assert_eq!(document["default"], "128");
}

#[test]
fn diff_proposes_only_values_valid_on_that_release() {
    for (name, release) in TREES {
        let release = version(release);
        for profile in ["webserver", "loadbalancer"] {
            let tree = Tree::new(name);
            let before = values(&tree.proc());
            let document = tree.json(&["diff", "--profile", profile], 1);
            for change in document["changes"].as_array().expect("changes") {
                let key = change["key"].as_str().expect("key");
                let Some(to) = change["to"].as_str() else {
                    // Skipped: only because the tree really lacks the key.
                    assert_eq!(
                        change["status"], "skipped_absent",
                        "{name} {profile} {change}"
                    );
                    let path = tree.proc().join("sys").join(key.replace('.', "/"));
                    assert!(!path.exists(), "{name}: {key} exists but was skipped");
                    continue;
                };
                let info = tcptune::knowledge::lookup(key).expect("known key");
                assert_eq!(
                    info.stored(to, Some(release)),
                    Some(Value::parse(to)),
                    "{name} {profile}: {key} = {to} is not stored as written on {release}"
                );
                assert_eq!(info.exists_in(release), Some(true), "{name}: {key}");
                let _ = Key::parse(key).expect("key");
            }
            // diff only reads.
            assert_eq!(values(&tree.proc()), before, "{name} {profile}");
        }
    }
}

#[test]
fn a_child_namespace_of_4_14_never_calls_a_later_per_netns_key_a_typo() {
    for profile in ["default", "webserver", "loadbalancer", "database"] {
        let tree = Tree::new("4.14-child-netns");
        let code = if profile == "default" { 0 } else { 1 };
        let document = tree.json(&["check", "--profile", profile], code);
        for finding in document["findings"].as_array().expect("findings") {
            let message = finding["message"].as_str().unwrap_or_default();
            let fix = finding["fix"].as_str().unwrap_or_default();
            assert!(!fix.contains("spelling"), "{profile}: {finding}");
            assert!(!message.contains("does not exist"), "{profile}: {finding}");
            if finding["code"] == "unavailable-key" {
                assert_eq!(finding["severity"], "info", "{finding}");
                assert!(message.contains("is global on Linux 4.14"), "{finding}");
            }
        }
    }
}

#[test]
fn a_congestion_control_the_kernel_lacks_is_refused_before_any_change() {
    let tree = Tree::new("6.18");
    let profile = tree.dir.path().join("bbr.yaml");
    std::fs::write(
        &profile,
        "settings:\n  net.ipv4.tcp_congestion_control:\n    value: bbr\n    why: pacing\n",
    )
    .expect("profile");
    for command in [&["diff"][..], &["apply", "--yes"][..]] {
        let output = tcptune()
            .arg("--proc")
            .arg(tree.proc())
            .arg("--root")
            .arg(tree.dir.path().join("root"))
            .args(command)
            .arg("--profile")
            .arg(&profile)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("does not offer"), "{stderr}");
        assert!(!tree.dir.path().join("root/etc/sysctl.d").exists());
    }
    let congestion = tree.proc().join("sys/net/ipv4/tcp_congestion_control");
    assert_eq!(
        std::fs::read_to_string(congestion).expect("read").trim(),
        "cubic"
    );
}
