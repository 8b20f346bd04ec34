//! Reachability checks, as a partner's edge experiences them: TCP connect and TLS handshake
//! per preferred target (an address that works is enough: edges try a pool's addresses in
//! turn), the redundancy behind it (every address, backup targets too), the TLS version at
//! every address, and SIP OPTIONS answered over the TLS connection.

use super::{Context, Verdict, fail};
use crate::facts::{EndpointFacts, Reason, TargetFacts, TlsVersion};

/// Whether partners' edges use `t` first: a target of the SRV records of the lowest priority
/// value (every target of a direct route). They try its addresses in turn, but never fall
/// back to a record of a higher value.
fn preferred(ctx: &Context<'_>, t: &TargetFacts) -> bool {
    let records = ctx.srv_records();
    let Some(lowest) = records.iter().map(|r| r.priority).min() else {
        return true;
    };
    records.iter().any(|r| {
        r.priority == lowest
            && r.port == t.port
            && r.target.trim_end_matches('.').eq_ignore_ascii_case(&t.name)
    })
}

/// The addresses of `t` the exporter looked at (evidence about the partner).
fn looked(t: &TargetFacts) -> impl Iterator<Item = &EndpointFacts> {
    t.endpoints.iter().filter(|e| e.looked())
}

/// Whether an address works as a partner's edge needs it: TCP and TLS, or a session that
/// ended over our client certificate (`client_cert_accepted`'s verdict, not this one's).
fn works(e: &EndpointFacts) -> bool {
    e.tcp.is_ok() && (e.up() || e.client_cert_refusal().is_some())
}

/// A handshake that failed because the edge refused our client certificate (a TLS 1.2
/// alert during it): `client_cert_accepted`'s verdict, no evidence about TLS itself.
fn refused_handshake(e: &EndpointFacts) -> bool {
    matches!(e.tls, Some(Err(_))) && e.client_cert_refusal().is_some()
}

