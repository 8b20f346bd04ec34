//! The HTTP side: `/metrics`, `/probe`, the pages, health, readiness and reload.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;

use super::access::{self, Sight};
use super::{api, metrics, pages};
use crate::config::{Config, Domain, normalize_domain};
use crate::store::{Scope, Store};

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the command line decides about the routes.
#[derive(Debug, Clone)]
pub struct Routes {
    /// Where the metrics are served (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// `POST /-/reload` allowed (`--web.enable-lifecycle`); else 403 as in Prometheus.
    pub enable_lifecycle: bool,
    /// At most this many `/probe` requests at once; more get 503 at once.
    pub probe_concurrency: usize,
    /// `--web.route-prefix` as given; `None`: the external URL's path, else `/`.
    pub route_prefix: Option<String>,
    /// `--web.external-url`: where users reach the exporter (links carry its path).
    pub external_url: Option<String>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            telemetry_path: "/metrics".into(),
            enable_lifecycle: false,
            probe_concurrency: 4,
            route_prefix: None,
            external_url: None,
        }
    }
}

impl Routes {
    /// (route prefix, link prefix, where `/` redirects to), each normalized (`""`: root), as
    /// Prometheus derives them: the route prefix defaults to the external URL's path; links
    /// carry the external URL's path when there is one (a proxy may strip the prefix before
    /// the exporter sees it), else the route prefix.
    pub fn prefixes(&self) -> Result<(String, String, String), String> {
        let external = match &self.external_url {
            Some(u) => Some(super::prefix::external_path(u)?),
            None => None,
        };
        let route = match &self.route_prefix {
            Some(p) => {
                super::prefix::normalize(p).map_err(|e| format!("--web.route-prefix: {e}"))?
            }
            None => external.clone().unwrap_or_default(),
        };
        let link = external.unwrap_or_else(|| route.clone());
        let home = match &self.external_url {
            Some(u) => u.clone(),
            None => format!("{route}/"),
        };
        Ok((route, link, home))
    }

    /// Checks `--web.telemetry-path`: an absolute path that no other endpoint uses.
    pub fn check(&self) -> Result<(), String> {
        self.prefixes()?;
        let p = &self.telemetry_path;
        let taken = ["/", "/probe", "/-/healthy", "/-/ready", "/-/reload"];
        if !p.starts_with('/')
            || p.contains(['{', '}', '*', '?', '#'])
            || taken.contains(&p.as_str())
            || p.starts_with("/domain/")
            || p.starts_with("/api/")
        {
            return Err(format!(
                "invalid --web.telemetry-path {p:?}: expected an absolute path that no other endpoint uses"
            ));
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Lifecycle(bool);

#[derive(Clone)]
struct ProbeSlots(Arc<Semaphore>);

/// The router over a store, with the default routes.
pub fn router(store: Arc<Store>) -> Router {
    router_with(store, &Routes::default())
}

/// The router over a store; `/metrics` (or the telemetry path) gzipped when accepted; under
/// the route prefix, links with the link prefix ([`Routes::prefixes`]; unchecked prefixes
/// count as the root).
pub fn router_with(store: Arc<Store>, routes: &Routes) -> Router {
    let (route, link, home) = routes.prefixes().unwrap_or_default();
    super::prefix::mount(endpoints(store, routes), &route, &link, &home)
}

/// The endpoints at the root.
fn endpoints(store: Arc<Store>, routes: &Routes) -> Router {
    let slots = ProbeSlots(Arc::new(Semaphore::new(routes.probe_concurrency)));
    Router::new()
        .route("/", get(pages::status_page))
        .route(
            &routes.telemetry_path,
            // The fastest level: 10,000 domains' 49 MiB page gzips in about 70 ms instead of
            // about 290 ms at the default level (2.9 MiB instead of 1.9 MiB).
            get(metrics_page).layer(
                CompressionLayer::new()
                    .gzip(true)
                    .quality(tower_http::CompressionLevel::Fastest),
            ),
        )
        .route("/probe", get(probe).layer(Extension(slots)))
        .route("/domain/{tenant}/{domain}", get(pages::domain_page))
        .route("/api/v1/domains", get(api::domains))
        .route("/api/v1/domains/{tenant}/{domain}", get(api::domain))
        .route("/runbooks", get(super::runbooks::page))
        .route(
            "/-/reload",
            post(reload).layer(Extension(Lifecycle(routes.enable_lifecycle))),
        )
        // Every route above shows only the tenants the web user sees, or refuses a user who
        // sees none (docs/configuration.md "Who sees which tenants"); health and readiness
        // below reveal no tenant and stay open to whoever passes the web config.
        .route_layer(axum::middleware::from_fn_with_state(
            store.clone(),
            access::guard,
        ))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .with_state(store)
}

async fn metrics_page(
    State(ex): State<Arc<Store>>,
    Extension(sight): Extension<Sight>,
) -> Response {
    // Rendering 10,000 domains takes tens of milliseconds of CPU: keep it off the I/O
    // threads. The page streams out chunk by chunk as it is rendered (at most a few chunks in
    // flight), so it is never held whole; gzip (CompressionLayer) compresses the stream.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    tokio::task::spawn_blocking(move || {
        metrics::render_seen(&ex, &sight, &mut |chunk| tx.blocking_send(chunk).is_ok());
    });
    // poll_fn, not unfold: the gzip layer may poll again after the end.
    let chunks = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|c| c.map(|c| Ok::<_, std::convert::Infallible>(Bytes::from(c))))
    });
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        Body::from_stream(chunks),
    )
        .into_response()
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

