//! Mutual TLS, both ways: whether a partner's edge accepts the client certificate our
//! tenant presents (`client_cert_accepted`), whether the partner's certificate would pass our
//! edge's check when it connects to us (`inbound_cert_accepted`), whether our own client
//! certificate is fit (`client_cert_valid`, judged on own domains only: our fault is named
//! once, on us), and which certificates lose clientAuth at their next renewal from a public
//! CA (`cert_client_auth_kept`).

use super::trust::Trust;
use super::{Context, Verdict, fail, pass};
use crate::facts::{self, CertDetails, NameCoverage, PeerAlert, Reason, Refusal, Validity, date};

/// What an alert refusing our client certificate usually means, and what to do about it.
pub fn alert_meaning(alert: PeerAlert) -> (&'static str, &'static str) {
    match alert {
        PeerAlert::UnknownCa => (
            "their edge does not trust the CA that issued our client certificate",
            "ask the partner to add our issuing CA (root and intermediates) to their edge's trusted roots, or present a certificate from a CA they trust",
        ),
        PeerAlert::UnsupportedCertificate => (
            "our certificate is not allowed for client authentication (no clientAuth extended key usage)",
            "present a certificate with the Client Authentication EKU: public CAs stopped issuing it in 2026, so use a CA that still does",
        ),
        PeerAlert::CertificateRequired => (
            "their edge demands a client certificate and we sent none",
            "configure the tenant's client_cert (the certificate our edge presents when it connects out)",
        ),
        PeerAlert::BadCertificate => (
            "their edge found our certificate unusable (a bad signature, a broken chain, or a check of theirs failed)",
            "check that the client certificate is sent with its intermediates and that its key matches; ask the partner what their edge logged",
        ),
        PeerAlert::CertificateUnknown => (
            "their edge refused our certificate for an unspecified reason (often: untrusted issuer or missing clientAuth)",
            "check that our client certificate has the Client Authentication EKU and chains to a root the partner trusts; ask the partner what their edge logged",
        ),
        PeerAlert::CertificateExpired => (
            "their edge considers our client certificate expired (or not yet valid)",
            "renew the client certificate and check the clocks",
        ),
        PeerAlert::CertificateRevoked => (
            "their edge considers our client certificate revoked",
            "replace the client certificate",
        ),
        PeerAlert::AccessDenied => (
            "their edge verified our certificate but does not allow us (not on their list of federation partners)",
            "ask the partner to allow our domain (their allowed-domains or federation partner list)",
        ),
        PeerAlert::HandshakeFailure => (
            "their edge ended the handshake after our certificate (most edges do so for a certificate they do not accept)",
            "check that our client certificate has the Client Authentication EKU and chains to a root the partner trusts",
        ),
    }
}

pub(super) fn client_cert_accepted(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    let mut asked = false;
    // An edge that asked and went on although we sent no certificate accepted a session
    // without one, not ours: the pass must not say it accepts ours.
    let mut went_on_without = false;
    for (t, e) in ctx.endpoints() {
        if let Some(Refusal { alert, sent }) = e.client_cert_refusal() {
            let (meaning, hint) = alert_meaning(alert);
            if !sent {
                let configured = ctx.env.tenants.of(&ctx.domain.tenant).client_cert.is_some();
                let why = if configured {
                    "we sent none (the configured certificate fits none of the signature schemes it accepts)"
                } else {
                    "tenant has no client_cert configured"
                };
                return fail(
                    Reason::ClientCertMissing,
                    format!(
                        "{} ({}) demands a client certificate and ended the session with alert {}: {why}",
                        e.address,
                        t.name,
                        alert.as_str()
                    ),
                    format!(
                        "configure client_cert for tenant {:?} (the certificate its edge presents when it connects to partners)",
                        ctx.domain.tenant
                    ),
                );
            }
            return fail(
                Reason::ClientCertRejected,
                format!(
                    "{} ({}) refused our client certificate with alert {}: {meaning}",
                    e.address,
                    t.name,
                    alert.as_str()
                ),
                hint,
            );
        }
        let Some(Ok(tls)) = &e.tls else { continue };
        let answered = e.sip.as_ref().is_some_and(|s| s.status.is_ok());
        if tls.client_cert_requested && tls.version == facts::TlsVersion::Tls13 && !answered {
            // TLS 1.3 refuses a certificate only after the handshake: only a SIP answer on the
            // connection shows it was accepted. No OPTIONS, or a session that ended without an
            // answer and without an alert (an edge that drops the refusal), shows nothing.
            continue;
        }
        any = true;
        asked |= tls.client_cert_requested;
        went_on_without |= tls.client_cert_requested && !tls.client_cert_sent;
    }
    if !any {
        return None;
    }
    if went_on_without {
        pass(
            "their edge asks for a client certificate and goes on without one (we sent none: whether it would take ours is not known)",
        )
    } else if asked {
        pass("their edge asks for a client certificate and accepts ours")
    } else {
        pass("their edge asks for no client certificate")
    }
}

