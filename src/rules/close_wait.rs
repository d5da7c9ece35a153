//! `close-wait-leak`: CLOSE_WAIT sockets pile up because an application does
//! not close them. The finding names the owners and says plainly that no
//! sysctl helps.

use crate::census::TcpState;
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Owners named in the message; all of them are in the evidence.
const OWNERS_IN_MESSAGE: usize = 3;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &[],
    evaluate,
};

fn evaluate(facts: &Facts, profile: &Profile) -> Vec<Finding> {
    let count = facts.census.states.get(TcpState::CloseWait);
    let threshold = profile.thresholds.close_wait_leak;
    if count < threshold {
        return Vec::new();
    }
    let mut message = format!("{count} sockets in CLOSE_WAIT (threshold {threshold})");
    let mut finding_evidence = serde_json::Map::new();
    finding_evidence.insert("close_wait".into(), count.into());
    finding_evidence.insert("threshold".into(), threshold.into());
    if let Some(owners) = &facts.close_wait_owners {
        let named: Vec<String> = owners
            .owners
            .iter()
            .take(OWNERS_IN_MESSAGE)
            .map(|owner| {
                let on = owner
                    .location()
                    .map(|at| format!(" {at}"))
                    .unwrap_or_default();
                format!(
                    "{} (pid {}) holds {}{on}",
                    owner.comm, owner.pid, owner.count
                )
            })
            .collect();
        if !named.is_empty() {
            message.push_str(": ");
            message.push_str(&named.join(", "));
            if owners.owners.len() > OWNERS_IN_MESSAGE {
                message.push_str(&format!(
                    ", and {} more processes",
                    owners.owners.len() - OWNERS_IN_MESSAGE
                ));
            }
        }
        if owners.unknown > 0 {
            message.push_str(&format!("; {} with no readable owner", owners.unknown));
        }
        if let Ok(value) = serde_json::to_value(&owners.owners) {
            finding_evidence.insert("owners".into(), value);
        }
        finding_evidence.insert("unknown_owner".into(), owners.unknown.into());
    }
    let mut finding = Finding::new(Code::CloseWaitLeak, Severity::Warning, message)
        .rationale("CLOSE_WAIT means the peer closed the connection and the local application has not called close() on its socket. The kernel is waiting for the application; no sysctl changes that (tcp_fin_timeout, keepalive and tcp_tw_* settings do not touch these sockets). Each one holds a file descriptor and memory until the process closes it or exits.")
        .fix("fix the application so it closes sockets when the peer hangs up (check error paths and connection pools); restarting the process frees them for now. No sysctl fixes CLOSE_WAIT.");
    finding.evidence = finding_evidence;
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::{AddressCount, CloseWaitOwner, CloseWaitOwners};
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn names_owners_and_says_no_sysctl_helps() {
        let mut facts = facts("6.18.0", &[]);
        facts.census.states.set(TcpState::CloseWait, 150);
        facts.close_wait_owners = Some(CloseWaitOwners {
            owners: vec![CloseWaitOwner {
                pid: 4242,
                comm: "java".into(),
                count: 149,
                local_addresses: vec![AddressCount {
                    address: "10.0.0.1:8080".into(),
                    count: 149,
                }],
                remote_addresses: vec![AddressCount {
                    address: "10.0.0.9:41000".into(),
                    count: 1,
                }],
            }],
            unknown: 1,
        });
        let findings = evaluate(&facts, &builtin("default"));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "150 sockets in CLOSE_WAIT (threshold 100): java (pid 4242) holds 149 on 10.0.0.1:8080; 1 with no readable owner"
        );
        assert!(findings[0].fix.contains("No sysctl fixes CLOSE_WAIT"));
        assert_eq!(findings[0].evidence["owners"][0]["pid"], 4242);
    }

    #[test]
    fn below_threshold_is_quiet() {
        let mut facts = facts("6.18.0", &[]);
        facts.census.states.set(TcpState::CloseWait, 99);
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }
}
