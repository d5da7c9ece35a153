//! Turns a positioned YAML tree into a profile [`ProfileFile`], collecting every
//! mistake with its line and column instead of stopping at the first.
//!
//! The checks are strict on purpose: a profile is what tcptune writes into
//! the kernel and into `/etc/sysctl.d`, so an unknown field, a misspelt key
//! or a value the kernel would refuse must stop it before anything happens.

use std::collections::HashMap;

use super::yaml::{Node, NodeKind, Position};
use super::{
    Expectation, KernelGate, PartialThresholds, ProfileError, ProfileErrors, ProfileFile, Setting,
};
use crate::finding::Severity;
use crate::kernel::KernelVersion;
use crate::key::{Key, Value};
use crate::knowledge;
use crate::suggest;

const TOP_FIELDS: &[&str] = &["description", "extends", "settings", "thresholds"];
const SETTING_FIELDS: &[&str] = &[
    "value",
    "at_least",
    "at_most",
    "forbidden",
    "why",
    "severity",
    "min_kernel",
    "below_kernel",
];
const THRESHOLD_FIELDS: &[&str] = &[
    "close_wait_leak",
    "port_exhaustion_percent",
    "tw_bucket_percent",
    "listen_overflow",
    "idle_timeout_seconds",
];

struct Collector<'a> {
    file: &'a str,
    errors: Vec<ProfileError>,
}

impl Collector<'_> {
    fn error(&mut self, position: Position, message: impl Into<String>) {
        self.errors.push(ProfileError {
            file: self.file.to_owned(),
            line: position.line.max(1),
            column: position.column.max(1),
            message: message.into(),
        });
    }

    /// The entries of a mapping with string keys; reports anything else.
    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(&'n str, &'n Node, &'n Node)> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.error(
                node.position,
                format!("{what} must be a mapping, found {}", node.kind.describe()),
            );
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (key, value) in entries {
            match &key.kind {
                NodeKind::String(name) => fields.push((name.as_str(), key, value)),
                other => self.error(
                    key.position,
                    format!(
                        "a key in {what} must be a string, found {}",
                        other.describe()
                    ),
                ),
            }
        }
        fields
    }

    fn unknown_field(&mut self, key: &Node, name: &str, allowed: &[&str], what: &str) {
        let hint = match suggest::closest(name, allowed.iter().copied()) {
            Some(near) => format!("; did you mean `{near}`?"),
            None => format!("; expected one of: {}", allowed.join(", ")),
        };
        self.error(
            key.position,
            format!("unknown field `{name}` in {what}{hint}"),
        );
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::String(text)
                if text.chars().any(char::is_control)
                    && !text.chars().all(|ch| !ch.is_control() || ch == '\n') =>
            {
                self.error(
                    node.position,
                    format!("{what} contains a control character"),
                );
                None
            }
            NodeKind::String(text) => Some(text.clone()),
            other => {
                self.error(
                    node.position,
                    format!("{what} must be a string, found {}", other.describe()),
                );
                None
            }
        }
    }

    fn unsigned(&mut self, node: &Node, what: &str, low: u64, high: u64) -> Option<u64> {
        match &node.kind {
            NodeKind::Integer(number) => match u64::try_from(*number) {
                Ok(number) if (low..=high).contains(&number) => Some(number),
                _ => {
                    self.error(
                        node.position,
                        format!("{what} must be from {low} to {high}, found {number}"),
                    );
                    None
                }
            },
            other => {
                self.error(
                    node.position,
                    format!("{what} must be an integer, found {}", other.describe()),
                );
                None
            }
        }
    }
}

pub fn document(file: &str, name: &str, tree: &Node) -> Result<ProfileFile, ProfileErrors> {
    let mut collector = Collector {
        file,
        errors: Vec::new(),
    };
    let mut document = ProfileFile::default();
    for (field, key, value) in collector.mapping(tree, "a profile") {
        match field {
            "description" => document.description = collector.string(value, "`description`"),
            "extends" => {
                if let Some(parent) = collector.string(value, "`extends`") {
                    if parent.trim().is_empty() {
                        collector.error(value.position, "`extends` names no profile");
                    } else {
                        document.extends = Some((parent, value.position));
                    }
                }
            }
            "settings" => document.settings = settings(&mut collector, name, value),
            "thresholds" => document.thresholds = thresholds(&mut collector, value),
            other => collector.unknown_field(key, other, TOP_FIELDS, "a profile"),
        }
    }
    if collector.errors.is_empty() {
        Ok(document)
    } else {
        Err(ProfileErrors(collector.errors))
    }
}

