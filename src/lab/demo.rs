//! `demo`: the lab's demo world and the exporter probing it, no network needed.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::expose::server;
use crate::lab::{Lab, world};
use crate::store::{Setup, Store};

/// Starts the demo world, with `fleet` more healthy domains on shared edges, and serves the
/// exporter on `listen` until `shutdown`.
pub async fn run(listen: &str, fleet: usize, shutdown: CancellationToken) -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let path = world::build(&lab).await?;
    if fleet > 0 {
        use std::io::Write;
        let more = world::fleet(&lab, fleet).await?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(more.as_bytes())?;
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
            "  {:<10} {:<18} {:<5} {}",
            d.tenant, d.domain, d.role, d.problem
        );
    }
    if fleet > 0 {
        println!("  and {fleet} healthy fleet domains (customerN.example) on shared edges");
    }
    println!("Status page: http://{local}/   Metrics: http://{local}/metrics   (Ctrl-C stops)");
    let result = server::run(Arc::clone(&store), listener, shutdown).await;
    drop(lab);
    result.map_err(Into::into)
}
