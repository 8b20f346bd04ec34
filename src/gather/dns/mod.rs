//! DNS gathering: one stub client per configured resolver address of a vantage, every query
//! absolute (no search list), answers classified into `DnsFailure`s.
//!
//! The transport is our own and lean (hickory-proto only builds and parses messages):
//! [`transport`] asks a resolver's servers, each exchange from its own random source port with
//! its own random id, and takes only the response from the server asked to the question asked;
//! [`answer`] reads from it only the records owned by the queried name or by the CNAME chain
//! inside the answer. `system` ([`resolv`]) reads the name servers and the `timeout`,
//! `attempts` and `rotate` options of /etc/resolv.conf (or of the file `SIPFED_RESOLV_CONF`
//! names) as glibc does, treats the servers as alternatives, and reads the file again when it
//! changes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::{ResolverAddr, Vantage};
use crate::error::Error;
use crate::facts::{DnsFailure, ResolverAnswer, SrvRecord};

mod answer;
mod resolv;
mod transport;

pub use answer::MAX_RECORDS;
use answer::{records, worse};
use transport::{Client, Options};

/// The resolvers of one vantage, built once and shared by every probe from it; a probe asks
/// through its own view ([`Resolvers::for_probe`]).
pub struct Resolvers {
    resolvers: Arc<[(String, Resolver)]>,
    /// One probe's answers, in its view only.
    asked: Option<Asked>,
}

/// One configured resolver: a listed address, or `system` (resolv.conf, read again when it
/// changes).
enum Resolver {
    Listed(Arc<Client>),
    System(resolv::System),
}

impl Resolver {
    /// The client to ask now.
    fn client(&self) -> Arc<Client> {
        match self {
            Resolver::Listed(c) => c.clone(),
            Resolver::System(s) => s.client(),
        }
    }
}

/// What one resolver answered to one question.
type Answer = Arc<tokio::sync::OnceCell<Result<Message, DnsFailure>>>;

