//! Real-kernel tests: tcptune run against real sockets and real sysctls
//! inside private network namespaces, its answers compared with `ss` and
//! `sysctl`, the tools users already trust.
//!
//! This module owns the namespace plumbing as well as the scenarios. Calling
//! unshare(2) from a test would need unsafe FFI and would move only the
//! calling thread of a process libtest shares between tests; a fresh process
//! puts the scenario and every tool it runs (tcptune, ss, sysctl) in one
//! namespace that vanishes with it. So each `#[test]` re-executes this test
//! binary under `unshare -n`, filtered to that one test, with
//! `TCPTUNE_NETNS_CHILD=1`. The child runs the same function, proves that its
//! namespace differs from the parent's (passed down in
//! `TCPTUNE_PARENT_NETNS`) before it creates a socket or writes a sysctl,
//! brings `lo` up and runs the scenario. The machine's own sysctls are never
//! written: a child that finds itself in the parent's namespace panics. Where
//! `unshare -n` is not permitted (not root) the tests skip with a note,
//! unless `TCPTUNE_REQUIRE_NETNS=1` (CI), where they fail.

use std::collections::BTreeMap;
use std::env;
use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{json_output, tcptune};

/// Set in the re-executed test binary that runs inside the new namespace.
pub(crate) const CHILD_ENV: &str = "TCPTUNE_NETNS_CHILD";
/// The parent's `/proc/self/ns/net` link, so the child can prove it moved.
pub(crate) const PARENT_NETNS_ENV: &str = "TCPTUNE_PARENT_NETNS";
/// CI sets this so that a missing namespace fails rather than skips.
pub(crate) const REQUIRE_ENV: &str = "TCPTUNE_REQUIRE_NETNS";
/// Set in a helper process that holds sockets for `close_wait_owners_match_ss`.
const HOLDER_ENV: &str = "TCPTUNE_NETNS_HOLDER";
/// Printed by the child after its scenario: a filter that matched no test
/// would otherwise exit 0 and pass silently.
pub(crate) const DONE_MARKER: &str = "TCPTUNE_NETNS_SCENARIO_DONE";
/// Printed by a holder once its connections are established.
const HOLDER_READY: &str = "TCPTUNE_NETNS_HOLDER_READY";
/// How long a whole child may run before the parent kills it.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for socket states to settle after the last close.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// tcptune's names for the eleven states, in `/proc/net/tcp` order.
const STATES: [&str; 11] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
];

// ───────────────────────── namespace plumbing ─────────────────────────

/// Runs `scenario` inside a fresh network namespace: called by the parent it
/// re-executes `netns::<test>` under `unshare -n`; called in that child it
/// checks the namespace, brings `lo` up and runs the scenario.
fn in_netns(test: &str, scenario: impl FnOnce()) {
    in_netns_of("netns", test, scenario);
}

