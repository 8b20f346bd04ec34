//! The HTTP side: `/metrics`, `/probe`, the status page, a domain's checklist, health,
//! readiness and reload.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Domain, normalize_domain};
use crate::metrics;
use crate::scheduler::{Exporter, ProbeKey};
use crate::webconfig::{self, BasicAuth, WebConfig};

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The router over an exporter.
pub fn router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/metrics", get(metrics_page))
        .route("/probe", get(probe))
        .route("/domain/{tenant}/{domain}", get(domain_page))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .with_state(exporter)
}

/// Serves until `shutdown` is cancelled, with TLS and basic auth when `web` says so.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    web: Option<&WebConfig>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut app = router(exporter);
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

async fn metrics_page(State(ex): State<Arc<Exporter>>) -> Response {
    // Rendering 10,000 domains takes milliseconds of CPU: keep it off the I/O threads.
    let body = tokio::task::spawn_blocking(move || metrics::render(&ex)).await;
    match body {
        Ok(b) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], b).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response(),
    }
}

async fn ready(State(ex): State<Arc<Exporter>>) -> Response {
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

async fn reload(State(ex): State<Arc<Exporter>>) -> Response {
    match ex.reload() {
        Ok(()) => (StatusCode::OK, "Reloaded.\n").into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("reload failed, running configuration kept: {e}\n"),
        )
            .into_response(),
    }
}

async fn probe(
    State(ex): State<Arc<Exporter>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let rt = ex.runtime();
    let Some(name) = q.get("domain") else {
        return (StatusCode::BAD_REQUEST, "missing parameter: domain\n").into_response();
    };
    let name = match normalize_domain(name) {
        Ok(n) => n,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let tenant = q.get("tenant");
    let configured = rt
        .config
        .domains
        .iter()
        .find(|d| d.name == name && tenant.is_none_or(|t| &d.tenant == t))
        .cloned();
    let domain = match configured {
        Some(d) => d,
        None if rt.config.global.probe_any_domain => {
            let mut d = Domain::peer(
                name.clone(),
                rt.config.vantages.iter().map(|v| v.name.clone()).collect(),
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
    let probes = vantages.iter().map(|v| {
        let rt = rt.clone();
        let domain = domain.clone();
        async move {
            let _slot = rt.slots.acquire().await;
            rt.probe(&domain, v).await
        }
    });
    let results = futures::future::join_all(probes).await;
    let results: Vec<(ProbeKey, Arc<crate::scheduler::ProbeResult>)> = vantages
        .into_iter()
        .zip(results)
        .map(|(v, r)| {
            (
                ProbeKey {
                    tenant: domain.tenant.clone(),
                    domain: domain.name.clone(),
                    vantage: v,
                },
                Arc::new(r),
            )
        })
        .collect();
    let mut out = String::new();
    metrics::render_results(&mut out, &rt.config, &results, false);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], out).into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.ok{color:#1a7f37}.critical{color:#c62828;font-weight:600}.warning{color:#b26a00}.info{color:#555}.pending{color:#888}small{color:#666}</style>";

async fn status_page(State(ex): State<Arc<Exporter>>) -> Html<String> {
    let rt = ex.runtime();
    let mut html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>sipfed_exporter</title>{STYLE}</head><body><h1>SIP federation status</h1><p><a href=\"/metrics\">Metrics</a> · {} domain(s)</p><table><tr><th>Tenant</th><th>Domain</th><th>Role</th><th>Vantage</th><th>State</th><th>Failing checks</th></tr>",
        rt.config.domains.len()
    );
    for d in &rt.config.domains {
        for v in &d.vantages {
            let key = ProbeKey {
                tenant: d.tenant.clone(),
                domain: d.name.clone(),
                vantage: v.clone(),
            };
            let (state, failing) = match ex.result(&key) {
                None => (
                    "<span class=pending>pending</span>".to_string(),
                    String::new(),
                ),
                Some(r) => {
                    let failing: Vec<String> = r
                        .findings
                        .iter()
                        .filter(|f| !f.passed)
                        .map(|f| format!("<span class={}>{}</span>", f.severity.as_str(), f.check))
                        .collect();
                    let only_info = r
                        .findings
                        .iter()
                        .all(|f| f.passed || f.severity == crate::checks::Severity::Info);
                    let state = if r.success && only_info {
                        "<span class=ok>ok</span>"
                    } else if r.success {
                        "<span class=warning>warning</span>"
                    } else {
                        "<span class=critical>failing</span>"
                    };
                    (state.to_string(), failing.join(" "))
                }
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td><a href=\"/domain/{}/{}\">{}</a></td><td>{}</td><td>{}</td><td>{state}</td><td>{failing}</td></tr>",
                esc(&d.tenant),
                esc(&d.tenant),
                esc(&d.name),
                esc(&d.name),
                d.role.as_str(),
                esc(v)
            );
        }
    }
    html.push_str("</table></body></html>");
    Html(html)
}

async fn domain_page(
    State(ex): State<Arc<Exporter>>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Response {
    let rt = ex.runtime();
    let Some(d) = rt
        .config
        .domains
        .iter()
        .find(|d| d.tenant == tenant && d.name == domain)
    else {
        return (StatusCode::NOT_FOUND, "no such domain\n").into_response();
    };
    let mut html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{} – sipfed_exporter</title>{STYLE}</head><body><p><a href=\"/\">All domains</a></p><h1>{}</h1><p>tenant {} · role {} · federation {}</p>",
        esc(&d.name),
        esc(&d.name),
        esc(&d.tenant),
        d.role.as_str(),
        d.federation.as_str()
    );
    for v in &d.vantages {
        let key = ProbeKey {
            tenant: d.tenant.clone(),
            domain: d.name.clone(),
            vantage: v.clone(),
        };
        let _ = write!(html, "<h2>Vantage {}</h2>", esc(v));
        let Some(r) = ex.result(&key) else {
            html.push_str("<p class=pending>Not probed yet.</p>");
            continue;
        };
        html.push_str(
            "<table><tr><th>Check</th><th>Result</th><th>Finding</th><th>What to do</th></tr>",
        );
        for f in &r.findings {
            let result = if f.passed {
                "<span class=ok>pass</span>".to_string()
            } else {
                format!(
                    "<span class={}>{} ({})</span>",
                    f.severity.as_str(),
                    f.severity.as_str(),
                    f.reason.map(|r| r.as_str()).unwrap_or("")
                )
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{result}</td><td>{}</td><td><small>{}</small></td></tr>",
                f.check,
                esc(&f.message),
                esc(&f.hint)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    Html(html).into_response()
}