pub(super) fn inbound_cert_accepted(ctx: &Context<'_>) -> Option<Verdict> {
    let tenant = ctx.env.tenants.of(&ctx.domain.tenant);
    let mut any = false;
    for (t, e, leaf) in ctx.leaves() {
        let Some(d) = &leaf.parsed else { continue };
        any = true;
        let at = format!("{} ({})", e.address, t.name);
        if let Trust::Untrusted(reason) = tenant.inbound.verify(&e.chain, ctx.env.now) {
            return fail(
                reason,
                format!(
                    "the certificate {at} presents (issuer {}) does not chain to what tenant {:?}'s edge trusts for connecting partners",
                    d.issuer_cn, ctx.domain.tenant
                ),
                "add the partner's issuing CA to our edge's trusted roots (and to inbound_ca_file), or ask the partner for a certificate from a CA our edge trusts",
            );
        }
        let validity = d.validity_at(ctx.env.now);
        if validity != Validity::Valid {
            let reason = if validity == Validity::Expired {
                Reason::Expired
            } else {
                Reason::NotYetValid
            };
            return fail(
                reason,
                format!(
                    "the certificate {at} presents is valid {} to {}: our edge refuses it when the partner connects",
                    date(d.not_before),
                    date(d.not_after)
                ),
                "the partner must renew its federation certificate",
            );
        }
        if !d.allows_client_auth() {
            return fail(
                Reason::NoClientAuth,
                format!(
                    "the certificate {at} presents lacks the clientAuth extended key usage: when the partner's edge connects to us with it, our edge refuses it"
                ),
                "the partner needs a federation certificate with the Client Authentication EKU (public CAs stopped issuing it in 2026: from a CA that still does)",
            );
        }
    }
    any.then(|| {
        Verdict::Pass(
            "the partner's certificate would pass our edge's check when it connects to us".into(),
        )
    })
}

