//! The facts behind the verdicts, as lines for people: what the domain page and
//! `check --verbose` show under each vantage. Pure: a report and the time in, lines out; the
//! views only lay the lines out (HTML list, indented terminal text).

use std::net::IpAddr;

use crate::facts::{
    AuthoritativeFacts, Blind, CertFacts, CertState, DnsFailure, EndpointFacts, Facts, M365Facts,
    ResolverAnswer, RevocationFacts, SrvFacts, SrvRecord, TargetFacts, TlsFacts, TlsFailure,
};
use crate::judge::certificate::{CertExpiry, ExpiryRule, ExpiryState};
use crate::judge::revocation::EvidenceVerdict;
use crate::judge::{EndpointVerdict, FactVerdicts, VantageReport};

/// One fact, nested under the line before it with a smaller depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 0 for a probe step (SRV, a target, Microsoft 365), one more per level below.
    pub depth: usize,
    /// Stable name of the fact (`srv_record`, `address`, `issuer`, `not_after`, `tls`, `sip`,
    /// ...): the domain page's `data-fact` attribute.
    pub key: &'static str,
    /// What people read before the text ("Issuer", "Not after").
    pub label: &'static str,
    pub text: String,
    /// The gathering step failed here (a DNS error, a refused connection, a failed handshake).
    pub failed: bool,
}

fn line(depth: usize, key: &'static str, label: &'static str, text: impl Into<String>) -> Line {
    Line {
        depth,
        key,
        label,
        text: text.into(),
        failed: false,
    }
}

fn failed(depth: usize, key: &'static str, label: &'static str, text: impl Into<String>) -> Line {
    Line {
        failed: true,
        ..line(depth, key, label, text)
    }
}

pub use crate::facts::date;

/// `2026-05-01 12:34:56 UTC`.
pub fn datetime(unix: f64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix as i64) {
        Ok(t) => format!(
            "{} {:02}:{:02}:{:02} UTC",
            date(unix as i64),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{unix}"),
    }
}

/// A duration for people: `42 s`, `5 min`, `3 h`, `2 d`.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// `2026-05-01 (12 days left)` or `2026-04-01 (expired 3 days ago)`: the judge's count, made
/// when the report was judged.
pub fn expiry(x: &CertExpiry) -> String {
    if x.state == ExpiryState::Expired {
        format!("{} (expired {} days ago)", date(x.not_after), -x.days_left)
    } else {
        format!("{} ({} days left)", date(x.not_after), x.days_left)
    }
}

/// `12 d` or `expired`: the short form of [`expiry`] for a table cell.
pub fn days_left_short(x: &CertExpiry) -> String {
    if x.state == ExpiryState::Expired {
        "expired".to_string()
    } else {
        format!("{} d", x.days_left)
    }
}

