//! The man page and shell completions, generated from the clap definition so
//! `--help`, `man tcptune` and tab completion never disagree.
//!
//! clap_mangen renders the synopsis and options; the sections a man page
//! needs beyond that (every command's options, exit status, files,
//! environment, examples) are written here in roff.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::aot::{Shell, generate};

use crate::cli::Cli;

/// Writes `man/tcptune.8`.
pub fn render_man(out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    command.build();
    let man = clap_mangen::Man::new(command.clone()).section("8");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
    {
        let name = format!("tcptune {}", sub.get_name());
        writeln!(out, ".SS {name}")?;
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            writeln!(out, "{}", roff_escape(&about.to_string()))?;
        }
        // Global options are documented once, above.
        for argument in sub
            .get_arguments()
            .filter(|argument| !argument.is_global_set() && !argument.is_hide_set())
        {
            if argument.get_id() == "help" {
                continue;
            }
            writeln!(out, ".TP")?;
            writeln!(out, "{}", argument_synopsis(argument))?;
            if let Some(help) = argument.get_long_help().or_else(|| argument.get_help()) {
                let help = help.to_string();
                let stop = if help.ends_with('.') { "" } else { "." };
                writeln!(out, "{}{stop}", roff_escape(&help))?;
            }
            let values: Vec<String> = argument
                .get_possible_values()
                .iter()
                .filter(|value| !value.is_hide_set())
                .map(|value| value.get_name().to_owned())
                .collect();
            if !values.is_empty() {
                writeln!(out, "One of: {}.", values.join(", "))?;
            }
        }
    }
    out.write_all(PROFILE_FORMAT.as_bytes())?;
    writeln!(out, ".SH FINDING CODES")?;
    writeln!(
        out,
        "Stable codes of \\fBcheck\\fR and \\fBlint\\fR findings (JSON \\fBcode\\fR):"
    )?;
    for code in crate::finding::Code::ALL {
        writeln!(out, ".TP")?;
        writeln!(out, ".B {}", code.name().replace('-', "\\-"))?;
        let summary = code
            .summary()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        writeln!(out, "{}", roff_escape(&summary).replace('-', "\\-"))?;
    }
    out.write_all(EXTRA_SECTIONS.as_bytes())?;
    man.render_version_section(out)
}

/// Prints completions for a shell.
/// Writes the completions for `shell`. clap_complete panics when its
/// writer fails, so they are rendered in memory first and written here,
/// where a full disk or a closed pipe is an error like any other.
pub fn render_completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    generate(shell, &mut command, "tcptune", &mut script);
    out.write_all(&script)
}

/// `--fail-on <FAIL_ON>`, `--profile <P>`, `<SUBJECT>` in roff bold/italic.
fn argument_synopsis(argument: &clap::Arg) -> String {
    let value = argument
        .get_value_names()
        .and_then(|names| names.first())
        .map(ToString::to_string)
        .unwrap_or_else(|| argument.get_id().to_string().to_uppercase());
    let takes_value = argument
        .get_num_args()
        .is_some_and(|range| range.takes_values());
    match (argument.get_long(), argument.get_short()) {
        (Some(long), _) if takes_value => format!("\\fB\\-\\-{long}\\fR \\fI<{value}>\\fR"),
        (Some(long), _) => format!("\\fB\\-\\-{long}\\fR"),
        (None, Some(short)) => format!("\\fB\\-{short}\\fR"),
        (None, None) => format!("\\fI<{value}>\\fR"),
    }
}

fn roff_escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\\\");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else if line.is_empty() {
                ".PP".to_owned()
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The profile format, as the README shows it.
const PROFILE_FORMAT: &str = r#".SH PROFILE FORMAT
A profile is a YAML file: a built\-in name, a name under
\fI/etc/tcptune/profiles/NAME.yaml\fR (under \fB\-\-root\fR), or a path.
Every setting needs a \fBwhy\fR; keys are under \fBnet.\fR only.
.PP
.nf
description: Our API servers
extends: webserver             # a name or a path (relative to this file)
settings:
  net.ipv4.tcp_fin_timeout:
    value: 30                  # equal
    why: frees orphaned FIN_WAIT2 sooner
  net.core.somaxconn:
    at_least: 8192             # also: at_most
    severity: error            # info | warning (default) | error
    why: deep accept queue for bursts
  net.ipv4.ip_local_port_range:
    value: 10240 65535         # multi\-number values: a string or a list
    why: more ephemeral ports toward our backends
  net.ipv4.tcp_tw_recycle:
    forbidden: true            # must not be set
    why: drops clients behind NAT; removed in 4.12
  net.ipv4.tcp_tw_reuse_delay:
    value: 1000
    min_kernel: "6.14"         # also below_kernel; quote versions
    why: ...
