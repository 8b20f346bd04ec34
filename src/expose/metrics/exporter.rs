//! The exporter's own families: its tenants' client certificates, its vantages, itself
//! (build, workload, HTTP limits, configuration state) and the standard `process_*` ones.

use std::collections::BTreeMap;
use std::fmt::Write;

use prometheus::{Encoder, TextEncoder};

use super::text::{cut, family, label, sample};
use crate::config::Config;
use crate::facts::{CertDetails, CertFacts};
use crate::store::stats::Stats;
use crate::store::{Setup, Store};

/// Per tenant with a client certificate: when it expires and what it is.
pub(super) fn render_identities(out: &mut String, setup: &Setup) {
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
        let client_auth = d.allows_client_auth();
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

/// Per vantage: whether its own means work, and what it is.
pub(super) fn render_vantages(out: &mut String, store: &Store, config: &Config) {
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
        "sipfed_vantage_address_family_up",
        "gauge",
        "1 when the vantage's host has a route for the address family, 0 when connections found none (ENETUNREACH, EADDRNOTAVAIL).",
    );
    for (name, fam, up) in store.vantage_routes() {
        sample(
            out,
            "sipfed_vantage_address_family_up",
            |o| label(o, "vantage", &name),
            &[("family", fam)],
            f64::from(u8::from(up)),
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

/// The exporter itself.
pub(super) fn render_self(out: &mut String, stats: &Stats, config: &Config) {
    render_build(out);
    render_workload(out, stats, config);
    render_http_limits(out);
    render_state(out, stats, config);
}

/// `sipfed_exporter_build_info`.
fn render_build(out: &mut String) {
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
}

/// What the exporter has to do and has done: configured domains, finished probes.
fn render_workload(out: &mut String, stats: &Stats, config: &Config) {
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
}

/// What the HTTP server's limits refused.
fn render_http_limits(out: &mut String) {
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
}

/// Probes running now and the configuration in force.
fn render_state(out: &mut String, stats: &Stats, config: &Config) {
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
pub(super) fn render_process(out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `revision` is the source tree's commit (build.rs), `unknown` only outside a checkout.
    #[test]
    fn build_info_names_the_commit_it_was_built_from() {
        let mut out = String::new();
        render_build(&mut out);
        let head = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let want = std::env::var("SIPFED_REVISION")
            .ok()
            .filter(|v| !v.is_empty())
            .or(head)
            .unwrap_or_else(|| "unknown".to_string());
        assert!(
            out.contains(&format!("revision=\"{want}\"}} 1")),
            "{out}\nwant revision {want}"
        );
    }
}
