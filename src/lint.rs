//! `tcptune lint`: sysctl.conf and sysctl.d files audited as data, with no
//! live system, the way a configuration repository is checked in CI.
//!
//! This module owns the checks that need nothing but the files: lines the
//! loaders skip or read differently (`invalid-line`), keys that mainline
//! kernels removed (`obsolete-key`) or never had (`unknown-key`), values a
//! key does not accept (`invalid-value`), values known to do harm
//! (`harmful-value`), and keys set more than once (`duplicate-key`), with the
//! winner picked the way the boot-time loaders pick it: files sorted by file
//! name, the last assignment wins. Parsing belongs to [`crate::conf`] and
//! what a key means to [`crate::knowledge`]; [`lint`] is a pure function of
//! the files' paths and bytes and opens nothing itself.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::conf::{self, Action, Diagnostic, DiagnosticKind, ParsedFile, Target};
use crate::finding::{Code, Finding, Severity};
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};
use crate::knowledge::{self, KeyInfo, Range};
use crate::suggest;

/// One file to audit.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    /// The path findings name. Its file name also decides when the file is
    /// applied at boot relative to the other inputs.
    pub path: &'a Path,
    pub content: &'a [u8],
}

const TW_RECYCLE: &str = "net.ipv4.tcp_tw_recycle";
const TW_REUSE: &str = "net.ipv4.tcp_tw_reuse";
const TW_TIMEOUT: &str = "net.ipv4.tcp_tw_timeout";
const TIMESTAMPS: &str = "net.ipv4.tcp_timestamps";
const SYNCOOKIES: &str = "net.ipv4.tcp_syncookies";
const MAX_TW_BUCKETS: &str = "net.ipv4.tcp_max_tw_buckets";

/// tcp_tw_reuse's default (loopback only), in force when no file sets it.
const TW_REUSE_DEFAULT: i64 = 2;

/// The default of tcp_max_tw_buckets is half the established hash table,
/// which scales with memory, so without a live system we cannot know it.
/// 131072 is typical; a value below half of that is very likely a lowered
/// cap rather than a small machine's default.
const TW_BUCKETS_LIKELY_LOWERED: i64 = 65536;
const TW_BUCKETS_TYPICAL_DEFAULT: i64 = 131072;

/// The file procps `sysctl --system` reads after every sysctl.d file.
const SYSCTL_CONF_NAME: &str = "sysctl.conf";

/// Mainline `net.ipv4.*` names (6.18) beside those the knowledge base
/// describes. A name listed here is a real key, never a typo: several sit
/// one or two letters from a described key (`tcp_dsack` and `tcp_sack`,
/// `tcp_retries1` and `tcp_retries2`, `udp_mem` and `tcp_mem`).
const MAINLINE_IPV4: &[&str] = &[
    "cipso_cache_bucket_size",
    "cipso_cache_enable",
    "cipso_rbm_optfmt",
    "cipso_rbm_strictvalid",
    "fib_multipath_hash_fields",
    "fib_multipath_hash_policy",
    "fib_multipath_hash_seed",
    "fib_multipath_use_neigh",
    "fib_notify_on_flag_change",
    "fib_sync_mem",
    "fwmark_reflect",
    "icmp_echo_enable_probe",
    "icmp_echo_ignore_all",
    "icmp_echo_ignore_broadcasts",
    "icmp_errors_use_inbound_ifaddr",
    "icmp_ignore_bogus_error_responses",
    "icmp_msgs_burst",
    "icmp_msgs_per_sec",
    "icmp_ratelimit",
    "icmp_ratemask",
    "igmp_link_local_mcast_reports",
    "igmp_max_memberships",
    "igmp_max_msf",
    "igmp_qrv",
    "inet_peer_maxttl",
    "inet_peer_minttl",
    "inet_peer_threshold",
    "ip_autobind_reuse",
    "ip_default_ttl",
    "ip_dynaddr",
    "ip_early_demux",
    "ip_forward",
    "ip_forward_update_priority",
    "ip_forward_use_pmtu",
    "ip_no_pmtu_disc",
    "ip_nonlocal_bind",
    "ip_unprivileged_port_start",
    "ipfrag_high_thresh",
    "ipfrag_low_thresh",
    "ipfrag_max_dist",
    "ipfrag_secret_interval",
    "ipfrag_time",
    "nexthop_compat_mode",
    "ping_group_range",
    "raw_l3mdev_accept",
    "tcp_adv_win_scale",
    "tcp_app_win",
    "tcp_autocorking",
    "tcp_available_ulp",
    "tcp_backlog_ack_defer",
    "tcp_base_mss",
    "tcp_challenge_ack_limit",
    "tcp_child_ehash_entries",
    "tcp_comp_sack_delay_ns",
    "tcp_comp_sack_nr",
    "tcp_comp_sack_slack_ns",
    "tcp_dsack",
    "tcp_early_demux",
    "tcp_early_retrans",
    "tcp_ecn",
    "tcp_ecn_fallback",
    "tcp_ecn_option",
    "tcp_ecn_option_beacon",
    "tcp_fack",
    "tcp_fastopen_blackhole_timeout_sec",
    "tcp_fastopen_key",
    "tcp_frto",
    "tcp_fwmark_accept",
    "tcp_invalid_ratelimit",
    "tcp_l3mdev_accept",
    "tcp_limit_output_bytes",
    "tcp_low_latency",
    "tcp_max_reordering",
    "tcp_migrate_req",
    "tcp_min_rtt_wlen",
    "tcp_min_snd_mss",
    "tcp_min_tso_segs",
    "tcp_moderate_rcvbuf",
    "tcp_mtu_probe_floor",
    "tcp_no_metrics_save",
    "tcp_no_ssthresh_metrics_save",
    "tcp_pacing_ca_ratio",
    "tcp_pacing_ss_ratio",
    "tcp_pingpong_thresh",
    "tcp_plb_cong_thresh",
    "tcp_plb_enabled",
    "tcp_plb_idle_rehash_rounds",
    "tcp_plb_rehash_rounds",
    "tcp_plb_suspend_rto_sec",
    "tcp_probe_interval",
    "tcp_probe_threshold",
    "tcp_recovery",
    "tcp_reflect_tos",
    "tcp_reordering",
    "tcp_retrans_collapse",
    "tcp_retries1",
    "tcp_rfc1337",
    "tcp_rto_max_ms",
    "tcp_rto_min_us",
    "tcp_shrink_window",
    "tcp_stdurg",
    "tcp_syn_linear_timeouts",
    "tcp_syn_retries",
    "tcp_synack_retries",
    "tcp_thin_linear_timeouts",
    "tcp_tso_rtt_log",
    "tcp_tso_win_divisor",
    "tcp_workaround_signed_windows",
    "udp_child_hash_entries",
    "udp_early_demux",
    "udp_hash_entries",
    "udp_l3mdev_accept",
    "udp_mem",
    "udp_rmem_min",
    "udp_wmem_min",
    "xfrm4_gc_thresh",
    // Removed long ago but still found in old files: real names, not typos.
    "tcp_abc",
    "tcp_bic",
    "tcp_bic_fast_convergence",
    "tcp_bic_low_window",
    "tcp_cookie_size",
    "tcp_default_win_scale",
    "tcp_dma_copybreak",
    "tcp_frto_response",
    "tcp_max_ssthresh",
    "tcp_thin_dupack",
    "tcp_vegas_alpha",
    "tcp_vegas_beta",
    "tcp_vegas_cong_avoid",
    "tcp_vegas_gamma",
    "tcp_westwood",
];

