//! `--format prometheus`: the text exposition format node_exporter's
//! textfile collector reads, checked line by line by a strict parser here.

use std::collections::{BTreeMap, BTreeSet};

use crate::{tcptune, tcptune_on, text_output};

/// One parsed sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

/// Parses the exposition text, panicking on anything the format forbids.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut series: BTreeSet<String> = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(
                is_name(name) && helped.insert(name.to_owned()),
                "bad or repeated HELP: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or_default();
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(matches!(parts.next(), Some("gauge" | "counter")), "{line}");
            assert!(typed.insert(name.to_owned()), "repeated TYPE: {line}");
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line: {line:?}"
        );
        let (name, rest) = match line.find('{') {
            Some(at) => (&line[..at], &line[at..]),
            None => line
                .split_once(' ')
                .map(|(name, _)| (name, &line[name.len()..]))
                .expect("name value"),
        };
        assert!(is_name(name) && name.starts_with("tcptune_"), "{line}");
        assert!(typed.contains(name), "sample before its TYPE: {line}");
        let mut labels = BTreeMap::new();
        let value_text = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            loop {
                let start = chars.peek().map(|(at, _)| *at).expect("label");
                if body[start..].starts_with('}') {
                    end = Some(start + 1);
                    break;
                }
                let eq = body[start..].find('=').expect("label =") + start;
                let label = &body[start..eq];
                assert!(is_name(label), "label name {label:?} in {line}");
                assert!(body[eq + 1..].starts_with('"'), "{line}");
                let mut value = String::new();
                let mut index = eq + 2;
                loop {
                    let ch = body[index..].chars().next().expect("closing quote");
                    index += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => {
                            let escaped = body[index..].chars().next().expect("escape");
                            index += escaped.len_utf8();
                            value.push(match escaped {
                                'n' => '\n',
                                '\\' => '\\',
                                '"' => '"',
                                other => panic!("bad escape \\{other} in {line}"),
                            });
                        }
                        '\n' => panic!("raw newline in {line}"),
                        other => value.push(other),
                    }
                }
                labels.insert(label.to_owned(), value);
                while chars.peek().is_some_and(|(at, _)| *at < index) {
                    chars.next();
                }
                match body[index..].chars().next() {
                    Some(',') => {
                        chars.next();
                    }
                    Some('}') => {}
                    other => panic!("unexpected {other:?} in {line}"),
                }
                let _ = &mut end;
            }
            &body[end.expect("closing brace")..]
        } else {
            rest
        };
        let value: f64 = value_text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("value in {line}"));
        assert!(
            series.insert(format!("{name}{labels:?}")),
            "duplicate series: {line}"
        );
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(sample, sample_labels, _)| {
            sample == name
                && labels
                    .iter()
                    .all(|(key, value)| sample_labels.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|(_, _, value)| *value)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
}

