#!/usr/bin/env python3
"""Writes a `promtool test rules` file for contrib/prometheus/tcptune.rules.yml
from series taken from tcptune's own output.

    make_tests.py TCPTUNE REPO OUT.yml

Runs `tcptune ... --format prometheus` on the fixture trees, parses every
sample (name, labels, value), adds the labels a Prometheus scrape of
node_exporter adds (`instance`, `job`), and turns each sample into an input
series: constant at the value tcptune printed, or, for the scenarios an
alert is about, moving from that value the way a real incident moves (a
CLOSE_WAIT count that keeps growing, a port share that climbs, a counter
that rises). Expected alerts carry the rule file's own annotations rendered
with the alert's labels, so a change to a rule's text is tested too.
"""

import json
import re
import subprocess
import sys

import yaml

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
MINUTES = 120  # input samples, one a minute


def samples(tcptune, repo, fixture, *args):
    """Every sample of tcptune's Prometheus output on a fixture tree."""
    base = f"{repo}/tests/fixtures/{fixture}"
    result = subprocess.run(
        [tcptune, "--proc", f"{base}/proc", "--root", f"{base}/root", *args,
         "--format", "prometheus"],
        capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        sys.exit(f"tcptune {args} on {fixture} exited {result.returncode}: {result.stderr}")
    found = []
    for line in result.stdout.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            sys.exit(f"not a sample: {line!r}")
        name, labels, value = match.groups()
        found.append((name, dict(LABEL.findall(labels or "")), float(value)))
    if not found:
        sys.exit(f"tcptune printed no samples on {fixture}")
    return found


def selector(name, labels):
    body = ",".join(f'{key}={json.dumps(value)}' for key, value in sorted(labels.items()))
    return f"{name}{{{body}}}"


def constant(value):
    return f"{value:g}x{MINUTES}"


def growing(start, step):
    return f"{start:g}+{step:g}x{MINUTES}"


def series(found, instance, moves=None):
    """Input series for one host; `moves` maps (name, label, value) to a
    values expression replacing the constant."""
    moves = moves or {}
    out = []
    for name, labels, value in found:
        labels = dict(labels, instance=instance, job="node")
        values = constant(value)
        for (moved_name, label, label_value), make in moves.items():
            if name == moved_name and labels.get(label) == label_value:
                values = make(value)
        out.append({"series": selector(name, labels), "values": values})
    return out


def rules_by_name(repo):
    with open(f"{repo}/contrib/prometheus/tcptune.rules.yml") as handle:
        document = yaml.safe_load(handle)
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def expected(rules, alert, labels):
    """An expected alert: its labels plus the rule's own, and the rule's
    annotations rendered with those labels."""
    rule = rules[alert]
    every = dict(labels, **rule.get("labels", {}))

    def render(text):
        def label(match):
            return every.get(match.group(1), "")
        rendered = re.sub(r"\{\{ \$labels\.([a-z_]+) \}\}", label, text)
        if "{{" in rendered:
            sys.exit(f"{alert}: a template make_tests.py cannot render: {text!r}")
        return rendered

    return {
        "exp_labels": every,
        "exp_annotations": {key: render(text) for key, text in rule["annotations"].items()},
    }


def main():
    tcptune, repo, out = sys.argv[1:4]
    rules = rules_by_name(repo)
    storm = samples(tcptune, repo, "close-wait-storm", "check")
    folklore = samples(tcptune, repo, "old-folklore-4.9", "check")
    pressure = samples(tcptune, repo, "ipv6-port-pressure", "sockets", "--by-destination")
    clean = samples(tcptune, repo, "modern-defaults", "check")

    def present(found, name, **labels):
        if not any(n == name and all(l.get(k) == v for k, v in labels.items())
                   for n, l, _ in found):
            sys.exit(f"tcptune's output lacks {name} {labels}: the test would prove nothing")

    present(storm, "tcptune_close_wait_owner_sockets", comm="java")
    present(storm, "tcptune_close_wait_owner_sockets", comm="python3")
    present(folklore, "tcptune_findings", severity="error", key="net.ipv4.tcp_tw_recycle")
    present(pressure, "tcptune_time_wait_destination_port_usage_ratio",
            destination="[2001:db8::5]:443")
    present(clean, "tcptune_kernel_tcp_events_total", counter="TCPTimeWaitOverflow")

    destination = "[2001:db8::5]:443"
    tests = [
        {
            # java's CLOSE_WAIT count grows by 20 a minute from what tcptune
            # saw; python3's stays where it is: only java is a growing leak.
            # The listen queue overflowed before tcptune looked but not since.
            "name": "CLOSE_WAIT leak growing in one program (close-wait-storm)",
            "interval": "1m",
            "input_series": series(storm, "web1", {
                ("tcptune_close_wait_owner_sockets", "comm", "java"):
                    lambda value: growing(value, 20),
            }),
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": "TcptuneCloseWaitLeakGrowing", "exp_alerts": []},
                {"eval_time": "60m", "alertname": "TcptuneCloseWaitLeakGrowing",
                 "exp_alerts": [expected(rules, "TcptuneCloseWaitLeakGrowing",
                                         {"instance": "web1", "comm": "java"})]},
                {"eval_time": "60m", "alertname": "TcptuneListenOverflow", "exp_alerts": []},
                {"eval_time": "60m", "alertname": "TcptuneErrorFinding", "exp_alerts": []},
            ],
        },
        {
            # tcp_tw_recycle=1 on a 4.9 kernel is an error-level finding.
            "name": "error finding (old-folklore-4.9)",
            "interval": "1m",
            "input_series": series(folklore, "legacy1"),
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "TcptuneErrorFinding", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "TcptuneErrorFinding",
                 "exp_alerts": [expected(rules, "TcptuneErrorFinding", {
                     "instance": "legacy1", "code": "harmful-value",
                     "key": "net.ipv4.tcp_tw_recycle"})]},
            ],
        },
        {
            # The share of ports toward one destination climbs 0.5% a minute
            # from the 77.8% tcptune measured: 90% is less than an hour away.
            "name": "port exhaustion ahead (ipv6-port-pressure)",
            "interval": "1m",
            "input_series": series(pressure, "lb1", {
                ("tcptune_time_wait_destination_port_usage_ratio", "destination", destination):
                    lambda value: growing(value, 0.005),
            }),
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "TcptunePortExhaustionAhead",
                 "exp_alerts": [expected(rules, "TcptunePortExhaustionAhead",
                                         {"instance": "lb1", "job": "node",
                                          "destination": destination})]},
            ],
        },
        {
            # The same share, steady: nothing is predicted to run out.
            "name": "steady port use is no alert (ipv6-port-pressure)",
            "interval": "1m",
            "input_series": series(pressure, "lb2"),
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "TcptunePortExhaustionAhead", "exp_alerts": []},
            ],
        },
        {
            # A clean host whose TIME_WAIT bucket table starts overflowing
            # (the counter rises 3 a minute), and whose listen queues do not.
            "name": "TIME_WAIT bucket overflow rate (modern-defaults)",
            "interval": "1m",
            "input_series": series(clean, "api1", {
                ("tcptune_kernel_tcp_events_total", "counter", "TCPTimeWaitOverflow"):
                    lambda value: growing(value, 3),
            }),
            "alert_rule_test": [
                {"eval_time": "30m", "alertname": "TcptuneTimeWaitBucketOverflow",
                 "exp_alerts": [expected(rules, "TcptuneTimeWaitBucketOverflow", {
                     "instance": "api1", "job": "node", "table": "TcpExt",
                     "counter": "TCPTimeWaitOverflow"})]},
                {"eval_time": "30m", "alertname": "TcptuneListenOverflow", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "TcptuneErrorFinding", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "TcptuneCloseWaitLeakGrowing", "exp_alerts": []},
            ],
        },
        {
            # node_exporter's textfile mtime stops moving: tcptune stopped.
            "name": "tcptune stopped reporting",
            "interval": "1m",
            "input_series": [{
                "series": 'node_textfile_mtime_seconds{file="/var/lib/node_exporter/textfile/tcptune.prom",instance="api1",job="node"}',
                "values": f"0x{MINUTES}",
            }],
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": "TcptuneNotReporting", "exp_alerts": []},
                {"eval_time": "40m", "alertname": "TcptuneNotReporting",
                 "exp_alerts": [expected(rules, "TcptuneNotReporting", {
                     "instance": "api1", "job": "node",
                     "file": "/var/lib/node_exporter/textfile/tcptune.prom"})]},
            ],
        },
    ]
    document = {
        "rule_files": [f"{repo}/contrib/prometheus/tcptune.rules.yml"],
        "evaluation_interval": "1m",
        "tests": tests,
    }
    with open(out, "w") as handle:
        yaml.safe_dump(document, handle, sort_keys=False, width=100)


if __name__ == "__main__":
    main()
