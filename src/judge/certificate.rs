//! Certificate checks: the presented chain's trust, name, validity, purposes, sameness across
//! addresses, and whether the newest stored certificate is the one served.

use serde::Serialize;

use super::trust::Trust;
use super::{Context, Verdict, fail, pass};
use crate::facts::{
    self, CertDetails, CertFacts, EndpointFacts, NameCoverage, Reason, TargetFacts, Validity, date,
};

pub(super) fn cert_trusted(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        if e.chain.is_empty() {
            continue;
        }
        any = true;
        if let Trust::Untrusted(reason) = ctx.env.trust.verify(&e.chain, ctx.env.now) {
            if reason == Reason::IntermediateExpired {
                let expired = e.chain[1..]
                    .iter()
                    .filter_map(|c| c.parsed.as_ref())
                    .find(|d| d.validity_at(ctx.env.now) == Validity::Expired);
                let what = match expired {
                    Some(d) => format!(
                        "presents an intermediate CA certificate ({}) that expired on {}",
                        d.subject_cn,
                        date(d.not_after)
                    ),
                    None => "presents an intermediate CA certificate outside its validity period"
                        .to_string(),
                };
                return fail(
                    reason,
                    format!("{} ({}) {what}", e.address, t.name),
                    "replace the intermediate the server sends with the CA's current one (renewing the leaf alone does not help; on Windows: remove the expired intermediate from the machine's Intermediate Certification Authorities store)",
                );
            }
            let (what, hint) = match reason {
                Reason::SelfSigned => (
                    "presents a self-signed certificate",
                    "use a certificate from a public CA that federation partners trust",
                ),
                Reason::IncompleteChain => (
                    "presents its certificate without the intermediate CA certificate",
                    "configure the server to send the intermediate certificate(s) with the leaf (on Windows: import the intermediates into the machine's Intermediate Certification Authorities store)",
                ),
                Reason::MalformedCertificate => (
                    "presents a certificate that cannot be parsed",
                    "replace the certificate",
                ),
                _ => (
                    "presents a chain that does not lead to a trusted root",
                    "use a certificate from a public CA and send its intermediates",
                ),
            };
            return fail(reason, format!("{} ({}) {what}", e.address, t.name), hint);
        }
    }
    any.then(|| Verdict::Pass("every presented chain verifies to a trusted root".into()))
}

pub(super) fn each_leaf(
    ctx: &Context<'_>,
    mut judge: impl FnMut(&TargetFacts, &EndpointFacts, &CertDetails) -> Option<Verdict>,
    passed: &'static str,
) -> Option<Verdict> {
    let mut any = false;
    for (t, e, leaf) in ctx.leaves() {
        let Some(d) = &leaf.parsed else { continue };
        any = true;
        if let Some(v @ Verdict::Fail { .. }) = judge(t, e, d) {
            return Some(v);
        }
    }
    any.then(|| Verdict::Pass(passed.into()))
}

pub(super) fn cert_name_match(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |t, e, d| {
            if facts::coverage(&d.dns_names, &t.name) == NameCoverage::None {
                return fail(
                    Reason::NameMismatch,
                    format!(
                        "certificate at {} is for {} but the target is {}",
                        e.address,
                        if d.dns_names.is_empty() {
                            "no DNS name".to_string()
                        } else {
                            d.dns_names.join(", ")
                        },
                        t.name
                    ),
                    format!(
                        "issue a certificate whose subject alternative names include {}",
                        t.name
                    ),
                );
            }
            None
        },
        "every certificate covers its target name",
    )
}

pub(super) fn cert_not_wildcard(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |t, e, d| {
            if facts::coverage(&d.dns_names, &t.name) == NameCoverage::Wildcard {
                return fail(
                    Reason::Wildcard,
                    format!(
                        "certificate at {} covers {} only by a wildcard",
                        e.address, t.name
                    ),
                    format!(
                        "SIP federation (Skype for Business, Teams, XPhone) rejects wildcard certificates: issue one for exactly {}",
                        t.name
                    ),
                );
            }
            None
        },
        "every target is named exactly in its certificate",
    )
}

