//! The rules and the reports over facts a forged `/proc` tree could hold.
//!
//! The input is four sections separated by `\0\0`: sysctl values as
//! `key = value` lines (parsed with the sysctl.d parser), the text of
//! `net/sockstat`, the text of `net/netstat`, and a `net/tcp` table. What
//! parses becomes one [`Facts`]; every rule runs against each built-in
//! profile, and `check` and `sockets` render in both formats. Build with
//! debug assertions (`run.sh` does), so arithmetic overflow is a finding.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tcptune::facts::{Facts, Reading};
use tcptune::finding::Summary;
use tcptune::profile::{self, Profile};
use tcptune::report::{CheckReport, Document, Format, Printer, SocketsReport};
use tcptune::system::{System, count_socket_table, counters};

fn profiles() -> &'static [Profile] {
    static PROFILES: OnceLock<Vec<Profile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        let system = System::new("/nonexistent", "/nonexistent");
        profile::BUILTINS
            .iter()
            .map(|(name, _)| profile::resolve(&system, name).expect("built-in profile"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut sections: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while sections.len() < 3 {
        match rest.windows(2).position(|pair| pair == b"\0\0") {
            Some(at) => {
                sections.push(&rest[..at]);
                rest = &rest[at + 2..];
            }
            None => break,
        }
    }
    sections.push(rest);
    sections.resize(4, &[]);

    let mut facts = Facts {
        kernel_release: "6.18.44".into(),
        kernel: Some(tcptune::kernel::KernelVersion::from_release("6.18.44").expect("version")),
        ..Facts::default()
    };
    let parsed = tcptune::conf::parse(Path::new("sysctls"), sections[0]);
    for entry in &parsed.entries {
        if let (Some(key), Some(value)) = (entry.key(), entry.value()) {
            facts.sysctls.insert(
                key.clone(),
                Reading::Present {
                    value: value.clone(),
                },
            );
        }
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if let Ok(sockstat) = counters::parse_sockstat(&text(sections[1]), Path::new("sockstat")) {
        facts.sockstat = Some(sockstat);
    }
    if let Ok(tcp_ext) = counters::parse_pairs(&text(sections[2]), "TcpExt", Path::new("netstat")) {
        facts.counters.tcp_ext = tcp_ext;
    }
    let _ = count_socket_table(sections[3], Path::new("tcp"), &mut facts.census);

    for profile in profiles() {
        let findings = tcptune::rules::evaluate(&facts, profile);
        for format in [Format::Human, Format::Json] {
            let mut out = Vec::new();
            let report = CheckReport {
                kernel: &facts.kernel_release,
                profile,
                summary: Summary::of(&findings),
                findings: &findings,
                facts: &facts,
            };
            Printer::new(&mut out, format, true)
                .print(Document::Check(&report))
                .expect("render to memory");
            assert_escaped(format, &out);
        }
    }
    for format in [Format::Human, Format::Json] {
        let mut out = Vec::new();
        Printer::new(&mut out, format, true)
            .print(Document::Sockets(&SocketsReport {
                facts: &facts,
                processes: true,
                by_destination: true,
            }))
            .expect("render to memory");
        assert_escaped(format, &out);
    }
});

/// Human output carries no control character but newlines: whatever the
/// facts hold is shown escaped.
fn assert_escaped(format: Format, out: &[u8]) {
    if format == Format::Human {
        let text = String::from_utf8_lossy(out);
        assert!(
            !text.chars().any(|ch| ch.is_control() && ch != '\n'),
            "raw control character in:\n{text}"
        );
    }
}
