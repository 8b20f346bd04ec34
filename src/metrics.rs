//! Exposition: the exporter's own metrics (prometheus crate, process collector included) and
//! the per-domain families, rendered at scrape time from the latest results straight into the
//! response buffer. Domains removed from the configuration are simply not rendered.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{Encoder, Gauge, GaugeVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::config::Config;
use crate::facts::EndpointFacts;
use crate::m365::{self, Platform};
use crate::scheduler::{Exporter, ProbeKey, ProbeResult};

/// Counters and gauges about the exporter itself.
pub struct SelfMetrics {
    registry: Registry,
    probes_total: IntCounterVec,
    in_flight: IntGauge,
    reload_ok: IntGauge,
    reload_ts: Gauge,
    interval: Gauge,
    domains: GaugeVec,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    pub fn new() -> SelfMetrics {
        let registry = Registry::new();
        let build = GaugeVec::new(
            Opts::new(
                "sipfed_exporter_build_info",
                "Build of the running exporter (always 1).",
            ),
            &["version", "revision"],
        )
        .expect("static metric definition");
        build
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                option_env!("SIPFED_REVISION").unwrap_or("unknown"),
            ])
            .set(1.0);
        let probes_total = IntCounterVec::new(
            Opts::new(
                "sipfed_probes_total",
                "Probes finished, by vantage and result (success: no critical check failed).",
            ),
            &["vantage", "result"],
        )
        .expect("static metric definition");
        let in_flight = IntGauge::new("sipfed_probes_in_flight", "Probes running now.")
            .expect("static metric definition");
        let reload_ok = IntGauge::new(
            "sipfed_config_last_reload_successful",
            "Whether the last configuration (re)load succeeded.",
        )
        .expect("static metric definition");
        let reload_ts = Gauge::new(
            "sipfed_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration (re)load.",
        )
        .expect("static metric definition");
        let interval = Gauge::new(
            "sipfed_probe_interval_seconds",
            "Configured probe interval per (domain, vantage).",
        )
        .expect("static metric definition");
        let domains = GaugeVec::new(
            Opts::new("sipfed_domains", "Configured domains per tenant."),
            &["tenant"],
        )
        .expect("static metric definition");
        for c in [
            Box::new(build) as Box<dyn prometheus::core::Collector>,
            Box::new(probes_total.clone()),
            Box::new(in_flight.clone()),
            Box::new(reload_ok.clone()),
            Box::new(reload_ts.clone()),
            Box::new(interval.clone()),
            Box::new(domains.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            let _ = registry.register(Box::new(pc));
        }
        SelfMetrics {
            registry,
            probes_total,
            in_flight,
            reload_ok,
            reload_ts,
            interval,
            domains,
        }
    }

    pub fn probe_started(&self) {
        self.in_flight.inc();
    }

    pub fn probe_cancelled(&self) {
        self.in_flight.dec();
    }

    pub fn probe_finished(&self, vantage: &str, success: bool) {
        self.in_flight.dec();
        let result = if success { "success" } else { "failure" };
        self.probes_total
            .with_label_values(&[vantage, result])
            .inc();
    }

    pub fn reload(&self, ok: bool) {
        self.reload_ok.set(i64::from(ok));
        if ok {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.reload_ts.set(now);
        }
    }

    pub fn set_interval(&self, interval: Duration) {
        self.interval.set(interval.as_secs_f64());
    }

    fn set_domains(&self, config: &Config) {
        let mut per_tenant: BTreeMap<&str, f64> = BTreeMap::new();
        for d in &config.domains {
            *per_tenant.entry(d.tenant.as_str()).or_default() += 1.0;
        }
        self.domains.reset();
        for (t, n) in per_tenant {
            self.domains.with_label_values(&[t]).set(n);
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let families = self.registry.gather();
        // Encoding into a Vec cannot fail for well-formed families.
        let _ = TextEncoder::new().encode(&families, out);
    }
}

/// Renders the whole `/metrics` page.
pub fn render(exporter: &Exporter) -> Vec<u8> {
    let rt = exporter.runtime();
    exporter.metrics.set_domains(&rt.config);
    let results = exporter.results_of(&rt.config);
    let mut out = String::with_capacity(512 + results.len() * 2048);
    render_results(&mut out, &rt.config, &results, true);
    let mut bytes = out.into_bytes();
    exporter.metrics.encode(&mut bytes);
    bytes
}

