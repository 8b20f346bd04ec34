//! Judging: every check of SPEC §5 as a pure function of `Facts`, the domain's configuration,
//! the trust store and the current time. A check that does not apply returns `None`.

use std::net::IpAddr;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, Error as TlsError};
use serde::Serialize;

use crate::cert::{self, NameCoverage};
use crate::config::{Domain, Federation, Role};
use crate::facts::{CertFacts, DnsFailure, EndpointFacts, Facts, Reason, TargetFacts};
use crate::m365::{self, Platform};

/// How bad a failing check is; decided by the check and the domain's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The verdict of one check for one (domain, vantage).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    pub passed: bool,
    /// Set exactly when the check failed.
    pub reason: Option<Reason>,
    /// One line saying what was found.
    pub message: String,
    /// What to do about it (empty when passed).
    pub hint: String,
}

/// What a check function says before role and severity are attached.
pub enum Verdict {
    Pass(String),
    Fail {
        reason: Reason,
        message: String,
        hint: String,
    },
}

fn pass(message: impl Into<String>) -> Option<Verdict> {
    Some(Verdict::Pass(message.into()))
}

fn fail(reason: Reason, message: impl Into<String>, hint: impl Into<String>) -> Option<Verdict> {
    Some(Verdict::Fail {
        reason,
        message: message.into(),
        hint: hint.into(),
    })
}

/// Everything a check may look at.
pub struct Context<'a> {
    pub facts: &'a Facts,
    pub domain: &'a Domain,
    /// Unix seconds; a parameter so tests can travel in time.
    pub now: i64,
    pub trust: &'a WebPkiServerVerifier,
    pub cert_warning_days: u32,
    /// Certificates of the domain's `cert_file`, when configured and readable.
    pub stored_certs: Option<&'a [CertFacts]>,
    /// The vantage is on the internet side: addresses seen there must be globally routable.
    pub vantage_public: bool,
}

