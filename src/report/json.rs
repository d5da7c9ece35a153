//! JSON documents: the machine contract. Every document has
//! `"schema_version": 1`; field names are snake_case.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{
    CheckReport, Document, DocumentKind, Explanation, PlanView, Render, SCHEMA_VERSION,
    SocketsReport, destinations,
};
use crate::apply::Outcome;
use crate::journal::format_time;
use crate::plan::Plan;
use crate::profile::{Listing, Profile};

/// The machine contract: one JSON document per command.
pub struct Json;

impl Render for Json {
    fn prints(&self, _kind: DocumentKind) -> bool {
        true
    }

    fn render(&self, out: &mut dyn Write, document: &Document<'_>) -> io::Result<()> {
        match value(document) {
            Some(value) => write(out, &value),
            None => Ok(()),
        }
    }
}

/// Every namespace's document, labelled with the namespace, in one array;
/// the summary (for check) is the worst of them.
fn per_namespace(all: &super::PerNamespace<'_>) -> Value {
    let namespaces: Vec<Value> = all
        .sections
        .iter()
        .map(|section| {
            let mut document = value(&section.document).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut document {
                map.remove("schema_version");
                map.remove("tcptune_version");
            }
            json!({
                "netns": {
                    "label": section.namespace.label(),
                    "dev": section.namespace.dev,
                    "inode": section.namespace.inode,
                    "host": section.namespace.host,
                    "names": section.namespace.names,
                    "pids": section.namespace.pids,
                    "process_count": section.namespace.process_count,
                    "comm": section.namespace.comm,
                    "owner": section.namespace.owner,
                    "pod": section.namespace.pod(),
                },
                "report": document,
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "namespaces": namespaces,
        "vanished": all.vanished,
    })
}

/// A document's JSON value; None for the previews JSON does not print.
fn value(document: &Document<'_>) -> Option<Value> {
    Some({
        match document {
            Document::PerNamespace(all) => per_namespace(all),
            Document::Check(report) => check(report),
            Document::Sockets(report) => sockets(report),
            // In JSON, apply prints one document: the outcome (or, when
            // nothing happens, an outcome with `"changed": false`), and
            // rollback likewise; the previews are for people.
            Document::Plan(_, PlanView::Preview) | Document::RollbackPreview(_) => return None,
            Document::Plan(plan_, view) => plan(plan_, *view),
            Document::Diff(report) => {
                let mut value = plan(report.plan, PlanView::Diff);
                choice(&mut value, report.choice);
                value
            }
            Document::Status(report) => status(report),
            Document::Recommendation(recommendation) => json!({
                "schema_version": SCHEMA_VERSION,
                "tcptune_version": env!("CARGO_PKG_VERSION"),
                "profile": recommendation.profile,
                "reason": recommendation.reason,
                "evidence": recommendation.evidence,
                "considered": recommendation.considered,
                "applied": false,
            }),
            Document::Outcome(outcome_, view) => {
                outcome(outcome_, *view == super::OutcomeView::Rollback)
            }
            Document::Lint(report) => lint(report.files, report.findings),
            Document::History(report) => history(report),
            Document::ProfileList(listings) => profile_list(listings),
            Document::Profile(profile_) => profile(profile_),
            Document::Explanation(explanation) => explain(explanation),
        }
    })
}

fn write(out: &mut dyn Write, document: &Value) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, document)?;
    writeln!(out)?;
    super::finish(out)
}

fn check(report: &CheckReport<'_>) -> Value {
    let facts = report.facts;
    let mut sockets = json!({
        "states": facts.census.states,
        "source": facts.census.source,
        "listeners": facts.census.listeners,
    });
    if let Some(owners) = &facts.close_wait_owners {
        sockets["close_wait_owners"] = json!(owners.owners);
        sockets["close_wait_unknown_owner"] = json!(owners.unknown);
    }
    connection_evidence(&mut sockets, &facts.census);
    let mut value = json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "kernel": report.kernel,
        "profile": report.profile.name,
        "profile_sources": report.profile.sources,
        "summary": report.summary,
        "findings": report.findings,
        "sockets": sockets,
        "counters": {
            "tcp_ext": evidence_counters(facts),
            "sockstat": facts.sockstat,
        },
        "sample": facts.sample,
        "counter_window": counter_window(facts),
        "conntrack": conntrack(facts),
    });
    choice(&mut value, report.choice);
    value
}

