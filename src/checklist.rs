//! `check`: a one-shot checklist for people setting up federation. Exit status 0 when every
//! check passed (info findings aside), 1 with a failed warning, 2 with a failed critical check.

use std::fmt::Write;

use serde::Serialize;

use crate::checks::{Finding, Severity};
use crate::config::{Config, Domain, ResolverAddr, Role, Vantage};
use crate::error::Error;
use crate::scheduler::Runtime;

/// What to check and how.
pub struct Request {
    pub config: Config,
    /// Domains named on the command line (all configured ones when empty).
    pub domains: Vec<String>,
    pub role: Option<Role>,
    /// Replaces the resolvers of every vantage.
    pub resolvers: Vec<ResolverAddr>,
}

/// One domain's checklist from one vantage.
#[derive(Serialize)]
pub struct Report {
    pub tenant: String,
    pub domain: String,
    pub role: &'static str,
    pub vantage: String,
    pub findings: Vec<Finding>,
}

/// Probes and judges every requested domain; returns the reports and the exit status.
pub async fn run(mut req: Request) -> Result<(Vec<Report>, i32), Error> {
    if !req.resolvers.is_empty() {
        if req.config.vantages.is_empty() {
            req.config.vantages.push(Vantage {
                name: "inside".into(),
                resolvers: Vec::new(),
                public: false,
                proxy: None,
            });
        }
        for v in &mut req.config.vantages {
            v.resolvers = req.resolvers.clone();
        }
    }
    let all_vantages: Vec<String> = req.config.vantages.iter().map(|v| v.name.clone()).collect();
    let mut domains: Vec<Domain> = Vec::new();
    if req.domains.is_empty() {
        domains = req.config.domains.clone();
    }
    for name in &req.domains {
        let name = crate::config::normalize_domain(name).map_err(|m| Error::Config {
            location: "command line".into(),
            message: m,
        })?;
        let mut d = req
            .config
            .domains
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .unwrap_or_else(|| Domain::peer(name.clone(), all_vantages.clone()));
        if let Some(r) = req.role {
            d.role = r;
        }
        domains.push(d);
    }
    let rt = Runtime::new(req.config)?;
    let reports: Vec<Report> = rt
        .probe_each(&domains)
        .await
        .into_iter()
        .map(|(key, r)| Report {
            role: domains
                .iter()
                .find(|d| d.tenant == key.tenant && d.name == key.domain)
                .map_or("peer", |d| d.role.as_str()),
            tenant: key.tenant,
            domain: key.domain,
            vantage: key.vantage,
            findings: r.findings,
        })
        .collect();
    let mut status = 0;
    for f in reports.iter().flat_map(|r| &r.findings) {
        if !f.passed {
            match f.severity {
                Severity::Critical => status = 2,
                Severity::Warning => status = status.max(1),
                Severity::Info => {}
            }
        }
    }
    Ok((reports, status))
}

/// The human-readable checklist.
pub fn text(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "{} ({}, tenant {}) from {}",
            r.domain, r.role, r.tenant, r.vantage
        );
        if r.findings.is_empty() {
            let _ = writeln!(out, "  no check applies (nothing could be gathered)");
        }
        for f in &r.findings {
            let mark = if f.passed {
                "  ok  "
            } else {
                match f.severity {
                    Severity::Critical => " CRIT ",
                    Severity::Warning => " WARN ",
                    Severity::Info => " info ",
                }
            };
            let _ = writeln!(out, "[{mark}] {:<24} {}", f.check, f.message);
            if !f.passed && !f.hint.is_empty() {
                let _ = writeln!(out, "         {:<24} -> {}", "", f.hint);
            }
        }
        out.push('\n');
    }
    out
}
