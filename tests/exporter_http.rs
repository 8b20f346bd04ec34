//! The running exporter over HTTP: scheduling with a hostile peer, reload, `/probe`, pages.

mod common;

use std::time::Duration;

use common::{http, start_exporter, value};
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, SipMode};

async fn good_peer(lab: &Lab, domain: &str) {
    let spec = LeafSpec::good(&format!("sip.{domain}"));
    lab.serve_tls(domain, &spec, SipMode::Answer(200))
        .await
        .unwrap();
}

/// Polls `/metrics` until `pred` holds (bounded), returning the last body.
async fn scrape_until(addr: std::net::SocketAddr, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        let (status, body) = http(addr, "GET", "/metrics").await;
        assert_eq!(status, 200);
        if pred(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never held; last scrape:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_peer_delays_neither_other_domains_nor_scrapes() {
    let lab = Lab::start().await.unwrap();
    good_peer(&lab, "good.example").await;
    let p = lab.peer(Behavior::Hang).await.unwrap();
    lab.publish("hang.example", "sip.hang.example", p.address);
    let path = lab
        .write_config(
            "c.yml",
            "",
            "  - domain: hang.example\n  - domain: good.example\n",
        )
        .unwrap();
    let (addr, shutdown, exporter) = start_exporter(&path).await;
    // The good domain's result is exposed while the hanging probe (5 s timeout) still runs.
    let m = scrape_until(addr, |b| {
        b.contains("sipfed_probe_success{tenant=\"default\",domain=\"good.example\"")
    })
    .await;
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "good.example")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "hang.example")]),
        None
    );
    assert_eq!(value(&m, "sipfed_probes_in_flight", &[]), Some(1.0));
    // The stored report carries the facts behind it.
    let key = sipfed_exporter::store::DomainKey {
        tenant: "default".into(),
        domain: "good.example".into(),
    };
    let stored = exporter.report(&key).unwrap();
    let leaf = stored.vantages[0].facts.targets[0].endpoints[0]
        .leaf()
        .unwrap();
    assert_eq!(leaf.parsed.as_ref().unwrap().subject_cn, "sip.good.example");
    let (ready, _) = http(addr, "GET", "/-/ready").await;
    assert_eq!(ready, 503);
    // Then the hanging one fails its handshake with a timeout.
    let m = scrape_until(addr, |b| {
        b.contains("sipfed_probe_success{tenant=\"default\",domain=\"hang.example\"")
    })
    .await;
    assert_eq!(
        common::check(&m, "hang.example", "tls_handshake"),
        Some(0.0)
    );
    assert_eq!(
        common::reason(&m, "hang.example", "tls_handshake").as_deref(),
        Some("timeout")
    );
    assert_eq!(
        value(
            &m,
            "sipfed_probes_total",
            &[("vantage", "inside"), ("result", "success")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_probes_total",
            &[("vantage", "inside"), ("result", "failure")]
        ),
        Some(1.0)
    );
    assert_eq!(http(addr, "GET", "/-/ready").await.0, 200);
    assert_eq!(http(addr, "GET", "/-/healthy").await.0, 200);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_the_old_config_on_error_and_drops_removed_domains() {
    let lab = Lab::start().await.unwrap();
    good_peer(&lab, "a.example").await;
    good_peer(&lab, "b.example").await;
    let path = lab
        .write_config(
            "c.yml",
            "",
            "  - domain: a.example\n  - domain: b.example\n    tenant: t2\n",
        )
        .unwrap();
    let (addr, shutdown, _) = start_exporter(&path).await;
    let has = |d: &'static str| {
        move |b: &str| {
            b.contains(&format!(
                "sipfed_probe_success{{tenant=\"{}\",domain=\"{d}\"",
                if d == "b.example" { "t2" } else { "default" }
            ))
        }
    };
    scrape_until(addr, has("a.example")).await;
    scrape_until(addr, has("b.example")).await;

    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("  - domain: b.example", "  - domian: b.example"),
    )
    .unwrap();
    let (status, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("c.yml:") && body.contains("unknown field `domian`"),
        "{body}"
    );
    let (_, m) = http(addr, "GET", "/metrics").await;
    assert_eq!(
        value(&m, "sipfed_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "b.example")]),
        Some(1.0)
    );
    assert_eq!(value(&m, "sipfed_domains", &[("tenant", "t2")]), Some(1.0));
    let a_probed = value(
        &m,
        "sipfed_probe_timestamp_seconds",
        &[("domain", "a.example")],
    );
    assert!(a_probed.is_some(), "a.example was probed:\n{m}");

    // b.example leaves, c.example arrives.
    good_peer(&lab, "c.example").await;
    std::fs::write(
        &path,
        good.replace(
            "  - domain: b.example\n    tenant: t2\n",
            "  - domain: c.example\n",
        ),
    )
    .unwrap();
    let (status, _) = http(addr, "POST", "/-/reload").await;
    assert_eq!(status, 200);
    let (_, m) = http(addr, "GET", "/metrics").await;
    assert_eq!(
        value(&m, "sipfed_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert!(
        !m.contains("b.example"),
        "removed domain still exposed:\n{m}"
    );
    assert_eq!(value(&m, "sipfed_domains", &[("tenant", "t2")]), None);
    // The new domain is probed at once after the reload.
    let m = scrape_until(addr, has("c.example")).await;
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "c.example")]),
        Some(1.0)
    );
    // The kept domain keeps its result and is not probed again by the reload (no re-probe
    // storm): the same probe time as before it (the interval is 30 s).
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "a.example")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_probe_timestamp_seconds",
            &[("domain", "a.example")]
        ),
        a_probed
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_endpoint_and_pages() {
    let lab = Lab::start().await.unwrap();
    good_peer(&lab, "a.example").await;
    good_peer(&lab, "other.example").await;
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n    tenant: acme\n")
        .unwrap();
    let (addr, shutdown, _) = start_exporter(&path).await;

    let (status, m) = http(addr, "GET", "/probe?domain=a.example").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &m,
            "sipfed_probe_success",
            &[("tenant", "acme"), ("domain", "a.example")]
        ),
        Some(1.0)
    );
    assert_eq!(common::check(&m, "a.example", "cert_trusted"), Some(1.0));
    assert!(
        !m.contains("sipfed_probes_total"),
        "probe output must hold only the probe's metrics"
    );
    // target= is domain= (Prometheus' multi-target pattern, the Operator's Probe resource).
    let (status, m) = http(addr, "GET", "/probe?target=a.example").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &m,
            "sipfed_probe_success",
            &[("tenant", "acme"), ("domain", "a.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        http(addr, "GET", "/probe?target=other.example").await.0,
        404
    );
    assert_eq!(
        http(addr, "GET", "/probe?domain=other.example").await.0,
        404
    );
    assert_eq!(http(addr, "GET", "/probe?domain=bad..name").await.0, 400);
    assert_eq!(
        http(addr, "GET", "/probe?domain=a.example&vantage=nowhere")
            .await
            .0,
        400
    );

    scrape_until(addr, |b| {
        b.contains("sipfed_probe_success{tenant=\"acme\",domain=\"a.example\"")
    })
    .await;
    let (status, page) = http(addr, "GET", "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("/domain/acme/a.example"), "{page}");
    let (status, page) = http(addr, "GET", "/domain/acme/a.example").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("cert_trusted") && page.contains("pass"),
        "{page}"
    );
    assert_eq!(http(addr, "GET", "/domain/acme/nope.example").await.0, 404);
    shutdown.cancel();

    // With probe_any_domain, unconfigured domains may be probed, but only where a public
    // vantage may connect: the lab's loopback edge is refused (SPEC §5 "Ad-hoc probes").
    let path = lab
        .write_config(
            "d.yml",
            "  probe_any_domain: true\n",
            "  - domain: a.example\n",
        )
        .unwrap();
    let (addr, shutdown, _) = start_exporter(&path).await;
    let (status, m) = http(addr, "GET", "/probe?domain=other.example").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "other.example")]),
        Some(0.0)
    );
    assert_eq!(
        common::check_success(&m, &[("domain", "other.example"), ("check", "srv_present")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_check_failure_info",
            &[
                ("domain", "other.example"),
                ("check", "tcp_connect"),
                ("reason", "forbidden_address")
            ]
        ),
        Some(1.0),
        "{m}"
    );
    // An IP address is not a domain.
    let (status, body) = http(addr, "GET", "/probe?domain=127.0.0.1").await;
    assert_eq!(status, 400);
    assert!(body.contains("an IP address is not a domain"), "{body}");
    shutdown.cancel();
}

