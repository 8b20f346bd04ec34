//! The status page and a domain's page: HTML rendered from the store's reports only (no
//! judging here), everything escaped, no JavaScript.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::access::Sight;
use super::evidence::{self, Line};
use super::overview::{self, Filter, Page, Row, Standing, Summary};
use crate::config::Domain;
use crate::facts::{Reason, unix};
use crate::judge::pairs::Pair;
use crate::judge::{CheckName, DomainReport, Finding, State as Verdict};
use crate::store::{DomainKey, Store};

/// Where the runbooks live: served by the exporter itself ([`super::runbooks`]), so the links
/// work offline; a check's section is `RUNBOOK_URL#<anchor>` (see [`runbook_anchor`]). The
/// alerts' `runbook_url` has its own base (the mixin's `runbookBaseURL`), same anchors.
pub const RUNBOOK_URL: &str = "/runbooks";

/// The heading of docs/runbooks.md that explains a failing check: its own `### check`
/// section, or the alert that covers it.
pub fn runbook_anchor(check: CheckName) -> &'static str {
    match check {
        CheckName::CertExpiry => "sipfedcertificateexpiringsoon",
        CheckName::CertValidNow => "sipfedcertificateexpired",
        CheckName::CertRenewalActivated => "sipfedcertificaterenewalnotactivated",
        CheckName::TeamsFederationSrv => "sipfedteamsfederationrecordmissing",
        CheckName::AuthoritativeAgree => "sipfedcheckfailing",
        other => other.as_str(),
    }
}

/// HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.ok{color:#1a7f37}.critical,.failing,.bad{color:#c62828;font-weight:600}.warning{color:#b26a00}.info{color:#555}.pending{color:#888}.unknown{color:#6a1b9a;font-weight:600}small{color:#666}ul.facts{list-style:none;padding-left:0;font-family:ui-monospace,monospace;font-size:90%}ul.facts li{margin:.1em 0}ul.facts b{font-weight:600;color:#444}nav a{margin-right:.6em}.d1{padding-left:1.5em}.d2{padding-left:3em}.d3{padding-left:4.5em}.d4{padding-left:6em}</style>";

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>{}</title>{STYLE}</head><body>",
        esc(title)
    )
}

fn state_class(s: Verdict) -> &'static str {
    match s {
        Verdict::Ok => "ok",
        Verdict::Warning => "warning",
        Verdict::Unknown => "unknown",
        Verdict::Failing => "critical",
    }
}

fn standing_class(s: Standing) -> &'static str {
    match s {
        Standing::Failing => "critical",
        Standing::Warning => "warning",
        Standing::Unknown => "unknown",
        Standing::Pending => "pending",
        Standing::Ok => "ok",
    }
}

fn now() -> i64 {
    unix(SystemTime::now()) as i64
}

/// `/`: every configured domain, worst first, filtered by `state`, `tenant` and `q`, a page of
/// [`overview::PAGE_SIZE`] rows at a time (`page=N`, `page=all`).
pub async fn status_page(
    State(store): State<Arc<Store>>,
    Extension(sight): Extension<Sight>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = match Filter::from_query(&q) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let page = Page::from_query(&q);
    // Ten thousand domains take milliseconds: keep them off the I/O threads all the same.
    let body = tokio::task::spawn_blocking(move || {
        let setup = store.setup();
        // Only the tenants this user sees: the counts and summaries too.
        let rows = overview::rows_seen(&setup.config, &store, &sight);
        render_status(&rows, &filter, page, now())
    })
    .await;
    match body {
        Ok(b) => Html(b).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response(),
    }
}

fn count_link(filter: &Filter, tenant: Option<&str>, s: Standing, n: usize) -> String {
    let f = Filter {
        state: Some(s),
        tenant: tenant.map(str::to_string).or_else(|| filter.tenant.clone()),
        q: filter.q.clone(),
        not_ready: filter.not_ready,
    };
    if n == 0 {
        format!("<span class=pending>0 {}</span>", s.as_str())
    } else {
        format!(
            "<a class={} href=\"/?{}\">{n} {}</a>",
            standing_class(s),
            esc(&f.query(&[])),
            s.as_str()
        )
    }
}