/// What the connections' own `tcp_info` showed: idle connections (when the
/// profile names an idle timeout) and connections held back by a buffer.
fn connection_evidence(sockets: &mut Value, census: &crate::census::Census) {
    if let Some(after_ms) = census.idle_after_ms {
        sockets["idle"] = json!({
            "after_seconds": after_ms / 1000,
            "without_keepalive": census.idle.without_keepalive,
            "with_keepalive": census.idle.with_keepalive,
            "peers_without_keepalive": census
                .idle_peers()
                .iter()
                .map(|(peer, count)| json!({"peer": peer.to_string(), "connections": count}))
                .collect::<Vec<_>>(),
            "holders": census.idle.holders,
        });
    }
    if census.busy_times != crate::census::BusyTimesSeen::default() {
        sockets["busy_times"] = json!(census.busy_times);
        sockets["buffer_limited"] = census
            .buffer_limited
            .iter()
            .map(|connection| {
                let info = &connection.info;
                json!({
                    "local": connection.local.to_string(),
                    "peer": connection.remote.to_string(),
                    "busy_us": connection.busy.busy_us,
                    "receive_window_limited_us": connection.busy.receive_window_limited_us,
                    "send_buffer_limited_us": connection.busy.send_buffer_limited_us,
                    "rtt_us": info.rtt_us,
                    "min_rtt_us": info.min_rtt_us,
                    "congestion_window": info.congestion_window,
                    "send_mss": info.send_mss,
                    "peer_window_bytes": info.send_window,
                    "send_buffer_bytes": info.send_buffer,
                    "delivery_rate_bytes_per_second": info.delivery_rate,
                    "bytes_acked": info.bytes_acked,
                    "holder": connection.holder,
                })
            })
            .collect();
    }
}

/// `profile_source` and, for the active profile, `active`.
fn choice(value: &mut Value, choice: &crate::active::ProfileChoice) {
    value["profile_source"] = json!(choice.source);
    if let Some(entry) = &choice.active {
        value["active"] = active_entry(entry, &choice.changed_files);
    }
}

fn active_entry(entry: &crate::active::Entry, changed_files: &[String]) -> Value {
    json!({
        "profile": entry.profile,
        "layers": entry.layers,
        "transaction": entry.transaction.map(|id| id.to_string()),
        "recorded": format_time(entry.recorded),
        "changed_files": changed_files,
    })
}

fn status(report: &super::StatusReport<'_>) -> Value {
    let status = report.status;
    json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "target": report.target,
        "active": status
            .active
            .as_ref()
            .map(|entry| active_entry(entry, &status.changed_files)),
        "last_transaction": status.last_transaction.as_ref().map(|record| json!({
            "id": record.id.to_string(),
            "kind": record.kind,
            "state": record.state,
            "created": format_time(record.created),
            "profile": record.profile,
        })),
        "keys": status.keys,
        "attention": status.attention(),
    })
}

/// Connection tracking in this namespace, where it is loaded: the count,
/// the machine's limit and buckets, and the summed per-CPU statistics.
fn conntrack(facts: &crate::facts::Facts) -> Value {
    match facts.integer("net.netfilter.nf_conntrack_count") {
        Some(count) => json!({
            "count": count,
            "max": facts.integer("net.netfilter.nf_conntrack_max"),
            "buckets": facts.integer("net.netfilter.nf_conntrack_buckets"),
            "stat": facts.counters.conntrack,
        }),
        None => Value::Null,
    }
}

/// What the rules judged the counters over, with the change of each
/// evidence counter (and its rate, when the window has a length).
fn counter_window(facts: &crate::facts::Facts) -> Value {
    let window = &facts.counter_window;
    let mut changes = serde_json::Map::new();
    let mut per_second = serde_json::Map::new();
    for (table, name) in super::KERNEL_COUNTERS {
        let change = super::counter_table(&window.changes, table)
            .get(*name)
            .copied();
        if let Some(change) = change {
            changes.insert((*name).to_owned(), json!(change));
            if let Some(rate) = window.per_second(change) {
                per_second.insert((*name).to_owned(), json!(rate));
            }
        }
    }
    json!({
        "basis": window.basis,
        "seconds": window.seconds,
        "note": window.note,
        "changes": changes,
        "per_second": per_second,
    })
}