fn settings(collector: &mut Collector<'_>, profile: &str, node: &Node) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut seen: HashMap<Key, Position> = HashMap::new();
    for (text, key_node, body) in collector.mapping(node, "`settings`") {
        let key = match Key::parse(text) {
            Ok(key) => key,
            Err(error) => {
                collector.error(key_node.position, format!("invalid key: {error}"));
                continue;
            }
        };
        if !key.is_net() {
            collector.error(
                key_node.position,
                format!("`{key}` is not under `net.`: tcptune manages network sysctls only"),
            );
            continue;
        }
        if let Some((_, why)) = knowledge::VENDOR_ONLY_KEYS
            .iter()
            .find(|(vendor, _)| *vendor == key.to_string())
        {
            collector.error(key_node.position, format!("`{key}` {why}"));
            continue;
        }
        // A misspelt key names no file under /proc/sys: apply would skip it
        // as absent and the meant key would keep its value.
        if let Some(near) = knowledge::likely_typo(&key) {
            collector.error(
                key_node.position,
                format!("`{key}` is not a key tcptune knows; did you mean `{near}`?"),
            );
            continue;
        }
        if let Some(first) = seen.insert(key.clone(), key_node.position) {
            collector.error(
                key_node.position,
                format!(
                    "`{key}` is set twice (first at line {}, column {})",
                    first.line, first.column
                ),
            );
            continue;
        }
        if let Some(setting) = setting(collector, profile, key, key_node, body) {
            settings.push(setting);
        }
    }
    settings
}

fn setting(
    collector: &mut Collector<'_>,
    profile: &str,
    key: Key,
    key_node: &Node,
    body: &Node,
) -> Option<Setting> {
    let before = collector.errors.len();
    let what = format!("the setting `{key}`");
    let info = knowledge::lookup(&key.to_string());
    let mut expectations: Vec<(Expectation, Position)> = Vec::new();
    // Comparators written, valid or not: a bad `value` already has its own
    // error and must not also count as "no comparator".
    let mut comparators: Vec<Position> = Vec::new();
    let mut why = None;
    let mut severity = Severity::Warning;
    let mut gate = KernelGate::default();
    // Values as written, judged once the kernel gate is known.
    let mut written: Vec<(Value, Position)> = Vec::new();
    for (field, field_key, value) in collector.mapping(body, &what) {
        match field {
            "value" | "at_least" | "at_most" => {
                comparators.push(field_key.position);
                let numeric = field != "value";
                if let Some(parsed) = setting_value(collector, value, &key, numeric) {
                    written.push((parsed.clone(), value.position));
                    let expectation = match field {
                        "value" => Expectation::Equal(parsed),
                        "at_least" => Expectation::AtLeast(parsed),
                        _ => Expectation::AtMost(parsed),
                    };
                    expectations.push((expectation, field_key.position));
                }
            }
            "forbidden" => {
                comparators.push(field_key.position);
                match value.kind {
                    NodeKind::Bool(true) => {
                        expectations.push((Expectation::Forbidden, field_key.position))
                    }
                    _ => collector.error(
                        value.position,
                        "`forbidden` can only be `true`; remove it otherwise",
                    ),
                }
            }
            "why" => match collector.string(value, "`why`") {
                Some(text) if text.trim().is_empty() => {
                    collector.error(value.position, "`why` is empty: say why")
                }
                Some(text) => why = Some(text.trim().to_owned()),
                None => {}
            },
            "severity" => {
                if let Some(text) = collector.string(value, "`severity`") {
                    match text.parse() {
                        Ok(parsed) => severity = parsed,
                        Err(message) => collector.error(value.position, message),
                    }
                }
            }
            "min_kernel" => gate.min_kernel = kernel_version(collector, value, "min_kernel"),
            "below_kernel" => gate.below_kernel = kernel_version(collector, value, "below_kernel"),
            other => collector.unknown_field(field_key, other, SETTING_FIELDS, &what),
        }
    }
    if let (Some(min), Some(below)) = (gate.min_kernel, gate.below_kernel)
        && min >= below
    {
        collector.error(
            body.position,
            format!("{what}: `min_kernel` {min} is not below `below_kernel` {below}"),
        );
    }
    if let Some(info) = info {
        for (value, position) in &written {
            check_value(collector, &key, info, value, *position, gate);
        }
    }
    if why.is_none() && matches!(body.kind, NodeKind::Mapping(_)) {
        collector.error(
            key_node.position,
            format!("{what} has no `why`: every setting must say why"),
        );
    }
    let expectation = match comparators.len() {
        1 => expectations.pop().map(|(expectation, _)| expectation),
        0 => {
            if matches!(body.kind, NodeKind::Mapping(_)) {
                collector.error(
                    key_node.position,
                    format!(
                        "{what} needs one of `value`, `at_least`, `at_most` or `forbidden: true`"
                    ),
                );
            }
            None
        }
        _ => {
            collector.error(
                comparators[1],
                format!("{what} has more than one of `value`, `at_least`, `at_most`, `forbidden`"),
            );
            None
        }
    };
    if collector.errors.len() > before {
        return None;
    }
    Some(Setting {
        key,
        expect: expectation?,
        why: why?,
        severity,
        gate,
        defined_in: profile.to_owned(),
    })
}