/// The questions one probe asked, by resolver: a question asked twice in one probe is asked
/// of the network once (an SRV target `sip.<domain>` is also a Microsoft 365 evidence name),
/// and a second asker while the first waits shares its answer. Gone with the probe.
#[derive(Default)]
struct Asked(Mutex<HashMap<(usize, Query), Answer>>);

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
            let client = match addr {
                ResolverAddr::System => {
                    let path = resolv::path();
                    let location = path.display().to_string();
                    let system = resolv::System::new(path, 53, query_timeout, recursion).map_err(
                        |message| Error::Config {
                            location,
                            message: format!(
                                "vantage {}: system resolver: {message}",
                                vantage.name
                            ),
                        },
                    )?;
                    Resolver::System(system)
                }
                ResolverAddr::Addr(sa) => {
                    let options = Options {
                        timeout: query_timeout,
                        attempts: transport::ATTEMPTS,
                        rotate: false,
                    };
                    Resolver::Listed(Arc::new(Client::new(vec![*sa], options, recursion)))
                }
            };
            resolvers.push((addr.to_string(), client));
        }
        Ok(Resolvers {
            resolvers: resolvers.into(),
            asked: None,
        })
    }

    /// A view for one probe: the same resolvers, and each question asked once however many
    /// parts of the probe ask it.
    pub fn for_probe(&self) -> Resolvers {
        Resolvers {
            resolvers: self.resolvers.clone(),
            asked: Some(Asked::default()),
        }
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
        // The first resolver with data is the one whose view the probe goes on with.
        if let Some(((a, a_alias), (_, b_alias))) = v4
            .iter()
            .zip(&v6)
            .find(|((a, _), (b, _))| a.answer.is_ok() || b.answer.is_ok())
        {
            let seen = if a.answer.is_ok() { a_alias } else { b_alias };
            alias = Some(seen.clone());
        }
        let answers = v4
            .into_iter()
            .zip(v6)
            .map(|((a, _), (b, _))| {
                // Either family's list cut short: how many both had.
                let total = match (a.total, b.total) {
                    (None, None) => None,
                    _ => {
                        let len = |r: &ResolverAnswer<Vec<IpAddr>>| {
                            r.total
                                .or(r.answer.as_ref().ok().map(Vec::len))
                                .unwrap_or(0)
                        };
                        Some(len(&a) + len(&b))
                    }
                };
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
                    total,
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

    /// The CNAME at `name` according to the first answering resolver, if it is an alias.
    pub async fn cname(&self, name: &str) -> Option<String> {
        let (answer, _, _) = self
            .lookup_answering(name, RecordType::CNAME, |d| match d {
                RData::CNAME(c) => Some(host(&c.0)),
                _ => None,
            })
            .await;
        answer.ok().and_then(|v| v.into_iter().next())
    }

    /// Whether each resolver answers a query for `name`'s NS records (vantage health): any
    /// response counts — data, NODATA or NXDOMAIN — but SERVFAIL, REFUSED, silence and network
    /// errors do not. The servers of `system` are alternatives, asked at once: one that
    /// answers is enough.
    pub async fn health(&self, name: &str) -> Vec<ResolverAnswer<()>> {
        let Ok(fqdn) = Name::from_ascii(absolute(name)) else {
            return Vec::new();
        };
        let query = Query::query(fqdn.clone(), RecordType::NS);
        let asks = self.resolvers.iter().map(|(label, r)| {
            let (query, fqdn) = (&query, &fqdn);
            async move {
                let answer = match r.client().resolve_any(query).await {
                    Ok(m) => records(&m, fqdn, RecordType::NS, |_| Some(())).0,
                    Err(e) => Err(e),
                };
                ResolverAnswer {
                    total: None,
                    resolver: label.clone(),
                    answer: match answer {
                        Ok(_) | Err(DnsFailure::Nodata | DnsFailure::Nxdomain) => Ok(()),
                        Err(e) => Err(e),
                    },
                }
            }
        });
        futures::future::join_all(asks).await
    }

    /// Records of any type from the first answering resolver (for the Microsoft 365 evidence
    /// lookups; see [`Resolvers::first_seen`]),
    /// and how many the answer had when it had more than [`MAX_RECORDS`].
    pub async fn first<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsFailure>, Option<usize>) {
        let (answer, _, total) = self.first_seen(name, rtype, pick).await;
        (answer, total)
    }

    /// [`Resolvers::first`], with the target of the CNAME owned by `name` the answer showed
    /// (also beside NXDOMAIN: an alias of a name that does not exist) as the second value.
    pub async fn first_seen<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsFailure>, Option<String>, Option<usize>) {
        self.lookup_answering(name, rtype, pick).await
    }

    /// Asks the resolvers in order until one answers: a resolver that does not (timeout,
    /// network error, REFUSED) is the vantage's trouble, and the next one is asked. One known
    /// silent in this probe already is skipped unless it is the last. Every one silent: the
    /// first failure.
    async fn lookup_answering<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsFailure>, Option<String>, Option<usize>) {
        let mut first_failure = None;
        let last = self.resolvers.len().saturating_sub(1);
        for i in 0..self.resolvers.len() {
            if i < last && self.known_silent(i) {
                continue;
            }
            let seen = self.lookup_seen(i, name, rtype, &pick).await;
            match &seen.0 {
                Err(e) if e.maybe_ours() => {
                    first_failure.get_or_insert(seen);
                }
                _ => return seen,
            }
        }
        first_failure.unwrap_or((Err(DnsFailure::Error), None, None))
    }

    /// Whether resolver `i` left a question of this probe unanswered (timeout, network error).
    fn known_silent(&self, i: usize) -> bool {
        self.silence(i).is_some()
    }

    /// How resolver `i` failed to answer a question of this probe, if it did.
    fn silence(&self, i: usize) -> Option<DnsFailure> {
        let Asked(asked) = self.asked.as_ref()?;
        let asked = asked.lock().unwrap_or_else(|e| e.into_inner());
        asked
            .iter()
            .find_map(|((j, _), answer)| match answer.get() {
                Some(Err(e)) if *j == i && e.maybe_ours() => Some(*e),
                _ => None,
            })
    }

    /// Per resolver, the failure to give instead of asking: a resolver silent earlier in this
    /// probe is not waited for again while another one has answered every question so far
    /// (a dead first resolver must not eat the probe's deadline at every step).
    fn skips(&self) -> Vec<Option<DnsFailure>> {
        let silences: Vec<Option<DnsFailure>> =
            (0..self.resolvers.len()).map(|i| self.silence(i)).collect();
        if silences.iter().all(Option::is_some) {
            return vec![None; silences.len()];
        }
        silences
    }

    /// [`Resolvers::each`], with the CNAME at `name` each answer showed.
    async fn each_seen<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<(ResolverAnswer<Vec<T>>, Option<String>)> {
        let skips = self.skips();
        let lookups = self.resolvers.iter().enumerate().zip(skips).map(
            |((i, (label, _)), skip)| async move {
                let (answer, alias, total) = match skip {
                    Some(e) => (Err(e), None, None),
                    None => self.lookup_seen(i, name, rtype, pick).await,
                };
                (
                    ResolverAnswer {
                        total,
                        resolver: label.clone(),
                        answer,
                    },
                    alias,
                )
            },
        );
        futures::future::join_all(lookups).await
    }

    /// The records of `rtype` at `name` that resolver `i` gives (the first [`MAX_RECORDS`]),
    /// and how many there were when there were more.
    async fn lookup<T>(
        &self,
        i: usize,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsFailure>, Option<usize>) {
        let (records, _, total) = self.lookup_seen(i, name, rtype, pick).await;
        (records, total)
    }

    /// [`Resolvers::lookup`], with the target of the CNAME owned by `name` among the answers,
    /// if any, as the second value.
    async fn lookup_seen<T>(
        &self,
        i: usize,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsFailure>, Option<String>, Option<usize>) {
        let memo = self.asked.as_ref().map(|asked| (asked, i));
        let client = self.resolvers[i].1.client();
        lookup_seen(&client, memo, name, rtype, pick).await
    }

    async fn each<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<ResolverAnswer<Vec<T>>> {
        let skips = self.skips();
        let lookups = self.resolvers.iter().enumerate().zip(skips).map(
            |((i, (label, _)), skip)| async move {
                let (answer, total) = match skip {
                    Some(e) => (Err(e), None),
                    None => self.lookup(i, name, rtype, pick).await,
                };
                ResolverAnswer {
                    total,
                    resolver: label.clone(),
                    answer,
                }
            },
        );
        futures::future::join_all(lookups).await
    }
}

