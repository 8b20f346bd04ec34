//! DNS gathering: one stub client per configured resolver address of a vantage, every query
//! absolute (no search list), answers classified into `DnsFailure`s.
//!
//! The transport is our own and lean (hickory-proto only builds and parses messages): per
//! server address a few connected UDP sockets shared by all queries, each with one reader task
//! that hands a response to the query waiting for its id — a datagram counts only when its id
//! is pending on that socket and its question is the query's. Sockets are retired after
//! `QUERIES_PER_SOCKET` queries or `SOCKET_AGE`, so source ports keep changing. A truncated
//! answer is asked again over TCP. hickory-resolver is used only to read /etc/resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::config::ProtocolConfig;

use crate::config::{ResolverAddr, Vantage};
use crate::error::Error;
use crate::facts::{DnsFailure, ResolverAnswer, SrvRecord};

mod answer;
mod transport;

use answer::{records, worse};
use transport::{Client, Server};

/// The resolvers of one vantage, built once and shared by every probe from it.
pub struct Resolvers {
    resolvers: Vec<(String, Client)>,
}

impl Resolvers {
    /// Builds one client per configured address; `query_timeout` bounds each attempt.
    pub fn new(vantage: &Vantage, query_timeout: Duration) -> Result<Resolvers, Error> {
        Self::build(vantage, query_timeout, true)
    }

    /// Like `new`, but queries without recursion: for asking authoritative servers directly.
    pub fn new_authoritative(
        vantage: &Vantage,
        query_timeout: Duration,
    ) -> Result<Resolvers, Error> {
        Self::build(vantage, query_timeout, false)
    }

    fn build(
        vantage: &Vantage,
        query_timeout: Duration,
        recursion: bool,
    ) -> Result<Resolvers, Error> {
        let mut resolvers = Vec::new();
        for addr in &vantage.resolvers {
            let servers = match addr {
                ResolverAddr::System => system_servers().map_err(|message| Error::Config {
                    location: "/etc/resolv.conf".into(),
                    message: format!("vantage {}: system resolver: {message}", vantage.name),
                })?,
                ResolverAddr::Addr(sa) => vec![*sa],
            };
            let client = Client {
                servers: servers.into_iter().map(Server::new).collect(),
                timeout: query_timeout,
                recursion,
            };
            resolvers.push((addr.to_string(), client));
        }
        Ok(Resolvers { resolvers })
    }

    /// The SRV records at `name` from every resolver, in configuration order.
    pub async fn srv(&self, name: &str) -> Vec<ResolverAnswer<Vec<SrvRecord>>> {
        self.each(name, RecordType::SRV, |data| match data {
            RData::SRV(s) => Some(SrvRecord {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: host(&s.target),
            }),
            _ => None,
        })
        .await
    }

    /// A and AAAA of `name` from every resolver; an answer fails only when both lookups did.
    pub async fn addresses(&self, name: &str) -> Vec<ResolverAnswer<Vec<IpAddr>>> {
        self.addresses_seen(name).await.0
    }

    /// [`Resolvers::addresses`] and [`Resolvers::cname`] at once. A resolver answering A or
    /// AAAA for an alias returns the alias's CNAME with the addresses, so the CNAME is read
    /// from the first resolver's address answers; it is asked for on its own only when neither
    /// of them had data (one query less per target and probe).
    pub async fn addresses_and_cname(
        &self,
        name: &str,
    ) -> (Vec<ResolverAnswer<Vec<IpAddr>>>, Option<String>) {
        let (answers, alias) = self.addresses_seen(name).await;
        match alias {
            Some(alias) => (answers, alias),
            None => (answers, self.cname(name).await),
        }
    }

    /// The address answers and, when the first resolver's A or AAAA lookup had data, the
    /// CNAME at `name` those answers show (`Some(None)`: not an alias).
    async fn addresses_seen(
        &self,
        name: &str,
    ) -> (Vec<ResolverAnswer<Vec<IpAddr>>>, Option<Option<String>>) {
        let v4 = self.each_seen(name, RecordType::A, |d| match d {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        });
        let v6 = self.each_seen(name, RecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        });
        let (v4, v6) = tokio::join!(v4, v6);
        let mut alias = None;
        if let (Some((a, a_alias)), Some((b, b_alias))) = (v4.first(), v6.first())
            && (a.answer.is_ok() || b.answer.is_ok())
        {
            let seen = if a.answer.is_ok() { a_alias } else { b_alias };
            alias = Some(seen.clone());
        }
        let answers = v4
            .into_iter()
            .zip(v6)
            .map(|((a, _), (b, _))| {
                let answer = match (a.answer, b.answer) {
                    (Ok(mut x), Ok(y)) => {
                        x.extend(y);
                        Ok(x)
                    }
                    (Ok(x), Err(_)) | (Err(_), Ok(x)) if !x.is_empty() => Ok(x),
                    (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
                    (Err(e), Err(f)) => Err(worse(e, f)),
                };
                ResolverAnswer {
                    resolver: a.resolver,
                    answer: answer.and_then(|v| {
                        if v.is_empty() {
                            Err(DnsFailure::Nodata)
                        } else {
                            Ok(v)
                        }
                    }),
                }
            })
            .collect();
        (answers, alias)
    }

