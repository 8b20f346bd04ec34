//! The status page and a domain's page: HTML rendered from the store's reports only (no
//! judging here), everything escaped, no JavaScript.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::judge::State as Verdict;
use crate::store::{DomainKey, Store};

/// HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.ok{color:#1a7f37}.critical,.failing{color:#c62828;font-weight:600}.warning{color:#b26a00}.info{color:#555}.pending{color:#888}small{color:#666}</style>";

fn state_class(s: Verdict) -> &'static str {
    match s {
        Verdict::Ok => "ok",
        Verdict::Warning => "warning",
        Verdict::Failing => "critical",
    }
}

/// `/`: every configured (domain, vantage) with its state and failing checks.
pub async fn status_page(State(store): State<Arc<Store>>) -> Html<String> {
    let setup = store.setup();
    let mut html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>sipfed_exporter</title>{STYLE}</head><body><h1>SIP federation status</h1><p><a href=\"/metrics\">Metrics</a> · {} domain(s)</p><table><tr><th>Tenant</th><th>Domain</th><th>Role</th><th>Vantage</th><th>State</th><th>Failing checks</th></tr>",
        setup.config.domains.len()
    );
    for d in &setup.config.domains {
        let report = store.report(&DomainKey::of(d));
        for v in &d.vantages {
            let vr = report
                .as_ref()
                .and_then(|r| r.vantages.iter().find(|x| &x.vantage == v));
            let (state, failing) = match vr {
                None => (
                    "<span class=pending>pending</span>".to_string(),
                    String::new(),
                ),
                Some(vr) => {
                    let failing: Vec<String> = vr
                        .findings
                        .iter()
                        .filter(|f| !f.passed)
                        .map(|f| format!("<span class={}>{}</span>", f.severity.as_str(), f.check))
                        .collect();
                    (
                        format!(
                            "<span class={}>{}</span>",
                            state_class(vr.state),
                            vr.state.as_str()
                        ),
                        failing.join(" "),
                    )
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

/// `/domain/{tenant}/{domain}`: the checklist of every vantage.
pub async fn domain_page(
    State(store): State<Arc<Store>>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Response {
    let setup = store.setup();
    let Some(d) = setup
        .config
        .domains
        .iter()
        .find(|d| d.tenant == tenant && d.name == domain)
    else {
        return (StatusCode::NOT_FOUND, "no such domain\n").into_response();
    };
    let report = store.report(&DomainKey::of(d));
    let mut html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{} – sipfed_exporter</title>{STYLE}</head><body><p><a href=\"/\">All domains</a></p><h1>{}</h1><p>tenant {} · role {} · federation {}</p>",
        esc(&d.name),
        esc(&d.name),
        esc(&d.tenant),
        d.role.as_str(),
        d.federation.as_str()
    );
    for v in &d.vantages {
        let _ = write!(html, "<h2>Vantage {}</h2>", esc(v));
        let Some(vr) = report
            .as_ref()
            .and_then(|r| r.vantages.iter().find(|x| &x.vantage == v))
        else {
            html.push_str("<p class=pending>Not probed yet.</p>");
            continue;
        };
        html.push_str(
            "<table><tr><th>Check</th><th>Result</th><th>Finding</th><th>What to do</th></tr>",
        );
        for f in &vr.findings {
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