/// Mainline `net.core.*` names (6.18) beside those the knowledge base
/// describes (`optmem_max` is two letters from `rmem_max`).
const MAINLINE_CORE: &[&str] = &[
    "bpf_jit_enable",
    "bpf_jit_harden",
    "bpf_jit_kallsyms",
    "bpf_jit_limit",
    "busy_poll",
    "busy_read",
    "default_qdisc",
    "dev_weight",
    "dev_weight_rx_bias",
    "dev_weight_tx_bias",
    "devconf_inherit_init_net",
    "fb_tunnels_only_for_init_net",
    "flow_limit_cpu_bitmap",
    "flow_limit_table_len",
    "gro_normal_batch",
    "high_order_alloc_disable",
    "max_skb_frags",
    "mem_pcpu_rsv",
    "message_burst",
    "message_cost",
    "netdev_budget",
    "netdev_budget_usecs",
    "netdev_rss_key",
    "netdev_tstamp_prequeue",
    "netdev_unregister_timeout_secs",
    "optmem_max",
    "rps_default_mask",
    "rps_sock_flow_entries",
    "skb_defer_max",
    "tstamp_allow_data",
    "txrehash",
    "warnings",
    "xfrm_acq_expires",
    "xfrm_aevent_etime",
    "xfrm_aevent_rseqth",
    "xfrm_larval_drop",
];

/// Mainline `net.ipv6.*` names (6.18). None is near a described key today,
/// but `ip_nonlocal_bind` would be the moment the IPv4 twin is described.
const MAINLINE_IPV6: &[&str] = &[
    "anycast_src_echo_reply",
    "auto_flowlabels",
    "bindv6only",
    "calipso_cache_bucket_size",
    "calipso_cache_enable",
    "fib_multipath_hash_fields",
    "fib_multipath_hash_policy",
    "fib_notify_on_flag_change",
    "flowlabel_consistency",
    "flowlabel_reflect",
    "flowlabel_state_ranges",
    "fwmark_reflect",
    "idgen_delay",
    "idgen_retries",
    "ioam6_id",
    "ioam6_id_wide",
    "ip6frag_high_thresh",
    "ip6frag_low_thresh",
    "ip6frag_secret_interval",
    "ip6frag_time",
    "ip_nonlocal_bind",
    "max_dst_opts_length",
    "max_dst_opts_number",
    "max_hbh_length",
    "max_hbh_opts_number",
    "mld_max_msf",
    "mld_qrv",
    "seg6_flowlabel",
    "xfrm6_gc_thresh",
];

/// One `key = value` line that names a single valid key.
struct Assignment<'a> {
    /// Index of the file in the caller's input.
    file: usize,
    line: usize,
    key: &'a Key,
    raw: &'a str,
    value: &'a Value,
    ignore_failure: bool,
}

/// A finding and where it sorts: input file, then line.
struct Located {
    file: usize,
    line: usize,
    finding: Finding,
}

/// The files as the checks need them.
struct Files<'a> {
    /// Each file's path as the caller gave it, for locations and messages.
    paths: Vec<String>,
    /// Each file's name alone: what the loaders sort by.
    names: Vec<String>,
    /// Every assignment of a key, ordered as the loaders apply them: files by
    /// name (ties in input order), lines in file order.
    by_key: BTreeMap<&'a Key, Vec<&'a Assignment<'a>>>,
}

impl Files<'_> {
    fn place(&self, assignment: &Assignment<'_>) -> String {
        format!("{}:{}", self.paths[assignment.file], assignment.line)
    }

    /// The assignment in force after boot, if any file sets the key.
    fn effective(&self, name: &str) -> Option<&Assignment<'_>> {
        let key = Key::parse(name).ok()?;
        self.by_key.get(&key)?.last().copied()
    }
}