thresholds:                    # defaults shown
  close_wait_leak: 100
  port_exhaustion_percent: 50
  tw_bucket_percent: 80
  listen_overflow: 0
  idle_timeout_seconds: 350    # optional: load balancer or NAT idle timeout
.fi
.PP
Validation is strict: unknown fields, wrong types, keys outside \fBnet.\fR,
values the kernel would refuse, a missing \fBwhy\fR, unquoted kernel
versions, \fBextends\fR cycles and empty files are errors, each reported as
FILE:LINE:COLUMN (exit 2).
"#;

const EXTRA_SECTIONS: &str = r#".SH EXIT STATUS
The same codes for every command:
.TP
.B 0
success; for \fBcheck\fR, no finding at or above \fB\-\-fail\-on\fR (default warning)
.TP
.B 1
\fBcheck\fR and \fBlint\fR: findings at or above \fB\-\-fail\-on\fR; \fBdiff\fR: changes pending
.TP
.B 2
invalid input: command\-line usage, unknown profile, a profile that does not parse or validate (every error is printed as FILE:LINE:COLUMN)
.TP
.B 3
system error: cannot read or write what is needed, permission denied, the lock is held, a journal record is damaged, or apply failed (after putting back what it had changed)
.TP
.B 4
nothing done because confirmation was needed (no terminal and no \fB\-\-yes\fR) or the answer was no
.SH FILES
.TP
.I /proc/sys/net/...
live sysctl values (read under \fB\-\-proc\fR)
.TP
.I /proc/net/tcp, /proc/net/tcp6, /proc/net/sockstat, /proc/net/netstat, /proc/net/snmp
socket table and counters
.TP
.I /proc/PID/fd
links to sockets, for naming the processes that hold CLOSE_WAIT sockets
.TP
.I /etc/sysctl.d/99\-zz\-tcptune.conf
the file \fBapply\fR writes; its name sorts after 99\-sysctl.conf so the profile's values win at boot under systemd\-sysctl
.TP
.I /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d, /lib/sysctl.d, /etc/sysctl.conf
read to find which file sets each key at boot, under systemd\-sysctl and under procps \fBsysctl \-\-system\fR
.TP
.I /var/lib/tcptune
state directory (0700): the lock and the journal of every transaction (0600 records, with the file's bytes before and after)
.TP
.I /etc/tcptune/profiles/NAME.yaml
installed profiles (under \fB\-\-root\fR); one named like a built\-in replaces it and may extend it
.SH ENVIRONMENT
.TP
.B NO_COLOR
when set, \fB\-\-color auto\fR prints no colour
.SH EXAMPLES
.TP
.B tcptune check
audit this host against the built\-in default profile
.TP
.B tcptune check \-\-profile webserver \-\-format json
the same against the webserver profile, for scripts; exit 1 on warnings
.TP
.B tcptune sockets \-\-processes \-\-by\-destination
who holds CLOSE_WAIT sockets, and where TIME_WAIT sockets point
.TP
.B tcptune diff \-\-profile webserver
what apply would change, live and in the sysctl.d file
.TP
.B tcptune apply \-\-profile webserver \-\-yes \-\-format json
apply unattended (configuration management); a second run reports "changed": false
.TP
.B tcptune rollback
undo the newest apply
.TP
.B tcptune explain tcp_fin_timeout
what the key really does on this kernel
.TP
.B tcptune \-\-root /mnt/image \-\-proc /mnt/image\-proc check
audit a mounted image and a saved copy of its /proc
.SH SEE ALSO
.BR sysctl.d (5),
.BR sysctl (8),
.BR ss (8),
.BR tcp (7)
"#;
