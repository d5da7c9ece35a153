//! The kernel's value model: for each handler a key uses (`proc_dointvec`,
//! `proc_dou8vec_minmax`, `proc_do_large_bitmap`, ...), how a written text is
//! parsed, which values are refused, and how the stored value prints back.
//!
//! tcptune compares values the way the kernel stores them, so that
//! `somaxconn = 4096 # comment` (the kernel stores 4096) is not mistaken for
//! another value, and it never writes a value whose read-back it cannot
//! predict. Sources: `kernel/sysctl.c` `proc_get_long`, `__do_proc_dointvec`,
//! `proc_do_large_bitmap`, `proc_dou8vec_minmax` (v3.10.99 and v6.18.2), and
//! the handlers in `net/ipv4/sysctl_net_ipv4.c` and `net/ipv4/tcp_cong.c`.

use crate::key::Value;

/// INT_MAX: the integer handlers refuse (5.3 and later) or wrap (before)
/// anything larger, so tcptune treats it as refused either way.
pub const INT_MAX: i64 = i32::MAX as i64;

/// How a key's value is parsed, bounded and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// One `int` (`proc_dointvec`, or `proc_dointvec_minmax` with bounds).
    Int { min: Option<i64>, max: Option<i64> },
    /// One `unsigned int` (`proc_douintvec[_minmax]`): a `-` is refused.
    UInt { min: Option<i64>, max: Option<i64> },
    /// One `u8` (`proc_dou8vec_minmax`): 0..255, narrowed by the bounds.
    U8 { min: i64, max: i64 },
    /// Seconds, stored as jiffies (`proc_dointvec_jiffies`).
    Jiffies,
    /// A socket buffer size: an `int` of at least the build's
    /// `SOCK_MIN_RCVBUF`/`SOCK_MIN_SNDBUF` (2048 plus the size of
    /// `struct sk_buff`, doubled for send buffers); `floor` is a bound every
    /// build exceeds.
    SockBuf { symbol: &'static str, floor: i64 },
    /// `count` ints, each at least `min` (`tcp_rmem`, `tcp_wmem`); no
    /// ordering check.
    IntVec { count: usize, min: Option<i64> },
    /// `count` unsigned longs (`tcp_mem`); no bounds, no ordering check.
    ULongVec { count: usize },
    /// `ip_local_port_range`: two ints 1..65535, low <= high; with `floor`
    /// (4.11 and later) low must also be >= ip_unprivileged_port_start.
    PortRange { floor: bool },
    /// `ip_unprivileged_port_start`: 0..65535 and not above the port
    /// range's low end.
    PrivilegedPorts,
    /// `ip_local_reserved_ports` (`proc_do_large_bitmap`): comma-separated
    /// ports and `a-b` ranges, no blanks; prints sorted and merged.
    PortBitmap,
    /// `tcp_congestion_control`: one registered algorithm name.
    CongestionControl,
    /// `tcp_allowed_congestion_control`: registered names, space-separated.
    CongestionList,
    /// `default_qdisc`: one queueing discipline name.
    Qdisc,
    /// Read-only (mode 0444): nothing may be written.
    ReadOnly,
}

/// What the kernel does with a written text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; reads back as this value.
    Stored(Value),
    /// Accepted, but the read-back depends on what the key held before (a
    /// vector written with fewer numbers than it holds).
    Partial,
    /// Refused (EINVAL, ENOENT or EPERM): nothing changes.
    Refused(String),
}

