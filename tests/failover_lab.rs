//! Failover as partners' edges do it: a pool with a dead address and a dead backup target are
//! `edge_redundancy` warnings (federation still works), a dead preferred target is a failed
//! `tcp_connect` even when its backup answers.

mod common;

use common::value;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, SipMode};

/// A TLS edge for `target` answering OPTIONS with 200.
async fn live(lab: &Lab, target: &str) -> std::net::SocketAddr {
    let leaf = lab.pki.leaf(&LeafSpec::good(target)).unwrap();
    let behavior = Behavior::Tls {
        leaf,
        request_client_cert: false,
        sip: SipMode::Answer(200),
    };
    lab.peer(behavior).await.unwrap().address
}

/// An address where nothing listens.
async fn dead(lab: &Lab) -> std::net::SocketAddr {
    lab.peer(Behavior::Refuse).await.unwrap().address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_and_backups_are_judged_as_edges_fail_over() {
    let lab = Lab::start().await.unwrap();
    // pool.example: one target, two addresses, one of them down.
    lab.zone
        .federation_srv("pool.example", 10, 1, 5061, "sip.pool.example");
    let (up, down) = (live(&lab, "sip.pool.example").await, dead(&lab).await);
    lab.zone.addr("sip.pool.example", up.ip());
    lab.zone.addr("sip.pool.example", down.ip());
    // backup.example: the preferred target is down, the backup answers.
    let (preferred, backup) = (dead(&lab).await, live(&lab, "sip2.backup.example").await);
    lab.zone
        .federation_srv("backup.example", 10, 1, 5061, "sip1.backup.example");
    lab.zone
        .federation_srv("backup.example", 20, 1, 5061, "sip2.backup.example");
    lab.zone.addr("sip1.backup.example", preferred.ip());
    lab.zone.addr("sip2.backup.example", backup.ip());
    // coldbackup.example: the preferred target answers, the backup is down.
    let (preferred, backup) = (
        live(&lab, "sip1.coldbackup.example").await,
        dead(&lab).await,
    );
    lab.zone
        .federation_srv("coldbackup.example", 10, 1, 5061, "sip1.coldbackup.example");
    lab.zone
        .federation_srv("coldbackup.example", 20, 1, 5061, "sip2.coldbackup.example");
    lab.zone.addr("sip1.coldbackup.example", preferred.ip());
    lab.zone.addr("sip2.coldbackup.example", backup.ip());

    let domains: String = ["pool.example", "backup.example", "coldbackup.example"]
        .iter()
        .map(|d| common::peer(d))
        .collect();
    let (m, results) = common::probe_lab(&lab, "", &domains).await;
    common::expect(
        &m,
        &results,
        &[
            ("pool.example", "tcp_connect", Some(1.0), None),
            ("pool.example", "tls_handshake", Some(1.0), None),
            (
                "pool.example",
                "edge_redundancy",
                Some(0.0),
                Some("connection_refused"),
            ),
            ("pool.example", "cert_trusted", Some(1.0), None),
            (
                "backup.example",
                "tcp_connect",
                Some(0.0),
                Some("connection_refused"),
            ),
            // One fault, one finding: the dead preferred target is tcp_connect's.
            ("backup.example", "edge_redundancy", Some(1.0), None),
            ("coldbackup.example", "tcp_connect", Some(1.0), None),
            (
                "coldbackup.example",
                "edge_redundancy",
                Some(0.0),
                Some("connection_refused"),
            ),
        ],
    );
    let redundancy = common::message(&results, "pool.example", "edge_redundancy");
    assert!(
        redundancy.starts_with(&format!("{down} of sip.pool.example does not accept TCP")),
        "{redundancy}"
    );
    let cold = common::message(&results, "coldbackup.example", "edge_redundancy");
    assert!(
        cold.starts_with(&format!(
            "{backup} of the backup target sip2.coldbackup.example"
        )),
        "{cold}"
    );
    // Readiness follows: a degraded pool or a dead backup still federates, a dead preferred
    // target does not.
    let ready = |d| {
        value(
            &m,
            "sipfed_federation_ready",
            &[("domain", d), ("direction", "outbound")],
        )
    };
    assert_eq!(
        (
            ready("pool.example"),
            ready("backup.example"),
            ready("coldbackup.example")
        ),
        (Some(1.0), Some(0.0), Some(1.0))
    );
}

/// The demo world shows this three faults: a partner refusing zahnfee.de (403 with
/// ms-diagnostics), a degraded pool (a warning, still ready), a dead preferred target beside a
/// live backup (not ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_world_shows_refusal_degraded_pool_and_dead_preferred_target() {
    let lab = Lab::start().await.unwrap();
    let path = sipfed_exporter::lab::world::build(&lab).await.unwrap();
    let (m, results) = common::probe_all(&path).await;
    common::expect(
        &m,
        &results,
        &[
            (
                "dental-ring.de",
                "sip_accepts_us",
                Some(0.0),
                Some("sip_refused"),
            ),
            ("dental-ring.de", "sip_options", Some(1.0), None),
            ("zahnzentrum-ost.de", "tcp_connect", Some(1.0), None),
            (
                "zahnzentrum-ost.de",
                "edge_redundancy",
                Some(0.0),
                Some("connection_refused"),
            ),
            (
                "mundwerk.de",
                "tcp_connect",
                Some(0.0),
                Some("connection_refused"),
            ),
            ("mundwerk.de", "edge_redundancy", Some(1.0), None),
            // Healthy partners accept zahnfee's address.
            ("kieferklinik.de", "sip_accepts_us", Some(1.0), None),
        ],
    );
    assert_eq!(
        value(
            &m,
            "sipfed_sip_ms_diagnostics_code",
            &[("domain", "dental-ring.de")]
        ),
        Some(1034.0)
    );
    let ready = |d| {
        value(
            &m,
            "sipfed_federation_ready",
            &[("domain", d), ("direction", "outbound")],
        )
    };
    assert_eq!(
        (
            ready("dental-ring.de"),
            ready("zahnzentrum-ost.de"),
            ready("mundwerk.de")
        ),
        (Some(0.0), Some(1.0), Some(0.0))
    );
}

