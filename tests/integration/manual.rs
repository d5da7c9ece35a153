//! The committed man page is what the clap definition generates.

use crate::{tcptune, text_output};

#[test]
fn committed_man_page_is_current() {
    let generated = text_output(tcptune().args(["generate", "man"]), 0);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/tcptune.8"))
        .expect("man/tcptune.8");
    assert!(
        generated == committed,
        "man/tcptune.8 is stale: run `cargo run -- generate man > man/tcptune.8`"
    );
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH COMMANDS",
        ".SH EXIT STATUS",
        ".SH FILES",
        ".SH SEE ALSO",
    ] {
        assert!(committed.contains(section), "{section}");
    }
}

#[test]
fn completions_are_generated() {
    let bash = text_output(tcptune().args(["generate", "completions", "bash"]), 0);
    assert!(bash.contains("_tcptune()"), "{bash}");
    assert!(bash.contains("--by-destination"));
}