/// One row of the checks table.
pub struct Check {
    pub name: &'static str,
    pub own: Option<Severity>,
    pub peer: Option<Severity>,
    pub run: fn(&Context<'_>) -> Option<Verdict>,
}

use Severity::{Critical as C, Info as I, Warning as W};

/// The checks table (SPEC §5). Order is the order of the checklist.
#[rustfmt::skip]
pub const CHECKS: &[Check] = &[
    Check { name: "srv_present",            own: Some(C),  peer: Some(C),  run: srv_present },
    Check { name: "srv_port_5061",          own: Some(W),  peer: Some(W),  run: srv_port_5061 },
    Check { name: "srv_target_in_domain",   own: Some(C),  peer: Some(W),  run: srv_target_in_domain },
    Check { name: "srv_target_expected",    own: Some(C),  peer: None,     run: srv_target_expected },
    Check { name: "srv_target_not_alias",   own: Some(W),  peer: Some(W),  run: srv_target_not_alias },
    Check { name: "target_resolves",        own: Some(C),  peer: Some(C),  run: target_resolves },
    Check { name: "target_public_address",  own: Some(C),  peer: Some(W),  run: target_public_address },
    Check { name: "authoritative_agree",    own: Some(W),  peer: None,     run: crate::authoritative::check },
    Check { name: "resolvers_agree",        own: Some(W),  peer: Some(W),  run: resolvers_agree },
    Check { name: "tcp_connect",            own: Some(C),  peer: Some(C),  run: tcp_connect },
    Check { name: "tls_handshake",          own: Some(C),  peer: Some(C),  run: tls_handshake },
    Check { name: "tls_min_version",        own: Some(C),  peer: Some(W),  run: tls_min_version },
    Check { name: "cert_trusted",           own: Some(C),  peer: Some(C),  run: cert_trusted },
    Check { name: "cert_name_match",        own: Some(C),  peer: Some(C),  run: cert_name_match },
    Check { name: "cert_not_wildcard",      own: Some(C),  peer: Some(I),  run: cert_not_wildcard },
    Check { name: "cert_valid_now",         own: Some(C),  peer: Some(C),  run: cert_valid_now },
    Check { name: "cert_expiry",            own: Some(W),  peer: Some(W),  run: cert_expiry },
    Check { name: "cert_server_auth",       own: Some(C),  peer: Some(C),  run: cert_server_auth },
    Check { name: "cert_client_auth",       own: Some(W),  peer: Some(I),  run: cert_client_auth },
    Check { name: "cert_same_everywhere",   own: Some(W),  peer: Some(W),  run: cert_same_everywhere },
    Check { name: "cert_renewal_activated", own: Some(W),  peer: None,     run: cert_renewal_activated },
    Check { name: "sip_options",            own: Some(W),  peer: Some(W),  run: sip_options },
    Check { name: "teams_federation_srv",   own: None,     peer: Some(C),  run: teams_federation_srv },
    Check { name: "teams_lyncdiscover",     own: Some(W),  peer: Some(W),  run: teams_lyncdiscover },
    Check { name: "teams_conflict",         own: Some(W),  peer: None,     run: teams_conflict },
];

/// Runs every check that applies to the domain's role and to what the facts hold.
pub fn judge(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::with_capacity(CHECKS.len());
    for check in CHECKS {
        let severity = match ctx.domain.role {
            Role::Own => check.own,
            Role::Peer => check.peer,
        };
        let Some(severity) = severity else { continue };
        let Some(verdict) = (check.run)(ctx) else {
            continue;
        };
        out.push(match verdict {
            Verdict::Pass(message) => Finding {
                check: check.name,
                severity,
                passed: true,
                reason: None,
                message,
                hint: String::new(),
            },
            Verdict::Fail {
                reason,
                message,
                hint,
            } => Finding {
                check: check.name,
                severity,
                passed: false,
                reason: Some(reason),
                message,
                hint,
            },
        });
    }
    out
}

/// The result of a whole probe: success unless a critical check failed.
pub fn probe_success(findings: &[Finding]) -> bool {
    !findings
        .iter()
        .any(|f| !f.passed && f.severity == Severity::Critical)
}

impl Context<'_> {
    fn srv_name(&self) -> String {
        format!("_sipfederationtls._tcp.{}.", self.domain.name)
    }

