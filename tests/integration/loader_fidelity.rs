//! Loader fidelity: tcptune's model of what systemd-sysctl and procps
//! `sysctl --system` do at boot, compared with the real programs on
//! generated trees.
//!
//! Each tree is random but seeded (a small splitmix64 below, so a failure
//! names its seed and reproduces), spread over every sysctl.d directory and
//! `/etc/sysctl.conf`, and full of the lines and names where loaders differ:
//! blanks after `-`, `--key`, odd separators, `\r`, `\0` and `\v` inside
//! lines, values the kernel refuses, globs and glob exclusions, masks,
//! dangling links and loops, hidden names and file names that are globs.
//! For each tree, `conf::resolve` predicts the final value of every key;
//! then the real loader runs inside `unshare -m -n`, after
//! `mount --make-rprivate /` and with a bind or tmpfs mount over every
//! directory and file it reads, so the host's own files are never applied,
//! and the live values are read back in that namespace. Only per-network-
//! namespace keys are ever written, and the helper script refuses to run a
//! loader unless the network namespace differs from the test's own and every
//! mount is in place. Where namespaces cannot be made the test skips, unless
//! `TCPTUNE_REQUIRE_NETNS=1`, where it fails.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tcptune::conf::{Loader, resolve};
use tcptune::key::Key;

use crate::netns::{REQUIRE_ENV, current_netns, netns_available};

const SYSTEMD_SYSCTL: &str = "/usr/lib/systemd/systemd-sysctl";

/// The keys the trees set: all per network namespace on every kernel this
/// test runs on, and nothing global.
const KEYS: [&str; 8] = [
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_sack",
    "net.ipv4.ip_local_port_range",
];

/// Globs whose every match on the test kernel is one of [`KEYS`], each with
/// the range of values valid for all of its matches.
const GLOBS: [(&str, u32, u32); 4] = [
    ("net.ipv4.tcp_keepalive_*", 10, 120),
    ("net.ipv4.tcp_keepalive_[ti]*", 10, 120),
    ("net.ipv4.tcp_syn_retrie?", 1, 10),
    ("net/ipv4/tcp_s[a]ck", 0, 1),
];

/// Runs in the new namespaces: proves isolation, covers every directory the
/// loaders read with the tree's copy, runs one loader and prints the values
/// before and after. `$1` tree, `$2` loader, `$3` the parent's netns, then
/// the keys.
const SCRIPT: &str = r#"
set -eu
T=$1; L=$2; P=$3; shift 3
[ "$(readlink /proc/self/ns/net)" != "$P" ] || { echo "still in the parent network namespace" >&2; exit 99; }
[ -L /lib ] || { echo "/lib is not a symlink: this layout is not covered" >&2; exit 97; }
mount --make-rprivate /
mount --bind "$T/etc/sysctl.d" /etc/sysctl.d
mount --bind "$T/usr/lib/sysctl.d" /usr/lib/sysctl.d
mount -t tmpfs tmpfs /run
mkdir /run/sysctl.d
mount --bind "$T/run/sysctl.d" /run/sysctl.d
mount -t tmpfs tmpfs /usr/local/lib
mkdir /usr/local/lib/sysctl.d
mount --bind "$T/usr/local/lib/sysctl.d" /usr/local/lib/sysctl.d
mount --bind "$T/etc/sysctl.conf" /etc/sysctl.conf
for pair in etc/sysctl.d:/etc/sysctl.d usr/lib/sysctl.d:/usr/lib/sysctl.d \
    usr/lib/sysctl.d:/lib/sysctl.d run/sysctl.d:/run/sysctl.d \
    usr/local/lib/sysctl.d:/usr/local/lib/sysctl.d etc/sysctl.conf:/etc/sysctl.conf; do
  a=${pair%%:*}; b=${pair#*:}
  [ "$(stat -L -c %d:%i "$T/$a")" = "$(stat -L -c %d:%i "$b")" ] || { echo "not covered: $b" >&2; exit 98; }
done
for k in "$@"; do printf 'before %s=%s\n' "$k" "$(sysctl -n "$k")"; done
case $L in
  procps) sysctl --system >/dev/null 2>&1 || true ;;
  systemd) env -u CREDENTIALS_DIRECTORY "$SYSTEMD_SYSCTL" >/dev/null 2>&1 || true ;;
esac
for k in "$@"; do printf 'after %s=%s\n' "$k" "$(sysctl -n "$k")"; done
echo done
"#;

/// splitmix64: tiny, seeded, good enough to pick lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }

    fn range(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }
}

/// A number as people write it: decimal, sometimes hex or octal (which the
/// kernel reads as such), sometimes with a "trailing comment".
fn render_number(rng: &mut Rng, value: u32) -> String {
    match rng.below(10) {
        0 => format!("{value:#x}"),
        1 if value > 0 => format!("0{value:o}"),
        2 => format!("{value} # was something else"),
        _ => value.to_string(),
    }
}

