//! Judging across vantages: an own domain that works from one side and not from the other
//! points at port forwarding or hairpin NAT, and the findings should say so; vantages that see
//! different SRV or address sets show split-horizon DNS.

use super::{CheckName, Owner, VantageReport};
use crate::config::{Domain, Role};
use crate::facts::Facts;

/// Checks whose inside/outside difference tells a reachability story.
const REACHABILITY: &[CheckName] = &[
    CheckName::TcpConnect,
    CheckName::TlsHandshake,
    CheckName::SipOptions,
];

/// Adds the cross-vantage explanation to every failing reachability finding of an own domain
/// that passed on a vantage of the other side (public vs not).
pub fn explain(domain: &Domain, vantages: &mut [VantageReport]) {
    if domain.role != Role::Own {
        return;
    }
    // (public, check) pairs that passed somewhere.
    let passed: Vec<(bool, CheckName)> = vantages
        .iter()
        .flat_map(|v| {
            v.findings
                .iter()
                .filter(|f| f.passed)
                .map(move |f| (v.public, f.check))
        })
        .collect();
    for v in vantages.iter_mut() {
        let public = v.public;
        for f in v
            .findings
            .iter_mut()
            .filter(|f| !f.passed && REACHABILITY.contains(&f.check))
        {
            if !passed.contains(&(!public, f.check)) {
                continue;
            }
            if !public {
                // Hairpin NAT: the inside network's, not the edge's.
                f.owner = Some(Owner::Vantage);
            }
            if public {
                f.message.to_mut().push_str(" — reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall");
            } else {
                f.message.to_mut().push_str(" — reachable from outside, not inside: the inside network cannot reach the public address (hairpin NAT); use split DNS with the internal address or enable NAT loopback");
            }
        }
    }
}

/// A partner's check that failed from one vantage and passed from another is the failing
/// vantage's (its network, resolver or route), not the partner's.
pub fn blame(vantages: &mut [VantageReport]) {
    let passed: Vec<CheckName> = vantages
        .iter()
        .flat_map(|v| v.findings.iter().filter(|f| f.passed).map(|f| f.check))
        .collect();
    for f in vantages
        .iter_mut()
        .flat_map(|v| v.findings.iter_mut())
        .filter(|f| f.owner == Some(Owner::Partner) && passed.contains(&f.check))
    {
        f.owner = Some(Owner::Vantage);
    }
}

/// Whether the vantages that looked up the SRV record saw different SRV or address sets;
/// `None` with fewer than two such vantages.
pub fn split_horizon(vantages: &[VantageReport]) -> Option<bool> {
    let views: Vec<DnsView> = vantages
        .iter()
        .filter(|v| v.facts.srv.is_some())
        .map(|v| dns_view(&v.facts))
        .collect();
    if views.len() < 2 {
        return None;
    }
    Some(views[1..].iter().any(|v| *v != views[0]))
}

/// SRV records (`priority weight port target`) and `target address` pairs, each sorted.
type DnsView = (Vec<String>, Vec<String>);

/// What a vantage saw of a domain in DNS.
fn dns_view(facts: &Facts) -> DnsView {
    let mut srv: Vec<String> = facts
        .srv
        .as_ref()
        .map(|s| {
            s.records()
                .iter()
                .map(|x| format!("{} {} {} {}", x.priority, x.weight, x.port, x.target))
                .collect()
        })
        .unwrap_or_default();
    srv.sort();
    let mut addrs: Vec<String> = facts
        .targets
        .iter()
        .flat_map(|t| {
            t.addresses()
                .into_iter()
                .flatten()
                .map(move |a| format!("{} {a}", t.name))
        })
        .collect();
    addrs.sort();
    (srv, addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{EndpointFacts as E, Reason};
    use crate::judge::test_facts::Judge;

    const SIP: &str = "sip.kanzlei.de";
    const A: &str = "193.99.144.80:5061";

    /// What a vantage saw: the SRV to `sip.kanzlei.de` at `address`, and its endpoint.
    fn seen(address: &str, endpoint: E) -> Facts {
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &[address])
            .endpoint(endpoint)
    }

    fn up() -> E {
        E::serving(A, Vec::new())
    }

    fn refused() -> E {
        E::refused(A, Reason::ConnectionRefused)
    }

    /// The tcp_connect message of each vantage.
    fn tcp_messages(judge: &Judge, inside: E, outside: E) -> (String, String) {
        let report = judge.report(vec![
            ("inside", false, seen("193.99.144.80", inside)),
            ("outside", true, seen("193.99.144.80", outside)),
        ]);
        let message = |v: &VantageReport| {
            let f = v.findings.iter().find(|f| f.check == CheckName::TcpConnect);
            f.map(|f| f.message.to_string()).unwrap_or_default()
        };
        (message(&report.vantages[0]), message(&report.vantages[1]))
    }

    const REFUSED: &str =
        "193.99.144.80:5061 (sip.kanzlei.de) does not accept TCP: connection_refused";
    const FORWARDING: &str =
        " — reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall";
    const HAIRPIN: &str = " — reachable from outside, not inside: the inside network cannot reach the public address (hairpin NAT); use split DNS with the internal address or enable NAT loopback";

    #[test]
    #[rustfmt::skip]
    fn explain_adds_the_other_sides_story_for_own_domains() {
        let own = Judge::own(SIP);
        let cases = [
            ("public side fails: port forwarding", &own, up(), refused(), ("every address accepts TCP".to_string(), format!("{REFUSED}{FORWARDING}"))),
            ("inside fails: hairpin NAT", &own, refused(), up(), (format!("{REFUSED}{HAIRPIN}"), "every address accepts TCP".to_string())),
            ("both fail: no story", &own, refused(), refused(), (REFUSED.to_string(), REFUSED.to_string())),
        ];
        for (case, judge, inside, outside, want) in cases {
            assert_eq!(tcp_messages(judge, inside, outside), want, "{case}");
        }
        // A peer's network is not ours to explain.
        let peer = Judge::peer();
        assert_eq!(tcp_messages(&peer, up(), refused()).1, REFUSED);
        assert_eq!(tcp_messages(&peer, refused(), up()).0, REFUSED);
    }

    #[test]
    #[rustfmt::skip]
    fn split_horizon_compares_what_vantages_saw() {
        let judge = Judge::peer();
        let split = |vantages: Vec<(&str, bool, Facts)>| judge.report(vantages).split_horizon;
        let inside = || seen("10.0.0.5", up());
        let outside = || seen("193.99.144.80", up());
        assert_eq!(split(vec![("inside", false, inside()), ("outside", true, outside())]), Some(true));
        assert_eq!(split(vec![("inside", false, outside()), ("outside", true, outside())]), Some(false));
        let other_srv = Facts::test().srv(&[("edge.kanzlei.de", 5061)]).target("edge.kanzlei.de", 5061, &["193.99.144.80"]);
        assert_eq!(split(vec![("inside", false, other_srv), ("outside", true, outside())]), Some(true));
        assert_eq!(split(vec![("outside", true, outside())]), None);
        // Direct federation looks up no SRV: nothing to compare.
        let direct = || Facts::test().target(SIP, 5061, &["193.99.144.80"]);
        assert_eq!(split(vec![("inside", false, direct()), ("outside", true, direct())]), None);
    }
}
