//! Creates real TCP sockets in chosen states on loopback and holds them while
//! a command runs: the load for tcptune's benchmarks (`benches/*.sh`).
//!
//! Run it only inside a private network namespace (`unshare -n`): it refuses
//! to start when its network namespace is its parent's, so it can never fill
//! the host's own socket tables or change its sysctls.
//!
//! ```text
//! unshare -n -- target/release/examples/socket_load \
//!     --time-wait 20000 --close-wait 1000 --established 1000 -- hyperfine 'tcptune check'
//! ```
//!
//! TIME_WAIT sockets are spread over 127.0.0.1-127.0.0.254 listeners so no
//! single destination runs out of ephemeral ports (254 destinations times
//! 64,512 ports); the namespace's `tcp_max_tw_buckets` and
//! `ip_local_port_range` are raised and `tcp_tw_reuse` is turned off (inside
//! the namespace only) so a million TIME_WAIT sockets fit and none is taken
//! over by a later connect. They are made on one thread per CPU and the time
//! it took is printed: TIME_WAIT lasts a fixed 60 s from each socket's close,
//! so a million must be made, and measured, well inside a minute.
//!
//! `--idle-processes N --descriptors M` adds N processes holding M open
//! descriptors each (of /dev/null): the load for the `/proc/PID/fd` walk.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};

struct Plan {
    time_wait: usize,
    close_wait: usize,
    established: usize,
    holders: usize,
    idle_processes: usize,
    descriptors: usize,
    command: Vec<String>,
}

fn parse_args() -> Result<Plan, String> {
    let mut plan = Plan {
        time_wait: 0,
        close_wait: 0,
        established: 0,
        holders: 1,
        idle_processes: 0,
        descriptors: 0,
        command: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--time-wait" => plan.time_wait = number("--time-wait")?,
            "--close-wait" => plan.close_wait = number("--close-wait")?,
            "--established" => plan.established = number("--established")?,
            "--close-wait-processes" => plan.holders = number("--close-wait-processes")?.max(1),
            "--idle-processes" => plan.idle_processes = number("--idle-processes")?,
            "--descriptors" => plan.descriptors = number("--descriptors")?,
            "--" => {
                plan.command = args.by_ref().collect();
                break;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if plan.command.is_empty() {
        return Err("give the command to run after `--`".into());
    }
    Ok(plan)
}

/// True when this process's network namespace differs from its parent's,
/// i.e. it was started through `unshare -n`. (PID 1 is no reference: a
/// sandbox may itself run in a namespace of its own.)
fn in_private_namespace() -> bool {
    let parent = format!("/proc/{}/ns/net", std::os::unix::process::parent_id());
    match (
        std::fs::read_link("/proc/self/ns/net"),
        std::fs::read_link(parent),
    ) {
        (Ok(mine), Ok(parent)) => mine != parent,
        // If the parent's namespace cannot be read nothing is proven.
        _ => false,
    }
}

fn sh(command: &str) -> Result<(), String> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .map_err(|error| format!("{command}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{command}` failed: {status}"))
    }
}

fn listener(octet: u8) -> Result<TcpListener, String> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, octet), 5000)))
        .map_err(|error| format!("bind 127.0.0.{octet}: {error}"))
}

/// Client closes first, server reads EOF and closes: the client socket lands
/// in TIME_WAIT for 60 s. Listener `i` is served only by thread `i % threads`,
/// so no thread accepts another's connection.
/// Returns how long it took and on how many threads.
fn make_time_wait(listeners: &[TcpListener], count: usize) -> Result<(f64, usize), String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || -> Result<(), String> {
                    let mine: Vec<&TcpListener> =
                        listeners.iter().skip(thread).step_by(threads).collect();
                    let share = count / threads + usize::from(thread < count % threads);
                    let mut buffer = [0u8; 1];
                    for index in 0..share {
                        let listener = mine[index % mine.len()];
                        let address = listener.local_addr().map_err(|error| error.to_string())?;
                        let client = TcpStream::connect(address)
                            .map_err(|error| format!("connect {address}: {error}"))?;
                        let (mut server, _) =
                            listener.accept().map_err(|error| error.to_string())?;
                        drop(client);
                        let _ = server.read(&mut buffer);
                        drop(server);
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().map_err(|_| "a worker panicked".to_owned())?)
    })?;
    Ok((started.elapsed().as_secs_f64(), threads))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, count] = args.as_slice()
        && mode == "--idle"
    {
        return match idle(count) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("socket_load idler: {message}");
                ExitCode::from(3)
            }
        };
    }
    if let [_, mode, address, count] = args.as_slice()
        && mode == "--hold"
    {
        return match hold(address, count) {
            Ok(code) => ExitCode::from(code),
            Err(message) => {
                eprintln!("socket_load holder: {message}");
                ExitCode::from(3)
            }
        };
    }
    let plan = match parse_args() {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("socket_load: {message}");
            return ExitCode::from(2);
        }
    };
    if !in_private_namespace() {
        eprintln!(
            "socket_load: refusing to run outside a private network namespace (use unshare -n)"
        );
        return ExitCode::from(2);
    }
    match run(&plan) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("socket_load: {message}");
            ExitCode::from(3)
        }
    }
}