/// Refuses a value the kernel would refuse or store differently on a
/// release the setting applies to: `apply` never writes a value whose
/// read-back it cannot predict, and a profile says exactly what it gets.
fn check_value(
    collector: &mut Collector<'_>,
    key: &Key,
    info: &knowledge::KeyInfo,
    value: &Value,
    position: Position,
    gate: KernelGate,
) {
    let text = value.to_string();
    let admits = |first: KernelVersion, next: Option<KernelVersion>| {
        gate.min_kernel
            .is_none_or(|min| next.is_none_or(|next| min < next))
            && gate.below_kernel.is_none_or(|below| first < below)
    };
    if let Some((since, problem)) = info.problems(&text, admits).into_iter().next() {
        let releases = if since == crate::knowledge::history::OLDEST {
            String::new()
        } else {
            format!(" (on Linux {since} and later)")
        };
        collector.error(position, format!("`{key}` = `{text}`: {problem}{releases}"));
        return;
    }
    if let Some(number) = value.as_integer()
        && number < 0
        && info.all_handlers().contains(&knowledge::Handler::Jiffies)
    {
        collector.error(
            position,
            format!("`{key}` = `{text}`: a negative number of seconds has no meaning (the kernel would store it)"),
        );
        return;
    }
    if let (Some(meaningful), Some(number)) = (info.meaningful, value.as_integer())
        && !meaningful.contains(&number)
    {
        let list: Vec<String> = meaningful.iter().map(i64::to_string).collect();
        collector.error(
            position,
            format!(
                "`{key}` = `{text}`: only {} have a meaning",
                list.join(", ")
            ),
        );
    }
}

/// A value: an integer, a string of whitespace-separated tokens, or a list.
fn setting_value(
    collector: &mut Collector<'_>,
    node: &Node,
    key: &Key,
    numeric: bool,
) -> Option<Value> {
    let errors_before = collector.errors.len();
    let mut tokens = Vec::new();
    let mut push = |collector: &mut Collector<'_>, item: &Node| match &item.kind {
        NodeKind::Integer(number) => tokens.push(number.to_string()),
        NodeKind::String(text) => {
            if let Some(bad) = text.chars().find(|ch| ch.is_control()) {
                collector.error(
                    item.position,
                    format!("the value of `{key}` contains the control character {bad:?}; values are single-line"),
                );
            } else {
                tokens.extend(text.split_whitespace().map(str::to_owned));
            }
        }
        NodeKind::Bool(value) => collector.error(
            item.position,
            format!(
                "the value of `{key}` is the boolean `{value}`; sysctls take numbers: write {}",
                u8::from(*value)
            ),
        ),
        other => collector.error(
            item.position,
            format!(
                "the value of `{key}` must be an integer, a string or a list of them, found {}",
                other.describe()
            ),
        ),
    };
    match &node.kind {
        NodeKind::Sequence(items) => {
            for item in items {
                if matches!(item.kind, NodeKind::Sequence(_) | NodeKind::Mapping(_)) {
                    collector.error(
                        item.position,
                        format!("the value of `{key}` must be a flat list"),
                    );
                } else {
                    push(collector, item);
                }
            }
        }
        _ => push(collector, node),
    }
    if collector.errors.len() > errors_before {
        return None;
    }
    if tokens.is_empty() {
        // An empty string is a real value for a few keys (ip_local_reserved_ports).
        if !matches!(node.kind, NodeKind::String(_)) {
            collector.error(node.position, format!("the value of `{key}` is empty"));
            return None;
        }
    }
    let value = Value::from_tokens(tokens);
    if numeric && value.integers().is_none() {
        collector.error(
            node.position,
            format!("`at_least` and `at_most` need integers; found `{value}`"),
        );
        return None;
    }
    Some(value)
}

