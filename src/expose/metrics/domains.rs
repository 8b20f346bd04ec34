//! The per-domain families, one writer per family group, in page order: probe results and
//! DNS counts, checks, SRV records, reachability, TLS, revocation, certificates, SIP, the
//! domain's own families, and federation pairs.

use std::collections::HashSet;

use super::out::Out;
use super::text::{
    cut, domain_labels, endpoint_labels, family, label, sample, tenant_domain_labels,
};
use crate::facts::{CertDetails, DnssecState, EndpointFacts};
use crate::judge::pairs::Pair;
use crate::judge::{DomainReport, VantageReport};

/// `sipfed_srv_target_info` series per (domain, vantage) at most: a partner publishing
/// hundreds of SRV records must not add hundreds of series (`sipfed_srv_records` has the count).
pub const MAX_SRV_SERIES: usize = 16;

/// One probe's report, with its label set escaped once for the whole scrape.
struct Probe<'a> {
    r: &'a VantageReport,
    /// `tenant="..",domain="..",vantage=".."`
    labels: String,
}

/// One endpoint of a probe, with its label set (the probe's plus `target` and `address`).
/// The endpoints of every probe are gathered into one array once per scrape, so each
/// per-endpoint family walks that array instead of chasing report -> facts -> targets ->
/// endpoints again (at 10,000 domains those cache misses were most of the scrape).
struct Endpoint<'a> {
    e: &'a EndpointFacts,
    labels: String,
}

fn probes<'a>(reports: &'a [&'a DomainReport]) -> (Vec<Probe<'a>>, Vec<Endpoint<'a>>) {
    let mut probes = Vec::new();
    let mut endpoints = Vec::new();
    for d in reports {
        for r in &d.vantages {
            let mut labels = String::with_capacity(96);
            domain_labels(&mut labels, d, r);
            for t in &r.facts.targets {
                for e in &t.endpoints {
                    let mut l = String::with_capacity(labels.len() + 64);
                    l.push_str(&labels);
                    endpoint_labels(&mut l, &t.name, &e.address.to_string());
                    endpoints.push(Endpoint { e, labels: l });
                }
            }
            probes.push(Probe { r, labels });
        }
    }
    (probes, endpoints)
}

/// Every per-domain family of `reports`, group by group; `own` completes the inbound
/// verdicts of partners.
pub(super) fn write_reports(out: &mut Out<'_>, reports: &[&DomainReport], verdicts: &[&[Pair]]) {
    let (probes, endpoints) = probes(reports);
    write_per_probe(out, &probes, &[&PROBE, &DNS_COUNTS, &DNSSEC]);
    write_checks(out, &probes);
    write_srv(out, &probes);
    for group in [&REACHABILITY[..], &TLS, &REVOCATION, &CERTIFICATES, &SIP] {
        write_per_endpoint(out, &endpoints, group);
    }
    write_domains(out, reports);
    write_pairs(out, reports, verdicts);
}

/// A per-probe family: name, help, and its value for a probe (none: no sample).
type PerProbe = (
    &'static str,
    &'static str,
    fn(&VantageReport) -> Option<f64>,
);

/// The probe itself.
const PROBE: [PerProbe; 4] = [
    (
        "sipfed_probe_success",
        "1 when the latest probe looked and no critical check failed.",
        |r| Some(f64::from(u8::from(r.success))),
    ),
    (
        "sipfed_probe_blind",
        "1 when the latest probe could not look (the exporter's trouble, not the partner's).",
        |r| Some(f64::from(u8::from(r.blind.is_some()))),
    ),
    (
        "sipfed_probe_duration_seconds",
        "Duration of the latest probe.",
        |r| Some(r.facts.duration_seconds),
    ),
    (
        "sipfed_probe_timestamp_seconds",
        "Unix time the latest probe ended.",
        |r| Some(r.facts.started_at + r.facts.duration_seconds),
    ),
];

