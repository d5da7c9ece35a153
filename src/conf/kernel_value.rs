//! Whether the kernel refuses a value a loader writes, as far as the text
//! alone proves it.
//!
//! A refused write (EINVAL) changes nothing: with procps the value set by an
//! earlier line stays, so the refused line neither shadows it nor is the boot
//! value; with systemd-sysctl, whose map keeps only the last line of a key,
//! the key keeps whatever it held before boot. tcptune can only know
//! "refused" from the text, so this module answers only what holds for every
//! kernel tcptune supports: the integer handlers (`proc_dointvec`,
//! `proc_dointvec_minmax`, `proc_dointvec_jiffies`, `proc_dou8vec_minmax`,
//! `ipv4_local_port_range`) all read numbers with `proc_get_long()` in
//! `kernel/sysctl.c` (v3.10 to v6.18): blanks (`isspace`) are skipped, an
//! optional `-` and a digit must follow, `strtoul(.., 0)` reads the number
//! (so `0x1f` is hex, `010` octal and `09` stops after `0`), and the next
//! character must be a space, tab or newline (`proc_wspace_sep`) or the end.
//! A write with no number at all is EINVAL (`if (write && first) return
//! err ? : -EINVAL`), which is what an empty value becomes. Text after the
//! last number the key holds is ignored, so `30 # comment` stores 30.
//!
//! Limits, said plainly: range checks (`extra1`/`extra2`, the port range's
//! `low > high` or `low < ip_unprivileged_port_start`, u8 handlers refusing
//! negatives, jiffies overflow) depend on the kernel version, its config and
//! other live values, so a value that is only out of range is *not* treated
//! as refused here. Keys of other types (strings, congestion control names,
//! port lists) are never judged refused.

use crate::key::Key;

/// Keys whose handler reads exactly this many integers, on every kernel
/// tcptune supports. Only `net.` keys: the only tree tcptune manages.
fn integer_count(key: &Key) -> Option<usize> {
    let components = key.components();
    let [first, family, leaf] = components else {
        return None;
    };
    if first != "net" {
        return None;
    }
    match (family.as_str(), leaf.as_str()) {
        ("ipv4", "ip_local_port_range") => Some(2),
        (
            "ipv4",
            "tcp_fin_timeout"
            | "tcp_keepalive_time"
            | "tcp_keepalive_intvl"
            | "tcp_keepalive_probes"
            | "tcp_syn_retries"
            | "tcp_synack_retries"
            | "tcp_sack"
            | "tcp_dsack"
            | "tcp_timestamps"
            | "tcp_window_scaling"
            | "tcp_tw_reuse"
            | "tcp_syncookies"
            | "tcp_max_syn_backlog"
            | "tcp_max_tw_buckets"
            | "tcp_retries1"
            | "tcp_retries2"
            | "tcp_orphan_retries"
            | "tcp_abort_on_overflow"
            | "tcp_slow_start_after_idle"
            | "tcp_mtu_probing"
            | "tcp_fastopen"
            | "tcp_ecn"
            | "tcp_low_latency"
            | "tcp_no_metrics_save",
        ) => Some(1),
        ("core", "somaxconn") => Some(1),
        _ => None,
    }
}

/// Whether the kernel refuses `written` (the value text exactly as the loader
/// writes it, before the newline it appends) for `key`. `false` means "not
/// provably refused", never "certainly accepted".
pub fn kernel_refuses(key: &Key, written: &str) -> bool {
    match integer_count(key) {
        Some(count) => integer_vector_refused(written.as_bytes(), count),
        None => false,
    }
}

/// `__do_proc_dointvec`'s write loop over `proc_get_long`, for `count`
/// integers, without the range conversion. The loaders append `\n`.
fn integer_vector_refused(written: &[u8], count: usize) -> bool {
    // The kernel's TMPBUFLEN: a number of this many characters is refused.
    const TMPBUFLEN: usize = 22;
    let mut text = written.to_vec();
    text.push(b'\n');
    let mut at = 0;
    for index in 0..count {
        while at < text.len() && is_kernel_space(text[at]) {
            at += 1;
        }
        if at == text.len() {
            // No number at all is EINVAL; fewer numbers than the key holds
            // is accepted (the rest keep their value).
            return index == 0;
        }
        let start = at;
        if text[at] == b'-' && text.len() - at > 1 {
            at += 1;
        }
        if !text.get(at).is_some_and(u8::is_ascii_digit) {
            return true;
        }
        let (digits, value_ok) = strtoul_base0(&text[at..]);
        at += digits;
        if !value_ok || at - start >= TMPBUFLEN - 1 {
            return true;
        }
        if at < text.len() && !matches!(text[at], b' ' | b'\t' | b'\n') {
            return true;
        }
    }
    false
}

/// `isspace()` in the kernel's C locale.
fn is_kernel_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// How many bytes `strtoul(s, &end, 0)` consumes, and whether the number fits
/// an `int` (the handlers' `conv` refuses more than `INT_MAX`).
fn strtoul_base0(text: &[u8]) -> (usize, bool) {
    let (radix, skip) = if text.len() > 2
        && text[0] == b'0'
        && matches!(text[1], b'x' | b'X')
        && text[2].is_ascii_hexdigit()
    {
        (16, 2)
    } else if text.first() == Some(&b'0') {
        (8, 1)
    } else {
        (10, 0)
    };
    let mut value: u64 = 0;
    let mut at = skip;
    let mut fits = true;
    while let Some(digit) = text
        .get(at)
        .and_then(|byte| (*byte as char).to_digit(radix))
    {
        value = value
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(digit));
        if value > i32::MAX as u64 + 1 {
            fits = false;
        }
        at += 1;
    }
    (at.max(1), fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(key: &str, value: &str) -> bool {
        kernel_refuses(&Key::parse(key).unwrap(), value)
    }

    #[test]
    fn integers_the_kernel_reads() {
        for ok in [
            "30",
            " 30",
            "30 # was 60",
            "0x1e",
            "010",
            "-5",
            "30 31",
            "\x0b30",
        ] {
            assert!(!refused("net.ipv4.tcp_fin_timeout", ok), "{ok:?}");
        }
        for bad in [
            "", "  ", "x", "30x", "30#", "09", "30\r", "30\x0b", "--1", "- 1",
        ] {
            assert!(refused("net.ipv4.tcp_fin_timeout", bad), "{bad:?}");
        }
        assert!(refused("net.ipv4.tcp_fin_timeout", "99999999999"));
    }

    #[test]
    fn port_range_needs_well_formed_numbers_but_not_two() {
        assert!(!refused("net.ipv4.ip_local_port_range", "40000 50000"));
        assert!(!refused("net.ipv4.ip_local_port_range", "40000"));
        assert!(!refused(
            "net.ipv4.ip_local_port_range",
            "40000\t50000 junk"
        ));
        assert!(refused("net.ipv4.ip_local_port_range", "40000 x"));
        assert!(refused("net.ipv4.ip_local_port_range", "40000,50000"));
    }

    #[test]
    fn unknown_keys_are_never_judged() {
        assert!(!refused("net.ipv4.tcp_congestion_control", ""));
        assert!(!refused("kernel.hostname", "x"));
    }
}
