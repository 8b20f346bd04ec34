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
                Reason::DnssecBogus => BOGUS,
                _ => "could not be resolved",
            };
            let hint = if e.reason() == Reason::DnssecBogus {
                bogus_hint(ctx)
            } else {
                hint
            };
            let ede = resolver_said(srv.answers.first().and_then(|a| a.ede.as_ref()));
            fail(e.reason(), format!("{name} {what}{ede}"), hint)
        }
    }
}

/// What a DNSSEC failure at the resolver looks like in a message.
const BOGUS: &str = "does not validate (DNSSEC): the resolver answers SERVFAIL, and has the records when asked with checking disabled";

/// What to do about a zone that does not validate.
fn bogus_hint(ctx: &Context<'_>) -> String {
    if ctx.is_own() {
        "partners behind validating resolvers (1.1.1.1, 8.8.8.8, Exchange Online) cannot resolve this name: re-sign the zone (expired or missing signatures) or correct the DS at the parent to match a published DNSKEY (after a key rollover or a move of DNS providers)".into()
    } else {
        "every edge behind a validating resolver gets SERVFAIL for this name: ask the partner to re-sign its zone or correct the DS at its parent".into()
    }
}

/// `; resolver said EDE 7 (Signature Expired): text` when the resolver sent an Extended DNS
/// Error, else nothing.
pub(super) fn resolver_said(ede: Option<&facts::Ede>) -> String {
    ede.map(|e| format!("; resolver said {e}"))
        .unwrap_or_default()
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
            let ede = resolver_said(t.address_answers.first().and_then(|a| a.ede.as_ref()));
            if e.reason() == Reason::DnssecBogus {
                return fail(
                    e.reason(),
                    format!("{} {BOGUS}{ede}", t.name),
                    bogus_hint(ctx),
                );
            }
            return fail(
                e.reason(),
                format!(
                    "{} has no A/AAAA record ({}){ede}",
                    t.name,
                    e.reason().as_str()
                ),
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
    /// An answer as people read it: `[10 1 5061 sip.example.com]`, `[192.0.2.1, ...]`.
    fn show<T: ToString + Ord + Clone>(r: &Result<Vec<T>, crate::facts::DnsFailure>) -> String {
        match r {
            Ok(v) => {
                let mut v = v.clone();
                v.sort();
                let items: Vec<String> = v.iter().map(ToString::to_string).collect();
                format!("[{}]", items.join(", "))
            }
            Err(e) => e.reason().as_str().to_string(),
        }
    }
    /// Fails when an answering resolver's answer for `name` differs from the one the probe
    /// went on with.
    fn compare<T: ToString + Ord + Clone>(
        name: &str,
        answers: &[ResolverAnswer<Vec<T>>],
    ) -> Option<Verdict> {
        let (first, other) = facts::disagreeing(answers)?;
        fail(
            Reason::Disagree,
            format!(
                "resolvers disagree on {name}: {} says {}, {} says {}",
                first.resolver,
                show(&first.answer),
                other.resolver,
                show(&other.answer)
            ),
            "a stale secondary or split DNS: compare the zone on every authoritative server and wait for TTLs to expire",
        )
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
    /// Fails when a resolver did not answer `name` while another did: the vantage's trouble
    /// (the probe went on with the answering one), said here rather than as the partner's.
    fn silence<T>(name: &str, answers: &[ResolverAnswer<T>]) -> Option<Verdict> {
        let quiet = answers.iter().find(|a| facts::silent(a))?;
        let used = answers.iter().find(|a| !facts::silent(a))?;
        let why = match &quiet.answer {
            Err(e) => e.reason(),
            Ok(_) => return None,
        };
        fail(
            why,
            format!(
                "resolver {} did not answer {name} ({}); the checks went on with {}'s answer",
                quiet.resolver,
                why.as_str(),
                used.resolver
            ),
            format!(
                "resolver {} of this vantage does not answer: fix or remove it (the partner is not at fault)",
                quiet.resolver
            ),
        )
    }
    srv.and_then(|s| silence(&s.name, &s.answers))
        .or_else(|| {
            ctx.facts
                .targets
                .iter()
                .find_map(|t| silence(&t.name, &t.address_answers))
        })
        .or_else(|| srv.and_then(|s| compare(&s.name, &s.answers)))
        .or_else(|| {
            ctx.facts
                .targets
                .iter()
                .find_map(|t| compare(&t.name, &t.address_answers))
        })
        .or_else(|| pass("all resolvers give the same SRV and address sets"))
}

/// The `authoritative_agree` check: every authoritative server holds the same records.
pub(super) fn authoritative_agree(ctx: &Context<'_>) -> Option<Verdict> {
    use Verdict;
    let a = ctx.facts.authoritative.as_ref()?;
    match a.agree()? {
        true => Some(Verdict::Pass(
            format!(
                "all {} authoritative servers of {} hold the same federation records",
                a.servers.iter().filter(|s| s.answer.is_ok()).count(),
                a.zone
            )
            .into(),
        )),
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
    use crate::facts::{DnsFailure as D, Facts};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Warning as W};
    use crate::judge::test_facts::{Judge, fails, passes, table};

    const SIP: &str = "sip.kanzlei.de";

    fn own() -> Judge {
        Judge::own(SIP)
    }

    fn peer() -> Judge {
        Judge::peer()
    }

    fn own_without_fqdn() -> Judge {
        let mut j = own();
        j.domain.fqdn = None;
        j
    }

    fn srv(target: &str) -> Facts {
        Facts::test().srv(&[(target, 5061)])
    }

    #[test]
    #[rustfmt::skip]
    fn srv_present() {
        table(
            N::SrvPresent,
            vec![
                ("peer with a record", peer(), srv(SIP), passes(C)),
                ("own with a record", own(), srv(SIP), passes(C)),
                ("nxdomain", peer(), Facts::test().srv_failure(D::Nxdomain), fails(C, Reason::Nxdomain)),
                ("servfail, own", own(), Facts::test().srv_failure(D::Servfail), fails(C, Reason::Servfail)),
                ("timeout", peer(), Facts::test().srv_failure(D::Timeout), fails(C, Reason::Timeout)),
                ("empty answer", peer(), Facts::test().srv(&[]), fails(C, Reason::Nodata)),
                ("target \".\" (RFC 2782: no service)", peer(), srv(""), fails(C, Reason::Nodata)),
                ("no SRV lookup (direct federation)", peer(), Facts::test(), None),
                ("bogus (SERVFAIL, answered with CD)", peer(), Facts::test().srv_failure(D::DnssecBogus), fails(C, Reason::DnssecBogus)),
                ("bogus, own", own(), Facts::test().srv_failure(D::DnssecBogus), fails(C, Reason::DnssecBogus)),
                ("no reachable authority, vantage up", peer(), Facts::test().srv_failure(D::NoAuthority), fails(C, Reason::Servfail)),
            ],
        );
    }

    #[test]
    fn a_failed_lookup_says_what_the_resolver_said() {
        let ede = |code: u16, text: &str| crate::facts::Ede {
            code,
            text: text.into(),
        };
        let mut facts = Facts::test().srv_failure(D::DnssecBogus);
        facts.srv.as_mut().unwrap().answers[0].ede = Some(ede(7, "RRSIG expired"));
        let f = own().check(&facts, N::SrvPresent).unwrap();
        assert_eq!(
            f.message,
            format!(
                "_sipfederationtls._tcp.kanzlei.de. {BOGUS}; resolver said EDE 7 (Signature Expired): RRSIG expired"
            )
        );
        assert!(f.hint.contains("re-sign the zone"), "{}", f.hint);
        let mut facts = srv(SIP).target_failure(SIP, D::DnssecBogus);
        facts.targets[0].address_answers[0].ede = Some(ede(9, ""));
        let f = peer().check(&facts, N::TargetResolves).unwrap();
        assert_eq!(f.reason, Some(Reason::DnssecBogus));
        assert_eq!(
            f.message,
            format!("{SIP} {BOGUS}; resolver said EDE 9 (DNSKEY Missing)")
        );
        assert!(f.hint.contains("ask the partner"), "{}", f.hint);
        // A plain SERVFAIL with an EDE keeps its reason and shows the EDE.
        let mut facts = srv(SIP).target_failure(SIP, D::Servfail);
        facts.targets[0].address_answers[0].ede = Some(ede(23, "upstream down"));
        let f = peer().check(&facts, N::TargetResolves).unwrap();
        assert_eq!(
            f.message,
            format!(
                "{SIP} has no A/AAAA record (servfail); resolver said EDE 23 (Network Error): upstream down"
            )
        );
    }

    #[test]
    #[rustfmt::skip]
    fn srv_port_5061() {
        table(
            N::SrvPort5061,
            vec![
                ("5061", peer(), srv(SIP), passes(W)),
                ("own on 5061", own(), srv(SIP), passes(W)),
                ("5060", own(), Facts::test().srv(&[(SIP, 5060)]), fails(W, Reason::WrongPort)),
                ("one of two on 443", peer(), Facts::test().srv(&[(SIP, 5061), ("edge.kanzlei.de", 443)]), fails(W, Reason::WrongPort)),
                ("no record", peer(), Facts::test().srv(&[]), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn srv_target_in_domain() {
        let outside = Some(Reason::OutsideDomain);
        table(
            N::SrvTargetInDomain,
            vec![
                ("direct subdomain", peer(), srv(SIP), passes(W)),
                ("direct subdomain, own", own(), srv(SIP), passes(C)),
                ("the domain itself", peer(), srv("kanzlei.de"), passes(W)),
                ("the domain itself, own", own(), srv("kanzlei.de"), passes(C)),
                ("two labels below", peer(), srv("a.b.kanzlei.de"), Some((W, outside))),
                ("two labels below, own", own(), srv("a.b.kanzlei.de"), Some((C, outside))),
                ("another domain", peer(), srv("sip.provider.net"), Some((W, outside))),
                ("a name that only ends like it", peer(), srv("xkanzlei.de"), Some((W, outside))),
                ("the domain under another", peer(), srv("sip.kanzlei.de.evil.com"), Some((W, outside))),
                ("Microsoft is exempt", peer(), srv("sipfed.online.lync.com"), passes(W)),
                ("Microsoft GCC High is exempt", own(), srv("sipfed.online.gov.skypeforbusiness.us"), passes(C)),
                ("no record", peer(), Facts::test().srv(&[]), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn srv_target_expected() {
        table(
            N::SrvTargetExpected,
            vec![
                ("the configured fqdn", own(), srv(SIP), passes(C)),
                ("another target", own(), srv("edge.kanzlei.de"), fails(C, Reason::UnexpectedTarget)),
                ("an extra target", own(), Facts::test().srv(&[(SIP, 5061), ("old.kanzlei.de", 5061)]), fails(C, Reason::UnexpectedTarget)),
                ("peers have no expectation", peer(), srv("edge.kanzlei.de"), None),
                ("own without fqdn", own_without_fqdn(), srv(SIP), None),
                ("direct federation", own().direct("edge.kanzlei.de"), srv(SIP), None),
                ("no record", own(), Facts::test().srv(&[]), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn srv_target_not_alias() {
        let alias = || srv(SIP).target(SIP, 5061, &["193.99.144.80"]).cname("edge.provider.net");
        let microsoft_alias = || {
            let edge = "sipfed.online.lync.com";
            srv(edge).target(edge, 5061, &["52.112.0.1"]).cname("sipfed.a.online.lync.com")
        };
        table(
            N::SrvTargetNotAlias,
            vec![
                ("A record", peer(), srv(SIP).target(SIP, 5061, &["193.99.144.80"]), passes(W)),
                ("CNAME", peer(), alias(), fails(W, Reason::Cname)),
                ("CNAME, own", own(), alias(), fails(W, Reason::Cname)),
                ("Microsoft target may be an alias", peer(), microsoft_alias(), passes(W)),
                ("direct federation", peer(), Facts::test().target(SIP, 5061, &["193.99.144.80"]).cname("x.kanzlei.de"), None),
                ("no target", peer(), Facts::test().srv(&[]), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn target_resolves() {
        table(
            N::TargetResolves,
            vec![
                ("an address", peer(), srv(SIP).target(SIP, 5061, &["193.99.144.80"]), passes(C)),
                ("own, two addresses", own(), srv(SIP).target(SIP, 5061, &["193.99.144.80", "2a00:1450::1"]), passes(C)),
                ("nxdomain", peer(), srv(SIP).target_failure(SIP, D::Nxdomain), fails(C, Reason::Nxdomain)),
                ("nodata, own", own(), srv(SIP).target_failure(SIP, D::Nodata), fails(C, Reason::Nodata)),
                (
                    "second target fails",
                    peer(),
                    srv(SIP)
                        .target(SIP, 5061, &["193.99.144.80"])
                        .target_failure("b.kanzlei.de", D::Servfail),
                    fails(C, Reason::Servfail),
                ),
                ("no target", peer(), srv(SIP), None),
                ("bogus", peer(), srv(SIP).target_failure(SIP, D::DnssecBogus), fails(C, Reason::DnssecBogus)),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn target_public_address() {
        let at = |a: &str| srv(SIP).target(SIP, 5061, &[a]);
        let private = Some(Reason::PrivateAddress);
        table(
            N::TargetPublicAddress,
            vec![
                ("global, public vantage", peer().public(), at("193.99.144.80"), passes(W)),
                ("global, own", own().public(), at("2a00:1450:4001:82b::200e"), passes(C)),
                ("RFC 1918, public vantage", peer().public(), at("192.168.1.10"), Some((W, private))),
                ("RFC 1918, own", own().public(), at("10.0.0.5"), Some((C, private))),
                ("CGNAT, own", own().public(), at("100.64.1.1"), Some((C, private))),
                ("inside vantage: private is fine", own(), at("10.0.0.5"), None),
                ("no address to judge", own().public(), srv(SIP).target_failure(SIP, D::Nxdomain), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn authoritative_agree() {
        let same: &[&str] = &[SIP];
        let stale: &[&str] = &["old.kanzlei.de"];
        let agree = || Facts::test().authoritative(&[("ns1", Some(same)), ("ns2", Some(same))]);
        let disagree = || Facts::test().authoritative(&[("ns1", Some(same)), ("ns2", Some(stale))]);
        table(
            N::AuthoritativeAgree,
            vec![
                ("same records", own(), agree(), passes(W)),
                ("a stale secondary", own(), disagree(), fails(W, Reason::Disagree)),
                ("an unreachable server is no evidence", own(), Facts::test().authoritative(&[("ns1", Some(same)), ("ns2", None)]), None),
                ("not asked", own(), Facts::test(), None),
                ("peers are not judged", peer(), disagree(), None),
            ],
        );
        let f = own().check(&disagree(), N::AuthoritativeAgree).unwrap();
        assert_eq!(
            f.message,
            "authoritative servers of kanzlei.de disagree: ns1 says SRV [100 1 5061 sip.kanzlei.de] A/AAAA []; ns2 says SRV [100 1 5061 old.kanzlei.de] A/AAAA []"
        );
    }

    #[test]
    #[rustfmt::skip]
    fn resolvers_agree() {
        let two = |other: &[(&str, u16)]| srv(SIP).srv_also("192.0.2.54:53", other);
        let addrs = |other: &[&str]| {
            srv(SIP)
                .target(SIP, 5061, &["193.99.144.80", "193.99.144.81"])
                .addresses_also("192.0.2.54:53", other)
        };
        table(
            N::ResolversAgree,
            vec![
                ("same SRV", peer(), two(&[(SIP, 5061)]), passes(W)),
                ("same addresses in another order", own(), addrs(&["193.99.144.81", "193.99.144.80"]), passes(W)),
                ("different SRV", peer(), two(&[("old.kanzlei.de", 5061)]), fails(W, Reason::Disagree)),
                ("different SRV, own", own(), two(&[(SIP, 5060)]), fails(W, Reason::Disagree)),
                ("different addresses", peer(), addrs(&["193.99.144.80"]), fails(W, Reason::Disagree)),
                ("one resolver", peer(), srv(SIP).target(SIP, 5061, &["193.99.144.80"]), None),
            ],
        );
        let nx = Facts::test()
            .srv_failure(D::Nxdomain)
            .srv_also("192.0.2.54:53", &[(SIP, 5061)]);
        let f = peer().check(&nx, N::ResolversAgree).unwrap();
        assert_eq!(
            f.message,
            "resolvers disagree on _sipfederationtls._tcp.kanzlei.de.: 192.0.2.53:53 says nxdomain, 192.0.2.54:53 says [10 1 5061 sip.kanzlei.de]"
        );
    }

    /// A first resolver that does not answer while the second does: the probe went on with
    /// the second's view, the partner's checks pass, and `resolvers_agree` names the silent one.
    #[test]
    #[rustfmt::skip]
    fn a_silent_first_resolver_is_the_vantages_trouble() {
        let silent_srv = || Facts::test()
            .srv_failure(D::Timeout)
            .srv_also("192.0.2.54:53", &[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"]);
        for check in [N::SrvPresent, N::SrvPort5061, N::TargetResolves] {
            let f = peer().check(&silent_srv(), check).unwrap();
            assert!(f.passed, "{check}: {}", f.message);
        }
        let f = peer().check(&silent_srv(), N::ResolversAgree).unwrap();
        assert_eq!((f.passed, f.reason, f.severity), (false, Some(Reason::Timeout), W));
        assert_eq!(
            f.message,
            "resolver 192.0.2.53:53 did not answer _sipfederationtls._tcp.kanzlei.de. (timeout); the checks went on with 192.0.2.54:53's answer"
        );
        // The same for a target's addresses: the answering resolver's addresses are used.
        let mut silent_addresses = srv(SIP).target(SIP, 5061, &["193.99.144.80"]).addresses_also("192.0.2.54:53", &["193.99.144.81"]);
        silent_addresses.targets[0].address_answers[0].answer = Err(D::Refused);
        let t = &silent_addresses.targets[0];
        assert_eq!(t.addresses().unwrap(), &["193.99.144.81".parse::<std::net::IpAddr>().unwrap()][..]);
        assert!(peer().check(&silent_addresses, N::TargetResolves).unwrap().passed);
        let f = peer().check(&silent_addresses, N::ResolversAgree).unwrap();
        assert_eq!(f.reason, Some(Reason::Refused));
        // Every resolver silent: nothing answered, the first one's failure stands.
        let all = Facts::test().srv_failure(D::Timeout);
        assert_eq!(peer().check(&all, N::SrvPresent).unwrap().reason, Some(Reason::Timeout));
        // An answer that says something about the name (NXDOMAIN) is an answer, compared.
        let nx = Facts::test().srv_failure(D::Nxdomain).srv_also("192.0.2.54:53", &[(SIP, 5061)]);
        assert_eq!(peer().check(&nx, N::SrvPresent).unwrap().reason, Some(Reason::Nxdomain));
    }

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