/// [`in_netns`] for a test in another module of this binary: `module` is
/// its path (`recommend`), so the child runs `module::test`.
pub(crate) fn in_netns_of(module: &str, test: &str, scenario: impl FnOnce()) {
    if let Ok(spec) = env::var(HOLDER_ENV) {
        assert_private_netns();
        hold_connections(&spec);
        return;
    }
    if env::var_os(CHILD_ENV).is_some() {
        assert_private_netns();
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        scenario();
        println!("{DONE_MARKER} {test}");
        return;
    }
    if let Err(reason) = netns_available() {
        assert!(
            env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but a private network namespace cannot be created: {reason}"
        );
        eprintln!(
            "skipping {module}::{test}: {reason} (set {REQUIRE_ENV}=1 to make this a failure)"
        );
        return;
    }

    let mut command = Command::new("unshare");
    command
        .args(["-n", "--"])
        .arg(env::current_exe().expect("path of the test binary"))
        .args([
            "--exact",
            &format!("{module}::{test}"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(PARENT_NETNS_ENV, current_netns())
        .env_remove(HOLDER_ENV);
    let output = output_within(&mut command, CHILD_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("{DONE_MARKER} {test}")),
        "{module}::{test} failed inside its namespace ({})\n--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}",
        output.status
    );
}

/// Whether `unshare -n` works here, asked once per test binary.
pub(crate) fn netns_available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE
        .get_or_init(
            || match Command::new("unshare").args(["-n", "true"]).output() {
                Ok(output) if output.status.success() => Ok(()),
                Ok(output) => Err(format!(
                    "`unshare -n true` failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Err(error) => Err(format!("cannot run `unshare`: {error}")),
            },
        )
        .clone()
}

/// The `net:[INODE]` link naming this process's network namespace.
pub(crate) fn current_netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .expect("readlink /proc/self/ns/net")
        .to_string_lossy()
        .into_owned()
}

/// The safety gate before any socket or sysctl write: panics unless this
/// process is in a namespace other than the parent test's.
pub(crate) fn assert_private_netns() {
    let parent = env::var(PARENT_NETNS_ENV).unwrap_or_default();
    let own = current_netns();
    if parent.is_empty() || own == parent {
        panic!(
            "refusing to touch the network: this process is in namespace {own}, parent's is {parent:?}; \
             the netns tests must run in a namespace of their own"
        );
    }
}

/// Runs `command` to completion, killing it after `timeout` so that a hung
/// scenario fails the test instead of hanging the suite.
pub(crate) fn output_within(command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the namespaced test");
    let stdout = drain(child.stdout.take().expect("child stdout"));
    let stderr = drain(child.stderr.take().expect("child stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the namespaced test") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill the namespaced test");
            child.wait().expect("reap the namespaced test");
            panic!(
                "namespaced test did not finish within {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&stdout.join().expect("stdout reader")),
                String::from_utf8_lossy(&stderr.join().expect("stderr reader"))
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe to its end on a thread, so a chatty child cannot block on a
/// full pipe while we wait for it.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).expect("read child output");
        bytes
    })
}

/// Runs a command, asserting success; the output names the command.
pub(crate) fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Polls `probe` until `done` accepts its value or SETTLE_TIMEOUT passes, and
/// returns the last value: the caller's assertions report what was seen, so
/// a slow kernel shows up as a clear mismatch rather than a sleep.
fn settle<T>(mut probe: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let value = probe();
        if done(&value) || Instant::now() > deadline {
            return value;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ───────────────────────── sockets ─────────────────────────

/// Connects to `listener` and accepts: (client, server).
fn connect_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let address = listener.local_addr().expect("listener address");
    let client =
        TcpStream::connect(address).unwrap_or_else(|error| panic!("connect to {address}: {error}"));
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// Makes one TIME_WAIT socket on the client side toward `listener`: the
/// client closes first, the server reads the FIN and closes, so the client
/// goes FIN_WAIT2 -> TIME_WAIT and the server LAST_ACK -> CLOSED.
fn time_wait_toward(listener: &TcpListener) {
    let (client, mut server) = connect_pair(listener);
    drop(client);
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut rest = Vec::new();
    let read = server
        .read_to_end(&mut rest)
        .expect("server reads the client's FIN");
    assert_eq!(read, 0, "the client sent no data");
}

/// Makes a CLOSE_WAIT socket: returns the server side, whose client has
/// closed. The orphaned client goes FIN_WAIT2 into the timewait table.
fn close_wait_from(listener: &TcpListener) -> TcpStream {
    let (client, server) = connect_pair(listener);
    drop(client);
    server
}

/// The holder process for `close_wait_owners_match_ss`: `ADDRESS COUNT` in
/// HOLDER_ENV. Connects COUNT times and keeps the sockets until stdin closes
/// (its parent died or dropped the guard), at most 30 s.
fn hold_connections(spec: &str) {
    let mut fields = spec.splitn(3, ' ');
    let address: SocketAddr = fields
        .next()
        .and_then(|address| address.parse().ok())
        .expect("holder spec is `ADDRESS COUNT [COMM-HEX]`");
    let count: usize = fields
        .next()
        .and_then(|count| count.parse().ok())
        .expect("holder count");
    // An optional name, hex-encoded so any byte survives the environment.
    // Any unprivileged process can rename itself: prctl(PR_SET_NAME) names
    // the calling thread, and writing /proc/self/comm (the same kernel
    // set_task_comm) names the thread-group leader, whose name is what
    // /proc/PID/comm, ss and tcptune show. This test runs on a libtest
    // thread, so it writes the file.
    if let Some(hex) = fields.next() {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex name"))
            .collect();
        std::fs::write("/proc/self/comm", bytes).expect("rename via /proc/self/comm");
    }
    let held: Vec<TcpStream> = (0..count)
        .map(|_| TcpStream::connect(address).expect("holder connects"))
        .collect();
    // A forgotten holder must not outlive the test by much.
    thread::spawn(|| {
        thread::sleep(Duration::from_secs(30));
        std::process::exit(0);
    });
    println!("{HOLDER_READY}");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
}

/// A holder process, killed and reaped when dropped, also on a panic.
struct Holder {
    child: Child,
    // Kept open: the holder exits when it sees EOF here.
    _stdin: ChildStdin,
}

impl Holder {
    /// Re-executes this test in holder mode, connecting `count` times to
    /// `address`, and waits until it says its connections exist.
    fn spawn(test: &str, address: SocketAddr, count: usize) -> Holder {
        Holder::spawn_named(test, address, count, None)
    }

    /// As `spawn`, the holder first renaming itself to `comm` (at most 15
    /// bytes, as the kernel keeps).
    fn spawn_named(test: &str, address: SocketAddr, count: usize, comm: Option<&str>) -> Holder {
        let spec = match comm {
            Some(comm) => {
                let hex: String = comm.bytes().map(|byte| format!("{byte:02x}")).collect();
                format!("{address} {count} {hex}")
            }
            None => format!("{address} {count}"),
        };
        let mut child = Command::new(env::current_exe().expect("path of the test binary"))
            .args([
                "--exact",
                &format!("netns::{test}"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLDER_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the holder");
        let stdin = child.stdin.take().expect("holder stdin");
        let stdout = child.stdout.take().expect("holder stdout");
        let holder = Holder {
            child,
            _stdin: stdin,
        };
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("holder output");
            // libtest has printed "test NAME ... " without a newline before it.
            if line.ends_with(HOLDER_READY) {
                return holder;
            }
            seen.push(line);
        }
        panic!(
            "holder exited before it was ready; it said:\n{}",
            seen.join("\n")
        );
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Byte offsets of terminal control in `output` that tcptune did not put
/// there: any C0/C1 control but newline, and any ESC that does not start a
/// colour (SGR, `ESC [ digits ; … m`) sequence.
fn foreign_control(output: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < output.len() {
        match output[at] {
            0x1b => {
                let rest = &output[at + 1..];
                let parameters = rest
                    .iter()
                    .skip(1)
                    .take_while(|byte| byte.is_ascii_digit() || **byte == b';')
                    .count();
                if rest.first() == Some(&b'[') && rest.get(1 + parameters) == Some(&b'm') {
                    at += 2 + parameters + 1;
                    continue;
                }
                found.push(at);
            }
            b'\n' => {}
            byte if byte < 0x20 || byte == 0x7f => found.push(at),
            _ => {}
        }
        at += 1;
    }
    // C1 controls and bidirectional overrides arrive as UTF-8.
    let text = String::from_utf8_lossy(output);
    for (offset, ch) in text.char_indices() {
        if ('\u{80}'..='\u{9f}').contains(&ch)
            || ('\u{202a}'..='\u{202e}').contains(&ch)
            || ('\u{2066}'..='\u{2069}').contains(&ch)
        {
            found.push(offset);
        }
    }
    found
}

/// A CLOSE_WAIT holder that names itself with terminal escape sequences, a
/// newline and a right-to-left override (anyone can, with prctl) must not
/// reach the terminal raw: with colour forced on, `sockets --processes` and
/// `check` show the name escaped, and the owners table keeps one row per
/// holder.
#[test]
fn hostile_process_names_are_shown_escaped() {
    // OSC 0 sets the terminal's title; the second forges a table row and
    // reverses what follows it.
    const TITLE: &str = "\u{1b}]0;pwned\u{7}";
    const FORGED: &str = "a\n 999  fake\u{202e}";
    in_netns("hostile_process_names_are_shown_escaped", || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("listener address");
        let test = "hostile_process_names_are_shown_escaped";
        let holders = [
            Holder::spawn_named(test, address, 2, Some(TITLE)),
            Holder::spawn_named(test, address, 3, Some(FORGED)),
        ];
        for _ in 0..5 {
            let (server, _) = listener.accept().expect("accept a holder's connection");
            drop(server);
        }
        // (Not `ss -p`: it prints the newline raw and splits its own row.)
        settle(
            || json_output(tcptune().args(["sockets", "--format", "json"]), 0),
            |document| document["states"]["close_wait"] == 5,
        );
        // The names as the kernel keeps them, raw, in JSON.
        let document = json_output(
            tcptune().args(["sockets", "--processes", "--format", "json"]),
            0,
        );
        let comms: Vec<&str> = document["close_wait_owners"]
            .as_array()
            .expect("owners")
            .iter()
            .filter_map(|owner| owner["comm"].as_str())
            .collect();
        assert!(
            comms.contains(&TITLE) && comms.contains(&FORGED),
            "{comms:?}"
        );

        let human = tcptune()
            .args(["--color", "always", "sockets", "--processes"])
            .output()
            .expect("run sockets");
        assert_eq!(human.status.code(), Some(0));
        let foreign = foreign_control(&human.stdout);
        assert!(
            foreign.is_empty(),
            "raw control bytes at {foreign:?} in:\n{}",
            String::from_utf8_lossy(&human.stdout)
        );
        let text = String::from_utf8_lossy(&human.stdout);
        for holder in &holders {
            let rows = text
                .lines()
                .filter(|line| line.split_whitespace().next() == Some(&holder.pid().to_string()))
                .count();
            assert_eq!(rows, 1, "one row for holder {}:\n{text}", holder.pid());
        }
        assert!(text.contains("\\u{1b}]0;pwned\\u{7}"), "{text}");
        assert!(text.contains("a\\n 999  fake\\u{202e}"), "{text}");
        assert!(
            !text
                .lines()
                .any(|line| line.trim_start().starts_with("999"))
        );

        // check names the holders in its close-wait-leak finding.
        let profile =
            std::env::temp_dir().join(format!("tcptune-leak-{}.yaml", std::process::id()));
        std::fs::write(
            &profile,
            "description: any CLOSE_WAIT is a leak\nextends: default\nthresholds:\n  close_wait_leak: 1\n",
        )
        .expect("write profile");
        let check = tcptune()
            .args(["--color", "always", "check", "--profile"])
            .arg(&profile)
            .output()
            .expect("run check");
        std::fs::remove_file(&profile).expect("remove profile");
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(text.contains("close-wait-leak"), "{text}");
        let foreign = foreign_control(&check.stdout);
        assert!(
            foreign.is_empty(),
            "raw control bytes at {foreign:?} in:\n{text}"
        );
        assert!(text.contains("\\u{1b}]0;pwned\\u{7}"), "{text}");
    });
}

/// A process that opened its sockets here and then moved to another network
/// namespace (unshare(CLONE_NEWNET), as a sandboxing helper might) still
/// holds them: the owner walk, which walks this namespace's processes first,
/// finds it among the others, and the owners equal `ss -p`'s.
#[test]
fn a_holder_in_another_namespace_is_still_found() {
    in_netns("a_holder_in_another_namespace_is_still_found", || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("listener address");
        // The holder connects 3 times, then leaves for a namespace of its own.
        let script = "import ctypes, socket, sys, time\n\
             held = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(3)]\n\
             if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0: sys.exit('unshare failed')\n\
             print('moved', flush=True)\n\
             time.sleep(30)\n";
        let mut holder = Command::new("python3")
            .args(["-c", script, &address.port().to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the holder");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().expect("holder stdout"))
            .read_line(&mut line)
            .expect("holder says it moved");
        assert_eq!(line.trim(), "moved");
        let moved = std::fs::read_link(format!("/proc/{}/ns/net", holder.id())).expect("its netns");
        assert_ne!(moved.to_string_lossy(), current_netns(), "the holder left");
        for _ in 0..3 {
            let (server, _) = listener.accept().expect("accept the holder's connection");
            drop(server);
        }
        settle(ss_close_wait_owners, |(owners, _)| {
            owners.values().map(|(_, count)| count).sum::<u64>() == 3
        });
        let document = json_output(
            tcptune().args(["sockets", "--processes", "--format", "json"]),
            0,
        );
        let owners = document["close_wait_owners"].as_array().expect("owners");
        let (from_ss, _) = ss_close_wait_owners();
        assert_eq!(owners.len(), 1, "{owners:?}");
        assert_eq!(owners[0]["pid"], holder.id(), "{owners:?}");
        assert_eq!(owners[0]["count"], 3);
        assert_eq!(from_ss.get(&holder.id()).map(|(_, count)| *count), Some(3));
        assert_eq!(document["close_wait_unknown_owner"], 0);
        holder.kill().expect("kill the holder");
        holder.wait().expect("reap the holder");
    });
}

#[test]
fn the_control_detector_tells_colour_from_injection() {
    assert!(foreign_control(b"\x1b[1mbold\x1b[0m \x1b[31;1mred\x1b[0m\n").is_empty());
    assert_eq!(foreign_control(b"a\x1b]0;t\x07"), vec![1, 6]);
    assert_eq!(foreign_control("x\u{202e}y".as_bytes()), vec![1]);
    assert_eq!(foreign_control(b"\r"), vec![0]);
}

// ───────────────────────── ss and sysctl ─────────────────────────

/// Runs `ss` with `args` and returns its rows without the header.
fn ss(args: &[&str]) -> Vec<String> {
    let output = run(Command::new("ss").args(args));
    String::from_utf8(output.stdout)
        .expect("ss output is UTF-8")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            !line.starts_with("State") && !line.starts_with("Recv-Q") && !line.starts_with("Netid")
        })
        .map(str::to_owned)
        .collect()
}

/// Per-state counts from `ss -tan`, keyed by tcptune's state names, all
/// eleven present.
fn ss_states() -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        STATES.iter().map(|state| (state.to_string(), 0)).collect();
    for row in ss(&["-tan"]) {
        let state = row.split_whitespace().next().expect("ss row has a state");
        let name = match state {
            "ESTAB" => "established",
            "SYN-SENT" => "syn_sent",
            "SYN-RECV" => "syn_recv",
            "FIN-WAIT-1" => "fin_wait1",
            "FIN-WAIT-2" => "fin_wait2",
            "TIME-WAIT" => "time_wait",
            // ss prints TCP_CLOSE as UNCONN.
            "UNCONN" | "CLOSE" => "close",
            "CLOSE-WAIT" => "close_wait",
            "LAST-ACK" => "last_ack",
            "LISTEN" => "listen",
            "CLOSING" => "closing",
            other => panic!("unknown ss state {other:?} in {row:?}"),
        };
        *counts.get_mut(name).expect("known state") += 1;
    }
    counts
}

/// tcptune's `states` object as the same map.
fn tcptune_states(document: &Value) -> BTreeMap<String, u64> {
    STATES
        .iter()
        .map(|state| {
            let count = document["states"][state]
                .as_u64()
                .unwrap_or_else(|| panic!("states.{state} is a count in {document}"));
            (state.to_string(), count)
        })
        .collect()
}

/// The expected map: every state zero except those named.
fn states(nonzero: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        STATES.iter().map(|state| (state.to_string(), 0)).collect();
    for (state, count) in nonzero {
        *counts.get_mut(*state).expect("known state") = *count;
    }
    counts
}

/// CLOSE_WAIT owners from `ss -tanp state close-wait`: pid -> (comm, count),
/// plus the number of sockets without a listed owner.
fn ss_close_wait_owners() -> (BTreeMap<u32, (String, u64)>, u64) {
    let mut owners: BTreeMap<u32, (String, u64)> = BTreeMap::new();
    let mut unknown = 0;
    for row in ss(&["-tanp", "state", "close-wait"]) {
        let Some((_, users)) = row.split_once("users:((") else {
            unknown += 1;
            continue;
        };
        // `"name",pid=N,fd=M),("name",pid=N,fd=M))`: one entry per holder.
        let entries: Vec<&str> = users.trim_end_matches("))").split("),(").collect();
        assert_eq!(
            entries.len(),
            1,
            "a socket shared by several processes: {row}"
        );
        let (name, rest) = entries[0]
            .trim_start_matches('"')
            .split_once("\",pid=")
            .unwrap_or_else(|| panic!("unexpected users field in {row:?}"));
        let pid = rest
            .split(',')
            .next()
            .and_then(|pid| pid.parse().ok())
            .expect("pid in users field");
        owners.entry(pid).or_insert_with(|| (name.to_owned(), 0)).1 += 1;
    }
    (owners, unknown)
}

/// Writes a sysctl with procps `sysctl -w`, only after proving again that
/// this process is in its own namespace, and checks the kernel took it.
fn sysctl_write(key: &str, value: &str) {
    assert_private_netns();
    run(Command::new("sysctl")
        .arg("-w")
        .arg(format!("{key}={value}")));
    assert_eq!(
        words(&sysctl_read(key)),
        words(value),
        "{key} after sysctl -w"
    );
}

/// `sysctl -n KEY`, trimmed.
pub(crate) fn sysctl_read(key: &str) -> String {
    let output = run(Command::new("sysctl").args(["-n", key]));
    String::from_utf8(output.stdout)
        .expect("sysctl output is UTF-8")
        .trim()
        .to_owned()
}

/// Multi-number sysctls print tab-separated; compare them word by word.
pub(crate) fn words(value: &str) -> Vec<&str> {
    value.split_whitespace().collect()
}

/// The findings of `document` with `code` and, if given, `key`.
fn findings<'a>(document: &'a Value, code: &str, key: Option<&str>) -> Vec<&'a Value> {
    document["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|finding| finding["code"] == code)
        .filter(|finding| key.is_none_or(|key| finding["key"] == key))
        .collect()
}

/// Runs `tcptune check`, asserts its exit code follows its own summary (1
/// with any warning or error, else 0), and returns the document and code.
fn check_document(args: &[&str]) -> (Value, i32) {
    let output = tcptune()
        .arg("check")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run tcptune check");
    let document: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "check output is not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let serious = document["summary"]["warning"]
        .as_u64()
        .expect("summary.warning")
        + document["summary"]["error"]
            .as_u64()
            .expect("summary.error");
    let expected = if serious > 0 { 1 } else { 0 };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "exit code against summary of {document:#}"
    );
    (document, expected)
}

// ───────────────────────── scenarios ─────────────────────────

/// Every state count tcptune reports equals what `ss -tan` sees, and both
/// equal the sockets this test made, across IPv4 and IPv6.
#[test]
fn census_matches_ss() {
    const ESTABLISHED_PAIRS: usize = 9;
    const TIME_WAIT: usize = 40;
    // Client closed, server keeps its side: server CLOSE_WAIT, orphaned
    // client FIN_WAIT2 in the timewait table.
    const ORPHANED_CLOSE_WAIT: usize = 7;
    // Client shutdown(Write) and keeps its socket: a live FIN_WAIT2 that has
    // no timeout, and a server CLOSE_WAIT.
    const HALF_CLOSED: usize = 5;

    in_netns("census_matches_ss", || {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let v6 = TcpListener::bind("[::1]:0").expect("bind [::1]");
        // Alternate the families so both /proc/net/tcp and tcp6 are counted.
        let listener = |i: usize| if i.is_multiple_of(2) { &v4 } else { &v6 };
        let mut held: Vec<TcpStream> = Vec::new();

        for i in 0..ESTABLISHED_PAIRS {
            let (client, server) = connect_pair(listener(i));
            held.extend([client, server]);
        }
        for i in 0..TIME_WAIT {
            time_wait_toward(listener(i));
        }
        for i in 0..ORPHANED_CLOSE_WAIT {
            held.push(close_wait_from(listener(i)));
        }
        for i in 0..HALF_CLOSED {
            let (client, server) = connect_pair(listener(i));
            client.shutdown(Shutdown::Write).expect("shutdown(Write)");
            held.extend([client, server]);
        }

        let expected = states(&[
            ("established", 2 * ESTABLISHED_PAIRS as u64),
            ("fin_wait2", (ORPHANED_CLOSE_WAIT + HALF_CLOSED) as u64),
            ("time_wait", TIME_WAIT as u64),
            ("close_wait", (ORPHANED_CLOSE_WAIT + HALF_CLOSED) as u64),
            ("listen", 2),
        ]);
        settle(ss_states, |seen| *seen == expected);

        let document = json_output(tcptune().args(["sockets", "--format", "json"]), 0);
        let from_ss = ss_states();
        let from_tcptune = tcptune_states(&document);
        assert_eq!(from_tcptune, from_ss, "tcptune's census against ss -tan");
        assert_eq!(
            from_ss, expected,
            "ss -tan against the sockets this test made"
        );
        assert_eq!(document["states"]["time_wait"], TIME_WAIT);
        assert_eq!(
            document["states"]["close_wait"],
            ORPHANED_CLOSE_WAIT + HALF_CLOSED
        );
        assert_eq!(document["states"]["established"], 2 * ESTABLISHED_PAIRS);
        assert_eq!(document["states"]["listen"], 2);
        assert_eq!(document["total"], from_ss.values().sum::<u64>());
        assert!(
            document["source"] == "procfs" || document["source"] == "netlink",
            "source: {}",
            document["source"]
        );
        // sockstat's tw counts the whole timewait table of this namespace:
        // TIME_WAIT of both families plus the orphaned FIN_WAIT2 sockets.
        if let Some(tw) = document["sockstat"]["tw"].as_u64() {
            assert_eq!(tw, (TIME_WAIT + ORPHANED_CLOSE_WAIT) as u64, "sockstat tw");
        }
        drop(held);
    });
}

/// Connects to `to` (which `listener` serves) and accepts: (client, server).
fn pair_at(listener: &TcpListener, to: SocketAddr) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(to).unwrap_or_else(|error| panic!("connect to {to}: {error}"));
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// Writes without blocking until neither the sender's buffer nor the
/// receiver's (which nobody reads) takes more: the window is closed.
fn fill(stream: &mut TcpStream) {
    stream.set_nonblocking(true).expect("non-blocking");
    let chunk = [0u8; 64 * 1024];
    loop {
        match std::io::Write::write(stream, &chunk) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(error) => panic!("write: {error}"),
        }
    }
}

/// A listener whose accept queue holds one connection (listen again with
/// backlog 0), already taken by a connection nobody accepts: a further SYN
/// is dropped and its client stays in SYN_SENT. That client connects on a
/// thread of its own, which blocks until this process ends. Returns what
/// must stay open.
fn syn_sent_toward(ip: std::net::IpAddr) -> (TcpListener, TcpStream) {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).expect("bind");
    nix::sys::socket::listen(
        &listener,
        nix::sys::socket::Backlog::new(0).expect("backlog 0"),
    )
    .expect("listen again with backlog 0");
    let address = listener.local_addr().expect("listener address");
    let queued = TcpStream::connect(address).expect("the first connection fits the queue");
    thread::spawn(move || TcpStream::connect(address));
    (listener, queued)
}

/// The census agrees with `ss -tan` in every state this test can hold on
/// loopback (all but SYN_RECV, CLOSING and CLOSE, which need a lost packet,
/// a simultaneous close or a bound socket the dump does not list), in each
/// family: IPv4, IPv6 and IPv4-mapped IPv6 (a dual-stack listener serving
/// IPv4 clients). It agrees both when TIME_WAIT sockets are counted one by
/// one (`--by-destination`, `check`) and when the kernel is asked not to
/// send them and the number comes from sockstat (plain `sockets`).
#[test]
fn census_matches_ss_in_every_state_and_family() {
    const PAIRS: usize = 2;
    const TIME_WAIT: usize = 3;

    in_netns("census_matches_ss_in_every_state_and_family", || {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let v6 = TcpListener::bind("[::1]:0").expect("bind [::1]");
        let dual = TcpListener::bind("[::]:0").expect("bind [::]");
        let v4_address = v4.local_addr().expect("address");
        let v6_address = v6.local_addr().expect("address");
        // IPv4 clients of the dual-stack listener: its sockets are AF_INET6
        // with ::ffff:127.0.0.1 addresses.
        let mapped_address =
            SocketAddr::from(([127, 0, 0, 1], dual.local_addr().expect("address").port()));
        let families = [
            (&v4, v4_address),
            (&v6, v6_address),
            (&dual, mapped_address),
        ];
        let mut held: Vec<TcpStream> = Vec::new();
        for (listener, to) in families {
            for _ in 0..PAIRS {
                let (client, server) = pair_at(listener, to);
                held.extend([client, server]);
            }
            for _ in 0..TIME_WAIT {
                let (client, mut server) = pair_at(listener, to);
                drop(client);
                assert_eq!(server.read(&mut [0; 1]).expect("read the FIN"), 0);
            }
            // Orphaned client in the timewait table as FIN_WAIT2, server
            // in CLOSE_WAIT.
            let (client, server) = pair_at(listener, to);
            drop(client);
            held.push(server);
            // A live, held FIN_WAIT2 and its CLOSE_WAIT peer.
            let (client, server) = pair_at(listener, to);
            client.shutdown(Shutdown::Write).expect("shutdown(Write)");
            held.extend([client, server]);
            // FIN_WAIT1: the client closes with data the server never reads,
            // so its FIN waits behind a closed window.
            let (mut client, server) = pair_at(listener, to);
            fill(&mut client);
            drop(client);
            held.push(server);
            // LAST_ACK: the server gets the client's FIN, fills the client's
            // window and closes; the client holds a full FIN_WAIT2 socket.
            let (client, mut server) = pair_at(listener, to);
            client.shutdown(Shutdown::Write).expect("shutdown(Write)");
            assert_eq!(server.read(&mut [0; 1]).expect("read the FIN"), 0);
            fill(&mut server);
            drop(server);
            held.push(client);
        }
        let _syn_sent = [
            syn_sent_toward([127, 0, 0, 1].into()),
            syn_sent_toward(std::net::Ipv6Addr::LOCALHOST.into()),
        ];

        let families = 3u64;
        let expected = states(&[
            // Pairs, the FIN_WAIT1 servers, and the queued connections of
            // the two full listeners (both ends).
            ("established", families * (2 * PAIRS as u64 + 1) + 4),
            ("syn_sent", 2),
            ("fin_wait1", families),
            // Orphaned (timewait table), held half-closed, held LAST_ACK peers.
            ("fin_wait2", families * 3),
            ("time_wait", families * TIME_WAIT as u64),
            ("close_wait", families * 2),
            ("last_ack", families),
            ("listen", 5),
        ]);
        let seen = settle(ss_states, |seen| *seen == expected);
        assert_eq!(seen, expected, "ss -tan against the sockets this test made");
        let mapped_rows = ss(&["-tan"])
            .iter()
            .filter(|row| row.contains("[::ffff:127.0.0.1]"))
            .count();
        assert!(
            mapped_rows >= 2 * PAIRS,
            "IPv4-mapped sockets in ss -tan: {mapped_rows}"
        );

        for args in [
            &["sockets", "--format", "json"][..],
            &["sockets", "--processes", "--format", "json"],
            &["sockets", "--by-destination", "--format", "json"],
        ] {
            let document = json_output(tcptune().args(args), 0);
            assert_eq!(
                tcptune_states(&document),
                ss_states(),
                "tcptune {args:?} against ss -tan"
            );
            assert_eq!(document["source"], "netlink", "{args:?}");
            let method = &document["time_wait_count"]["method"];
            if args.contains(&"--by-destination") {
                assert_eq!(*method, "per_socket", "{args:?}");
                let counted: u64 = document["time_wait_by_destination"]
                    .as_array()
                    .expect("destinations")
                    .iter()
                    .map(|row| row["count"].as_u64().expect("count"))
                    .sum();
                assert_eq!(counted, families * TIME_WAIT as u64);
            } else {
                // The kernel sent no TIME_WAIT socket: sockstat tw counts the
                // TIME_WAIT sockets and the orphaned FIN_WAIT2 ones.
                assert_eq!(*method, "sockstat_tw_minus_fin_wait2", "{args:?}");
                assert_eq!(
                    document["time_wait_count"]["fin_wait2"], families,
                    "{args:?}"
                );
                assert_eq!(
                    document["time_wait_count"]["tw"], document["sockstat"]["tw"],
                    "{args:?}"
                );
            }
        }
        drop(held);
    });
}

/// `sockets --processes` charges each CLOSE_WAIT socket to the process that
/// holds it, exactly as `ss -p` does: here this test and a second process.
#[test]
fn close_wait_owners_match_ss() {
    const OWN: usize = 6;
    const HELD_BY_HOLDER: usize = 4;

    in_netns("close_wait_owners_match_ss", || {
        // This process holds server sides on [::1] whose clients closed.
        let v6 = TcpListener::bind("[::1]:0").expect("bind [::1]");
        let own: Vec<TcpStream> = (0..OWN).map(|_| close_wait_from(&v6)).collect();

        // The holder holds client sides toward 127.0.0.1; we accept and
        // close the server sides, so its sockets go CLOSE_WAIT.
        let v4 = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let v4_address = v4.local_addr().expect("listener address");
        let holder = Holder::spawn("close_wait_owners_match_ss", v4_address, HELD_BY_HOLDER);
        for _ in 0..HELD_BY_HOLDER {
            let (server, _) = v4.accept().expect("accept the holder's connection");
            drop(server);
        }

        let me = std::process::id();
        let total = (OWN + HELD_BY_HOLDER) as u64;
        settle(ss_close_wait_owners, |(owners, _)| {
            owners.values().map(|(_, count)| count).sum::<u64>() == total
        });

        let document = json_output(
            tcptune().args(["sockets", "--processes", "--format", "json"]),
            0,
        );
        let (from_ss, ss_unknown) = ss_close_wait_owners();
        let owners = document["close_wait_owners"]
            .as_array()
            .expect("close_wait_owners");
        let from_tcptune: BTreeMap<u32, (String, u64)> = owners
            .iter()
            .map(|owner| {
                let pid = owner["pid"]
                    .as_u64()
                    .and_then(|pid| u32::try_from(pid).ok())
                    .expect("pid");
                let comm = owner["comm"].as_str().expect("comm").to_owned();
                (pid, (comm, owner["count"].as_u64().expect("count")))
            })
            .collect();
        assert_eq!(from_tcptune, from_ss, "tcptune's owners against ss -tanp");
        assert_eq!(document["close_wait_unknown_owner"], 0);
        assert_eq!(ss_unknown, 0, "ss sees every CLOSE_WAIT owner");
        assert_eq!(document["states"]["close_wait"], total);

        // Both processes run this test binary; the kernel keeps the first
        // 15 bytes of its file name as comm.
        let exe = env::current_exe().expect("path of the test binary");
        let name = exe.file_name().expect("binary name").to_string_lossy();
        let comm: String = name.chars().take(15).collect();
        let expected = BTreeMap::from([
            (me, (comm.clone(), OWN as u64)),
            (holder.pid(), (comm, HELD_BY_HOLDER as u64)),
        ]);
        assert_eq!(from_tcptune, expected, "owners against what this test made");

        let owner = |pid: u32| {
            owners
                .iter()
                .find(|owner| owner["pid"] == pid)
                .unwrap_or_else(|| panic!("owner {pid} in {owners:?}"))
        };
        let v6_address = v6.local_addr().expect("listener address");
        assert_eq!(
            owner(me)["local_addresses"],
            json!([{"address": v6_address.to_string(), "count": OWN}])
        );
        assert_eq!(
            owner(holder.pid())["remote_addresses"],
            json!([{"address": v4_address.to_string(), "count": HELD_BY_HOLDER}])
        );
        drop(holder);
        drop(own);
    });
}

/// `check` reads the namespace's live values: drift set with procps sysctl
/// appears with sysctl's own value, and disappears once fixed.
#[test]
fn check_reports_drift_set_with_sysctl() {
    const FIN_TIMEOUT: &str = "net.ipv4.tcp_fin_timeout";
    const TW_REUSE: &str = "net.ipv4.tcp_tw_reuse";

    in_netns("check_reports_drift_set_with_sysctl", || {
        sysctl_write(FIN_TIMEOUT, "45");
        sysctl_write(TW_REUSE, "0");

        let (document, code) = check_document(&["--profile", "webserver"]);
        assert_eq!(code, 1, "drift is a warning: {document:#}");
        for (key, current, expected) in [(FIN_TIMEOUT, "45", "30"), (TW_REUSE, "0", "1")] {
            let drift = findings(&document, "drift", Some(key));
            assert_eq!(
                drift.len(),
                1,
                "one drift finding for {key} in {document:#}"
            );
            assert_eq!(drift[0]["current"], current, "{key}");
            assert_eq!(
                drift[0]["current"],
                sysctl_read(key).as_str(),
                "{key} against sysctl -n"
            );
            assert_eq!(drift[0]["expected"], expected, "{key}");
            assert_eq!(drift[0]["severity"], "warning", "{key}");
        }

        sysctl_write(FIN_TIMEOUT, "30");
        sysctl_write(TW_REUSE, "1");
        let (document, _) = check_document(&["--profile", "webserver"]);
        for key in [FIN_TIMEOUT, TW_REUSE] {
            assert_eq!(
                findings(&document, "drift", Some(key)),
                Vec::<&Value>::new(),
                "{key} fixed"
            );
        }
    });
}

/// `check` leaves the TIME_WAIT sockets in the kernel while no path can
/// reach the port-exhaustion threshold (sockstat counts them), and lists
/// them once one can; both ways its count is ss's and the finding appears
/// exactly when the sockets on one path reach the threshold.
#[test]
fn check_lists_time_wait_sockets_only_where_a_path_can_reach_the_threshold() {
    // 100 usable ports; the default profile warns at 50% of them.
    const FIRST: usize = 30;
    const MORE: usize = 30;
    in_netns(
        "check_lists_time_wait_sockets_only_where_a_path_can_reach_the_threshold",
        || {
            sysctl_write("net.ipv4.ip_local_port_range", "40000 40099");
            sysctl_write("net.ipv4.tcp_tw_reuse", "0");
            let listener = TcpListener::bind("127.0.0.2:5432").expect("bind");
            let verbose_check = || {
                let output = tcptune()
                    .args(["check", "-v", "--format", "json"])
                    .output()
                    .expect("run tcptune check");
                let document: Value = serde_json::from_slice(&output.stdout).expect("check JSON");
                (
                    document,
                    String::from_utf8_lossy(&output.stderr).into_owned(),
                )
            };
            let ss_time_wait = || ss(&["-tan", "state", "time-wait"]).len();
            for _ in 0..FIRST {
                time_wait_toward(&listener);
            }
            assert_eq!(settle(ss_time_wait, |count| *count == FIRST), FIRST);
            let (quiet, notes) = verbose_check();
            assert!(
                notes.contains("the kernel sent no TIME_WAIT sockets"),
                "30 TIME_WAIT cannot fill 50 ports: {notes}"
            );
            assert_eq!(quiet["sockets"]["states"]["time_wait"], ss_time_wait());
            assert!(
                findings(&quiet, "port-exhaustion", None).is_empty(),
                "{quiet:#}"
            );

            for _ in 0..MORE {
                time_wait_toward(&listener);
            }
            assert_eq!(
                settle(ss_time_wait, |count| *count == FIRST + MORE),
                FIRST + MORE
            );
            let (busy, notes) = verbose_check();
            assert!(
                !notes.contains("the kernel sent no TIME_WAIT sockets"),
                "60 TIME_WAIT may fill 50 ports: {notes}"
            );
            assert_eq!(busy["sockets"]["states"]["time_wait"], ss_time_wait());
            let exhaustion = findings(&busy, "port-exhaustion", None);
            assert_eq!(exhaustion.len(), 1, "{busy:#}");
            assert_eq!(exhaustion[0]["evidence"]["destination"], "127.0.0.2:5432");
            assert_eq!(exhaustion[0]["evidence"]["time_wait"], FIRST + MORE);
        },
    );
}

/// With a narrowed port range, 120 TIME_WAIT sockets toward one destination
/// are two thirds of the usable ports: `check` names that destination and
/// `sockets --by-destination` ranks it first, matching `ss`.
#[test]
fn port_exhaustion_names_the_destination() {
    const BUSY: usize = 120;
    const QUIET: usize = 10;
    // 200 ports minus 20 reserved.
    const USABLE: u64 = 180;

    in_netns("port_exhaustion_names_the_destination", || {
        // Bounds of different parity, so connect() and bind(0) both have
        // ports; the listeners' fixed ports lie outside the range.
        sysctl_write("net.ipv4.ip_local_port_range", "40000 40199");
        sysctl_write("net.ipv4.ip_local_reserved_ports", "40000-40019");
        // The default (2, loopback only) lets connect() take over a TIME_WAIT
        // port older than 1 s, which on a slow run would lower the count.
        sysctl_write("net.ipv4.tcp_tw_reuse", "0");

        let busy = TcpListener::bind("127.0.0.2:5432").expect("bind 127.0.0.2:5432");
        let quiet = TcpListener::bind("127.0.0.1:6379").expect("bind 127.0.0.1:6379");
        for _ in 0..BUSY {
            time_wait_toward(&busy);
        }
        for _ in 0..QUIET {
            time_wait_toward(&quiet);
        }
        let destination = "127.0.0.2:5432";
        let ss_busy = || ss(&["-tan", "state", "time-wait", "dst", "127.0.0.2"]).len();
        let seen = settle(ss_busy, |count| *count == BUSY);
        assert_eq!(seen, BUSY, "ss -tan state time-wait dst 127.0.0.2");

        let (document, code) = check_document(&[]);
        assert_eq!(code, 1, "port exhaustion is a warning: {document:#}");
        let exhaustion = findings(&document, "port-exhaustion", None);
        assert_eq!(
            exhaustion.len(),
            1,
            "one port-exhaustion finding in {document:#}"
        );
        let evidence = &exhaustion[0]["evidence"];
        assert_eq!(evidence["destination"], destination);
        assert_eq!(evidence["time_wait"], BUSY);
        assert_eq!(evidence["usable_ports"], USABLE);
        assert_eq!(
            exhaustion[0]["severity"], "warning",
            "120 of 180 is below the error level"
        );

        let document = json_output(
            tcptune().args(["sockets", "--by-destination", "--format", "json"]),
            0,
        );
        let rows = document["time_wait_by_destination"]
            .as_array()
            .expect("time_wait_by_destination");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0]["destination"], destination);
        assert_eq!(rows[0]["count"], ss_busy());
        assert_eq!(rows[0]["count"], BUSY);
        assert_eq!(rows[0]["port_range_size"], USABLE);
        assert_eq!(rows[1]["destination"], "127.0.0.1:6379");
        assert_eq!(rows[1]["count"], QUIET);
        assert_eq!(document["states"]["time_wait"], BUSY + QUIET);
    });
}