    /// SRV records with a real target (a target of "." means "no service", RFC 2782).
    fn srv_records(&self) -> Vec<&crate::facts::SrvRecord> {
        self.facts
            .srv
            .as_ref()
            .map(|s| {
                s.records()
                    .iter()
                    .filter(|r| !r.target.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn endpoints(&self) -> impl Iterator<Item = (&TargetFacts, &EndpointFacts)> {
        self.facts
            .targets
            .iter()
            .flat_map(|t| t.endpoints.iter().map(move |e| (t, e)))
    }

    /// Endpoints that presented a parsable leaf certificate.
    fn leaves(&self) -> impl Iterator<Item = (&TargetFacts, &EndpointFacts, &CertFacts)> {
        self.endpoints()
            .filter_map(|(t, e)| e.leaf().map(|l| (t, e, l)))
    }

    fn is_own(&self) -> bool {
        self.domain.role == Role::Own
    }
}

fn srv_present(ctx: &Context<'_>) -> Option<Verdict> {
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

fn srv_port_5061(ctx: &Context<'_>) -> Option<Verdict> {
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
fn in_domain(target: &str, domain: &str) -> bool {
    target == domain
        || target
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == domain)
}

fn srv_target_in_domain(ctx: &Context<'_>) -> Option<Verdict> {
    let records = ctx.srv_records();
    if records.is_empty() {
        return None;
    }
    let bad = records.iter().find(|r| {
        m365::classify_target(&r.target) == Platform::SelfHosted
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

fn srv_target_expected(ctx: &Context<'_>) -> Option<Verdict> {
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

fn srv_target_not_alias(ctx: &Context<'_>) -> Option<Verdict> {
    if ctx.facts.targets.is_empty() || ctx.facts.srv.is_none() {
        return None;
    }
    let alias = ctx
        .facts
        .targets
        .iter()
        .find(|t| m365::classify_target(&t.name) == Platform::SelfHosted && t.cname.is_some());
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

fn target_resolves(ctx: &Context<'_>) -> Option<Verdict> {
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

fn target_public_address(ctx: &Context<'_>) -> Option<Verdict> {
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

fn resolvers_agree(ctx: &Context<'_>) -> Option<Verdict> {
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

fn tcp_connect(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        any = true;
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

fn tls_handshake(ctx: &Context<'_>) -> Option<Verdict> {
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

fn tls_min_version(ctx: &Context<'_>) -> Option<Verdict> {
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

/// Outcome of verifying a presented chain against the trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    Untrusted(Reason),
}

/// Verifies the presented chain to a trusted root, ignoring the name and (when the only
/// problem is time) the validity period: those are judged by their own checks.
pub fn verify_chain(
    verifier: &WebPkiServerVerifier,
    chain: &[CertFacts],
    host: &str,
    now: i64,
) -> Trust {
    let Some(leaf) = chain.first() else {
        return Trust::Untrusted(Reason::Untrusted);
    };
    let Some(details) = &leaf.parsed else {
        return Trust::Untrusted(Reason::MalformedCertificate);
    };
    let end = CertificateDer::from(leaf.der.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let name = ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
        ServerName::try_from("invalid.invalid".to_string()).expect("static name")
    });
    let at = |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
    let mut result = verifier.verify_server_cert(&end, &intermediates, &name, &[], at(now));
    if let Err(TlsError::InvalidCertificate(
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. },
    )) = &result
    {
        // Judge trust at a moment the leaf was valid.
        let mid = details.not_before + (details.not_after - details.not_before) / 2;
        result = verifier.verify_server_cert(&end, &intermediates, &name, &[], at(mid));
    }
    match result {
        Ok(_) => Trust::Trusted,
        Err(TlsError::InvalidCertificate(e)) => match e {
            CertificateError::NotValidForName
            | CertificateError::NotValidForNameContext { .. }
            | CertificateError::InvalidPurpose
            | CertificateError::InvalidPurposeContext { .. } => Trust::Trusted,
            CertificateError::UnknownIssuer if details.self_signed => {
                Trust::Untrusted(Reason::SelfSigned)
            }
            CertificateError::UnknownIssuer if chain.len() == 1 => {
                Trust::Untrusted(Reason::IncompleteChain)
            }
            CertificateError::BadEncoding => Trust::Untrusted(Reason::MalformedCertificate),
            _ => Trust::Untrusted(Reason::Untrusted),
        },
        Err(_) => Trust::Untrusted(Reason::Untrusted),
    }
}

fn cert_trusted(ctx: &Context<'_>) -> Option<Verdict> {
    let mut any = false;
    for (t, e) in ctx.endpoints() {
        if e.chain.is_empty() {
            continue;
        }
        any = true;
        if let Trust::Untrusted(reason) = verify_chain(ctx.trust, &e.chain, &t.name, ctx.now) {
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

fn each_leaf(
    ctx: &Context<'_>,
    mut judge: impl FnMut(&TargetFacts, &EndpointFacts, &crate::facts::CertDetails) -> Option<Verdict>,
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

fn cert_name_match(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |t, e, d| {
            if cert::coverage(&d.dns_names, &t.name) == NameCoverage::None {
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

fn cert_not_wildcard(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |t, e, d| {
            if cert::coverage(&d.dns_names, &t.name) == NameCoverage::Wildcard {
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

fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| ts.to_string())
}

fn cert_valid_now(ctx: &Context<'_>) -> Option<Verdict> {
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

fn cert_expiry(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.now;
    let warn_days = i64::from(ctx.cert_warning_days);
    let has_store = ctx.stored_certs.is_some();
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
        let stale_acme = cert::is_acme_issuer(d) && !has_store && left < lifetime / 4;
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

fn cert_server_auth(ctx: &Context<'_>) -> Option<Verdict> {
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

fn cert_client_auth(ctx: &Context<'_>) -> Option<Verdict> {
    each_leaf(
        ctx,
        |_, e, d| match d.eku {
            Some(k) if !k.client_auth && !k.any => {
                let mut message = format!(
                    "certificate at {} lacks the clientAuth extended key usage",
                    e.address
                );
                if cert::is_lets_encrypt(d) {
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

fn cert_same_everywhere(ctx: &Context<'_>) -> Option<Verdict> {
    // Addresses behind one target name must serve one certificate; different targets may
    // legitimately have their own.
    let mut compared = 0;
    for t in &ctx.facts.targets {
        let leaves: Vec<(&EndpointFacts, &CertFacts)> = t
            .endpoints
            .iter()
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

fn cert_renewal_activated(ctx: &Context<'_>) -> Option<Verdict> {
    let stored = ctx.stored_certs?;
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
                    && cert::coverage(&d.dns_names, &t.name) != NameCoverage::None
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
    let message = if stored.iter().any(|c| c.parsed.is_some()) {
        "the served certificate is the newest in the store"
    } else {
        "cert_file holds no readable certificate: nothing to compare the served one with"
    };
    any.then(|| Verdict::Pass(message.into()))
}

fn sip_options(ctx: &Context<'_>) -> Option<Verdict> {
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

fn srv_record_text(domain: &str, target: &str) -> String {
    format!("_sipfederationtls._tcp.{domain}. 3600 IN SRV 100 1 5061 {target}.")
}

fn teams_federation_srv(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    if ctx.domain.federation != Federation::Open || !m.evidence() {
        return None;
    }
    // A failed lookup (SERVFAIL, timeout) says nothing about the record; srv_present reports it.
    let srv = ctx.facts.srv.as_ref()?;
    if let Some(Err(e)) = srv.primary()
        && !matches!(e, DnsFailure::Nxdomain | DnsFailure::Nodata)
    {
        return None;
    }
    let cloud = m365::tenant_cloud(m);
    let want = cloud.sipfed_target().unwrap_or("sipfed.online.lync.com");
    let records = ctx.srv_records();
    let name = ctx.srv_name();
    if records.is_empty() {
        return fail(
            Reason::MissingSrv,
            format!(
                "{} is a Microsoft 365 tenant without {name}",
                ctx.domain.name
            ),
            format!(
                "Microsoft creates this record only when it hosts the domain's DNS; at an outside DNS provider add it by hand: {}",
                srv_record_text(&ctx.domain.name, want)
            ),
        );
    }
    if let Some(r) = records
        .iter()
        .find(|r| m365::classify_target(&r.target) != Platform::SelfHosted)
    {
        // A GCC High tenant federating through the commercial edge (or the reverse) is not found.
        let srv_cloud = m365::classify_target(&r.target);
        if let Some(c) = m365::sip_cloud(m)
            && c != srv_cloud
        {
            return fail(
                Reason::WrongCloud,
                format!(
                    "{name} points to {} ({}) but the tenant's Skype/Teams records are in {}",
                    r.target,
                    srv_cloud.as_str(),
                    c.as_str()
                ),
                format!(
                    "publish {} instead",
                    srv_record_text(&ctx.domain.name, want)
                ),
            );
        }
        return pass(format!("{name} points to Microsoft ({})", r.target));
    }
    if m.microsoft_sip_records() {
        return fail(
            Reason::SelfHostedTarget,
            format!(
                "{} is a Teams tenant (lyncdiscover/sip point to Microsoft) but {name} points to {}",
                ctx.domain.name, records[0].target
            ),
            format!(
                "if Teams serves this domain, publish {}; if the partner runs its own server, it must remove its Microsoft lyncdiscover/sip records",
                srv_record_text(&ctx.domain.name, want)
            ),
        );
    }
    pass(format!(
        "{} uses Microsoft 365 but federates through its own server {}",
        ctx.domain.name, records[0].target
    ))
}

fn teams_lyncdiscover(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    let target = m.lyncdiscover.as_deref()?;
    // Without Microsoft 365 a lyncdiscover record to an on-premises Skype server is correct.
    if !m.evidence() {
        return None;
    }
    let name = format!("lyncdiscover.{}", ctx.domain.name);
    if m365::is_microsoft_host(target) {
        return pass(format!("{name} points to Microsoft ({target})"));
    }
    let shown = if target.is_empty() {
        "a self-hosted address"
    } else {
        target
    };
    fail(
        Reason::NotMicrosoft,
        format!("{name} points to {shown}, not to Microsoft"),
        format!(
            "a lyncdiscover record that is not Microsoft's puts a Teams tenant into Islands mode: point it to webdir.online.lync.com. or remove it: {name}. 3600 IN CNAME webdir.online.lync.com."
        ),
    )
}

fn teams_conflict(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    let records = ctx.srv_records();
    if !records
        .iter()
        .any(|r| m365::classify_target(&r.target) == Platform::SelfHosted)
    {
        return None;
    }
    let d = &ctx.domain.name;
    let mut left = Vec::new();
    if let Some(t) = m
        .lyncdiscover
        .as_deref()
        .filter(|t| m365::is_microsoft_host(t))
    {
        left.push(format!("lyncdiscover.{d}. CNAME {t}."));
    }
    if let Some(t) = m.sip.as_deref().filter(|t| m365::is_microsoft_host(t)) {
        left.push(format!("sip.{d}. CNAME {t}."));
    }
    for t in m.sip_tls.iter().filter(|t| m365::is_microsoft_host(t)) {
        left.push(format!("_sip._tls.{d}. SRV … {t}."));
    }
    if left.is_empty() {
        return pass("no Microsoft SIP records left beside the self-hosted federation SRV");
    }
    fail(
        Reason::MicrosoftRecords,
        format!(
            "the federation SRV points to a self-hosted server but Microsoft records remain: {}",
            left.join("; ")
        ),
        format!(
            "Teams still answers for {d}: remove {} (and switch the tenant's federation off for this domain)",
            left.join(", ")
        ),
    )
}

/// Whether an address is globally routable (no private, loopback, link-local, CGNAT, ULA or
/// documentation range).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !is_global(IpAddr::V4(v4))))
        }
    }
}

#[cfg(test)]
mod tests {

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
    use super::*;
    use crate::facts::{M365Facts, ResolverAnswer, SrvFacts, SrvRecord};

    fn srv(answer: Result<Vec<&str>, DnsFailure>) -> SrvFacts {
        SrvFacts {
            name: "_sipfederationtls._tcp.kanzlei.de.".into(),
            answers: vec![ResolverAnswer {
                resolver: "lab".into(),
                answer: answer.map(|targets| {
                    targets
                        .into_iter()
                        .map(|t| SrvRecord {
                            priority: 100,
                            weight: 1,
                            port: 5061,
                            target: t.into(),
                        })
                        .collect()
                }),
            }],
        }
    }

    /// Runs one check on hand-built facts for `domain` (a peer unless `own`).
    fn run(
        check: fn(&Context<'_>) -> Option<Verdict>,
        own: bool,
        srv_answer: Result<Vec<&str>, DnsFailure>,
        m365: M365Facts,
    ) -> Option<(bool, Option<Reason>, String)> {
        let facts = Facts {
            srv: Some(srv(srv_answer)),
            m365: Some(m365),
            ..Facts::default()
        };
        let mut domain = Domain::peer("kanzlei.de".into(), vec!["inside".into()]);
        if own {
            domain.role = Role::Own;
        }
        let trust = crate::tls::trust_verifier(None).expect("built-in roots");
        let ctx = Context {
            facts: &facts,
            domain: &domain,
            now: 0,
            trust: &trust,
            cert_warning_days: 21,
            stored_certs: None,
            vantage_public: false,
        };
        check(&ctx).map(|v| match v {
            Verdict::Pass(m) => (true, None, m),
            Verdict::Fail {
                reason,
                message,
                hint,
            } => (false, Some(reason), format!("{message} | {hint}")),
        })
    }

    fn tenant() -> M365Facts {
        M365Facts {
            mx: vec!["kanzlei-de.mail.protection.outlook.com".into()],
            lyncdiscover: Some("webdir.online.lync.com".into()),
            sip: Some("sipdir.online.lync.com".into()),
            ..M365Facts::default()
        }
    }

    #[test]
    fn teams_federation_srv_wrong_cloud() {
        let gcch = M365Facts {
            lyncdiscover: Some("webdir.online.gov.skypeforbusiness.us".into()),
            ..M365Facts::default()
        };
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.lync.com"]),
            gcch.clone(),
        )
        .unwrap();
        assert!(!ok && reason == Some(Reason::WrongCloud), "{text}");
        assert!(
            text.contains("3600 IN SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."),
            "{text}"
        );
        let (ok, _, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.gov.skypeforbusiness.us"]),
            gcch,
        )
        .unwrap();
        assert!(ok, "{text}");
    }

    #[test]
    fn teams_federation_srv_cases() {
        let record =
            "_sipfederationtls._tcp.kanzlei.de. 3600 IN SRV 100 1 5061 sipfed.online.lync.com.";
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Err(DnsFailure::Nxdomain),
            tenant(),
        )
        .unwrap();
        assert!(
            !ok && reason == Some(Reason::MissingSrv) && text.contains(record),
            "{text}"
        );
        let (ok, ..) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.lync.com"]),
            tenant(),
        )
        .unwrap();
        assert!(ok);
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["xphone.kanzlei.de"]),
            tenant(),
        )
        .unwrap();
        assert!(!ok && reason == Some(Reason::SelfHostedTarget), "{text}");
        // Mail only: the own edge is right.
        let mail = M365Facts {
            mx: tenant().mx,
            ..M365Facts::default()
        };
        let (ok, ..) = run(
            teams_federation_srv,
            false,
            Ok(vec!["xphone.kanzlei.de"]),
            mail,
        )
        .unwrap();
        assert!(ok);
        // A broken lookup is srv_present's finding; no evidence, no check; own domains never.
        assert!(
            run(
                teams_federation_srv,
                false,
                Err(DnsFailure::Servfail),
                tenant()
            )
            .is_none()
        );
        assert!(
            run(
                teams_federation_srv,
                false,
                Err(DnsFailure::Nxdomain),
                M365Facts::default()
            )
            .is_none()
        );
        let gcch = M365Facts {
            lyncdiscover: Some("webdir.online.gov.skypeforbusiness.us".into()),
            ..M365Facts::default()
        };
        let (_, _, text) = run(teams_federation_srv, false, Err(DnsFailure::Nodata), gcch).unwrap();
        assert!(
            text.contains("SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."),
            "{text}"
        );
    }

    #[test]
    fn teams_lyncdiscover_and_conflict_cases() {
        let ok = |m: M365Facts| run(teams_lyncdiscover, false, Ok(vec![]), m).map(|v| v.0);
        assert_eq!(ok(tenant()), Some(true));
        assert_eq!(ok(M365Facts::default()), None);
        let own_name = M365Facts {
            lyncdiscover: Some("lync.kanzlei.de".into()),
            ..tenant()
        };
        assert_eq!(ok(own_name), Some(false));
        let address = M365Facts {
            lyncdiscover: Some(String::new()),
            ..tenant()
        };
        assert_eq!(ok(address), Some(false));

        let (passed, reason, text) = run(
            teams_conflict,
            true,
            Ok(vec!["xphone.kanzlei.de"]),
            tenant(),
        )
        .unwrap();
        assert!(!passed && reason == Some(Reason::MicrosoftRecords));
        assert!(text.contains("lyncdiscover.kanzlei.de. CNAME webdir.online.lync.com."));
        let clean = M365Facts {
            mx: tenant().mx,
            ..M365Facts::default()
        };
        let (passed, ..) = run(teams_conflict, true, Ok(vec!["xphone.kanzlei.de"]), clean).unwrap();
        assert!(passed);
        // SRV to Microsoft: the domain is a tenant, nothing conflicts.
        assert!(
            run(
                teams_conflict,
                true,
                Ok(vec!["sipfed.online.lync.com"]),
                tenant()
            )
            .is_none()
        );
    }
}
