//! Exposition: the per-domain families rendered from the store's reports at scrape time and
//! the exporter's own metrics (the prometheus crate only for the standard `process_*`
//! collector). The page is written family by family into chunks of [`CHUNK`] bytes handed to a
//! sink as they fill, so `/metrics` streams them as the response body and the whole page is
//! never held at once. Each probe's and endpoint's label set is escaped once per scrape, then
//! copied into every sample. Domains removed from the configuration have no report, so they
//! are simply not rendered.
//!
//! Adding a family: a per-probe value is one row of `per_probe`, a per-endpoint value one row
//! of `per_endpoint` (both in `write_reports`; their values are taken in one pass and the
//! labels are ready in `Probe::labels` / `Endpoint::labels`); any other per-domain family is a
//! `family(..)` header then one `sample(..)` per series in `write_reports`, with
//! `out.flush_if_full()` once per probe or domain; a family not per domain (like
//! `render_vantages`, `render_self`) is a function taking `&mut String`, called from
//! [`render_into`]. `out` derefs to a `String`; it is handed to the sink between samples.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;
use std::ops::{Deref, DerefMut};

use prometheus::{Encoder, TextEncoder};

use crate::config::Config;
use crate::facts::{CertDetails, CertFacts, EndpointFacts};
use crate::judge::pairs::{self, OwnSide};
use crate::judge::{DomainReport, VantageReport};
use crate::store::stats::Stats;
use crate::store::{Setup, Store};

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

/// Size of the chunks the page is handed out in.
pub const CHUNK: usize = 256 * 1024;

/// Where rendered text goes: a `String` that, given a sink, hands its text to the sink once it
/// holds [`CHUNK`] bytes (at [`Out::flush_if_full`], between samples). A sink returning
/// `false` (the client went away) stops further output.
pub struct Out<'a> {
    buf: String,
    sink: Option<&'a mut dyn FnMut(Vec<u8>) -> bool>,
    closed: bool,
}

impl<'a> Out<'a> {
    /// Output handed to `sink` in chunks.
    pub fn chunked(sink: &'a mut dyn FnMut(Vec<u8>) -> bool) -> Out<'a> {
        Out {
            buf: String::with_capacity(CHUNK + 4096),
            sink: Some(sink),
            closed: false,
        }
    }

    /// Output kept whole in `buf` (appended to).
    fn whole(buf: String) -> Out<'a> {
        Out {
            buf,
            sink: None,
            closed: false,
        }
    }

    /// Hands the text to the sink when it holds a chunk's worth.
    pub fn flush_if_full(&mut self) {
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    /// Hands whatever text there is to the sink.
    pub fn flush(&mut self) {
        let Some(sink) = &mut self.sink else { return };
        if self.buf.is_empty() {
            return;
        }
        let text = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + 4096));
        if !self.closed && !sink(text.into_bytes()) {
            self.closed = true;
        }
    }

    /// Whether the sink refused more (rendering may stop).
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl Deref for Out<'_> {
    type Target = String;
    fn deref(&self) -> &String {
        &self.buf
    }
}

impl DerefMut for Out<'_> {
    fn deref_mut(&mut self) -> &mut String {
        if self.closed {
            // Nobody reads it any more: keep the buffer from growing.
            self.buf.clear();
        }
        &mut self.buf
    }
}

/// Renders the whole `/metrics` page into `sink`, chunk by chunk.
pub fn render_into(store: &Store, sink: &mut dyn FnMut(Vec<u8>) -> bool) {
    let setup = store.setup();
    let reports = store.reports(&setup.config);
    let refs: Vec<&DomainReport> = reports.iter().map(|r| r.as_ref()).collect();
    let own = pairs::own_sides(refs.iter().copied());
    let mut out = Out::chunked(sink);
    write_reports(&mut out, &refs, &own);
    render_identities(&mut out, &setup);
    render_vantages(&mut out, store, &setup.config);
    render_self(&mut out, &store.stats, &setup.config);
    out.flush();
    let mut process = Vec::new();
    render_process(&mut process);
    if !out.closed()
        && !process.is_empty()
        && let Some(sink) = out.sink.as_mut()
    {
        sink(process);
    }
}

/// Renders the whole `/metrics` page into one buffer (tests, the benchmark).
pub fn render(store: &Store) -> Vec<u8> {
    let mut page = Vec::new();
    render_into(store, &mut |chunk| {
        page.extend_from_slice(&chunk);
        true
    });
    page
}

