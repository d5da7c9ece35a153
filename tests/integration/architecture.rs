//! The invariants of ARCHITECTURE.md, checked on the source: the top-level
//! modules import each other without a cycle, only `report` (and `main`,
//! and `-v` logging) writes to the terminal, and only the modules that are
//! allowed to touch the machine use the file system or system calls.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src`, with its top-level module name.
fn source_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let mut pending = vec![source_dir()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(source_dir()).expect("under src");
                let top = relative
                    .components()
                    .next()
                    .and_then(|first| first.as_os_str().to_str())
                    .expect("name")
                    .trim_end_matches(".rs")
                    .to_owned();
                files.push((top, path));
            }
        }
    }
    files.sort();
    files
}

/// The code of a file without its unit tests (they may use anything).
fn code_without_tests(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read source");
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Top-level module -> the top-level modules its code names through
/// `crate::` (a `use` line or a full path), `$crate::` macros included.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = source_files().into_iter().map(|(top, _)| top).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (top, path) in source_files() {
        let code = code_without_tests(&path);
        let edges = graph.entry(top.clone()).or_default();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::b, c};`
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group
                    .split(',')
                    .filter_map(|part| part.trim().split("::").next())
                    .map(str::to_owned)
                    .collect()
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                    .collect();
                vec![name]
            };
            for name in names {
                // `crate::note!` is the `log` module's macro.
                let name = if name == "note" {
                    "log".to_owned()
                } else {
                    name
                };
                if name != top && modules.contains(&name) {
                    edges.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle in the graph, as the list of modules on it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|seen| seen == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Visiting);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn top_level_modules_import_without_a_cycle() {
    let graph = import_graph();
    assert!(graph.len() > 20, "the graph missed modules: {graph:?}");
    // The graph is what it looks like: known downward edges are there.
    assert!(graph["commands"].contains("report"));
    assert!(graph["rules"].contains("facts"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut graph = import_graph();
    graph
        .get_mut("facts")
        .expect("facts")
        .insert("report".to_owned());
    let cycle = find_cycle(&graph).expect("facts -> report -> facts is a cycle");
    assert_eq!(cycle.first(), cycle.last());
}

/// Whether `code` names `needle` as a path of its own (`nix::` but not the
/// end of `unix::`).
fn names(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|before| !(before.is_ascii_alphanumeric() || before == '_'))
    })
}

/// Lines of non-test code, outside the allowed modules, that match.
fn offenders(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (top, path) in source_files() {
        if allowed.contains(&top.as_str()) {
            continue;
        }
        for (number, line) in code_without_tests(&path).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|needle| names(code, needle)) {
                found.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn only_the_printers_write_to_the_terminal() {
    let found = offenders(
        &["report", "main", "log"],
        &[
            "println!",
            "eprintln!",
            "print!(",
            "eprint!(",
            "stdout()",
            "stderr()",
        ],
    );
    assert!(
        found.is_empty(),
        "printing outside report/:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_system_conf_and_input_touch_the_machine() {
    // input opens every file tcptune reads, the one way (non-blocking,
    // regular files only, bounded); conf reads sysctl files under the root
    // through it; system reads the kernel's interface and writes tcptune's
    // own files and live values.
    let found = offenders(
        &["system", "conf", "input"],
        &[
            "std::fs",
            "fs::",
            "File::open",
            "OpenOptions",
            "nix::",
            "std::process::Command",
        ],
    );
    assert!(
        found.is_empty(),
        "file system or system calls outside system/ and conf/:\n{}",
        found.join("\n")
    );
}