pub(super) fn client_cert_valid(ctx: &Context<'_>) -> Option<Verdict> {
    let tenant = ctx.env.tenants.of(&ctx.domain.tenant);
    let chain = tenant.client_cert.as_ref()?;
    let who = format!("tenant {:?}'s client certificate", ctx.domain.tenant);
    let Some(d) = chain.first().and_then(|c| c.parsed.as_ref()) else {
        return fail(
            Reason::MalformedCertificate,
            format!("{who} cannot be parsed"),
            "replace client_cert with a PEM certificate chain and its key",
        );
    };
    let now = ctx.env.now;
    match d.validity_at(now) {
        Validity::Expired => {
            return fail(
                Reason::Expired,
                format!("{who} expired on {}", date(d.not_after)),
                "renew the client certificate: every partner that asks for one refuses us",
            );
        }
        Validity::NotYetValid => {
            return fail(
                Reason::NotYetValid,
                format!("{who} is valid only from {}", date(d.not_before)),
                "check the clock and the certificate's dates",
            );
        }
        Validity::Valid => {}
    }
    if !d.allows_client_auth() {
        return fail(
            Reason::NoClientAuth,
            format!(
                "{who} ({}, issued by {}) lacks the clientAuth extended key usage: every partner that verifies client certificates refuses it",
                d.subject_cn, d.issuer_cn
            ),
            "get a certificate with the Client Authentication EKU from a CA that still issues it (public CAs stopped in 2026)",
        );
    }
    if let Trust::Untrusted(reason) = ctx.env.trust.verify(chain, now) {
        return fail(
            reason,
            format!(
                "{who} (issued by {}) does not chain to a trusted root",
                d.issuer_cn
            ),
            "present the client certificate with its intermediates, from a CA partners trust",
        );
    }
    if let Some(fqdn) = &ctx.domain.fqdn
        && facts::coverage(&d.dns_names, fqdn) == NameCoverage::None
    {
        return fail(
            Reason::NameMismatch,
            format!(
                "{who} covers {} but not the edge's name {fqdn}",
                d.dns_names.join(", ")
            ),
            format!(
                "issue the client certificate for {fqdn}: partners match it against the domain's edge"
            ),
        );
    }
    let lifetime = d.not_after - d.not_before;
    let threshold = (i64::from(ctx.env.cert_warning_days) * 86400).min(lifetime / 4);
    if d.not_after - now <= threshold {
        return fail(
            Reason::Expiring,
            format!("{who} expires on {}", date(d.not_after)),
            "renew the client certificate now",
        );
    }
    pass(format!(
        "{who} ({}, issued by {}) is valid until {}, trusted, and allows client authentication",
        d.subject_cn,
        d.issuer_cn,
        date(d.not_after)
    ))
}

/// The day the Chrome Root Program's rule took effect: public TLS CAs issue no clientAuth.
pub const CLIENT_AUTH_CLIFF: &str = "2026-06-15";

/// Whether a leaf with clientAuth chains to a public (built-in) root: it will lack
/// clientAuth when renewed from the same CA.
fn loses_client_auth(ctx: &Context<'_>, chain: &[facts::CertFacts], d: &CertDetails) -> bool {
    d.allows_client_auth() && ctx.env.public.verify(chain, ctx.env.now) == Trust::Trusted
}