fn summary_html(out: &mut String, summary: &Summary, filter: &Filter) {
    let _ = write!(
        out,
        "<p id=summary><a href=\"/\">{} domains</a>: ",
        summary.all.total()
    );
    let links: Vec<String> = Standing::ALL
        .iter()
        .map(|s| count_link(filter, None, *s, summary.all.get(*s)))
        .collect();
    out.push_str(&links.join(" · "));
    out.push_str("</p>");
    let not_ready = Filter {
        not_ready: true,
        ..filter.clone()
    };
    let _ = write!(
        out,
        "<p id=federation-filter><a id=not-ready href=\"/?{}\">Partners not ready in either direction</a></p>",
        esc(&not_ready.query(&[]))
    );
    if summary.tenants.len() > 1 {
        out.push_str("<table id=tenants><tr><th>Tenant</th>");
        for s in Standing::ALL {
            let _ = write!(out, "<th>{}</th>", s.as_str());
        }
        out.push_str("</tr>");
        for (t, c) in &summary.tenants {
            let only = Filter {
                tenant: Some(t.clone()),
                ..Filter::default()
            };
            let _ = write!(
                out,
                "<tr><td><a href=\"/?{}\">{}</a></td>",
                esc(&only.query(&[])),
                esc(t)
            );
            for s in Standing::ALL {
                let _ = write!(out, "<td>{}</td>", count_link(&only, Some(t), s, c.get(s)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
}

fn search_form(out: &mut String, filter: &Filter) {
    out.push_str("<form method=get action=\"/\" role=search><label>Domain contains <input type=search name=q value=\"");
    out.push_str(&esc(filter.q.as_deref().unwrap_or("")));
    out.push_str("\"></label> ");
    if let Some(s) = filter.state {
        let _ = write!(out, "<input type=hidden name=state value={}>", s.as_str());
    }
    if let Some(t) = &filter.tenant {
        let _ = write!(out, "<input type=hidden name=tenant value=\"{}\">", esc(t));
    }
    out.push_str("<button type=submit>Search</button></form>");
}

/// The soonest certificate expiry with the judge's days left, coloured by its `cert_expiry`
/// verdict.
fn expiry_cell(report: Option<&DomainReport>) -> String {
    let Some(r) = report else {
        return String::new();
    };
    let Some(x) = r.soonest_leaf() else {
        return String::new();
    };
    format!(
        "{} <small class={}>({})</small>",
        evidence::date(x.not_after),
        expiry_class(r),
        evidence::days_left_short(x)
    )
}

/// The colour of the judge's `cert_expiry` verdict, worst over the vantages.
fn expiry_class(r: &DomainReport) -> &'static str {
    match r.cert_expiry() {
        Some(f) if !f.passed && f.reason == Some(Reason::Expired) => "critical",
        Some(f) if !f.passed => "warning",
        Some(_) => "ok",
        // Not judged (no parsed leaf the judge looked at): no colour of our own.
        None => "unjudged",
    }
}

fn row_html(out: &mut String, row: &Row<'_>, now: i64) {
    let d = row.domain;
    let standing = row.standing();
    let report = row.report.as_deref();
    let multi = d.vantages.len() > 1;
    let mut state = format!(
        "<span class={}>{}</span>",
        standing_class(standing),
        standing.as_str()
    );
    if multi && let Some(r) = report {
        let per: Vec<String> = d
            .vantages
            .iter()
            .map(|v| match r.vantages.iter().find(|x| &x.vantage == v) {
                Some(x) => format!(
                    "{} <span class={}>{}</span>",
                    esc(v),
                    state_class(x.state),
                    x.state.as_str()
                ),
                None => format!("{} <span class=pending>pending</span>", esc(v)),
            })
            .collect();
        let _ = write!(state, "<br><small>{}</small>", per.join(", "));
    }
    let failing: Vec<String> = report
        .map(|r| {
            r.failing()
                .map(|(v, f)| {
                    // Why and whose move on the row, what to do one hover away: the judge's
                    // reason, owner and hint as they are.
                    let reason = f.reason.map(|r| r.as_str()).unwrap_or("");
                    let owner = f.owner.map(|o| o.as_str()).unwrap_or("");
                    format!(
                        "<span class=\"fail {sev}\" data-check={check} data-reason=\"{reason}\" data-owner=\"{owner}\" title=\"{hint}\">{v}{check}</span> <small class=why>{reason}{sep}{words}</small>",
                        sev = f.severity.as_str(),
                        v = if multi {
                            format!("{}:", esc(v))
                        } else {
                            String::new()
                        },
                        check = f.check,
                        hint = esc(&f.hint),
                        sep = if f.owner.is_some() && !reason.is_empty() { " · " } else { "" },
                        words = f.owner.map(|o| o.words()).unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let federation = federation_cell(&row.pairs, multi);
    let probed = report
        .and_then(|r| r.oldest_probe())
        .map(|t| format!("{} ago", evidence::age(now as f64 - t)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<tr data-domain=\"{name}\" data-state={st}><td>{tenant}</td><td><a href=\"/domain/{tenant_url}/{name_url}\">{name}</a></td><td>{role}</td><td>{state}</td><td>{federation}</td><td>{failing}</td><td>{expiry}</td><td>{probed}</td></tr>",
        name = esc(&d.name),
        st = standing.as_str(),
        tenant = esc(&d.tenant),
        tenant_url = esc(&overview::percent_encode(&d.tenant)),
        name_url = esc(&overview::percent_encode(&d.name)),
        role = d.role.as_str(),
        failing = failing.join("<br>"),
        expiry = expiry_cell(report),
    );
}

/// A partner's two directions: ready or not, per vantage when there are several.
fn federation_cell(pairs: &[Pair], multi: bool) -> String {
    pairs
        .iter()
        .map(|p| {
            let (class, word) = if p.readiness.ready {
                ("ok", "ready")
            } else {
                ("critical", "not ready")
            };
            format!(
                "<span class={class} data-direction={}>{}{} {word}</span>",
                p.direction.as_str(),
                if multi {
                    format!("{}: ", esc(&p.vantage))
                } else {
                    String::new()
                },
                p.direction.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// "Federation with <tenant>: outbound …, inbound …" with each verdict's reason and what to
/// do: how a partner's page opens.
fn federation_html(out: &mut String, tenant: &str, pairs: &[Pair]) {
    if pairs.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=federation><h2>Federation with {}</h2><ul>",
        esc(tenant)
    );
    for p in pairs {
        let r = &p.readiness;
        let (class, word) = if r.ready {
            ("ok", "ready")
        } else {
            ("critical", "not ready")
        };
        let _ = write!(
            out,
            "<li data-direction={} data-vantage=\"{}\"><b>{}</b> ({}): <span class={class}>{word}</span>{} – {}",
            p.direction.as_str(),
            esc(&p.vantage),
            p.direction.as_str(),
            esc(&p.vantage),
            r.reason
                .map(|x| format!(" ({})", x.as_str()))
                .unwrap_or_default(),
            esc(&r.message)
        );
        if !r.hint.is_empty() {
            let _ = write!(out, " <small>What to do: {}</small>", esc(&r.hint));
        }
        if let Some(c) = r.check.filter(|_| !r.ready) {
            let _ = write!(
                out,
                " <a class=runbook href=\"{RUNBOOK_URL}#{}\">runbook</a>",
                runbook_anchor(c)
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></section>");
}

/// The status page for `rows` (every configured domain), pure.
pub fn render_status(rows: &[Row<'_>], filter: &Filter, page: Page, now: i64) -> String {
    let summary = overview::summary(rows);
    let selected = overview::select(rows, filter);
    let mut out = head("SIP federation status – sipfed_exporter");
    out.push_str("<h1>SIP federation status</h1><nav><a href=\"/metrics\">Metrics</a><a href=\"/api/v1/domains\">JSON</a></nav>");
    summary_html(&mut out, &summary, filter);
    search_form(&mut out, filter);
    let mut shown: Vec<String> = Vec::new();
    if let Some(s) = filter.state {
        shown.push(format!("state {}", s.as_str()));
    }
    if let Some(t) = &filter.tenant {
        shown.push(format!("tenant {}", esc(t)));
    }
    if let Some(q) = &filter.q {
        shown.push(format!("domain contains “{}”", esc(q)));
    }
    let _ = write!(
        out,
        "<p id=showing>{} of {} domains{}",
        selected.len(),
        rows.len(),
        if shown.is_empty() {
            String::new()
        } else {
            format!(
                " with {} · <a href=\"/\">clear filters</a>",
                shown.join(", ")
            )
        }
    );
    out.push_str("</p>");
    out.push_str("<table id=domains><thead><tr><th>Tenant</th><th>Domain</th><th>Role</th><th>State</th><th>Federation</th><th>Failing checks</th><th>Soonest expiry</th><th>Last probe</th></tr></thead><tbody>");
    for row in page.slice(&selected) {
        row_html(&mut out, row, now);
    }
    out.push_str("</tbody></table>");
    let pages = Page::count(selected.len());
    if pages > 1 {
        out.push_str("<nav id=pages>Page ");
        for n in 1..=pages {
            if page == Page::Number(n) {
                let _ = write!(out, "<b>{n}</b> ");
            } else {
                let _ = write!(
                    out,
                    "<a href=\"/?{}\">{n}</a> ",
                    esc(&filter.query(&[("page", &n.to_string())]))
                );
            }
        }
        if page == Page::All {
            out.push_str("· <b>all</b>");
        } else {
            let _ = write!(
                out,
                "· <a href=\"/?{}\">all {}</a>",
                esc(&filter.query(&[("page", "all")])),
                selected.len()
            );
        }
        out.push_str("</nav>");
    }
    out.push_str("</body></html>");
    out
}

/// `/domain/{tenant}/{domain}`: the failing checks first, then every vantage's checklist and
/// the facts behind it.
pub async fn domain_page(
    State(store): State<Arc<Store>>,
    Extension(sight): Extension<Sight>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Response {
    let setup = store.setup();
    let key = DomainKey { tenant, domain };
    // Another tenant's domain is answered as one that does not exist.
    let Some(d) = setup.domain(&key).filter(|_| sight.sees(&key.tenant)) else {
        return (StatusCode::NOT_FOUND, "no such domain\n").into_response();
    };
    let (report, pairs) = match store.report_judged(&key) {
        Some((r, v)) => (Some(r), v),
        None => (None, Arc::from(Vec::new())),
    };
    Html(render_domain(d, report.as_deref(), &pairs, now())).into_response()
}

/// The domain page's lead: what to do about each failing check, once (the same check, reason
/// and hint from several vantages is one row naming them), worst first, with whose move it is.
fn what_to_do(out: &mut String, r: &DomainReport) {
    let mut rows: Vec<(&Finding, Vec<&str>)> = Vec::new();
    for (v, f) in r.failing() {
        match rows.iter_mut().find(|(g, _)| {
            (g.check, g.reason, &g.hint, g.owner) == (f.check, f.reason, &f.hint, f.owner)
        }) {
            Some((_, vs)) => vs.push(v),
            None => rows.push((f, vec![v])),
        }
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>What to do</h2><table id=failing><tr><th>What to do</th><th>Whose move</th><th>Check</th><th>Result</th><th>Finding</th><th>Vantage</th></tr>");
    for (f, vs) in rows {
        let _ = write!(
            out,
            "<tr data-check={check} data-owner=\"{owner}\"><td class=todo><b>{hint}</b> <a class=runbook href=\"{RUNBOOK_URL}#{anchor}\">runbook</a></td><td class=owner>{words}</td><td>{check}</td><td><span class={sev}>{sev} ({reason})</span></td><td>{message}</td><td>{vantages}</td></tr>",
            check = f.check,
            owner = f.owner.map(|o| o.as_str()).unwrap_or(""),
            hint = esc(&f.hint),
            anchor = runbook_anchor(f.check),
            words = f.owner.map(|o| o.words()).unwrap_or(""),
            sev = f.severity.as_str(),
            reason = f.reason.map(|r| r.as_str()).unwrap_or(""),
            message = esc(&f.message),
            vantages = esc(&vs.join(", ")),
        );
    }
    out.push_str("</table>");
}

fn finding_row(out: &mut String, f: &Finding) {
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
    let what = if f.passed {
        String::new()
    } else {
        format!(
            "<small>{}</small> <a class=runbook href=\"{RUNBOOK_URL}#{}\">runbook</a>",
            esc(&f.hint),
            runbook_anchor(f.check)
        )
    };
    let _ = write!(out, "<tr data-check={}>", f.check);
    let _ = write!(
        out,
        "<td>{}</td><td>{result}</td><td>{}</td><td>{what}</td></tr>",
        f.check,
        esc(&f.message)
    );
}

/// The facts as a list; `data-fact` names each line for tests and scrapers.
fn facts_html(out: &mut String, lines: &[Line]) {
    out.push_str("<ul class=facts>");
    for l in lines {
        let _ = write!(
            out,
            "<li class=\"d{}{}\" data-fact={}><b>{}</b> {}</li>",
            l.depth.min(4),
            if l.failed { " bad" } else { "" },
            l.key,
            esc(l.label),
            esc(&l.text)
        );
    }
    out.push_str("</ul>");
}

/// One vantage's part of a domain page: its state, checks (failing first) and facts.
fn vantage_section(out: &mut String, v: &str, report: Option<&DomainReport>, now: i64) {
    let _ = write!(out, "<section data-vantage=\"{}\">", esc(v));
    let Some(vr) = report.and_then(|r| r.vantages.iter().find(|x| x.vantage == v)) else {
        let _ = write!(
            out,
            "<h2>Vantage {}</h2><p class=pending>Not probed yet.</p></section>",
            esc(v)
        );
        return;
    };
    let _ = write!(
        out,
        "<h2>Vantage {} – <span class={}>{}</span></h2><p><small>probe started {} ({} ago), took {:.2} s{}</small></p>",
        esc(v),
        state_class(vr.state),
        vr.state.as_str(),
        evidence::datetime(vr.facts.started_at),
        evidence::age(now as f64 - vr.facts.started_at),
        vr.facts.duration_seconds,
        if vr.public { " · public vantage" } else { "" }
    );
    if let Some(b) = vr.blind {
        let _ = write!(
            out,
            "<p id=\"unknown-{}\" class=unknown>Could not look from this vantage: {}. The exporter's own trouble, not the partner's: no check that needed the look is judged.</p>",
            esc(v),
            esc(evidence::blind_text(b))
        );
    }
    let failed = vr.findings.iter().filter(|f| !f.passed).count();
    if failed > 0 {
        // Each failing check is shown once, under "What to do" above.
        let _ = write!(
            out,
            "<p class=failed-here>{failed} failing check{} from this vantage: see <a href=\"#failing\">What to do</a>.</p>",
            if failed == 1 { "" } else { "s" }
        );
    }
    out.push_str("<h3>Passed checks</h3><table class=checks><tr><th>Check</th><th>Result</th><th>Finding</th><th>What to do</th></tr>");
    // The passed ones in checklist order.
    for f in vr.findings.iter().filter(|f| f.passed) {
        finding_row(out, f);
    }
    if vr.findings.is_empty() {
        out.push_str("<tr><td colspan=4>no check applies (nothing could be gathered)</td></tr>");
    }
    out.push_str("</table><h3>Facts</h3>");
    facts_html(out, &evidence::vantage_lines(vr, now));
    out.push_str("</section>");
}

/// A domain's page, pure.
pub fn render_domain(
    d: &Domain,
    report: Option<&DomainReport>,
    pairs: &[Pair],
    now: i64,
) -> String {
    let mut out = head(&format!("{} – sipfed_exporter", d.name));
    let standing = Standing::of(report);
    let _ = write!(
        out,
        "<nav><a href=\"/\">All domains</a><a href=\"/api/v1/domains/{}/{}\">JSON</a></nav><h1>{}</h1><p>tenant {} · role {} · federation {} · <span id=state class={}>{}</span>",
        esc(&overview::percent_encode(&d.tenant)),
        esc(&overview::percent_encode(&d.name)),
        esc(&d.name),
        esc(&d.tenant),
        d.role.as_str(),
        d.federation.as_str(),
        standing_class(standing),
        standing.as_str()
    );
    if let Some((r, x)) = report.and_then(|r| Some((r, r.soonest_leaf()?))) {
        let _ = write!(
            out,
            " · soonest certificate expiry <span id=expiry class={}>{}</span>",
            expiry_class(r),
            evidence::expiry(x)
        );
    }
    if let Some(split) = report.and_then(|r| r.split_horizon) {
        let _ = write!(
            out,
            " · vantages {}",
            if split {
                "see different DNS (split horizon)"
            } else {
                "see the same DNS"
            }
        );
    }
    out.push_str("</p>");
    federation_html(&mut out, &d.tenant, pairs);
    if let Some(r) = report {
        what_to_do(&mut out, r);
    }
    for v in &d.vantages {
        vantage_section(&mut out, v, report, now);
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::State;
    use overview::tests::{domain, report};

    /// The expiry cell says what the judge said: a 30-day certificate with 15 days left is
    /// above its threshold (min(21 days, 30/4 days) = 7.5 days), so it is not a warning; with 7
    /// days left it is. (The old view coloured anything under 21 days a warning.)
    #[test]
    fn expiry_cell_renders_the_judges_verdict() {
        use crate::facts::{CertFacts, EndpointFacts, Facts};
        use crate::judge::test_facts::{DAY, Judge, NOW};
        let judge = Judge::peer();
        // The report on a certificate judged at NOW with `left` of its `lifetime` left.
        let judged = |left: i64, lifetime: i64| {
            let cert = CertFacts::test(&["sip.kanzlei.de"], NOW + left - lifetime, NOW + left);
            let facts = Facts::test()
                .srv(&[("sip.kanzlei.de", 5061)])
                .target("sip.kanzlei.de", 5061, &["192.0.2.1"])
                .endpoint(EndpointFacts::serving("192.0.2.1:5061", vec![cert]));
            judge.report(vec![("inside", false, facts)])
        };
        let cell = |left: i64| {
            let report = judged(left, 30 * DAY);
            // The domain page's header says the same.
            let d = overview::tests::domain("t", "kanzlei.de");
            let page = render_domain(&d, Some(&report), &[], NOW);
            let class = expiry_class(&report);
            assert!(
                page.contains(&format!("<span id=expiry class={class}>")),
                "{page}"
            );
            expiry_cell(Some(&report))
        };
        assert!(
            cell(15 * DAY).contains("<small class=ok>(15 d)</small>"),
            "{}",
            cell(15 * DAY)
        );
        assert!(
            cell(7 * DAY).contains("<small class=warning>(7 d)</small>"),
            "{}",
            cell(7 * DAY)
        );
        assert!(
            cell(-DAY).contains("<small class=critical>(expired)</small>"),
            "{}",
            cell(-DAY)
        );
        // Drawn days after judging, the page still says what the judge counted.
        let report = judged(15 * DAY, 30 * DAY);
        let d = overview::tests::domain("t", "kanzlei.de");
        let page = render_domain(&d, Some(&report), &[], NOW + 3 * DAY);
        assert!(page.contains("(15 days left)</span>"), "{page}");
        assert!(page.contains("(15 days left)</li>"), "{page}");
    }

    #[test]
    fn escapes_everything_people_or_peers_control() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        let d = domain("<b>acme</b>", "x.example");
        let rows = vec![Row {
            domain: &d,
            report: None,
            pairs: Arc::from(Vec::new()),
        }];
        let filter = Filter {
            q: Some("\"><script>".into()),
            tenant: Some("<b>acme</b>".into()),
            state: None,
            not_ready: false,
        };
        let html = render_status(&rows, &filter, Page::Number(1), 0);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>acme"), "{html}");
        assert!(
            html.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "{html}"
        );
        // A hostile SAN or SIP detail reaches the domain page escaped.
        let r = report(&d, State::Failing);
        let page = render_domain(&d, Some(&r), &[], 0);
        assert!(!page.contains("<b>acme"), "{page}");
        assert!(page.contains("&lt;b&gt;acme&lt;/b&gt;"), "{page}");
    }

    #[test]
    fn status_rows_are_worst_first_and_paginated() {
        let ds: Vec<_> = (0..overview::PAGE_SIZE + 5)
            .map(|i| domain("t", &format!("d{i}.example")))
            .collect();
        let rows: Vec<Row<'_>> = ds
            .iter()
            .enumerate()
            .map(|(i, d)| Row {
                domain: d,
                report: Some(report(
                    d,
                    if i == 700 % ds.len() {
                        State::Failing
                    } else {
                        State::Ok
                    },
                )),
                pairs: Arc::from(Vec::new()),
            })
            .collect();
        let html = render_status(&rows, &Filter::default(), Page::Number(1), 0);
        let first = html.find("<tr data-domain").unwrap();
        assert!(html[first..].starts_with("<tr data-domain=\"d195.example\" data-state=failing>"));
        assert_eq!(html.matches("<tr data-domain").count(), overview::PAGE_SIZE);
        assert!(html.contains("href=\"/?page=2\">2</a>"), "{html}");
        assert!(html.contains("href=\"/?page=all\">all 505</a>"));
        assert!(html.contains("href=\"/?state=failing\">1 failing</a>"));
        let all = render_status(&rows, &Filter::default(), Page::All, 0);
        assert_eq!(all.matches("<tr data-domain").count(), 505);
    }

    #[test]
    fn failing_checks_link_their_runbook_section() {
        let runbooks = include_str!("../../docs/runbooks.md").to_ascii_lowercase();
        for c in crate::judge::CHECKS {
            let anchor = runbook_anchor(c.name);
            assert!(
                runbooks.contains(&format!("## {anchor}\n"))
                    || runbooks.contains(&format!("### {anchor}\n")),
                "{} links to #{anchor}, which docs/runbooks.md lacks",
                c.name
            );
        }
        let d = domain("t", "x.example");
        let page = render_domain(&d, Some(&report(&d, State::Failing)), &[], 0);
        assert!(page.contains(&format!("href=\"{RUNBOOK_URL}#tcp_connect\">runbook</a>")));
        // The failing checks come first, in their own table.
        assert!(page.find("id=failing").unwrap() < page.find("class=checks").unwrap());
    }

    /// The status row says why and whose move each failing check is, the hint one hover away;
    /// the domain page leads with what to do and shows each failing check once.
    #[test]
    fn failing_rows_say_why_who_and_what() {
        let d = domain("t", "x.example");
        let rows = [Row {
            domain: &d,
            report: Some(report(&d, State::Failing)),
            pairs: Vec::new().into(),
        }];
        let html = render_status(&rows, &Filter::default(), Page::Number(1), 0);
        assert!(
            html.contains("data-check=tcp_connect data-reason=\"timeout\" data-owner=\"partner\" title=\"h\">tcp_connect</span> <small class=why>timeout · the partner's move</small>"),
            "{html}"
        );
        let page = render_domain(&d, Some(&report(&d, State::Failing)), &[], 0);
        assert!(page.find("<h2>What to do</h2>").unwrap() < page.find("<section").unwrap());
        assert!(page.contains("<td class=todo><b>h</b>"), "{page}");
        assert!(
            page.contains("<td class=owner>the partner's move</td>"),
            "{page}"
        );
        assert_eq!(
            page.matches("<tr data-check=tcp_connect").count(),
            1,
            "{page}"
        );
        assert!(page.contains("1 failing check from this vantage"), "{page}");
    }
}