/// A value for `key`: usually valid, sometimes one the kernel refuses.
fn value_for(rng: &mut Rng, key: &str) -> String {
    if rng.chance(12) {
        return rng
            .pick(&["", "x", "7x", "12#", "0x", "09", "- 1"])
            .to_string();
    }
    if key.ends_with("ip_local_port_range") {
        let low = rng.range(1024, 30000);
        let high = rng.range(40000, 60000);
        return format!("{low}{}{high}", rng.pick(&[" ", "\t", "  "]));
    }
    let (low, high) = match key.rsplit('.').next().unwrap_or_default() {
        "tcp_fin_timeout" => (1, 120),
        "tcp_keepalive_time" => (60, 9000),
        "tcp_keepalive_intvl" => (10, 120),
        "tcp_keepalive_probes" => (1, 20),
        "tcp_syn_retries" => (1, 10),
        "tcp_tw_reuse" => (0, 2),
        _ => (0, 1),
    };
    let value = rng.range(low, high);
    render_number(rng, value)
}

/// A key spelt one of the ways people (and the loaders) accept.
fn spell(rng: &mut Rng, key: &str) -> String {
    let leaf = key.strip_prefix("net.ipv4.").unwrap_or(key);
    match rng.below(12) {
        0 => format!("net..ipv4.{leaf}"),
        1 => format!("net//ipv4/{leaf}"),
        2 => format!(".net.ipv4.{leaf}"),
        3 => format!("/net/ipv4/{leaf}"),
        4 => format!("net/ipv4/{leaf}"),
        _ => key.to_owned(),
    }
}

/// One line (without its end), or two joined by an unusual separator.
fn line(rng: &mut Rng) -> String {
    let key = *rng.pick(&KEYS);
    let value = value_for(rng, key);
    let spelt = spell(rng, key);
    let eq = rng.pick(&["=", " = ", "\t=\t", " ="]).to_string();
    match rng.below(30) {
        0 => format!("-{spelt}{eq}{value}"),
        1 => format!("- {spelt}{eq}{value}"),
        2 => format!("--{spelt}{eq}{value}"),
        3 => format!("-{spelt}"),
        4 => format!("# {spelt}{eq}{value}"),
        5 => format!("{}; {spelt}{eq}{value}", rng.pick(&["", "  ", "\t"])),
        6 | 7 => {
            let (glob, low, high) = *rng.pick(&GLOBS);
            let value = rng.range(low, high);
            format!("{glob}{eq}{value}")
        }
        8 => format!("-{}", rng.pick(&GLOBS).0),
        9 => format!("{spelt}{eq}{value}\r{}", line(rng)),
        10 => format!("{spelt}{eq}{value}\0{}", line(rng)),
        11 => format!("{spelt}{eq}{value}\x0b"),
        12 => format!("{spelt}\x0b{eq}{value}"),
        13 => format!("{spelt}{eq}{value}\r"),
        14 => "this line is not an assignment".to_owned(),
        15 => format!("   {spelt}{eq}{value}   "),
        _ => format!("{spelt}{eq}{value}"),
    }
}