pub(super) fn cert_client_auth_kept(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e, leaf) in ctx.leaves() {
        let Some(d) = &leaf.parsed else { continue };
        if !d.allows_client_auth() {
            // Nothing to lose: a missing clientAuth is `cert_client_auth`'s verdict.
            continue;
        }
        any = true;
        if loses_client_auth(ctx, &e.chain, d) {
            return fail(
                Reason::ClientAuthEnding,
                format!(
                    "the certificate at {} ({}) from {} has clientAuth until {}; public CAs stopped issuing clientAuth in 2026 (Chrome Root Program, {CLIENT_AUTH_CLIFF}): its renewal will lack it, and federation by mutual TLS breaks by {} unless it comes from a CA that still issues clientAuth",
                    e.address,
                    t.name,
                    d.issuer_cn,
                    date(d.not_after),
                    date(d.not_after)
                ),
                "before that date, get the federation certificate from a CA that still issues Client Authentication (a private or dedicated federation CA partners trust)",
            );
        }
    }
    any.then(|| {
        Verdict::Pass(
            "clientAuth comes from a CA that keeps issuing it (not a public TLS CA)".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{EndpointFacts as E, Facts, TlsVersion};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Info as I, Warning as W};
    use crate::judge::test_facts::{DAY, Judge, NOW, TestPki, at, fails, passes, table};

    const SIP: &str = "sip.kanzlei.de";
    const A: &str = "193.99.144.80:5061";
    const VALID: (i64, i64) = (NOW - 30 * DAY, NOW + 60 * DAY);

    fn up() -> E {
        E::serving(A, Vec::new()).sip(Ok(200))
    }

    #[test]
    #[rustfmt::skip]
    fn client_cert_accepted() {
        let pki = TestPki::generate();
        let ours = pki.chain("edge.zahnfee.de", VALID, (true, true), false);
        let with_cert = || Judge::peer().client_cert(ours.clone());
        let tls12 = |alert, sent| E::tls_failed(A, Reason::HandshakeFailure).rejected_with(alert, sent);
        let tls13 = |alert, sent| up().asked(sent).rejected_after(alert);
        let mut cases = vec![
            ("asks for none", Judge::peer(), at(up()), passes(C)),
            ("asks and accepts", with_cert(), at(up().asked(true)), passes(C)),
            ("TLS 1.3, asked, no OPTIONS: unknown", with_cert(), at(E::serving(A, Vec::new()).asked(true)), None),
            ("TLS 1.3, asked, closed without answer or alert: unknown", with_cert(), at(E::serving(A, Vec::new()).asked(true).sip(Err(Reason::Closed))), None),
            ("TLS 1.3, asked, no answer in time: unknown", with_cert(), at(E::serving(A, Vec::new()).asked(true).sip(Err(Reason::Timeout))), None),
            ("TLS 1.2, asked, no OPTIONS: the handshake completed", with_cert(), at(E::serving(A, Vec::new()).version(TlsVersion::Tls12).asked(true)), passes(C)),
            ("TLS 1.2: none sent, certificate_required", Judge::peer(), at(tls12(PeerAlert::CertificateRequired, false)), fails(C, Reason::ClientCertMissing)),
            ("TLS 1.3: none sent, certificate_required", Judge::peer(), at(tls13(PeerAlert::CertificateRequired, false)), fails(C, Reason::ClientCertMissing)),
            ("an alert without a request is not about us", Judge::peer(), at(E::tls_failed(A, Reason::HandshakeFailure).alert_without_request(PeerAlert::HandshakeFailure)), None),
            ("TCP never connected", with_cert(), at(E::refused(A, Reason::ConnectionRefused)), None),
        ];
        // "accepts ours" only when ours was sent.
        let said = |judge: Judge, facts: Facts| judge.check(&facts, N::ClientCertAccepted).map(|f| f.message);
        assert_eq!(said(with_cert(), at(up().asked(true))).as_deref(), Some("their edge asks for a client certificate and accepts ours"));
        let none_sent = said(Judge::peer(), at(up().asked(false).sip(Ok(200)))).unwrap_or_default();
        assert!(!none_sent.contains("accepts ours") && none_sent.contains("we sent none"), "{none_sent}");
        for alert in [PeerAlert::UnknownCa, PeerAlert::UnsupportedCertificate, PeerAlert::BadCertificate, PeerAlert::CertificateUnknown, PeerAlert::AccessDenied, PeerAlert::HandshakeFailure] {
            cases.push(("TLS 1.2: refused", with_cert(), at(tls12(alert, true)), fails(C, Reason::ClientCertRejected)));
            cases.push(("TLS 1.3: refused", with_cert(), at(tls13(alert, true)), fails(C, Reason::ClientCertRejected)));
        }
        table(N::ClientCertAccepted, cases);
        // Not judged on own domains (our own edge is not a partner).
        assert!(Judge::own(SIP).check(&at(tls12(PeerAlert::UnknownCa, true)), N::ClientCertAccepted).is_none());
        // The alert is named, with what it means.
        let f = with_cert().check(&at(tls13(PeerAlert::UnknownCa, true)), N::ClientCertAccepted).unwrap();
        assert!(f.message.contains("alert unknown_ca: their edge does not trust the CA"), "{}", f.message);
        assert!(f.hint.contains("add our issuing CA"), "{}", f.hint);
    }

    #[test]
    #[rustfmt::skip]
    fn a_refused_client_certificate_is_not_blamed_on_sip_or_tls() {
        let judge = Judge::peer();
        let tls12 = at(E::tls_failed(A, Reason::HandshakeFailure).rejected_with(PeerAlert::CertificateRequired, false));
        let tls13 = at(up().asked(false).rejected_after(PeerAlert::CertificateRequired));
        for facts in [&tls12, &tls13] {
            assert!(judge.check(facts, N::SipOptions).is_none());
            assert!(judge.check(facts, N::TlsHandshake).is_none_or(|f| f.passed));
        }
        // Another failure of SIP still is SIP's.
        assert!(!judge.check(&at(E::serving(A, Vec::new()).sip(Err(Reason::NotSip))), N::SipOptions).unwrap().passed);
    }

    #[test]
    #[rustfmt::skip]
    fn inbound_cert_accepted() {
        let pki = TestPki::generate();
        let other = TestPki::generate();
        let theirs = |eku| E::serving(A, pki.chain(SIP, VALID, eku, false));
        let judge = || Judge::peer().trusting(pki.trust());
        let strict = || Judge::peer().trusting(pki.trust()).inbound(other.trust());
        table(N::InboundCertAccepted, vec![
            ("both EKUs, trusted", judge(), at(theirs((true, true))), passes(C)),
            ("no clientAuth", judge(), at(theirs((true, false))), fails(C, Reason::NoClientAuth)),
            ("expired", judge(), at(E::serving(A, pki.chain(SIP, (NOW - 90 * DAY, NOW - DAY), (true, true), false))), fails(C, Reason::Expired)),
            ("not what the tenant's edge trusts inbound", strict(), at(theirs((true, true))), fails(C, Reason::Untrusted)),
            ("no certificate presented", judge(), at(E::refused(A, Reason::Timeout)), None),
        ]);
        assert!(Judge::own(SIP).trusting(pki.trust()).check(&at(theirs((true, false))), N::InboundCertAccepted).is_none());
    }

    #[test]
    #[rustfmt::skip]
    fn client_cert_valid() {
        let pki = TestPki::generate();
        let other = TestPki::generate();
        let own = |chain: Vec<facts::CertFacts>| Judge::own(SIP).trusting(pki.trust()).client_cert(chain);
        let facts = at(up());
        table(N::ClientCertValid, vec![
            ("valid, both EKUs", own(pki.chain(SIP, VALID, (true, true), false)), facts.clone(), passes(C)),
            ("no clientAuth", own(pki.chain(SIP, VALID, (true, false), false)), facts.clone(), fails(C, Reason::NoClientAuth)),
            ("expired", own(pki.chain(SIP, (NOW - 90 * DAY, NOW - DAY), (true, true), false)), facts.clone(), fails(C, Reason::Expired)),
            ("expiring", own(pki.chain(SIP, (NOW - 80 * DAY, NOW + 2 * DAY), (true, true), false)), facts.clone(), fails(C, Reason::Expiring)),
            ("untrusted issuer", own(other.chain(SIP, VALID, (true, true), false)), facts.clone(), fails(C, Reason::Untrusted)),
            ("not for the edge's name", own(pki.chain("other.kanzlei.de", VALID, (true, true), false)), facts.clone(), fails(C, Reason::NameMismatch)),
            ("none configured", Judge::own(SIP), facts.clone(), None),
        ]);
        // Our fault is named on us, never on a partner.
        assert!(Judge::peer().client_cert(pki.chain(SIP, VALID, (true, false), false)).check(&facts, N::ClientCertValid).is_none());
    }

    #[test]
    #[rustfmt::skip]
    fn cert_client_auth_kept() {
        let public = TestPki::generate();
        let private = TestPki::generate();
        let judge = |j: Judge| j.trusting(public.trust()).public_roots(public.trust());
        let served = |pki: &TestPki, eku| at(E::serving(A, pki.chain(SIP, VALID, eku, false)));
        table(N::CertClientAuthKept, vec![
            ("public CA with clientAuth, own", judge(Judge::own(SIP)), served(&public, (true, true)), fails(W, Reason::ClientAuthEnding)),
            ("public CA with clientAuth, peer", judge(Judge::peer()), served(&public, (true, true)), fails(I, Reason::ClientAuthEnding)),
            ("private CA keeps issuing it, own", judge(Judge::own(SIP)), served(&private, (true, true)), passes(W)),
            ("private CA, peer", judge(Judge::peer()), served(&private, (true, true)), passes(I)),
            ("no clientAuth to lose", judge(Judge::own(SIP)), served(&public, (true, false)), None),
        ]);
        let f = judge(Judge::own(SIP)).check(&served(&public, (true, true)), N::CertClientAuthKept).unwrap();
        assert!(f.message.contains(&date(VALID.1)), "{}", f.message);
    }
}
