//! Certificate checks: the presented chain's trust, name, validity, purposes, sameness across
//! addresses, and whether the newest stored certificate is the one served.

use super::trust::Trust;
use super::{Context, Verdict, fail, pass};
use crate::facts::{
    self, CertDetails, CertFacts, EndpointFacts, NameCoverage, Reason, TargetFacts,
};

pub(super) fn cert_trusted(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        if e.chain.is_empty() {
            continue;
        }
        any = true;
        if let Trust::Untrusted(reason) = ctx.trust.verify(&e.chain, ctx.now) {
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
    passed: &str,
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

pub(super) fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| ts.to_string())
}

pub(super) fn cert_valid_now(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.now;
    each_leaf(
        ctx,
        |_, e, d| {
            if now > d.not_after {
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
            if now < d.not_before {
                return fail(
                    Reason::NotYetValid,
                    format!(
                        "certificate at {} is valid only from {}",
                        e.address,
                        date(d.not_before)
                    ),
                    "check the server's clock and the certificate's validity",
                );
            }
            None
        },
        "every certificate is within its validity period",
    )
}

/// Said of an ACME certificate with less than a quarter of its lifetime left when no
/// `cert_file` shows the store: ACME clients renew at about a third left, so a renewed
/// certificate probably sits in the store unselected.
const ACME_NOT_ACTIVATED: &str = "issued by an ACME CA, whose clients renew with a third of the lifetime left: renewal probably not activated (re-select the renewed certificate on the federation server)";

pub(super) fn cert_expiry(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.now;
    let warn_days = i64::from(ctx.cert_warning_days);
    let has_store = ctx.facts.stored_certs.is_some();
    let mut any = false;
    let mut notes = Vec::new();
    for (_, e, leaf) in ctx.leaves() {
        let Some(d) = &leaf.parsed else { continue };
        any = true;
        let lifetime = d.not_after - d.not_before;
        let threshold = (warn_days * 86400).min(lifetime / 4);
        let left = d.not_after - now;
        if left <= 0 {
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
        let stale_acme = facts::is_acme_issuer(d) && !has_store && left < lifetime / 4;
        let summary = format!(
            "certificate at {} expires on {} ({} day(s) left of {})",
            e.address,
            date(d.not_after),
            left / 86400,
            lifetime / 86400
        );
        if left < threshold {
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
        |_, e, d| match d.eku {
            Some(k) if !k.server_auth && !k.any => fail(
                Reason::NoServerAuth,
                format!(
                    "certificate at {} lacks the serverAuth extended key usage",
                    e.address
                ),
                "issue a certificate with the Server Authentication EKU (and Client Authentication for mutual TLS)",
            ),
            _ => None,
        },
        "every certificate allows server authentication",
    )
}

pub(super) fn cert_client_auth(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |_, e, d| match d.eku {
            Some(k) if !k.client_auth && !k.any => {
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
            }
            _ => None,
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
        Verdict::Pass(format!(
            "all {compared} addresses serve the same certificate per target"
        ))
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
    let now = ctx.now;
    let mut any = false;
    for (t, e, leaf) in ctx.leaves() {
        let Some(served) = &leaf.parsed else { continue };
        any = true;
        let newer = stored
            .iter()
            .filter_map(|c| c.parsed.as_ref().map(|d| (c, d)))
            .find(|(c, d)| {
                d.not_before <= now
                    && now <= d.not_after
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
