//! Fleet benchmark: one round of probes over N domains (default 10,000) spread over a few
//! shared edges in the lab, then rendering `/metrics`. Prints its figures; asserts nothing
//! about time. Run: `cargo bench --bench fleet -- [DOMAINS] [EDGES] [CONCURRENCY]`.

use std::time::Instant;

use sipfed_exporter::config::Config;
use sipfed_exporter::expose::metrics;
use sipfed_exporter::judge::DomainReport;
use sipfed_exporter::lab::{Lab, LeafSpec};
use sipfed_exporter::store::Setup;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let domains = args.first().copied().unwrap_or(10_000);
    let edges = args.get(1).copied().unwrap_or(50);
    let concurrency = args.get(2).copied().unwrap_or(64);

    let lab = Lab::start().await.expect("lab starts");
    let mut addrs = Vec::new();
    for e in 0..edges {
        let p = lab
            .tls_peer(&LeafSpec::good(&format!("edge{e}.hoster.example")))
            .await
            .expect("peer");
        addrs.push(p.address);
    }
    let mut list = String::new();
    for d in 0..domains {
        let name = format!("customer{d}.example");
        let target = format!("sip.{name}");
        lab.publish(&name, &target, addrs[d % edges]);
        list.push_str(&format!("  - domain: {name}\n    tenant: t{}\n", d % 100));
    }
    let path = lab
        .write_config(
            "fleet.yml",
            &format!("  concurrency: {concurrency}\n"),
            &list,
        )
        .expect("config");
    let rss_before = rss_mib();
    let config = Config::load(&path).expect("config loads");
    let setup = Setup::new(config).expect("setup");
    let start = Instant::now();
    let results: Vec<DomainReport> = setup.probe_each(&setup.config.domains).await;
    let round = start.elapsed();
    let up = results
        .iter()
        .filter(|r| {
            r.vantages.iter().any(|v| {
                v.facts
                    .targets
                    .iter()
                    .any(|t| t.endpoints.iter().any(|e| e.up()))
            })
        })
        .count();
    let rss_after = rss_mib();
    let mut renders = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut out = String::with_capacity(size);
        let refs: Vec<&DomainReport> = results.iter().collect();
        metrics::render_reports(&mut out, &refs);
        renders.push(t.elapsed().as_secs_f64() * 1000.0);
        size = out.len();
    }
    renders.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "fleet benchmark on {} cores: {domains} domains, {edges} shared edges, concurrency {concurrency}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "  round (DNS + TCP + TLS + SIP OPTIONS, lab peers in-process): {:.2} s, {:.0} probes/s, {up} endpoints up",
        round.as_secs_f64(),
        domains as f64 / round.as_secs_f64()
    );
    println!(
        "  /metrics render: median {:.1} ms (min {:.1}, max {:.1}), {:.1} MiB, {} bytes",
        renders[2],
        renders[0],
        renders[4],
        size as f64 / 1048576.0,
        size
    );
    println!(
        "  RSS: {rss_before:.0} MiB before, {rss_after:.0} MiB after the round ({:.1} KiB per domain held)",
        (rss_after - rss_before) * 1024.0 / domains as f64
    );
}