/// The counters the rules read, not the hundred-odd others.
fn evidence_counters(facts: &crate::facts::Facts) -> Value {
    const NAMES: &[&str] = &[
        "TCPTimeWaitOverflow",
        "ListenOverflows",
        "ListenDrops",
        "SyncookiesSent",
        "SyncookiesRecv",
        "SyncookiesFailed",
        "TCPReqQFullDoCookies",
        "TCPReqQFullDrop",
        "TCPMemoryPressures",
        "PAWSActive",
        "PAWSEstab",
        "TCPAbortOnMemory",
        "TCPAbortOnTimeout",
    ];
    let map: serde_json::Map<String, Value> = NAMES
        .iter()
        .filter_map(|name| {
            facts
                .counters
                .tcp_ext(name)
                .map(|value| ((*name).to_owned(), json!(value)))
        })
        .collect();
    Value::Object(map)
}

fn sockets(report: &SocketsReport<'_>) -> Value {
    let facts = report.facts;
    let mut document = json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "kernel": facts.kernel_release,
        "source": facts.census.source,
        "states": facts.census.states,
        "total": facts.census.states.total(),
        "time_wait_count": facts.census.time_wait_count,
        "listeners": facts.census.listeners,
    });
    if let Some(sockstat) = facts.sockstat {
        document["sockstat"] = json!(sockstat);
        document["orphans"] = json!({
            "count": sockstat.orphan,
            "max": facts.integer("net.ipv4.tcp_max_orphans"),
        });
    }
    document["time_wait_limit"] = json!({
        "count": facts.time_wait_count(),
        "max": facts.integer("net.ipv4.tcp_max_tw_buckets"),
    });
    if let Some(sample) = &facts.sample {
        document["sample"] = json!(sample);
    }
    if report.processes {
        let owners = facts.close_wait_owners.clone().unwrap_or_default();
        document["close_wait_owners"] = json!(owners.owners);
        document["close_wait_unknown_owner"] = json!(owners.unknown);
    }
    if report.by_destination {
        let rows: Vec<Value> = destinations(facts)
            .into_iter()
            .map(|row| {
                json!({
                    "destination": row.destination,
                    "count": row.count,
                    "port_range_size": row.port_range_size,
                    "usage": row.usage,
                })
            })
            .collect();
        document["time_wait_by_destination"] = Value::Array(rows);
    }
    document
}

fn profile_list(listings: &[Listing]) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "profiles": listings,
    })
}

fn profile(profile: &Profile) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "profile": profile,
    })
}

fn explain(explanation: &Explanation<'_>) -> Value {
    match explanation {
        Explanation::List { topics, keys } => json!({
            "schema_version": SCHEMA_VERSION,
            "topics": topics
                .iter()
                .map(|topic| json!({"topic": topic.name, "title": topic.title}))
                .collect::<Vec<_>>(),
            "keys": keys
                .iter()
                .map(|info| json!({"key": info.key, "summary": info.summary}))
                .collect::<Vec<_>>(),
        }),
        Explanation::Topic(topic) => json!({
            "schema_version": SCHEMA_VERSION,
            "topic": topic.name,
            "title": topic.title,
            "text": topic.paragraphs,
        }),
        Explanation::Key {
            view,
            kernel,
            reading,
        } => json!({
            "schema_version": SCHEMA_VERSION,
            "key": view.key,
            "summary": view.summary,
            "evaluated_for": view.kernel,
            "exists": view.exists,
            "default": view.default,
            "values": view.values,
            "scope": view.scope,
            "folklore": view.folklore,
            "added_in": view.added_in,
            "removed_in": view.removed_in,
            "history": view.history,
            "kernel": kernel,
            "live": reading,
        }),
        Explanation::VendorOnly { key, why } => json!({
            "schema_version": SCHEMA_VERSION,
            "key": key,
            "summary": why,
            "mainline": false,
        }),
    }
}

