//! DNS checks: the federation SRV record, its targets and their addresses, and agreement
//! between resolvers and between authoritative servers.

use super::{Context, Verdict, fail, pass};
use crate::config::Federation;
use crate::facts::{self, Platform, Reason, ResolverAnswer, ZoneView};

pub(super) fn srv_present(ctx: &Context<'_>) -> Option<Verdict> {
    let srv = ctx.facts.srv.as_ref()?;
    let name = ctx.srv_name();
    let hint = if ctx.is_own() {
        match &ctx.domain.fqdn {
            Some(f) => format!("publish {name} 3600 IN SRV 0 0 5061 {f}."),
            None => format!("publish {name} 3600 IN SRV 0 0 5061 <your federation server>."),
        }
    } else {
        "without this record, open federation cannot find the partner's federation server; ask the partner to publish it, or configure a direct federation route".to_string()
    };
    match srv.primary()? {
        Ok(r) if !r.is_empty() && r.iter().all(|x| x.target.is_empty()) => fail(
            Reason::Nodata,
            format!("{name} has target \".\": the service is declared not available (RFC 2782)"),
            hint,
        ),
        Ok(r) if !r.is_empty() => pass(format!("{name} has {} SRV record(s)", r.len())),
        Ok(_) => fail(Reason::Nodata, format!("{name} has no SRV record"), hint),
        Err(e) => {
            let what = match e.reason() {
                Reason::Nxdomain => "does not exist (NXDOMAIN)",
                Reason::Nodata => "has no SRV record",
                Reason::Servfail => "could not be resolved (SERVFAIL)",
                Reason::Refused => "was refused by the resolver",
                Reason::Timeout => "got no answer in time",
                _ => "could not be resolved",
            };
            fail(e.reason(), format!("{name} {what}"), hint)
        }
    }
}

pub(super) fn srv_port_5061(ctx: &Context<'_>) -> Option<Verdict> {
    let records = ctx.srv_records();
    if records.is_empty() {
        return None;
    }
    match records.iter().find(|r| r.port != 5061) {
        None => pass("every SRV record uses port 5061"),
        Some(r) => fail(
            Reason::WrongPort,
            format!("SRV record for {} uses port {}, not 5061", r.target, r.port),
            "federation partners (Microsoft among them) expect TLS on port 5061: publish port 5061 and forward it",
        ),
    }
}

/// Whether `target` is `domain` or exactly one label below it.
pub(super) fn in_domain(target: &str, domain: &str) -> bool {
    target == domain
        || target
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == domain)
}

pub(super) fn srv_target_in_domain(ctx: &Context<'_>) -> Option<Verdict> {
    let records = ctx.srv_records();
    if records.is_empty() {
        return None;
    }
    let bad = records.iter().find(|r| {
        facts::classify_target(&r.target) == Platform::SelfHosted
            && !in_domain(&r.target, &ctx.domain.name)
    });
    match bad {
        None => pass("every self-hosted SRV target is the domain or a direct subdomain of it"),
        Some(r) => fail(
            Reason::OutsideDomain,
            format!(
                "SRV target {} is not {} or a direct subdomain of it",
                r.target, ctx.domain.name
            ),
            format!(
                "partners accept only a target like <host>.{}: use such a name and a certificate issued for it",
                ctx.domain.name
            ),
        ),
    }
}

pub(super) fn srv_target_expected(ctx: &Context<'_>) -> Option<Verdict> {
    let expected = ctx.domain.fqdn.as_deref()?;
    if ctx.domain.federation != Federation::Open {
        return None;
    }
    let records = ctx.srv_records();
    if records.is_empty() {
        return None;
    }
    match records.iter().find(|r| r.target != expected) {
        None => pass(format!("SRV target is {expected}")),
        Some(r) => fail(
            Reason::UnexpectedTarget,
            format!("SRV target is {}, expected {expected}", r.target),
            format!(
                "publish {} 3600 IN SRV 0 0 5061 {expected}. and remove other targets",
                ctx.srv_name()
            ),
        ),
    }
}

