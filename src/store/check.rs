//! The one-shot `check`: a configuration and the command line's overrides in, a [`Setup`]
//! built, every requested domain probed and judged, the reports out. Orchestration only;
//! `expose::checklist` renders the reports.

use crate::config::{Config, Domain, ResolverAddr, Role, Vantage};
use crate::error::Error;
use crate::judge::DomainReport;

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

/// Probes and judges every requested domain; reports in request order.
pub async fn run(mut req: Request) -> Result<Vec<DomainReport>, Error> {
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
    let setup = Setup::new(req.config)?;
    Ok(setup.probe_each(&domains).await)
}