/// `diff`, `apply --dry-run`, and `apply` with nothing to do.
fn plan(plan: &Plan, view: PlanView) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|change| {
            json!({
                "key": change.key,
                "from": change.from,
                "to": change.to,
                "status": change.status,
                "persisted": change.persisted,
                "why": change.why,
                "note": change.note,
            })
        })
        .collect();
    if view == PlanView::NothingToDo {
        // Same shape as an apply that changed something, so a caller reads
        // one document whatever happened.
        let changes: Vec<Value> = plan
            .changes
            .iter()
            .map(|change| json!({"key": change.key, "from": change.from, "to": change.to, "status": change.status}))
            .collect();
        return json!({
            "schema_version": SCHEMA_VERSION,
            "tcptune_version": env!("CARGO_PKG_VERSION"),
            "changed": false,
            "transaction": Value::Null,
            "file": plan.file,
            "changes": changes,
            "profile": plan.profile,
            "profile_sources": plan.profile_sources,
            "file_written": false,
            "shadows": plan.shadows,
        });
    }
    let mut document = json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "profile": plan.profile,
        "profile_sources": plan.profile_sources,
        "file": plan.file,
        "changes": changes,
        "live": plan.live,
        "not_persisted": plan.not_persisted,
    });
    match view {
        PlanView::Diff => {
            document["pending"] = json!(!plan.is_empty());
            document["file_diff"] = json!(plan.file_diff());
            document["shadows"] = json!(plan.shadows);
            document["dropped"] = json!(plan.dropped);
        }
        PlanView::DryRun | PlanView::NothingToDo | PlanView::Preview => {
            document["changed"] = json!(false);
            document["transaction"] = Value::Null;
            document["dry_run"] = json!(view == PlanView::DryRun);
            if view == PlanView::DryRun {
                document["file_diff"] = json!(plan.file_diff());
                document["shadows"] = json!(plan.shadows);
                document["dropped"] = json!(plan.dropped);
            }
        }
    }
    document
}

/// `apply` and `rollback`.
fn outcome(outcome: &Outcome, rollback: bool) -> Value {
    let mut document = json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "changed": outcome.changed,
        "transaction": outcome.transaction,
        "file": if outcome.file.as_os_str().is_empty() { Value::Null } else { json!(outcome.file) },
        "changes": outcome.changes,
        "file_written": outcome.file_written,
    });
    if let Some(profile) = &outcome.profile {
        document["profile"] = json!(profile);
    }
    if rollback {
        document["rolled_back"] = json!(outcome.rolled_back);
    } else {
        document["shadows"] = json!(outcome.shadows);
    }
    if !rollback {
        document["profile_sources"] = json!(outcome.profile_sources);
    }
    if let Some((id, path)) = &outcome.forgotten {
        document["forgotten"] = json!({"id": id, "path": path});
    }
    document
}

fn history(report: &super::HistoryReport<'_>) -> Value {
    let transactions: Vec<Value> = report
        .records
        .iter()
        .map(|entry| {
            json!({
                "id": entry.id.to_string(),
                "kind": entry.kind,
                "state": entry.state,
                "created": format_time(entry.created),
                "profile": entry.profile,
                "file": entry.file.path,
                "keys": entry.keys,
                "rolls_back": entry.rolls_back.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "rolled_back_by": entry.rolled_back_by.map(|id| id.to_string()),
                "failure": entry.failure,
                "target": entry.target,
                "live": entry.live,
                "unrestored": entry.unrestored,
                "skipped": entry.skipped,
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "transactions": transactions,
        "unreadable": report.unreadable.iter().map(|bad| json!({
            "id": bad.id.to_string(),
            "path": bad.path,
            "reason": bad.reason,
        })).collect::<Vec<_>>(),
    })
}

fn lint(files: &[std::path::PathBuf], findings: &[crate::finding::Finding]) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "tcptune_version": env!("CARGO_PKG_VERSION"),
        "files": files,
        "summary": crate::finding::Summary::of(findings),
        "findings": findings,
    })
}