    /// The CNAME at `name` according to the first resolver, if it is an alias.
    pub async fn cname(&self, name: &str) -> Option<String> {
        let (_, resolver) = self.resolvers.first()?;
        let answer = lookup(resolver, name, RecordType::CNAME, |d| match d {
            RData::CNAME(c) => Some(host(&c.0)),
            _ => None,
        })
        .await;
        answer.ok().and_then(|v| v.into_iter().next())
    }

    /// Whether each resolver answers a query for `name`'s NS records (vantage health): any
    /// response counts — data, NODATA or NXDOMAIN — but SERVFAIL, REFUSED, silence and network
    /// errors do not.
    pub async fn health(&self, name: &str) -> Vec<ResolverAnswer<()>> {
        self.each(name, RecordType::NS, |_| Some(()))
            .await
            .into_iter()
            .map(|a| ResolverAnswer {
                resolver: a.resolver,
                answer: match a.answer {
                    Ok(_) | Err(DnsFailure::Nodata | DnsFailure::Nxdomain) => Ok(()),
                    Err(e) => Err(e),
                },
            })
            .collect()
    }

    /// Records of any type from the first resolver (for the Microsoft 365 evidence lookups).
    pub async fn first<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Vec<T>, DnsFailure> {
        match self.resolvers.first() {
            Some((_, r)) => lookup(r, name, rtype, pick).await,
            None => Err(DnsFailure::Error),
        }
    }

    /// [`Resolvers::each`], with the CNAME at `name` each answer showed.
    async fn each_seen<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<(ResolverAnswer<Vec<T>>, Option<String>)> {
        let lookups = self.resolvers.iter().map(|(label, r)| async move {
            let (answer, alias) = lookup_seen(r, name, rtype, pick).await;
            (
                ResolverAnswer {
                    resolver: label.clone(),
                    answer,
                },
                alias,
            )
        });
        futures::future::join_all(lookups).await
    }

    async fn each<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<ResolverAnswer<Vec<T>>> {
        let lookups = self.resolvers.iter().map(|(label, r)| async move {
            ResolverAnswer {
                resolver: label.clone(),
                answer: lookup(r, name, rtype, pick).await,
            }
        });
        futures::future::join_all(lookups).await
    }
}

/// The name servers /etc/resolv.conf lists, in order, at their UDP port (53 unless said).
fn system_servers() -> Result<Vec<SocketAddr>, String> {
    let (conf, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string())?;
    // Only the name servers: the search list is what makes nslookup lie.
    let mut servers: Vec<SocketAddr> = Vec::new();
    for ns in conf.name_servers() {
        let port = ns
            .connections
            .iter()
            .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
            .map_or(53, |c| c.port);
        let addr = SocketAddr::new(ns.ip, port);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    if servers.is_empty() {
        return Err("no name server".into());
    }
    Ok(servers)
}

/// The records of `rtype` at `name` that one resolver gives.
async fn lookup<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> Result<Vec<T>, DnsFailure> {
    lookup_seen(client, name, rtype, pick).await.0
}

/// [`lookup`], and the target of the CNAME owned by `name` among the answers, if any.
async fn lookup_seen<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>) {
    let fqdn = match Name::from_ascii(absolute(name)) {
        Ok(n) => n,
        Err(_) => return (Err(DnsFailure::Error), None),
    };
    match client.resolve(&Query::query(fqdn.clone(), rtype)).await {
        Ok(m) => records(&m, &fqdn, rtype, pick),
        Err(e) => (Err(e), None),
    }
}

/// `name` with exactly one trailing dot: queried as is, never with a search suffix.
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A DNS name as this crate stores it: lower-case, no trailing dot.
pub fn host(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The first resolver's answer of a per-resolver list.
pub fn first_answer<T>(answers: Vec<ResolverAnswer<Vec<T>>>) -> Result<Vec<T>, DnsFailure> {
    answers
        .into_iter()
        .next()
        .map(|a| a.answer)
        .unwrap_or(Err(DnsFailure::Error))
}
