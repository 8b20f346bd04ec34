//! Judging across vantages: an own domain that works from one side and not from the other
//! points at port forwarding or hairpin NAT, and the findings should say so.

use crate::checks::Finding;
use crate::config::{Domain, Role};

/// Checks whose inside/outside difference tells a reachability story.
const REACHABILITY: &[&str] = &["tcp_connect", "tls_handshake", "sip_options"];

/// Adds the cross-vantage explanation to this probe's failing reachability findings, given
/// the latest findings of the domain's other vantages (`(public, findings)`).
pub fn explain(
    domain: &Domain,
    public: bool,
    findings: &mut [Finding],
    others: &[(bool, &[Finding])],
) {
    if domain.role != Role::Own {
        return;
    }
    for f in findings
        .iter_mut()
        .filter(|f| !f.passed && REACHABILITY.contains(&f.check))
    {
        let passed_on_other_side = others.iter().any(|(other_public, other)| {
            *other_public != public && other.iter().any(|o| o.check == f.check && o.passed)
        });
        if !passed_on_other_side {
            continue;
        }
        if public {
            f.message.push_str(" — reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall");
        } else {
            f.message.push_str(" — reachable from outside, not inside: the inside network cannot reach the public address (hairpin NAT); use split DNS with the internal address or enable NAT loopback");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Severity;

    fn finding(check: &'static str, passed: bool) -> Finding {
        Finding {
            check,
            severity: Severity::Critical,
            passed,
            reason: None,
            message: "m".into(),
            hint: String::new(),
        }
    }

    #[test]
    fn explains_port_forwarding_and_hairpin_nat() {
        let mut own = Domain::peer("zahnfee.de".into(), vec![]);
        own.role = Role::Own;
        let inside_ok = [finding("tcp_connect", true)];
        let mut outside = [
            finding("tcp_connect", false),
            finding("cert_trusted", false),
        ];
        explain(&own, true, &mut outside, &[(false, &inside_ok)]);
        assert!(outside[0].message.ends_with(
            "reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall"
        ));
        assert_eq!(outside[1].message, "m");

        let outside_ok = [finding("tcp_connect", true)];
        let mut inside = [finding("tcp_connect", false)];
        explain(&own, false, &mut inside, &[(true, &outside_ok)]);
        assert!(inside[0].message.contains("hairpin NAT"));

        // Failing on both sides, or a peer domain: no story to tell.
        let inside_bad = [finding("tcp_connect", false)];
        let mut outside = [finding("tcp_connect", false)];
        explain(&own, true, &mut outside, &[(false, &inside_bad)]);
        assert_eq!(outside[0].message, "m");
        let peer = Domain::peer("x.de".into(), vec![]);
        let mut outside = [finding("tcp_connect", false)];
        explain(&peer, true, &mut outside, &[(false, &inside_ok)]);
        assert_eq!(outside[0].message, "m");
    }
}
