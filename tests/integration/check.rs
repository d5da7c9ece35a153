//! `tcptune check` against fixture trees: findings, exit codes, JSON contract
//! and the human report.

use crate::{fixture, json_output, tcptune_on, text_output};

fn finding<'a>(
    document: &'a serde_json::Value,
    code: &str,
    key: Option<&str>,
) -> &'a serde_json::Value {
    document["findings"]
        .as_array()
        .expect("findings is a list")
        .iter()
        .find(|finding| finding["code"] == code && key.is_none_or(|key| finding["key"] == key))
        .unwrap_or_else(|| panic!("no {code} finding for {key:?} in {document:#}"))
}

fn codes(document: &serde_json::Value) -> Vec<(String, String)> {
    document["findings"]
        .as_array()
        .expect("findings is a list")
        .iter()
        .map(|finding| {
            (
                finding["code"].as_str().unwrap_or_default().to_owned(),
                finding["key"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

#[test]
fn modern_host_at_defaults_passes_the_default_profile() {
    let document = json_output(
        tcptune_on("modern-defaults").args(["check", "--format", "json"]),
        0,
    );
    assert_eq!(document["schema_version"], 1);
    assert_eq!(document["kernel"], "6.18.44-generic");
    assert_eq!(document["profile"], "default");
    assert_eq!(
        document["summary"],
        serde_json::json!({"error": 0, "warning": 0, "info": 0})
    );
    assert_eq!(document["findings"], serde_json::json!([]));
    let states = &document["sockets"]["states"];
    assert_eq!(states.as_object().map(|states| states.len()), Some(11));
    assert_eq!(states["listen"], 3);
    assert_eq!(states["established"], 2);
    assert_eq!(states["time_wait"], 1);
}

#[test]
fn modern_host_drifts_from_webserver_with_true_reasons() {
    let document = json_output(
        tcptune_on("modern-defaults").args(["check", "--profile", "webserver", "--format", "json"]),
        1,
    );
    assert_eq!(
        codes(&document),
        vec![
            ("drift".to_owned(), "net.ipv4.tcp_fin_timeout".to_owned()),
            ("drift".to_owned(), "net.ipv4.tcp_tw_reuse".to_owned()),
            (
                "drift".to_owned(),
                "net.ipv4.tcp_slow_start_after_idle".to_owned()
            ),
        ]
    );
    let fin = finding(&document, "drift", Some("net.ipv4.tcp_fin_timeout"));
    assert_eq!(fin["current"], "60");
    assert_eq!(fin["expected"], "30");
    assert_eq!(fin["severity"], "warning");
    let rationale = fin["rationale"].as_str().unwrap_or_default();
    assert!(
        rationale.contains("orphaned FIN_WAIT2")
            && rationale.contains("does NOT shorten TIME_WAIT"),
        "{rationale}"
    );
    let reuse = finding(&document, "drift", Some("net.ipv4.tcp_tw_reuse"));
    assert_eq!(reuse["current"], "2");
    assert!(
        reuse["rationale"]
            .as_str()
            .unwrap_or_default()
            .contains("outgoing connections")
    );
    // `--fail-on error` turns warnings into a pass.
    json_output(
        tcptune_on("modern-defaults").args([
            "check",
            "--profile",
            "webserver",
            "--format",
            "json",
            "--fail-on",
            "error",
        ]),
        0,
    );
}

#[test]
fn old_kernel_with_folklore_is_called_out() {
    let document = json_output(
        tcptune_on("old-folklore-4.9").args(["check", "--format", "json"]),
        1,
    );
    assert_eq!(document["kernel"], "4.9.0-19-amd64");
    assert_eq!(
        codes(&document),
        vec![
            (
                "harmful-value".to_owned(),
                "net.ipv4.tcp_tw_recycle".to_owned()
            ),
            (
                "harmful-value".to_owned(),
                "net.ipv4.tcp_timestamps".to_owned()
            ),
            (
                "tw-bucket-overflow".to_owned(),
                "net.ipv4.tcp_max_tw_buckets".to_owned()
            ),
        ]
    );
    let recycle = finding(&document, "harmful-value", Some("net.ipv4.tcp_tw_recycle"));
    assert_eq!(recycle["severity"], "error");
    assert_eq!(recycle["evidence"]["PAWSPassive"], 5813);
    let rationale = recycle["rationale"].as_str().unwrap_or_default();
    assert!(
        rationale.contains("NAT")
            && rationale.contains("Linux 4.12 removed the key")
            && rationale.contains("whatever kernel this server runs"),
        "{rationale}"
    );
    // 4.9 has no tcp_ehash_entries, and tcp_max_orphans is no stand-in for
    // the tw default (admins raise it): 5000 is not provably lowered, so no
    // harmful-value finding (it used to claim a default of 65536).
    assert!(
        document["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|finding| finding["code"] != "harmful-value"
                || finding["key"] != "net.ipv4.tcp_max_tw_buckets")
    );
    // somaxconn 128 is 4.9's default: the default profile asks for 4096
    // only from 5.4 on.
    let overflow = finding(&document, "tw-bucket-overflow", None);
    assert_eq!(overflow["evidence"]["TCPTimeWaitOverflow"], 220413);
    assert_eq!(document["sockets"]["states"]["time_wait"], 4000);
    assert_eq!(
        document["summary"],
        serde_json::json!({"error": 1, "warning": 2, "info": 0})
    );
}

#[test]
fn close_wait_storm_names_owners_and_listen_overflows() {
    let document = json_output(
        tcptune_on("close-wait-storm").args(["check", "--format", "json"]),
        1,
    );
    let leak = finding(&document, "close-wait-leak", None);
    assert_eq!(leak["evidence"]["close_wait"], 3000);
    assert_eq!(leak["evidence"]["unknown_owner"], 100);
    let owners = leak["evidence"]["owners"].as_array().expect("owners");
    assert_eq!(owners.len(), 2);
    assert_eq!(
        (
            owners[0]["pid"].as_u64(),
            owners[0]["comm"].as_str(),
            owners[0]["count"].as_u64()
        ),
        (Some(4242), Some("java"), Some(2000))
    );
    assert_eq!(
        (
            owners[1]["pid"].as_u64(),
            owners[1]["comm"].as_str(),
            owners[1]["count"].as_u64()
        ),
        (Some(5151), Some("python3"), Some(900))
    );
    let message = leak["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("java (pid 4242) holds 2000 on 10.0.0.5:8080"),
        "{message}"
    );
    assert!(
        message.contains("python3 (pid 5151) holds 900 toward 10.0.2.9:5432"),
        "{message}"
    );
    assert!(
        leak["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("No sysctl fixes CLOSE_WAIT")
    );
    let overflow = finding(&document, "listen-overflow", None);
    assert_eq!(overflow["evidence"]["ListenOverflows"], 1234);
    assert_eq!(
        overflow["evidence"]["listeners_with_queued_connections"][0]["accept_queue"],
        129
    );
    assert_eq!(document["sockets"]["close_wait_owners"][0]["pid"], 4242);
}

#[test]
fn close_wait_threshold_comes_from_the_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("relaxed.yaml");
    std::fs::write(
        &profile,
        "extends: default\nthresholds:\n  close_wait_leak: 5000\n  listen_overflow: 100000\n",
    )
    .expect("write profile");
    let document = json_output(
        tcptune_on("close-wait-storm")
            .args(["check", "--format", "json", "--profile"])
            .arg(&profile),
        1,
    );
    // somaxconn 128 on 6.1, whose default is 4096: lowered below the
    // default (a warning from the judgement table, no longer an info drift).
    assert_eq!(
        codes(&document),
        vec![("harmful-value".to_owned(), "net.core.somaxconn".to_owned())]
    );
}

#[test]
fn ipv6_time_wait_exhausts_a_narrow_range() {
    let document = json_output(
        tcptune_on("ipv6-port-pressure").args(["check", "--format", "json"]),
        1,
    );
    assert_eq!(
        codes(&document),
        vec![("port-exhaustion".to_owned(), "-".to_owned())]
    );
    let exhaustion = finding(&document, "port-exhaustion", None);
    assert_eq!(exhaustion["evidence"]["destination"], "[2001:db8::5]:443");
    assert_eq!(exhaustion["evidence"]["time_wait"], 700);
    // 50000-50999 minus the reserved 50000-50099.
    assert_eq!(exhaustion["evidence"]["usable_ports"], 900);
    let states = &document["sockets"]["states"];
    for (state, count) in [
        ("established", 12),
        ("syn_sent", 2),
        ("syn_recv", 3),
        ("fin_wait1", 1),
        ("fin_wait2", 4),
        ("time_wait", 730),
        ("close", 1),
        ("close_wait", 5),
        ("last_ack", 2),
        ("listen", 2),
        ("closing", 1),
    ] {
        assert_eq!(states[state], count, "{state}");
    }
}

#[test]
fn dotted_interface_keys_resolve_in_both_spellings() {
    let document = json_output(
        tcptune_on("dotted-interface").args(["check", "--profile", "vlan", "--format", "json"]),
        1,
    );
    let rp = finding(&document, "drift", Some("net.ipv4.conf.eth0/100.rp_filter"));
    assert_eq!(rp["current"], "2");
    assert_eq!(rp["expected"], "1");
    let redirects = finding(
        &document,
        "drift",
        Some("net.ipv4.conf.eth0/100.accept_redirects"),
    );
    assert_eq!(redirects["current"], "1");
}

#[test]
fn layered_profiles_later_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("fin.yaml");
    std::fs::write(
        &profile,
        "settings:\n  net.ipv4.tcp_fin_timeout:\n    value: 60\n    why: keep the default\n",
    )
    .expect("write");
    let document = json_output(
        tcptune_on("modern-defaults")
            .args([
                "check",
                "--format",
                "json",
                "--profile",
                "webserver",
                "--profile",
            ])
            .arg(&profile),
        1,
    );
    assert_eq!(document["profile"], "webserver+fin");
    assert!(
        !codes(&document).contains(&("drift".to_owned(), "net.ipv4.tcp_fin_timeout".to_owned()))
    );
}

#[test]
fn human_report_old_kernel() {
    let text = text_output(tcptune_on("old-folklore-4.9").arg("check"), 1);
    assert!(
        text.lines().all(|line| line.chars().count() <= 80),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn human_report_close_wait_storm() {
    let text = text_output(tcptune_on("close-wait-storm").arg("check"), 1);
    assert!(
        text.lines().all(|line| line.chars().count() <= 80),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn human_report_clean_host() {
    let text = text_output(tcptune_on("modern-defaults").arg("check"), 0);
    insta::assert_snapshot!(text);
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let base = fixture("old-folklore-4.9");
    let run = |color: &str, no_color: bool| {
        let mut command = crate::tcptune();
        command
            .arg("--proc")
            .arg(base.join("proc"))
            .args(["--color", color, "check"]);
        if no_color {
            command.env("NO_COLOR", "1");
        }
        text_output(&mut command, 1)
    };
    assert!(run("always", false).contains("\u{1b}["));
    assert!(!run("never", false).contains("\u{1b}["));
    // Piped output (as here) has no colour in auto mode.
    assert!(!run("auto", false).contains("\u{1b}["));
    assert!(!run("auto", true).contains("\u{1b}["));
}

#[test]
fn missing_proc_is_a_system_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = crate::tcptune()
        .arg("--proc")
        .arg(dir.path())
        .arg("check")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sys/kernel/osrelease"), "{stderr}");
}

#[test]
fn malformed_socket_table_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("sys/kernel")).expect("mkdir");
    std::fs::create_dir_all(proc.join("net")).expect("mkdir");
    std::fs::write(proc.join("sys/kernel/osrelease"), "6.1.0\n").expect("write");
    std::fs::write(
        proc.join("net/tcp"),
        "  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n   1: 0100007F:ZZZZ 00000000:0000 0A\n",
    )
    .expect("write");
    let output = crate::tcptune()
        .arg("--proc")
        .arg(&proc)
        .arg("check")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("net/tcp:3: bad address `0100007F:ZZZZ`"),
        "{stderr}"
    );
}

#[test]
fn boot_configuration_findings_name_files_and_lines() {
    let document = json_output(
        tcptune_on("persistence").args(["check", "--profile", "webserver", "--format", "json"]),
        1,
    );
    assert_eq!(
        codes(&document),
        vec![
            (
                "not-persisted".to_owned(),
                "net.ipv4.tcp_fin_timeout".to_owned()
            ),
            (
                "not-persisted".to_owned(),
                "net.ipv4.tcp_tw_reuse".to_owned()
            ),
            ("shadowed".to_owned(), "net.ipv4.tcp_fin_timeout".to_owned()),
            (
                "obsolete-key".to_owned(),
                "net.ipv4.tcp_tw_recycle".to_owned()
            ),
        ]
    );
    // 90-tuning.conf sets 30, but 99-sysctl.conf (-> /etc/sysctl.conf) sorts
    // later and sets 60: the live 30 is lost at the next boot.
    let lost = finding(&document, "not-persisted", Some("net.ipv4.tcp_fin_timeout"));
    assert_eq!(
        lost["location"],
        serde_json::json!({"path": "/etc/sysctl.d/99-sysctl.conf", "line": 2})
    );
    assert_eq!(lost["evidence"]["boot_value"], "60");
    assert_eq!(lost["evidence"]["loader"], "systemd-sysctl");
    let shadowed = finding(&document, "shadowed", None);
    assert_eq!(
        shadowed["location"],
        serde_json::json!({"path": "/etc/sysctl.d/90-tuning.conf", "line": 2})
    );
    assert_eq!(
        shadowed["evidence"]["winner"],
        "/etc/sysctl.d/99-sysctl.conf:2"
    );
    let reuse = finding(&document, "not-persisted", Some("net.ipv4.tcp_tw_reuse"));
    assert!(
        reuse["rationale"]
            .as_str()
            .unwrap_or_default()
            .contains("kernel default 2")
    );
    let obsolete = finding(&document, "obsolete-key", None);
    assert_eq!(obsolete["location"]["line"], 3);
    // The masked distribution file (syncookies = 0) is not read at all, and
    // settings already persisted (tcp_slow_start_after_idle) are quiet.
    assert!(
        !codes(&document)
            .iter()
            .any(|(_, key)| key.contains("syncookies") || key.contains("slow_start"))
    );
}

#[test]
fn quiet_prints_nothing_and_verbose_says_what_was_read() {
    let output = tcptune_on("close-wait-storm")
        .args(["-q", "check"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let output = tcptune_on("close-wait-storm")
        .args(["-q", "check", "--format", "json"])
        .output()
        .expect("run");
    assert!(!output.stdout.is_empty(), "-q keeps machine output");
    let output = tcptune_on("close-wait-storm")
        .args(["-v", "check"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("counted 3027 sockets (procfs)"), "{stderr}");
}

/// `not-persisted` asks what the next boot gives: with no file setting the
/// key, the kernel default. A default that still meets the profile is no
/// finding (somaxconn 65535 live, default 4096, profile `at_least: 4096`);
/// one that does not is reported with the severity the profile gave it.
#[test]
fn not_persisted_judges_the_default_and_honours_the_severity() {
    let scene = crate::Scene::new();
    std::fs::create_dir_all(scene.root().join("etc/sysctl.d")).expect("mkdir");
    scene.set_live("net.core.somaxconn", "65535");
    scene.set_live("net.ipv4.tcp_fin_timeout", "30");
    let profile = scene.dir.path().join("persist.yaml");
    std::fs::write(
        &profile,
        "description: persistence\nsettings:\n  net.core.somaxconn:\n    at_least: 4096\n    why: deep accept queue\n  net.ipv4.tcp_fin_timeout:\n    at_most: 30\n    severity: info\n    why: frees orphans sooner\n",
    )
    .expect("write profile");
    let document = scene.json(&["check", "--profile", profile.to_str().expect("UTF-8")], 0);
    let not_persisted: Vec<(String, String)> = document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["code"] == "not-persisted")
        .map(|finding| {
            (
                finding["key"].as_str().unwrap_or("").to_owned(),
                finding["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        not_persisted,
        [("net.ipv4.tcp_fin_timeout".to_owned(), "info".to_owned())],
        "{document:#}"
    );
}