/// Renders one report (what `/probe` answers).
pub fn render_report(out: &mut String, report: &DomainReport) {
    render_reports(out, &[report]);
}

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

/// Renders the per-domain, per-probe and per-endpoint families of `reports`; the inbound
/// verdicts of partners are completed with the own domains among `reports`.
pub fn render_reports(out: &mut String, reports: &[&DomainReport]) {
    let own = pairs::own_sides(reports.iter().copied());
    render_reports_with(out, reports, &own);
}

/// [`render_reports`] with the tenants' own sides given (`/probe` of a partner: its tenant's
/// own domains as the store judged them).
pub fn render_reports_with(
    out: &mut String,
    reports: &[&DomainReport],
    own: &HashMap<String, OwnSide>,
) {
    let mut o = Out::whole(std::mem::take(out));
    write_reports(&mut o, reports, own);
    *out = o.buf;
}

/// [`render_reports`] into an [`Out`].
fn write_reports(out: &mut Out<'_>, reports: &[&DomainReport], own: &HashMap<String, OwnSide>) {
    let (probes, endpoints) = probes(reports);
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
    // Every per-probe value in one pass over the probes (a pass per family would visit each
    // probe's facts again, a cache miss each time at 10,000 domains).
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
    family(
        out,
        "sipfed_check_success",
        "gauge",
        "1 when the check passed, 0 when it failed; one series per applicable check.",
    );
    // The failing findings, noted on the way: a second pass over every probe's findings
    // (160,000 at 10,000 domains, cache misses each) was an eighth of the scrape.
    let mut failures = Vec::new();
    for p in &probes {
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
    family(
        out,
        "sipfed_srv_target_info",
        "gauge",
        "One series per federation SRV record.",
    );
    for p in &probes {
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
    for p in &probes {
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
    // Per endpoint: each family emits at most one sample per endpoint (extra labels, value).
    type PerEndpoint = fn(&EndpointFacts, &mut dyn FnMut(&[(&str, &str)], f64));
    let per_endpoint: [(&str, &str, PerEndpoint); 13] = [
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
            "sipfed_cert_ocsp_stapled",
            "1 when the edge stapled an OCSP response to the handshake.",
            |e, emit| {
                if let (Some(_), Some(r)) = (e.handshake(), &e.revocation) {
                    emit(&[], f64::from(u8::from(r.stapled)))
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
        for ep in &endpoints {
            out.flush_if_full();
            value(ep.e, &mut |extra, v| {
                sample(out, name, |o| o.push_str(&ep.labels), extra, v)
            });
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
    // Per (tenant, partner domain, vantage, direction).
    family(
        out,
        "sipfed_federation_ready",
        "gauge",
        "1 when that direction of federation with the partner works (outbound: we reach them, inbound: they reach us).",
    );
    for d in reports {
        out.flush_if_full();
        for (vantage, direction, ready) in pairs::ready_flags(d, own.get(&d.tenant)) {
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

/// Per tenant with a client certificate: when it expires and what it is.
fn render_identities(out: &mut String, setup: &Setup) {
    let config = &setup.config;
    let mut tenants: BTreeMap<&str, ()> = config.tenants.keys().map(|t| (t.as_str(), ())).collect();
    for d in &config.domains {
        tenants.insert(d.tenant.as_str(), ());
    }
    let certs: Vec<(&str, &CertFacts, &CertDetails)> = tenants
        .keys()
        .filter_map(|t| {
            let leaf = setup.tenants.of(t).client_cert.as_ref()?.first()?;
            Some((*t, leaf, leaf.parsed.as_ref()?))
        })
        .collect();
    family(
        out,
        "sipfed_client_cert_not_after_timestamp_seconds",
        "gauge",
        "Unix time the tenant's client certificate (what its edge presents to partners) expires.",
    );
    for (t, _, d) in &certs {
        sample(
            out,
            "sipfed_client_cert_not_after_timestamp_seconds",
            |o| label(o, "tenant", t),
            &[],
            d.not_after as f64,
        );
    }
    family(
        out,
        "sipfed_client_cert_info",
        "gauge",
        "The tenant's client certificate: subject, issuer, SHA-256, whether it allows client authentication.",
    );
    for (t, leaf, d) in &certs {
        let client_auth = d.eku.is_none_or(|k| k.client_auth || k.any);
        sample(
            out,
            "sipfed_client_cert_info",
            |o| label(o, "tenant", t),
            &[
                ("subject_cn", cut(&d.subject_cn)),
                ("issuer_cn", cut(&d.issuer_cn)),
                ("sha256", &leaf.sha256),
                ("client_auth", if client_auth { "true" } else { "false" }),
            ],
            1.0,
        );
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
        "sipfed_http_connections_rejected_total",
        "counter",
        "HTTP connections a limit refused or closed, by reason (per_address: over --web.max-connections-per-address at accept; header_timeout: no request headers within the header timeout of accept).",
    );
    for (reason, n) in crate::expose::server::REJECTED.counts() {
        let _ = writeln!(
            out,
            "sipfed_http_connections_rejected_total{{reason=\"{reason}\"}} {n}"
        );
    }
    family(
        out,
        "sipfed_http_requests_rejected_total",
        "counter",
        "HTTP requests refused by a limit, by reason (auth_busy: 503 because the basic-auth password-check queue was full).",
    );
    let _ = writeln!(
        out,
        "sipfed_http_requests_rejected_total{{reason=\"auth_busy\"}} {}",
        crate::expose::webconfig::AUTH_BUSY.load(std::sync::atomic::Ordering::Relaxed)
    );
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

/// The labels an endpoint adds to its probe's.
fn endpoint_labels(out: &mut String, target: &str, address: &str) {
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
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Timestamps and status codes: integer formatting, the same digits as f64's.
        let _ = write!(out, "{}", value as i64);
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
    use crate::facts::Facts;
    use crate::judge::test_facts::Judge;

    /// A report with SRV records, two endpoints (one with a certificate and SIP), findings.
    fn report() -> DomainReport {
        let facts = Facts::two_endpoints();
        Judge::peer().report(vec![
            ("default", false, facts.clone()),
            ("inside", false, facts),
        ])
    }

    #[test]
    fn chunked_output_is_the_whole_page_cut_between_samples() {
        let one = report();
        let reports: Vec<&DomainReport> = std::iter::repeat_n(&one, 300).collect();
        let mut whole = String::new();
        render_reports(&mut whole, &reports);
        assert!(whole.len() > 2 * CHUNK, "{} bytes", whole.len());
        assert!(whole.contains(
            "sipfed_endpoint_up{tenant=\"default\",domain=\"kanzlei.de\",vantage=\"inside\",target=\"sip.example.com\",address=\"[2001:db8::1]:5061\"} 0\n"
        ));
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let mut sink = |c: Vec<u8>| {
            chunks.push(c);
            true
        };
        let mut out = Out::chunked(&mut sink);
        write_reports(&mut out, &reports, &HashMap::new());
        out.flush();
        drop(out);
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        for c in &chunks {
            assert_eq!(c.last(), Some(&b'\n'));
            assert!(c.len() < CHUNK + 16384, "{}", c.len());
        }
        assert_eq!(chunks.concat(), whole.into_bytes());
        // A sink that refuses (the client went away) gets nothing more.
        let mut calls = 0;
        let mut refusing = |_: Vec<u8>| {
            calls += 1;
            false
        };
        let mut out = Out::chunked(&mut refusing);
        write_reports(&mut out, &reports, &HashMap::new());
        out.flush();
        assert!(out.closed());
        assert!(out.len() < CHUNK);
        drop(out);
        assert_eq!(calls, 1);
    }

    #[test]
    fn values_print_as_prometheus_reads_them() {
        let line = |v: f64| {
            let mut s = String::new();
            sample(&mut s, "m", |o| o.push_str("a=\"b\""), &[], v);
            s
        };
        assert_eq!(line(0.0), "m{a=\"b\"} 0\n");
        assert_eq!(line(1.0), "m{a=\"b\"} 1\n");
        assert_eq!(line(200.0), "m{a=\"b\"} 200\n");
        assert_eq!(line(1_800_000_000.0), "m{a=\"b\"} 1800000000\n");
        assert_eq!(line(-5.0), "m{a=\"b\"} -5\n");
        assert_eq!(line(0.0125), "m{a=\"b\"} 0.0125\n");
        assert_eq!(line(1_800_000_000.25), "m{a=\"b\"} 1800000000.25\n");
        assert_eq!(line(1e300), format!("m{{a=\"b\"}} {}\n", 1e300));
        assert_eq!(line(f64::NAN), "m{a=\"b\"} NaN\n");
    }

    #[test]
    fn escapes_label_values() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
