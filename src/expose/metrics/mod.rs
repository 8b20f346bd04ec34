//! Exposition: the per-domain families rendered from the store's reports at scrape time and
//! the exporter's own metrics (the prometheus crate only for the standard `process_*`
//! collector). The page is written family by family into chunks of [`CHUNK`] bytes handed to a
//! sink as they fill, so `/metrics` streams them as the response body and the whole page is
//! never held at once. Each probe's and endpoint's label set is escaped once per scrape, then
//! copied into every sample. Domains removed from the configuration have no report, so they
//! are simply not rendered.
//!
//! - `domains`: the per-domain families, one writer per family group (probe and DNS counts,
//!   checks, SRV, reachability, TLS, revocation, certificates, SIP, domains, pairs).
//! - `exporter`: the exporter's own families (client certificates, vantages, itself, process).
//! - `text`: the exposition format (family headers, samples, labels, escaping).
//! - `out`: the chunked output ([`Out`]).
//!
//! Adding a family: a per-probe value is one row of a `PerProbe` table, a per-endpoint value
//! one row of a `PerEndpoint` table of its group (in `domains`; per-probe values are taken in
//! one pass and the labels are ready in `Probe::labels` / `Endpoint::labels`); any other
//! per-domain family is a `family(..)` header then one `sample(..)` per series in its group's
//! writer, with `out.flush_if_full()` once per probe or domain; a family not per domain (like
//! `render_vantages`, `render_self`) is a function taking `&mut String` in `exporter`, called
//! from [`render_into`]. `out` derefs to a `String`; it is handed to the sink between samples.

mod domains;
mod exporter;
mod out;
mod text;

use super::access::Sight;
use crate::judge::DomainReport;
use crate::judge::pairs::{self, Pair};
use crate::store::Store;

pub use domains::MAX_SRV_SERIES;
use domains::write_reports;
use exporter::{render_identities, render_process, render_self, render_vantages};
pub use out::{CHUNK, Out};
pub use text::MAX_CERT_LABEL_CHARS;

/// Renders the whole `/metrics` page into `sink`, chunk by chunk.
pub fn render_into(store: &Store, sink: &mut dyn FnMut(Vec<u8>) -> bool) {
    let setup = store.setup();
    let judged = store.judged(&setup.config);
    let refs: Vec<&DomainReport> = judged.iter().map(|(r, _)| r.as_ref()).collect();
    let verdicts: Vec<&[Pair]> = judged.iter().map(|(_, v)| v.as_ref()).collect();
    let mut out = Out::chunked(sink);
    write_reports(&mut out, &refs, &verdicts);
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

/// Renders `/metrics` as `sight` may see it: everything, or for a viewer of some tenants only
/// the series of their domains (docs/configuration.md "Who sees which tenants"): the
/// exporter's own series (vantages, identities, self, process) describe every tenant's
/// probing and are left to see_all users.
pub fn render_seen(store: &Store, sight: &Sight, sink: &mut dyn FnMut(Vec<u8>) -> bool) {
    if sight.all() {
        return render_into(store, sink);
    }
    let setup = store.setup();
    let judged = store.judged(&setup.config);
    let seen: Vec<_> = judged
        .iter()
        .filter(|(r, _)| sight.sees(&r.tenant))
        .collect();
    let refs: Vec<&DomainReport> = seen.iter().map(|(r, _)| r.as_ref()).collect();
    let verdicts: Vec<&[Pair]> = seen.iter().map(|(_, v)| v.as_ref()).collect();
    let mut out = Out::chunked(sink);
    write_reports(&mut out, &refs, &verdicts);
    out.flush();
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

/// Renders the per-domain, per-probe and per-endpoint families of a set of reports outside
/// the store (tests); the inbound verdicts of partners are completed with the own domains
/// among `reports`.
pub fn render_reports(out: &mut String, reports: &[&DomainReport]) {
    let verdicts = pairs::verdicts_of(reports.iter().copied(), reports.iter().copied());
    let refs: Vec<&[Pair]> = verdicts.iter().map(|v| v.as_slice()).collect();
    render_reports_with(out, reports, &refs);
}

/// [`render_reports`] with each report's verdicts given (`verdicts[i]` of `reports[i]`;
/// `/probe` of a partner: completed with its tenant's own side as the store holds it).
pub fn render_reports_with(out: &mut String, reports: &[&DomainReport], verdicts: &[&[Pair]]) {
    let mut o = Out::whole(std::mem::take(out));
    write_reports(&mut o, reports, verdicts);
    *out = o.buf;
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
    fn dnssec_series_are_there_for_signed_zones_only() {
        use crate::facts::{DnssecFacts, DnssecState, ZoneDnssec};
        let zone = |name: &str, state, expiry, holds_srv| ZoneDnssec {
            zone: name.into(),
            sets: Vec::new(),
            holds_srv,
            ds_tags: vec![1],
            key_tags: vec![1],
            state,
            cause: None,
            detail: String::new(),
            earliest_expiry: expiry,
            validity_seconds: expiry.map(|_| 1_209_600),
        };
        let with = |zones| {
            let mut f = Facts::two_endpoints();
            f.dnssec = Some(DnssecFacts {
                zones,
                unsigned: Vec::new(),
            });
            let mut out = String::new();
            render_report(&mut out, &Judge::peer().report(vec![("inside", false, f)]));
            out
        };
        let labels = "{tenant=\"default\",domain=\"kanzlei.de\",vantage=\"inside\"}";
        let page = with(vec![
            zone("kanzlei.de", DnssecState::Secure, Some(1_800_500_000), true),
            zone(
                "provider.net",
                DnssecState::Secure,
                Some(1_800_300_000),
                false,
            ),
        ]);
        assert!(
            page.contains(&format!("sipfed_dnssec_signed{labels} 1\n")),
            "{page}"
        );
        // The earliest over every validated zone.
        assert!(page.contains(&format!(
            "sipfed_dnssec_rrsig_expiry_timestamp_seconds{labels} 1800300000\n"
        )));
        let page = with(vec![zone("kanzlei.de", DnssecState::Insecure, None, true)]);
        assert!(
            page.contains(&format!("sipfed_dnssec_signed{labels} 0\n")),
            "{page}"
        );
        assert!(!page.contains("sipfed_dnssec_rrsig_expiry_timestamp_seconds{"));
        let page = with(Vec::new());
        assert!(!page.contains("sipfed_dnssec_signed{"), "{page}");
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
        let verdicts = pairs::verdicts_of(reports.iter().copied(), reports.iter().copied());
        let verdicts: Vec<&[Pair]> = verdicts.iter().map(|v| v.as_slice()).collect();
        let mut out = Out::chunked(&mut sink);
        write_reports(&mut out, &reports, &verdicts);
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
        write_reports(&mut out, &reports, &[]);
        out.flush();
        assert!(out.closed());
        assert!(out.len() < CHUNK);
        drop(out);
        assert_eq!(calls, 1);
    }
}
