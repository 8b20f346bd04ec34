//! Exposition: the per-domain families rendered from the store's reports at scrape time,
//! straight into the response buffer, and the exporter's own metrics (the prometheus crate
//! only for the standard `process_*` collector). Domains removed from the configuration have no
//! report, so they are simply not rendered.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use prometheus::{Encoder, TextEncoder};

use crate::config::Config;
use crate::facts::{self, CertDetails, EndpointFacts, Platform};
use crate::judge::{DomainReport, VantageReport};
use crate::store::Store;
use crate::store::stats::Stats;

/// `sipfed_srv_target_info` series per (domain, vantage) at most: a partner publishing
/// hundreds of SRV records must not add hundreds of series (`sipfed_srv_records` has the count).
pub const MAX_SRV_SERIES: usize = 16;

/// Characters of a certificate label value (`subject_cn`, `issuer_cn`, `serial`) at most; longer
/// values are cut (the full value is on the status page).
pub const MAX_CERT_LABEL_CHARS: usize = 64;

/// `value` cut to `MAX_CERT_LABEL_CHARS` characters.
fn cut(value: &str) -> &str {
    match value.char_indices().nth(MAX_CERT_LABEL_CHARS) {
        Some((i, _)) => &value[..i],
        None => value,
    }
}

/// Renders the whole `/metrics` page.
pub fn render(store: &Store) -> Vec<u8> {
    let setup = store.setup();
    let reports = store.reports(&setup.config);
    // Sized like the last page, so the body is never copied into a bigger buffer (which
    // would hold it twice) while it grows.
    let last = LAST_SIZE.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = String::with_capacity(last.max(reports.len() * 6144) + 65536);
    let refs: Vec<&DomainReport> = reports.iter().map(|r| r.as_ref()).collect();
    render_reports(&mut out, &refs);
    render_vantages(&mut out, store, &setup.config);
    render_self(&mut out, &store.stats, &setup.config);
    let mut bytes = out.into_bytes();
    render_process(&mut bytes);
    LAST_SIZE.store(bytes.len(), std::sync::atomic::Ordering::Relaxed);
    bytes
}

/// Size of the last `/metrics` page.
static LAST_SIZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Renders one report (what `/probe` answers).
pub fn render_report(out: &mut String, report: &DomainReport) {
    render_reports(out, &[report]);
}

/// Every (report, vantage report) pair.
fn probes<'a>(
    reports: &'a [&'a DomainReport],
) -> impl Iterator<Item = (&'a DomainReport, &'a VantageReport)> + 'a {
    reports
        .iter()
        .flat_map(|d| d.vantages.iter().map(move |v| (*d, v)))
}

