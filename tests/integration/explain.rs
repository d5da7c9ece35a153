//! `tcptune explain`: keys and topics, per the running kernel.

use crate::{json_output, tcptune, tcptune_on, text_output};

/// The text with line breaks and runs of spaces collapsed, so assertions do
/// not depend on where the 80-column wrap falls.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_removed_key_on_an_old_and_a_new_kernel() {
    let old = json_output(
        tcptune_on("old-folklore-4.9").args([
            "explain",
            "net.ipv4.tcp_tw_recycle",
            "--format",
            "json",
        ]),
        0,
    );
    assert_eq!(old["removed_in"], "4.12");
    assert_eq!(
        old["live"],
        serde_json::json!({"status": "present", "value": "1"})
    );
    let new = json_output(
        tcptune_on("modern-defaults").args(["explain", "tcp_tw_recycle", "--format", "json"]),
        0,
    );
    assert_eq!(new["live"], serde_json::json!({"status": "absent"}));
    assert_eq!(new["kernel"], "6.18.44-generic");
}

#[test]
fn fin_timeout_says_what_it_does_not_do() {
    let text = text_output(
        tcptune_on("modern-defaults").args(["explain", "net.ipv4.tcp_fin_timeout"]),
        0,
    );
    assert!(
        flat(&text).contains("does not change how long TIME_WAIT lasts"),
        "{text}"
    );
    assert!(flat(&text).contains("kernel 6.18.44-generic: 60"), "{text}");
}

#[test]
fn close_wait_topic_says_no_sysctl_fixes_it() {
    let text = text_output(
        tcptune().args(["--color", "never", "explain", "close-wait"]),
        0,
    );
    assert!(flat(&text).contains("never called close()"), "{text}");
    assert!(flat(&text).contains("No sysctl fixes CLOSE_WAIT"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn time_wait_topic() {
    let text = text_output(
        tcptune().args(["--color", "never", "explain", "time-wait"]),
        0,
    );
    assert!(
        flat(&text).contains("tcp_fin_timeout (it limits orphaned FIN_WAIT2, not TIME_WAIT)"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn vendor_only_key_is_explained() {
    let text = text_output(
        tcptune().args(["--color", "never", "explain", "tcp_tw_timeout"]),
        0,
    );
    assert!(flat(&text).contains("Not a mainline Linux key"), "{text}");
}

#[test]
fn unknown_subject_suggests_and_exits_2() {
    let output = tcptune()
        .args(["explain", "tcp_fin_timout"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did you mean `net.ipv4.tcp_fin_timeout`?"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = tcptune()
        .args(["check", "--fail-on", "sometimes"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let output = tcptune().arg("frobnicate").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn default_qdisc_says_when_bbr_needed_fq() {
    let text = flat(&text_output(
        tcptune_on("modern-defaults").args(["explain", "net.core.default_qdisc"]),
        0,
    ));
    assert!(text.contains("default: pfifo_fast"), "{text}");
    assert!(
        text.contains("218af599fa63 (\"tcp: internal implementation for pacing\")"),
        "{text}"
    );
    assert!(text.contains("shipped in 4.13"), "{text}");
}

#[test]
fn idle_timeout_topic_names_its_sources_and_so_keepalive() {
    let text = flat(&text_output(
        tcptune_on("modern-defaults").args(["explain", "idle-timeout"]),
        0,
    ));
    assert!(text.contains("SO_KEEPALIVE"), "{text}");
    for source in [
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html",
        "https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout",
    ] {
        assert!(text.contains(source), "{source} missing: {text}");
    }
}
