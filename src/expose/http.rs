//! The HTTP side: `/metrics`, `/probe`, the pages, health, readiness and reload.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::webconfig::{self, BasicAuth, WebConfig};
use super::{api, metrics, pages};
use crate::config::{Domain, normalize_domain};
use crate::store::Store;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The router over an store.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(pages::status_page))
        .route("/metrics", get(metrics_page))
        .route("/probe", get(probe))
        .route("/domain/{tenant}/{domain}", get(pages::domain_page))
        .route("/api/v1/domains", get(api::domains))
        .route("/api/v1/domains/{tenant}/{domain}", get(api::domain))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .with_state(store)
}

/// Serves until `shutdown` is cancelled, with TLS and basic auth when `web` says so.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    web: Option<&WebConfig>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut app = router(store);
    if let Some(users) = web.map(|w| &w.basic_auth_users).filter(|u| !u.is_empty()) {
        let auth = BasicAuth::new(users.clone());
        app = app.layer(axum::middleware::from_fn_with_state(
            auth,
            webconfig::require_auth,
        ));
    }
    let tls = web.and_then(|w| w.tls.clone());
    let Some(tls) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
            let Ok(Ok(stream)) = handshake.await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn metrics_page(State(ex): State<Arc<Store>>) -> Response {
    // Rendering 10,000 domains takes milliseconds of CPU: keep it off the I/O threads.
    let body = tokio::task::spawn_blocking(move || metrics::render(&ex)).await;
    match body {
        Ok(b) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], b).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response(),
    }
}

async fn ready(State(ex): State<Arc<Store>>) -> Response {
    let (have, total) = ex.coverage();
    if have == total {
        (StatusCode::OK, "Ready.\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("First round running: {have} of {total} probes done.\n"),
        )
            .into_response()
    }
}

async fn reload(State(ex): State<Arc<Store>>) -> Response {
    match ex.reload() {
        Ok(()) => (StatusCode::OK, "Reloaded.\n").into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("reload failed, running configuration kept: {e}\n"),
        )
            .into_response(),
    }
}

async fn probe(State(ex): State<Arc<Store>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let setup = ex.setup();
    // `target=` as in Prometheus' multi-target pattern (blackbox_exporter, the Probe resource).
    let Some(name) = q.get("domain").or_else(|| q.get("target")) else {
        return (
            StatusCode::BAD_REQUEST,
            "missing parameter: domain (or target)\n",
        )
            .into_response();
    };
    let name = match normalize_domain(name) {
        Ok(n) => n,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let tenant = q.get("tenant");
    let configured = setup
        .config
        .domains
        .iter()
        .find(|d| d.name == name && tenant.is_none_or(|t| &d.tenant == t))
        .cloned();
    let domain = match configured {
        Some(d) => d,
        None if setup.config.global.probe_any_domain => {
            let mut d = Domain::peer(
                name.clone(),
                setup
                    .config
                    .vantages
                    .iter()
                    .map(|v| v.name.clone())
                    .collect(),
            );
            if let Some(t) = tenant {
                d.tenant = t.clone();
            }
            d
        }
        None => {
            return (
                StatusCode::NOT_FOUND,
                format!(
                    "domain {name} is not configured (set global.probe_any_domain to allow any)\n"
                ),
            )
                .into_response();
        }
    };
    let vantages: Vec<String> = match q.get("vantage") {
        Some(v) if domain.vantages.contains(v) => vec![v.clone()],
        Some(v) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown vantage {v:?} for {name}\n"),
            )
                .into_response();
        }
        None => domain.vantages.clone(),
    };
    // /probe shares the scheduler's concurrency limit, so it cannot be used to amplify load.
    let report = setup.probe(&domain, &vantages).await;
    let mut out = String::new();
    metrics::render_report(&mut out, &report);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], out).into_response()
}