/// Renders the per-domain, per-probe and per-endpoint families of `reports`.
pub fn render_reports(out: &mut String, reports: &[&DomainReport]) {
    // Per (tenant, domain, vantage): one value per probe result.
    type PerProbe = fn(&VantageReport) -> Option<f64>;
    let per_probe: [(&str, &str, PerProbe); 6] = [
        (
            "sipfed_probe_success",
            "1 when no critical check failed in the latest probe.",
            |r| Some(f64::from(u8::from(r.success))),
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
        (
            "sipfed_srv_records",
            "Federation SRV records the vantage's first resolver returned.",
            // A probe that could not look (its vantage's resolvers down) counted nothing.
            |r| match (&r.facts.srv, r.facts.blind) {
                (Some(s), None) => Some(s.records().len() as f64),
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
    for (name, help, value) in per_probe {
        family(out, name, "gauge", help);
        for (d, r) in probes(reports) {
            if let Some(v) = value(r) {
                sample(out, name, |o| domain_labels(o, d, r), &[], v);
            }
        }
    }
    family(
        out,
        "sipfed_check_success",
        "gauge",
        "1 when the check passed, 0 when it failed; one series per applicable check.",
    );
    for (d, r) in probes(reports) {
        for f in &r.findings {
            sample(
                out,
                "sipfed_check_success",
                |o| domain_labels(o, d, r),
                &[
                    ("check", f.check.as_str()),
                    ("severity", f.severity.as_str()),
                ],
                f64::from(u8::from(f.passed)),
            );
        }
    }
    family(
        out,
        "sipfed_check_failure_info",
        "gauge",
        "Why a check failed (bounded reason set); present only for failing checks.",
    );
    for (d, r) in probes(reports) {
        for f in &r.findings {
            if let Some(reason) = f.reason {
                sample(
                    out,
                    "sipfed_check_failure_info",
                    |o| domain_labels(o, d, r),
                    &[("check", f.check.as_str()), ("reason", reason.as_str())],
                    1.0,
                );
            }
        }
    }
    family(
        out,
        "sipfed_srv_target_info",
        "gauge",
        "One series per federation SRV record.",
    );
    for (d, r) in probes(reports) {
        if let Some(srv) = &r.facts.srv {
            let mut seen = HashSet::new();
            for rec in srv.records() {
                if seen.len() >= MAX_SRV_SERIES {
                    break;
                }
                if !seen.insert(rec) {
                    continue;
                }
                let (p, w, port) = (
                    rec.priority.to_string(),
                    rec.weight.to_string(),
                    rec.port.to_string(),
                );
                sample(
                    out,
                    "sipfed_srv_target_info",
                    |o| domain_labels(o, d, r),
                    &[
                        ("target", &rec.target),
                        ("port", &port),
                        ("priority", &p),
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
    for (d, r) in probes(reports) {
        let Some(srv) = &r.facts.srv else { continue };
        if r.facts.blind.is_some() {
            continue;
        }
        // The platform of the most preferred record (lowest priority, then highest weight).
        let platform = srv
            .records()
            .iter()
            .filter(|rec| !rec.target.is_empty())
            .min_by_key(|rec| (rec.priority, std::cmp::Reverse(rec.weight)))
            .map(|rec| facts::classify_target(&rec.target))
            .unwrap_or(Platform::None);
        sample(
            out,
            "sipfed_platform_info",
            |o| domain_labels(o, d, r),
            &[("platform", platform.as_str())],
            1.0,
        );
    }
    // Per endpoint: each family emits at most one sample per endpoint (extra labels, value).
    type PerEndpoint = fn(&EndpointFacts, &mut dyn FnMut(&[(&str, &str)], f64));
    let per_endpoint: [(&str, &str, PerEndpoint); 12] = [
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
    ];
    for (name, help, value) in per_endpoint {
        family(out, name, "gauge", help);
        for (d, r) in probes(reports) {
            for t in &r.facts.targets {
                for e in &t.endpoints {
                    let addr = e.address.to_string();
                    value(e, &mut |extra, v| {
                        sample(
                            out,
                            name,
                            |o| endpoint_labels(o, d, r, &t.name, &addr),
                            extra,
                            v,
                        )
                    });
                }
            }
        }
    }
    // Per (tenant, domain).
    family(
        out,
        "sipfed_domain_info",
        "gauge",
        "Configured role and federation type of a domain.",
    );
    for d in reports {
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

/// The exporter's own families.
/// Per vantage: whether its own means work, and what it is.
fn render_vantages(out: &mut String, store: &Store, config: &Config) {
    family(
        out,
        "sipfed_vantage_up",
        "gauge",
        "1 when the vantage's resolvers answer and its proxy, if any, accepts connections.",
    );
    for (name, health) in store.vantage_health() {
        sample(
            out,
            "sipfed_vantage_up",
            |o| label(o, "vantage", &name),
            &[],
            f64::from(u8::from(health.up())),
        );
    }
    family(
        out,
        "sipfed_vantage_info",
        "gauge",
        "A configured vantage: whether it is public, and its proxy (host:port, no credentials).",
    );
    for v in &config.vantages {
        let proxy = v.proxy.as_ref().map(|p| p.address.as_str()).unwrap_or("");
        let public = if v.public { "true" } else { "false" };
        sample(
            out,
            "sipfed_vantage_info",
            |o| label(o, "vantage", &v.name),
            &[("public", public), ("proxy", proxy)],
            1.0,
        );
    }
}

fn render_self(out: &mut String, stats: &Stats, config: &Config) {
    family(
        out,
        "sipfed_exporter_build_info",
        "gauge",
        "Build of the running exporter (always 1).",
    );
    let _ = writeln!(
        out,
        "sipfed_exporter_build_info{{version=\"{}\",revision=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        option_env!("SIPFED_REVISION").unwrap_or("unknown")
    );
    family(
        out,
        "sipfed_domains",
        "gauge",
        "Configured domains per tenant.",
    );
    let mut per_tenant: BTreeMap<&str, u64> = BTreeMap::new();
    for d in &config.domains {
        *per_tenant.entry(d.tenant.as_str()).or_default() += 1;
    }
    for (t, n) in per_tenant {
        sample(
            out,
            "sipfed_domains",
            |o| label(o, "tenant", t),
            &[],
            n as f64,
        );
    }
    family(
        out,
        "sipfed_probes_total",
        "counter",
        "Probes finished, by vantage and result (success: no critical check failed).",
    );
    for ((vantage, success), n) in stats.finished() {
        let result = if success { "success" } else { "failure" };
        sample(
            out,
            "sipfed_probes_total",
            |o| label(o, "vantage", &vantage),
            &[("result", result)],
            n as f64,
        );
    }
    family(
        out,
        "sipfed_probes_in_flight",
        "gauge",
        "Probes running now.",
    );
    let _ = writeln!(out, "sipfed_probes_in_flight {}", stats.in_flight());
    let (ok, at) = stats.last_reload();
    family(
        out,
        "sipfed_config_last_reload_successful",
        "gauge",
        "Whether the last configuration (re)load succeeded.",
    );
    let _ = writeln!(out, "sipfed_config_last_reload_successful {}", u8::from(ok));
    family(
        out,
        "sipfed_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful configuration (re)load.",
    );
    let _ = writeln!(
        out,
        "sipfed_config_last_reload_success_timestamp_seconds {at}"
    );
    family(
        out,
        "sipfed_probe_interval_seconds",
        "gauge",
        "Configured probe interval per (domain, vantage).",
    );
    let _ = writeln!(
        out,
        "sipfed_probe_interval_seconds {}",
        config.global.interval.as_secs_f64()
    );
}

/// The standard `process_*` metrics (Linux).
fn render_process(out: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        use prometheus::core::Collector;
        let pc = prometheus::process_collector::ProcessCollector::for_self();
        // Encoding into a Vec cannot fail for well-formed families.
        let _ = TextEncoder::new().encode(&pc.collect(), out);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (out, TextEncoder::new());
}

fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    escape(out, value);
    out.push('"');
}

/// The parsed leaf certificate of an endpoint, if any.
fn leaf_details(e: &EndpointFacts) -> Option<&CertDetails> {
    e.leaf().and_then(|l| l.parsed.as_ref())
}

fn tenant_domain_labels(out: &mut String, tenant: &str, domain: &str) {
    out.push_str("tenant=\"");
    escape(out, tenant);
    out.push_str("\",domain=\"");
    escape(out, domain);
    out.push('"');
}

fn domain_labels(out: &mut String, d: &DomainReport, v: &VantageReport) {
    tenant_domain_labels(out, &d.tenant, &d.domain);
    out.push_str(",vantage=\"");
    escape(out, &v.vantage);
    out.push('"');
}

fn endpoint_labels(
    out: &mut String,
    d: &DomainReport,
    v: &VantageReport,
    target: &str,
    address: &str,
) {
    domain_labels(out, d, v);
    out.push_str(",target=\"");
    escape(out, target);
    out.push_str("\",address=\"");
    escape(out, address);
    out.push('"');
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(
    out: &mut String,
    name: &str,
    labels: impl FnOnce(&mut String),
    extra: &[(&str, &str)],
    value: f64,
) {
    out.push_str(name);
    out.push('{');
    labels(out);
    for (k, v) in extra {
        out.push(',');
        out.push_str(k);
        out.push_str("=\"");
        escape(out, v);
        out.push('"');
    }
    out.push_str("} ");
    if value == 0.0 {
        out.push('0');
    } else if value == 1.0 {
        out.push('1');
    } else if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        out.push_str("NaN");
    }
    out.push('\n');
}

/// Label value escaping of the text exposition format.
fn escape(out: &mut String, v: &str) {
    // Most values need no escaping: copy them whole.
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