fn kernel_version(
    collector: &mut Collector<'_>,
    node: &Node,
    field: &str,
) -> Option<KernelVersion> {
    match &node.kind {
        NodeKind::String(text) => match text.parse() {
            Ok(version) => Some(version),
            Err(message) => {
                collector.error(node.position, format!("`{field}`: {message}"));
                None
            }
        },
        NodeKind::Float(_) | NodeKind::Integer(_) => {
            collector.error(
                node.position,
                format!("`{field}` must be a quoted version such as \"4.12\": unquoted, YAML reads it as a number and 4.10 becomes 4.1"),
            );
            None
        }
        other => {
            collector.error(
                node.position,
                format!(
                    "`{field}` must be a quoted version, found {}",
                    other.describe()
                ),
            );
            None
        }
    }
}

fn thresholds(collector: &mut Collector<'_>, node: &Node) -> PartialThresholds {
    let mut thresholds = PartialThresholds::default();
    for (field, key, value) in collector.mapping(node, "`thresholds`") {
        let what = format!("`thresholds.{field}`");
        match field {
            "close_wait_leak" => {
                thresholds.close_wait_leak =
                    collector.unsigned(value, &what, 1, u64::from(u32::MAX))
            }
            "port_exhaustion_percent" => {
                thresholds.port_exhaustion_percent = collector.unsigned(value, &what, 1, 100)
            }
            "tw_bucket_percent" => {
                thresholds.tw_bucket_percent = collector.unsigned(value, &what, 1, 100)
            }
            "listen_overflow" => {
                thresholds.listen_overflow =
                    collector.unsigned(value, &what, 0, u64::from(u32::MAX))
            }
            "idle_timeout_seconds" => {
                thresholds.idle_timeout_seconds =
                    collector.unsigned(value, &what, 1, u64::from(u32::MAX))
            }
            other => collector.unknown_field(key, other, THRESHOLD_FIELDS, "`thresholds`"),
        }
    }
    thresholds
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse("p.yaml", "p", text.as_bytes()) {
            Ok(document) => panic!("expected errors, got {document:?}"),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_valid_profile() {
        let text = "description: test\nextends: default\nsettings:\n  net.ipv4.tcp_fin_timeout:\n    value: 30\n    why: frees orphaned FIN_WAIT2 sooner\n  net.core.somaxconn:\n    at_least: 4096\n    why: deep accept queues\n    severity: error\n  net.ipv4.ip_local_port_range:\n    value: [1024, 65535]\n    why: more ports\n  net.ipv4.tcp_tw_recycle:\n    forbidden: true\n    below_kernel: \"4.12\"\n    why: drops NAT clients\nthresholds:\n  close_wait_leak: 50\n";
        let document = parse("p.yaml", "p", text.as_bytes()).unwrap();
        assert_eq!(document.settings.len(), 4);
        assert_eq!(
            document.extends.as_ref().map(|(name, _)| name.as_str()),
            Some("default")
        );
        assert_eq!(document.thresholds.close_wait_leak, Some(50));
        let range = &document.settings[2];
        assert_eq!(range.expect, Expectation::Equal(Value::parse("1024 65535")));
        assert_eq!(document.settings[1].severity, Severity::Error);
    }

    #[test]
    fn the_idle_timeout_threshold_is_optional_and_positive() {
        let document = parse(
            "p.yaml",
            "p",
            b"thresholds:\n  idle_timeout_seconds: 350\n".as_slice(),
        )
        .unwrap();
        assert_eq!(document.thresholds.idle_timeout_seconds, Some(350));
        assert_eq!(
            errors("thresholds:\n  idle_timeout_seconds: 0\n"),
            vec![
                "p.yaml:2:25: `thresholds.idle_timeout_seconds` must be from 1 to 4294967295, found 0"
            ]
        );
    }

    #[test]
    fn every_error_of_a_file_is_reported_with_its_position() {
        let text = "settings:\n  net.ipv4.tcp_fin_timeout:\n    value: yes\n    why: x\n  kernel.pid_max:\n    value: 1\n    why: x\n  net.ipv4.tcp_tw_reuse:\n    value: 3\n    why: x\n  net.ipv4.tcp_syncookies:\n    value: 1\nbogus: 1\n";
        let found = errors(text);
        assert_eq!(
            found,
            vec![
                "p.yaml:3:12: `net.ipv4.tcp_fin_timeout` = `yes`: the kernel refuses it (`yes` is not a number); it accepts seconds, 0 or negative included, up to 2147483 (stored as jiffies, which must fit an int at any HZ)",
                "p.yaml:5:3: `kernel.pid_max` is not under `net.`: tcptune manages network sysctls only",
                "p.yaml:9:12: `net.ipv4.tcp_tw_reuse` = `3`: the kernel refuses it (3 is above the maximum 2); it accepts integer 0..2 (on Linux 4.18 and later)",
                "p.yaml:11:3: the setting `net.ipv4.tcp_syncookies` has no `why`: every setting must say why",
                "p.yaml:13:1: unknown field `bogus` in a profile; expected one of: description, extends, settings, thresholds",
            ]
        );
    }

    #[test]
    fn values_the_kernel_would_read_back_differently_are_refused() {
        let text = "settings:\n  net.core.somaxconn:\n    value: \"010\"\n    why: w\n  net.ipv4.tcp_fin_timeout:\n    value: \"0x7\"\n    why: w\n  net.ipv4.tcp_keepalive_time:\n    value: \"5 6\"\n    why: w\n  net.ipv4.tcp_keepalive_intvl:\n    value: \"5 # five\"\n    why: w\n  net.ipv4.ip_local_reserved_ports:\n    value: \"8081,8080\"\n    why: w\n  net.ipv4.tcp_syncookies:\n    value: 3\n    why: w\n";
        let found = errors(text);
        assert_eq!(
            found,
            vec![
                "p.yaml:3:12: `net.core.somaxconn` = `010`: the kernel would store `8`, not `010`",
                "p.yaml:6:12: `net.ipv4.tcp_fin_timeout` = `0x7`: the kernel would store `7`, not `0x7`",
                "p.yaml:9:12: `net.ipv4.tcp_keepalive_time` = `5 6`: the kernel would store `5`, not `5 6`",
                "p.yaml:12:12: `net.ipv4.tcp_keepalive_intvl` = `5 # five`: the kernel would store `5`, not `5 # five`",
                "p.yaml:15:12: `net.ipv4.ip_local_reserved_ports` = `8081,8080`: the kernel would store `8080-8081`, not `8081,8080`",
                "p.yaml:18:12: `net.ipv4.tcp_syncookies` = `3`: only 0, 1, 2 have a meaning",
            ]
        );
        let spaced = errors(
            "settings:\n  net.ipv4.ip_local_reserved_ports:\n    value: \"8080, 8081\"\n    why: w\n",
        );
        assert!(spaced[0].contains("the kernel refuses it"), "{spaced:?}");
    }

    #[test]
    fn the_kernel_gate_decides_which_releases_judge_a_value() {
        // 2 is not a tcp_tw_reuse value before 4.18 (any non-zero meant
        // on), but the kernel stores it there too; 3 is refused from 4.18.
        let text = "settings:\n  net.ipv4.tcp_tw_reuse:\n    value: 3\n    below_kernel: \"4.18\"\n    why: w\n";
        assert!(parse("p.yaml", "p", text.as_bytes()).is_ok());
        let text = "settings:\n  net.ipv4.ip_local_port_range:\n    value: 500 65535\n    below_kernel: \"4.11\"\n    why: w\n";
        assert!(parse("p.yaml", "p", text.as_bytes()).is_ok());
        let text = "settings:\n  net.ipv4.ip_local_port_range:\n    value: 500 65535\n    why: w\n";
        let found = errors(text);
        assert!(found[0].contains("ip_unprivileged_port_start"), "{found:?}");
        assert!(found[0].contains("on Linux 4.11 and later"), "{found:?}");
    }
}
