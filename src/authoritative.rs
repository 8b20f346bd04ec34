//! Authoritative consistency (own domains): ask every authoritative name server of the zone
//! directly, without recursion, for the federation SRV record and its targets' addresses, so a
//! stale secondary is caught before half the internet sees the old record.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use crate::config::{ResolverAddr, Vantage};
use crate::dns::{self, Resolvers};
use crate::facts::{DnsFailure, ResolverAnswer};

/// Name servers asked at most.
const MAX_SERVERS: usize = 6;

/// What one authoritative server holds for the federation records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    /// `priority weight port target`, sorted.
    pub srv: Vec<String>,
    /// `target address`, sorted.
    pub addresses: Vec<String>,
}

/// Every authoritative server's view; `servers` empty when no NS record was found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AuthoritativeFacts {
    /// The zone whose NS records were used.
    pub zone: String,
    /// `ns-name (address)` and what it answered.
    pub servers: Vec<ResolverAnswer<ZoneView>>,
}

impl AuthoritativeFacts {
    /// Whether all servers that answered hold the same records; `None` with fewer than two
    /// answers (a server this vantage cannot reach is no evidence of a stale zone).
    pub fn agree(&self) -> Option<bool> {
        let answered: Vec<&ZoneView> = self
            .servers
            .iter()
            .filter_map(|s| s.answer.as_ref().ok())
            .collect();
        if answered.len() < 2 {
            return None;
        }
        Some(answered[1..].iter().all(|v| *v == answered[0]))
    }
}

/// Finds the zone's name servers through the vantage's resolvers and asks each directly.
pub async fn gather(
    resolvers: &Resolvers,
    domain: &str,
    port: u16,
    timeout: Duration,
) -> AuthoritativeFacts {
    let mut zone = domain.to_string();
    let mut ns_names = Vec::new();
    // The zone is the domain itself or, for a delegated subdomain, one of its parents.
    for _ in 0..3 {
        if let Ok(names) = resolvers
            .first(&dns::absolute(&zone), RecordType::NS, |d| match d {
                RData::NS(n) => Some(dns::host(&n.0)),
                _ => None,
            })
            .await
        {
            ns_names = names;
            break;
        }
        match zone.split_once('.') {
            Some((_, parent)) if parent.contains('.') => zone = parent.to_string(),
            _ => break,
        }
    }
    ns_names.sort();
    ns_names.dedup();
    ns_names.truncate(MAX_SERVERS);
    let srv_name = dns::absolute(&format!("_sipfederationtls._tcp.{domain}"));
    // One answer per name server: its first address that answers (IPv4 and IPv6 of one
    // server are one server).
    let views = ns_names.iter().map(|ns| {
        let srv_name = srv_name.clone();
        async move {
            let ips = dns::first_answer(resolvers.addresses(&dns::absolute(ns)).await);
            let mut last = ResolverAnswer {
                resolver: ns.clone(),
                answer: Err(DnsFailure::Nxdomain),
            };
            for ip in ips.unwrap_or_default() {
                let vantage = Vantage {
                    name: "authoritative".into(),
                    resolvers: vec![ResolverAddr::Addr(SocketAddr::new(ip, port))],
                    public: false,
                    proxy: None,
                };
                let answer = match Resolvers::new_authoritative(&vantage, timeout) {
                    Err(_) => Err(DnsFailure::Error),
                    Ok(r) => view(&r, &srv_name).await,
                };
                let ok = answer.is_ok();
                last = ResolverAnswer {
                    resolver: format!("{ns} ({ip})"),
                    answer,
                };
                if ok {
                    break;
                }
            }
            last
        }
    });
    AuthoritativeFacts {
        zone,
        servers: futures::future::join_all(views).await,
    }
}

async fn view(r: &Resolvers, srv_name: &str) -> Result<ZoneView, DnsFailure> {
    let srv = match dns::first_answer(r.srv(srv_name).await) {
        Ok(s) => s,
        Err(DnsFailure::Nxdomain | DnsFailure::Nodata) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut addresses = Vec::new();
    for rec in &srv {
        if let Ok(ips) = dns::first_answer(r.addresses(&dns::absolute(&rec.target)).await) {
            addresses.extend(ips.iter().map(|ip| format!("{} {ip}", rec.target)));
        }
    }
    let mut srv: Vec<String> = srv
        .iter()
        .map(|s| format!("{} {} {} {}", s.priority, s.weight, s.port, s.target))
        .collect();
    srv.sort();
    addresses.sort();
    addresses.dedup();
    Ok(ZoneView { srv, addresses })
}

/// The `authoritative_agree` check: every authoritative server holds the same records.
pub fn check(ctx: &crate::checks::Context<'_>) -> Option<crate::checks::Verdict> {
    use crate::checks::Verdict;
    use crate::facts::Reason;
    let a = ctx.facts.authoritative.as_ref()?;
    match a.agree()? {
        true => Some(Verdict::Pass(format!(
            "all {} authoritative servers of {} hold the same federation records",
            a.servers.iter().filter(|s| s.answer.is_ok()).count(),
            a.zone
        ))),
        false => {
            let show = |s: &ResolverAnswer<ZoneView>| match &s.answer {
                Ok(v) => format!(
                    "{} says SRV [{}] A/AAAA [{}]",
                    s.resolver,
                    v.srv.join(", "),
                    v.addresses.join(", ")
                ),
                Err(e) => format!("{} failed ({})", s.resolver, e.reason().as_str()),
            };
            let answered: Vec<&ResolverAnswer<ZoneView>> =
                a.servers.iter().filter(|s| s.answer.is_ok()).collect();
            let first = answered[0];
            let other = answered[1..]
                .iter()
                .find(|s| s.answer.as_ref().ok() != first.answer.as_ref().ok())
                .copied()
                .unwrap_or(answered[1]);
            Some(Verdict::Fail {
                reason: Reason::Disagree,
                message: format!("authoritative servers of {} disagree: {}; {}", a.zone, show(first), show(other)),
                hint: "a secondary did not transfer the zone: compare SOA serials, bump the serial on the primary and check zone transfers (AXFR/IXFR, NOTIFY)".into(),
            })
        }
    }
}
