//! The JSON API for tooling (ticketing, PSA, scripts): `/api/v1/domains`, every configured
//! domain with its state per vantage (the status page's filters apply), and
//! `/api/v1/domains/{tenant}/{domain}`, a domain's whole report with its facts, in the shape of
//! `check --output=json`. Rendered from the store's reports only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::access::Sight;
use super::overview::{self, Counts, Filter, Row, Standing};
use crate::facts::Reason;
use crate::judge::pairs::{Judged, Pair};
use crate::judge::{CheckName, Owner, Severity};
use crate::store::{DomainKey, Store};

/// `/api/v1/domains`: the summary over every configured domain and the domains that match.
#[derive(Debug, Serialize)]
pub struct DomainList {
    pub summary: CountsJson,
    pub domains: Vec<DomainEntry>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CountsJson {
    pub domains: usize,
    pub failing: usize,
    pub warning: usize,
    pub unknown: usize,
    pub pending: usize,
    pub ok: usize,
}

impl From<Counts> for CountsJson {
    fn from(c: Counts) -> CountsJson {
        CountsJson {
            domains: c.total(),
            failing: c.failing,
            warning: c.warning,
            unknown: c.unknown,
            pending: c.pending,
            ok: c.ok,
        }
    }
}

/// One domain of the list.
#[derive(Debug, Serialize)]
pub struct DomainEntry {
    pub tenant: String,
    pub domain: String,
    pub role: &'static str,
    /// `failing`, `warning`, `unknown` (a vantage could not look), `ok`, or `pending` before
    /// the first probe.
    pub state: &'static str,
    /// The earliest leaf notAfter seen from any vantage, Unix seconds.
    pub soonest_expiry: Option<i64>,
    /// Every configured vantage, in configuration order.
    pub vantages: Vec<VantageEntry>,
    /// A partner's pair verdicts: both directions per vantage (empty for own domains).
    pub federation_ready: Vec<Pair>,
}

#[derive(Debug, Serialize)]
pub struct VantageEntry {
    pub vantage: String,
    pub state: &'static str,
    /// Why the vantage could not look (`resolvers_down`, `proxy_down`, `no_route`, ...),
    /// when its state is `unknown` for want of a look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blind: Option<crate::facts::Blind>,
    /// When the latest probe started, Unix seconds (`null` while pending).
    pub probed_at: Option<f64>,
    /// Worst first.
    pub failing_checks: Vec<FailingCheck>,
}

#[derive(Debug, Serialize)]
pub struct FailingCheck {
    pub check: CheckName,
    pub severity: Severity,
    pub reason: Option<Reason>,
    pub message: String,
    /// What to do about it: the judge's hint for the domain's role.
    pub hint: String,
    /// Whose move it is (`ours`, `partner`, `vantage`): the judge's word.
    pub owner: Option<Owner>,
}

/// The list entry of one row, pure.
pub fn entry(row: &Row<'_>) -> DomainEntry {
    let d = row.domain;
    let report = row.report.as_deref();
    let vantages = d
        .vantages
        .iter()
        .map(
            |v| match report.and_then(|r| r.vantages.iter().find(|x| &x.vantage == v)) {
                None => VantageEntry {
                    vantage: v.clone(),
                    state: Standing::Pending.as_str(),
                    blind: None,
                    probed_at: None,
                    failing_checks: Vec::new(),
                },
                Some(x) => {
                    let mut failing: Vec<FailingCheck> = x
                        .findings
                        .iter()
                        .filter(|f| !f.passed)
                        .map(|f| FailingCheck {
                            check: f.check,
                            severity: f.severity,
                            reason: f.reason,
                            message: f.message.to_string(),
                            hint: f.hint.clone(),
                            owner: f.owner,
                        })
                        .collect();
                    failing.sort_by_key(|f| f.severity);
                    VantageEntry {
                        vantage: v.clone(),
                        state: x.state.as_str(),
                        blind: x.blind,
                        probed_at: Some(x.facts.started_at),
                        failing_checks: failing,
                    }
                }
            },
        )
        .collect();
    DomainEntry {
        tenant: d.tenant.clone(),
        domain: d.name.clone(),
        role: d.role.as_str(),
        state: row.standing().as_str(),
        soonest_expiry: report.and_then(|r| r.soonest_expiry()),
        vantages,
        federation_ready: row.pairs.to_vec(),
    }
}

/// The list for `rows` under `filter`, worst first, pure.
pub fn list(rows: &[Row<'_>], filter: &Filter) -> DomainList {
    DomainList {
        summary: overview::summary(rows).all.into(),
        domains: overview::select(rows, filter)
            .into_iter()
            .map(entry)
            .collect(),
    }
}

fn error(status: StatusCode, message: String) -> Response {
    #[derive(Serialize)]
    struct Error {
        error: String,
    }
    (status, Json(Error { error: message })).into_response()
}

/// `/api/v1/domains?state=&tenant=&q=`.
pub async fn domains(
    State(store): State<Arc<Store>>,
    Extension(sight): Extension<Sight>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = match Filter::from_query(&q) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let body = tokio::task::spawn_blocking(move || {
        let setup = store.setup();
        let rows = overview::rows_seen(&setup.config, &store, &sight);
        list(&rows, &filter)
    })
    .await;
    match body {
        Ok(b) => Json(b).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed".into()),
    }
}

/// `/api/v1/domains/{tenant}/{domain}`: the domain's report, facts included; 404 when the
/// domain is not configured, 503 before its first probe.
pub async fn domain(
    State(store): State<Arc<Store>>,
    Extension(sight): Extension<Sight>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Response {
    let setup = store.setup();
    let key = DomainKey { tenant, domain };
    let (tenant, domain) = (&key.tenant, &key.domain);
    // Another tenant's domain is answered as one that is not configured.
    if setup.domain(&key).is_none() || !sight.sees(tenant) {
        return error(
            StatusCode::NOT_FOUND,
            format!("domain {domain} of tenant {tenant} is not configured"),
        );
    }
    match store.report_judged(&key) {
        Some((r, verdicts)) => Json(Judged {
            report: &r,
            federation_ready: &verdicts,
        })
        .into_response(),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("domain {domain} of tenant {tenant} has not been probed yet"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::State;
    use overview::tests::{domain, report};

    #[test]
    fn list_entries_carry_state_failing_checks_and_pending_vantages() {
        let mut two = domain("acme", "b.example");
        two.vantages.push("outside".into());
        let ds = [domain("acme", "a.example"), two, domain("beta", "c.test")];
        let rows = vec![
            Row {
                domain: &ds[0],
                report: Some(report(&ds[0], State::Ok)),
                pairs: Arc::from(Vec::new()),
            },
            Row {
                domain: &ds[1],
                report: Some(report(&ds[1], State::Failing)),
                pairs: Arc::from(Vec::new()),
            },
            Row {
                domain: &ds[2],
                report: None,
                pairs: Arc::from(Vec::new()),
            },
        ];
        let l = list(&rows, &Filter::default());
        assert_eq!(
            l.summary,
            CountsJson {
                domains: 3,
                failing: 1,
                warning: 0,
                unknown: 0,
                pending: 1,
                ok: 1
            }
        );
        let json = serde_json::to_value(&l).unwrap();
        let names: Vec<&str> = json["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["domain"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b.example", "c.test", "a.example"]);
        let b = &json["domains"][0];
        assert_eq!(b["state"], "failing");
        assert_eq!(b["vantages"][0]["vantage"], "inside");
        assert_eq!(
            b["vantages"][0]["failing_checks"][0]["check"],
            "tcp_connect"
        );
        assert_eq!(
            b["vantages"][0]["failing_checks"][0]["severity"],
            "critical"
        );
        assert_eq!(b["vantages"][0]["failing_checks"][0]["reason"], "timeout");
        assert_eq!(b["vantages"][1]["vantage"], "outside");
        assert_eq!(b["vantages"][1]["state"], "pending");
        assert_eq!(json["domains"][1]["state"], "pending");
        assert_eq!(
            json["domains"][1]["soonest_expiry"],
            serde_json::Value::Null
        );
        let only = Filter {
            tenant: Some("beta".into()),
            ..Filter::default()
        };
        let l = list(&rows, &only);
        assert_eq!(l.domains.len(), 1);
        assert_eq!(l.domains[0].domain, "c.test");
    }
}