/// Renders the per-domain families for `results`; `domain_level` adds the per-(tenant,
/// domain) families (`sipfed_domain_info`, `sipfed_dns_split_horizon`).
pub fn render_results(
    out: &mut String,
    config: &Config,
    results: &[(ProbeKey, std::sync::Arc<ProbeResult>)],
    domain_level: bool,
) {
    // Per (tenant, domain, vantage): one value per probe result.
    type PerProbe = fn(&ProbeResult) -> Option<f64>;
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
            |r| Some(r.finished_at),
        ),
        (
            "sipfed_srv_records",
            "Federation SRV records the vantage's first resolver returned.",
            |r| r.facts.srv.as_ref().map(|s| s.records().len() as f64),
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
        for (k, r) in results {
            if let Some(v) = value(r) {
                sample(out, name, |o| domain_labels(o, k), &[], v);
            }
        }
    }
    family(
        out,
        "sipfed_check_success",
        "gauge",
        "1 when the check passed, 0 when it failed; one series per applicable check.",
    );
    for (k, r) in results {
        for f in &r.findings {
            sample(
                out,
                "sipfed_check_success",
                |o| domain_labels(o, k),
                &[("check", f.check), ("severity", f.severity.as_str())],
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
    for (k, r) in results {
        for f in &r.findings {
            if let Some(reason) = f.reason {
                sample(
                    out,
                    "sipfed_check_failure_info",
                    |o| domain_labels(o, k),
                    &[("check", f.check), ("reason", reason.as_str())],
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
    for (k, r) in results {
        if let Some(srv) = &r.facts.srv {
            let mut seen = HashSet::new();
            for rec in srv.records() {
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
                    |o| domain_labels(o, k),
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
    for (k, r) in results {
        let Some(srv) = &r.facts.srv else { continue };
        // The platform of the most preferred record (lowest priority, then highest weight).
        let platform = srv
            .records()
            .iter()
            .filter(|rec| !rec.target.is_empty())
            .min_by_key(|rec| (rec.priority, std::cmp::Reverse(rec.weight)))
            .map(|rec| m365::classify_target(&rec.target))
            .unwrap_or(Platform::None);
        sample(
            out,
            "sipfed_platform_info",
            |o| domain_labels(o, k),
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
                    emit(&[("version", &h.version)], 1.0)
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
                            ("subject_cn", &d.subject_cn),
                            ("issuer_cn", &d.issuer_cn),
                            ("serial", &d.serial),
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
        for (k, r) in results {
            for t in &r.facts.targets {
                for e in &t.endpoints {
                    let addr = e.address.to_string();
                    value(e, &mut |extra, v| {
                        sample(
                            out,
                            name,
                            |o| endpoint_labels(o, k, &t.name, &addr),
                            extra,
                            v,
                        )
                    });
                }
            }
        }
    }
    if !domain_level {
        return;
    }
    // Per (tenant, domain).
    family(
        out,
        "sipfed_domain_info",
        "gauge",
        "Configured role and federation type of a domain.",
    );
    for d in &config.domains {
        let labels = |o: &mut String| tenant_domain_labels(o, &d.tenant, &d.name);
        sample(
            out,
            "sipfed_domain_info",
            labels,
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
    let mut by_domain: BTreeMap<(&str, &str), Vec<&ProbeResult>> = BTreeMap::new();
    for (k, r) in results {
        by_domain
            .entry((k.tenant.as_str(), k.domain.as_str()))
            .or_default()
            .push(r);
    }
    for ((tenant, domain), rs) in by_domain {
        if rs.len() < 2 {
            continue;
        }
        let first = dns_view(rs[0]);
        let split = rs[1..].iter().any(|r| dns_view(r) != first);
        let labels = |o: &mut String| tenant_domain_labels(o, tenant, domain);
        sample(
            out,
            "sipfed_dns_split_horizon",
            labels,
            &[],
            f64::from(u8::from(split)),
        );
    }
}

/// What a vantage saw of a domain in DNS: SRV records and every target's addresses.
fn dns_view(r: &ProbeResult) -> (Vec<String>, Vec<String>) {
    let mut srv: Vec<String> = r
        .facts
        .srv
        .as_ref()
        .map(|s| {
            s.records()
                .iter()
                .map(|x| format!("{} {} {} {}", x.priority, x.weight, x.port, x.target))
                .collect()
        })
        .unwrap_or_default();
    srv.sort();
    let mut addrs: Vec<String> = r
        .facts
        .targets
        .iter()
        .flat_map(|t| {
            t.addresses()
                .into_iter()
                .flatten()
                .map(move |a| format!("{} {a}", t.name))
        })
        .collect();
    addrs.sort();
    (srv, addrs)
}

/// The parsed leaf certificate of an endpoint, if any.
fn leaf_details(e: &EndpointFacts) -> Option<&crate::facts::CertDetails> {
    e.leaf().and_then(|l| l.parsed.as_ref())
}

fn tenant_domain_labels(out: &mut String, tenant: &str, domain: &str) {
    out.push_str("tenant=\"");
    escape(out, tenant);
    out.push_str("\",domain=\"");
    escape(out, domain);
    out.push('"');
}

fn domain_labels(out: &mut String, k: &ProbeKey) {
    tenant_domain_labels(out, &k.tenant, &k.domain);
    out.push_str(",vantage=\"");
    escape(out, &k.vantage);
    out.push('"');
}

fn endpoint_labels(out: &mut String, k: &ProbeKey, target: &str, address: &str) {
    domain_labels(out, k);
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
    if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        out.push_str("NaN");
    }
    out.push('\n');
}

/// Label value escaping of the text exposition format.
fn escape(out: &mut String, v: &str) {
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