/// Audits sysctl files as systemd-sysctl and `sysctl --system` would apply
/// them together. Findings come in input order of the files, then by line.
pub fn lint(files: &[LintInput<'_>]) -> Vec<Finding> {
    let parsed: Vec<ParsedFile> = files
        .iter()
        .map(|file| conf::parse(file.path, file.content))
        .collect();
    let assignments: Vec<Assignment<'_>> = parsed
        .iter()
        .enumerate()
        .flat_map(|(file, parsed)| {
            parsed
                .entries
                .iter()
                .filter_map(move |entry| match (&entry.target, &entry.action) {
                    (Target::Key(key), Action::Set { value, raw }) => Some(Assignment {
                        file,
                        line: entry.line,
                        key,
                        raw,
                        value,
                        ignore_failure: entry.ignore_failure,
                    }),
                    // Globs and `-key` exclusions set no value of their own.
                    _ => None,
                })
        })
        .collect();

    let ranks = boot_ranks(files);
    let mut in_boot_order: Vec<&Assignment<'_>> = assignments.iter().collect();
    // Stable: assignments start in input order, so equal ranks keep it.
    in_boot_order.sort_by_key(|assignment| (ranks[assignment.file], assignment.line));
    let mut by_key: BTreeMap<&Key, Vec<&Assignment<'_>>> = BTreeMap::new();
    for assignment in in_boot_order {
        by_key.entry(assignment.key).or_default().push(assignment);
    }
    let context = Files {
        paths: files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect(),
        names: files.iter().map(|file| file_name(file.path)).collect(),
        by_key,
    };

    let mut found = Vec::new();
    for (index, file) in parsed.iter().enumerate() {
        for diagnostic in &file.diagnostics {
            found.push(Located {
                file: index,
                line: diagnostic.line,
                finding: invalid_line(file, diagnostic),
            });
        }
    }
    for assignment in &assignments {
        for finding in check_assignment(assignment) {
            found.push(Located {
                file: assignment.file,
                line: assignment.line,
                finding,
            });
        }
    }
    found.extend(duplicates(&context));
    found.extend(harmful(&context));

    found.sort_by_key(|located| (located.file, located.line));
    found
        .into_iter()
        .map(|located| {
            let path = context.paths[located.file].clone();
            located.finding.location(path, located.line)
        })
        .collect()
}

/// Each input's position in the order the loaders apply files: sorted by
/// file name alone, whatever the directory, with `sysctl.conf` last because
/// procps reads `/etc/sysctl.conf` after every sysctl.d file.
fn boot_ranks(files: &[LintInput<'_>]) -> Vec<usize> {
    let sort_key = |path: &Path| {
        let name = path.file_name().unwrap_or(path.as_os_str());
        (
            name == OsStr::new(SYSCTL_CONF_NAME),
            name.as_bytes().to_vec(),
        )
    };
    let mut order: Vec<usize> = (0..files.len()).collect();
    // Same names keep the input order.
    order.sort_by_cached_key(|&index| (sort_key(files[index].path), index));
    let mut ranks = vec![0; files.len()];
    for (rank, index) in order.into_iter().enumerate() {
        ranks[index] = rank;
    }
    ranks
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// A conf diagnostic as a finding. Invalid keys arrive here too: the parser
/// reports every `Target::Invalid` entry as a diagnostic.
fn invalid_line(file: &ParsedFile, diagnostic: &Diagnostic) -> Finding {
    let severity = match diagnostic.severity() {
        conf::Impact::Error => Severity::Error,
        conf::Impact::Warning => Severity::Warning,
    };
    let (rationale, fix): (&str, &str) = match &diagnostic.kind {
        DiagnosticKind::NotAnAssignment { .. } => (
            "systemd-sysctl and `sysctl --system` accept only `key = value` lines, `-key` exclusions and comments (a first non-blank `#` or `;`). They warn about any other line and skip it, so whatever it was meant to set is not applied.",
            "write it as `key = value`, or start it with `#` if it is a comment",
        ),
        DiagnosticKind::InvalidKey(_) => (
            "No sysctl has a name like this (names are words joined by `.` or `/`, without blanks), so the line cannot set anything.",
            "correct the key (`sysctl -a` lists the names a kernel has) or delete the line",
        ),
        DiagnosticKind::EmptyValue => (
            "Both loaders write an empty string to the key, which the kernel refuses for almost every key.",
            "give the key a value, or delete the line to leave the key alone",
        ),
        DiagnosticKind::TrailingComment => (
            "sysctl files have no trailing comments: everything after `=` up to the end of the line, `#` included, is written to the kernel. A number key refuses such a value; a text key stores it.",
            "move the comment to a line of its own that starts with `#`",
        ),
        DiagnosticKind::BlankAfterDash => (
            "systemd-sysctl skips blanks after the leading `-`; procps keeps them as part of the key and finds no such key, so the two loaders treat this line differently.",
            "remove the blank: `-key = value`",
        ),
        DiagnosticKind::NotUtf8 => (
            "Sysctl names and the values people write are plain text; bytes that are not UTF-8 mean a binary, damaged or wrongly encoded file, and the loaders pass such bytes on unchanged.",
            "remove the stray bytes, or save the file again as plain text (UTF-8)",
        ),
        DiagnosticKind::LineTooLong { .. } => (
            "systemd-sysctl stops reading a file at a line longer than 1 MiB, so nothing from here on is applied by it at boot, while procps `sysctl --system` reads on: the two loaders disagree about every later line.",
            "shorten the line or delete it",
        ),
    };
    let mut finding = Finding::new(
        Code::InvalidLine,
        severity,
        excerpt(&diagnostic.kind.to_string(), 200),
    )
    .rationale(rationale)
    .fix(fix)
    .evidence("column", diagnostic.column);
    // Name the key when the line still has a valid one (an empty value, a
    // `#` inside the value), so the finding can be grouped with the others.
    let entry = file
        .entries
        .iter()
        .find(|entry| entry.line == diagnostic.line);
    if let Some(entry) = entry {
        match &entry.target {
            Target::Key(key) => finding = finding.key(key),
            Target::Glob(glob) => finding = finding.key(glob),
            Target::Invalid(_) => {
                finding = finding.evidence("raw_key", excerpt(&entry.raw_key, 200));
            }
        }
        if let Some(raw) = entry.action.raw() {
            finding = finding.current(excerpt(raw, 200));
        }
    }
    finding
}

/// Text quoted from a file, cut to `limit` characters (a junk line can be a
/// megabyte long). Kept raw: the printers escape what they show.
fn excerpt(text: &str, limit: usize) -> String {
    let mut out: String = text.chars().take(limit).collect();
    if text.chars().nth(limit).is_some() {
        out.push('…');
    }
    out
}

/// A value for a message: an empty one (`key =`) is shown as `""` so that
/// the sentence still reads.
fn value_text(raw: &str) -> String {
    if raw.is_empty() {
        "\"\"".to_owned()
    } else {
        excerpt(raw, 200)
    }
}

/// The checks that look at one line alone. Every line counts, not just the
/// one that wins: procps writes each assignment in turn.
fn check_assignment(assignment: &Assignment<'_>) -> Vec<Finding> {
    let name = assignment.key.to_string();
    let mut findings = Vec::new();
    if let Some(info) = knowledge::lookup(&name) {
        if let Some(removed) = info.removed {
            findings.push(obsolete(assignment, &name, info, removed));
        }
        findings.extend(invalid_value(assignment, &name, info));
    } else if let Some((_, note)) = knowledge::VENDOR_ONLY_KEYS
        .iter()
        .find(|(vendor_key, _)| *vendor_key == name)
    {
        findings.push(vendor_only(assignment, &name, note));
    } else if let Some(near) = likely_typo(assignment.key, &name) {
        findings.push(typo(assignment, &name, near));
    }
    findings
}

/// What a loader does with a line whose key the kernel does not have.
fn missing_key_consequence(assignment: &Assignment<'_>) -> &'static str {
    if assignment.ignore_failure {
        "The leading `-` tells the loaders to ignore that failure, so nothing is reported and the line silently does nothing."
    } else {
        "On such a kernel `sysctl -p` and `sysctl --system` report an error for this line and exit with status 1, while still applying the other lines, so every run looks like a failure."
    }
}

fn obsolete(
    assignment: &Assignment<'_>,
    name: &str,
    info: &KeyInfo,
    removed: KernelVersion,
) -> Finding {
    // With `-` the line fails silently instead of making the loaders fail.
    let severity = if assignment.ignore_failure {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut fix = format!("delete the line: Linux {removed} and later have no {name}");
    if name == TW_RECYCLE {
        fix.push_str(
            "; for this host's own outgoing connections that run short of ports, net.ipv4.tcp_tw_reuse = 1 is the supported tool",
        );
    }
    Finding::new(
        Code::ObsoleteKey,
        severity,
        format!("{name} was removed from Linux in {removed}"),
    )
    .key(name)
    .current(assignment.raw)
    .rationale(format!(
        "{name} does not exist in Linux {removed} and later. {} What it did: {}",
        missing_key_consequence(assignment),
        info.summary
    ))
    .evidence("removed_in", removed.to_string())
    .fix(fix)
}

fn invalid_value(assignment: &Assignment<'_>, name: &str, info: &KeyInfo) -> Option<Finding> {
    // An empty value is already an `invalid-line` finding of its own.
    if assignment.value.is_empty() {
        return None;
    }
    let reason = info.range.check(assignment.value).err()?;
    let hidden = if assignment.ignore_failure {
        " The leading `-` makes the loaders ignore the failure, so nobody is told."
    } else {
        ""
    };
    let (rationale, fix) = if info.range == Range::ReadOnly {
        (
            format!(
                "{name} is read-only: the kernel reports it and refuses writes, even from root (permission denied), so the loaders fail on this line.{hidden}"
            ),
            "delete the line".to_owned(),
        )
    } else {
        (
            format!(
                "{name} accepts {}. Depending on the key, the kernel refuses other values (the write fails with EINVAL and the loaders report an error for this line) or stores them with no documented meaning.{hidden} What the key does: {}",
                info.range.describe(),
                info.summary
            ),
            format!(
                "set {name} to {} (default: {}), or delete the line to keep the default",
                info.range.describe(),
                info.default
            ),
        )
    };
    Some(
        Finding::new(
            Code::InvalidValue,
            Severity::Error,
            format!("{name} = {}: {reason}", excerpt(assignment.raw, 200)),
        )
        .key(name)
        .current(excerpt(assignment.raw, 200))
        .expected(info.range.describe())
        .rationale(rationale)
        .fix(fix),
    )
}

fn vendor_only(assignment: &Assignment<'_>, name: &str, note: &str) -> Finding {
    let severity = if assignment.ignore_failure {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut fix = String::from("delete the line: mainline kernels have no such key");
    if name == TW_TIMEOUT {
        fix.push_str(
            "; to have fewer TIME_WAIT sockets, reuse connections (keep-alive, connection pools), and for this host's own outgoing connections use net.ipv4.tcp_tw_reuse = 1",
        );
    }
    Finding::new(
        Code::UnknownKey,
        severity,
        format!("{name} is not a mainline kernel key"),
    )
    .key(name)
    .current(assignment.raw)
    .rationale(format!(
        "{name} {note}. {}",
        missing_key_consequence(assignment)
    ))
    .fix(fix)
}

/// A known key this one is probably a misspelling of. Only `net.` keys are
/// compared, and never a name the mainline kernel has: the kernel has
/// hundreds of keys tcptune does not describe, and flagging them would teach
/// users to ignore this check.
fn likely_typo(key: &Key, name: &str) -> Option<&'static str> {
    if !key.is_net() || is_other_mainline_key(key) {
        return None;
    }
    suggest::closest(name, knowledge::KEYS.iter().map(|info| info.key))
}

fn is_other_mainline_key(key: &Key) -> bool {
    let [net, family, leaf] = key.components() else {
        return false;
    };
    let names = match (net.as_str(), family.as_str()) {
        ("net", "ipv4") => MAINLINE_IPV4,
        ("net", "core") => MAINLINE_CORE,
        ("net", "ipv6") => MAINLINE_IPV6,
        _ => return false,
    };
    names.contains(&leaf.as_str())
}

fn typo(assignment: &Assignment<'_>, name: &str, near: &str) -> Finding {
    let consequence = if assignment.ignore_failure {
        "the leading `-` makes the loaders ignore that failure silently"
    } else {
        "`sysctl -p` and `sysctl --system` report an error for the line and exit with status 1"
    };
    Finding::new(
        Code::UnknownKey,
        Severity::Warning,
        format!("{name} is not a key tcptune knows; did you mean {near}?"),
    )
    .key(name)
    .current(excerpt(assignment.raw, 200))
    .rationale(format!(
        "{name} is neither a key tcptune describes nor another mainline kernel key it knows of, and it is a few letters away from {near}. A misspelt key names no file under /proc/sys: {consequence}, and {near} keeps whatever value it had."
    ))
    .evidence("did_you_mean", near)
    .fix(format!(
        "if you meant {near}, write `{near} = {}`; otherwise check the name against `sysctl -a`",
        excerpt(assignment.raw, 200)
    ))
}

/// Keys set more than once. Within a file the later line wins; across files
/// the file applied last wins. Each overridden assignment gets one finding:
/// an earlier line of the same file names the file's last line, and a
/// file's last line names the winner at boot when that is in another file.
fn duplicates(files: &Files<'_>) -> Vec<Located> {
    let mut found = Vec::new();
    for (key, assignments) in &files.by_key {
        let Some(winner) = assignments.last() else {
            continue;
        };
        for (position, assignment) in assignments.iter().enumerate() {
            let later_in_file = assignments[position + 1..]
                .iter()
                .rfind(|later| later.file == assignment.file);
            let finding = match later_in_file {
                Some(later) => duplicate_in_file(key, assignment, later, files),
                None if assignment.file != winner.file => {
                    duplicate_across_files(key, assignment, winner, files)
                }
                None => continue,
            };
            found.push(Located {
                file: assignment.file,
                line: assignment.line,
                finding,
            });
        }
    }
    found
}

fn duplicate_in_file(
    key: &Key,
    assignment: &Assignment<'_>,
    later: &Assignment<'_>,
    files: &Files<'_>,
) -> Finding {
    let (line, later_line) = (assignment.line, later.line);
    Finding::new(
        Code::DuplicateKey,
        Severity::Warning,
        format!(
            "{key} is set on line {line} and again on line {later_line} of this file; line {later_line} wins ({key} = {})",
            value_text(later.raw)
        ),
    )
    .key(key)
    .current(excerpt(assignment.raw, 200))
    .rationale(
        "The loaders apply a file's lines in order, so for a key set twice the later line decides the value (procps writes both one after the other; systemd-sysctl writes only the last). Someone who edits the earlier line changes nothing.",
    )
    .evidence("overridden_by", files.place(later))
    .evidence("winning_value", excerpt(later.raw, 200))
    .fix(format!(
        "keep one assignment of {key}: delete line {line}, and put the value you want on line {later_line}"
    ))
}

fn duplicate_across_files(
    key: &Key,
    assignment: &Assignment<'_>,
    winner: &Assignment<'_>,
    files: &Files<'_>,
) -> Finding {
    let raw = value_text(assignment.raw);
    let winner_raw = value_text(winner.raw);
    let winner_place = files.place(winner);
    let (name, winner_name) = (&files.names[assignment.file], &files.names[winner.file]);
    let why_later = if winner_name == name {
        format!(
            "Both files are named `{name}`; as given, the second is taken as applied later, though in real sysctl.d directories the copy in /etc hides a same-named file in /run or /usr/lib altogether"
        )
    } else if winner_name == SYSCTL_CONF_NAME {
        format!(
            "procps reads `{SYSCTL_CONF_NAME}` after every sysctl.d file (systemd-sysctl reads it through the 99-sysctl.conf link many distributions ship), so it comes after `{name}`"
        )
    } else {
        format!("`{winner_name}` sorts after `{name}`")
    };
    let same = assignment.value == winner.value;
    let (severity, message, effect, fix) = if same {
        (
            Severity::Info,
            format!(
                "{key} = {raw} is set again, to the same value, by {winner_place}, which is applied later at boot"
            ),
            "The two agree today, but an edit made here would be silently overridden.",
            format!("set {key} in one file only: delete this line, or the one at {winner_place}"),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{key} = {raw} here is overridden at boot by {winner_place} ({key} = {winner_raw})"
            ),
            "The value on this line never takes effect at boot.",
            format!(
                "keep {key} in one file: delete this line, or put the value you want at {winner_place}"
            ),
        )
    };
    Finding::new(Code::DuplicateKey, severity, message)
        .key(key)
        .current(excerpt(assignment.raw, 200))
        .rationale(format!(
            "systemd-sysctl and `sysctl --system` apply sysctl.d files sorted by file name, whatever their directory, and for a key set more than once the last assignment wins. {why_later}, so {winner_place} decides the value. {effect}"
        ))
        .evidence("overridden_by", winner_place.clone())
        .evidence("winning_value", excerpt(winner.raw, 200))
        .fix(fix)
}

/// Values known to do harm, judged on what each key holds after boot: an
/// assignment some later line overrides harms nothing (it is a
/// `duplicate-key` finding instead).
fn harmful(files: &Files<'_>) -> Vec<Located> {
    let checks = [
        tw_recycle_on(files),
        syncookies_off(files),
        timestamps_off(files),
        tw_buckets_lowered(files),
    ];
    checks
        .into_iter()
        .flatten()
        .map(|(assignment, finding)| Located {
            file: assignment.file,
            line: assignment.line,
            finding,
        })
        .collect()
}

/// The assignment in force for a key when it is exactly this integer.
fn effective_integer<'a>(files: &'a Files<'_>, name: &str) -> Option<(&'a Assignment<'a>, i64)> {
    let assignment = files.effective(name)?;
    Some((assignment, assignment.value.as_integer()?))
}

fn tw_recycle_on<'a>(files: &'a Files<'_>) -> Option<(&'a Assignment<'a>, Finding)> {
    let (assignment, value) = effective_integer(files, TW_RECYCLE)?;
    (value == 1).then(|| {
        let finding = Finding::new(
            Code::HarmfulValue,
            Severity::Error,
            "tcp_tw_recycle = 1: on kernels that still have it, connections from clients behind NAT are silently dropped",
        )
        .key(TW_RECYCLE)
        .current(value)
        .rationale(
            "Before Linux 4.12, tcp_tw_recycle cached the last TCP timestamp of each peer address and dropped SYNs carrying an older one. Clients behind one NAT share an address but not a timestamp clock, so their new connections were silently dropped (counter PAWSPassive); once 4.10 gave each connection its own timestamp offset, it dropped ordinary clients too. Linux 4.12 removed the key.",
        )
        .fix("delete the line; for this host's own outgoing connections that run short of ports, use net.ipv4.tcp_tw_reuse = 1");
        (assignment, finding)
    })
}

fn syncookies_off<'a>(files: &'a Files<'_>) -> Option<(&'a Assignment<'a>, Finding)> {
    let (assignment, value) = effective_integer(files, SYNCOOKIES)?;
    (value == 0).then(|| {
        let finding = Finding::new(
            Code::HarmfulValue,
            Severity::Warning,
            "tcp_syncookies = 0: a SYN flood can fill every listener's queue",
        )
        .key(SYNCOOKIES)
        .current(value)
        .expected(1)
        .rationale(
            "With SYN cookies off, once a listener's SYN queue is full the kernel drops new SYNs, so a flood of spoofed SYNs makes the service unreachable. With 1, the default, cookies are sent only when the queue overflows, so normal traffic is unaffected.",
        )
        .fix("delete the line or set net.ipv4.tcp_syncookies = 1 (the default)");
        (assignment, finding)
    })
}

fn timestamps_off<'a>(files: &'a Files<'_>) -> Option<(&'a Assignment<'a>, Finding)> {
    let (assignment, value) = effective_integer(files, TIMESTAMPS)?;
    if value != 0 {
        return None;
    }
    // tcp_tw_reuse left unset means its default, 2 (loopback only), which
    // needs timestamps just the same.
    let (reuse, reuse_source) = match files.effective(TW_REUSE) {
        None => (TW_REUSE_DEFAULT, "its default".to_owned()),
        Some(reuse) => (
            reuse.value.as_integer()?,
            format!("set at {}", files.place(reuse)),
        ),
    };
    let reach = match reuse {
        1 => "this host's outgoing connections",
        2 => "outgoing connections over loopback",
        _ => return None,
    };
    let finding = Finding::new(
        Code::HarmfulValue,
        Severity::Warning,
        format!(
            "tcp_timestamps = 0 while tcp_tw_reuse is {reuse} ({reuse_source}): reuse cannot work and PAWS protection is gone"
        ),
    )
    .key(TIMESTAMPS)
    .current(value)
    .expected(1)
    .rationale(format!(
        "tcp_tw_reuse lets {reach} take over the ports of a TIME_WAIT socket only when TCP timestamps are on at both ends; with tcp_timestamps = 0 it never does. Timestamps also provide PAWS, which keeps old duplicate segments and wrapped sequence numbers out of fast, long connections. Turning them off was advice for the NAT problem of tcp_tw_recycle, a key removed in 4.12."
    ))
    .evidence("tcp_tw_reuse", reuse)
    .evidence("tcp_tw_reuse_from", reuse_source)
    .fix("delete the line or set net.ipv4.tcp_timestamps = 1 (the default)");
    Some((assignment, finding))
}