pub(super) fn cert_valid_now(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.env.now;
    each_leaf(
        ctx,
        |_, e, d| match d.validity_at(now) {
            Validity::Expired => fail(
                Reason::Expired,
                format!(
                    "certificate at {} expired on {}",
                    e.address,
                    date(d.not_after)
                ),
                "renew the certificate and select the new one on the federation server",
            ),
            Validity::NotYetValid => fail(
                Reason::NotYetValid,
                format!(
                    "certificate at {} is valid only from {}",
                    e.address,
                    date(d.not_before)
                ),
                "check the server's clock and the certificate's validity",
            ),
            Validity::Valid => None,
        },
        "every certificate is within its validity period",
    )
}

/// Said of an ACME certificate with less than a quarter of its lifetime left when no
/// `cert_file` shows the store: ACME clients renew at about a third left, so a renewed
/// certificate probably sits in the store unselected.
const ACME_NOT_ACTIVATED: &str = "issued by an ACME CA, whose clients renew with a third of the lifetime left: renewal probably not activated (re-select the renewed certificate on the federation server)";

/// Where one certificate stands against its expiry (SPEC §5 `cert_expiry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryState {
    /// More than the threshold left.
    Ok,
    /// The threshold or less left: `cert_expiry` fails with `expiring`.
    Warning,
    /// Past its notAfter: `cert_expiry` fails with `expired`.
    Expired,
}

impl ExpiryState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryState::Ok => "ok",
            ExpiryState::Warning => "warning",
            ExpiryState::Expired => "expired",
        }
    }
}

/// Which half of min(cert_warning_days, lifetime/4) set a certificate's warning threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryRule {
    /// `global.cert_warning_days` (also when both are equal).
    CertWarningDays,
    /// A quarter of the certificate's lifetime: short-lived certificates warn later.
    QuarterLifetime,
}

/// The judge's word on one certificate's expiry: what every view shows of it, counted when
/// the report was judged (a view computes no days and no colour of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertExpiry {
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Whole days between notBefore and notAfter.
    pub lifetime_days: i64,
    pub state: ExpiryState,
    /// How long before notAfter the warning starts, in seconds.
    pub threshold_seconds: i64,
    /// What set `threshold_seconds`.
    pub rule: ExpiryRule,
    /// Whole days from judging to notAfter, rounded toward zero; once expired, minus the
    /// whole days since (0 on the day it expired: `state` tells the two apart).
    pub days_left: i64,
}

/// Judges one certificate's expiry at `now` against min(`warning_days`, lifetime/4); `None`
/// for a certificate that could not be parsed.
pub fn expiry(cert: &CertFacts, now: i64, warning_days: u32) -> Option<CertExpiry> {
    let d = cert.parsed.as_ref()?;
    let lifetime = d.not_after - d.not_before;
    let configured = i64::from(warning_days) * 86400;
    let (threshold_seconds, rule) = if configured <= lifetime / 4 {
        (configured, ExpiryRule::CertWarningDays)
    } else {
        (lifetime / 4, ExpiryRule::QuarterLifetime)
    };
    let left = d.not_after - now;
    // Passes with *more* than the threshold left; exactly at it is a warning. Expired is the
    // one rule of `CertDetails::validity_at`: valid through the second of notAfter.
    let state = if d.validity_at(now) == Validity::Expired {
        ExpiryState::Expired
    } else if left <= threshold_seconds {
        ExpiryState::Warning
    } else {
        ExpiryState::Ok
    };
    Some(CertExpiry {
        not_after: d.not_after,
        lifetime_days: lifetime / 86400,
        state,
        threshold_seconds,
        rule,
        days_left: left / 86400,
    })
}