async fn reload(
    State(ex): State<Arc<Store>>,
    Extension(Lifecycle(enabled)): Extension<Lifecycle>,
    Extension(sight): Extension<Sight>,
) -> Response {
    // Reloading acts on every tenant: a viewer of some may not.
    if !sight.all() {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: reload needs a see_all user\n",
        )
            .into_response();
    }
    if !enabled {
        return (
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (start with --web.enable-lifecycle; SIGHUP reloads too).\n",
        )
            .into_response();
    }
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
    State(ex): State<Arc<Store>>,
    Extension(ProbeSlots(slots)): Extension<ProbeSlots>,
    Extension(sight): Extension<Sight>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Own small limit, answered at once when full: /probe never queues behind (or delays)
    // the scheduled probes.
    let Ok(_slot) = slots.try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many /probe requests in flight, try again\n",
        )
            .into_response();
    };
    let setup = ex.setup();
    let (domain, scope, vantages) = match probe_request(&setup.config, &sight, &q) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    // /probe shares the scheduler's concurrency limit, so it cannot be used to amplify load.
    let report = setup.probe_scoped(&domain, &vantages, scope).await;
    let mut out = String::new();
    // A partner's inbound verdict needs its tenant's own side, as the store holds it.
    let own = ex.own_side(&report.tenant);
    let verdicts = crate::judge::pairs::ready(&report, own.as_ref());
    metrics::render_reports_with(&mut out, &[&report], &[&verdicts]);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], out).into_response()
}

