//! `tcptune sockets` against fixture trees.

use crate::{json_output, tcptune_on, text_output};

#[test]
fn owners_and_destinations_in_json() {
    let document = json_output(
        tcptune_on("close-wait-storm").args([
            "sockets",
            "--processes",
            "--by-destination",
            "--format",
            "json",
        ]),
        0,
    );
    assert_eq!(document["schema_version"], 1);
    assert_eq!(document["source"], "procfs");
    assert_eq!(document["states"]["close_wait"], 3000);
    assert_eq!(document["total"], 3027);
    let owners = document["close_wait_owners"].as_array().expect("owners");
    assert_eq!(owners[0]["pid"], 4242);
    assert_eq!(owners[0]["count"], 2000);
    assert_eq!(
        owners[0]["local_addresses"][0],
        serde_json::json!({"address": "10.0.0.5:8080", "count": 2000})
    );
    assert_eq!(
        owners[1]["remote_addresses"][0],
        serde_json::json!({"address": "10.0.2.9:5432", "count": 900})
    );
    assert_eq!(document["close_wait_unknown_owner"], 100);
    assert_eq!(document["time_wait_by_destination"], serde_json::json!([]));
}

#[test]
fn destinations_are_sorted_with_port_usage() {
    let document = json_output(
        tcptune_on("ipv6-port-pressure").args(["sockets", "--by-destination", "--format", "json"]),
        0,
    );
    assert_eq!(
        document["time_wait_by_destination"],
        serde_json::json!([
            {"destination": "[2001:db8::5]:443", "count": 700, "port_range_size": 900, "usage": 0.7778},
            {"destination": "[2001:db8::6]:443", "count": 30, "port_range_size": 900, "usage": 0.0333},
        ])
    );
    assert!(document.get("close_wait_owners").is_none());
}

#[test]
fn human_sockets_report() {
    let text = text_output(
        tcptune_on("close-wait-storm").args(["sockets", "--processes", "--by-destination"]),
        0,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn bars_are_plain_unless_colour_is_on() {
    let plain = text_output(
        tcptune_on("ipv6-port-pressure").args(["sockets", "--by-destination"]),
        0,
    );
    assert!(
        plain.contains("TIME_WAIT          730  ################################"),
        "{plain}"
    );
    assert!(!plain.contains('\u{2588}'));
    let mut fancy = crate::tcptune();
    fancy
        .arg("--proc")
        .arg(crate::fixture("ipv6-port-pressure/proc"))
        .args(["--color", "always", "sockets", "--by-destination"]);
    let fancy = text_output(&mut fancy, 0);
    // 700 of 900 usable ports: 25 of 32 cells.
    let row = fancy
        .lines()
        .find(|line| line.contains("[2001:db8::5]:443"))
        .expect("destination row");
    assert_eq!(
        row.chars().filter(|ch| *ch == '\u{2588}').count(),
        25,
        "{row}"
    );
}

#[test]
fn limits_are_in_json() {
    let document = json_output(
        tcptune_on("close-wait-storm").args(["sockets", "--format", "json"]),
        0,
    );
    assert_eq!(
        document["orphans"],
        serde_json::json!({"count": 0, "max": 131072})
    );
    assert_eq!(
        document["time_wait_limit"],
        serde_json::json!({"count": 0, "max": 131072})
    );
}

/// `--sample` takes 0.1 to 3600 seconds; the message says which range, and
/// does not call a number "not a number".
#[test]
fn sample_intervals_outside_the_range_are_refused_with_the_range() {
    for value in ["0", "0.0001", "-1", "3601", "NaN", "inf"] {
        let output = crate::tcptune_on("modern-defaults")
            .arg("sockets")
            .arg(format!("--sample={value}"))
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains("from 0.1 to 3600"), "{value}: {stderr}");
        assert!(!stderr.contains("is not a number"), "{value}: {stderr}");
    }
    let output = crate::tcptune_on("modern-defaults")
        .args(["sockets", "--sample", "ten"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`ten` is not a number"));
}

/// sockstat's `tw` counts every timewait socket, FIN_WAIT2 ones included:
/// when it is more than the table's TIME_WAIT, the limit line says what the
/// number is instead of calling it TIME_WAIT.
#[test]
fn the_bucket_line_labels_sockstat_tw_for_what_it_is() {
    let scene = crate::Scene::new();
    std::fs::write(
        scene.proc().join("net/sockstat"),
        "sockets: used 10\nTCP: inuse 5 orphan 0 tw 120 alloc 5 mem 12\n",
    )
    .expect("write sockstat");
    let output = scene.run(&["sockets"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("TIME_WAIT 120 of"), "{text}");
    assert!(text.contains("120 timewait sockets"), "{text}");
    assert!(text.contains("FIN_WAIT2"), "{text}");
}
