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