/// What a `/probe` request asks for (domain, scope and vantages), or the answer refusing it.
fn probe_request(
    config: &Config,
    sight: &Sight,
    q: &HashMap<String, String>,
) -> Result<(Domain, Scope, Vec<String>), Box<Response>> {
    // `target=` as in Prometheus' multi-target pattern (blackbox_exporter, the Probe resource).
    let Some(name) = q.get("domain").or_else(|| q.get("target")) else {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                "missing parameter: domain (or target)\n",
            )
                .into_response(),
        ));
    };
    let name = normalize_domain(name)
        .map_err(|e| Box::new((StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()))?;
    // A viewer without `tenant=` means its own tenant's domain of that name.
    let tenant = q.get("tenant").map(|t| t.as_str()).or_else(|| {
        (!sight.all())
            .then(|| {
                config
                    .domains
                    .iter()
                    .find(|d| d.name == name && sight.sees(&d.tenant))
                    .map(|d| d.tenant.as_str())
            })
            .flatten()
    });
    let (domain, scope) = crate::store::lookup(config, &name, tenant);
    // A viewer probes only its tenants' configured domains; another tenant's domain is
    // answered as one that is not configured.
    let unseen = !sight.all() && (scope == Scope::AdHoc || !sight.sees(&domain.tenant));
    if unseen || (scope == Scope::AdHoc && !config.global.probe_any_domain) {
        return Err(Box::new(
            (
                StatusCode::NOT_FOUND,
                format!(
                    "domain {name} is not configured (set global.probe_any_domain to allow any)\n"
                ),
            )
                .into_response(),
        ));
    }
    let vantages: Vec<String> = match q.get("vantage") {
        Some(v) if domain.vantages.contains(v) => vec![v.clone()],
        Some(v) => {
            return Err(Box::new(
                (
                    StatusCode::BAD_REQUEST,
                    format!("unknown vantage {v:?} for {name}\n"),
                )
                    .into_response(),
            ));
        }
        None => domain.vantages.clone(),
    };
    Ok((domain, scope, vantages))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::Path;

    use axum::body::to_bytes;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::config::{Config, Selection};
    use crate::facts::Facts;
    use crate::store::Setup;

    /// A store with `n` domains, each with a recorded probe (two endpoints, a certificate).
    fn store(n: usize) -> Arc<Store> {
        let mut yaml = String::from(
            "global:\n  interval: 30s\n  timeout: 5s\nvantages:\n  inside:\n    resolvers: [\"127.0.0.1:9\"]\ndomains:\n",
        );
        for i in 0..n {
            yaml.push_str(&format!(
                "  - domain: customer{i}.example\n    tenant: t{}\n",
                i % 7
            ));
        }
        let config = Config::parse(Path::new("test.yml"), &yaml).expect("test config");
        let store = Store::new(
            Setup::new(config).expect("setup"),
            None,
            Selection::default(),
        );
        let setup = store.setup();
        for d in &setup.config.domains {
            let facts = Facts::two_endpoints();
            store.record(d, "inside", Arc::new(facts));
        }
        store
    }

    async fn get_text(store: &Arc<Store>, uri: &str) -> (StatusCode, String, String) {
        let resp = router(store.clone())
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        (
            status,
            ctype,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn runbooks_are_served_and_the_pages_links_resolve() {
        let store = store(1);
        let (status, ctype, runbooks) = get_text(&store, "/runbooks").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, "text/html; charset=utf-8");
        for c in crate::judge::CHECKS {
            let anchor = pages::runbook_anchor(c.name);
            assert!(
                runbooks.contains(&format!(" id=\"{anchor}\"")),
                "no section for {}",
                c.name
            );
        }
        let (status, _, page) = get_text(&store, "/domain/t0/customer0.example").await;
        assert_eq!(status, StatusCode::OK);
        let links: Vec<&str> = page
            .split("href=\"/runbooks#")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert!(!links.is_empty(), "the page links no runbook: {page}");
        for anchor in links {
            assert!(
                runbooks.contains(&format!(" id=\"{anchor}\"")),
                "the page links /runbooks#{anchor}, which the served page lacks"
            );
        }
    }

    /// The page without the process_* families (their values move between two scrapes).
    fn without_process(page: &str) -> &str {
        page.split("# HELP process_").next().unwrap_or(page)
    }

    #[tokio::test]
    async fn metrics_stream_in_chunks_plain_and_gzipped_equal_the_rendered_page() {
        let store = store(600);
        let whole = String::from_utf8(metrics::render(&store)).expect("utf-8");
        assert!(whole.len() > 3 * metrics::CHUNK, "{} bytes", whole.len());
        assert!(whole.contains("sipfed_endpoint_up{tenant=\"t4\",domain=\"customer599.example\",vantage=\"inside\",target=\"sip.example.com\",address=\"192.0.2.1:5061\"} 1\n"));
        for gzip in [false, true] {
            let mut req = Request::get("/metrics");
            if gzip {
                req = req.header(header::ACCEPT_ENCODING, "gzip");
            }
            let resp = router(store.clone())
                .oneshot(req.body(Body::empty()).expect("request"))
                .await
                .expect("response");
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(
                resp.headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(TEXT_FORMAT.as_bytes())
            );
            assert_eq!(
                resp.headers().contains_key(header::CONTENT_ENCODING),
                gzip,
                "{gzip}"
            );
            let body = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
            let text = if gzip {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_string(&mut text)
                    .expect("gzip");
                assert!(
                    body.len() * 10 < text.len(),
                    "{} of {}",
                    body.len(),
                    text.len()
                );
                text
            } else {
                String::from_utf8(body.to_vec()).expect("utf-8")
            };
            // The basic-auth busy counter is process-wide: another test here may move it.
            let stable = |page: &str| -> String {
                without_process(page)
                    .lines()
                    .filter(|l| !l.starts_with("sipfed_http_requests_rejected_total{"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(stable(&text), stable(&whole), "{gzip}");
            assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
        }
    }
}
