//! The command-line definition: the single source of `--help`, the man page
//! and the shell completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};

use crate::finding::Severity;

/// Any text, with names offered to shell completion (the built-in profiles,
/// the subjects of `explain`) but not enforced: a profile can also be a
/// path or an installed name.
#[derive(Clone)]
struct Suggested(fn() -> Vec<&'static str>);

impl TypedValueParser for Suggested {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(command, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new((self.0)().into_iter().map(PossibleValue::new)))
    }
}

fn profile_names() -> Vec<&'static str> {
    crate::profile::BUILTINS
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

fn explain_subjects() -> Vec<&'static str> {
    crate::knowledge::subjects().collect()
}
pub use crate::report::Format;

/// Linux TCP tuning advisor: evidence, not folklore.
///
/// tcptune reads the live net.ipv4.tcp_* and related sysctls, the TCP socket
/// states and the kernel's counters, weighs them against a profile, and says
/// what is wrong, why, and what actually helps.
#[derive(Debug, Parser)]
#[command(name = "tcptune", version, about, long_about, max_term_width = 100)]
// Every option of this struct is global: under a heading of its own, so a
// subcommand's --help shows the subcommand's options first.
#[command(next_help_heading = "Global options")]
pub struct Cli {
    /// Where configuration lives (etc/sysctl.d, etc/tcptune/profiles, ...),
    /// like `systemctl --root`; for auditing a mounted image.
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Where the kernel interface is read (sys/..., net/tcp, net/netstat, ...).
    /// Anything but /proc is read as plain files.
    #[arg(
        long = "proc",
        global = true,
        value_name = "DIR",
        default_value = "/proc"
    )]
    pub proc_dir: PathBuf,

    /// Output format; prometheus is for check and sockets.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the output to FILE instead of stdout: atomically (a temporary
    /// file in the same directory, renamed over FILE), whatever the verdict,
    /// for node_exporter's textfile collector and other readers of a file.
    /// Not written when tcptune fails (exit 2 or 3).
    #[arg(long, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Enter this network namespace first: a name under /run/netns (as `ip
    /// netns` makes them) or a path such as /proc/PID/ns/net. Lets a
    /// container host audit and tune one container's network namespace.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub netns: Option<String>,

    /// Print nothing on stdout for human output; the exit code tells.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say on stderr what is read and how long it takes.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    /// When to colour human output; `auto` honours NO_COLOR and pipes.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit live settings, socket states and counters against a profile.
    ///
    /// Exit 0 when no finding reaches --fail-on, 1 when one does.
    Check(CheckArgs),

    /// Show what `apply` would change: live values and tcptune's sysctl.d file.
    ///
    /// Exit 0 when there is nothing to change, 1 when changes are pending.
    Diff {
        /// Profile to apply: a built-in name, an installed name, or a path.
        /// Repeat to layer profiles (later ones override). Default: the
        /// active profile (the one `apply` last put in force here).
        #[arg(long = "profile", value_name = "P", value_parser = Suggested(profile_names), hide_possible_values = true)]
        profiles: Vec<String>,

        /// Directory for tcptune's sysctl.d file (default: <root>/etc/sysctl.d).
        #[arg(long, value_name = "DIR")]
        sysctl_dir: Option<PathBuf>,

        /// With --root other than /: show the live values `apply --live`
        /// would change too. Without it, a --root is an offline image and
        /// only its files are compared, as `apply` would change them.
        #[arg(long)]
        live: bool,
    },

    /// Set the profile's values live and persist them in a sysctl.d file.
    ///
    /// Shows the diff and asks first (stdin and stderr must be a terminal)
    /// unless --yes. Everything is journaled before it changes, so
    /// `tcptune rollback` can restore exactly what was there.
    Apply {
        /// Profile to apply: a built-in name, an installed name, or a path.
        /// Repeat to layer profiles (later ones override).
        #[arg(long = "profile", value_name = "P", required = true, value_parser = Suggested(profile_names), hide_possible_values = true)]
        profiles: Vec<String>,

        /// Do not ask; needed when there is no terminal.
        #[arg(long, short = 'y')]
        yes: bool,

        /// Show what would change and change nothing.
        #[arg(long)]
        dry_run: bool,

        /// With --root other than /: also set this kernel's live values.
        /// Without it, a --root is an offline image and only its files change.
        #[arg(long)]
        live: bool,

        #[command(flatten)]
        places: Places,
    },

    /// Undo the newest apply, or with --to, that transaction and every later one.
    Rollback {
        /// Transaction id (see `tcptune history`).
        #[arg(long, value_name = "ID")]
        to: Option<u64>,

        /// Do not ask; needed when there is no terminal.
        #[arg(long, short = 'y')]
        yes: bool,

        /// Restore even keys or files someone changed after tcptune set them.
        #[arg(long)]
        force: bool,

        /// With --root other than /: also restore this kernel's live values.
        #[arg(long)]
        live: bool,

        /// Leave this key as it is (one the kernel no longer accepts, such as
        /// an interface that is gone); the transaction counts as undone.
        /// Repeat for several keys.
        #[arg(long, value_name = "KEY")]
        skip: Vec<String>,

        /// Set aside a journal record that cannot be read (renamed to
        /// ID.forgotten beside it), once you have checked what it changed;
        /// restores nothing. Other records are never blocked by it.
        #[arg(long, value_name = "ID", conflicts_with_all = ["to", "skip", "force"])]
        forget: Option<u64>,

        /// The sysctl.d directory apply wrote to, if not the default
        /// (<root>/etc/sysctl.d): rollback restores files there only.
        #[arg(long, value_name = "DIR")]
        sysctl_dir: Option<PathBuf>,

        /// State directory (default: <root>/var/lib/tcptune).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },

    /// The active profile, the last transaction, drift since it, and
    /// whether the boot configuration still carries it.
    ///
    /// Exit 0 when live values and the boot configuration match what the
    /// active profile's transaction set, 1 when something drifted, is not
    /// persisted or is shadowed at boot, or a profile file was edited since.
    Status {
        /// State directory (default: <root>/var/lib/tcptune).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },

    /// List the journaled transactions.
    History {
        /// State directory (default: <root>/var/lib/tcptune).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },

    /// Audit sysctl.conf / sysctl.d files without a live system.
    ///
    /// Removed, vendor-only and misspelt keys, harmful and invalid values,
    /// keys set twice, lines the loaders cannot parse. Exit codes as check.
    Lint {
        /// Files to audit, as a set (duplicates across them are reported): a
        /// directory stands for its *.conf files in loader order, `-` for
        /// standard input.
        #[arg(value_name = "FILE", required_unless_present = "boot")]
        files: Vec<PathBuf>,

        /// Audit the whole boot configuration under --root: every file the
        /// boot loader (systemd-sysctl, or procps `sysctl --system`) reads,
        /// in its order.
        #[arg(long, conflicts_with = "files")]
        boot: bool,

        /// Lowest severity that makes lint exit 1.
        #[arg(long, value_enum, default_value_t = FailOn::Warning)]
        fail_on: FailOn,

        /// Judge the files for this kernel release (e.g. 5.4). Default: the
        /// running kernel, from <PROC>/sys/kernel/osrelease; when that cannot
        /// be read, findings that depend on the version say so.
        #[arg(long, value_name = "VERSION")]
        kernel: Option<crate::kernel::KernelVersion>,
    },

    /// Count TCP sockets by state; who holds CLOSE_WAIT, where TIME_WAIT points.
    Sockets(SocketsArgs),

    /// Suggest a built-in profile from the traffic on this host, with the
    /// evidence and the reason. Reads the socket table; changes nothing.
    ///
    /// Many outgoing connections closed toward few destinations: loadbalancer;
    /// many inbound clients: webserver; long-lived connections to few
    /// servers: database; otherwise default. Exit 0.
    Recommend,

    /// List built-in and installed profiles, or show one with its inheritance resolved.
    Profiles {
        /// A profile name or path to show.
        name: Option<String>,
    },

    /// What a key really does on this kernel, or a topic (time-wait, close-wait, fin-wait2).
    Explain {
        /// A sysctl key (net.ipv4.tcp_tw_reuse, or just tcp_tw_reuse) or a
        /// topic, in any case (TIME_WAIT, time-wait).
        #[arg(
            required_unless_present = "list",
            value_parser = Suggested(explain_subjects),
            hide_possible_values = true
        )]
        subject: Option<String>,

        /// List every topic and key tcptune can explain.
        #[arg(long, conflicts_with = "subject")]
        list: bool,

        /// Explain the key for this kernel release (e.g. 4.14) instead of the
        /// running kernel read from <PROC>/sys/kernel/osrelease.
        #[arg(long, value_name = "VERSION")]
        kernel: Option<crate::kernel::KernelVersion>,
    },

    /// Print the man page or shell completions (for packagers).
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

impl Command {
    /// The command's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Check(_) => "check",
            Command::Diff { .. } => "diff",
            Command::Apply { .. } => "apply",
            Command::Rollback { .. } => "rollback",
            Command::Status { .. } => "status",
            Command::History { .. } => "history",
            Command::Lint { .. } => "lint",
            Command::Sockets(_) => "sockets",
            Command::Profiles { .. } => "profiles",
            Command::Recommend => "recommend",
            Command::Explain { .. } => "explain",
            Command::Generate { .. } => "generate",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Generate {
    /// The man page, roff, to stdout.
    Man,
    /// Completions for a shell, to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::aot::Shell,
    },
}

/// Where apply writes.
#[derive(Debug, Args)]
pub struct Places {
    /// Directory for tcptune's sysctl.d file (default: <root>/etc/sysctl.d).
    #[arg(long, value_name = "DIR")]
    pub sysctl_dir: Option<PathBuf>,

    /// State directory for the lock and journal (default: <root>/var/lib/tcptune).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Profile to check against: a built-in name, a name under
    /// <root>/etc/tcptune/profiles, or a path. Repeat to layer profiles
    /// (later ones override). Default: the active profile (the one `apply`
    /// last put in force here), else the built-in `default`.
    #[arg(long = "profile", value_name = "P", value_parser = Suggested(profile_names), hide_possible_values = true)]
    pub profiles: Vec<String>,

    /// Lowest severity that makes check exit 1.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,

    /// Read the counters twice, SECONDS apart (0.1 to 3600), and judge connection rates too.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub sample: Option<f64>,

    /// Audit every network namespace on the machine: those named under
    /// /run/netns and every distinct /proc/PID/ns/net. Each is labelled
    /// with what owns it (container id and pod, from the cgroup path:
    /// containerd, CRI-O and Docker are recognised). Global keys are read
    /// once, in tcptune's own namespace. Needs root and the kernel's /proc.
    /// Namespaces are audited a few at a time: with --sample, 200 take
    /// about 50 sampling intervals.
    #[arg(long)]
    pub all_netns: bool,
    /// Keep each counter reading here and judge counters by their change
    /// since the previous check (default: <root>/var/lib/tcptune when it
    /// exists; with --proc pointing at plain files, nowhere).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The shortest sampling interval: below it, rates are noise (and a report
/// would say "over 0.0 s").
const MIN_SAMPLE_SECONDS: f64 = 0.1;
const MAX_SAMPLE_SECONDS: f64 = 3600.0;

/// A sampling interval: from 0.1 s to an hour.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (MIN_SAMPLE_SECONDS..=MAX_SAMPLE_SECONDS).contains(&seconds) => Ok(seconds),
        Ok(_) => Err(format!(
            "`{text}` seconds is outside the range: the interval is from {MIN_SAMPLE_SECONDS} to {MAX_SAMPLE_SECONDS} seconds"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a number of seconds (from {MIN_SAMPLE_SECONDS} to {MAX_SAMPLE_SECONDS})"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
}

impl From<FailOn> for Severity {
    fn from(fail_on: FailOn) -> Severity {
        match fail_on {
            FailOn::Info => Severity::Info,
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

#[derive(Debug, Args)]
pub struct SocketsArgs {
    /// Name the processes holding CLOSE_WAIT sockets (walks /proc/PID/fd).
    #[arg(long)]
    pub processes: bool,

    /// Group TIME_WAIT sockets by remote address and port, against the usable port range.
    #[arg(long)]
    pub by_destination: bool,

    /// Read twice, SECONDS apart (0.1 to 3600): connection rates, the TIME_WAIT they imply,
    /// and per destination the headroom against the port range.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub sample: Option<f64>,

    /// Audit every network namespace on the machine: those named under
    /// /run/netns and every distinct /proc/PID/ns/net. Each is labelled
    /// with what owns it (container id and pod, from the cgroup path:
    /// containerd, CRI-O and Docker are recognised). Global keys are read
    /// once, in tcptune's own namespace. Needs root and the kernel's /proc.
    #[arg(long)]
    pub all_netns: bool,
}
