//! `check`: a one-shot checklist for people setting up federation. Exit status 0 when every
//! check passed (info findings aside), 1 with a failed warning, 2 with a failed critical check.

use std::fmt::Write;

use crate::config::{Config, Domain, ResolverAddr, Role, Vantage};
use crate::error::Error;
use crate::judge::{DomainReport, Severity, State};
use crate::store::Setup;

/// What to check and how.
pub struct Request {
    pub config: Config,
    /// Domains named on the command line (all configured ones when empty).
    pub domains: Vec<String>,
    pub role: Option<Role>,
    /// Replaces the resolvers of every vantage.
    pub resolvers: Vec<ResolverAddr>,
}

/// Probes and judges every requested domain; returns the reports and the exit status.
pub async fn run(mut req: Request) -> Result<(Vec<DomainReport>, i32), Error> {
    if !req.resolvers.is_empty() {
        if req.config.vantages.is_empty() {
            req.config.vantages.push(Vantage {
                name: "inside".into(),
                resolvers: Vec::new(),
                public: false,
                proxy: None,
                health_query: ".".into(),
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
    let setup = Setup::new(req.config)?;
    let reports = setup.probe_each(&domains).await;
    Ok((reports.clone(), exit_status(&reports)))
}

/// 0 when every domain is ok, 1 when the worst is a warning, 2 with a failed critical check.
pub fn exit_status(reports: &[DomainReport]) -> i32 {
    match reports.iter().map(|r| r.state).min() {
        Some(State::Failing) => 2,
        Some(State::Warning) => 1,
        _ => 0,
    }
}

/// The human-readable checklist.
pub fn text(reports: &[DomainReport]) -> String {
    let mut out = String::new();
    for r in reports {
        for v in &r.vantages {
            let _ = writeln!(
                out,
                "{} ({}, tenant {}) from {}",
                r.domain,
                r.role.as_str(),
                r.tenant,
                v.vantage
            );
            if v.findings.is_empty() {
                let _ = writeln!(out, "  no check applies (nothing could be gathered)");
            }
            for f in &v.findings {
                let mark = if f.passed {
                    "  ok  "
                } else {
                    match f.severity {
                        Severity::Critical => " CRIT ",
                        Severity::Warning => " WARN ",
                        Severity::Info => " info ",
                    }
                };
                let _ = writeln!(out, "[{mark}] {:<24} {}", f.check.as_str(), f.message);
                if !f.passed && !f.hint.is_empty() {
                    let _ = writeln!(out, "         {:<24} -> {}", "", f.hint);
                }
            }
            out.push('\n');
        }
    }
    out
}
