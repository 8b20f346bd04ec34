//! Running the store: bind, start the scheduler and the HTTP server, reload on SIGHUP,
//! stop on SIGTERM/SIGINT and wait for every task.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::http;
use super::webconfig::WebConfig;
use crate::store::{Store, scheduler};

/// Parses `:9861`, `0.0.0.0:9861`, `[::1]:9861` or `localhost:9861`.
pub fn parse_listen(addr: &str) -> Result<SocketAddr, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.replace("localhost:", "127.0.0.1:")
    };
    full.parse()
        .map_err(|_| format!("invalid --web.listen-address {addr:?}: expected [HOST]:PORT"))
}

/// Serves `store` on `listener` until `shutdown`, then waits for probes and requests.
pub async fn run(
    store: Arc<Store>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    run_with(store, listener, None, shutdown).await
}

/// Like `run`, with the `--web.config.file` settings (TLS, basic auth).
pub async fn run_with(
    store: Arc<Store>,
    listener: TcpListener,
    web: Option<WebConfig>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tracker = TaskTracker::new();
    tracker.spawn(scheduler::run(store.clone(), shutdown.clone()));
    tracker.spawn(signals(store.clone(), shutdown.clone()));
    let served = http::serve(listener, store, web.as_ref(), shutdown.clone()).await;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    served
}

#[cfg(unix)]
async fn signals(store: Arc<Store>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hup.recv() => { let _ = store.reload(); }
            _ = term.recv() => { tracing::info!("SIGTERM, shutting down"); shutdown.cancel(); return; }
            _ = int.recv() => { tracing::info!("SIGINT, shutting down"); shutdown.cancel(); return; }
        }
    }
}

#[cfg(not(unix))]
async fn signals(_store: Arc<Store>, shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}