pub(super) fn cert_expiry(ctx: &Context<'_>) -> Option<Verdict> {
    let has_store = ctx.facts.stored_certs.is_some();
    let mut any = false;
    let mut notes = Vec::new();
    for (_, e, leaf) in ctx.leaves() {
        let (Some(d), Some(x)) = (
            &leaf.parsed,
            expiry(leaf, ctx.env.now, ctx.env.cert_warning_days),
        ) else {
            continue;
        };
        any = true;
        if x.state == ExpiryState::Expired {
            return fail(
                Reason::Expired,
                format!(
                    "certificate at {} expired on {}",
                    e.address,
                    date(d.not_after)
                ),
                "renew the certificate and select the new one on the federation server",
            );
        }
        let lifetime = d.not_after - d.not_before;
        let stale_acme =
            facts::is_acme_issuer(d) && !has_store && d.not_after - ctx.env.now < lifetime / 4;
        let summary = format!(
            "certificate at {} expires on {} ({} day(s) left of {})",
            e.address,
            date(d.not_after),
            x.days_left,
            x.lifetime_days
        );
        if x.state == ExpiryState::Warning {
            let message = if stale_acme {
                format!("{summary}; {ACME_NOT_ACTIVATED}")
            } else {
                summary
            };
            return fail(
                Reason::Expiring,
                message,
                "renew now; on XPhone Connect re-select the renewed certificate, it is not picked up by itself",
            );
        }
        if stale_acme {
            notes.push(format!("{summary}; {ACME_NOT_ACTIVATED}"));
        }
    }
    if !any {
        return None;
    }
    if notes.is_empty() {
        pass("no certificate is close to its expiry")
    } else {
        pass(notes.join("; "))
    }
}

pub(super) fn cert_server_auth(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |_, e, d| {
            if d.allows_server_auth() {
                return None;
            }
            fail(
                Reason::NoServerAuth,
                format!(
                    "certificate at {} lacks the serverAuth extended key usage",
                    e.address
                ),
                "issue a certificate with the Server Authentication EKU (and Client Authentication for mutual TLS)",
            )
        },
        "every certificate allows server authentication",
    )
}

pub(super) fn cert_client_auth(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |_, e, d| {
            if d.allows_client_auth() {
                return None;
            }
            let mut message = format!(
                "certificate at {} lacks the clientAuth extended key usage",
                e.address
            );
            if facts::is_lets_encrypt(d) {
                message.push_str(
                        "; Let's Encrypt stopped issuing clientAuth certificates in 2026 (none issued since 2026-07-08 has it): get the federation certificate from a CA that still issues clientAuth",
                    );
            }
            fail(
                Reason::NoClientAuth,
                message,
                "the certificate also authenticates outgoing mutual-TLS federation: use a CA profile that includes Client Authentication",
            )
        },
        "every certificate allows client authentication (mutual TLS)",
    )
}

pub(super) fn cert_same_everywhere(ctx: &Context<'_>) -> Option<Verdict> {
    // Addresses behind one target name must serve one certificate; different targets may
    // legitimately have their own.
    let mut compared = 0;
    for t in &ctx.facts.targets {
        let leaves: Vec<(&EndpointFacts, &CertFacts)> = t
            .endpoints
            .iter()
            .filter(|e| e.looked())
            .filter_map(|e| e.leaf().map(|l| (e, l)))
            .collect();
        if leaves.len() < 2 {
            continue;
        }
        compared += leaves.len();
        let (first_ep, first) = leaves[0];
        if let Some((e, _)) = leaves.iter().find(|(_, l)| l.sha256 != first.sha256) {
            return fail(
                Reason::DifferentCertificates,
                format!(
                    "{} and {} ({}) serve different certificates",
                    first_ep.address, e.address, t.name
                ),
                "install the renewed certificate on every server behind the name",
            );
        }
    }
    (compared > 0).then(|| {
        Verdict::Pass(
            format!("all {compared} addresses serve the same certificate per target").into(),
        )
    })
}

