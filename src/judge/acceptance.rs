//! Whether a partner's edge accepts SIP from us (`sip_accepts_us`): the answer to OPTIONS
//! sent as the tenant (`From:` its `sip_from`, over its client certificate), classified as a
//! federation edge means it, with what its `ms-diagnostics` code usually says.

use super::{Context, Verdict, fail};
use crate::facts::{MsDiagnostics, Reason, SipPlatform};

/// How an answer to our OPTIONS reads: `None` when it passed the partner's federation layer
/// (2xx; 404/480/486/604: no such user, yet the request got through; 1xx/3xx are not a
/// refusal), else the reason.
pub fn refusal(code: u16) -> Option<Reason> {
    match code {
        404 | 480 | 486 | 604 => None,
        401 | 403 | 407 | 603 => Some(Reason::SipRefused),
        400..=699 => Some(Reason::SipError),
        _ => None,
    }
}

/// What an `ms-diagnostics` code usually means, where it is one whose meaning is clear.
fn diagnostics_meaning(code: u32) -> Option<&'static str> {
    match code {
        1047 => Some(
            "they do not trust our certificate: their edge could not complete TLS with our edge as a federated peer",
        ),
        1046 => Some("their edge could not connect to ours as a federated peer"),
        1034 => Some(
            "the refusal comes from their side of the federation (the previous hop, their edge or Microsoft's, gave no further diagnostics)",
        ),
        _ => None,
    }
}

/// What a refusing status usually means.
fn status_meaning(code: u16, platform: Option<&SipPlatform>) -> &'static str {
    match (code, platform) {
        (401 | 407, _) => {
            "their edge wants us to authenticate as a user: it does not treat our domain as a federated partner"
        }
        (403 | 603, Some(SipPlatform::Teams)) => {
            "Teams external access refuses our domain: it is not on their allow list or is on their block list (trial tenants are blocked by default since August 2024)"
        }
        (403 | 603, _) => {
            "their edge refuses our domain: it is not on their allow list or is blocked, or (strict DNS name matching on Skype for Business/Lync) our SRV target or certificate does not match our domain"
        }
        (500..=599, _) => "their edge could not serve or route our request",
        _ => "their edge answered our request with an error",
    }
}

fn describe(d: &MsDiagnostics) -> String {
    let mut s = format!("ms-diagnostics {}", d.code);
    if !d.reason.is_empty() {
        s.push_str(&format!(" \"{}\"", d.reason));
    }
    if let Some(source) = &d.source {
        s.push_str(&format!(" from {source}"));
    }
    s
}

pub(super) fn sip_accepts_us(ctx: &Context<'_>) -> Option<Verdict> {
    let mut from = None;
    for (t, e) in ctx.endpoints() {
        let Some(sip) = &e.sip else { continue };
        // Sent from a placeholder: nothing said about us. No answer, or the session ended
        // over our client certificate: `sip_options` and `client_cert_accepted` say so.
        let (Some(sent_as), Ok(code)) = (&sip.from, sip.status) else {
            continue;
        };
        if e.client_cert_refusal().is_some() {
            continue;
        }
        from = Some(sent_as.as_str());
        let Some(reason) = refusal(code) else {
            continue;
        };
        let platform = sip.platform.as_ref();
        let mut message = format!(
            "OPTIONS from {sent_as} to {} ({}): {}",
            e.address, t.name, sip.detail
        );
        if let Some(p) = platform.filter(|p| **p != SipPlatform::Other) {
            message.push_str(&format!(" by {}", p.describe()));
        }
        if let Some(d) = &sip.diagnostics {
            message.push_str(&format!("; {}", describe(d)));
        }
        let meaning = sip
            .diagnostics
            .as_ref()
            .and_then(|d| diagnostics_meaning(d.code))
            .unwrap_or_else(|| status_meaning(code, platform));
        message.push_str(&format!(": {meaning}"));
        let our_domain = sent_as
            .rsplit_once('@')
            .map_or(sent_as.as_str(), |(_, d)| d);
        let hint = match sip.diagnostics.as_ref().map(|d| d.code) {
            Some(1047) => format!(
                "ask the partner to trust the CA of the certificate our edge presents (root and intermediates) on their edge; check that our certificate covers {our_domain}'s SRV target"
            ),
            _ if reason == Reason::SipRefused => format!(
                "ask the partner to allow federation with {our_domain} (allowed domains / external access); check that our SRV target and our edge's certificate name match {our_domain} (strict name matching)"
            ),
            _ => "ask the partner what their edge logged for our request; the status and ms-diagnostics above name its reason".into(),
        };
        return fail(reason, message, hint);
    }
    from.map(|f| Verdict::Pass(format!("the partner's edge accepts SIP from {f}").into()))
}