pub(super) fn srv_target_not_alias(ctx: &Context<'_>) -> Option<Verdict> {
    if ctx.facts.targets.is_empty() || ctx.facts.srv.is_none() {
        return None;
    }
    let alias = ctx
        .facts
        .targets
        .iter()
        .find(|t| facts::classify_target(&t.name) == Platform::SelfHosted && t.cname.is_some());
    match alias {
        None => pass("no self-hosted SRV target is an alias"),
        Some(t) => fail(
            Reason::Cname,
            format!(
                "SRV target {} is a CNAME to {}",
                t.name,
                t.cname.as_deref().unwrap_or("?")
            ),
            format!(
                "RFC 2782 requires an A/AAAA record at the target: replace the CNAME {} by A/AAAA records",
                t.name
            ),
        ),
    }
}

pub(super) fn target_resolves(ctx: &Context<'_>) -> Option<Verdict> {
    if ctx.facts.targets.is_empty() {
        return None;
    }
    for t in &ctx.facts.targets {
        if let Err(e) = t.addresses() {
            return fail(
                e.reason(),
                format!("{} has no A/AAAA record ({})", t.name, e.reason().as_str()),
                format!(
                    "publish an A record for {} with the federation server's public address",
                    t.name
                ),
            );
        }
    }
    let n: usize = ctx
        .facts
        .targets
        .iter()
        .map(|t| t.addresses().map(<[_]>::len).unwrap_or(0))
        .sum();
    pass(format!("every target resolves ({n} address(es))"))
}

pub(super) fn target_public_address(ctx: &Context<'_>) -> Option<Verdict> {
    if !ctx.vantage_public {
        return None;
    }
    let mut any = false;
    for t in &ctx.facts.targets {
        let Ok(ips) = t.addresses() else { continue };
        for ip in ips {
            any = true;
            if !is_global(*ip) {
                return fail(
                    Reason::PrivateAddress,
                    format!(
                        "{} resolves to {ip}, which is not reachable from the internet",
                        t.name
                    ),
                    format!(
                        "publish {}'s public address in public DNS (split DNS: the private address belongs in the internal zone only)",
                        t.name
                    ),
                );
            }
        }
    }
    any.then(|| Verdict::Pass("every address is globally routable".into()))
}

pub(super) fn resolvers_agree(ctx: &Context<'_>) -> Option<Verdict> {
    fn show<T: std::fmt::Debug + Ord + Clone>(
        r: &Result<Vec<T>, crate::facts::DnsFailure>,
    ) -> String {
        match r {
            Ok(v) => {
                let mut v = v.clone();
                v.sort();
                format!("{v:?}")
            }
            Err(e) => e.reason().as_str().to_string(),
        }
    }
    // Failures compare by kind: NXDOMAIN from one resolver and SERVFAIL from another disagree.
    fn normal<T: Ord + Clone>(
        r: &Result<Vec<T>, crate::facts::DnsFailure>,
    ) -> Result<Vec<T>, crate::facts::DnsFailure> {
        r.as_ref().map_err(|e| *e).map(|v| {
            let mut v = v.clone();
            v.sort();
            v.dedup();
            v
        })
    }
    let srv = ctx.facts.srv.as_ref();
    let many = srv.is_some_and(|s| s.answers.len() > 1)
        || ctx
            .facts
            .targets
            .iter()
            .any(|t| t.address_answers.len() > 1);
    if !many {
        return None;
    }
    if let Some(srv) = srv
        && let Some(first) = srv.answers.first()
    {
        for other in &srv.answers[1..] {
            if normal(&first.answer) != normal(&other.answer) {
                return fail(
                    Reason::Disagree,
                    format!(
                        "resolvers disagree on {}: {} says {}, {} says {}",
                        srv.name,
                        first.resolver,
                        show(&first.answer).replace('"', ""),
                        other.resolver,
                        show(&other.answer).replace('"', "")
                    ),
                    "a stale secondary or split DNS: compare the zone on every authoritative server and wait for TTLs to expire",
                );
            }
        }
    }
    for t in &ctx.facts.targets {
        let Some(first) = t.address_answers.first() else {
            continue;
        };
        for other in &t.address_answers[1..] {
            if normal(&first.answer) != normal(&other.answer) {
                return fail(
                    Reason::Disagree,
                    format!(
                        "resolvers disagree on {}: {} says {}, {} says {}",
                        t.name,
                        first.resolver,
                        show(&first.answer),
                        other.resolver,
                        show(&other.answer)
                    ),
                    "a stale secondary or split DNS: compare the zone on every authoritative server and wait for TTLs to expire",
                );
            }
        }
    }
    pass("all resolvers give the same SRV and address sets")
}

