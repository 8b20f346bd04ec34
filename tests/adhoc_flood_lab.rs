//! A flood of ad-hoc probes (`probe_any_domain: true`): a thousand `/probe?target=` requests
//! for different domains whose MX and TXT answers are as large as DNS over TCP allows. The
//! exporter process (the real binary) keeps nothing of them: its peak resident memory after
//! the flood is about what it was after the first fifty (SPEC §5 "Ad-hoc probes").

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{http, value};
use sipfed_exporter::lab::Lab;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sipfed_exporter");

/// Domains probed ad hoc.
const DOMAINS: usize = 1000;

/// `/probe` requests in flight at once (the exporter serves 4; a fifth would get 503).
const IN_FLIGHT: usize = 4;

/// Peak resident memory (VmHWM) of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn probe(addr: SocketAddr, domain: &str) {
    let (status, body) = http(addr, "GET", &format!("/probe?target={domain}")).await;
    assert_eq!(status, 200, "{domain}: {body}");
    assert!(
        value(&body, "sipfed_probe_success", &[("domain", domain)]).is_some(),
        "{domain}: {body}"
    );
}

async fn flood(addr: SocketAddr, domains: std::ops::Range<usize>) {
    let domains: Vec<String> = domains.map(|i| format!("d{i}.flood.test")).collect();
    for batch in domains.chunks(IN_FLIGHT) {
        futures::future::join_all(batch.iter().map(|d| probe(addr, d))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ad_hoc_probes_leaves_memory_where_it_was() {
    let lab = Lab::start().await.unwrap();
    // One huge answer every flooded domain shares through its CNAME (the lab's memory stays
    // small; the exporter reads a whole answer for each domain): 700 MX records (about 60 KB) and 300
    // MS= TXT records, sent over TCP.
    let label = "x".repeat(40);
    for i in 0..700 {
        lab.zone.mx(
            "big.flood.test",
            10,
            &format!("mx{i:04}{label}.big.flood.test"),
        );
    }
    let text = "y".repeat(180);
    for i in 0..300 {
        lab.zone
            .txt("big.flood.test", &format!("MS=ms{i:08}{text}"));
    }
    for i in 0..DOMAINS {
        lab.zone
            .cname(&format!("d{i}.flood.test"), "big.flood.test");
    }
    let path = lab
        .write_config(
            "flood.yml",
            "  probe_any_domain: true\n",
            "  - domain: configured.test\n",
        )
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = Command::new(BIN)
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the exporter listens on {addr}");

    // The answers are read whole (over TCP) and cut short in the facts, which say so.
    let (status, body) = http(addr, "GET", "/probe?target=d0.flood.test").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &body,
            "sipfed_m365_evidence",
            &[("domain", "d0.flood.test")]
        ),
        Some(1.0),
        "{body}"
    );
    let out = Command::new(BIN)
        .arg("check")
        .arg("--verbose")
        .arg(format!("--config.file={}", path.display()))
        .arg("d0.flood.test")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line: {text}"))
            .to_string()
    };
    assert!(line("MX:").ends_with("(first 32 of 700 records)"), "{text}");
    assert!(
        line("MS= TXT:").ends_with("(first 32 of 300 records)"),
        "{text}"
    );

    flood(addr, 1..50).await;
    let warm = peak_kib(pid);
    flood(addr, 50..DOMAINS).await;
    let peak = peak_kib(pid);
    eprintln!(
        "peak RSS after 50 ad-hoc probes {} KiB, after {DOMAINS}: {} KiB (+{} KiB)",
        warm,
        peak,
        peak.saturating_sub(warm)
    );
    // Without the bounds the exporter kept every domain's evidence: about 35 KiB each
    // (+33 MiB over this flood, measured).
    // With them the flood adds nothing kept; 16 MiB of margin for the allocator's arenas.
    assert!(
        peak.saturating_sub(warm) < 16 * 1024,
        "peak RSS grew from {warm} KiB to {peak} KiB over {DOMAINS} ad-hoc probes"
    );
    child.kill().await.unwrap();
}
