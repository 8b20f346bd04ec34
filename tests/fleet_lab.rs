//! MSP fleets: many customer domains on one shared edge. The edge is looked at once per round
//! (one TCP connect, one TLS handshake) and each domain's SIP OPTIONS is its own transaction on
//! that connection, so a slow but healthy edge is healthy for every domain.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::probe_lab;
use sipfed_exporter::judge::DomainReport;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, Peer, SipMode};

const DOMAINS: usize = 200;
/// The edge's SIP service answers each OPTIONS after this long.
const SIP_DELAY: Duration = Duration::from_millis(300);

/// `DOMAINS` domains whose SRV records all point at one edge answering SIP after `SIP_DELAY`.
async fn fleet(lab: &Lab) -> (Peer, String) {
    let leaf = lab
        .pki
        .leaf(&LeafSpec::good("edge.hoster.example"))
        .unwrap();
    let edge = lab
        .peer(Behavior::Tls {
            leaf,
            request_client_cert: false,
            sip: SipMode::Delayed {
                code: 200,
                after_ms: SIP_DELAY.as_millis() as u64,
            },
        })
        .await
        .unwrap();
    let fleet: Vec<(String, String)> = (0..DOMAINS)
        .map(|n| {
            (
                format!("customer{n}.example"),
                "edge.hoster.example".to_string(),
            )
        })
        .collect();
    let domains = lab.publish_fleet(edge.address, &fleet);
    (edge, domains)
}

fn passed(report: &DomainReport, check: &str) -> bool {
    report.vantages.iter().all(|v| {
        v.findings
            .iter()
            .any(|f| f.check.as_str() == check && f.passed)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shared_edge_is_healthy_for_every_domain_within_one_round() {
    let lab = Lab::start().await.unwrap();
    let (_edge, domains) = fleet(&lab).await;
    // The probe timeout (5 s) is far shorter than the domains' SIP exchanges one after another
    // (200 × 0.3 s = 60 s): only exchanges that overlap on the shared edge finish in time, so
    // every domain's sip_options passing is the evidence (no wall-clock bound here).
    let (_, reports) = probe_lab(&lab, "  concurrency: 64\n  sip_options: true\n", &domains).await;
    assert_eq!(reports.len(), DOMAINS);
    let unhealthy: Vec<String> = reports
        .iter()
        .filter(|r| !r.vantages.iter().all(|v| v.success))
        .map(|r| {
            let failed: Vec<String> = r
                .vantages
                .iter()
                .flat_map(|v| v.findings.iter().filter(|f| !f.passed))
                .map(|f| format!("{} {:?}", f.check.as_str(), f.reason))
                .collect();
            format!("{}: {failed:?}", r.domain)
        })
        .collect();
    assert!(
        unhealthy.is_empty(),
        "{} unhealthy: {unhealthy:?}",
        unhealthy.len()
    );
    for r in &reports {
        for check in ["tcp_connect", "tls_handshake", "sip_options"] {
            assert!(
                passed(r, check),
                "{}: {check} did not pass: {:?}",
                r.domain,
                r.vantages[0].facts.targets[0].endpoints[0].sip
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_edge_sees_one_tls_handshake_per_round() {
    let lab = Lab::start().await.unwrap();
    let (edge, domains) = fleet(&lab).await;
    let (_, reports) = probe_lab(&lab, "  concurrency: 64\n  sip_options: true\n", &domains).await;
    assert_eq!(reports.len(), DOMAINS);
    assert!(reports.iter().all(|r| passed(r, "sip_options")));
    assert_eq!(
        edge.handshakes.load(Ordering::Relaxed),
        1,
        "handshakes at the edge"
    );
    // Every domain shares the one look's chain rather than holding its own copy.
    let chains: Vec<*const u8> = reports
        .iter()
        .map(|r| r.vantages[0].facts.targets[0].endpoints[0].chain.as_ptr() as *const u8)
        .collect();
    assert!(chains.windows(2).all(|w| w[0] == w[1]));
}

/// Domains with their own server names on one edge are looked at one by one (a handshake
/// each), but the chain the edge presents to all of them is parsed once and shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chain_presented_under_several_names_is_parsed_once() {
    const NAMES: usize = 5;
    let lab = Lab::start().await.unwrap();
    let names: Vec<String> = (0..NAMES).map(|n| format!("sip.d{n}.example")).collect();
    let edge = lab
        .tls_peer(&LeafSpec {
            names: names.clone(),
            ..LeafSpec::good("unused.example")
        })
        .await
        .unwrap();
    let mut domains = String::new();
    for (n, name) in names.iter().enumerate() {
        lab.publish(&format!("d{n}.example"), name, edge.address);
        domains.push_str(&format!("  - domain: d{n}.example\n"));
    }
    let (_, reports) = probe_lab(&lab, "", &domains).await;
    assert_eq!(reports.len(), NAMES);
    assert!(reports.iter().all(|r| passed(r, "cert_trusted")));
    assert_eq!(edge.handshakes.load(Ordering::Relaxed) as usize, NAMES);
    let chains: Vec<*const u8> = reports
        .iter()
        .map(|r| r.vantages[0].facts.targets[0].endpoints[0].chain.as_ptr() as *const u8)
        .collect();
    assert!(chains.windows(2).all(|w| w[0] == w[1]), "{chains:?}");
}