/// `warning: warns 21 days before notAfter (cert_warning_days)`: the state and the threshold
/// that applied.
pub fn expiry_rule(x: &CertExpiry) -> String {
    let seconds = x.threshold_seconds;
    let days = if seconds % 86_400 == 0 {
        format!("{}", seconds / 86_400)
    } else {
        let d = format!("{:.2}", seconds as f64 / 86_400.0);
        d.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let why = match x.rule {
        ExpiryRule::CertWarningDays => "cert_warning_days".to_string(),
        ExpiryRule::QuarterLifetime => {
            format!("a quarter of its {}-day lifetime", x.lifetime_days)
        }
    };
    format!(
        "{}: warns {days} days before notAfter ({why})",
        x.state.as_str()
    )
}

fn millis(seconds: f64) -> String {
    format!("{:.0} ms", seconds * 1000.0)
}

fn dns_failure(f: &DnsFailure) -> String {
    f.reason().as_str().to_string()
}

fn srv_record(r: &SrvRecord) -> String {
    if r.target.is_empty() {
        format!("{} {} {} . (no service)", r.priority, r.weight, r.port)
    } else {
        format!("{} {} {} {}", r.priority, r.weight, r.port, r.target)
    }
}

fn addresses(a: &[IpAddr]) -> String {
    if a.is_empty() {
        return "none".into();
    }
    a.iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `first 32 of 2000 records` when an answer had more records than are kept.
fn cut_short(kept: usize, total: Option<usize>) -> Option<String> {
    total.map(|total| format!("first {kept} of {total} records"))
}

/// Per-resolver answers: one line when all agree (naming every resolver), else one per
/// resolver; a list cut short says so.
fn answers<T>(
    out: &mut Vec<Line>,
    depth: usize,
    agree: bool,
    answers: &[ResolverAnswer<Vec<T>>],
    mut ok: impl FnMut(&mut Vec<Line>, usize, &Vec<T>),
    key: &'static str,
    label: &'static str,
) {
    let groups: Vec<(String, &ResolverAnswer<Vec<T>>)> = if agree {
        let names: Vec<&str> = answers.iter().map(|a| a.resolver.as_str()).collect();
        answers
            .first()
            .map(|a| (names.join(", "), a))
            .into_iter()
            .collect()
    } else {
        answers.iter().map(|a| (a.resolver.clone(), a)).collect()
    };
    for (resolvers, a) in groups {
        match &a.answer {
            Ok(v) => {
                out.push(line(depth, "resolver", "Answer from", resolvers));
                ok(out, depth + 1, v);
                if let Some(text) = cut_short(v.len(), a.total) {
                    out.push(line(depth + 1, "cut_short", "Cut short", text));
                }
            }
            Err(e) => out.push(failed(
                depth,
                key,
                label,
                format!(
                    "{} (from {resolvers}){}",
                    dns_failure(e),
                    a.ede
                        .as_ref()
                        .map(|x| format!("; resolver said {x}"))
                        .unwrap_or_default()
                ),
            )),
        }
    }
}

/// Every fact of one vantage's latest probe, in the order the probe gathered them, marked as
/// the judge marked them; `now` only for how long ago things happened.
pub fn vantage_lines(v: &VantageReport, now: i64) -> Vec<Line> {
    facts_lines(&v.facts, &v.details, now)
}

/// Every fact of one probe with the judge's word on each (`judged`, of the same facts).
fn facts_lines(f: &Facts, judged: &FactVerdicts, now: i64) -> Vec<Line> {
    let mut out = Vec::new();
    out.push(line(
        0,
        "probe",
        "Probe",
        format!(
            "started {} ({} ago), took {:.2} s",
            datetime(f.started_at),
            age(now as f64 - f.started_at),
            f.duration_seconds
        ),
    ));
    if let Some(b) = f.blind {
        out.push(line(
            0,
            "blind",
            "Not looked at",
            format!(
                "{}: the exporter's own trouble, no check judged",
                blind_text(b)
            ),
        ));
    }
    srv_lines(&mut out, f.srv.as_ref());
    for (i, t) in f.targets.iter().enumerate() {
        target_lines(&mut out, t, |j| judged.endpoint(i, j), now);
    }
    if let Some(stored) = &f.stored_certs {
        stored_lines(&mut out, stored, judged);
    }
    if let Some(auth) = &f.authoritative {
        authoritative_lines(&mut out, auth);
    }
    if let Some(d) = &f.dnssec {
        dnssec_lines(&mut out, d, now);
    }
    m365_lines(&mut out, f.m365.as_ref());
    out
}

/// The exporter's own DNSSEC validation: per zone signed or not, the DS and key tags, the
/// earliest signature expiry, what failed.
fn dnssec_lines(out: &mut Vec<Line>, d: &crate::facts::DnssecFacts, now: i64) {
    use crate::facts::DnssecState;
    let tags = |t: &[u16]| {
        let t: Vec<String> = t.iter().map(u16::to_string).collect();
        t.join(", ")
    };
    for z in &d.zones {
        let head = format!("zone {}", z.zone);
        out.push(match z.state {
            DnssecState::Secure => {
                line(0, "dnssec", "DNSSEC", format!("{head}: signed, validates"))
            }
            DnssecState::Insecure => line(
                0,
                "dnssec",
                "DNSSEC",
                format!("{head}: signatures, but no DS at the parent (insecure)"),
            ),
            DnssecState::Bogus => failed(
                0,
                "dnssec",
                "DNSSEC",
                format!(
                    "{head}: bogus, {}{}",
                    z.cause.map_or("does not validate", |c| c.as_str()),
                    if z.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", z.detail)
                    }
                ),
            ),
            DnssecState::Indeterminate => line(
                0,
                "dnssec",
                "DNSSEC",
                format!("{head}: not validated ({})", z.detail),
            ),
        });
        if !z.ds_tags.is_empty() {
            out.push(line(1, "dnssec_ds", "DS key tags", tags(&z.ds_tags)));
        }
        if !z.key_tags.is_empty() {
            out.push(line(1, "dnssec_keys", "DNSKEY key tags", tags(&z.key_tags)));
        }
        out.push(line(1, "dnssec_sets", "Sets", z.sets.join(", ")));
        if let Some(e) = z.earliest_expiry {
            out.push(line(
                1,
                "dnssec_expiry",
                "Earliest signature expiry",
                format!("{} (in {})", datetime(e as f64), age((e - now) as f64)),
            ));
        }
    }
    if !d.unsigned.is_empty() {
        out.push(line(
            0,
            "dnssec_unsigned",
            "DNSSEC",
            format!("unsigned answers: {}", d.unsigned.join(", ")),
        ));
    }
}

/// The federation SRV lookup: each resolver's answer, and whose edge it points at.
fn srv_lines(out: &mut Vec<Line>, srv: Option<&SrvFacts>) {
    match srv {
        None => out.push(line(
            0,
            "srv",
            "SRV",
            "none looked up (direct federation: a configured route)",
        )),
        Some(srv) => {
            out.push(line(0, "srv", "SRV", srv.name.clone()));
            answers(
                out,
                1,
                srv.resolvers_agree(),
                &srv.answers,
                |out, depth, records: &Vec<SrvRecord>| {
                    if records.is_empty() {
                        out.push(failed(depth, "srv_record", "Record", "no records"));
                    }
                    for r in records {
                        out.push(line(depth, "srv_record", "Record", srv_record(r)));
                    }
                },
                "srv_error",
                "No answer",
            );
            out.push(line(1, "platform", "Platform", srv.platform().as_str()));
        }
    }
}

/// The configured `cert_file`'s certificates, each with the judge's expiry verdict.
fn stored_lines(
    out: &mut Vec<Line>,
    stored: &Result<Vec<CertFacts>, String>,
    judged: &FactVerdicts,
) {
    out.push(line(0, "stored", "Certificate file", ""));
    match stored {
        Ok(certs) => {
            for (i, c) in certs.iter().enumerate() {
                let x = judged.stored_certs.get(i).and_then(Option::as_ref);
                cert_lines(out, 1, c, x);
            }
        }
        Err(e) => out.push(failed(1, "stored_error", "Unreadable", e.clone())),
    }
}

/// Own domains: what each authoritative name server holds.
fn authoritative_lines(out: &mut Vec<Line>, auth: &AuthoritativeFacts) {
    out.push(line(0, "authoritative", "Authoritative servers", {
        if auth.zone.is_empty() {
            "no NS records found".to_string()
        } else if auth.name_servers > auth.servers.len() {
            let (asked, named) = (auth.servers.len(), auth.name_servers);
            format!(
                "zone {} (first {asked} of {named} name servers asked)",
                auth.zone
            )
        } else {
            format!("zone {}", auth.zone)
        }
    }));
    for s in &auth.servers {
        match &s.answer {
            Ok(view) => {
                out.push(line(1, "ns", "Server", s.resolver.clone()));
                for r in &view.srv {
                    out.push(line(2, "ns_srv", "SRV", r.clone()));
                }
                for a in &view.addresses {
                    out.push(line(2, "ns_address", "Address", a.clone()));
                }
            }
            Err(e) => out.push(failed(
                1,
                "ns",
                "Server",
                format!("{}: {}", s.resolver, dns_failure(e)),
            )),
        }
    }
}

/// The Microsoft 365 records (MX, MS= TXT, lyncdiscover, sip, _sip._tls).
fn m365_lines(out: &mut Vec<Line>, m365: Option<&M365Facts>) {
    match m365 {
        None => out.push(failed(
            0,
            "m365",
            "Microsoft 365",
            "not looked up (deadline passed)",
        )),
        Some(m) => {
            out.push(line(
                0,
                "m365",
                "Microsoft 365",
                if m.evidence() {
                    "evidence of a Microsoft 365 tenant"
                } else {
                    "no evidence of a Microsoft 365 tenant"
                },
            ));
            let list = |v: &[String], total: Option<usize>| {
                let text = if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                };
                match cut_short(v.len(), total) {
                    Some(cut) => format!("{text} ({cut})"),
                    None => text,
                }
            };
            let pointer = |p: &Option<String>| match p.as_deref() {
                None => "absent".to_string(),
                Some("") => "own addresses".to_string(),
                Some(h) => h.to_string(),
            };
            out.push(line(1, "mx", "MX", list(&m.mx, m.mx_total)));
            out.push(line(
                1,
                "ms_txt",
                "MS= TXT",
                list(&m.ms_txt, m.ms_txt_total),
            ));
            out.push(line(
                1,
                "lyncdiscover",
                "lyncdiscover",
                pointer(&m.lyncdiscover),
            ));
            out.push(line(1, "sip_host", "sip", pointer(&m.sip)));
            out.push(line(
                1,
                "sip_tls",
                "_sip._tls SRV",
                list(&m.sip_tls, m.sip_tls_total),
            ));
        }
    }
}

