//! The JSON Schemas under `schema/` against what tcptune really prints.
//!
//! Every document comes from the real binary: `check` on every fixture tree
//! with every built-in profile, `sockets` with `--processes --by-destination`
//! (and `--sample`), `lint` on the lint fixtures, and the whole transaction
//! family (`diff`, `apply --dry-run`, `apply` twice, `rollback`, `history`)
//! against a writable copy of a fixture's `/proc` and a temporary `--root`;
//! one test also reads the running kernel with `check` and `sockets`, which
//! only read. Nothing here writes to the host. The schemas must also be
//! valid draft 2020-12, describe every field, agree with each other where
//! they share a definition, list exactly the finding codes of
//! `src/finding.rs`, and reject documents that break the contract: a schema
//! that accepts anything would pass the first half on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::{Scene, fixture, tcptune, tcptune_on};

/// Every schema file `schema/` must hold.
const SCHEMAS: &[&str] = &[
    "check",
    "diff",
    "history",
    "lint",
    "netns",
    "recommend",
    "sockets",
    "status",
    "transaction",
];

/// Codes the design contract requires (DESIGN.md); more are welcome.
const CONTRACT_CODES: &[&str] = &[
    "drift",
    "obsolete-key",
    "harmful-value",
    "not-persisted",
    "shadowed",
    "close-wait-leak",
    "port-exhaustion",
    "tw-bucket-overflow",
    "listen-overflow",
];

const BUILT_IN_PROFILES: &[&str] = &["default", "webserver", "loadbalancer", "database"];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `schema/NAME.schema.json`, parsed.
fn schema(name: &str) -> Value {
    let path = manifest_dir()
        .join("schema")
        .join(format!("{name}.schema.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path:?}: {error}"))
}

/// A validator for one schema, with `format` checked too. No retriever is
/// configured (the crate is built without its file and HTTP resolvers), so
/// a remote `$ref` would fail here instead of reaching the network.
fn validator(name: &str) -> jsonschema::Validator {
    let schema = schema(name);
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|error| panic!("schema/{name}.schema.json does not compile: {error}"))
}

fn errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[track_caller]
pub(crate) fn assert_valid(name: &str, document: &Value, what: &str) {
    let found = errors(&validator(name), document);
    assert!(
        found.is_empty(),
        "{what} does not match schema/{name}.schema.json:\n  {}\ndocument: {document:#}",
        found.join("\n  ")
    );
}

#[track_caller]
fn assert_invalid(name: &str, document: &Value, what: &str) {
    assert!(
        !validator(name).is_valid(document),
        "schema/{name}.schema.json accepts {what}: {document:#}"
    );
}

/// Runs, asserts the exit code is one of `codes`, parses stdout; returns
/// the code too.
fn run_json(command: &mut assert_cmd::Command, codes: &[i32]) -> (i32, Value) {
    let output = command.output().expect("run tcptune");
    let code = output.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "exit {code}, wanted one of {codes:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (code, document)
}

/// Fixture trees that look like a host (they have a `proc/` with a kernel
/// release; the hostile corpus's broken trees do not count).
fn host_fixtures() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(manifest_dir().join("tests/fixtures"))
        .expect("tests/fixtures")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("proc/sys/kernel/osrelease").is_file())
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    assert!(
        names.len() >= 6,
        "expected the six host fixtures, found {names:?}"
    );
    names
}

fn severity_rank(severity: &Value) -> u8 {
    match severity.as_str() {
        Some("error") => 2,
        Some("warning") => 1,
        Some("info") => 0,
        other => panic!("not a severity: {other:?}"),
    }
}

/// What the schema cannot say about a findings document: the summary counts
/// the findings, and the exit code follows the default `--fail-on warning`.
#[track_caller]
fn assert_summary_and_exit_code(document: &Value, code: i32, what: &str) {
    let findings = document["findings"].as_array().expect("findings");
    for severity in ["error", "warning", "info"] {
        let counted = findings
            .iter()
            .filter(|finding| finding["severity"] == severity)
            .count();
        assert_eq!(
            document["summary"][severity],
            json!(counted),
            "{what}: summary.{severity}"
        );
    }
    let failing = findings
        .iter()
        .any(|finding| severity_rank(&finding["severity"]) >= 1);
    assert_eq!(code, i32::from(failing), "{what}: exit code");
}

