//! The one-shot `check`: a configuration and the command line's overrides in, a [`Setup`]
//! built, every requested domain probed and judged, the reports out. Orchestration only;
//! `expose::checklist` renders the reports.

use crate::config::{Config, Domain, ResolverAddr, Role, Vantage};
use crate::error::Error;
use crate::judge::DomainReport;
use crate::judge::pairs::{self, Pair};

use super::{Setup, lookup};

/// What to check and how.
pub struct Request {
    pub config: Config,
    /// Domains named on the command line (all configured ones when empty).
    pub domains: Vec<String>,
    pub role: Option<Role>,
    /// Replaces the resolvers of every vantage.
    pub resolvers: Vec<ResolverAddr>,
}

/// What `check` found: the requested domains' reports, in request order, and each one's pair
/// verdicts (`verdicts[i]` of `reports[i]`).
pub struct Checked {
    pub reports: Vec<DomainReport>,
    pub verdicts: Vec<Vec<Pair>>,
}

/// Probes and judges every requested domain; reports in request order. A partner's inbound
/// verdict includes its tenant's configured own domains, probed too when not requested, as
/// the store completes it for the status page.
pub async fn run(mut req: Request) -> Result<Checked, Error> {
    if !req.resolvers.is_empty() {
        if req.config.vantages.is_empty() {
            req.config.vantages.push(Vantage::inside());
        }
        for v in &mut req.config.vantages {
            v.resolvers = req.resolvers.clone();
        }
    }
    let mut domains: Vec<Domain> = Vec::new();
    if req.domains.is_empty() {
        domains = req.config.domains.clone();
    }
    for name in &req.domains {
        let name = crate::config::normalize_domain(name).map_err(|m| Error::Config {
            location: "command line".into(),
            message: m,
        })?;
        // A domain named on the command line is checked whether configured or not.
        let (mut d, _) = lookup(&req.config, &name, None);
        if let Some(r) = req.role {
            d.role = r;
        }
        domains.push(d);
    }
    // The own domains of the partners' tenants that were not asked for: judged, not shown.
    let tenants: std::collections::HashSet<&str> = domains
        .iter()
        .filter(|d| d.role == Role::Peer)
        .map(|d| d.tenant.as_str())
        .collect();
    let own: Vec<Domain> = req
        .config
        .domains
        .iter()
        .filter(|o| o.role == Role::Own && tenants.contains(o.tenant.as_str()))
        .filter(|o| {
            !domains
                .iter()
                .any(|d| d.name == o.name && d.tenant == o.tenant)
        })
        .cloned()
        .collect();
    let setup = Setup::new(req.config)?;
    let (reports, own_reports) = futures::join!(setup.probe_each(&domains), setup.probe_each(&own));
    let verdicts = pairs::verdicts_of(&reports, reports.iter().chain(&own_reports));
    Ok(Checked { reports, verdicts })
}