fn target_lines<'a>(
    out: &mut Vec<Line>,
    t: &TargetFacts,
    judged: impl Fn(usize) -> Option<&'a EndpointVerdict>,
    now: i64,
) {
    out.push(line(
        0,
        "target",
        "Target",
        format!("{}:{}", t.name, t.port),
    ));
    if let Some(c) = &t.cname {
        out.push(line(1, "cname", "CNAME", c.clone()));
    }
    answers(
        out,
        1,
        t.resolvers_agree(),
        &t.address_answers,
        |out, depth, a: &Vec<IpAddr>| {
            out.push(line(depth, "addresses", "Addresses", addresses(a)));
        },
        "address_error",
        "No address",
    );
    for (j, e) in t.endpoints.iter().enumerate() {
        endpoint_lines(out, e, judged(j), now);
    }
}

/// Why the exporter could not look, for people.
pub fn blind_text(b: Blind) -> &'static str {
    match b {
        Blind::NoTurn => "no turn at this busy shared edge before the deadline",
        Blind::LocalResources => "the exporter ran out of file descriptors or memory",
        Blind::ProxyDown => "the vantage's SOCKS5 proxy does not accept connections",
        Blind::ResolversDown => "none of the vantage's resolvers answers",
        Blind::OutOfTime => "the probe's deadline came before the revocation evidence",
        Blind::NoRoute => "the vantage's host has no route for this address family",
    }
}

/// The TLS handshake: version, suite and time, or why it failed; whether a client
/// certificate was asked for.
fn tls_lines(out: &mut Vec<Line>, tls: Option<&Result<TlsFacts, TlsFailure>>) {
    match tls {
        None => {}
        Some(Ok(t)) => {
            out.push(line(
                2,
                "tls",
                "TLS",
                format!(
                    "{}, {}, handshake {}",
                    t.version.as_str(),
                    t.cipher,
                    millis(t.duration_seconds)
                ),
            ));
            out.push(line(
                2,
                "client_cert",
                "Client certificate",
                if t.client_cert_requested && t.client_cert_sent {
                    "requested (mutual TLS), ours sent"
                } else if t.client_cert_requested {
                    "requested (mutual TLS), none sent"
                } else {
                    "not requested"
                },
            ));
        }
        Some(Err(f)) => out.push(failed(
            2,
            "tls",
            "TLS",
            format!("{}: {}", f.reason.as_str(), f.detail),
        )),
    }
}