/// DNS counts: SRV records, Microsoft 365 evidence, authoritative agreement.
const DNS_COUNTS: [PerProbe; 3] = [
    (
        "sipfed_srv_records",
        "Federation SRV records the vantage's first answering resolver returned.",
        // A probe that could not look (its vantage's resolvers down) counted nothing.
        |r| match (&r.facts.srv, r.facts.blind) {
            (Some(s), None) => Some(s.record_count() as f64),
            _ => None,
        },
    ),
    (
        "sipfed_m365_evidence",
        "1 when MX, TXT or Skype/Teams records show a Microsoft 365 tenant.",
        |r| {
            r.facts
                .m365
                .as_ref()
                .map(|m| f64::from(u8::from(m.evidence())))
        },
    ),
    (
        "sipfed_dns_authoritative_agree",
        "Own domains: 1 when every authoritative name server holds the same SRV and address records.",
        |r| {
            r.facts
                .authoritative
                .as_ref()
                .and_then(|a| a.agree())
                .map(|a| f64::from(u8::from(a)))
        },
    ),
];

/// The exporter's own DNSSEC validation, for probes whose zones are signed.
const DNSSEC: [PerProbe; 2] = [
    (
        "sipfed_dnssec_signed",
        "1 when the parent publishes DS for the zone holding the SRV record, 0 when its signed answers have none.",
        |r| {
            let zone = r.facts.dnssec.as_ref()?.srv_zone()?;
            match zone.state {
                DnssecState::Secure | DnssecState::Bogus => Some(1.0),
                DnssecState::Insecure => Some(0.0),
                DnssecState::Indeterminate => None,
            }
        },
    ),
    (
        "sipfed_dnssec_rrsig_expiry_timestamp_seconds",
        "Unix time of the earliest RRSIG expiration over the SRV, address and DNSKEY sets of the validated zones.",
        |r| {
            r.facts
                .dnssec
                .as_ref()?
                .zones
                .iter()
                .filter_map(|z| z.earliest_expiry)
                .min()
                .map(|e| e as f64)
        },
    ),
];

/// The per-probe families of `groups`, in order. Every value is taken in one pass over the
/// probes (a pass per family would visit each probe's facts again, a cache miss each time at
/// 10,000 domains).
fn write_per_probe(out: &mut Out<'_>, probes: &[Probe<'_>], groups: &[&[PerProbe]]) {
    let per_probe: Vec<&PerProbe> = groups.iter().flat_map(|g| g.iter()).collect();
    let values: Vec<Option<f64>> = probes
        .iter()
        .flat_map(|p| per_probe.iter().map(|(_, _, value)| value(p.r)))
        .collect();
    for (k, (name, help, _)) in per_probe.iter().enumerate() {
        family(out, name, "gauge", help);
        for (p, row) in probes.iter().zip(values.chunks_exact(per_probe.len())) {
            out.flush_if_full();
            if let Some(v) = row[k] {
                sample(out, name, |o| o.push_str(&p.labels), &[], v);
            }
        }
    }
}

/// `sipfed_check_success` and `sipfed_check_failure_info`.
fn write_checks(out: &mut Out<'_>, probes: &[Probe<'_>]) {
    family(
        out,
        "sipfed_check_success",
        "gauge",
        "1 when the check passed, 0 when it failed; one series per applicable check.",
    );
    // The failing findings, noted on the way: a second pass over every probe's findings
    // (160,000 at 10,000 domains, cache misses each) was an eighth of the scrape.
    let mut failures = Vec::new();
    for p in probes {
        out.flush_if_full();
        let r = p.r;
        for f in &r.findings {
            sample(
                out,
                "sipfed_check_success",
                |o| o.push_str(&p.labels),
                &[
                    ("check", f.check.as_str()),
                    ("severity", f.severity.as_str()),
                ],
                f64::from(u8::from(f.passed)),
            );
            if let Some(reason) = f.reason {
                failures.push((p, f.check, reason));
            }
        }
    }
    family(
        out,
        "sipfed_check_failure_info",
        "gauge",
        "Why a check failed (bounded reason set); present only for failing checks.",
    );
    for (p, check, reason) in failures {
        out.flush_if_full();
        sample(
            out,
            "sipfed_check_failure_info",
            |o| o.push_str(&p.labels),
            &[("check", check.as_str()), ("reason", reason.as_str())],
            1.0,
        );
    }
}