/// `--sample` reads the counters twice: connections made between the two
/// readings show up exactly in the rates (rate x interval = count), and the
/// destination they go to is named.
#[test]
fn sample_counts_connections_made_between_readings() {
    in_netns("sample_counts_connections_made_between_readings", || {
        let listener = TcpListener::bind("127.0.0.2:7000").expect("bind 127.0.0.2:7000");
        let child = Command::new(env!("CARGO_BIN_EXE_tcptune"))
            .args([
                "sockets",
                "--by-destination",
                "--sample",
                "2",
                "--format",
                "json",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start tcptune");
        // Well inside the two-second window, far from either reading.
        thread::sleep(Duration::from_millis(500));
        for _ in 0..150 {
            time_wait_toward(&listener);
        }
        let output = child.wait_with_output().expect("tcptune finishes");
        assert!(output.status.success(), "{output:?}");
        let document: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let sample = &document["sample"];
        let seconds = sample["seconds"].as_f64().expect("seconds");
        assert!((2.0..3.0).contains(&seconds), "{sample:#}");
        let opened = sample["active_opens_per_second"].as_f64().expect("rate") * seconds;
        assert!(
            (opened - 150.0).abs() <= 1.0,
            "{opened} connections from {sample:#}"
        );
        let entered = sample["time_wait_entries_per_second"]
            .as_f64()
            .expect("rate")
            * seconds;
        assert!(
            (entered - 150.0).abs() <= 1.0,
            "{entered} entered TIME_WAIT from {sample:#}"
        );
        let row = &sample["destinations"][0];
        assert_eq!(row["destination"], "127.0.0.2:7000");
        assert_eq!(row["time_wait"], 150);
        assert_eq!(document["time_wait_by_destination"][0]["count"], 150);
    });
}
