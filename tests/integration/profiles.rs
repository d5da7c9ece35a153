//! Profiles: listing, showing, installed profiles, and invalid files.

use crate::{fixture, json_output, tcptune, tcptune_on, text_output};

#[test]
fn builtins_are_listed() {
    let document = json_output(
        tcptune_on("modern-defaults").args(["profiles", "--format", "json"]),
        0,
    );
    let names: Vec<&str> = document["profiles"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|profile| profile["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "webserver", "loadbalancer", "database"]);
}

#[test]
fn installed_profiles_are_listed_and_resolved() {
    let document = json_output(
        tcptune_on("dotted-interface").args(["profiles", "--format", "json"]),
        0,
    );
    let vlan = document["profiles"]
        .as_array()
        .expect("list")
        .iter()
        .find(|profile| profile["name"] == "vlan")
        .expect("vlan listed");
    assert_eq!(vlan["description"], "VLAN gateway");
    let shown = json_output(
        tcptune_on("dotted-interface").args(["profiles", "vlan", "--format", "json"]),
        0,
    );
    assert_eq!(
        shown["profile"]["chain"],
        serde_json::json!(["vlan", "default"])
    );
}

#[test]
fn loadbalancer_resolves_through_its_chain() {
    let shown = json_output(
        tcptune().args([
            "--root",
            "/nonexistent",
            "profiles",
            "loadbalancer",
            "--format",
            "json",
        ]),
        0,
    );
    let profile = &shown["profile"];
    assert_eq!(
        profile["chain"],
        serde_json::json!(["loadbalancer", "webserver", "default"])
    );
    let settings = profile["settings"].as_array().expect("settings");
    let setting = |key: &str| {
        settings
            .iter()
            .find(|setting| setting["key"] == key)
            .unwrap_or_else(|| panic!("{key}"))
    };
    assert_eq!(
        setting("net.ipv4.tcp_tw_reuse")["defined_in"],
        "loadbalancer"
    );
    assert_eq!(
        setting("net.ipv4.tcp_fin_timeout")["defined_in"],
        "webserver"
    );
    assert_eq!(setting("net.ipv4.tcp_sack")["defined_in"], "default");
    assert_eq!(
        setting("net.ipv4.ip_local_port_range")["expect"],
        "10240 65535"
    );
    assert!(
        settings
            .iter()
            .all(|setting| !setting["why"].as_str().unwrap_or_default().is_empty())
    );
}

#[test]
fn human_profile_view() {
    let text = text_output(
        tcptune().args([
            "--root",
            "/nonexistent",
            "--color",
            "never",
            "profiles",
            "webserver",
        ]),
        0,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn an_installed_profile_replaces_a_builtin_and_can_extend_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("etc/tcptune/profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    std::fs::write(
        profiles.join("webserver.yaml"),
        "description: ours\nextends: webserver\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: 20\n    why: site policy\n",
    )
    .expect("write");
    let shown = json_output(
        tcptune()
            .arg("--root")
            .arg(dir.path())
            .args(["profiles", "webserver", "--format", "json"]),
        0,
    );
    assert_eq!(
        shown["profile"]["chain"],
        serde_json::json!(["webserver", "webserver", "default"])
    );
    let fin = shown["profile"]["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|setting| setting["key"] == "net.ipv4.tcp_fin_timeout")
        .cloned()
        .expect("fin");
    assert_eq!(fin["expect"], "20");
}

#[test]
fn unknown_profile_is_invalid_input() {
    let output = tcptune_on("modern-defaults")
        .args(["check", "--profile", "nope"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown profile `nope`"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// Invalid profile files: (file, exit code, every error line expected on stderr).
const INVALID: &[(&str, &[&str])] = &[
    // A misspelt key would be skipped as absent and the meant key left as
    // it was: refused, with the nearest known key.
    (
        "misspelt-key.yaml",
        &[
            "misspelt-key.yaml:4:3: `net.ipv4.tcp_fin_timout` is not a key tcptune knows; did you mean `net.ipv4.tcp_fin_timeout`?",
        ],
    ),
    (
        "bad-indent.yaml",
        &[
            "bad-indent.yaml:4:4: invalid YAML: while parsing a block mapping, did not find expected key",
        ],
    ),
    ("tab.yaml", &["tab.yaml:2:2: invalid YAML: tabs disallowed"]),
    (
        "wrong-type.yaml",
        &[
            "wrong-type.yaml:3:12: `net.ipv4.tcp_fin_timeout` = `thirty`: the kernel refuses it (`thirty` is not a number)",
        ],
    ),
    (
        "unknown-field.yaml",
        &[
            "unknown-field.yaml:5:5: unknown field `reason` in the setting `net.ipv4.tcp_fin_timeout`",
        ],
    ),
    (
        "not-net.yaml",
        &["not-net.yaml:3:3: `kernel.pid_max` is not under `net.`"],
    ),
    (
        "out-of-range.yaml",
        &[
            "out-of-range.yaml:3:12: `net.ipv4.tcp_tw_reuse` = `3`: the kernel refuses it (3 is above the maximum 2); it accepts integer 0..2 (on Linux 4.18 and later)",
        ],
    ),
    (
        "missing-why.yaml",
        &["missing-why.yaml:2:3: the setting `net.ipv4.tcp_fin_timeout` has no `why`"],
    ),
    (
        "duplicate-key.yaml",
        &["duplicate-key.yaml:5:3: invalid YAML: duplicate mapping key: net.ipv4.tcp_fin_timeout"],
    ),
    (
        "two-comparators.yaml",
        &["two-comparators.yaml:4:5: the setting `net.ipv4.tcp_fin_timeout` has more than one of"],
    ),
    (
        "unquoted-version.yaml",
        &["unquoted-version.yaml:4:17: `min_kernel` must be a quoted version"],
    ),
    (
        "unknown-parent.yaml",
        &["unknown-parent.yaml:1:10: extends the unknown profile `no-such-profile`"],
    ),
    (
        "cycle-a.yaml",
        &["cycle-b.yaml:1:10: `extends: cycle-a.yaml` makes a cycle"],
    ),
    (
        "boolean.yaml",
        &[
            "boolean.yaml:3:12: the value of `net.ipv4.tcp_fin_timeout` is the boolean `true`; sysctls take numbers: write 1",
        ],
    ),
    (
        "vendor-key.yaml",
        &["vendor-key.yaml:2:3: `net.ipv4.tcp_tw_timeout` exists only in one vendor kernel"],
    ),
    (
        "newline-injection.yaml",
        &[
            "newline-injection.yaml:3:12: the value of `net.ipv4.tcp_fin_timeout` contains the control character '\\n'",
        ],
    ),
    (
        "traversal.yaml",
        &[
            "traversal.yaml:2:3: invalid key: the key `net/ipv4/../../../etc/passwd` has a component `.` or `..`",
        ],
    ),
    (
        "thresholds.yaml",
        &[
            "thresholds.yaml:2:28: `thresholds.port_exhaustion_percent` must be from 1 to 100, found 150",
            "thresholds.yaml:3:20: `thresholds.close_wait_leak` must be from 1 to 4294967295, found -1",
        ],
    ),
    (
        "setting-not-mapping.yaml",
        &[
            "setting-not-mapping.yaml:2:29: the setting `net.ipv4.tcp_fin_timeout` must be a mapping, found an integer",
        ],
    ),
    (
        "alias-bomb.yaml",
        &[
            "alias-bomb.yaml:",
            "too large or expands too far through aliases",
        ],
    ),
    (
        "not-utf8.yaml",
        &["not-utf8.yaml:4:14: the file is not valid UTF-8"],
    ),
    (
        "multi-errors.yaml",
        &[
            "multi-errors.yaml:3:12: `net.ipv4.tcp_rmem` = `4096 131072`: is incomplete: the key holds 3 integers",
            "multi-errors.yaml:6:12: `net.ipv4.ip_local_port_range` = `60999 32768`: the kernel refuses it (the low port is above the high port)",
        ],
    ),
];

#[test]
fn invalid_profiles_exit_2_with_file_line_and_column() {
    let dir = fixture("invalid-profiles");
    for (file, expected) in INVALID {
        let path = dir.join(file);
        let output = tcptune_on("modern-defaults")
            .args(["check", "--profile"])
            .arg(&path)
            .timeout(std::time::Duration::from_secs(10))
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{file}: {stderr}");
        assert!(output.stdout.is_empty(), "{file}: nothing on stdout");
        // One stderr line per error; each expected error starts with its file.
        let errors = expected
            .iter()
            .filter(|fragment| fragment.contains(".yaml:"))
            .count();
        assert_eq!(stderr.lines().count(), errors, "{file}: {stderr}");
        for fragment in *expected {
            assert!(
                stderr.contains(fragment),
                "{file}: expected `{fragment}` in:\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    }
    // Every file in the directory is covered by the table.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read dir")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name != "cycle-b.yaml")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = INVALID.iter().map(|(file, _)| (*file).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let output = tcptune_on("modern-defaults")
        .args(["check", "--profile"])
        .arg(fixture("invalid-profiles/multi-errors.yaml"))
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 2);
}

#[test]
fn a_profile_others_can_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    let profile = dir.path().join("site.yaml");
    std::fs::write(&profile, "extends: default\n").expect("write");
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let quiet = tcptune_on("modern-defaults")
        .args(["check", "--profile"])
        .arg(&profile)
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("warning"));
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let warned = tcptune_on("modern-defaults")
        .args(["check", "--profile"])
        .arg(&profile)
        .output()
        .expect("run");
    assert_eq!(warned.status.code(), Some(0), "a warning, not a refusal");
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(stderr.contains("is writable by every user"), "{stderr}");
}

/// A truncated (empty) profile must not turn an audit green: refused, exit
/// 2, the file named.
#[test]
fn an_empty_profile_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("empty.yaml", ""),
        ("blank.yaml", "\n  \n# only a comment\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let output = tcptune_on("modern-defaults")
            .args(["check", "--profile"])
            .arg(&path)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains("empty"),
            "{stderr}"
        );
    }
}

/// `profiles` marks an installed profile whose `extends` chain is broken
/// (a cycle, a missing parent) as invalid, with the reason.
#[test]
fn profiles_with_a_broken_chain_are_listed_as_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("etc/tcptune/profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    let write = |name: &str, extends: &str| {
        std::fs::write(
            profiles.join(format!("{name}.yaml")),
            format!("description: {name}\nextends: {extends}\n"),
        )
        .expect("write");
    };
    write("ping", "pong");
    write("pong", "ping");
    write("orphan", "nowhere");
    write("fine", "webserver");
    let document = json_output(
        tcptune()
            .arg("--root")
            .arg(dir.path())
            .args(["profiles", "--format", "json"]),
        0,
    );
    let description = |name: &str| -> String {
        document["profiles"]
            .as_array()
            .expect("list")
            .iter()
            .find(|profile| profile["name"] == name)
            .and_then(|profile| profile["description"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    for name in ["ping", "pong"] {
        let text = description(name);
        assert!(
            text.starts_with("INVALID") && text.contains("cycle"),
            "{name}: {text}"
        );
    }
    let orphan = description("orphan");
    assert!(
        orphan.starts_with("INVALID") && orphan.contains("unknown profile `nowhere`"),
        "{orphan}"
    );
    assert_eq!(description("fine"), "fine");
}

/// An `extends` cycle through `../` is reported as the cycle it is.
#[test]
fn an_extends_cycle_through_dot_dot_is_named_a_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(
        sub.join("a.yaml"),
        "description: a\nextends: ../sub/a.yaml\n",
    )
    .expect("write");
    let output = tcptune_on("modern-defaults")
        .args(["check", "--profile"])
        .arg(sub.join("a.yaml"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("makes a cycle"), "{stderr}");
    assert!(!stderr.contains("chains more than"), "{stderr}");
}

/// Which file a profile came from is always shown, also when an installed
/// profile replaces the built-in of the same name: check, diff and apply in
/// human output, and `profile_sources` in JSON.
#[test]
fn the_source_of_a_profile_is_always_shown() {
    let scene = crate::Scene::new();
    let profiles = scene.root().join("etc/tcptune/profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    let installed = profiles.join("webserver.yaml");
    std::fs::write(
        &installed,
        "description: ours\nextends: webserver\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: 20\n    why: site policy\n",
    )
    .expect("write");
    let path = installed.display().to_string();
    for args in [
        &["check", "--profile", "webserver"][..],
        &["diff", "--profile", "webserver"][..],
        &["apply", "--profile", "webserver", "--dry-run"][..],
    ] {
        let output = scene.run(args);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(&format!("from {path} (replaces the built-in webserver)")),
            "{args:?}: {text}"
        );
        assert!(
            text.contains("; webserver (built-in); default (built-in)"),
            "{args:?}: {text}"
        );
        let document = scene.json(args, output.status.code().unwrap_or(-1));
        assert_eq!(
            document["profile_sources"][0]["path"],
            path.as_str(),
            "{args:?}"
        );
        assert_eq!(
            document["profile_sources"][0]["replaces_builtin"], true,
            "{args:?}"
        );
        assert_eq!(
            document["profile_sources"][1]["path"],
            serde_json::Value::Null,
            "{args:?}"
        );
    }
    let applied = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(applied["profile_sources"][0]["path"], path.as_str());
}