/// An ad-hoc probe (`probe_any_domain`) reads out no address that is not globally routable:
/// an inside resolver's private answer (`127.14.0.99`) is not in its answer, while the
/// verdict (`tcp_connect` failed, `forbidden_address`) is. A configured domain at the same
/// address on the inside vantage shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_probe_reads_out_no_inside_address() {
    let lab = Lab::start().await.unwrap();
    let inside: std::net::SocketAddr = "127.14.0.99:5061".parse().unwrap();
    lab.publish("inside.example", "sip.inside.example", inside);
    lab.publish("configured.example", "sip.configured.example", inside);
    let path = lab
        .write_config(
            "adhoc.yml",
            "  probe_any_domain: true\n",
            "  - domain: configured.example\n",
        )
        .unwrap();
    let (addr, shutdown, _) = start_exporter(&path).await;

    let (status, m) = http(addr, "GET", "/probe?target=inside.example").await;
    assert_eq!(status, 200, "{m}");
    assert!(
        !m.contains("127.14.0.99"),
        "an inside address was read out:\n{m}"
    );
    assert_eq!(
        common::check(&m, "inside.example", "tcp_connect"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        common::reason(&m, "inside.example", "tcp_connect").as_deref(),
        Some("forbidden_address"),
        "{m}"
    );
    assert_eq!(
        common::check(&m, "inside.example", "target_resolves"),
        Some(1.0),
        "{m}"
    );

    // Configured, on the inside vantage: its own addresses are the operator's to see.
    let (status, m) = http(addr, "GET", "/probe?target=configured.example").await;
    assert_eq!(status, 200, "{m}");
    assert!(
        m.contains("address=\"127.14.0.99:5061\""),
        "a configured domain's endpoint is shown:\n{m}"
    );
    shutdown.cancel();
}
