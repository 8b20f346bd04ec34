//! Sharded, the verdicts stay whole: three `--shard=I/3` processes of the built binary and
//! one unsharded process against one lab world. A tenant's own edge is down and its partners
//! are spread over the shards; every (domain, vantage) series comes from exactly one shard,
//! their union is the unsharded set, and every `sipfed_federation_ready` equals the unsharded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::http;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, SipMode};
use sipfed_exporter::shard::shard_of;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_sipfed_exporter");

/// Starts the exporter on `config` with `args`; returns the child and its address once it
/// answers `/-/ready` (its first round, shadows included, is done).
async fn start(config: &std::path::Path, args: &[String]) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(BIN)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .args(args)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    (child, addr)
}

async fn wait_ready(addr: SocketAddr) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && http(addr, "GET", "/-/ready").await.0 == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{addr} never became ready");
}

/// The samples of `family` on the page, by their label set.
fn samples(page: &str, family: &str) -> BTreeMap<String, String> {
    page.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_give_the_unsharded_series_and_verdicts() {
    let lab = Lab::start().await.unwrap();
    let edge = lab
        .peer(Behavior::Tls {
            leaf: lab
                .pki
                .leaf(&LeafSpec::good("edge.hoster.example"))
                .unwrap(),
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    // acme: its own edge is down (published, nothing listening), 24 partners; beta: its own
    // domain on the shared edge, 6 partners.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    lab.publish("ours.example", "sip.ours.example", dead_addr);
    let mut fleet = Vec::new();
    let mut domains = String::from(
        "  - {domain: ours.example, tenant: acme, role: own, fqdn: sip.ours.example}\n  - {domain: beta-own.example, tenant: beta, role: own, fqdn: edge.hoster.example}\n",
    );
    fleet.push((
        "beta-own.example".to_string(),
        "edge.hoster.example".to_string(),
    ));
    for (tenant, n) in [("acme", 24), ("beta", 6)] {
        for i in 0..n {
            let d = format!("{tenant}-p{i}.example");
            domains.push_str(&format!("  - {{domain: {d}, tenant: {tenant}}}\n"));
            fleet.push((d, "edge.hoster.example".to_string()));
        }
    }
    lab.publish_fleet(edge.address, &fleet);
    let path = lab
        .write_config("shards.yml", "  concurrency: 16\n", &domains)
        .unwrap();

    // The partners of acme are spread: some on a shard other than the own domain's.
    let own_shard = shard_of("acme", "ours.example", 3);
    let elsewhere = (0..24)
        .filter(|i| shard_of("acme", &format!("acme-p{i}.example"), 3) != own_shard)
        .count();
    assert!(
        elsewhere > 0 && elsewhere < 24,
        "{elsewhere} of acme's partners elsewhere"
    );

    let mut processes = vec![start(&path, &[]).await];
    for i in 0..3 {
        processes.push(start(&path, &[format!("--shard={i}/3")]).await);
    }
    let mut pages = Vec::new();
    for (_, addr) in &processes {
        wait_ready(*addr).await;
        let (status, page) = http(*addr, "GET", "/metrics").await;
        assert_eq!(status, 200);
        pages.push(page);
    }
    let whole = &pages[0];
    let shards = &pages[1..];

    // Every (domain, vantage) series from exactly one shard; the union is the unsharded set.
    let probes = |page: &str| -> BTreeSet<String> {
        samples(page, "sipfed_probe_success").into_keys().collect()
    };
    let want = probes(whole);
    assert_eq!(want.len(), 32, "{want:?}");
    let mut union = BTreeSet::new();
    for page in shards {
        let mine = probes(page);
        assert!(!mine.is_empty());
        for s in &mine {
            assert!(union.insert(s.clone()), "{s} on two shards");
        }
    }
    assert_eq!(union, want);

    // Every partner's verdicts equal the unsharded ones, acme's inbound not ready everywhere.
    let verdicts = samples(whole, "sipfed_federation_ready");
    let acme_inbound: Vec<&String> = verdicts
        .iter()
        .filter(|(k, _)| k.contains("tenant=\"acme\"") && k.contains("direction=\"inbound\""))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(acme_inbound, vec!["0"; 24], "{verdicts:?}");
    let mut sharded = BTreeMap::new();
    for page in shards {
        for (k, v) in samples(page, "sipfed_federation_ready") {
            assert!(sharded.insert(k.clone(), v).is_none(), "{k} on two shards");
        }
    }
    assert_eq!(sharded, verdicts);
    // The shadow (acme's own domain probed where its partners are) gives no series there.
    for (i, page) in shards.iter().enumerate() {
        let has_own = page.contains("domain=\"ours.example\"");
        assert_eq!(has_own, i as u64 == own_shard, "shard {i}");
    }
}