/// `address: reason` for each address of `t` that failed, for messages.
fn failures(t: &TargetFacts, reason: impl Fn(&EndpointFacts) -> Option<String>) -> String {
    looked(t)
        .filter_map(|e| Some(format!("{} {}", e.address, reason(e)?)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn tcp_connect(ctx: &Context<'_>) -> Option<Verdict> {
    for (t, e) in ctx.endpoints() {
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
    }
    let mut any = false;
    for t in ctx.facts.targets.iter().filter(|t| preferred(ctx, t)) {
        let Some(first) = looked(t).next() else {
            continue;
        };
        any = true;
        if looked(t).any(|e| e.tcp.is_ok()) {
            continue;
        }
        let hint = if ctx.is_own() {
            "check that the firewall forwards TCP 5061 to the federation server and that it listens"
        } else {
            "check the outbound firewall for TCP 5061; if it is open, the partner's edge is down or not forwarded"
        };
        let reason = first.tcp.err().unwrap_or(Reason::ConnectError);
        let message = if looked(t).count() == 1 {
            format!(
                "{} ({}) does not accept TCP: {}",
                first.address,
                t.name,
                reason.as_str()
            )
        } else {
            let dead = failures(t, |e| e.tcp.err().map(|r| r.as_str().to_string()));
            format!(
                "no address of the preferred target {} accepts TCP: {dead}",
                t.name
            )
        };
        return fail(reason, message, hint);
    }
    let all = ctx.endpoints().all(|(_, e)| e.tcp.is_ok());
    any.then(|| {
        Verdict::Pass(if all {
            "every address accepts TCP".into()
        } else {
            "every preferred target has an address that accepts TCP".into()
        })
    })
}

pub(super) fn tls_handshake(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for t in ctx.facts.targets.iter().filter(|t| preferred(ctx, t)) {
        // Addresses where TLS was tried, but not a handshake refused over our client
        // certificate (TLS 1.2: `client_cert_accepted`'s verdict). A TLS 1.3 refusal comes
        // after the handshake completed: that handshake counts.
        let tried = || looked(t).filter(|e| e.tls.is_some() && !refused_handshake(e));
        let Some(first) = tried().find(|e| !e.up()) else {
            any |= tried().next().is_some();
            continue;
        };
        any = true;
        if tried().any(|e| e.up()) {
            continue;
        }
        let Some(Err(f)) = &first.tls else { continue };
        let message = if tried().count() == 1 {
            format!(
                "TLS handshake with {} ({}) failed: {}",
                first.address, t.name, f.detail
            )
        } else {
            let failed = failures(t, |e| match &e.tls {
                Some(Err(f)) if e.client_cert_refusal().is_none() => Some(f.detail.clone()),
                _ => None,
            });
            format!(
                "TLS handshake fails at every address of the preferred target {}: {failed}",
                t.name
            )
        };
        let hint = if f.reason == Reason::NoSharedCipher {
            "the edge offers only cipher suites this probe lacks (CBC or static-RSA key exchange): enable TLS 1.3 or ECDHE with AES-GCM for TLS 1.2 on the federation server (what partners' edges offer differs: this says what our probe cannot use, not that every partner fails)"
        } else {
            "the port accepts TCP but does not complete TLS: is it the federation server's TLS port, and does it have a certificate selected?"
        };
        return fail(f.reason, message, hint);
    }
    let all = ctx
        .endpoints()
        .all(|(_, e)| e.tls.is_none() || e.up() || e.client_cert_refusal().is_some());
    any.then(|| {
        Verdict::Pass(if all {
            "TLS handshake completes at every address".into()
        } else {
            "TLS handshake completes at an address of every preferred target".into()
        })
    })
}

pub(super) fn edge_redundancy(ctx: &Context<'_>) -> Option<Verdict> {
    let (mut any, mut dead_preferred) = (false, None);
    for t in &ctx.facts.targets {
        let preferred = preferred(ctx, t);
        // A preferred target without a working address is `tcp_connect`'s or
        // `tls_handshake`'s finding: one fault, one finding.
        if preferred && !looked(t).any(works) {
            dead_preferred.get_or_insert(t.name.as_str());
            continue;
        }
        for e in looked(t) {
            any = true;
            if works(e) || e.tcp == Err(Reason::ForbiddenAddress) {
                continue;
            }
            let (reason, what) = match (&e.tcp, &e.tls) {
                (Err(r), _) => (*r, format!("does not accept TCP: {}", r.as_str())),
                (Ok(_), Some(Err(f))) => (f.reason, format!("does not complete TLS: {}", f.detail)),
                _ => (Reason::ConnectError, "does not work".into()),
            };
            let (message, hint) = if preferred {
                (
                    format!(
                        "{} of {} {what}: a partner's edge that picks this address waits for its timeout before it tries another",
                        e.address, t.name
                    ),
                    "bring the address back or take it out of the target's A/AAAA records (a pool member in maintenance)",
                )
            } else {
                (
                    format!(
                        "{} of the backup target {} {what}: a partner that falls back to it fails (Skype for Business edges never fall back to a higher SRV priority value)",
                        e.address, t.name
                    ),
                    "bring the backup edge up or remove its SRV record, so the fallback is real",
                )
            };
            return fail(reason, message, hint);
        }
    }
    // The pass must not claim what the skipped target disproves.
    any.then(|| match dead_preferred {
        None => Verdict::Pass("every address of every target accepts TCP and completes TLS".into()),
        Some(dead) => Verdict::Pass(
            format!("every address of the other targets accepts TCP and completes TLS (the preferred target {dead} works at none of its addresses: see tcp_connect and tls_handshake)")
                .into(),
        ),
    })
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
    const BACKUP: &str = "sip2.kanzlei.de";
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

    fn up_at(address: &str) -> E {
        E::serving(address, Vec::new())
    }

    /// A preferred target (priority 10) at `a` and a backup target (priority 20) at `b`.
    fn backup(a: E, b: E) -> Facts {
        Facts::test()
            .srv_records(&[(10, SIP, 5061), (20, BACKUP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(a)
            .target(BACKUP, 5061, &["193.99.144.81"])
            .endpoint(b)
    }

    #[test]
    #[rustfmt::skip]
    fn tcp_connect() {
        table(
            N::TcpConnect,
            vec![
                ("both accept", peer(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("both accept, own", own(), at(up(), E::serving(B, Vec::new())), passes(C)),
                ("one of a pool refuses: edges fail over", peer(), at(up(), E::refused(B, Reason::ConnectionRefused)), passes(C)),
                ("the whole pool refuses", peer(), at(E::refused(A, Reason::ConnectionRefused), E::refused(B, Reason::Timeout)), fails(C, Reason::ConnectionRefused)),
                ("the whole pool times out, own", own(), at(E::refused(A, Reason::Timeout), E::refused(B, Reason::Timeout)), fails(C, Reason::Timeout)),
                ("dead preferred target, live backup", peer(), backup(E::refused(A, Reason::ConnectionRefused), up_at(B)), fails(C, Reason::ConnectionRefused)),
                ("live preferred target, dead backup", peer(), backup(up(), E::refused(B, Reason::ConnectionRefused)), passes(C)),
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
                ("fails at one address of a pool", peer(), at(up(), E::tls_failed(B, Reason::HandshakeFailure)), passes(C)),
                ("fails at every address of the pool", peer(), at(E::tls_failed(A, Reason::HandshakeFailure), E::tls_failed(B, Reason::Closed)), fails(C, Reason::HandshakeFailure)),
                ("closed where TCP works, own", own(), at(E::refused(A, Reason::Timeout), E::tls_failed(B, Reason::Closed)), fails(C, Reason::Closed)),
                ("fails at the preferred target, backup fine", peer(), backup(E::tls_failed(A, Reason::HandshakeFailure), up_at(B)), fails(C, Reason::HandshakeFailure)),
                ("no shared cipher suite at every address", peer(), at(E::tls_failed(A, Reason::NoSharedCipher), E::tls_failed(B, Reason::NoSharedCipher)), fails(C, Reason::NoSharedCipher)),
                ("TCP never connected", peer(), at(E::refused(A, Reason::ConnectionRefused), E::refused(B, Reason::Timeout)), None),
            ],
        );
        // The hint says what our probe lacks, not that the port is no TLS port.
        let f = peer().check(&at(E::tls_failed(A, Reason::NoSharedCipher), E::tls_failed(B, Reason::NoSharedCipher)), N::TlsHandshake).expect("judged");
        assert!(f.hint.contains("cipher suites this probe lacks (CBC or static-RSA"), "{}", f.hint);
    }

    #[test]
    #[rustfmt::skip]
    fn edge_redundancy() {
        table(
            N::EdgeRedundancy,
            vec![
                ("every address works", peer(), at(up(), up_at(B)), passes(W)),
                ("every address works, both targets", own(), backup(up(), up_at(B)), passes(W)),
                ("a dead address of a pool", peer(), at(up(), E::refused(B, Reason::ConnectionRefused)), fails(W, Reason::ConnectionRefused)),
                ("a pool address without TLS, own", own(), at(E::tls_failed(A, Reason::Closed), up_at(B)), fails(W, Reason::Closed)),
                ("a dead backup target", peer(), backup(up(), E::refused(B, Reason::Timeout)), fails(W, Reason::Timeout)),
                ("the preferred target dead: tcp_connect's finding", peer(), at(E::refused(A, Reason::ConnectionRefused), E::refused(B, Reason::Timeout)), None),
                ("the preferred target dead, backup fine: tcp_connect's", peer(), backup(E::refused(A, Reason::ConnectionRefused), up_at(B)), passes(W)),
                ("no endpoint", peer(), Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &[]), None),
            ],
        );
    }

    /// A dead preferred target is `tcp_connect`'s finding, and the pass beside it does not
    /// claim that every address works (the interop test's backup.test said so).
    #[test]
    fn redundancy_pass_beside_a_dead_preferred_target_names_it() {
        let f = peer()
            .check(
                &backup(E::refused(A, Reason::ConnectionRefused), up_at(B)),
                N::EdgeRedundancy,
            )
            .unwrap();
        assert!(f.passed);
        assert_eq!(
            f.message,
            "every address of the other targets accepts TCP and completes TLS (the preferred target sip.kanzlei.de works at none of its addresses: see tcp_connect and tls_handshake)"
        );
    }

    /// The messages name the address, the target and what a partner's edge then does.
    #[test]
    fn redundancy_messages_name_address_and_target() {
        let f = peer()
            .check(
                &backup(up(), E::refused(B, Reason::Timeout)),
                N::EdgeRedundancy,
            )
            .unwrap();
        assert_eq!(
            f.message,
            "193.99.144.81:5061 of the backup target sip2.kanzlei.de does not accept TCP: timeout: a partner that falls back to it fails (Skype for Business edges never fall back to a higher SRV priority value)"
        );
        let f = peer()
            .check(
                &at(up(), E::refused(B, Reason::ConnectionRefused)),
                N::EdgeRedundancy,
            )
            .unwrap();
        assert_eq!(
            f.message,
            "193.99.144.81:5061 of sip.kanzlei.de does not accept TCP: connection_refused: a partner's edge that picks this address waits for its timeout before it tries another"
        );
        let f = peer()
            .check(
                &at(
                    E::refused(A, Reason::ConnectionRefused),
                    E::refused(B, Reason::Timeout),
                ),
                N::TcpConnect,
            )
            .unwrap();
        assert_eq!(
            f.message,
            "no address of the preferred target sip.kanzlei.de accepts TCP: 193.99.144.80:5061 connection_refused, 193.99.144.81:5061 timeout"
        );
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
