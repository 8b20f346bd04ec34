//! Authoritative consistency (own domains): ask every authoritative name server of the zone
//! directly, without recursion, for the federation SRV record and its targets' addresses, so a
//! stale secondary is caught before half the internet sees the old record.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};

use super::dns::{self, Resolvers};
use crate::config::{ResolverAddr, Vantage};
use crate::facts::{AuthoritativeFacts, DnsFailure, ResolverAnswer, ZoneView};

/// Name servers asked at most.
const MAX_SERVERS: usize = 6;

/// Finds the zone's name servers through the vantage's resolvers and asks each directly.
pub async fn gather(resolvers: &Resolvers, domain: &str, timeout: Duration) -> AuthoritativeFacts {
    let mut zone = domain.to_string();
    let mut ns_names = Vec::new();
    // The zone is the domain itself or, for a delegated subdomain, one of its parents.
    for _ in 0..3 {
        if let (Ok(names), _) = resolvers
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
    let name_servers = ns_names.len();
    ns_names.truncate(MAX_SERVERS);
    let srv_name = dns::absolute(&format!("_sipfederationtls._tcp.{domain}"));
    // One answer per name server: its first address that answers (IPv4 and IPv6 of one
    // server are one server).
    let views = ns_names.iter().map(|ns| {
        let srv_name = srv_name.clone();
        async move {
            let ips = dns::first_answer(resolvers.addresses(&dns::absolute(ns)).await);
            let mut last = ResolverAnswer {
                ede: None,
                total: None,
                resolver: ns.clone(),
                answer: Err(DnsFailure::Nxdomain),
            };
            for ip in ips.unwrap_or_default() {
                let vantage = Vantage {
                    name: "authoritative".into(),
                    resolvers: vec![ResolverAddr::Addr(SocketAddr::new(ip, 53))],
                    public: false,
                    proxy: None,
                    health_query: ".".into(),
                };
                let answer = match Resolvers::new_authoritative(&vantage, timeout) {
                    Err(_) => Err(DnsFailure::Error),
                    Ok(r) => view(&r, &srv_name).await,
                };
                let ok = answer.is_ok();
                last = ResolverAnswer {
                    ede: None,
                    total: None,
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
        name_servers,
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