#[cfg(test)]
mod tests {
    use crate::facts::{EndpointFacts as E, MsDiagnostics, PeerAlert, Reason};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::Critical as C;
    use crate::judge::test_facts::{Judge, at, fails, passes, table};

    const A: &str = "193.99.144.80:5061";
    const FROM: &str = "sipfed-monitor@zahnfee.de";

    /// An edge answering `status` to OPTIONS sent as the tenant.
    fn answers(status: Result<u16, Reason>) -> E {
        let mut e = E::serving(A, Vec::new()).sip(status);
        if let Some(s) = &mut e.sip {
            s.from = Some(FROM.into());
        }
        e
    }

    #[test]
    #[rustfmt::skip]
    fn sip_accepts_us() {
        let peer = Judge::peer;
        let mut table_cases = vec![
            ("200 OK", peer(), at(answers(Ok(200))), passes(C)),
            ("202", peer(), at(answers(Ok(202))), passes(C)),
            ("own domain: not judged", Judge::own("sip.kanzlei.de"), at(answers(Ok(403))), None),
            ("sent from the placeholder", peer(), at(E::serving(A, Vec::new()).sip(Ok(403))), None),
            ("no SIP answer: sip_options says so", peer(), at(answers(Err(Reason::Timeout))), None),
            ("refused over our certificate", peer(), at(answers(Err(Reason::HandshakeFailure)).rejected_after(PeerAlert::UnknownCa)), None),
            ("OPTIONS not sent", peer(), at(E::serving(A, Vec::new())), None),
        ];
        for code in [404, 480, 486, 604] {
            table_cases.push(("no such user: through the federation layer", peer(), at(answers(Ok(code))), passes(C)));
        }
        for code in [401, 403, 407, 603] {
            table_cases.push(("refused", peer(), at(answers(Ok(code))), fails(C, Reason::SipRefused)));
        }
        for code in [400, 488, 500, 503, 606] {
            table_cases.push(("another error", peer(), at(answers(Ok(code))), fails(C, Reason::SipError)));
        }
        table(N::SipAcceptsUs, table_cases);
    }

    /// The message names the status, the ms-diagnostics code and reason and what they
    /// usually mean; the hint says what to ask for.
    #[test]
    fn a_refusal_says_what_it_usually_means() {
        let judge = Judge::peer();
        let mut e = answers(Ok(403));
        let sip = e.sip.as_mut().unwrap();
        sip.detail = "SIP/2.0 403 Forbidden".into();
        sip.diagnostics = Some(MsDiagnostics {
            code: 1047,
            reason: "Failed to complete TLS negotiation with a federated peer server".into(),
            source: Some("sip.partner.example".into()),
        });
        let f = judge.check(&at(e.clone()), N::SipAcceptsUs).unwrap();
        assert_eq!(
            f.message,
            "OPTIONS from sipfed-monitor@zahnfee.de to 193.99.144.80:5061 (sip.kanzlei.de): SIP/2.0 403 Forbidden; ms-diagnostics 1047 \"Failed to complete TLS negotiation with a federated peer server\" from sip.partner.example: they do not trust our certificate: their edge could not complete TLS with our edge as a federated peer"
        );
        assert!(
            f.hint
                .contains("trust the CA of the certificate our edge presents"),
            "{}",
            f.hint
        );
        // Without diagnostics, the status's usual meaning, and the domain to be allowed.
        e.sip.as_mut().unwrap().diagnostics = None;
        let f = judge.check(&at(e), N::SipAcceptsUs).unwrap();
        assert!(f.message.ends_with("not on their allow list or is blocked, or (strict DNS name matching on Skype for Business/Lync) our SRV target or certificate does not match our domain"), "{}", f.message);
        assert!(
            f.hint
                .contains(": ask the partner to allow federation with zahnfee.de"),
            "{}",
            f.hint
        );
    }
}