/// The `authoritative_agree` check: every authoritative server holds the same records.
pub(super) fn authoritative_agree(ctx: &Context<'_>) -> Option<Verdict> {
    use Verdict;
    let a = ctx.facts.authoritative.as_ref()?;
    match a.agree()? {
        true => Some(Verdict::Pass(format!(
            "all {} authoritative servers of {} hold the same federation records",
            a.servers.iter().filter(|s| s.answer.is_ok()).count(),
            a.zone
        ))),
        false => {
            let show = |s: &ResolverAnswer<ZoneView>| match &s.answer {
                Ok(v) => format!(
                    "{} says SRV [{}] A/AAAA [{}]",
                    s.resolver,
                    v.srv.join(", "),
                    v.addresses.join(", ")
                ),
                Err(e) => format!("{} failed ({})", s.resolver, e.reason().as_str()),
            };
            let answered: Vec<&ResolverAnswer<ZoneView>> =
                a.servers.iter().filter(|s| s.answer.is_ok()).collect();
            let first = answered[0];
            let other = answered[1..]
                .iter()
                .find(|s| s.answer.as_ref().ok() != first.answer.as_ref().ok())
                .copied()
                .unwrap_or(answered[1]);
            Some(Verdict::Fail {
                reason: Reason::Disagree,
                message: format!("authoritative servers of {} disagree: {}; {}", a.zone, show(first), show(other)),
                hint: "a secondary did not transfer the zone: compare SOA serials, bump the serial on the primary and check zone transfers (AXFR/IXFR, NOTIFY)".into(),
            })
        }
    }
}

pub use crate::facts::is_global;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routability_rule() {
        let global = [
            "8.8.8.8",
            "193.99.144.80",
            "2a00:1450:4001:82b::200e",
            "100.63.255.255",
            "100.128.0.1",
        ];
        let not_global = [
            "10.1.2.3",           // RFC 1918
            "172.16.0.1",         // RFC 1918
            "192.168.178.20",     // RFC 1918 (the classic home router)
            "127.0.0.1",          // loopback
            "169.254.10.10",      // link-local
            "100.64.0.1",         // CGNAT 100.64/10
            "100.127.255.254",    // CGNAT upper end
            "192.0.2.10",         // TEST-NET-1
            "198.51.100.7",       // TEST-NET-2
            "203.0.113.5",        // TEST-NET-3
            "198.18.0.1",         // benchmarking 198.18/15
            "0.1.2.3",            // "this network"
            "240.0.0.1",          // reserved
            "255.255.255.255",    // broadcast
            "::1",                // loopback
            "fd12:3456::1",       // ULA fc00::/7
            "fe80::1",            // link-local
            "2001:db8::5",        // documentation
            "::ffff:192.168.1.1", // IPv4-mapped private
        ];
        for a in global {
            assert!(is_global(a.parse().unwrap()), "{a} is global");
        }
        for a in not_global {
            assert!(!is_global(a.parse().unwrap()), "{a} is not global");
        }
    }
}
