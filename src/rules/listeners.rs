//! Listening sockets one by one: `listen-backlog-clamped` (a backlog equal
//! to `net.core.somaxconn`, which is what the kernel grants when the
//! application asked for more) and `listener-in-ephemeral-range` (a server
//! port that an outgoing connection may take while the server restarts).

use crate::census::Listener;
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Listeners named in one finding's evidence.
const LISTENERS_IN_EVIDENCE: usize = 10;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[
        "net.core.somaxconn",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
    ],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(clamped(facts));
    findings.extend(in_ephemeral_range(facts));
    findings
}

fn names(listeners: &[&Listener]) -> String {
    listeners
        .iter()
        .take(3)
        .map(|listener| listener.name())
        .collect::<Vec<_>>()
        .join(", ")
        + if listeners.len() > 3 { ", ..." } else { "" }
}

fn evidence(listeners: &[&Listener]) -> serde_json::Value {
    serde_json::to_value(
        listeners
            .iter()
            .take(LISTENERS_IN_EVIDENCE)
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// Listeners whose backlog is exactly somaxconn: the kernel silently caps
/// listen()'s argument there, so the application most likely asked for
/// more (nginx and Redis ask for 511, many servers for -1 or 65535).
fn clamped(facts: &Facts) -> Option<Finding> {
    let somaxconn = u64::try_from(facts.integer("net.core.somaxconn")?).ok()?;
    let clamped: Vec<&Listener> = facts
        .census
        .listeners
        .iter()
        .filter(|listener| listener.backlog == Some(somaxconn))
        .collect();
    if clamped.is_empty() {
        return None;
    }
    // A full queue at the cap is the case that costs connections now.
    let full = clamped.iter().any(|listener| listener.is_full());
    Some(
        Finding::new(
            Code::ListenBacklogClamped,
            if full { Severity::Warning } else { Severity::Info },
            format!(
                "{} listener(s) have a backlog equal to net.core.somaxconn ({somaxconn}), probably clamped: {}",
                clamped.len(),
                names(&clamped)
            ),
        )
        .rationale("listen(fd, n) is granted min(n, net.core.somaxconn) without an error, so a backlog equal to somaxconn usually means the application asked for more and was cut down. The cap is taken when listen() is called: raising somaxconn later does not change a listening socket.")
        .evidence("somaxconn", somaxconn)
        .evidence("listeners", evidence(&clamped))
        .evidence("accept_queue_full", full)
        .fix("raise net.core.somaxconn to at least the backlog the application asks for (its configuration: nginx `listen ... backlog=`, Redis `tcp-backlog`, Java `ServerSocket(port, backlog)`), then make the application call listen() again: restart it or reload it in a way that re-creates its listening sockets"),
    )
}

/// Listeners on a port inside ip_local_port_range that
/// ip_local_reserved_ports does not protect.
fn in_ephemeral_range(facts: &Facts) -> Option<Finding> {
    let (low, high) = facts.ephemeral_range()?;
    let mut exposed: Vec<&Listener> = facts
        .census
        .listeners
        .iter()
        .filter(|listener| {
            let port = listener.local.port();
            (low..=high).contains(&port) && !facts.port_reserved(port)
        })
        .collect();
    if exposed.is_empty() {
        return None;
    }
    exposed.sort_by_key(|listener| listener.local.port());
    let mut ports: Vec<u16> = exposed
        .iter()
        .map(|listener| listener.local.port())
        .collect();
    ports.dedup();
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    Some(
        Finding::new(
            Code::ListenerInEphemeralRange,
            Severity::Info,
            format!(
                "{} listener(s) use a port inside ip_local_port_range ({low}-{high}) that is not reserved: {}",
                exposed.len(),
                names(&exposed)
            ),
        )
        .rationale("The kernel picks source ports for outgoing connections from ip_local_port_range. While the server is down (a restart, a deploy) an outgoing connection can take its port, and the server then fails to start with EADDRINUSE. ip_local_reserved_ports keeps the kernel from choosing those ports automatically.")
        .evidence("ip_local_port_range", format!("{low} {high}"))
        .evidence("ports", ports.clone())
        .evidence("listeners", evidence(&exposed))
        .fix(format!("add the ports to net.ipv4.ip_local_reserved_ports (for example `net.ipv4.ip_local_reserved_ports = {list}`, merged with what is there), or move the service below {low}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{builtin, facts};

    fn listener(local: &str, accept_queue: u64, backlog: u64) -> Listener {
        Listener {
            local: local.parse().unwrap(),
            accept_queue,
            backlog: Some(backlog),
            syn_recv: 0,
            owner: None,
            inode: 0,
        }
    }

    #[test]
    fn a_backlog_at_somaxconn_is_named_as_clamped() {
        let mut facts = facts("6.18.0", &[("net.core.somaxconn", "4096")]);
        facts.census.listeners = vec![
            listener("0.0.0.0:6379", 0, 4096),
            listener("0.0.0.0:22", 0, 128),
        ];
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::ListenBacklogClamped);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("0.0.0.0:6379"));
        assert!(!findings[0].message.contains(":22"));
        assert!(findings[0].fix.contains("listen() again"));
        // Full at the cap: it costs connections now.
        facts.census.listeners[0].accept_queue = 4097;
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings[0].severity, Severity::Warning);
    }

    #[test]
    fn an_unreserved_port_in_the_range_is_flagged() {
        let mut facts = facts(
            "6.18.0",
            &[
                ("net.ipv4.ip_local_port_range", "32768 60999"),
                ("net.ipv4.ip_local_reserved_ports", "40000-40010,50000"),
            ],
        );
        facts.census.listeners = vec![
            listener("0.0.0.0:8080", 0, 128),
            listener("0.0.0.0:40005", 0, 128),
            listener("[::]:45000", 0, 128),
            listener("127.0.0.1:50000", 0, 128),
        ];
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::ListenerInEphemeralRange);
        assert_eq!(findings[0].evidence["ports"], serde_json::json!([45000]));
        assert!(findings[0].fix.contains("ip_local_reserved_ports = 45000"));
    }
}