fn endpoint_lines(
    out: &mut Vec<Line>,
    e: &EndpointFacts,
    judged: Option<&EndpointVerdict>,
    now: i64,
) {
    out.push(line(1, "address", "Endpoint", e.address.to_string()));
    if let Some(b) = e.blind {
        out.push(line(
            2,
            "blind",
            "Not looked at",
            format!("{}: no check judges this address", blind_text(b)),
        ));
        return;
    }
    match &e.tcp {
        Ok(s) => out.push(line(
            2,
            "tcp",
            "TCP",
            format!("connected in {}", millis(*s)),
        )),
        Err(r) => out.push(failed(2, "tcp", "TCP", r.as_str())),
    }
    tls_lines(out, e.tls.as_ref());
    if let Some(leaf) = e.leaf() {
        out.push(line(
            2,
            "certificate",
            "Certificate",
            format!("leaf of a chain of {}", e.chain.len()),
        ));
        cert_lines(out, 3, leaf, judged.and_then(|j| j.leaf_expiry.as_ref()));
    }
    if let Some(r) = &e.revocation {
        let judged = judged.map(|j| j.revocation.as_slice()).unwrap_or_default();
        revocation_lines(out, r, judged, now);
    }
    if let Some(sip) = &e.sip {
        let text = match sip.status {
            // The detail is the status line when gathering kept one.
            Ok(code) if sip.detail.contains(&code.to_string()) => {
                format!("{} in {}", sip.detail, millis(sip.duration_seconds))
            }
            Ok(code) => format!("{code} {} in {}", sip.detail, millis(sip.duration_seconds)),
            Err(r) => format!("{}: {}", r.as_str(), sip.detail),
        };
        // The judge's verdict (`sip_options`): any SIP response is an answer.
        out.push(Line {
            failed: judged.is_some_and(|j| j.sip_failure.is_some()),
            ..line(2, "sip", "SIP OPTIONS", text)
        });
        if let Some(server) = &sip.server {
            out.push(line(3, "sip_server", "Responding server", server.clone()));
        }
        if let Some(p) = &sip.platform {
            out.push(line(3, "sip_platform", "Platform", p.describe()));
        }
        if let Some(from) = &sip.from {
            out.push(line(3, "sip_from", "Sent as", from.clone()));
        }
        if let Some(d) = &sip.diagnostics {
            let mut text = format!("{} {}", d.code, d.reason);
            if let Some(source) = &d.source {
                text.push_str(&format!(" (from {source})"));
            }
            out.push(line(3, "sip_ms_diagnostics", "ms-diagnostics", text));
        }
    }
}

/// Per certificate: where revocation evidence came from, what it said, until when it holds,
/// marked as `judged` says (per certificate, per piece of evidence); `now` only for how long
/// ago it was fetched.
fn revocation_lines(
    out: &mut Vec<Line>,
    r: &RevocationFacts,
    judged: &[Vec<EvidenceVerdict>],
    now: i64,
) {
    let stapled = if r.stapled {
        "the edge stapled an OCSP response"
    } else {
        "no stapled OCSP response"
    };
    out.push(line(2, "revocation", "Revocation", stapled));
    if let Some(b) = r.blind {
        out.push(line(
            3,
            "revocation_blind",
            "Not fetched",
            format!("{}: no revocation check judges this chain", blind_text(b)),
        ));
        return;
    }
    for (i, c) in r.certs.iter().enumerate() {
        let which = if c.position == 0 {
            "leaf"
        } else {
            "intermediate"
        };
        out.push(line(
            3,
            "revocation_cert",
            "Certificate",
            format!("{which} {} (serial {})", c.subject_cn, c.serial),
        ));
        if c.evidence.is_empty() {
            out.push(line(
                4,
                "revocation_evidence",
                "Evidence",
                "names no CRL or OCSP responder",
            ));
        }
        for (k, ev) in c.evidence.iter().enumerate() {
            let verdict = judged.get(i).and_then(|c| c.get(k)).copied();
            let from = if ev.url.is_empty() {
                ev.source.as_str().to_string()
            } else {
                format!("{} {}", ev.source.as_str(), ev.url)
            };
            let fetched = format!("fetched {} ago", age((now - ev.fetched_at) as f64));
            let text = match &ev.outcome {
                Err(f) => format!("{from}: {}: {} ({fetched})", f.reason.as_str(), f.detail),
                Ok(st) => {
                    let said = match &st.state {
                        CertState::Good => "good".to_string(),
                        CertState::Unknown => "unknown to the responder".to_string(),
                        CertState::Revoked { at, reason } => format!(
                            "revoked on {} ({})",
                            date(*at),
                            reason.as_deref().unwrap_or("no reason code")
                        ),
                    };
                    let until = match st.next_update {
                        Some(n) if verdict == Some(EvidenceVerdict::Stale) => {
                            format!("stale since {}", date(n))
                        }
                        Some(n) => format!("holds until {}", datetime(n as f64)),
                        None => "no nextUpdate".to_string(),
                    };
                    format!("{from}: {said}, {until} ({fetched})")
                }
            };
            // Unjudged evidence (facts without a verdict) is shown unmarked.
            let bad = verdict.is_some_and(EvidenceVerdict::marked);
            out.push(Line {
                failed: bad,
                ..line(4, "revocation_evidence", "Evidence", text)
            });
        }
    }
}

