//! `tcptune lint` as a pure function of files, and both renderings of its
//! findings. The input is split at `\0\0` into up to three files whose
//! names sort the way the boot-time loaders order them.

#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use tcptune::lint::{LintInput, lint};
use tcptune::report::{Document, Format, LintReport, Printer};

const NAMES: [&str; 3] = [
    "/etc/sysctl.d/50-a.conf",
    "/etc/sysctl.d/99-sysctl.conf",
    "/etc/sysctl.conf",
];

fuzz_target!(|data: &[u8]| {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while parts.len() < NAMES.len() - 1 {
        match rest.windows(2).position(|pair| pair == b"\0\0") {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + 2..];
            }
            None => break,
        }
    }
    parts.push(rest);
    let inputs: Vec<LintInput<'_>> = parts
        .iter()
        .zip(NAMES)
        .map(|(content, name)| LintInput {
            path: Path::new(name),
            content,
        })
        .collect();
    let findings = lint(&inputs);
    let paths: Vec<PathBuf> = inputs.iter().map(|input| input.path.to_owned()).collect();
    for format in [Format::Human, Format::Json] {
        let mut out = Vec::new();
        Printer::new(&mut out, format, false)
            .print(Document::Lint(&LintReport {
                files: &paths,
                findings: &findings,
            }))
            .expect("render to memory");
        if format == Format::Human {
            // Lines quoted from the files are shown escaped.
            let text = String::from_utf8_lossy(&out);
            assert!(
                !text.chars().any(|ch| ch.is_control() && ch != '\n'),
                "raw control character in:\n{text}"
            );
        }
        if format == Format::Json {
            serde_json::from_slice::<serde_json::Value>(&out).expect("lint JSON parses");
        }
    }
});