fn run(plan: &Plan) -> Result<u8, String> {
    sh("ip link set lo up")?;
    sh(
        "sysctl -qw net.ipv4.tcp_max_tw_buckets=2000000 net.ipv4.ip_local_port_range='1024 65535' net.ipv4.tcp_tw_reuse=0",
    )?;
    let listeners: Vec<TcpListener> = (1..=254).map(listener).collect::<Result<_, _>>()?;
    let (making, threads) = make_time_wait(&listeners, plan.time_wait)?;

    // ESTABLISHED pairs, both ends held.
    let mut held = Vec::new();
    for index in 0..plan.established {
        let listener = &listeners[index % listeners.len()];
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        held.push(TcpStream::connect(address).map_err(|error| error.to_string())?);
        held.push(listener.accept().map_err(|error| error.to_string())?.0);
    }

    // CLOSE_WAIT: each holder process is a copy of this program serving on
    // its own address; we connect and close, it accepts and never closes.
    let mut children = Vec::new();
    let per_holder = plan.close_wait.div_ceil(plan.holders);
    let mut remaining = plan.close_wait;
    for holder in 0..plan.holders {
        let count = per_holder.min(remaining);
        remaining -= count;
        let address = SocketAddr::from((
            Ipv4Addr::new(127, 0, 1, u8::try_from(holder % 250 + 1).unwrap_or(1)),
            6000 + u16::try_from(holder / 250).unwrap_or(0),
        ));
        children.push(close_wait_holder(address, count)?);
    }
    let started = std::time::Instant::now();
    for _ in 0..plan.idle_processes {
        children.push(idler(plan.descriptors)?);
    }
    // One line, which says "holding": tests wait for it.
    eprintln!(
        "socket_load: holding {} TIME_WAIT (for up to 60 s; made in {making:.1} s on {threads} threads), {} CLOSE_WAIT in {} processes, {} ESTABLISHED pairs, {} idle processes with {} descriptors each (started in {:.1} s)",
        plan.time_wait,
        plan.close_wait,
        plan.holders,
        plan.established,
        plan.idle_processes,
        plan.descriptors,
        started.elapsed().as_secs_f64()
    );
    let status = Command::new(&plan.command[0])
        .args(&plan.command[1..])
        .status()
        .map_err(|error| format!("{}: {error}", plan.command[0]))?;
    for mut child in children {
        // Closing its stdin tells the holder to exit.
        drop(child.stdin.take());
        let _ = child.wait();
    }
    drop(held);
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(1))
}

/// Starts a copy of this program that listens on `address`, accepts `count`
/// connections and holds them open; the connections are closed from this
/// side, so the holder's sockets sit in CLOSE_WAIT.
fn close_wait_holder(address: SocketAddr, count: usize) -> Result<Child, String> {
    let program = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut child = Command::new(program)
        .args(["--hold", &address.to_string(), &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("holder: {error}"))?;
    let mut ready = String::new();
    let stdout = child.stdout.take().ok_or("holder has no stdout")?;
    let mut lines = BufReader::new(stdout);
    lines
        .read_line(&mut ready)
        .map_err(|error| error.to_string())?;
    if ready.trim() != "listening" {
        return Err(format!("holder did not start: {ready:?}"));
    }
    for _ in 0..count {
        let client =
            TcpStream::connect(address).map_err(|error| format!("connect {address}: {error}"))?;
        client
            .shutdown(Shutdown::Both)
            .map_err(|error| error.to_string())?;
    }
    ready.clear();
    lines
        .read_line(&mut ready)
        .map_err(|error| error.to_string())?;
    if ready.trim() != "holding" {
        return Err(format!("holder did not accept: {ready:?}"));
    }
    Ok(child)
}

/// Starts a copy of this program that holds `descriptors` open files.
fn idler(descriptors: usize) -> Result<Child, String> {
    let program = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut child = Command::new(program)
        .args(["--idle", &descriptors.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("idler: {error}"))?;
    let stdout = child.stdout.take().ok_or("idler has no stdout")?;
    let mut ready = String::new();
    BufReader::new(stdout)
        .read_line(&mut ready)
        .map_err(|error| error.to_string())?;
    if ready.trim() != "holding" {
        return Err(format!("idler did not start: {ready:?}"));
    }
    Ok(child)
}

/// The idler side: open `count` descriptors and keep them until stdin closes.
fn idle(count: &str) -> Result<(), String> {
    let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
    let held: Vec<std::fs::File> = (0..count)
        .map(|_| std::fs::File::open("/dev/null").map_err(|error| error.to_string()))
        .collect::<Result<_, _>>()?;
    println!("holding");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
    Ok(())
}

/// The holder side: accept and keep every connection until stdin closes.
fn hold(address: &str, count: &str) -> Result<u8, String> {
    let address: SocketAddr = address
        .parse()
        .map_err(|_| format!("bad address {address}"))?;
    let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
    let listener =
        TcpListener::bind(address).map_err(|error| format!("bind {address}: {error}"))?;
    println!("listening");
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        held.push(listener.accept().map_err(|error| error.to_string())?.0);
    }
    println!("holding");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
    Ok(0)
}