#[test]
fn schemas_are_draft_2020_12_and_describe_every_field() {
    let mut on_disk: Vec<String> = fs::read_dir(manifest_dir().join("schema"))
        .expect("schema/")
        .filter_map(|entry| {
            let name = entry.expect("entry").file_name().into_string().ok()?;
            Some(name.strip_suffix(".schema.json")?.to_owned())
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, SCHEMAS, "schema/*.schema.json");
    for name in SCHEMAS {
        let document = schema(name);
        assert_eq!(
            document["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        if let Err(error) = jsonschema::draft202012::meta::validate(&document) {
            panic!("schema/{name}.schema.json is not a valid 2020-12 schema: {error}");
        }
        // Compiling resolves every $ref; an unresolved one fails here.
        validator(name);
        assert_eq!(
            document["properties"]["schema_version"],
            json!({
                "description": "Version of this document's shape. 1 until a field is removed, renamed or changes meaning; additions keep it.",
                "const": 1
            }),
            "{name}: schema_version"
        );
        let mut undescribed = Vec::new();
        undocumented_properties(&document, &document, "#", &mut undescribed);
        assert!(
            undescribed.is_empty(),
            "schema/{name}.schema.json: properties without a description: {undescribed:?}"
        );
    }
}

/// Collects every property (at any depth) whose schema has no description,
/// directly or through the `$ref` it consists of.
fn undocumented_properties(root: &Value, node: &Value, at: &str, found: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, property) in properties {
                    if !described(root, property) {
                        found.push(format!("{at}/properties/{name}"));
                    }
                }
            }
            // `if`/`then`/`else`/`not` only narrow properties declared
            // elsewhere (`{"const": true}`); the declarations carry the text.
            for (key, child) in map {
                if !matches!(key.as_str(), "if" | "then" | "else" | "not") {
                    undocumented_properties(root, child, &format!("{at}/{key}"), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                undocumented_properties(root, child, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

fn described(root: &Value, property: &Value) -> bool {
    if property.get("description").is_some() {
        return true;
    }
    // A declaration that is only a `$ref` borrows the target's text.
    match property.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .is_some_and(|target| target.get("description").is_some()),
        None => false,
    }
}

#[test]
fn shared_definitions_agree_across_schemas() {
    let mut seen: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut shared = BTreeSet::new();
    for name in SCHEMAS {
        let document = schema(name);
        let definitions = document["$defs"].as_object().expect("$defs");
        for (definition, body) in definitions {
            match seen.get(definition) {
                Some((first, earlier)) => {
                    assert_eq!(
                        body, earlier,
                        "$defs/{definition} differs between {first} and {name}: keep the copies equal"
                    );
                    shared.insert(definition.clone());
                }
                None => {
                    seen.insert(definition.clone(), ((*name).to_owned(), body.clone()));
                }
            }
        }
    }
    // The copies this test exists for; if they stop being shared, it should
    // be on purpose.
    for definition in [
        "code", "finding", "severity", "summary", "states", "sockstat", "key", "id",
    ] {
        assert!(shared.contains(definition), "{definition} is not shared");
    }
}

/// The codes `Code::name` returns, read from the source text: the
/// `=> "..."` arms of the `impl Code` block.
/// Every finding code tcptune can emit, as the library declares them (the
/// names are derived from the enum, so they cannot drift from it).
fn codes_in_source() -> BTreeSet<String> {
    let codes: BTreeSet<String> = tcptune::finding::Code::ALL
        .iter()
        .map(|code| code.name().to_owned())
        .collect();
    assert_eq!(
        codes.len(),
        tcptune::finding::Code::ALL.len(),
        "two finding codes share a name"
    );
    assert!(codes.iter().all(
        |code| !code.is_empty() && code.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-')
    ));
    codes
}

#[test]
fn finding_codes_in_the_schemas_are_exactly_those_of_the_source() {
    let source = codes_in_source();
    for code in CONTRACT_CODES {
        assert!(source.contains(*code), "contract code {code} is missing");
    }
    for name in ["check", "lint"] {
        let listed: BTreeSet<String> = schema(name)["$defs"]["code"]["enum"]
            .as_array()
            .expect("code enum")
            .iter()
            .map(|code| code.as_str().expect("code").to_owned())
            .collect();
        assert_eq!(
            listed, source,
            "schema/{name}.schema.json code enum vs src/finding.rs"
        );
    }
    let readme =
        fs::read_to_string(manifest_dir().join("schema/README.md")).expect("schema/README.md");
    for code in &source {
        assert!(
            readme.contains(&format!("`{code}`")),
            "schema/README.md does not document {code}"
        );
    }
}

#[test]
fn check_output_on_every_fixture_and_profile_matches() {
    let mut codes_seen = BTreeSet::new();
    for name in host_fixtures() {
        for profile in BUILT_IN_PROFILES {
            let what = format!("check --profile {profile} on {name}");
            let (code, document) = run_json(
                tcptune_on(&name).args(["check", "--profile", profile, "--format", "json"]),
                &[0, 1],
            );
            assert_valid("check", &document, &what);
            assert_summary_and_exit_code(&document, code, &what);
            let ranks: Vec<u8> = document["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .map(|finding| severity_rank(&finding["severity"]))
                .collect();
            assert!(
                ranks.windows(2).all(|pair| pair[0] >= pair[1]),
                "{what}: findings not most severe first: {ranks:?}"
            );
            for finding in document["findings"].as_array().expect("findings") {
                codes_seen.insert(finding["code"].as_str().unwrap_or("").to_owned());
            }
        }
    }
    // The fixtures exercise the socket and counter rules too, so the schema
    // is tried on their evidence, not only on drift.
    for code in [
        "drift",
        "harmful-value",
        "close-wait-leak",
        "listen-overflow",
        "port-exhaustion",
        "tw-bucket-overflow",
        "shadowed",
    ] {
        assert!(
            codes_seen.contains(code),
            "no fixture produced {code}: {codes_seen:?}"
        );
    }
}

#[test]
fn check_with_sample_and_layered_profiles_matches() {
    let (code, document) = run_json(
        tcptune_on("ipv6-port-pressure").args([
            "check",
            "--profile",
            "default",
            "--profile",
            "loadbalancer",
            "--sample",
            "0.1",
            "--format",
            "json",
        ]),
        &[0, 1],
    );
    assert!(document["sample"].is_object(), "{document:#}");
    assert_eq!(document["profile"], "default+loadbalancer");
    assert_valid("check", &document, "check --sample");
    assert_summary_and_exit_code(&document, code, "check --sample");
}

#[test]
fn sockets_output_matches() {
    for name in host_fixtures() {
        let what = format!("sockets --processes --by-destination on {name}");
        let (_, document) = run_json(
            tcptune_on(&name).args([
                "sockets",
                "--processes",
                "--by-destination",
                "--format",
                "json",
            ]),
            &[0],
        );
        assert_valid("sockets", &document, &what);
        assert!(document["close_wait_owners"].is_array(), "{what}");
        let rows = document["time_wait_by_destination"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: time_wait_by_destination"));
        let counts: Vec<u64> = rows
            .iter()
            .map(|row| row["count"].as_u64().expect("count"))
            .collect();
        assert!(
            counts.windows(2).all(|pair| pair[0] >= pair[1]),
            "{what}: not sorted by count, descending: {counts:?}"
        );
        let states: u64 = document["states"]
            .as_object()
            .expect("states")
            .values()
            .map(|count| count.as_u64().expect("count"))
            .sum();
        assert_eq!(document["total"], json!(states), "{what}: total");

        let (_, plain) = run_json(
            tcptune_on(&name).args(["sockets", "--format", "json"]),
            &[0],
        );
        assert_valid("sockets", &plain, &format!("sockets on {name}"));
        assert!(plain.get("close_wait_owners").is_none());
        assert!(plain.get("time_wait_by_destination").is_none());
    }
    let (_, sampled) = run_json(
        tcptune_on("ipv6-port-pressure").args([
            "sockets",
            "--by-destination",
            "--sample",
            "0.1",
            "--format",
            "json",
        ]),
        &[0],
    );
    assert!(sampled["sample"]["destinations"].is_array(), "{sampled:#}");
    assert_valid("sockets", &sampled, "sockets --sample");
}

/// The running kernel, read only (`check` and `sockets` change nothing; the
/// root is an empty temporary directory): real addresses, real counters,
/// and the netlink census where tcptune uses it.
#[test]
fn live_kernel_output_matches() {
    let root = tempfile::tempdir().expect("tempdir");
    let live = || {
        let mut command = tcptune();
        command
            .arg("--root")
            .arg(root.path())
            .args(["--color", "never", "--format", "json"]);
        command
    };
    let (code, check) = run_json(live().arg("check"), &[0, 1]);
    assert_valid("check", &check, "check on this machine");
    assert_summary_and_exit_code(&check, code, "check on this machine");
    let (_, sockets) = run_json(
        live().args(["sockets", "--processes", "--by-destination"]),
        &[0],
    );
    assert_valid("sockets", &sockets, "sockets on this machine");
}

#[test]
fn lint_output_matches() {
    let dir = fixture("lint");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/fixtures/lint")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (code, all) = run_json(
        tcptune()
            .args(["--color", "never", "--format", "json", "lint"])
            .args(&files),
        &[0, 1],
    );
    assert_valid("lint", &all, "lint on every lint fixture");
    assert_summary_and_exit_code(&all, code, "lint on every lint fixture");
    assert!(
        !all["findings"].as_array().expect("findings").is_empty(),
        "the lint fixtures have findings"
    );
    for file in &files {
        let what = format!("lint {}", file.display());
        let (code, document) = run_json(
            tcptune()
                .args(["--color", "never", "--format", "json", "lint"])
                .arg(file),
            &[0, 1],
        );
        assert_valid("lint", &document, &what);
        assert_summary_and_exit_code(&document, code, &what);
    }
}

/// The whole transaction family, in the order an operator would run it.
/// Each document is also checked for being the one it should be, so a
/// schema match is never vacuous.
#[test]
fn diff_apply_rollback_and_history_output_matches() {
    let scene = Scene::new();
    fs::create_dir_all(scene.root().join("etc")).expect("etc");
    // A later assignment (procps reads /etc/sysctl.conf after sysctl.d), so
    // `shadows` is not empty.
    fs::write(
        scene.root().join("etc/sysctl.conf"),
        "net.ipv4.tcp_fin_timeout = 60\n",
    )
    .expect("sysctl.conf");

    let history = scene.json(&["history"], 0);
    assert_eq!(history["transactions"], json!([]));
    assert_valid("history", &history, "history with no journal");

    let nothing = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(nothing["changed"], false);
    assert_valid("transaction", &nothing, "rollback with nothing to undo");

    let diff = scene.json(&["diff", "--profile", "webserver"], 1);
    assert_eq!(diff["pending"], true);
    assert!(!diff["shadows"].as_array().expect("shadows").is_empty());
    assert_valid("diff", &diff, "diff with changes pending");

    let dry_run = scene.json(&["apply", "--profile", "webserver", "--dry-run"], 0);
    assert_eq!(dry_run["dry_run"], true);
    assert_eq!(dry_run["changed"], false);
    assert_valid("transaction", &dry_run, "apply --dry-run");

    let applied = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(applied["changed"], true);
    assert_eq!(applied["transaction"], "1");
    assert_valid("transaction", &applied, "apply");

    let again = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    assert_eq!(again["changed"], false);
    assert_eq!(again["transaction"], Value::Null);
    assert_valid("transaction", &again, "a second identical apply");

    let clean = scene.json(&["diff", "--profile", "webserver"], 0);
    assert_eq!(clean["pending"], false);
    assert_valid("diff", &clean, "diff with nothing pending");

    let second = scene.json(&["apply", "--profile", "loadbalancer", "--yes"], 0);
    assert_eq!(second["transaction"], "2");
    assert_valid("transaction", &second, "apply of another profile");

    let undone = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(undone["changed"], true);
    assert_eq!(undone["rolled_back"], json!(["2"]));
    assert!(!undone["changes"].as_array().expect("changes").is_empty());
    assert_valid("transaction", &undone, "rollback");

    let to_first = scene.json(&["rollback", "--yes", "--to", "1"], 0);
    assert_eq!(to_first["rolled_back"], json!(["1"]));
    assert_valid("transaction", &to_first, "rollback --to 1");

    let none_left = scene.json(&["rollback", "--yes"], 0);
    assert_eq!(none_left["changed"], false);
    assert_valid("transaction", &none_left, "rollback with everything undone");

    let history = scene.json(&["history"], 0);
    let states: Vec<(&str, &str)> = history["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap_or(""),
                entry["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("apply", "rolled_back"),
            ("apply", "rolled_back"),
            ("rollback", "committed"),
            ("rollback", "committed"),
        ]
    );
    assert_valid(
        "history",
        &history,
        "history after two applies and rollbacks",
    );
}

/// Real documents, each once valid, broken one contract rule at a time.
#[test]
fn schemas_reject_documents_that_break_the_contract() {
    let (_, check) = run_json(
        tcptune_on("old-folklore-4.9").args(["check", "--format", "json"]),
        &[1],
    );
    let (_, sockets) = run_json(
        tcptune_on("close-wait-storm").args([
            "sockets",
            "--processes",
            "--by-destination",
            "--format",
            "json",
        ]),
        &[0],
    );
    let (_, lint) = run_json(
        tcptune()
            .args(["--format", "json", "lint"])
            .arg(fixture("lint/folklore.conf")),
        &[1],
    );
    let scene = Scene::new();
    let diff = scene.json(&["diff", "--profile", "webserver"], 1);
    let applied = scene.json(&["apply", "--profile", "webserver", "--yes"], 0);
    let rolled_back = scene.json(&["rollback", "--yes"], 0);
    let history = scene.json(&["history"], 0);
    let documents = [
        ("check", &check),
        ("sockets", &sockets),
        ("lint", &lint),
        ("diff", &diff),
        ("transaction", &applied),
        ("transaction", &rolled_back),
        ("history", &history),
    ];

    type Breakage = (&'static str, fn(&mut Value));
    let everywhere: [Breakage; 3] = [
        ("no schema_version", |document| {
            document
                .as_object_mut()
                .expect("object")
                .remove("schema_version");
        }),
        ("schema_version 2", |document| {
            document["schema_version"] = json!(2);
        }),
        ("schema_version \"1\"", |document| {
            document["schema_version"] = json!("1");
        }),
    ];
    let with_findings: [Breakage; 5] = [
        ("a severity `critical`", |document| {
            document["findings"][0]["severity"] = json!("critical");
        }),
        ("an upper-case severity", |document| {
            document["findings"][0]["severity"] = json!("Error");
        }),
        ("an unknown finding code", |document| {
            document["findings"][0]["code"] = json!("tcp-is-slow");
        }),
        ("a finding without a fix", |document| {
            document["findings"][0]
                .as_object_mut()
                .expect("finding")
                .remove("fix");
        }),
        ("a summary with a fourth severity", |document| {
            document["summary"]["fatal"] = json!(0);
        }),
    ];
    let per_schema: [(&str, Breakage); 12] = [
        (
            "check",
            ("a census without closing", |document| {
                document["sockets"]["states"]
                    .as_object_mut()
                    .expect("states")
                    .remove("closing");
            }),
        ),
        (
            "check",
            ("a camelCase state", |document| {
                document["sockets"]["states"]["timeWait"] = json!(0);
            }),
        ),
        (
            "sockets",
            ("a negative count", |document| {
                document["states"]["time_wait"] = json!(-1);
            }),
        ),
        (
            "sockets",
            ("an unknown source", |document| {
                document["source"] = json!("ss");
            }),
        ),
        (
            "sockets",
            ("an owner without a pid", |document| {
                document["close_wait_owners"][0]
                    .as_object_mut()
                    .expect("owner")
                    .remove("pid");
            }),
        ),
        (
            "lint",
            ("a finding without a location", |document| {
                document["findings"][0]
                    .as_object_mut()
                    .expect("finding")
                    .remove("location");
            }),
        ),
        (
            "diff",
            ("no pending", |document| {
                document.as_object_mut().expect("object").remove("pending");
            }),
        ),
        (
            "diff",
            ("an unknown status", |document| {
                document["changes"][0]["status"] = json!("maybe");
            }),
        ),
        (
            "transaction",
            ("changed as a string", |document| {
                document["changed"] = json!("true");
            }),
        ),
        (
            "transaction",
            ("a change without a transaction id", |document| {
                if document["changed"] == true {
                    document["transaction"] = Value::Null;
                } else {
                    document["transaction"] = json!("7");
                }
            }),
        ),
        (
            "history",
            ("an unknown state", |document| {
                document["transactions"][0]["state"] = json!("done");
            }),
        ),
        (
            "history",
            ("a numeric id", |document| {
                document["transactions"][0]["id"] = json!(1);
            }),
        ),
    ];

    let mut rejected = 0;
    for (name, document) in documents {
        assert_valid(
            name,
            document,
            &format!("the {name} document before breaking it"),
        );
        let mut breakages: Vec<&Breakage> = everywhere.iter().collect();
        if document.get("findings").is_some() {
            assert!(
                !document["findings"]
                    .as_array()
                    .expect("findings")
                    .is_empty(),
                "{name}: need a finding to break"
            );
            breakages.extend(with_findings.iter());
        }
        breakages.extend(
            per_schema
                .iter()
                .filter(|(schema, _)| *schema == name)
                .map(|(_, breakage)| breakage),
        );
        for (what, break_it) in breakages {
            let mut broken = document.clone();
            break_it(&mut broken);
            assert_ne!(&broken, document, "{name}: {what} changed nothing");
            assert_invalid(name, &broken, what);
            rejected += 1;
        }
    }
    // 7 documents x 3 + 2 x 5 + 12 (the two transaction documents share
    // theirs).
    assert_eq!(rejected, 7 * 3 + 2 * 5 + 12 + 2);
}