fn content(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    for _ in 0..rng.range(0, 6) {
        text.push_str(&line(rng));
        text.push_str(if rng.chance(10) { "\r\n" } else { "\n" });
    }
    let mut bytes = text.into_bytes();
    if rng.chance(3) {
        // systemd stops at a line of 1 MiB or more; procps reads on.
        bytes.extend_from_slice(b"# ");
        bytes.extend(std::iter::repeat_n(b'x', 1024 * 1024 - 2));
        bytes.push(b'\n');
        bytes.extend_from_slice(line(rng).as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

const DIRS: [&str; 4] = [
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
];

const NAMES: [&str; 14] = [
    "10-a.conf",
    "10-b.conf",
    "10-[ab].conf",
    "20-e.conf",
    "20-{e,f}.conf",
    "30-c.conf",
    "30-c.conf.bak",
    "5*.conf",
    "50-x.conf",
    "60-d.conf",
    ".40-dot.conf",
    "99-sysctl.conf",
    "99-z.conf",
    ".conf",
];

/// Writes one tree under `root` and returns a listing for failure messages.
fn generate(rng: &mut Rng, root: &Path) -> String {
    let mut listing = String::new();
    for dir in DIRS {
        fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    symlink("usr/lib", root.join("lib")).expect("lib link");
    let conf = content(rng);
    fs::write(root.join("etc/sysctl.conf"), &conf).expect("sysctl.conf");
    let _ = writeln!(listing, "/etc/sysctl.conf: {:?}", preview(&conf));
    for dir in DIRS {
        for name in NAMES {
            if !rng.chance(30) {
                continue;
            }
            let path = root.join(dir).join(name);
            let what = match rng.below(20) {
                0 => {
                    symlink("/dev/null", &path).expect("mask");
                    "-> /dev/null".to_owned()
                }
                1 => {
                    symlink("missing.conf", &path).expect("dangling");
                    "-> missing.conf".to_owned()
                }
                2 => {
                    symlink(name, &path).expect("loop");
                    format!("-> {name} (loop)")
                }
                3 if dir == "etc/sysctl.d" => {
                    symlink("../sysctl.conf", &path).expect("link");
                    "-> ../sysctl.conf".to_owned()
                }
                4 => {
                    let target = format!("/usr/lib/sysctl.d/{}", rng.pick(&NAMES));
                    symlink(&target, &path).expect("link");
                    format!("-> {target}")
                }
                _ => {
                    let bytes = content(rng);
                    fs::write(&path, &bytes).expect("write");
                    format!("{:?}", preview(&bytes))
                }
            };
            let _ = writeln!(listing, "/{dir}/{name}: {what}");
        }
    }
    listing
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 600 {
        format!("{}… ({} bytes)", &text[..300], text.len())
    } else {
        text.into_owned()
    }
}

/// The value as the kernel prints it back, tokens joined by one space: the
/// leading integers, read as `strtoul(.., 0)` reads them.
fn canonical(key: &str, raw: &str) -> String {
    let count = if key.ends_with("ip_local_port_range") {
        2
    } else {
        1
    };
    raw.split_whitespace()
        .take(count)
        .map(|token| {
            let digits = token.trim_end_matches(|ch: char| !ch.is_ascii_hexdigit());
            let parsed = if let Some(hex) = digits.strip_prefix("0x") {
                i64::from_str_radix(hex, 16)
            } else if digits.len() > 1 && digits.starts_with('0') {
                i64::from_str_radix(&digits[1..], 8)
            } else {
                digits.parse()
            };
            parsed.map_or_else(|_| token.to_owned(), |value| value.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn normalise_live(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one real loader on one tree; returns (before, after) per key.
fn run_real(tree: &Path, loader: &str) -> Result<Vec<(String, String)>, String> {
    let output = Command::new("unshare")
        .args(["-m", "-n", "--", "sh", "-c", SCRIPT, "sh"])
        .arg(tree)
        .arg(loader)
        .arg(current_netns())
        .args(KEYS)
        .env("SYSTEMD_SYSCTL", SYSTEMD_SYSCTL)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .map_err(|error| format!("cannot run unshare: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains("\ndone") {
        return Err(format!(
            "namespace run failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let value = |phase: &str, key: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{phase} {key}=")))
            .map(normalise_live)
            .unwrap_or_default()
    };
    Ok(KEYS
        .iter()
        .map(|key| (value("before", key), value("after", key)))
        .collect())
}

/// Whether the test can run here; panics under `TCPTUNE_REQUIRE_NETNS=1`.
fn usable() -> bool {
    let problem = netns_available().err().or_else(|| {
        let works = Command::new("unshare")
            .args(["-m", "-n", "true"])
            .status()
            .is_ok_and(|status| status.success());
        (!works).then(|| "unshare -m -n is not permitted".to_owned())
    });
    let problem = problem.or_else(|| {
        (!Path::new("/lib").is_symlink())
            .then(|| "/lib is not a symlink to usr/lib; this layout is not covered".to_owned())
    });
    match problem {
        None => true,
        Some(reason) => {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{REQUIRE_ENV}=1 but the loader fidelity test cannot run: {reason}"
            );
            eprintln!("skipping loader_fidelity: {reason}");
            false
        }
    }
}

fn compare(loader: Loader, real: &str, trees: u64) {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut changed = 0;
    for seed in 1..=trees {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let dir = tempfile::tempdir().expect("tempdir");
        let listing = generate(&mut rng, dir.path());
        let resolution = resolve(dir.path(), loader).expect("resolve");
        let live =
            run_real(dir.path(), real).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        for (key, (before, after)) in KEYS.iter().zip(live) {
            let parsed = Key::parse(key).expect("key");
            let predicted = resolution
                .lookup(&parsed)
                .and_then(|resolved| resolved.value().map(ToString::to_string))
                .map_or(before.clone(), |raw| canonical(key, &raw));
            if after != before {
                changed += 1;
            }
            if predicted != after {
                failures.push(format!(
                    "seed {seed}, {key}: tcptune predicts {predicted:?}, {real} left {after:?} (before {before:?})\n{listing}"
                ));
            }
        }
    }
    eprintln!(
        "loader_fidelity: {trees} trees ({} key values, {changed} changed by the loader) compared with the real {real} in {:.1?}",
        trees * KEYS.len() as u64,
        started.elapsed()
    );
    // A run where the loader changed nothing would prove nothing.
    assert!(
        changed * 4 > trees,
        "the trees changed too few values: {changed}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches with the real {real}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn trees() -> u64 {
    std::env::var("TCPTUNE_LOADER_TREES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(150)
}

#[test]
fn model_matches_real_procps_sysctl_system() {
    if !usable() {
        return;
    }
    assert!(
        Command::new("sysctl")
            .arg("--version")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains("procps-ng")),
        "procps sysctl is needed"
    );
    compare(Loader::Procps, "procps", trees());
}

#[test]
fn model_matches_real_systemd_sysctl() {
    if !usable() {
        return;
    }
    if !Path::new(SYSTEMD_SYSCTL).exists() {
        assert!(
            std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{SYSTEMD_SYSCTL} is missing"
        );
        eprintln!("skipping: {SYSTEMD_SYSCTL} is missing");
        return;
    }
    compare(Loader::Systemd, "systemd", trees());
}
