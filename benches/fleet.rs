//! Fleet benchmark: one round of probes (SRV, A/AAAA, CNAME, Microsoft 365 evidence, TCP, TLS,
//! SIP OPTIONS) over N domains, each with its own SRV target and TLS server name, spread over
//! 50 lab peers; then `/metrics` scrapes; then a shared-edge round (N domains on one edge whose
//! SIP answers after 300 ms). The lab world runs in a separate process (this binary in world
//! mode), so the CPU figures are the exporter's alone.
//!
//! Run: `cargo bench --features lab --bench fleet -- [DOMAINS...]` (default 2000 10000).
//! Asserts that every domain was probed and every endpoint came up, and (the fleet's chains all
//! point at one lab CA's CRL and OCSP responder) that round 1 fetched the CRL once and asked
//! OCSP at most once per distinct certificate, round 2 neither. `SIPFED_FLEET_NO_REVOCATION=1`:
//! chains without pointers, the cost without revocation evidence.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sipfed_exporter::config::{Config, Selection};
use sipfed_exporter::expose::metrics;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, SipMode};
use sipfed_exporter::store::workers::Workers;
use sipfed_exporter::store::{Setup, Store};

const EDGES: usize = 50;
const SHARED_SIP_DELAY_MS: u64 = 300;

/// `field` of /proc/self/status in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) of this process, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// World mode: builds the lab world, prints the config path, then answers `queries` with the
/// DNS query count until stdin closes.
async fn world(domains: usize, shared: bool) {
    let lab = Lab::start().await.expect("lab starts");
    let ca = lab.revocation_ca().await.ok();
    let mut list = String::new();
    if shared {
        let leaf = lab
            .pki
            .leaf(&LeafSpec::good("edge.hoster.example"))
            .expect("leaf");
        let edge = lab
            .peer(Behavior::Tls {
                leaf,
                request_client_cert: false,
                sip: SipMode::Delayed {
                    code: 200,
                    after_ms: SHARED_SIP_DELAY_MS,
                },
            })
            .await
            .expect("peer");
        lab.zone.addr("edge.hoster.example", edge.address.ip());
        for d in 0..domains {
            let name = format!("customer{d}.example");
            lab.zone
                .federation_srv(&name, 0, 0, edge.address.port(), "edge.hoster.example");
            list.push_str(&format!("  - domain: {name}\n    tenant: t{}\n", d % 100));
        }
    } else {
        // Every edge's chain points at one CA's CRL and OCSP responder, unless
        // SIPFED_FLEET_NO_REVOCATION is set (chains without pointers: the cost before).
        let pointers = std::env::var("SIPFED_FLEET_NO_REVOCATION").is_err();
        let mut addrs = Vec::new();
        for e in 0..EDGES {
            let name = format!("edge{e}.hoster.example");
            let p = match &ca {
                Some(ca) if pointers => lab
                    .peer(Behavior::Tls {
                        leaf: ca.leaf(&name).expect("leaf"),
                        request_client_cert: false,
                        sip: SipMode::Answer(200),
                    })
                    .await
                    .expect("peer"),
                _ => lab.tls_peer(&LeafSpec::good(&name)).await.expect("peer"),
            };
            addrs.push(p.address);
        }
        for d in 0..domains {
            let name = format!("customer{d}.example");
            let target = format!("sip.{name}");
            lab.publish(&name, &target, addrs[d % EDGES]);
            list.push_str(&format!("  - domain: {name}\n    tenant: t{}\n", d % 100));
        }
    }
    let path = lab
        .write_config(
            "fleet.yml",
            "  concurrency: 64\n  sip_options: true\n",
            &list,
        )
        .expect("config");
    println!("{}", path.display());
    let _ = std::io::stdout().flush();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "queries" {
            println!("{}", lab.zone.queries.load(Ordering::Relaxed));
            let _ = std::io::stdout().flush();
        }
        if line.trim() == "revocation" {
            let (crl, ocsp) = ca
                .as_ref()
                .map_or((0, 0), |c| (c.crl_requests(), c.ocsp_requests()));
            println!("{crl} {ocsp}");
            let _ = std::io::stdout().flush();
        }
    }
}

/// A world process and a line channel to it.
struct World {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    config: std::path::PathBuf,
}

impl World {
    fn start(domains: usize, shared: bool) -> World {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .env(
                "SIPFED_FLEET_WORLD",
                if shared { "shared" } else { "fleet" },
            )
            .arg(domains.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("world starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("config path");
        World {
            child,
            out,
            config: line.trim().into(),
        }
    }

    /// CRL and OCSP requests the world's CA served so far.
    fn revocation(&mut self) -> (u64, u64) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "revocation").expect("ask");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("answer");
        let mut n = line.split_whitespace().map(|n| n.parse().expect("count"));
        (n.next().unwrap_or(0), n.next().unwrap_or(0))
    }

