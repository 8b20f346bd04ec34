//! Reachability checks: TCP connect, TLS handshake and version at every address, and SIP
//! OPTIONS answered over the TLS connection.

use super::{Context, Verdict, fail};
use crate::facts::Reason;

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
            Some(Err(f)) => {
                return fail(
                    f.reason,
                    format!(
                        "TLS handshake with {} ({}) failed: {}",
                        e.address, t.name, f.detail
                    ),
                    "the port accepts TCP but does not complete TLS: is it the federation server's TLS port, and does it have a certificate selected?",
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
                if t.version != "TLS 1.2" && t.version != "TLS 1.3" {
                    return fail(
                        Reason::ProtocolVersion,
                        format!("{} negotiated {}", e.address, t.version),
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

pub(super) fn sip_options(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        let Some(sip) = &e.sip else { continue };
        any = true;
        if let Err(reason) = sip.status {
            return fail(
                reason,
                format!("OPTIONS to {} ({}): {}", e.address, t.name, sip.detail),
                "the TLS port does not answer SIP: check that the federation service runs behind it (and not a proxy or another service)",
            );
        }
    }
    any.then(|| Verdict::Pass("every address answers SIP OPTIONS".into()))
}