/// `sipfed_srv_target_info` and `sipfed_platform_info`: what the federation SRV record says.
fn write_srv(out: &mut Out<'_>, probes: &[Probe<'_>]) {
    family(
        out,
        "sipfed_srv_target_info",
        "gauge",
        "One series per federation SRV record.",
    );
    for p in probes {
        out.flush_if_full();
        let r = p.r;
        if let Some(srv) = &r.facts.srv {
            let mut seen = HashSet::new();
            for rec in srv.records() {
                if seen.len() >= MAX_SRV_SERIES {
                    break;
                }
                if !seen.insert(rec) {
                    continue;
                }
                let (prio, w, port) = (
                    rec.priority.to_string(),
                    rec.weight.to_string(),
                    rec.port.to_string(),
                );
                sample(
                    out,
                    "sipfed_srv_target_info",
                    |o| o.push_str(&p.labels),
                    &[
                        ("target", &rec.target),
                        ("port", &port),
                        ("priority", &prio),
                        ("weight", &w),
                    ],
                    1.0,
                );
            }
        }
    }
    family(
        out,
        "sipfed_platform_info",
        "gauge",
        "Who hosts the federation edge the SRV record points to.",
    );
    for p in probes {
        out.flush_if_full();
        let r = p.r;
        let Some(srv) = &r.facts.srv else { continue };
        if r.facts.blind.is_some() {
            continue;
        }
        let platform = srv.platform();
        sample(
            out,
            "sipfed_platform_info",
            |o| o.push_str(&p.labels),
            &[("platform", platform.as_str())],
            1.0,
        );
    }
}

/// A per-endpoint family: name, help, and what it emits for an endpoint (at most one sample:
/// extra labels and value).
type PerEndpoint = (
    &'static str,
    &'static str,
    fn(&EndpointFacts, &mut dyn FnMut(&[(&str, &str)], f64)),
);

/// TCP connect and TLS handshake: whether and how fast the endpoint answers.
const REACHABILITY: [PerEndpoint; 3] = [
    (
        "sipfed_endpoint_up",
        "1 when TCP connected and the TLS handshake completed.",
        |e, emit| emit(&[], f64::from(u8::from(e.up()))),
    ),
    (
        "sipfed_tcp_connect_duration_seconds",
        "Time to establish the TCP connection.",
        |e, emit| {
            if let Ok(s) = e.tcp {
                emit(&[], s)
            }
        },
    ),
    (
        "sipfed_tls_handshake_duration_seconds",
        "Time of the TLS handshake.",
        |e, emit| {
            if let Some(h) = e.handshake() {
                emit(&[], h.duration_seconds)
            }
        },
    ),
];

/// What the handshake negotiated.
const TLS: [PerEndpoint; 3] = [
    (
        "sipfed_tls_version_info",
        "Negotiated TLS version.",
        |e, emit| {
            if let Some(h) = e.handshake() {
                emit(&[("version", h.version.as_str())], 1.0)
            }
        },
    ),
    (
        "sipfed_tls_cipher_info",
        "Negotiated TLS cipher suite.",
        |e, emit| {
            if let Some(h) = e.handshake() {
                emit(&[("cipher", &h.cipher)], 1.0)
            }
        },
    ),
    (
        "sipfed_tls_client_cert_requested",
        "1 when the server requested a client certificate (mutual TLS).",
        |e, emit| {
            if let Some(h) = e.handshake() {
                emit(&[], f64::from(u8::from(h.client_cert_requested)))
            }
        },
    ),
];

/// Revocation evidence in the handshake.
const REVOCATION: [PerEndpoint; 1] = [(
    "sipfed_cert_ocsp_stapled",
    "1 when the edge stapled an OCSP response to the handshake.",
    |e, emit| {
        if let (Some(_), Some(r)) = (e.handshake(), &e.revocation) {
            emit(&[], f64::from(u8::from(r.stapled)))
        }
    },
)];

/// The presented certificates.
const CERTIFICATES: [PerEndpoint; 4] = [
    (
        "sipfed_cert_not_before_timestamp_seconds",
        "notBefore of the presented leaf certificate.",
        |e, emit| {
            if let Some(d) = leaf_details(e) {
                emit(&[], d.not_before as f64)
            }
        },
    ),
    (
        "sipfed_cert_not_after_timestamp_seconds",
        "notAfter of the presented leaf certificate.",
        |e, emit| {
            if let Some(d) = leaf_details(e) {
                emit(&[], d.not_after as f64)
            }
        },
    ),
    (
        "sipfed_cert_chain_not_after_timestamp_seconds",
        "Earliest notAfter in the presented chain.",
        |e, emit| {
            if let Some(m) = e
                .chain
                .iter()
                .filter_map(|c| c.parsed.as_ref())
                .map(|d| d.not_after)
                .min()
            {
                emit(&[], m as f64)
            }
        },
    ),
    (
        "sipfed_cert_info",
        "The presented leaf certificate.",
        |e, emit| {
            if let (Some(l), Some(d)) = (e.leaf(), leaf_details(e)) {
                emit(
                    &[
                        ("subject_cn", cut(&d.subject_cn)),
                        ("issuer_cn", cut(&d.issuer_cn)),
                        ("serial", cut(&d.serial)),
                        ("sha256", &l.sha256),
                    ],
                    1.0,
                )
            }
        },
    ),
];