impl Handler {
    /// What the handler accepts, in words.
    pub fn describe(self) -> String {
        match self {
            Handler::Int { min, max } | Handler::UInt { min, max } => {
                let kind = if matches!(self, Handler::UInt { .. }) {
                    "unsigned integer"
                } else {
                    "integer"
                };
                match (min, max) {
                    (Some(min), Some(max)) => format!("{kind} {min}..{max}"),
                    (Some(min), None) => format!("{kind} >= {min}"),
                    (None, Some(max)) => format!("{kind} <= {max}"),
                    (None, None) if kind == "integer" => "any integer".into(),
                    (None, None) => "unsigned integer".into(),
                }
            }
            Handler::U8 { min, max } => format!("integer {min}..{max}"),
            Handler::Jiffies => "seconds, 0 or negative included, up to 2147483 (stored as jiffies, which must fit an int at any HZ)".into(),
            Handler::SockBuf { symbol, .. } => {
                format!("integer >= {symbol} (about 2-5 KB, depends on the build)")
            }
            Handler::IntVec { count, min } => match min {
                Some(min) => format!("{count} integers, each >= {min}, in any order"),
                None => format!("{count} integers"),
            },
            Handler::ULongVec { count } => {
                format!("{count} non-negative integers (pages), no ordering check")
            }
            Handler::PortRange { floor: true } => {
                "two ports `low high` 1..65535, low <= high, low >= ip_unprivileged_port_start"
                    .into()
            }
            Handler::PortRange { floor: false } => {
                "two ports `low high` 1..65535, low <= high".into()
            }
            Handler::PrivilegedPorts => {
                "integer 0..65535, not above ip_local_port_range's low end".into()
            }
            Handler::PortBitmap => {
                "comma-separated ports and ranges without blanks, such as `8080,9000-9100`, or empty"
                    .into()
            }
            Handler::CongestionControl => {
                "one algorithm listed in tcp_available_congestion_control".into()
            }
            Handler::CongestionList => {
                "algorithm names from tcp_available_congestion_control, separated by spaces".into()
            }
            Handler::Qdisc => "a queueing discipline name, such as fq_codel or fq".into(),
            Handler::ReadOnly => "read-only".into(),
        }
    }

    /// What the kernel does when `written` (the text a loader writes, before
    /// its newline) is written to a key with this handler. Bounds that
    /// depend on another key use its default (ip_unprivileged_port_start
    /// 1024; a port range low end of 32768).
    pub fn write(self, written: &str) -> Outcome {
        match self {
            Handler::Int { min, max } => single(written, false, min, Some(max.unwrap_or(INT_MAX))),
            Handler::UInt { min, max } => single(
                written,
                true,
                Some(min.unwrap_or(0)),
                Some(max.unwrap_or(u32::MAX as i64)),
            ),
            Handler::U8 { min, max } => single(written, true, Some(min), Some(max)),
            // value * HZ must fit an int: INT_MAX / 1000 is safe for every HZ.
            Handler::Jiffies => single(written, false, None, Some(INT_MAX / 1000)),
            Handler::SockBuf { floor, .. } => single(written, false, Some(floor), Some(INT_MAX)),
            Handler::IntVec { count, min } => vector(written, count, false, min, Some(INT_MAX)),
            Handler::ULongVec { count } => vector(written, count, true, Some(0), None),
            Handler::PortRange { floor } => match vector(written, 2, false, Some(1), Some(65535)) {
                Outcome::Stored(value) => {
                    let numbers = value.integers().unwrap_or_default();
                    if numbers[0] > numbers[1] {
                        Outcome::Refused("the low port is above the high port".into())
                    } else if floor && numbers[0] < 1024 {
                        Outcome::Refused(
                            "the low port is below ip_unprivileged_port_start (1024 unless lowered), which 4.11 and later refuse"
                                .into(),
                        )
                    } else {
                        Outcome::Stored(value)
                    }
                }
                other => other,
            },
            Handler::PrivilegedPorts => match single(written, false, Some(0), Some(65535)) {
                Outcome::Stored(value) if value.as_integer().is_some_and(|port| port > 32768) => {
                    Outcome::Refused(
                        "above ip_local_port_range's low end (32768 unless changed)".into(),
                    )
                }
                other => other,
            },
            Handler::PortBitmap => bitmap(written),
            Handler::CongestionControl | Handler::Qdisc => {
                let name = written.trim_matches(|ch| ch == ' ' || ch == '\t');
                if is_name(name) {
                    Outcome::Stored(Value::parse(name))
                } else {
                    Outcome::Refused(format!(
                        "`{name}` is not one name: the kernel looks the whole text up, a comment or a second word included, and finds nothing (ENOENT)"
                    ))
                }
            }
            Handler::CongestionList => {
                let value = Value::parse(written);
                if !value.is_empty() && value.tokens().iter().all(|name| is_name(name)) {
                    Outcome::Stored(value)
                } else {
                    Outcome::Refused("must be algorithm names separated by spaces".into())
                }
            }
            Handler::ReadOnly => Outcome::Refused(
                "read-only: the kernel reports it and refuses writes, even from root".into(),
            ),
        }
    }

