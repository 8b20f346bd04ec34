//! Reachability checks: TCP connect, TLS handshake and version at every address, and SIP
//! OPTIONS answered over the TLS connection.

use super::{Context, Verdict, fail};
use crate::facts::{EndpointFacts, Reason, TlsVersion};

pub(super) fn tcp_connect(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        any = true;
        if e.tcp == Err(Reason::ForbiddenAddress) {
            return fail(
                Reason::ForbiddenAddress,
                format!(
                    "{} ({}) is an address the exporter never connects to from this vantage",
                    e.address, t.name
                ),
                "the target's A/AAAA record points at no server on the Internet (unspecified, multicast, broadcast, link-local, or not globally routable on a public vantage): publish the edge's public address",
            );
        }
        if let Err(r) = e.tcp {
            let hint = if ctx.is_own() {
                "check that the firewall forwards TCP 5061 to the federation server and that it listens"
            } else {
                "check the outbound firewall for TCP 5061; if it is open, the partner's edge is down or not forwarded"
            };
            return fail(
                r,
                format!(
                    "{} ({}) does not accept TCP: {}",
                    e.address,
                    t.name,
                    r.as_str()
                ),
                hint,
            );
        }
    }
    any.then(|| Verdict::Pass("every address accepts TCP".into()))
}

pub(super) fn tls_handshake(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        match &e.tls {
            None => {}
            Some(Ok(_)) => any = true,
            // Refused over our client certificate: `client_cert_accepted`'s verdict.
            Some(Err(_)) if e.client_cert_refusal().is_some() => {}
            Some(Err(f)) => {
                let hint = if f.reason == Reason::NoSharedCipher {
                    "the edge offers only cipher suites this probe lacks (CBC or static-RSA key exchange): enable TLS 1.3 or ECDHE with AES-GCM for TLS 1.2 on the federation server (what partners' edges offer differs: this says what our probe cannot use, not that every partner fails)"
                } else {
                    "the port accepts TCP but does not complete TLS: is it the federation server's TLS port, and does it have a certificate selected?"
                };
                return fail(
                    f.reason,
                    format!(
                        "TLS handshake with {} ({}) failed: {}",
                        e.address, t.name, f.detail
                    ),
                    hint,
                );
            }
        }
    }
    any.then(|| Verdict::Pass("TLS handshake completes at every address".into()))
}

pub(super) fn tls_min_version(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (_, e) in ctx.endpoints() {
        match &e.tls {
            Some(Ok(t)) => {
                any = true;
                if !matches!(t.version, TlsVersion::Tls12 | TlsVersion::Tls13) {
                    return fail(
                        Reason::ProtocolVersion,
                        format!("{} negotiated {}", e.address, t.version.as_str()),
                        "enable TLS 1.2 or 1.3 on the federation server",
                    );
                }
            }
            Some(Err(f)) if f.reason == Reason::ProtocolVersion => {
                return fail(
                    Reason::ProtocolVersion,
                    format!("{} offers no TLS 1.2 or newer", e.address),
                    "enable TLS 1.2 or 1.3 on the federation server; Microsoft and XPhone refuse older versions",
                );
            }
            _ => {}
        }
    }
    any.then(|| Verdict::Pass("TLS 1.2 or newer negotiated everywhere".into()))
}

/// Why `sip_options` counts this endpoint's OPTIONS exchange against the partner, `None`
/// when it does not: any SIP response counts as an answer, no exchange is not judged, and a
/// session ended over our client certificate is `client_cert_accepted`'s verdict. Views mark
/// the evidence from this, never from a status class of their own.
pub fn sip_failure(e: &EndpointFacts) -> Option<Reason> {
    let sip = e.sip.as_ref()?;
    if e.client_cert_refusal().is_some() {
        return None;
    }
    sip.status.err()
}