#[test]
fn check_exports_findings_and_states() {
    let text = text_output(
        tcptune_on("close-wait-storm").args(["check", "--format", "prometheus"]),
        1,
    );
    let samples = parse(&text);
    assert_eq!(
        value(
            &samples,
            "tcptune_findings",
            &[("code", "close-wait-leak"), ("severity", "warning")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "tcptune_findings_by_severity",
            &[("severity", "error")]
        ),
        0.0
    );
    assert_eq!(
        value(&samples, "tcptune_tcp_sockets", &[("state", "close_wait")]),
        3000.0
    );
    // By command name: pids churn with every restart.
    assert_eq!(
        value(
            &samples,
            "tcptune_close_wait_owner_sockets",
            &[("comm", "java")]
        ),
        2000.0
    );
    assert!(
        samples
            .iter()
            .all(|(_, labels, _)| !labels.contains_key("pid")),
        "no pid label"
    );
    assert_eq!(
        value(&samples, "tcptune_close_wait_unowned_sockets", &[]),
        100.0
    );
    // Findings carry the key they are about.
    assert_eq!(
        value(
            &samples,
            "tcptune_findings",
            &[("code", "listen-overflow"), ("key", "")]
        ),
        1.0
    );
    // The counters behind the findings, for rates in alert rules, and the
    // orphan count as in `sockets`.
    assert_eq!(
        value(
            &samples,
            "tcptune_kernel_tcp_events_total",
            &[("table", "TcpExt"), ("counter", "ListenOverflows")]
        ),
        1234.0
    );
    assert_eq!(value(&samples, "tcptune_usable_local_ports", &[]), 28232.0);
    assert!(
        samples
            .iter()
            .any(|(name, _, _)| name == "tcptune_orphan_sockets")
    );
    assert_eq!(
        value(&samples, "tcptune_info", &[("profile", "default")]),
        1.0
    );
}

#[test]
fn sockets_export_port_usage_per_destination() {
    let text = text_output(
        tcptune_on("ipv6-port-pressure").args([
            "sockets",
            "--by-destination",
            "--format",
            "prometheus",
        ]),
        0,
    );
    let samples = parse(&text);
    assert_eq!(
        value(
            &samples,
            "tcptune_time_wait_destination_sockets",
            &[("destination", "[2001:db8::5]:443")]
        ),
        700.0
    );
    assert_eq!(
        value(
            &samples,
            "tcptune_time_wait_destination_port_usage_ratio",
            &[("destination", "[2001:db8::5]:443")]
        ),
        0.7778
    );
    assert_eq!(
        value(&samples, "tcptune_tcp_sockets", &[("state", "time_wait")]),
        730.0
    );
}

#[test]
fn the_parser_rejects_what_the_format_forbids() {
    for bad in [
        "tcptune_x 1\n",
        "# HELP tcptune_x h\n# TYPE tcptune_x gauge\ntcptune_x{a=\"1} 2\n",
        "# HELP tcptune_x h\n# TYPE tcptune_x gauge\nother_x 1\n",
        "# HELP tcptune_x h\n# TYPE tcptune_x gauge\ntcptune_x 1\ntcptune_x 2\n",
    ] {
        assert!(
            std::panic::catch_unwind(|| parse(bad)).is_err(),
            "{bad:?} was accepted"
        );
    }
}

#[test]
fn prometheus_is_refused_for_other_commands() {
    let output = tcptune()
        .args(["--format", "prometheus", "profiles"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
}

/// `--output FILE` replaces the file whatever the verdict (a check with
/// findings exits 1 and still publishes), leaves no temporary behind, and
/// keeps the old file when tcptune cannot check at all.
#[test]
fn output_file_is_published_whatever_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tcptune.prom");
    std::fs::write(&file, "# the previous run\n").expect("old file");
    let output = tcptune_on("close-wait-storm")
        .args(["check", "--format", "prometheus", "--output"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "findings: exit 1");
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let text = std::fs::read_to_string(&file).expect("published");
    let samples = parse(&text);
    assert_eq!(
        value(&samples, "tcptune_tcp_sockets", &[("state", "close_wait")]),
        3000.0
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["tcptune.prom"], "no temporary left behind");

    // A check that cannot run keeps the last good file; the alert on its
    // age (TcptuneNotReporting) then tells.
    let empty = tempfile::tempdir().expect("tempdir");
    let failed = tcptune()
        .arg("--proc")
        .arg(empty.path())
        .args(["check", "--format", "prometheus", "--output"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(failed.status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), text);

    // Human output to a file carries no colour unless asked for.
    let human = dir.path().join("report.txt");
    let base = crate::fixture("close-wait-storm");
    let output = tcptune()
        .arg("--proc")
        .arg(base.join("proc"))
        .arg("--root")
        .arg(base.join("root"))
        .args(["check", "--output"])
        .arg(&human)
        .env("CLICOLOR_FORCE", "1")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report = std::fs::read(&human).expect("report");
    assert!(!report.contains(&0x1b), "no escape sequence in the file");
    assert!(String::from_utf8_lossy(&report).contains("close-wait-leak"));
}

/// `tcptune ARGS --format prometheus`, passed through the real `promtool
/// check metrics` (which fails on malformed or badly named metrics).
pub(crate) fn checked_by_promtool(args: &[&str]) -> String {
    promtool_checked(crate::tcptune().args(args))
}

/// The metrics `command` prints with `--format prometheus`, after the real
/// `promtool check metrics` accepted them.
fn promtool_checked(command: &mut assert_cmd::Command) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let output = command
        .args(["--format", "prometheus"])
        .output()
        .expect("run tcptune");
    let text = String::from_utf8(output.stdout).expect("UTF-8 metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (CI installs prometheus)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    text
}

#[test]
fn every_metric_passes_the_real_promtool() {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var("TCPTUNE_REQUIRE_NETNS").as_deref() != Ok("1"),
            "TCPTUNE_REQUIRE_NETNS=1 but promtool (prometheus) is not installed"
        );
        eprintln!("skipping: promtool is not installed");
        return;
    }
    for fixture in ["close-wait-storm", "ipv6-port-pressure", "old-folklore-4.9"] {
        for command in [
            &["check"][..],
            &["sockets", "--processes", "--by-destination"],
        ] {
            let metrics = promtool_checked(tcptune_on(fixture).args(command));
            assert!(
                metrics.contains("tcptune_tcp_sockets{"),
                "{fixture} {command:?}: {metrics}"
            );
        }
    }
}
