//! Judging across vantages: an own domain that works from one side and not from the other
//! points at port forwarding or hairpin NAT, and the findings should say so; vantages that see
//! different SRV or address sets show split-horizon DNS.

use super::{CheckName, VantageReport};
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
            if public {
                f.message.push_str(" — reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall");
            } else {
                f.message.push_str(" — reachable from outside, not inside: the inside network cannot reach the public address (hairpin NAT); use split DNS with the internal address or enable NAT loopback");
            }
        }
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
