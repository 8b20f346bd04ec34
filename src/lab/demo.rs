//! `demo`: the lab's demo world and the exporter probing it, no network needed.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::expose::server;
use crate::lab::{Lab, world};
use crate::store::{Setup, Store};

/// Starts the demo world, with `fleet` more healthy domains on shared edges, and serves the
/// exporter on `listen` until `shutdown`. With `write_config`, the configuration is written
/// there too and served from there (the path the printed `check` commands use).
pub async fn run(
    listen: &str,
    fleet: usize,
    write_config: Option<&std::path::Path>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let mut path = world::build(&lab).await?;
    if fleet > 0 {
        use std::io::Write;
        let more = world::fleet(&lab, fleet).await?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(more.as_bytes())?;
    }
    if let Some(to) = write_config {
        // The lab's files are named by absolute paths: the copy works from anywhere.
        std::fs::copy(&path, to)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", to.display()))?;
        path = to.to_path_buf();
    }
    let config = Config::load(&path)?;
    let store = Store::new(Setup::new(config)?, Some(path.clone()), Default::default());
    let addr = server::parse_listen(listen).map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!(
        "sipfed_exporter demo: lab world with {} domains (DNS at {}, config {})",
        world::DEMO_DOMAINS.len(),
        lab.dns,
        path.display()
    );
    for d in world::DEMO_DOMAINS {
        println!(
            "  {:<10} {:<18} {:<5} {:<8} {}",
            d.tenant, d.domain, d.role, d.shows, d.problem
        );
    }
    if fleet > 0 {
        println!("  and {fleet} healthy fleet domains (customerN.example) on shared edges");
    }
    println!("Try, while the demo runs (its config and its DNS, never the system resolver):");
    for line in check_commands(&path, lab.dns) {
        println!("  {line}");
    }
    println!("Status page: http://{local}/   Metrics: http://{local}/metrics   (Ctrl-C stops)");
    let result = server::run(Arc::clone(&store), listener, shutdown).await;
    drop(lab);
    result.map_err(Into::into)
}

/// The `check` commands the banner prints, each with the exit status it gives: this very
/// binary (as it was started), the demo's config and its DNS server as the only resolver.
/// `tests/cli.rs` runs them as printed.
pub fn check_commands(config: &std::path::Path, dns: std::net::SocketAddr) -> Vec<String> {
    let bin = std::env::args()
        .next()
        .unwrap_or_else(|| "sipfed_exporter".to_string());
    let mut lines = Vec::new();
    for (domain, extra) in [("toothfairy.uk", " --verbose"), ("kfo-sued.de", "")] {
        let Some(d) = world::DEMO_DOMAINS.iter().find(|d| d.domain == domain) else {
            continue;
        };
        let exit = match d.shows {
            "ok" => 0,
            "warning" => 1,
            _ => 2,
        };
        lines.push(format!(
            "{bin} check --config.file={} --resolver={dns}{extra} {domain}   # {}: exit {exit}",
            config.display(),
            d.shows
        ));
    }
    lines
}