/// The demo's banner says what each domain shows: every entry's `shows` is the state its
/// verdicts give (a banner calling a case "wildcard certificate" while it shows ok misleads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_banner_says_the_state_each_domain_shows() {
    let lab = Lab::start().await.unwrap();
    let path = sipfed_exporter::lab::world::build(&lab).await.unwrap();
    let (_, results) = common::probe_all(&path).await;
    let mut wrong = Vec::new();
    for d in sipfed_exporter::lab::world::DEMO_DOMAINS {
        let report = results.iter().find(|r| r.domain == d.domain);
        let shows = report.map(|r| r.state.as_str()).unwrap_or("absent");
        if shows != d.shows {
            let failing: Vec<String> = report
                .into_iter()
                .flat_map(|r| r.vantages.iter())
                .flat_map(|v| v.findings.iter())
                .filter(|f| !f.passed)
                .map(|f| f.check.to_string())
                .collect();
            wrong.push(format!(
                "{}: banner says {}, verdicts show {shows} ({failing:?})",
                d.domain, d.shows
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let n = sipfed_exporter::lab::world::DEMO_DOMAINS.len();
    assert_eq!(results.len(), n);
    // The docs' numbers of the demo are the demo's (they went stale at "eleven domains").
    let count = |s: &str| results.iter().filter(|r| r.state.as_str() == s).count();
    let summary = format!(
        "\"summary\": {{\"domains\": {n}, \"failing\": {}, \"warning\": {}, \"unknown\": 0, \"pending\": 0, \"ok\": {}}}",
        count("failing"),
        count("warning"),
        count("ok")
    );
    let api = include_str!("../docs/api.md");
    assert!(
        api.contains(&summary),
        "docs/api.md's sample lacks {summary}"
    );
    for (doc, text) in [
        ("configuration.md", include_str!("../docs/configuration.md")),
        ("architecture.md", include_str!("../docs/architecture.md")),
    ] {
        assert!(
            text.contains(&format!("with {n} domains"))
                || text.contains(&format!("`DEMO_DOMAINS`, {n} domains")),
            "docs/{doc} does not say the demo's {n} domains"
        );
    }
}