pub(super) fn sip_options(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        let Some(sip) = &e.sip else { continue };
        if e.client_cert_refusal().is_some() {
            // The session ended over our client certificate: `client_cert_accepted`'s verdict.
            continue;
        }
        any = true;
        if let Some(reason) = sip_failure(e) {
            return fail(
                reason,
                format!("OPTIONS to {} ({}): {}", e.address, t.name, sip.detail),
                "the TLS port does not answer SIP: check that the federation service runs behind it (and not a proxy or another service)",
            );
        }
    }
    any.then(|| Verdict::Pass("every address answers SIP OPTIONS".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{EndpointFacts as E, Facts};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Warning as W};
    use crate::judge::test_facts::{Judge, fails, passes, table};

    const SIP: &str = "sip.kanzlei.de";
    const A: &str = "193.99.144.80:5061";
    const B: &str = "193.99.144.81:5061";

    fn own() -> Judge {
        Judge::own(SIP)
    }

    fn peer() -> Judge {
        Judge::peer()
    }

    /// The federation server at two addresses.
    fn at(a: E, b: E) -> Facts {
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80", "193.99.144.81"])
            .endpoint(a)
            .endpoint(b)
    }

    fn up() -> E {
        E::serving(A, Vec::new())
    }

    #[test]
    #[rustfmt::skip]
    fn tcp_connect() {
        table(
            N::TcpConnect,
            vec![
                ("both accept", peer(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("both accept, own", own(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("one refuses", peer(), at(up(), E::refused(B, Reason::ConnectionRefused)), fails(C, Reason::ConnectionRefused)),
                ("one times out, own", own(), at(up(), E::refused(B, Reason::Timeout)), fails(C, Reason::Timeout)),
                ("no endpoint", peer(), Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &[]), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn tls_handshake() {
        table(
            N::TlsHandshake,
            vec![
                ("completes", peer(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("completes, own", own(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("fails at one address", peer(), at(up(), E::tls_failed(B, Reason::HandshakeFailure)), fails(C, Reason::HandshakeFailure)),
                ("closed, own", own(), at(up(), E::tls_failed(B, Reason::Closed)), fails(C, Reason::Closed)),
                ("no shared cipher suite", peer(), at(up(), E::tls_failed(B, Reason::NoSharedCipher)), fails(C, Reason::NoSharedCipher)),
                ("TCP never connected", peer(), at(E::refused(A, Reason::ConnectionRefused), E::refused(B, Reason::Timeout)), None),
            ],
        );
        // The hint says what our probe lacks, not that the port is no TLS port.
        let f = peer().check(&at(up(), E::tls_failed(B, Reason::NoSharedCipher)), N::TlsHandshake).expect("judged");
        assert!(f.hint.contains("cipher suites this probe lacks (CBC or static-RSA"), "{}", f.hint);
    }

    #[test]
    #[rustfmt::skip]
    fn tls_min_version() {
        table(
            N::TlsMinVersion,
            vec![
                ("TLS 1.3", peer(), at(up(), E::serving(B, Vec::new())), passes(W)),
                ("TLS 1.2, own", own(), at(up().version(TlsVersion::Tls12), E::serving(B, Vec::new())), passes(C)),
                ("an unknown version negotiated", peer(), at(up(), E::serving(B, Vec::new()).version(TlsVersion::Unknown)), fails(W, Reason::ProtocolVersion)),
                ("an unknown version negotiated, own", own(), at(up().version(TlsVersion::Unknown), E::serving(B, Vec::new())), fails(C, Reason::ProtocolVersion)),
                ("only old versions offered", own(), at(E::tls_failed(A, Reason::ProtocolVersion), E::refused(B, Reason::Timeout)), fails(C, Reason::ProtocolVersion)),
                ("handshake failed otherwise", peer(), at(E::tls_failed(A, Reason::HandshakeFailure), E::refused(B, Reason::Timeout)), None),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn sip_options() {
        table(
            N::SipOptions,
            vec![
                ("200 OK", peer(), at(up().sip(Ok(200)), E::serving(B, Vec::new()).sip(Ok(200))), passes(W)),
                ("any SIP response counts, own", own(), at(up().sip(Ok(405)), E::serving(B, Vec::new())), passes(W)),
                ("not SIP at one address", peer(), at(up().sip(Ok(200)), E::serving(B, Vec::new()).sip(Err(Reason::NotSip))), fails(W, Reason::NotSip)),
                ("no answer, own", own(), at(up().sip(Err(Reason::Timeout)), E::serving(B, Vec::new())), fails(W, Reason::Timeout)),
                ("OPTIONS not sent", peer(), at(up(), E::serving(B, Vec::new())), None),
            ],
        );
    }

    /// The report says per endpoint whether its SIP answer counts (what the evidence's SIP
    /// line shows): a 405 is an answer, a non-SIP reply counts against the partner, no
    /// exchange is not judged.
    #[test]
    fn the_report_says_which_sip_answers_count() {
        let report = peer().report(vec![(
            "inside",
            false,
            at(
                up().sip(Ok(405)),
                E::serving(B, Vec::new()).sip(Err(Reason::NotSip)),
            ),
        )]);
        let d = &report.vantages[0].details;
        let sip = |j| d.endpoint(0, j).map(|e| e.sip_failure);
        assert_eq!(
            (sip(0), sip(1), sip(2)),
            (Some(None), Some(Some(Reason::NotSip)), None)
        );
        let report = peer().report(vec![("inside", false, at(up(), E::serving(B, Vec::new())))]);
        assert_eq!(
            report.vantages[0]
                .details
                .endpoint(0, 0)
                .map(|e| e.sip_failure),
            Some(None)
        );
    }
}
