//! `--web.route-prefix` and `--web.external-url`, as Prometheus and blackbox_exporter mean
//! them: the endpoints answer under the route prefix (which defaults to the external URL's
//! path), and the pages' links carry the path users reach the exporter at (the external URL's
//! path, else the route prefix), so they keep working behind a reverse proxy at a sub-path.
//!
//! Links are made absolute (`href="/…"`) by the pages; here every HTML response's `href`,
//! `src` and `action` attributes that start with `/` get the prefix, in one place, so no page
//! (nor a page added later) can forget it. The API has no URLs in its answers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

/// A path prefix as given (`/sipfed`, `sipfed/`, `/`) normalized to `/sipfed`, or `""` for
/// the root; an error for what cannot be a path.
pub fn normalize(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.contains(['?', '#', '{', '}', '*', ' ']) || trimmed.contains("//") {
        return Err(format!("invalid route prefix {prefix:?}"));
    }
    Ok(if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    })
}

/// The path of an external URL (`https://proxy.example/sipfed/` → `/sipfed`), checked to be
/// an absolute http(s) URL.
pub fn external_path(url: &str) -> Result<String, String> {
    let bad =
        || format!("invalid --web.external-url {url:?}: expected http(s)://host[:port][/path]");
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() {
        return Err(bad());
    }
    normalize(path).map_err(|_| bad())
}

/// Serves `app` under `route` (normalized, non-empty), with its links under `link` (or as
/// they are when `link` is empty): `route` itself and paths below it reach `app` with the
/// prefix taken off; `/` is redirected (302) to `home`, as blackbox_exporter does; anything
/// else is 404.
pub fn mount(app: Router, route: &str, link: &str, home: &str) -> Router {
    let app = with_links(app, link);
    if route.is_empty() {
        return app;
    }
    let route: Arc<str> = route.into();
    let home: Arc<str> = home.into();
    Router::new().fallback(move |request: Request| {
        let (app, route, home) = (app.clone(), route.clone(), home.clone());
        async move { under(app, &route, &home, request).await }
    })
}

/// `app` with the links of its HTML pages under `link` (unchanged when empty).
pub fn with_links(app: Router, link: &str) -> Router {
    if link.is_empty() {
        return app;
    }
    let link: Arc<str> = link.into();
    app.layer(axum::middleware::from_fn_with_state(link, prefix_links))
}

async fn under(app: Router, route: &str, home: &str, mut request: Request) -> Response {
    let path = request.uri().path();
    let inner = match path.strip_prefix(route) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ if path == "/" => {
            return (StatusCode::FOUND, [(header::LOCATION, home.to_string())]).into_response();
        }
        _ => return (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    };
    let with_query = match request.uri().query() {
        Some(q) => format!("{inner}?{q}"),
        None => inner,
    };
    let Ok(uri) = with_query.parse::<Uri>() else {
        return (StatusCode::BAD_REQUEST, "bad request path\n").into_response();
    };
    *request.uri_mut() = uri;
    match app.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// Puts `link` before every absolute link of an HTML response.
async fn prefix_links(State(link): State<Arc<str>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let rewritten = rewrite_links(&text, &link);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(rewritten))
}

/// `href="/…"`, `src="/…"` and `action="/…"` with `link` before the path. Page text cannot
/// contain these (the pages escape `"`), so only attributes are touched.
fn rewrite_links(html: &str, link: &str) -> String {
    let mut out = html.to_string();
    for attribute in ["href", "src", "action"] {
        let from = format!("{attribute}=\"/");
        let to = format!("{attribute}=\"{link}/");
        out = out.replace(&from, &to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_external_urls() {
        assert_eq!(normalize("/").unwrap(), "");
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize("sipfed/").unwrap(), "/sipfed");
        assert_eq!(normalize("/a/b/").unwrap(), "/a/b");
        assert!(normalize("/a?b").is_err());
        assert_eq!(
            external_path("https://proxy.example:8443/sipfed/?x").unwrap(),
            "/sipfed"
        );
        assert_eq!(external_path("http://host").unwrap(), "");
        assert!(external_path("proxy.example/sipfed").is_err());
        assert!(external_path("https:///x").is_err());
    }

    #[test]
    fn links_get_the_prefix_and_text_does_not() {
        let html = "<a href=\"/\">all</a><a href=\"/domain/t/a.example\">a</a><a href=\"https://x/y\">x</a>href=&quot;/";
        assert_eq!(
            rewrite_links(html, "/sipfed"),
            "<a href=\"/sipfed/\">all</a><a href=\"/sipfed/domain/t/a.example\">a</a><a href=\"https://x/y\">x</a>href=&quot;/"
        );
    }
}