pub(super) fn cert_renewal_activated(ctx: &Context<'_>) -> Option<Verdict> {
    let stored = match ctx.facts.stored_certs.as_ref()? {
        Ok(certs) => certs,
        Err(why) => {
            return fail(
                Reason::CertFileUnreadable,
                format!("cert_file cannot be used: {why}"),
                "point cert_file at a PEM file the exporter can read that holds the newest certificate of the federation server",
            );
        }
    };
    let now = ctx.env.now;
    let mut any = false;
    for (t, e, leaf) in ctx.leaves() {
        let Some(served) = &leaf.parsed else { continue };
        any = true;
        let newer = stored
            .iter()
            .filter_map(|c| c.parsed.as_ref().map(|d| (c, d)))
            .find(|(c, d)| {
                d.valid_at(now)
                    && d.not_before > served.not_before
                    && c.sha256 != leaf.sha256
                    && facts::coverage(&d.dns_names, &t.name) != NameCoverage::None
            });
        if let Some((_, d)) = newer {
            return fail(
                Reason::NotActivated,
                format!(
                    "{} still serves the certificate from {} (expires {}) while the store holds a newer one from {} (expires {})",
                    e.address,
                    date(served.not_before),
                    date(served.not_after),
                    date(d.not_before),
                    date(d.not_after)
                ),
                "select the renewed certificate on the federation server (XPhone Connect: Administration, certificate settings) and restart the service",
            );
        }
    }
    any.then(|| Verdict::Pass("the served certificate is the newest in the store".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{CertFacts as Cert, EndpointFacts as E, Facts};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Info as I, Warning as W};
    use crate::judge::test_facts::{DAY, Judge, NOW, TestPki, fails, passes, table};

    const SIP: &str = "sip.kanzlei.de";
    const A: &str = "193.99.144.80:5061";
    const B: &str = "193.99.144.81:5061";
    /// 90 days, 30 of them used.
    const VALID: (i64, i64) = (NOW - 30 * DAY, NOW + 60 * DAY);

    fn own() -> Judge {
        Judge::own(SIP)
    }

    fn peer() -> Judge {
        Judge::peer()
    }

    /// `sip.kanzlei.de` presenting `chain` at one address.
    fn serving(chain: Vec<Cert>) -> Facts {
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(E::serving(A, chain))
    }

    fn leaf(cert: Cert) -> Facts {
        serving(vec![cert])
    }

    /// Nothing presented: TCP was refused.
    fn down() -> Facts {
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(E::refused(A, Reason::ConnectionRefused))
    }

    #[test]
    #[rustfmt::skip]
    fn cert_trusted() {
        let pki = TestPki::generate();
        let old_ca = TestPki::with_intermediate_dates(NOW - 3650 * DAY, NOW - DAY);
        let other = TestPki::generate();
        let peer = || Judge::peer().trusting(pki.trust());
        let own = || Judge::own(SIP).trusting(pki.trust());
        let both = (true, true);
        table(
            N::CertTrusted,
            vec![
                ("chain to the trusted root", peer(), serving(pki.chain(SIP, VALID, both, false)), passes(C)),
                ("chain to the trusted root, own", own(), serving(pki.chain(SIP, VALID, both, false)), passes(C)),
                ("leaf only for clientAuth verifies", peer(), serving(pki.chain(SIP, VALID, (false, true), false)), passes(C)),
                ("leaf for neither purpose verifies", own(), serving(pki.chain(SIP, VALID, (false, false), false)), passes(C)),
                ("expired leaf: cert_valid_now's verdict", peer(), serving(pki.chain(SIP, (NOW - 100 * DAY, NOW - 10 * DAY), both, false)), passes(C)),
                ("leaf not yet valid: cert_valid_now's verdict", peer(), serving(pki.chain(SIP, (NOW + DAY, NOW + 90 * DAY), both, false)), passes(C)),
                ("self-signed", peer(), serving(TestPki::self_signed(SIP, VALID, both)), fails(C, Reason::SelfSigned)),
                ("self-signed without serverAuth", peer(), serving(TestPki::self_signed(SIP, VALID, (false, true))), fails(C, Reason::SelfSigned)),
                ("self-signed without serverAuth, own", own(), serving(TestPki::self_signed(SIP, VALID, (false, true))), fails(C, Reason::SelfSigned)),
                ("intermediate not sent", peer(), serving(pki.chain(SIP, VALID, both, true)), fails(C, Reason::IncompleteChain)),
                ("intermediate expired", Judge::peer().trusting(old_ca.trust()), serving(old_ca.chain(SIP, VALID, both, false)), fails(C, Reason::IntermediateExpired)),
                ("intermediate expired, own", Judge::own(SIP).trusting(old_ca.trust()), serving(old_ca.chain(SIP, VALID, both, false)), fails(C, Reason::IntermediateExpired)),
                ("another CA's chain", peer(), serving(other.chain(SIP, VALID, both, false)), fails(C, Reason::Untrusted)),
                ("garbage DER", peer(), serving(vec![crate::gather::cert::parse(b"\x30\x03\x02\x01\x05garbage")]), fails(C, Reason::MalformedCertificate)),
                ("nothing presented", peer(), down(), None),
            ],
        );
        // Trusting no root, the same chain is untrusted.
        let f = Judge::peer().check(&serving(pki.chain(SIP, VALID, both, false)), N::CertTrusted);
        assert_eq!(f.map(|f| f.reason), Some(Some(Reason::Untrusted)));
        // The expired intermediate is named, with its date, not "send its intermediates".
        let f = Judge::peer().trusting(old_ca.trust()).check(&serving(old_ca.chain(SIP, VALID, both, false)), N::CertTrusted).expect("judged");
        assert!(f.message.contains(&format!("intermediate CA certificate (Test Issuing CA) that expired on {}", date(NOW - DAY))), "{}", f.message);
        assert!(!f.hint.contains("send its intermediates"), "{}", f.hint);
    }

    #[test]
    #[rustfmt::skip]
    fn cert_name_match() {
        table(
            N::CertNameMatch,
            vec![
                ("exact", peer(), leaf(Cert::valid(&[SIP])), passes(C)),
                ("wildcard covers", own(), leaf(Cert::valid(&["*.kanzlei.de"])), passes(C)),
                ("one of several SANs", peer(), leaf(Cert::valid(&["kanzlei.de", SIP])), passes(C)),
                ("another name", peer(), leaf(Cert::valid(&["edge.kanzlei.de"])), fails(C, Reason::NameMismatch)),
                ("wildcard one label too high", own(), leaf(Cert::valid(&["*.de"])), fails(C, Reason::NameMismatch)),
                ("no SAN", peer(), leaf(Cert::valid(&[])), fails(C, Reason::NameMismatch)),
                ("nothing presented", peer(), down(), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cert_not_wildcard() {
        table(
            N::CertNotWildcard,
            vec![
                ("exact", own(), leaf(Cert::valid(&[SIP])), passes(C)),
                ("exact beside a wildcard", peer(), leaf(Cert::valid(&["*.kanzlei.de", SIP])), passes(I)),
                ("wildcard, own", own(), leaf(Cert::valid(&["*.kanzlei.de"])), fails(C, Reason::Wildcard)),
                ("wildcard, peer: advice", peer(), leaf(Cert::valid(&["*.kanzlei.de"])), fails(I, Reason::Wildcard)),
                ("nothing presented", own(), down(), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cert_valid_now() {
        table(
            N::CertValidNow,
            vec![
                ("within", peer(), leaf(Cert::valid(&[SIP])), passes(C)),
                ("last second", own(), leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW)), passes(C)),
                ("first second", peer(), leaf(Cert::test(&[SIP], NOW, NOW + 90 * DAY)), passes(C)),
                ("expired a second ago", peer(), leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW - 1)), fails(C, Reason::Expired)),
                ("expired, own", own(), leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW - DAY)), fails(C, Reason::Expired)),
                ("valid from tomorrow", peer(), leaf(Cert::test(&[SIP], NOW + DAY, NOW + 90 * DAY)), fails(C, Reason::NotYetValid)),
                ("nothing presented", peer(), down(), None),
            ],
        );
    }

    /// notAfter is inclusive (RFC 5280): at its very second the certificate is valid and
    /// `cert_expiry` warns; one second later both checks say expired.
    #[test]
    #[rustfmt::skip]
    fn not_after_second_agrees_in_both_checks() {
        let at_end = || leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW));
        let past_end = || leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW - 1));
        table(N::CertValidNow, vec![
            ("now == notAfter", peer(), at_end(), passes(C)),
            ("now == notAfter + 1", peer(), past_end(), fails(C, Reason::Expired)),
        ]);
        table(N::CertExpiry, vec![
            ("now == notAfter", peer(), at_end(), fails(W, Reason::Expiring)),
            // Expired: cert_valid_now's one finding (judge::SUBSUMED); the expiry verdict below.
            ("now == notAfter + 1", peer(), past_end(), None),
        ]);
        let state = |f: Facts| super::expiry(&f.targets[0].endpoints[0].chain[0], NOW, 21).map(|x| x.state);
        assert_eq!(state(at_end()), Some(ExpiryState::Warning));
        assert_eq!(state(past_end()), Some(ExpiryState::Expired));
    }

    /// SPEC §5: passes with more than min(cert_warning_days, lifetime/4) left, so exactly the
    /// threshold left fails.
    #[test]
    #[rustfmt::skip]
    fn cert_expiry_threshold() {
        let expiring = fails(W, Reason::Expiring);
        // (lifetime in days, min(21 days, lifetime/4) in seconds, seconds left over it, want)
        let rows = [
            (45, 45 * DAY / 4, -1, expiring), (45, 45 * DAY / 4, 0, expiring), (45, 45 * DAY / 4, 1, passes(W)),
            (90, 21 * DAY, -1, expiring), (90, 21 * DAY, 0, expiring), (90, 21 * DAY, 1, passes(W)),
            (398, 21 * DAY, -1, expiring), (398, 21 * DAY, 0, expiring), (398, 21 * DAY, 1, passes(W)),
        ];
        let cases = rows.into_iter().map(|(days, threshold, over, want)| {
            let not_after = NOW + threshold + over;
            let cert = Cert::test(&[SIP], not_after - days * DAY, not_after);
            (format!("{days}-day certificate, threshold {over:+}s"), peer(), leaf(cert), want)
        });
        table(N::CertExpiry, cases.collect());
    }

    /// The judge's word on one certificate, as every view shows it: the state, the threshold
    /// that applied and why, the days left counted at judging time.
    #[test]
    #[rustfmt::skip]
    fn expiry_says_state_threshold_and_days_left() {
        use super::{ExpiryRule as R, ExpiryState as S};
        // (case, lifetime days, seconds left at NOW, cert_warning_days, state, threshold, rule, days left)
        let cases = [
            ("90 days, configured 21 applies", 90, 30 * DAY, 21, S::Ok, 21 * DAY, R::CertWarningDays, 30),
            ("90 days, 20 left: warning", 90, 20 * DAY + 5, 21, S::Warning, 21 * DAY, R::CertWarningDays, 20),
            ("180 days, configured 30 applies", 180, 25 * DAY, 30, S::Warning, 30 * DAY, R::CertWarningDays, 25),
            ("configured equals a quarter: configured", 84, 22 * DAY, 21, S::Ok, 21 * DAY, R::CertWarningDays, 22),
            ("30 days: a quarter applies", 30, 10 * DAY, 21, S::Ok, 30 * DAY / 4, R::QuarterLifetime, 10),
            ("30 days, 7 left: warning", 30, 7 * DAY, 21, S::Warning, 30 * DAY / 4, R::QuarterLifetime, 7),
            ("expired a second ago", 90, -1, 21, S::Expired, 21 * DAY, R::CertWarningDays, 0),
            ("expired 3 days ago", 90, -3 * DAY, 21, S::Expired, 21 * DAY, R::CertWarningDays, -3),
        ];
        for (case, lifetime, left, warning_days, state, threshold, rule, days) in cases {
            let cert = Cert::test(&[SIP], NOW + left - lifetime * DAY, NOW + left);
            let x = super::expiry(&cert, NOW, warning_days).expect("parsed");
            assert_eq!(
                (x.state, x.threshold_seconds, x.rule, x.days_left, x.lifetime_days, x.not_after),
                (state, threshold, rule, days, lifetime, NOW + left),
                "{case}"
            );
        }
        // The report carries it per endpoint, judged at its `now`, and the soonest leaf.
        let mut judge = peer();
        judge.cert_warning_days = 30;
        let report = judge.report(vec![("inside", false, leaf(Cert::test(&[SIP], NOW - 155 * DAY, NOW + 25 * DAY)))]);
        let x = report.vantages[0].details.endpoint(0, 0).and_then(|e| e.leaf_expiry.clone()).expect("judged");
        assert_eq!((x.state, x.rule, x.days_left), (S::Warning, R::CertWarningDays, 25));
        assert_eq!(report.soonest_leaf(), Some(&x));
        assert_eq!(report.soonest_expiry(), Some(NOW + 25 * DAY));
        let report = peer().report(vec![("inside", false, leaf(Cert::test(&[SIP], NOW - 20 * DAY, NOW + 10 * DAY)))]);
        let x = report.soonest_leaf().expect("judged");
        assert_eq!((x.state, x.rule, x.threshold_seconds, x.days_left), (S::Ok, R::QuarterLifetime, 30 * DAY / 4, 10));
        // An unparsable certificate has no expiry verdict.
        assert_eq!(super::expiry(&crate::gather::cert::parse(b"garbage"), NOW, 21), None);
    }

    #[test]
    #[rustfmt::skip]
    fn cert_expiry() {
        let lets_encrypt = |left_days: i64| Cert::test(&[SIP], NOW - (90 - left_days) * DAY, NOW + left_days * DAY).issuer("Let's Encrypt");
        table(
            N::CertExpiry,
            vec![
                ("60 of 90 days left", peer(), leaf(Cert::valid(&[SIP])), passes(W)),
                ("60 of 90 days left, own", own(), leaf(Cert::valid(&[SIP])), passes(W)),
                ("10 days left, own", own(), leaf(Cert::test(&[SIP], NOW - 80 * DAY, NOW + 10 * DAY)), fails(W, Reason::Expiring)),
                // One fault, one finding: the expired leaf is cert_valid_now's (judge::SUBSUMED).
                ("expired: absent, cert_valid_now fails", peer(), leaf(Cert::test(&[SIP], NOW - 90 * DAY, NOW - DAY)), None),
                ("not yet valid: absent, cert_valid_now fails", peer(), leaf(Cert::test(&[SIP], NOW + DAY, NOW + 90 * DAY)), None),
                ("ACME, a quarter left: passes with a note", own(), leaf(lets_encrypt(22)), passes(W)),
                ("ACME, 20 days left", own(), leaf(lets_encrypt(20)), fails(W, Reason::Expiring)),
                ("nothing presented", peer(), down(), None),
            ],
        );
        let message = |facts: Facts| own().check(&facts, N::CertExpiry).map(|f| f.message).unwrap_or_default();
        assert!(message(leaf(lets_encrypt(22))).ends_with(ACME_NOT_ACTIVATED));
        assert!(message(leaf(lets_encrypt(20))).ends_with(ACME_NOT_ACTIVATED));
        // With a cert_file the store is judged by cert_renewal_activated, not guessed at.
        let stored = leaf(lets_encrypt(22)).stored(Ok(vec![lets_encrypt(22)]));
        assert_eq!(message(stored), "no certificate is close to its expiry");
    }

    #[test]
    #[rustfmt::skip]
    fn cert_server_auth() {
        let eku = |e| leaf(Cert::valid(&[SIP]).eku(e));
        table(
            N::CertServerAuth,
            vec![
                ("serverAuth and clientAuth", peer(), eku(Some((true, true))), passes(C)),
                ("serverAuth only, own", own(), eku(Some((true, false))), passes(C)),
                ("no EKU extension: any purpose", peer(), eku(None), passes(C)),
                ("clientAuth only", peer(), eku(Some((false, true))), fails(C, Reason::NoServerAuth)),
                ("neither, own", own(), eku(Some((false, false))), fails(C, Reason::NoServerAuth)),
                ("nothing presented", peer(), down(), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cert_client_auth() {
        let eku = |e| leaf(Cert::valid(&[SIP]).eku(e));
        table(
            N::CertClientAuth,
            vec![
                ("serverAuth and clientAuth, own", own(), eku(Some((true, true))), passes(C)),
                ("serverAuth and clientAuth, peer", peer(), eku(Some((true, true))), passes(I)),
                ("no EKU extension: any purpose", own(), eku(None), passes(C)),
                ("serverAuth only, own", own(), eku(Some((true, false))), fails(C, Reason::NoClientAuth)),
                ("serverAuth only, peer: advice", peer(), eku(Some((true, false))), fails(I, Reason::NoClientAuth)),
                ("nothing presented", own(), down(), None),
            ],
        );
        let le = leaf(Cert::valid(&[SIP]).eku(Some((true, false))).issuer("Let's Encrypt"));
        let f = own().check(&le, N::CertClientAuth).unwrap();
        assert!(f.message.contains("Let's Encrypt stopped issuing clientAuth certificates"), "{}", f.message);
    }

    #[test]
    #[rustfmt::skip]
    fn cert_same_everywhere() {
        let two = |a: Cert, b: Cert| Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &["193.99.144.80", "193.99.144.81"]).endpoint(E::serving(A, vec![a])).endpoint(E::serving(B, vec![b]));
        let renewed = || Cert::test(&[SIP], NOW - DAY, NOW + 89 * DAY);
        let two_targets = Facts::test().srv(&[(SIP, 5061), ("sip2.kanzlei.de", 5061)])
            .target(SIP, 5061, &["193.99.144.80"]).endpoint(E::serving(A, vec![Cert::valid(&[SIP])]))
            .target("sip2.kanzlei.de", 5061, &["193.99.144.81"]).endpoint(E::serving(B, vec![renewed()]));
        table(
            N::CertSameEverywhere,
            vec![
                ("same leaf", peer(), two(Cert::valid(&[SIP]), Cert::valid(&[SIP])), passes(W)),
                ("same leaf, own", own(), two(Cert::valid(&[SIP]), Cert::valid(&[SIP])), passes(W)),
                ("renewed on one server only", peer(), two(Cert::valid(&[SIP]), renewed()), fails(W, Reason::DifferentCertificates)),
                ("renewed on one server only, own", own(), two(Cert::valid(&[SIP]), renewed()), fails(W, Reason::DifferentCertificates)),
                ("different targets may differ", peer(), two_targets, None),
                ("one address", peer(), leaf(Cert::valid(&[SIP])), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cert_renewal_activated() {
        let served = || Cert::valid(&[SIP]);
        let renewed = || Cert::test(&[SIP], NOW - 5 * DAY, NOW + 85 * DAY);
        let with = |stored: Vec<Cert>| leaf(served()).stored(Ok(stored));
        let unreadable = |why: &str| leaf(served()).stored(Err(why.into()));
        table(
            N::CertRenewalActivated,
            vec![
                ("the served certificate is the stored one", own(), with(vec![served()]), passes(W)),
                ("only an older one stored", own(), with(vec![Cert::test(&[SIP], NOW - 120 * DAY, NOW - 30 * DAY)]), passes(W)),
                ("a newer one stored", own(), with(vec![served(), renewed()]), fails(W, Reason::NotActivated)),
                ("newer but not yet valid", own(), with(vec![Cert::test(&[SIP], NOW + DAY, NOW + 91 * DAY)]), passes(W)),
                ("newer but for another name", own(), with(vec![Cert::test(&["edge.kanzlei.de"], NOW - 5 * DAY, NOW + 85 * DAY)]), passes(W)),
                ("missing file", own(), unreadable("/etc/sipfed/missing.pem: No such file or directory (os error 2)"), fails(W, Reason::CertFileUnreadable)),
                ("empty file", own(), unreadable("/etc/sipfed/empty.pem: no parsable certificate"), fails(W, Reason::CertFileUnreadable)),
                ("unreadable file, nothing served", own(), down().stored(Err("x: Is a directory".into())), fails(W, Reason::CertFileUnreadable)),
                ("no cert_file", own(), leaf(served()), None),
                ("nothing served", own(), down().stored(Ok(vec![renewed()])), None),
                ("peers have no store", peer(), with(vec![renewed()]), None),
            ],
        );
    }

    /// From a real file to the finding: whatever makes `cert_file` useless fails the check.
    #[test]
    fn cert_file_cases_from_disk() {
        let dir = std::env::temp_dir().join(format!("sipfed-certfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let no_cert = dir.join("key-only.pem");
        std::fs::write(
            &no_cert,
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let good = dir.join("good.pem");
        let pki = TestPki::generate();
        let (chain, pem) = pki.chain_pem(SIP, VALID, (true, true));
        std::fs::write(&good, pem).unwrap();
        // Root reads mode-000 files, so "unreadable" is a directory: open succeeds, read fails.
        let cases = [
            (dir.join("missing.pem"), "No such file or directory"),
            (empty.clone(), "no parsable certificate"),
            (no_cert, "no parsable certificate"),
            (dir.clone(), "Is a directory"),
        ];
        for (path, why) in cases {
            let stored = crate::gather::probe::read_cert_file(&path);
            let message = stored.as_ref().err().cloned().unwrap_or_default();
            assert!(
                message.starts_with(&path.display().to_string()) && message.contains(why),
                "{}: {stored:?}",
                path.display()
            );
            let f = own()
                .check(
                    &serving(chain.clone()).stored(stored),
                    N::CertRenewalActivated,
                )
                .unwrap();
            assert_eq!(
                (f.severity, f.reason),
                (W, Some(Reason::CertFileUnreadable)),
                "{}",
                path.display()
            );
            assert_eq!(f.message, format!("cert_file cannot be used: {message}"));
        }
        let stored = crate::gather::probe::read_cert_file(&good).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].sha256, chain[0].sha256);
        let f = own()
            .check(
                &serving(chain.clone()).stored(Ok(stored)),
                N::CertRenewalActivated,
            )
            .unwrap();
        assert!(f.passed, "{f:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