    fn queries(&mut self) -> u64 {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "queries").expect("ask");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("answer");
        line.trim().parse().expect("count")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// One round over every configured domain, as the scheduler runs it (on the probe workers,
/// at most `concurrency` probes in flight, each recorded in the store, which judges the
/// domain).
async fn round(store: &Arc<Store>, workers: &Workers) -> Duration {
    let setup = store.setup();
    let start = Instant::now();
    let probes = setup.config.domains.iter().flat_map(|d| {
        let setup = setup.clone();
        let store = store.clone();
        d.vantages.iter().map(move |v| {
            let setup = setup.clone();
            let store = store.clone();
            let d = d.clone();
            let v = v.clone();
            let probe = async move {
                let _slot = setup.slots.acquire().await;
                let facts = setup.prober.gather(&d, &v).await;
                store.record(&d, &v, Arc::new(facts));
            };
            workers.next().expect("probe workers").spawn(probe)
        })
    });
    for finished in futures::future::join_all(probes).await {
        finished.expect("probe ran");
    }
    start.elapsed()
}

fn store(world: &World) -> Arc<Store> {
    let config = Config::load(&world.config).expect("config loads");
    Store::new(
        Setup::new(config).expect("setup"),
        None,
        Selection::default(),
    )
}

async fn fleet(domains: usize) {
    let mut world = World::start(domains, false);
    let store = store(&world);
    let workers = Workers::start();
    let queries_before = world.queries();
    let cpu_before = cpu_seconds();
    let wall = round(&store, &workers).await;
    let cpu = cpu_seconds() - cpu_before;
    let queries = world.queries() - queries_before;
    let setup = store.setup();
    let reports = store.reports(&setup.config);
    assert_eq!(reports.len(), domains, "every domain probed");
    let down = reports
        .iter()
        .filter(|r| {
            !r.vantages.iter().all(|v| {
                v.facts
                    .targets
                    .iter()
                    .all(|t| !t.endpoints.is_empty() && t.endpoints.iter().all(|e| e.up()))
                    && !v.facts.targets.is_empty()
            })
        })
        .count();
    assert_eq!(down, 0, "every endpoint came up");
    let sip_ok = sip_ok(&reports);
    let not_revoked = reports
        .iter()
        .filter(|r| {
            r.vantages.iter().all(|v| {
                v.findings
                    .iter()
                    .any(|f| f.check.as_str() == "cert_not_revoked" && f.passed)
            })
        })
        .count();
    drop(reports);
    let revocation1 = world.revocation();
    // Second round: what every later round costs (the Microsoft 365 evidence is reused).
    // SIPFED_FLEET_EXTRA_ROUNDS: later rounds before the measured one (profiling them).
    let extra: usize = std::env::var("SIPFED_FLEET_EXTRA_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for _ in 0..extra {
        round(&store, &workers).await;
    }
    let queries_before2 = world.queries();
    let cpu_before2 = cpu_seconds();
    let wall2 = round(&store, &workers).await;
    let cpu2 = cpu_seconds() - cpu_before2;
    let queries2 = world.queries() - queries_before2;
    let revocation2 = world.revocation();
    let pointers = std::env::var("SIPFED_FLEET_NO_REVOCATION").is_err();
    if pointers {
        // One CRL download for the fleet, at most one OCSP request per distinct certificate
        // (one per edge), none in a later round before nextUpdate.
        assert_eq!(revocation1.0, 1, "one CRL fetch in round 1");
        assert!(revocation1.1 <= EDGES as u64, "OCSP requests in round 1");
        assert_eq!(revocation2, revocation1, "no fetch in round 2");
        assert_eq!(not_revoked, domains, "cert_not_revoked passes everywhere");
    }
    // Scrapes as /metrics serves them: chunks handed out as they are rendered (the page is
    // never held whole); the peak RSS below includes them.
    let mut scrapes = Vec::new();
    let mut size = 0;
    // SIPFED_FLEET_SCRAPES: more scrapes (profiling the scrape).
    let n_scrapes = std::env::var("SIPFED_FLEET_SCRAPES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize)
        .max(5);
    for _ in 0..n_scrapes {
        let t = Instant::now();
        let mut bytes = 0;
        metrics::render_into(&store, &mut |chunk| {
            bytes += chunk.len();
            true
        });
        scrapes.push(t.elapsed().as_secs_f64() * 1000.0);
        size = bytes;
    }
    // gzip as the HTTP layer does it (CompressionLevel::Fastest, flate2's level 1, chunk by
    // chunk; here on one thread after rendering, where `/metrics` compresses on another).
    let t = Instant::now();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    metrics::render_into(&store, &mut |chunk| gz.write_all(&chunk).is_ok());
    let gz_size = gz.finish().map(|v| v.len()).unwrap_or(0);
    let gz_ms = t.elapsed().as_secs_f64() * 1000.0;
    scrapes.sort_by(|a, b| a.total_cmp(b));
    let n = domains as f64;
    println!(
        "fleet: {domains} domains, each its own SRV target and server name, {EDGES} lab peers, concurrency 64, SIP OPTIONS on"
    );
    println!(
        "  round 1: {:.2} s wall, {:.3} ms exporter CPU per domain, {:.1} DNS queries per domain, SIP 200 for {sip_ok}/{domains}",
        wall.as_secs_f64(),
        cpu * 1000.0 / n,
        queries as f64 / n
    );
    println!(
        "  round 2: {:.2} s wall, {:.3} ms exporter CPU per domain, {:.1} DNS queries per domain",
        wall2.as_secs_f64(),
        cpu2 * 1000.0 / n,
        queries2 as f64 / n
    );
    if pointers {
        println!(
            "  revocation: every chain points at one CA's CRL and OCSP ({EDGES} distinct leaves): round 1 {} CRL fetch(es), {} OCSP request(s); round 2 {} and {}; cert_not_revoked passes for {not_revoked}/{domains}",
            revocation1.0,
            revocation1.1,
            revocation2.0 - revocation1.0,
            revocation2.1 - revocation1.1
        );
    } else {
        println!("  revocation: chains without CRL/OCSP pointers (SIPFED_FLEET_NO_REVOCATION)");
    }
    println!(
        "  /metrics scrape: median {:.1} ms (min {:.1}, max {:.1}), {:.1} MiB plain; gzip {:.1} MiB in {:.0} ms",
        scrapes[scrapes.len() / 2],
        scrapes[0],
        scrapes[scrapes.len() - 1],
        size as f64 / 1048576.0,
        gz_size as f64 / 1048576.0,
        gz_ms
    );
    println!(
        "  RSS now {:.0} MiB, peak {:.0} MiB",
        status_kib("VmRSS:") as f64 / 1024.0,
        status_kib("VmHWM:") as f64 / 1024.0
    );
}

async fn shared(domains: usize) {
    let world = World::start(domains, true);
    let store = store(&world);
    let workers = Workers::start();
    let wall = round(&store, &workers).await;
    let setup = store.setup();
    let reports = store.reports(&setup.config);
    assert_eq!(reports.len(), domains, "every domain probed");
    let healthy = reports
        .iter()
        .filter(|r| r.vantages.iter().all(|v| v.success))
        .count();
    let sip_ok = sip_ok(&reports);
    println!(
        "shared edge: {domains} domains on one edge whose SIP answers after {SHARED_SIP_DELAY_MS} ms (timeout 5 s): round {:.2} s, {healthy}/{domains} healthy, SIP 200 for {sip_ok}/{domains}, {} look(s) of the edge",
        wall.as_secs_f64(),
        setup.prober.edges.looks()
    );
    if let Some(r) = reports
        .iter()
        .find(|r| !r.vantages.iter().all(|v| v.success))
    {
        let failed: Vec<String> = r
            .vantages
            .iter()
            .flat_map(|v| v.findings.iter().filter(|f| !f.passed))
            .map(|f| format!("{}: {}", f.check.as_str(), f.message))
            .collect();
        println!("  first unhealthy: {}: {failed:?}", r.domain);
    }
    assert_eq!(
        healthy, domains,
        "every domain on the shared edge is healthy"
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if let Ok(mode) = std::env::var("SIPFED_FLEET_WORLD") {
        world(sizes.first().copied().unwrap_or(1), mode == "shared").await;
        return;
    }
    if std::env::var("SIPFED_FLEET_ONE").is_ok() {
        for &n in &sizes {
            fleet(n).await;
            // SIPFED_FLEET_NO_SHARED: the fleet run alone (profiling).
            if std::env::var("SIPFED_FLEET_NO_SHARED").is_err() {
                shared(n).await;
            }
        }
        return;
    }
    let sizes = if sizes.is_empty() {
        vec![2000, 10_000]
    } else {
        sizes
    };
    println!(
        "fleet benchmark on {} cores (lab world in a separate process)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    for &n in &sizes {
        // Each size in its own process, so peak RSS is that size's.
        let status = Command::new(std::env::current_exe().expect("own path"))
            .env("SIPFED_FLEET_ONE", "1")
            .arg(n.to_string())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "run for {n} domains failed"
        );
    }
}

/// Domains whose every endpoint answered OPTIONS with 200 at every vantage.
fn sip_ok(reports: &[Arc<sipfed_exporter::judge::DomainReport>]) -> usize {
    reports
        .iter()
        .filter(|r| {
            r.vantages.iter().all(|v| {
                v.facts.targets.iter().all(|t| {
                    t.endpoints
                        .iter()
                        .all(|e| e.sip.as_ref().is_some_and(|s| s.status == Ok(200)))
                })
            })
        })
        .count()
}
