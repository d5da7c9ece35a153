//! `orphan-overflow`: orphaned sockets (closed by their application, still
//! finishing the TCP teardown) near `tcp_max_orphans`. Past it the kernel
//! resets them and logs "too many orphaned sockets".

use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Profile;

/// Share of tcp_max_orphans that counts as close to the limit.
const NEAR_PERCENT: u64 = 80;

/// The keys this family reads and its rules.
pub const FAMILY: super::Family = super::Family {
    keys: &["net.ipv4.tcp_max_orphans", "net.ipv4.tcp_ehash_entries"],
    evaluate,
};

fn evaluate(facts: &Facts, _profile: &Profile) -> Vec<Finding> {
    let (Some(sockstat), Some(max)) = (facts.sockstat, facts.integer("net.ipv4.tcp_max_orphans"))
    else {
        return Vec::new();
    };
    let Ok(max) = u64::try_from(max) else {
        return Vec::new();
    };
    if max == 0 || u128::from(sockstat.orphan) * 100 < u128::from(max) * u128::from(NEAR_PERCENT) {
        return Vec::new();
    }
    vec![
        Finding::new(
            Code::OrphanOverflow,
            Severity::Warning,
            format!("{} orphaned sockets, {}% of tcp_max_orphans ({max})", sockstat.orphan, u128::from(sockstat.orphan) * 100 / u128::from(max)),
        )
        .key("net.ipv4.tcp_max_orphans")
        .current(max)
        .rationale("Orphans are sockets the application already closed that are still sending their last data or waiting for the peer's FIN (FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING). Past tcp_max_orphans the kernel resets new orphans immediately and logs \"too many orphaned sockets\"; peers then see connections reset instead of closed cleanly.")
        .evidence("orphans", sockstat.orphan)
        .evidence("tcp_max_orphans", max)
        .fix("find peers that do not finish closing (many FIN_WAIT2 toward one destination); tcp_fin_timeout shortens how long orphaned FIN_WAIT2 sockets wait; raise tcp_max_orphans only with memory to spare (each orphan can hold send buffers)"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Sockstat;
    use crate::rules::testing::{builtin, facts};

    #[test]
    fn near_the_limit_is_reported() {
        let mut facts = facts("6.18.0", &[("net.ipv4.tcp_max_orphans", "1000")]);
        facts.sockstat = Some(Sockstat {
            orphan: 799,
            ..Sockstat::default()
        });
        assert!(evaluate(&facts, &builtin("default")).is_empty());
        facts.sockstat = Some(Sockstat {
            orphan: 800,
            ..Sockstat::default()
        });
        assert_eq!(
            evaluate(&facts, &builtin("default"))[0].code,
            Code::OrphanOverflow
        );
    }

    #[test]
    fn a_child_namespace_without_the_key_is_quiet() {
        let mut facts = facts("6.18.0", &[("net.ipv4.tcp_max_orphans", "<absent>")]);
        facts.sockstat = Some(Sockstat {
            orphan: 5000,
            ..Sockstat::default()
        });
        assert!(evaluate(&facts, &builtin("default")).is_empty());
    }
}