    /// Whether the value is a single integer (for comparisons with bounds).
    pub fn is_numeric(self) -> bool {
        !matches!(
            self,
            Handler::PortBitmap
                | Handler::CongestionControl
                | Handler::CongestionList
                | Handler::Qdisc
        )
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

/// One number of an integer handler.
fn single(written: &str, unsigned: bool, min: Option<i64>, max: Option<i64>) -> Outcome {
    vector(written, 1, unsigned, min, max)
}

/// `__do_proc_dointvec` and friends: up to `count` numbers; text after the
/// last one the key holds is ignored.
fn vector(
    written: &str,
    count: usize,
    unsigned: bool,
    min: Option<i64>,
    max: Option<i64>,
) -> Outcome {
    let numbers = match read_integers(written.as_bytes(), count) {
        Ok(numbers) => numbers,
        Err(reason) => return Outcome::Refused(reason),
    };
    for number in &numbers {
        if unsigned && *number < 0 {
            return Outcome::Refused("a negative number for an unsigned value".into());
        }
        if let Some(min) = min
            && *number < min
        {
            return Outcome::Refused(format!("{number} is below the minimum {min}"));
        }
        if let Some(max) = max
            && *number > max
        {
            return Outcome::Refused(format!("{number} is above the maximum {max}"));
        }
    }
    if numbers.len() < count {
        return Outcome::Partial;
    }
    Outcome::Stored(Value::from_tokens(
        numbers.iter().map(i64::to_string).collect(),
    ))
}

/// `proc_get_long` in a loop, as the integer handlers read: blanks skipped,
/// an optional `-`, a number in base 0 (`0x` hex, leading `0` octal), and
/// then a blank or the end. At most `count` numbers; whatever follows them
/// is ignored. A write without any number is refused.
pub fn read_integers(written: &[u8], count: usize) -> Result<Vec<i64>, String> {
    // The kernel's TMPBUFLEN: a number of this many characters is refused.
    const TMPBUFLEN: usize = 22;
    let mut text = written.to_vec();
    text.push(b'\n');
    let mut at = 0;
    let mut numbers = Vec::new();
    while numbers.len() < count {
        while at < text.len() && is_kernel_space(text[at]) {
            at += 1;
        }
        if at == text.len() {
            break;
        }
        let start = at;
        let negative = text[at] == b'-' && text.len() - at > 1;
        if negative {
            at += 1;
        }
        if !text.get(at).is_some_and(u8::is_ascii_digit) {
            return Err(format!(
                "`{}` is not a number",
                String::from_utf8_lossy(&text[start..text.len() - 1])
            ));
        }
        let (digits, value) = strtoul_base0(&text[at..]);
        at += digits;
        if at - start >= TMPBUFLEN - 1 {
            return Err("the number is too long".into());
        }
        let Some(value) = value else {
            return Err("the number does not fit".into());
        };
        if at < text.len() && !matches!(text[at], b' ' | b'\t' | b'\n') {
            return Err(format!(
                "`{}` has text right after the number",
                String::from_utf8_lossy(&text[start..text.len() - 1])
            ));
        }
        numbers.push(if negative { -value } else { value });
    }
    if numbers.is_empty() {
        return Err("no number".into());
    }
    Ok(numbers)
}

/// `isspace()` in the kernel's C locale.
fn is_kernel_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// How many bytes `strtoul(s, &end, 0)` consumes, and the number when it
/// fits 64 bits.
fn strtoul_base0(text: &[u8]) -> (usize, Option<i64>) {
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
    let mut value: Option<i64> = Some(0);
    let mut at = skip;
    while let Some(digit) = text
        .get(at)
        .and_then(|byte| (*byte as char).to_digit(radix))
    {
        value = value
            .and_then(|value| value.checked_mul(i64::from(radix)))
            .and_then(|value| value.checked_add(i64::from(digit)));
        at += 1;
    }
    (at.max(1), value)
}

/// `proc_do_large_bitmap`: `a`, `a-b`, separated by `,`; a write replaces
/// the whole set; prints sorted with consecutive ports merged.
fn bitmap(written: &str) -> Outcome {
    let text = written.trim_end_matches(['\n']);
    if text.is_empty() {
        return Outcome::Stored(Value::parse(""));
    }
    let mut ports = vec![false; 65536];
    for part in text.split(',') {
        let (start, end) = match part.split_once('-') {
            Some((start, end)) => (start, end),
            None => (part, part),
        };
        let parse = |number: &str| -> Option<usize> {
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            number.parse::<usize>().ok().filter(|port| *port <= 65535)
        };
        let (Some(start), Some(end)) = (parse(start), parse(end)) else {
            return Outcome::Refused(format!(
                "`{part}` is not a port or a range `a-b` of ports 0..65535 (no blanks allowed)"
            ));
        };
        if end < start {
            return Outcome::Refused(format!("the range `{part}` ends before it starts"));
        }
        for port in &mut ports[start..=end] {
            *port = true;
        }
    }
    let mut parts = Vec::new();
    let mut port = 0;
    while port < ports.len() {
        if !ports[port] {
            port += 1;
            continue;
        }
        let start = port;
        while port + 1 < ports.len() && ports[port + 1] {
            port += 1;
        }
        parts.push(if start == port {
            start.to_string()
        } else {
            format!("{start}-{port}")
        });
        port += 1;
    }
    Outcome::Stored(Value::parse(&parts.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(handler: Handler, text: &str) -> String {
        match handler.write(text) {
            Outcome::Stored(value) => value.to_string(),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn refused(handler: Handler, text: &str) -> bool {
        matches!(handler.write(text), Outcome::Refused(_))
    }

    const INT: Handler = Handler::Int {
        min: None,
        max: None,
    };

    #[test]
    fn integers_are_read_as_the_kernel_reads_them() {
        assert_eq!(stored(INT, "5002 # was 5"), "5002");
        assert_eq!(stored(INT, "5009 \\"), "5009");
        assert_eq!(stored(INT, "5905 5906"), "5905");
        assert_eq!(stored(INT, "0x1717"), "5911");
        assert_eq!(stored(INT, "010"), "8");
        assert_eq!(stored(INT, " -5"), "-5");
        assert!(refused(INT, "12abc"));
        assert!(refused(INT, "09"));
        assert!(refused(INT, ""));
        assert!(refused(INT, "# 5"));
        assert!(refused(INT, "2147483648"));
    }

    #[test]
    fn bounds_and_widths() {
        let u8_knob = Handler::U8 { min: 0, max: 255 };
        assert_eq!(stored(u8_knob, "255"), "255");
        assert!(refused(u8_knob, "256"));
        assert!(refused(u8_knob, "-1"));
        let reuse = Handler::Int {
            min: Some(0),
            max: Some(2),
        };
        assert!(refused(reuse, "3"));
        let lowat = Handler::UInt {
            min: None,
            max: None,
        };
        assert_eq!(stored(lowat, "4294967295"), "4294967295");
        assert!(refused(lowat, "-1"));
    }

    #[test]
    fn vectors_hold_their_count_and_no_order() {
        let rmem = Handler::IntVec {
            count: 3,
            min: Some(1),
        };
        assert_eq!(stored(rmem, "4096\t131072  6291456"), "4096 131072 6291456");
        assert_eq!(stored(rmem, "8192 4096 1"), "8192 4096 1");
        assert_eq!(rmem.write("4096 131072"), Outcome::Partial);
        assert!(refused(rmem, "0 1 2"));
        let mem = Handler::ULongVec { count: 3 };
        assert_eq!(stored(mem, "3 2 1"), "3 2 1");
    }

    #[test]
    fn port_ranges() {
        let range = Handler::PortRange { floor: true };
        assert_eq!(stored(range, "1024 65535"), "1024 65535");
        assert!(refused(range, "60999 32768"));
        assert!(refused(range, "500 65535"));
        assert!(!refused(Handler::PortRange { floor: false }, "500 65535"));
        assert!(refused(range, "0 100"));
        assert_eq!(range.write("40000"), Outcome::Partial);
    }

    #[test]
    fn reserved_ports_print_sorted_and_merged() {
        assert_eq!(stored(Handler::PortBitmap, "8081,8080"), "8080-8081");
        assert_eq!(
            stored(Handler::PortBitmap, "9000-9100,8080,9101"),
            "8080,9000-9101"
        );
        assert_eq!(stored(Handler::PortBitmap, ""), "");
        assert!(refused(Handler::PortBitmap, "8080, 8081"));
        assert!(refused(Handler::PortBitmap, "8080 8081"));
        assert!(refused(Handler::PortBitmap, "9100-9000"));
        assert!(refused(Handler::PortBitmap, "70000"));
    }

    #[test]
    fn names() {
        assert_eq!(stored(Handler::CongestionControl, "bbr"), "bbr");
        assert!(refused(Handler::CongestionControl, "bbr # fast"));
        assert!(refused(Handler::ReadOnly, "1"));
    }
}