/// The answer to SIP OPTIONS.
const SIP: [PerEndpoint; 3] = [
    (
        "sipfed_sip_options_status_code",
        "Status code of the final response to SIP OPTIONS (0: no SIP response).",
        |e, emit| {
            if let Some(sip) = &e.sip {
                emit(&[], f64::from(*sip.status.as_ref().unwrap_or(&0)))
            }
        },
    ),
    (
        "sipfed_sip_options_duration_seconds",
        "Time from sending OPTIONS to its final response.",
        |e, emit| {
            if let Some(sip) = &e.sip {
                emit(&[], sip.duration_seconds)
            }
        },
    ),
    (
        "sipfed_sip_ms_diagnostics_code",
        "The ms-diagnostics code of the SIP answer, when it carried one.",
        |e, emit| {
            if let Some(d) = e.sip.as_ref().and_then(|s| s.diagnostics.as_ref()) {
                emit(&[], f64::from(d.code))
            }
        },
    ),
];

/// The parsed leaf certificate of an endpoint, if any.
fn leaf_details(e: &EndpointFacts) -> Option<&CertDetails> {
    e.leaf().and_then(|l| l.parsed.as_ref())
}

/// The per-endpoint families of `group`, one after the other.
fn write_per_endpoint(out: &mut Out<'_>, endpoints: &[Endpoint<'_>], group: &[PerEndpoint]) {
    for (name, help, value) in group {
        family(out, name, "gauge", help);
        for ep in endpoints {
            out.flush_if_full();
            value(ep.e, &mut |extra, v| {
                sample(out, name, |o| o.push_str(&ep.labels), extra, v)
            });
        }
    }
}

/// Per (tenant, domain): `sipfed_domain_info` and `sipfed_dns_split_horizon`.
fn write_domains(out: &mut Out<'_>, reports: &[&DomainReport]) {
    family(
        out,
        "sipfed_domain_info",
        "gauge",
        "Configured role and federation type of a domain.",
    );
    for d in reports {
        out.flush_if_full();
        sample(
            out,
            "sipfed_domain_info",
            |o| tenant_domain_labels(o, &d.tenant, &d.domain),
            &[
                ("role", d.role.as_str()),
                ("federation", d.federation.as_str()),
            ],
            1.0,
        );
    }
    family(
        out,
        "sipfed_dns_split_horizon",
        "gauge",
        "1 when the domain's vantages see different SRV or address sets.",
    );
    for d in reports {
        out.flush_if_full();
        if let Some(split) = d.split_horizon {
            sample(
                out,
                "sipfed_dns_split_horizon",
                |o| tenant_domain_labels(o, &d.tenant, &d.domain),
                &[],
                f64::from(u8::from(split)),
            );
        }
    }
}

/// Per (tenant, partner domain, vantage, direction): `sipfed_federation_ready`, the verdicts
/// as decided beside the reports (`verdicts[i]` of `reports[i]`).
fn write_pairs(out: &mut Out<'_>, reports: &[&DomainReport], verdicts: &[&[Pair]]) {
    family(
        out,
        "sipfed_federation_ready",
        "gauge",
        "1 when that direction of federation with the partner works (outbound: we reach them, inbound: they reach us).",
    );
    for (d, pairs) in reports.iter().zip(verdicts) {
        out.flush_if_full();
        for p in pairs.iter() {
            let (vantage, direction, ready) = (&p.vantage, p.direction, p.readiness.ready);
            sample(
                out,
                "sipfed_federation_ready",
                |o| {
                    tenant_domain_labels(o, &d.tenant, &d.domain);
                    o.push(',');
                    label(o, "vantage", vantage);
                },
                &[("direction", direction.as_str())],
                f64::from(u8::from(ready)),
            );
        }
    }
}
