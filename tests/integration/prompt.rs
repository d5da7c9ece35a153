//! The confirmation prompt on a real terminal: tcptune runs on a pseudo
//! terminal driven by a small Python script that waits for text, presses
//! keys and edits files in between, as a person (and another process) would.
//! Live values are a writable copy of a fixture's `/proc`.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::Scene;

/// Runs `argv` on a pseudo terminal and follows `steps` (JSON objects):
/// `{"expect": TEXT}` waits for TEXT after what earlier steps matched,
/// `{"send": TEXT}` types it, `{"write": [PATH, TEXT]}` writes a file,
/// `{"signal": N}` sends a signal. At the end it reads until the program
/// exits. Prints one JSON object: the output, the exit code or signal, and
/// the step that timed out, if one did (the program is then killed).
const DRIVER: &str = r#"
import json, os, pty, select, signal, sys, termios, time
steps = json.loads(sys.argv[1])
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
seen = 0
def pump(deadline):
    global out
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    out += data
    return True
timed_out = None
for index, step in enumerate(steps):
    if "expect" in step:
        wanted = step["expect"].encode()
        deadline = time.monotonic() + 10
        while wanted not in out[seen:]:
            if time.monotonic() > deadline or not pump(deadline):
                timed_out = index
                break
        if timed_out is not None:
            break
        seen = out.index(wanted, seen) + len(wanted)
    elif "send" in step:
        # Keys go to the prompt once it reads in raw mode: a Ctrl-C typed
        # while the line discipline is still cooked would be a signal (and
        # is lost where SIGINT is ignored, as in a background job).
        deadline = time.monotonic() + 10
        while termios.tcgetattr(fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                timed_out = index
                break
            time.sleep(0.005)
        if timed_out is not None:
            break
        os.write(fd, step["send"].encode())
    elif "write" in step:
        with open(step["write"][0], "w") as f:
            f.write(step["write"][1])
    elif "signal" in step:
        os.kill(pid, step["signal"])
if timed_out is None:
    deadline = time.monotonic() + 10
    while pump(deadline):
        if time.monotonic() > deadline:
            timed_out = len(steps)
            break
if timed_out is not None:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
print(json.dumps({
    "output": out.decode("utf-8", "replace"),
    "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    "timed_out": timed_out,
}))
"#;

#[derive(Debug, Deserialize)]
pub struct Session {
    /// stdout and stderr together, as the terminal showed them.
    pub output: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The index of the step that never happened.
    pub timed_out: Option<usize>,
}

/// tcptune on the scene, on a terminal, following `steps`.
pub fn on_terminal(scene: &Scene, args: &[&str], steps: &serde_json::Value) -> Session {
    let binary = crate::binary();
    let proc = scene.proc();
    let root = scene.root();
    let mut argv: Vec<&str> = vec![
        binary.to_str().expect("UTF-8 path"),
        "--proc",
        proc.to_str().expect("UTF-8 path"),
        "--root",
        root.to_str().expect("UTF-8 path"),
        "--color",
        "never",
    ];
    argv.extend_from_slice(args);
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(steps.to_string())
        .args(&argv)
        .env_remove("NO_COLOR")
        .output()
        .expect("python3 runs the terminal driver");
    assert!(
        output.status.success(),
        "driver: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the driver prints JSON")
}

fn live_path(scene: &Scene, key: &str) -> String {
    scene
        .proc()
        .join("sys")
        .join(key.replace('.', "/"))
        .display()
        .to_string()
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// Another process changes a live value and rewrites tcptune's file while
/// apply waits for "yes": apply shows what changed and asks again, and the
/// journal records the state that was really there before the change, so
/// a rollback returns to the other process's edit, not to an older state.
#[test]
fn edits_made_while_apply_waits_are_shown_and_asked_again() {
    let scene = Scene::new();
    fs::create_dir_all(scene.file().parent().expect("dir")).expect("mkdir");
    fs::write(scene.file(), "net.core.somaxconn = 4096\n").expect("seed the file");
    let edited_file = "# edited by another process\nnet.ipv4.tcp_fin_timeout = 45\n";
    let session = on_terminal(
        &scene,
        &["apply", "--profile", "webserver"],
        &serde_json::json!([
            {"expect": "Apply these changes?"},
            {"write": [live_path(&scene, "net.ipv4.tcp_fin_timeout"), "45\n"]},
            {"write": [path_text(&scene.file()), edited_file]},
            {"send": "y"},
            {"expect": "changed while"},
            {"expect": "Apply these changes?"},
            {"send": "y"},
        ]),
    );
    assert_eq!(session.timed_out, None, "{}", session.output);
    assert_eq!(session.code, Some(0), "{}", session.output);
    assert!(
        session
            .output
            .contains("net.ipv4.tcp_fin_timeout changed from 60 to 45"),
        "{}",
        session.output
    );
    assert!(
        session
            .output
            .contains("99-zz-tcptune.conf was changed by someone else"),
        "{}",
        session.output
    );
    assert_eq!(scene.live("net.ipv4.tcp_fin_timeout"), "30");
    let record: serde_json::Value = serde_json::from_slice(
        &fs::read(scene.root().join("var/lib/tcptune/journal/1.json")).expect("record"),
    )
    .expect("JSON");
    let fin_timeout = record["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["key"] == "net.ipv4.tcp_fin_timeout")
        .expect("recorded");
    assert_eq!(fin_timeout["previous"], "45", "{record:#}");
    assert_eq!(
        fs::read_to_string(scene.root().join("var/lib/tcptune/journal/1.before"))
            .expect("kept copy"),
        edited_file
    );
    scene.json(&["rollback", "--yes"], 0);
    assert_eq!(scene.live("net.ipv4.tcp_fin_timeout"), "45");
    assert_eq!(
        fs::read_to_string(scene.file()).expect("file"),
        edited_file,
        "rollback returns to the other process's edit"
    );
}

/// Ctrl-D, Esc, `q`, `n`, Enter and Ctrl-C all answer no: nothing changes,
/// exit 4, and the terminal is left with its cursor visible (a prompt that
/// hid it and died on Ctrl-C left the operator's shell without one).
#[test]
fn the_prompt_answers_no_to_eof_escape_q_and_ctrl_c() {
    for (name, key) in [
        ("Ctrl-D", "\u{4}"),
        ("Esc", "\u{1b}"),
        ("q", "q"),
        ("n", "n"),
        ("Enter", "\r"),
        ("Ctrl-C", "\u{3}"),
    ] {
        let scene = Scene::new();
        let before = scene.snapshot();
        let session = on_terminal(
            &scene,
            &["apply", "--profile", "webserver"],
            &serde_json::json!([
                {"expect": "Apply these changes?"},
                {"send": key},
            ]),
        );
        assert_eq!(session.timed_out, None, "{name}: {}", session.output);
        assert_eq!(
            (session.code, session.signal),
            (Some(4), None),
            "{name}: {}",
            session.output
        );
        assert!(
            session.output.contains("nothing changed"),
            "{name}: {}",
            session.output
        );
        let hidden = session.output.rfind("\u{1b}[?25l");
        let shown = session.output.rfind("\u{1b}[?25h");
        assert!(
            hidden.is_none() || shown > hidden,
            "{name}: the cursor stays hidden: {:?}",
            session.output
        );
        assert_eq!(scene.snapshot(), before, "{name}");
        assert!(!scene.file().exists(), "{name}");
    }
}
