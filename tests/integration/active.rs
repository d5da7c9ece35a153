//! The active profile: `apply` records it, `check` and `diff` without
//! `--profile` use it and say so, `rollback` gives back the previous one,
//! and `status` reports drift and what boot does with the applied values.

use std::fs;

use serde_json::json;

use crate::Scene;
use crate::schema::assert_valid;

#[test]
fn check_and_diff_follow_the_applied_profile_and_rollback_restores_the_previous_one() {
    let scene = Scene::new();
    let check = scene.json(&["check", "--fail-on", "error"], 0);
    assert_eq!(check["profile"], "default");
    assert_eq!(check["profile_source"], "default");
    assert_valid("check", &check, "check with nothing applied");
    let status = scene.json(&["status"], 0);
    assert_eq!(status["active"], json!(null));
    assert_eq!(status["last_transaction"], json!(null));
    assert_valid("status", &status, "status with nothing applied");

    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let check = scene.json(&["check", "--fail-on", "error"], 0);
    assert_eq!(check["profile"], "webserver");
    assert_eq!(check["profile_source"], "active");
    assert_eq!(check["active"]["transaction"], "1");
    assert_eq!(check["active"]["layers"][0]["argument"], "webserver");
    assert_valid("check", &check, "check against the active profile");
    let human =
        String::from_utf8(scene.run(&["check", "--fail-on", "error"]).stdout).expect("utf-8");
    assert!(
        human.starts_with("tcptune check: profile webserver (active: applied by transaction 1)"),
        "{human}"
    );
    let diff = scene.json(&["diff"], 0);
    assert_eq!(diff["profile"], "webserver");
    assert_eq!(diff["profile_source"], "active");
    assert_valid("diff", &diff, "diff against the active profile");
    // An explicit --profile still wins, and says so.
    let given = scene.json(&["diff", "--profile", "loadbalancer"], 1);
    assert_eq!(given["profile_source"], "option");

    scene.json(&["apply", "--profile", "loadbalancer", "--yes"], 0);
    assert_eq!(
        scene.json(&["check", "--fail-on", "error"], 0)["profile"],
        "loadbalancer"
    );
    scene.json(&["rollback", "--yes"], 0);
    let check = scene.json(&["check", "--fail-on", "error"], 0);
    assert_eq!(check["profile"], "webserver");
    assert_eq!(check["active"]["transaction"], "1");
    scene.json(&["rollback", "--yes"], 0);
    let check = scene.json(&["check", "--fail-on", "error"], 0);
    assert_eq!(check["profile"], "default");
    assert_eq!(check["profile_source"], "default");
    assert_eq!(scene.json(&["status"], 0)["active"], json!(null));
}

#[test]
fn status_reports_drift_and_a_value_boot_would_not_restore() {
    let scene = Scene::new();
    scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let status = scene.json(&["status"], 0);
    assert_eq!(status["active"]["profile"], "webserver");
    assert_eq!(status["last_transaction"]["id"], "1");
    assert_eq!(status["attention"], false);
    let keys = status["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    assert!(
        keys.iter()
            .all(|key| key["boot"] == "persisted" && key["drifted"] == false),
        "{keys:?}"
    );
    assert_valid("status", &status, "status in force");

    scene.set_live("net.ipv4.tcp_fin_timeout", "45");
    let status = scene.json(&["status"], 1);
    let fin = status["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["key"] == "net.ipv4.tcp_fin_timeout")
        .expect("fin_timeout applied")
        .clone();
    assert_eq!(fin["drifted"], true);
    assert_eq!(fin["live"], "45");
    assert_eq!(fin["applied"], "30");
    assert_valid("status", &status, "status with drift");

    scene.set_live("net.ipv4.tcp_fin_timeout", "30");
    // procps reads /etc/sysctl.conf after sysctl.d: it wins at boot.
    fs::write(
        scene.root().join("etc/sysctl.conf"),
        "net.ipv4.tcp_fin_timeout = 60\n",
    )
    .expect("sysctl.conf");
    let status = scene.json(&["status"], 1);
    let fin = status["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["key"] == "net.ipv4.tcp_fin_timeout")
        .expect("fin_timeout applied")
        .clone();
    assert_eq!(fin["drifted"], false);
    assert_eq!(fin["boot"], "shadowed");
    assert!(
        fin["boot_winner"]
            .as_str()
            .is_some_and(|winner| winner.ends_with("sysctl.conf:1")),
        "{fin}"
    );
    assert_valid("status", &status, "status shadowed at boot");
}

#[test]
fn an_edited_profile_file_is_noticed_and_used_as_it_is_now() {
    let scene = Scene::new();
    let profile = scene.root().join("ours.yaml");
    fs::write(
        &profile,
        "extends: default\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: 20\n    why: ours\n",
    )
    .expect("profile");
    scene.json(
        &[
            "apply",
            "--profile",
            profile.to_str().expect("utf-8"),
            "--yes",
        ],
        0,
    );
    let status = scene.json(&["status"], 0);
    assert_eq!(
        status["active"]["layers"][0]["files"][0]["source"]["kind"],
        "file"
    );
    assert_eq!(status["active"]["changed_files"], json!([]));

    fs::write(
        &profile,
        "extends: default\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: 25\n    why: ours\n",
    )
    .expect("profile");
    let output = scene
        .command()
        .args(["check", "--fail-on", "error", "--format", "json"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("changed since the active profile ours was applied"),
        "{stderr}"
    );
    let check: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        check["active"]["changed_files"],
        json!([profile.display().to_string()])
    );
    // The audit follows the file as it is now: 25 is wanted, 20 is live.
    let diff = scene.json(&["diff"], 1);
    assert_eq!(diff["profile_source"], "active");
    let status = scene.json(&["status"], 1);
    assert_eq!(status["attention"], true);
}