fn cert_lines(out: &mut Vec<Line>, depth: usize, c: &CertFacts, judged: Option<&CertExpiry>) {
    let Some(d) = &c.parsed else {
        out.push(failed(
            depth,
            "unparsable",
            "Certificate",
            "could not be parsed",
        ));
        out.push(line(depth, "sha256", "SHA-256", c.sha256.clone()));
        return;
    };
    out.push(line(depth, "subject", "Subject CN", d.subject_cn.clone()));
    out.push(line(depth, "sans", "SANs", {
        if d.dns_names.is_empty() {
            "none".to_string()
        } else {
            d.dns_names.join(", ")
        }
    }));
    let issuer = match (d.issuer_cn.is_empty(), d.issuer_o.is_empty()) {
        (_, true) => d.issuer_cn.clone(),
        (true, false) => d.issuer_o.clone(),
        (false, false) => format!("{} ({})", d.issuer_cn, d.issuer_o),
    };
    out.push(line(
        depth,
        "issuer",
        "Issuer",
        if d.self_signed {
            format!("{issuer} (self-signed)")
        } else {
            issuer
        },
    ));
    out.push(line(depth, "serial", "Serial", d.serial.clone()));
    out.push(line(depth, "not_before", "Not before", date(d.not_before)));
    match judged {
        Some(x) => {
            out.push(Line {
                failed: x.state == ExpiryState::Expired,
                ..line(depth, "not_after", "Not after", expiry(x))
            });
            out.push(Line {
                failed: x.state != ExpiryState::Ok,
                ..line(depth, "expiry", "Expiry", expiry_rule(x))
            });
        }
        // Not judged (not parsed by the judge): the date alone.
        None => out.push(line(depth, "not_after", "Not after", date(d.not_after))),
    }
    out.push(line(depth, "sha256", "SHA-256", c.sha256.clone()));
    let eku = match d.eku {
        None => "no EKU extension (any use)".to_string(),
        Some(e) => {
            let mut uses = Vec::new();
            if e.server_auth {
                uses.push("serverAuth");
            }
            if e.client_auth {
                uses.push("clientAuth");
            }
            if e.any {
                uses.push("anyExtendedKeyUsage");
            }
            if uses.is_empty() {
                "neither serverAuth nor clientAuth".to_string()
            } else {
                uses.join(", ")
            }
        }
    };
    out.push(line(depth, "eku", "EKU", eku));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{CertDetails, Eku, Reason, SipFacts, SrvFacts, TlsFacts};

    const NOW: i64 = 1_767_225_600; // 2026-01-01 00:00:00 UTC

    fn healthy() -> Facts {
        let leaf = CertFacts {
            der: vec![1, 2],
            sha256: "ab".repeat(32),
            parsed: Some(CertDetails {
                subject_cn: "sip.a.example".into(),
                issuer_cn: "Lab CA".into(),
                issuer_o: "Lab".into(),
                serial: "0a1b".into(),
                not_before: NOW - 10 * 86_400,
                not_after: NOW + 30 * 86_400 + 3600,
                dns_names: vec!["sip.a.example".into()],
                eku: Some(Eku {
                    server_auth: true,
                    client_auth: true,
                    any: false,
                }),
                self_signed: false,
                ocsp_urls: Vec::new(),
                crl_urls: Vec::new(),
                subject_raw: Vec::new(),
                issuer_raw: Vec::new(),
            }),
        };
        let record = SrvRecord {
            priority: 0,
            weight: 0,
            port: 5061,
            target: "sip.a.example".into(),
        };
        Facts {
            domain: "a.example".into(),
            vantage: "inside".into(),
            started_at: (NOW - 90) as f64,
            duration_seconds: 0.25,
            srv: Some(SrvFacts {
                name: "_sipfederationtls._tcp.a.example.".into(),
                answers: vec![
                    ResolverAnswer {
                        ede: None,
                        total: None,
                        resolver: "10.0.0.1:53".into(),
                        answer: Ok(vec![record.clone()]),
                    },
                    ResolverAnswer {
                        ede: None,
                        total: None,
                        resolver: "10.0.0.2:53".into(),
                        answer: Err(DnsFailure::Servfail),
                    },
                ],
            }),
            targets: vec![TargetFacts {
                name: "sip.a.example".into(),
                port: 5061,
                cname: None,
                address_answers: vec![ResolverAnswer {
                    ede: None,
                    total: None,
                    resolver: "10.0.0.1:53".into(),
                    answer: Ok(vec!["192.0.2.7".parse().unwrap()]),
                }],
                endpoints: vec![EndpointFacts {
                    address: "192.0.2.7:5061".parse().unwrap(),
                    tcp: Ok(0.003),
                    tls: Some(Ok(TlsFacts {
                        duration_seconds: 0.012,
                        version: crate::facts::TlsVersion::Tls13,
                        cipher: "TLS13_AES_256_GCM_SHA384".into(),
                        client_cert_requested: false,
                        client_cert_sent: false,
                    })),
                    chain: vec![leaf].into(),
                    revocation: None,
                    sip: Some(SipFacts {
                        status: Ok(200),
                        duration_seconds: 0.004,
                        detail: "SIP/2.0 200 OK".into(),
                        server: Some("XPhone Connect Server".into()),
                        platform: Some(crate::facts::SipPlatform::XPhone),
                        diagnostics: None,
                        from: None,
                        alert: None,
                    }),
                    blind: None,
                }],
            }],
            ..Facts::default()
        }
    }

    /// The lines of `f` as judged at `NOW` (warning at 21 days) and rendered at `now`.
    fn facts_lines(f: &Facts, now: i64) -> Vec<Line> {
        let judge = crate::judge::test_facts::Judge::peer().at(NOW);
        super::facts_lines(f, &FactVerdicts::of(f, &judge.env()), now)
    }

    /// The judge's word on a 90-day certificate expiring at `not_after`, judged at `NOW`.
    fn judged(not_after: i64) -> CertExpiry {
        let cert = CertFacts::test(&["sip.a.example"], not_after - 90 * 86_400, not_after);
        let judge = crate::judge::test_facts::Judge::peer().at(NOW);
        crate::judge::certificate::expiry(&cert, NOW, judge.cert_warning_days).unwrap()
    }

    fn find<'a>(lines: &'a [Line], key: &str) -> Vec<&'a Line> {
        lines.iter().filter(|l| l.key == key).collect()
    }

    #[test]
    fn dates_and_ages() {
        assert_eq!(date(NOW), "2026-01-01");
        assert_eq!(datetime(NOW as f64 + 3723.0), "2026-01-01 01:02:03 UTC");
        assert_eq!(age(59.0), "59 s");
        assert_eq!(age(600.0), "10 min");
        assert_eq!(age(3.0 * 86_400.0), "3 d");
        // Days left are the judge's, counted when it judged (at NOW).
        assert_eq!(judged(NOW + 86_399).days_left, 0);
        assert_eq!(
            expiry(&judged(NOW + 2 * 86_400)),
            "2026-01-03 (2 days left)"
        );
        assert_eq!(expiry(&judged(NOW - 1)), "2025-12-31 (expired 0 days ago)");
        assert_eq!(
            expiry(&judged(NOW - 3 * 86_400)),
            "2025-12-29 (expired 3 days ago)"
        );
        assert_eq!(days_left_short(&judged(NOW + 2 * 86_400)), "2 d");
        assert_eq!(days_left_short(&judged(NOW - 1)), "expired");
        assert_eq!(
            expiry_rule(&judged(NOW + 2 * 86_400)),
            "warning: warns 21 days before notAfter (cert_warning_days)"
        );
        // A 30-day certificate warns at a quarter of its lifetime, 7.5 days.
        let short = CertFacts::test(&["sip.a.example"], NOW - 10 * 86_400, NOW + 20 * 86_400);
        let x = crate::judge::certificate::expiry(&short, NOW, 21).unwrap();
        assert_eq!(
            expiry_rule(&x),
            "ok: warns 7.5 days before notAfter (a quarter of its 30-day lifetime)"
        );
    }

    #[test]
    fn a_healthy_probe_reads_as_facts() {
        let lines = facts_lines(&healthy(), NOW);
        let text = |k| {
            find(&lines, k)
                .iter()
                .map(|l| l.text.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            text("probe"),
            ["started 2025-12-31 23:58:30 UTC (90 s ago), took 0.25 s"]
        );
        // The resolvers disagree: each answer is shown with who gave it.
        assert_eq!(text("resolver"), ["10.0.0.1:53", "10.0.0.1:53"]);
        assert_eq!(text("srv_error"), ["servfail (from 10.0.0.2:53)"]);
        assert_eq!(text("srv_record"), ["0 0 5061 sip.a.example"]);
        assert_eq!(text("platform"), ["self_hosted"]);
        assert_eq!(text("addresses"), ["192.0.2.7"]);
        assert_eq!(text("address"), ["192.0.2.7:5061"]);
        assert_eq!(text("tcp"), ["connected in 3 ms"]);
        assert_eq!(
            text("tls"),
            ["TLS 1.3, TLS13_AES_256_GCM_SHA384, handshake 12 ms"]
        );
        assert_eq!(text("client_cert"), ["not requested"]);
        assert_eq!(text("issuer"), ["Lab CA (Lab)"]);
        assert_eq!(text("not_before"), ["2025-12-22"]);
        assert_eq!(text("not_after"), ["2026-01-31 (30 days left)"]);
        // The threshold that applied: a quarter of the 40-day lifetime is below 21 days.
        assert_eq!(
            text("expiry"),
            ["ok: warns 10.01 days before notAfter (a quarter of its 40-day lifetime)"]
        );
        // Rendered a day later, the days left are still the judge's count.
        let later = facts_lines(&healthy(), NOW + 86_400);
        assert_eq!(
            find(&later, "not_after")[0].text,
            "2026-01-31 (30 days left)"
        );
        assert_eq!(text("eku"), ["serverAuth, clientAuth"]);
        assert_eq!(text("sip"), ["SIP/2.0 200 OK in 4 ms"]);
        assert_eq!(text("sip_server"), ["XPhone Connect Server"]);
        assert!(text("blind").is_empty());
        assert_eq!(text("m365"), ["not looked up (deadline passed)"]);
        let failed: Vec<&str> = lines.iter().filter(|l| l.failed).map(|l| l.key).collect();
        assert_eq!(failed, ["srv_error", "m365"]);
        // Nesting: the certificate's fields sit under the endpoint, under the target.
        assert_eq!(find(&lines, "target")[0].depth, 0);
        assert_eq!(find(&lines, "address")[0].depth, 1);
        assert_eq!(find(&lines, "tls")[0].depth, 2);
        assert_eq!(find(&lines, "issuer")[0].depth, 3);
    }

    #[test]
    fn dnssec_shows_each_zone_its_tags_expiry_and_what_failed() {
        use crate::facts::{BogusCause, DnssecFacts, DnssecState, Ede, ZoneDnssec};
        let mut f = healthy();
        let zone = |name: &str, state, cause, detail: &str| ZoneDnssec {
            zone: name.into(),
            sets: vec![format!("_sipfederationtls._tcp.{name} SRV")],
            holds_srv: true,
            ds_tags: vec![4711],
            key_tags: vec![4711, 815],
            state,
            cause,
            detail: detail.into(),
            earliest_expiry: (state == DnssecState::Secure).then_some(NOW + 86_400 * 3),
            validity_seconds: None,
        };
        f.dnssec = Some(DnssecFacts {
            zones: vec![
                zone("a.example", DnssecState::Secure, None, ""),
                zone(
                    "b.example",
                    DnssecState::Bogus,
                    Some(BogusCause::NoKeyMatchesDs),
                    "DS key tag 4711 at the parent, DNSKEY key tags [815] in the zone",
                ),
            ],
            unsigned: vec!["sip.c.example".into()],
        });
        let lines = facts_lines(&f, NOW);
        let zones = find(&lines, "dnssec");
        assert_eq!(zones.len(), 2);
        assert_eq!(zones[0].text, "zone a.example: signed, validates");
        assert!(!zones[0].failed);
        assert_eq!(
            zones[1].text,
            "zone b.example: bogus, no DNSKEY matches the DS (DS key tag 4711 at the parent, DNSKEY key tags [815] in the zone)"
        );
        assert!(zones[1].failed);
        assert_eq!(find(&lines, "dnssec_ds")[0].text, "4711");
        assert_eq!(find(&lines, "dnssec_keys")[0].text, "4711, 815");
        let expiry = find(&lines, "dnssec_expiry");
        assert_eq!(expiry.len(), 1);
        assert!(expiry[0].text.ends_with("(in 3 d)"), "{}", expiry[0].text);
        assert_eq!(
            find(&lines, "dnssec_unsigned")[0].text,
            "unsigned answers: sip.c.example"
        );
        // A failed lookup's line ends with the resolver's EDE.
        f.srv.as_mut().unwrap().answers[1].ede = Some(Ede {
            code: 7,
            text: "expired".into(),
        });
        let lines = facts_lines(&f, NOW);
        assert!(
            find(&lines, "srv_error")[0]
                .text
                .ends_with("; resolver said EDE 7 (Signature Expired): expired"),
            "{:?}",
            find(&lines, "srv_error")
        );
    }

    #[test]
    fn a_list_cut_short_says_first_n_of_m() {
        let mut f = healthy();
        let ips: Vec<std::net::IpAddr> = (0..32u8)
            .map(|i| std::net::IpAddr::from([192, 0, 2, i]))
            .collect();
        f.targets[0].address_answers[0].answer = Ok(ips);
        f.targets[0].address_answers[0].total = Some(300);
        f.m365 = Some(crate::facts::M365Facts {
            mx: vec!["mx1.a.example".into(), "mx2.a.example".into()],
            mx_total: Some(2000),
            ms_txt: vec!["MS=ms1".into()],
            ..Default::default()
        });
        let lines = facts_lines(&f, NOW);
        let cut = find(&lines, "cut_short");
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].text, "first 32 of 300 records");
        assert_eq!(cut[0].depth, find(&lines, "addresses")[0].depth);
        assert_eq!(
            find(&lines, "mx")[0].text,
            "mx1.a.example, mx2.a.example (first 2 of 2000 records)"
        );
        assert_eq!(find(&lines, "ms_txt")[0].text, "MS=ms1");
        // The SRV answer was whole: no such line under it.
        assert!(!lines.iter().any(|l| l.text.contains("of 1 records")));
        // A zone naming more name servers than are asked says so; one naming few does not.
        let mut auth = crate::facts::AuthoritativeFacts {
            zone: "a.example".into(),
            servers: Vec::new(),
            name_servers: 9,
        };
        for ns in ["ns1", "ns2"] {
            auth.servers.push(crate::facts::ResolverAnswer {
                ede: None,
                total: None,
                resolver: format!("{ns}.a.example (192.0.2.53)"),
                answer: Err(crate::facts::DnsFailure::Timeout),
            });
        }
        f.authoritative = Some(auth.clone());
        let zone = |f: &Facts| find(&facts_lines(f, NOW), "authoritative")[0].text.clone();
        assert_eq!(zone(&f), "zone a.example (first 2 of 9 name servers asked)");
        auth.name_servers = 2;
        f.authoritative = Some(auth);
        assert_eq!(zone(&f), "zone a.example");
    }

    #[test]
    fn revocation_evidence_says_where_what_and_until_when() {
        use crate::facts::{CertRevocation, Evidence, EvidenceFailure, Source, Status};
        let mut f = healthy();
        let status = |state| Status {
            state,
            this_update: NOW - 3600,
            next_update: Some(NOW + 86_400),
        };
        f.targets[0].endpoints[0].revocation = Some(std::sync::Arc::new(RevocationFacts {
            stapled: true,
            certs: vec![CertRevocation {
                position: 0,
                subject_cn: "sip.a.example".into(),
                serial: "0a1b".into(),
                evidence: vec![
                    Evidence {
                        source: Source::Staple,
                        url: String::new(),
                        fetched_at: NOW - 90,
                        outcome: Ok(status(CertState::Good)),
                    },
                    Evidence {
                        source: Source::Crl,
                        url: "http://crl.lab/ca.crl".into(),
                        fetched_at: NOW - 600,
                        outcome: Ok(status(CertState::Revoked {
                            at: NOW - 86_400,
                            reason: Some("keyCompromise".into()),
                        })),
                    },
                    Evidence {
                        source: Source::Ocsp,
                        url: "http://ocsp.lab".into(),
                        fetched_at: NOW - 600,
                        outcome: Err(EvidenceFailure::new(Reason::HttpError, "answered 404")),
                    },
                ],
            }],
            blind: None,
        }));
        let lines = facts_lines(&f, NOW);
        assert_eq!(
            find(&lines, "revocation")[0].text,
            "the edge stapled an OCSP response"
        );
        assert_eq!(
            find(&lines, "revocation_cert")[0].text,
            "leaf sip.a.example (serial 0a1b)"
        );
        let ev: Vec<(&str, bool)> = find(&lines, "revocation_evidence")
            .iter()
            .map(|l| (l.text.as_str(), l.failed))
            .collect();
        assert_eq!(
            ev,
            [
                (
                    "stapled OCSP: good, holds until 2026-01-02 00:00:00 UTC (fetched 90 s ago)",
                    false
                ),
                (
                    "CRL http://crl.lab/ca.crl: revoked on 2025-12-31 (keyCompromise), holds until 2026-01-02 00:00:00 UTC (fetched 10 min ago)",
                    true
                ),
                (
                    "OCSP http://ocsp.lab: http_error: answered 404 (fetched 10 min ago)",
                    true
                ),
            ]
        );
        // Drawn two days after judging, past the documents' nextUpdate: the marks and words
        // are still the judge's (it judged at NOW, when they held), not the drawing time's.
        let later = facts_lines(&f, NOW + 2 * 86_400);
        let staple = find(&later, "revocation_evidence")[0];
        assert_eq!(
            (staple.text.as_str(), staple.failed),
            (
                "stapled OCSP: good, holds until 2026-01-02 00:00:00 UTC (fetched 2 d ago)",
                false
            )
        );
        // Judged after nextUpdate, the same evidence is stale and marked.
        let judge = crate::judge::test_facts::Judge::peer().at(NOW + 2 * 86_400);
        let stale = super::facts_lines(&f, &FactVerdicts::of(&f, &judge.env()), NOW + 2 * 86_400);
        let staple = find(&stale, "revocation_evidence")[0];
        assert_eq!(
            (staple.text.as_str(), staple.failed),
            (
                "stapled OCSP: good, stale since 2026-01-02 (fetched 2 d ago)",
                true
            )
        );
    }

    /// The SIP line carries `sip_options`'s verdict: any SIP response is an answer (a 405
    /// under a passing check is not red, as the old view had it), no SIP answer is red.
    #[test]
    fn sip_line_follows_the_judge() {
        let sip_failed = |status: Result<u16, Reason>| {
            let mut f = healthy();
            let sip = f.targets[0].endpoints[0].sip.as_mut().unwrap();
            sip.status = status;
            sip.detail = "SIP/2.0 405 Method Not Allowed".into();
            let lines = facts_lines(&f, NOW);
            find(&lines, "sip")[0].failed
        };
        assert!(!sip_failed(Ok(200)));
        assert!(!sip_failed(Ok(405)));
        assert!(sip_failed(Err(Reason::NotSip)));
    }

    /// The answer's platform and `ms-diagnostics` are shown with it.
    #[test]
    fn sip_server_platform_and_ms_diagnostics_are_shown() {
        let mut f = healthy();
        let sip = f.targets[0].endpoints[0].sip.as_mut().unwrap();
        sip.from = Some("sipfed-monitor@zahnfee.de".into());
        sip.diagnostics = Some(crate::facts::MsDiagnostics {
            code: 1034,
            reason: "Previous hop federated peer did not report diagnostic information".into(),
            source: Some("sip.partner.example".into()),
        });
        let lines = facts_lines(&f, NOW);
        assert_eq!(find(&lines, "sip_platform")[0].text, "XPhone Connect");
        assert_eq!(
            find(&lines, "sip_from")[0].text,
            "sipfed-monitor@zahnfee.de"
        );
        assert_eq!(
            find(&lines, "sip_ms_diagnostics")[0].text,
            "1034 Previous hop federated peer did not report diagnostic information (from sip.partner.example)"
        );
        f.targets[0].endpoints[0].sip.as_mut().unwrap().diagnostics = None;
        assert!(find(&facts_lines(&f, NOW), "sip_ms_diagnostics").is_empty());
    }

    #[test]
    fn failures_are_marked() {
        let mut f = healthy();
        let e = &mut f.targets[0].endpoints[0];
        e.tcp = Err(Reason::ConnectionRefused);
        e.tls = None;
        e.chain = Vec::new().into();
        e.sip = None;
        f.srv.as_mut().unwrap().answers.truncate(1);
        let lines = facts_lines(&f, NOW);
        let tcp = find(&lines, "tcp");
        assert_eq!(tcp.len(), 1);
        assert!(tcp[0].failed);
        assert_eq!(tcp[0].text, "connection_refused");
        assert!(find(&lines, "tls").is_empty());
        assert!(find(&lines, "issuer").is_empty());
        // One resolver that agrees with itself: one answer line naming it.
        assert_eq!(find(&lines, "resolver")[0].text, "10.0.0.1:53");
        assert!(find(&lines, "srv_error").is_empty());
    }

    #[test]
    fn what_the_exporter_could_not_look_at_says_so() {
        let mut f = healthy();
        f.targets[0].endpoints[0].blind = Some(Blind::NoTurn);
        let lines = facts_lines(&f, 0);
        let blind = find(&lines, "blind");
        assert_eq!(blind.len(), 1);
        assert!(
            blind[0]
                .text
                .starts_with("no turn at this busy shared edge")
        );
        // Nothing the endpoint holds is shown as evidence.
        assert!(find(&lines, "tcp").is_empty() && find(&lines, "sip").is_empty());
        f.blind = Some(Blind::ResolversDown);
        let lines = facts_lines(&f, 0);
        assert!(find(&lines, "blind")[0].text.contains("resolvers"));
    }
}