fn tw_buckets_lowered<'a>(files: &'a Files<'_>) -> Option<(&'a Assignment<'a>, Finding)> {
    let (assignment, value) = effective_integer(files, MAX_TW_BUCKETS)?;
    // A negative value is an `invalid-value` finding, not a lowered cap.
    if !(0..TW_BUCKETS_LIKELY_LOWERED).contains(&value) {
        return None;
    }
    let finding = Finding::new(
        Code::HarmfulValue,
        Severity::Warning,
        format!("tcp_max_tw_buckets = {value} is likely below this host's default"),
    )
    .key(MAX_TW_BUCKETS)
    .current(value)
    .rationale(format!(
        "The default is half the established hash table (tcp_ehash_entries / 2), typically {TW_BUCKETS_TYPICAL_DEFAULT}; with no live system to read, {value} is likely below this host's default. Past the cap a closing socket skips TIME_WAIT altogether (TcpExt TCPTimeWaitOverflow counts it; current kernels log nothing), and TIME_WAIT is what keeps a late segment of an old connection from being accepted by a new one on the same ports. TIME_WAIT sockets cost little memory."
    ))
    .evidence("likely_lowered_below", TW_BUCKETS_LIKELY_LOWERED)
    .evidence("typical_default", TW_BUCKETS_TYPICAL_DEFAULT)
    .fix("delete the line to keep the default (or set no less than the default); to have fewer TIME_WAIT sockets, reuse connections (keep-alive, connection pools)");
    Some((assignment, finding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use Severity::{Error, Info, Warning};

    /// One finding as the tests compare it: code, key, severity and
    /// `file-name:line`.
    type Row = (&'static str, String, Severity, String);

    fn row(finding: &Finding) -> Row {
        let location = finding
            .location
            .as_ref()
            .expect("every lint finding has a location");
        let name = file_name(Path::new(&location.path));
        (
            finding.code.name(),
            finding.key.clone().unwrap_or_default(),
            finding.severity,
            format!("{name}:{}", location.line),
        )
    }

    fn expect(code: &'static str, key: &str, severity: Severity, at: &str) -> Row {
        (code, key.to_owned(), severity, at.to_owned())
    }

    fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/lint")
            .join(name);
        let content =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        (path, content)
    }

    fn lint_files(files: &[(PathBuf, Vec<u8>)]) -> Vec<Finding> {
        let inputs: Vec<LintInput<'_>> = files
            .iter()
            .map(|(path, content)| LintInput { path, content })
            .collect();
        lint(&inputs)
    }

    fn lint_fixtures(names: &[&str]) -> Vec<Finding> {
        lint_files(&names.iter().map(|name| fixture(name)).collect::<Vec<_>>())
    }

    /// Files given as (path, text), for small inline cases.
    fn lint_texts(files: &[(&str, &str)]) -> Vec<Finding> {
        lint_files(
            &files
                .iter()
                .map(|(path, text)| (PathBuf::from(path), text.as_bytes().to_vec()))
                .collect::<Vec<_>>(),
        )
    }

    fn rows(findings: &[Finding]) -> Vec<Row> {
        findings.iter().map(row).collect()
    }

    #[test]
    fn folklore_is_flagged_line_by_line() {
        let findings = lint_fixtures(&["folklore.conf"]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("obsolete-key", TW_RECYCLE, Error, "folklore.conf:3"),
                expect("harmful-value", TW_RECYCLE, Error, "folklore.conf:3"),
                expect(
                    "unknown-key",
                    "net.ipv4.tcp_tw_resue",
                    Warning,
                    "folklore.conf:4"
                ),
                expect("unknown-key", TW_TIMEOUT, Error, "folklore.conf:7"),
                expect("harmful-value", TIMESTAMPS, Warning, "folklore.conf:9"),
                expect("harmful-value", MAX_TW_BUCKETS, Warning, "folklore.conf:11"),
                expect("harmful-value", SYNCOOKIES, Warning, "folklore.conf:13"),
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "folklore.conf:15"
                ),
            ]
        );

        let obsolete = &findings[0];
        assert_eq!(
            obsolete.message,
            "net.ipv4.tcp_tw_recycle was removed from Linux in 4.12"
        );
        assert!(
            obsolete.rationale.contains("exit with status 1"),
            "{}",
            obsolete.rationale
        );
        assert!(
            obsolete
                .rationale
                .contains("still applying the other lines")
        );
        assert!(obsolete.fix.contains("tcp_tw_reuse"));

        let typo = &findings[2];
        assert!(
            typo.message
                .ends_with("did you mean net.ipv4.tcp_tw_reuse?"),
            "{}",
            typo.message
        );
        assert_eq!(typo.evidence["did_you_mean"], TW_REUSE);
        assert!(
            typo.fix.contains("`net.ipv4.tcp_tw_reuse = 1`"),
            "{}",
            typo.fix
        );

        let vendor = &findings[3];
        assert!(
            vendor
                .rationale
                .contains("exists only in one vendor kernel")
        );
        assert!(vendor.rationale.contains("60 s"));

        // tcp_tw_reuse is only misspelt in this file, so its default 2 holds.
        let timestamps = &findings[4];
        assert_eq!(timestamps.evidence["tcp_tw_reuse"], 2);
        assert_eq!(timestamps.evidence["tcp_tw_reuse_from"], "its default");
        assert_eq!(
            (
                timestamps.current.as_deref(),
                timestamps.expected.as_deref()
            ),
            (Some("0"), Some("1"))
        );

        let buckets = &findings[5];
        assert!(
            buckets
                .rationale
                .contains("likely below this host's default")
        );
        assert!(buckets.rationale.contains("131072"));
        assert!(buckets.rationale.contains("skips TIME_WAIT"));

        let duplicate = &findings[7];
        assert!(
            duplicate.message.contains("line 15 and again on line 17"),
            "{}",
            duplicate.message
        );
        assert_eq!(duplicate.current.as_deref(), Some("1024"));
        assert_eq!(duplicate.evidence["winning_value"], "65535");

        // tcp_fin_timeout = 10 is folklore but a legal, harmless value.
        assert!(
            !findings
                .iter()
                .any(|finding| finding.location.as_ref().is_some_and(|at| at.line == 6))
        );
    }

    #[test]
    fn clean_file_has_nothing_to_report() {
        assert_eq!(rows(&lint_fixtures(&["clean.conf"])), Vec::<Row>::new());
    }

    #[test]
    fn across_files_the_later_file_name_wins_whatever_the_input_order() {
        let expected = vec![
            expect(
                "duplicate-key",
                "net.core.somaxconn",
                Warning,
                "90-tuning.conf:2",
            ),
            expect(
                "duplicate-key",
                "net.ipv4.tcp_fin_timeout",
                Info,
                "90-tuning.conf:3",
            ),
        ];
        let reversed = lint_fixtures(&["99-sysctl.conf", "90-tuning.conf"]);
        assert_eq!(rows(&reversed), expected);
        assert_eq!(
            rows(&lint_fixtures(&["90-tuning.conf", "99-sysctl.conf"])),
            expected
        );

        let somaxconn = &reversed[0];
        assert!(
            somaxconn.message.contains("overridden at boot by"),
            "{}",
            somaxconn.message
        );
        assert!(
            somaxconn
                .message
                .ends_with("99-sysctl.conf:8 (net.core.somaxconn = 1024)"),
            "{}",
            somaxconn.message
        );
        assert!(
            somaxconn
                .rationale
                .contains("`99-sysctl.conf` sorts after `90-tuning.conf`")
        );
        assert_eq!(somaxconn.current.as_deref(), Some("8192"));
        let overridden_by = somaxconn.evidence["overridden_by"]
            .as_str()
            .unwrap_or_default();
        assert!(
            overridden_by.ends_with("99-sysctl.conf:8"),
            "{overridden_by}"
        );
        assert!(reversed[1].message.contains("to the same value"));
    }

    #[test]
    fn garbage_lines_become_invalid_line_findings() {
        let findings = lint_fixtures(&["garbage.conf"]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("invalid-line", "", Error, "garbage.conf:4"),
                expect(
                    "invalid-line",
                    "net.ipv4.tcp_dsack",
                    Warning,
                    "garbage.conf:7"
                ),
                expect(
                    "invalid-line",
                    "net.ipv4.tcp_fin_timeout",
                    Warning,
                    "garbage.conf:8"
                ),
                expect(
                    "invalid-value",
                    "net.ipv4.tcp_fin_timeout",
                    Error,
                    "garbage.conf:8"
                ),
                expect("invalid-line", "", Error, "garbage.conf:9"),
                expect(
                    "invalid-line",
                    "net.core.somaxconn",
                    Warning,
                    "garbage.conf:10"
                ),
                expect("invalid-line", "", Warning, "garbage.conf:11"),
                expect("invalid-line", "", Error, "garbage.conf:11"),
            ]
        );
        assert!(findings[0].message.contains("not an assignment"));
        assert_eq!(
            findings[4].evidence["raw_key"],
            "net.ipv4.tcp keepalive_time"
        );
        // The binary junk is quoted raw (the printers escape it) and cut
        // short: a junk line can be a megabyte long.
        assert!(findings[7].message.contains("ELF"));
        assert!(findings[7].message.chars().count() < 400);
    }

    #[test]
    fn fixtures_together_keep_input_order_then_line_order() {
        let names = [
            "garbage.conf",
            "folklore.conf",
            "clean.conf",
            "99-sysctl.conf",
            "90-tuning.conf",
        ];
        let findings = lint_fixtures(&names);
        let places: Vec<(usize, usize)> = findings
            .iter()
            .filter_map(|finding| finding.location.as_ref())
            .map(|at| {
                let name = file_name(Path::new(&at.path));
                let file = names.iter().position(|known| *known == name);
                (file.unwrap_or(usize::MAX), at.line)
            })
            .collect();
        assert_eq!(places.len(), findings.len());
        assert!(
            places.windows(2).all(|pair| pair[0] <= pair[1]),
            "{places:?}"
        );
        // Every file has something to say once they are read together: the
        // clean file shares keys with the others, and sorts first.
        let files: Vec<usize> = places.iter().map(|(file, _)| *file).collect();
        assert_eq!(files.first(), Some(&0));
        assert!(
            (0..names.len() - 1).all(|file| files.contains(&file)),
            "{files:?}"
        );
        for finding in &findings {
            assert!(
                !finding.message.is_empty()
                    && !finding.rationale.is_empty()
                    && !finding.fix.is_empty(),
                "{finding:?}"
            );
        }
    }

    #[test]
    fn both_key_spellings_are_one_key() {
        let findings = lint_texts(&[(
            "/etc/sysctl.d/50-vlan.conf",
            "net.ipv4.conf.eth0/100.rp_filter = 1\nnet/ipv4/conf/eth0.100/rp_filter = 2\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![expect(
                "duplicate-key",
                "net.ipv4.conf.eth0/100.rp_filter",
                Warning,
                "50-vlan.conf:1"
            )]
        );
    }

    #[test]
    fn every_earlier_line_in_a_file_names_the_last_one() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.core.somaxconn = 1024\nnet.core.somaxconn = 2048\nnet.core.somaxconn = 4096\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("duplicate-key", "net.core.somaxconn", Warning, "a.conf:1"),
                expect("duplicate-key", "net.core.somaxconn", Warning, "a.conf:2"),
            ]
        );
        assert!(
            findings[0].message.contains("line 1 and again on line 3"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[1].message.contains("line 2 and again on line 3"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn a_file_losing_to_another_reports_within_and_across() {
        let findings = lint_texts(&[
            (
                "/etc/sysctl.d/10-a.conf",
                "net.core.somaxconn = 1024\nnet.core.somaxconn = 2048\n",
            ),
            ("/etc/sysctl.d/20-b.conf", "net.core.somaxconn = 4096\n"),
        ]);
        assert_eq!(
            rows(&findings),
            vec![
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "10-a.conf:1"
                ),
                expect(
                    "duplicate-key",
                    "net.core.somaxconn",
                    Warning,
                    "10-a.conf:2"
                ),
            ]
        );
        assert!(findings[0].message.contains("again on line 2"));
        assert!(
            findings[1].message.contains("/etc/sysctl.d/20-b.conf:1"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn sysctl_conf_is_applied_after_every_sysctl_d_file() {
        let findings = lint_texts(&[
            ("/etc/sysctl.conf", "net.core.somaxconn = 1024\n"),
            ("/etc/sysctl.d/zz-last.conf", "net.core.somaxconn = 4096\n"),
        ]);
        assert_eq!(
            rows(&findings),
            vec![expect(
                "duplicate-key",
                "net.core.somaxconn",
                Warning,
                "zz-last.conf:1"
            )]
        );
        assert!(
            findings[0].message.contains("/etc/sysctl.conf:1"),
            "{}",
            findings[0].message
        );
        assert!(findings[0].rationale.contains("after every sysctl.d file"));
    }

    #[test]
    fn harm_is_judged_on_the_value_in_force_after_boot() {
        // Turned off early, turned back on by a later file: only a duplicate.
        let repaired = lint_texts(&[
            (
                "10-old.conf",
                "net.ipv4.tcp_syncookies = 0\nnet.ipv4.tcp_tw_recycle = 1\n",
            ),
            (
                "20-fix.conf",
                "net.ipv4.tcp_syncookies = 1\nnet.ipv4.tcp_tw_recycle = 0\n",
            ),
        ]);
        assert_eq!(
            rows(&repaired),
            vec![
                expect("duplicate-key", SYNCOOKIES, Warning, "10-old.conf:1"),
                expect("obsolete-key", TW_RECYCLE, Error, "10-old.conf:2"),
                expect("duplicate-key", TW_RECYCLE, Warning, "10-old.conf:2"),
                expect("obsolete-key", TW_RECYCLE, Error, "20-fix.conf:2"),
            ]
        );
        // The other way round the harmful line is the one that wins.
        let broken = lint_texts(&[
            ("20-late.conf", "net.ipv4.tcp_syncookies = 0\n"),
            ("10-early.conf", "net.ipv4.tcp_syncookies = 1\n"),
        ]);
        assert_eq!(
            rows(&broken),
            vec![
                expect("harmful-value", SYNCOOKIES, Warning, "20-late.conf:1"),
                expect("duplicate-key", SYNCOOKIES, Warning, "10-early.conf:1"),
            ]
        );
    }

    #[test]
    fn timestamps_off_matters_only_while_tw_reuse_can_work() {
        let alone = lint_texts(&[("a.conf", "net.ipv4.tcp_timestamps = 0\n")]);
        assert_eq!(
            rows(&alone),
            vec![expect("harmful-value", TIMESTAMPS, Warning, "a.conf:1")]
        );

        let reuse_off = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_timestamps = 0\nnet.ipv4.tcp_tw_reuse = 0\n",
        )]);
        assert_eq!(rows(&reuse_off), Vec::<Row>::new());

        // tcp_tw_reuse = 1 from another file, later in boot order.
        let reuse_elsewhere = lint_texts(&[
            ("/etc/sysctl.d/10-ts.conf", "net.ipv4.tcp_timestamps = 0\n"),
            (
                "/etc/sysctl.d/20-reuse.conf",
                "net.ipv4.tcp_tw_reuse = 0\nnet.ipv4.tcp_tw_reuse = 1\n",
            ),
        ]);
        assert_eq!(
            rows(&reuse_elsewhere),
            vec![
                expect("harmful-value", TIMESTAMPS, Warning, "10-ts.conf:1"),
                expect("duplicate-key", TW_REUSE, Warning, "20-reuse.conf:1"),
            ]
        );
        let finding = &reuse_elsewhere[0];
        assert_eq!(finding.evidence["tcp_tw_reuse"], 1);
        assert_eq!(
            finding.evidence["tcp_tw_reuse_from"],
            "set at /etc/sysctl.d/20-reuse.conf:2"
        );

        let timestamps_on = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_timestamps = 1\nnet.ipv4.tcp_tw_reuse = 1\n",
        )]);
        assert_eq!(rows(&timestamps_on), Vec::<Row>::new());
    }

    #[test]
    fn tw_buckets_are_flagged_below_65536_only() {
        let low = lint_texts(&[("a.conf", "net.ipv4.tcp_max_tw_buckets = 65535\n")]);
        assert_eq!(
            rows(&low),
            vec![expect("harmful-value", MAX_TW_BUCKETS, Warning, "a.conf:1")]
        );
        assert_eq!(low[0].current.as_deref(), Some("65535"));
        let enough = lint_texts(&[("a.conf", "net.ipv4.tcp_max_tw_buckets = 65536\n")]);
        assert_eq!(rows(&enough), Vec::<Row>::new());
        let negative = lint_texts(&[("a.conf", "net.ipv4.tcp_max_tw_buckets = -1\n")]);
        assert_eq!(
            rows(&negative),
            vec![expect("invalid-value", MAX_TW_BUCKETS, Error, "a.conf:1")]
        );
    }

    #[test]
    fn real_kernel_keys_are_not_typos_and_other_trees_are_left_alone() {
        let text = [
            "net.ipv4.tcp_dsack = 1",
            "net.ipv4.tcp_fack = 0",
            "net.ipv4.tcp_ecn = 2",
            "net.ipv4.tcp_frto = 2",
            "net.ipv4.tcp_retries1 = 3",
            "net.ipv4.tcp_fastopen_key = 00000000-00000000-00000000-00000000",
            "net.ipv4.udp_mem = 1 2 3",
            "net.ipv4.udp_hash_entries = 0",
            "net.core.optmem_max = 81920",
            "net.ipv4.tcp_abc = 0",
            "net.ipv6.ip_nonlocal_bind = 1",
            // Unknown to tcptune and far from every key it knows.
            "net.netfilter.nf_conntrack_max = 262144",
            "net.ipv4.conf.all.accept_redirects = 0",
            // Typos outside net. are not tcptune's business.
            "kernel.pid_mx = 4194304",
            "vm.swapiness = 10",
        ]
        .join("\n");
        assert_eq!(rows(&lint_texts(&[("a.conf", &text)])), Vec::<Row>::new());
    }

    #[test]
    fn misspelt_net_keys_get_a_suggestion() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.core.somaxcon = 4096\nnet.ipv6.ip_local_port_range = 1024 65000\n-net.ipv4.tcp_fin_timout = 30\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("unknown-key", "net.core.somaxcon", Warning, "a.conf:1"),
                expect(
                    "unknown-key",
                    "net.ipv6.ip_local_port_range",
                    Warning,
                    "a.conf:2"
                ),
                expect(
                    "unknown-key",
                    "net.ipv4.tcp_fin_timout",
                    Warning,
                    "a.conf:3"
                ),
            ]
        );
        assert_eq!(findings[0].evidence["did_you_mean"], "net.core.somaxconn");
        assert_eq!(
            findings[1].evidence["did_you_mean"],
            "net.ipv4.ip_local_port_range"
        );
        assert!(
            findings[2]
                .rationale
                .contains("ignore that failure silently"),
            "{}",
            findings[2].rationale
        );
    }

    #[test]
    fn ignore_failure_softens_missing_keys_but_not_harm() {
        let findings = lint_texts(&[(
            "a.conf",
            "-net.ipv4.tcp_tw_recycle = 1\n-net.ipv4.tcp_tw_timeout = 5\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("obsolete-key", TW_RECYCLE, Warning, "a.conf:1"),
                expect("harmful-value", TW_RECYCLE, Error, "a.conf:1"),
                expect("unknown-key", TW_TIMEOUT, Warning, "a.conf:2"),
            ]
        );
        assert!(!findings[0].rationale.contains("exit with status 1"));
        assert!(findings[0].rationale.contains("leading `-`"));
    }

    #[test]
    fn exclusions_and_globs_are_not_value_checked() {
        let findings = lint_texts(&[(
            "a.conf",
            "-net.ipv4.tcp_tw_recycle\n-net.ipv4.tcp_tw_timeout\nnet.ipv4.conf.*.rp_filter = 9\nnet.ipv4.tcp_tw_re*se = 7\n-net.ipv4.conf.lo.rp_filter\n",
        )]);
        assert_eq!(rows(&findings), Vec::<Row>::new());
    }

    #[test]
    fn values_outside_the_accepted_range_are_errors() {
        let findings = lint_texts(&[(
            "a.conf",
            "net.ipv4.tcp_tw_reuse = 3\nnet.ipv4.ip_local_port_range = 60999 32768\nnet.ipv4.tcp_available_congestion_control = bbr\nnet.ipv4.tcp_allowed_congestion_control = cubic bbr\nnet.ipv4.tcp_rmem = 4096 131072\n",
        )]);
        assert_eq!(
            rows(&findings),
            vec![
                expect("invalid-value", TW_REUSE, Error, "a.conf:1"),
                expect(
                    "invalid-value",
                    "net.ipv4.ip_local_port_range",
                    Error,
                    "a.conf:2"
                ),
                expect(
                    "invalid-value",
                    "net.ipv4.tcp_available_congestion_control",
                    Error,
                    "a.conf:3"
                ),
                expect("invalid-value", "net.ipv4.tcp_rmem", Error, "a.conf:5"),
            ]
        );
        assert_eq!(
            findings[0].message,
            "net.ipv4.tcp_tw_reuse = 3: must be one of 0, 1, 2"
        );
        assert_eq!(
            (
                findings[0].current.as_deref(),
                findings[0].expected.as_deref()
            ),
            (Some("3"), Some("one of 0, 1, 2"))
        );
        assert!(findings[2].rationale.contains("read-only"));
        assert_eq!(findings[2].fix, "delete the line");
    }

    #[test]
    fn an_empty_value_is_one_finding_not_two() {
        let findings = lint_texts(&[("a.conf", "net.ipv4.tcp_tw_reuse =\n")]);
        assert_eq!(
            rows(&findings),
            vec![expect("invalid-line", TW_REUSE, Warning, "a.conf:1")]
        );
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(lint(&[]).is_empty());
        assert!(lint_texts(&[("empty.conf", "")]).is_empty());
        assert!(lint_texts(&[("comments.conf", "# a\n; b\n\n")]).is_empty());
    }

    #[test]
    fn long_junk_is_cut_short_in_messages() {
        let junk = "x".repeat(5000);
        let findings = lint_texts(&[("a.conf", &junk)]);
        assert_eq!(
            rows(&findings),
            vec![expect("invalid-line", "", Error, "a.conf:1")]
        );
        assert!(
            findings[0].message.chars().count() < 300,
            "{}",
            findings[0].message.len()
        );
        assert!(findings[0].message.ends_with('…'));
    }
}
