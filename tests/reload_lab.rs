//! Reloads against a running exporter: a (domain, vantage) pair the reload does not change keeps
//! its probe in flight and its schedule; a pair it changes has its probe in flight dropped, so
//! no result gathered under the old configuration lands after the reload.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sipfed_exporter::config::Role;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, SipMode};
use sipfed_exporter::store::DomainKey;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn key(domain: &str) -> DomainKey {
    DomainKey {
        tenant: "default".into(),
        domain: domain.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_unchanged_probes_and_drops_changed_ones() {
    let lab = Lab::start().await.unwrap();
    // Two domains whose SIP service answers after 2 s: their first probes are in flight when
    // the reload comes.
    for name in ["kept.example", "changed.example"] {
        let target = format!("sip.{name}");
        let leaf = lab.pki.leaf(&LeafSpec::good(&target)).unwrap();
        let peer = lab
            .peer(Behavior::Tls {
                leaf,
                request_client_cert: false,
                sip: SipMode::Delayed {
                    code: 200,
                    after_ms: 2000,
                },
            })
            .await
            .unwrap();
        lab.publish(name, &target, peer.address);
    }
    let global = "  sip_options: true\n";
    let before = "  - domain: kept.example\n  - domain: changed.example\n";
    let path = lab.write_config("reload.yml", global, before).unwrap();
    let (_addr, _shutdown, store) = common::start_exporter(&path).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        store.report(&key("kept.example")).is_none(),
        "still in flight"
    );
    // changed.example becomes an own domain; added.example is new.
    let after = "  - domain: kept.example\n  - domain: changed.example\n    role: own\n    fqdn: sip.changed.example\n  - domain: added.example\n";
    lab.write_config("reload.yml", global, after).unwrap();
    let reloaded_at = now();
    store.reload().unwrap();

    let mut kept = None;
    let mut changed = None;
    for _ in 0..100 {
        kept = store.report(&key("kept.example"));
        changed = store.report(&key("changed.example"));
        if kept.is_some() && changed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = kept.expect("kept.example was probed");
    let changed = changed.expect("changed.example was probed");
    // The unchanged pair's probe, started before the reload, was not cancelled.
    let started = kept.vantages[0].facts.started_at;
    assert!(
        started < reloaded_at,
        "kept.example's probe started {started}, the reload was at {reloaded_at}"
    );
    assert!(kept.vantages[0].success);
    // The changed pair's probe in flight was dropped: what landed was gathered after the
    // reload, and judged as the own domain it now is.
    let started = changed.vantages[0].facts.started_at;
    assert!(
        started >= reloaded_at,
        "changed.example's probe started {started}, before the reload at {reloaded_at}"
    );
    assert_eq!(changed.role, Role::Own);
    assert!(
        changed.vantages[0]
            .findings
            .iter()
            .any(|f| f.check.as_str() == "srv_target_expected" && f.passed)
    );
    // The unchanged pair keeps its schedule: no second probe right after the first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = store.report(&key("kept.example")).unwrap();
    assert_eq!(
        again.vantages[0].facts.started_at,
        kept.vantages[0].facts.started_at
    );
}
