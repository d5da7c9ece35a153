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
fn completions_are_generated_and_load_in_bash() {
    let bash = text_output(tcptune().args(["generate", "completions", "bash"]), 0);
    assert!(bash.contains("--by-destination"));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("tcptune.bash");
    std::fs::write(&script, &bash).expect("write completions");
    // Loaded the way bash-completion loads it, then asked what completes
    // after `tcptune ap`.
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1" && complete -p tcptune && COMP_WORDS=(tcptune ap) COMP_CWORD=1 COMP_LINE="tcptune ap" COMP_POINT=10 && _tcptune tcptune ap tcptune && printf '%s\n' "${COMPREPLY[@]}""#)
        .arg("_")
        .arg(&script)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("-F _tcptune tcptune"), "{stdout}");
    assert!(stdout.lines().any(|line| line == "apply"), "{stdout}");
    for shell in ["zsh", "fish"] {
        let script = text_output(tcptune().args(["generate", "completions", shell]), 0);
        assert!(script.contains("rollback"), "{shell}");
    }
}

/// Every finding code is documented where operators look: the README's
/// findings table and the man page (with the profile format), and
/// `generate` is listed in `--help` and the man page.
#[test]
fn every_finding_code_is_in_the_readme_and_the_man_page() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/tcptune.8"))
        .expect("man/tcptune.8");
    for code in tcptune::finding::Code::ALL {
        let name = code.name();
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README.md's findings table lacks {name}"
        );
        assert!(
            man.contains(&format!(".B {}", name.replace('-', "\\-"))),
            "the man page lacks {name}"
        );
    }
    for section in [
        ".SH PROFILE FORMAT",
        ".SH FINDING CODES",
        ".SS tcptune generate",
    ] {
        assert!(man.contains(section), "the man page lacks {section}");
    }
    let help = text_output(tcptune().arg("--help"), 0);
    assert!(help.contains("generate"), "{help}");
}
