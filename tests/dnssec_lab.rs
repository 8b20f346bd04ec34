//! DNSSEC in the lab: zones signed in code (the lab's DNS signs every answer's sets with the
//! zone's key and publishes the DS as the parent would), resolved through the lab's
//! non-validating resolver, so only the exporter's own validation can tell. Pass and fail for
//! `dnssec_valid` and `dnssec_signatures_fresh`, and the `sipfed_dnssec_*` series.

mod common;

use common::{check, probe_lab, reason, value};
use sipfed_exporter::lab::{Lab, LeafSpec, SipMode};

const DAY: i64 = 86_400;

fn now() -> i64 {
    sipfed_exporter::facts::unix(std::time::SystemTime::now()) as i64
}

/// A healthy TLS partner at `sip.<domain>`, its zone signed over `window` (relative to now).
async fn signed_partner(lab: &Lab, domain: &str, window: (i64, i64)) {
    let spec = LeafSpec::good(&format!("sip.{domain}"));
    lab.serve_tls(domain, &spec, SipMode::Answer(200))
        .await
        .unwrap();
    let t = now();
    lab.zone.sign(domain, t + window.0, t + window.1);
}

fn series(m: &str, family: &str, domain: &str) -> Option<f64> {
    value(m, family, &[("domain", domain)])
}

#[tokio::test]
async fn a_valid_signed_partner_passes_and_shows_its_expiry() {
    let lab = Lab::start().await.unwrap();
    signed_partner(&lab, "signed.example", (-DAY, 20 * DAY)).await;
    let (m, reports) = probe_lab(&lab, "", &common::peer("signed.example")).await;
    assert_eq!(
        check(&m, "signed.example", "dnssec_valid"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        check(&m, "signed.example", "dnssec_signatures_fresh"),
        Some(1.0)
    );
    // Everything else is as unsigned.
    assert_eq!(check(&m, "signed.example", "srv_present"), Some(1.0));
    assert_eq!(check(&m, "signed.example", "sip_options"), Some(1.0));
    assert_eq!(
        series(&m, "sipfed_dnssec_signed", "signed.example"),
        Some(1.0)
    );
    let expiry = series(
        &m,
        "sipfed_dnssec_rrsig_expiry_timestamp_seconds",
        "signed.example",
    )
    .unwrap();
    assert!(
        (expiry - (now() + 20 * DAY) as f64).abs() < 60.0,
        "{expiry}"
    );
    let zone = &reports[0].vantages[0].facts.dnssec.as_ref().unwrap().zones[0];
    assert_eq!(zone.zone, "signed.example");
    assert!(zone.holds_srv);
    assert_eq!(zone.ds_tags, zone.key_tags);
    assert_eq!(
        zone.sets,
        vec![
            "_sipfederationtls._tcp.signed.example SRV",
            "sip.signed.example A"
        ]
    );
}

#[tokio::test]
async fn expired_signatures_fail_dnssec_valid_through_a_resolver_that_does_not_validate() {
    let lab = Lab::start().await.unwrap();
    signed_partner(&lab, "expired.example", (-30 * DAY, -DAY)).await;
    let (m, reports) = probe_lab(&lab, "", &common::peer("expired.example")).await;
    assert_eq!(
        check(&m, "expired.example", "dnssec_valid"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        reason(&m, "expired.example", "dnssec_valid").as_deref(),
        Some("dnssec_bogus")
    );
    let message = common::message(&reports, "expired.example", "dnssec_valid");
    assert!(
        message.starts_with("DNSSEC of zone expired.example is bogus: signature expired"),
        "{message}"
    );
    // The resolver did not validate: the SRV record itself was found.
    assert_eq!(check(&m, "expired.example", "srv_present"), Some(1.0));
    // Bogus: freshness is not judged on top.
    assert_eq!(
        check(&m, "expired.example", "dnssec_signatures_fresh"),
        None
    );
}

#[tokio::test]
async fn a_ds_that_matches_no_key_fails_dnssec_valid() {
    let lab = Lab::start().await.unwrap();
    signed_partner(&lab, "rollover.example", (-DAY, 20 * DAY)).await;
    lab.zone.mismatch_ds("rollover.example");
    let (m, reports) = probe_lab(&lab, "", &common::peer("rollover.example")).await;
    assert_eq!(
        check(&m, "rollover.example", "dnssec_valid"),
        Some(0.0),
        "{m}"
    );
    let message = common::message(&reports, "rollover.example", "dnssec_valid");
    assert!(
        message.contains("is bogus: no DNSKEY matches the DS"),
        "{message}"
    );
    assert_eq!(
        series(&m, "sipfed_dnssec_signed", "rollover.example"),
        Some(1.0)
    );
}

#[tokio::test]
async fn an_own_zone_whose_signatures_expire_in_20_hours_warns() {
    let lab = Lab::start().await.unwrap();
    signed_partner(&lab, "own.example", (-29 * DAY, 20 * 3600)).await;
    let own = "  - domain: own.example\n    role: own\n    fqdn: sip.own.example\n";
    let (m, _) = probe_lab(&lab, "", own).await;
    let fresh = common::check_success(
        &m,
        &[
            ("domain", "own.example"),
            ("check", "dnssec_signatures_fresh"),
            ("severity", "warning"),
        ],
    );
    assert_eq!(fresh, Some(0.0), "{m}");
    assert_eq!(
        reason(&m, "own.example", "dnssec_signatures_fresh").as_deref(),
        Some("expiring")
    );
    assert_eq!(check(&m, "own.example", "dnssec_valid"), Some(1.0));
}

#[tokio::test]
async fn unsigned_zones_and_validation_off_have_no_dnssec_checks() {
    let lab = Lab::start().await.unwrap();
    let spec = LeafSpec::good("sip.plain.example");
    lab.serve_tls("plain.example", &spec, SipMode::Answer(200))
        .await
        .unwrap();
    signed_partner(&lab, "signed.example", (-DAY, 20 * DAY)).await;
    let domains = format!(
        "{}{}",
        common::peer("plain.example"),
        common::peer("signed.example")
    );
    let before = lab.zone.queries.load(std::sync::atomic::Ordering::Relaxed);
    let (m, _) = probe_lab(&lab, "", &common::peer("plain.example")).await;
    let plain_queries = lab.zone.queries.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(check(&m, "plain.example", "dnssec_valid"), None, "{m}");
    assert_eq!(series(&m, "sipfed_dnssec_signed", "plain.example"), None);
    // An unsigned zone costs no DS or DNSKEY query (SRV, A, AAAA and the evidence only).
    let (m, _) = probe_lab(&lab, "  dnssec: false\n", &domains).await;
    assert_eq!(check(&m, "signed.example", "dnssec_valid"), None, "{m}");
    assert_eq!(series(&m, "sipfed_dnssec_signed", "signed.example"), None);
    let before = lab.zone.queries.load(std::sync::atomic::Ordering::Relaxed);
    let (_, _) = probe_lab(&lab, "  dnssec: false\n", &common::peer("plain.example")).await;
    let off_queries = lab.zone.queries.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(plain_queries, off_queries);
}