/// The records one client gives, asked outside any probe (the transport's tests).
#[cfg(test)]
async fn lookup<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<usize>) {
    let (records, _, total) = lookup_seen(client, None, name, rtype, pick).await;
    (records, total)
}

/// The records of `rtype` at `name` that `client` gives, the target of the CNAME owned by
/// `name` among the answers, and how many records there were when there were more. With a
/// memo (a probe's questions and the resolver's index), a question the probe already asked
/// is read from its answer.
async fn lookup_seen<T>(
    client: &Client,
    memo: Option<(&Asked, usize)>,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>, Option<usize>) {
    let fqdn = match Name::from_ascii(absolute(name)) {
        Ok(n) => n,
        Err(_) => return (Err(DnsFailure::Error), None, None),
    };
    let query = Query::query(fqdn.clone(), rtype);
    let read = |response: &Result<Message, DnsFailure>| match response {
        Ok(m) => records(m, &fqdn, rtype, &pick),
        Err(e) => (Err(*e), None, None),
    };
    match memo {
        None => read(&client.resolve(&query).await),
        Some((Asked(answers), i)) => {
            let answer = answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry((i, query.clone()))
                .or_default()
                .clone();
            read(answer.get_or_init(|| client.resolve(&query)).await)
        }
    }
}

/// What one UDP datagram yields for a query of `rtype` at `name` sent with `id`, as the
/// client reads it: `None` when it is not the response (wrong id or question, unparsable),
/// else whether it says "truncated", the records of `rtype` owned by `name` or its CNAME
/// chain (as text) or the failure, and the alias. The seam the DNS fuzz target drives.
#[allow(clippy::type_complexity)]
pub fn read_datagram(
    datagram: &[u8],
    name: &str,
    rtype: RecordType,
    id: u16,
) -> Option<(bool, Result<Vec<String>, DnsFailure>, Option<String>)> {
    let fqdn = Name::from_ascii(absolute(name)).ok()?;
    let query = Query::query(fqdn.clone(), rtype);
    let m = transport::response(datagram, &query, id)?;
    let (records, alias, _) = records(&m, &fqdn, rtype, |d| Some(d.to_string()));
    Some((m.metadata.truncation, records, alias))
}

/// `name` with exactly one trailing dot: queried as is, never with a search suffix.
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A DNS name as this crate stores it: lower-case, no trailing dot.
pub fn host(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The first answering resolver's answer of a per-resolver list ([`crate::facts::answering`]).
pub fn first_answer<T>(answers: Vec<ResolverAnswer<Vec<T>>>) -> Result<Vec<T>, DnsFailure> {
    let used = answers
        .iter()
        .position(|a| !crate::facts::silent(a))
        .unwrap_or(0);
    answers
        .into_iter()
        .nth(used)
        .map(|a| a.answer)
        .unwrap_or(Err(DnsFailure::Error))
}
