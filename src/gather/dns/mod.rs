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

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::{ResolverAddr, Vantage};
use crate::error::Error;
use crate::facts::{DnsFailure, EDE_OPTION, Ede, ResolverAnswer, SrvRecord};

mod answer;
mod dnssec;
mod resolv;
mod transport;

pub use answer::MAX_RECORDS;
use answer::{records, worse};
pub use dnssec::{ZoneCache, read_datagram as read_dnssec_datagram};
use transport::{Client, Options};

/// The resolvers of one vantage, built once and shared by every probe from it; a probe asks
/// through its own view ([`Resolvers::for_probe`]).
pub struct Resolvers {
    resolvers: Arc<[(String, Resolver)]>,
    /// DS and DNSKEY sets of the zones validated through the first resolver, by their TTL.
    zones: Arc<ZoneCache>,
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
type Answer = Arc<tokio::sync::OnceCell<Reply>>;

/// One resolver's response to one question, as a validator reads it: after a SERVFAIL
/// (without an EDE saying the zone's servers were unreachable) the question is asked again
/// with CD, and whether that response has the records (NOERROR or NXDOMAIN) tells a zone
/// whose DNSSEC does not validate from one that cannot be resolved at all.
struct Reply {
    response: Result<Message, DnsFailure>,
    /// The answer with CD set to a SERVFAIL, when it had the records (NOERROR or NXDOMAIN).
    cd: Option<Message>,
}

/// What one lookup found: the records of the asked type (the first [`MAX_RECORDS`]), the
/// target of the CNAME owned by the name, how many records there were when there were more,
/// and the resolver's Extended DNS Error.
struct Lookup<T> {
    records: Result<Vec<T>, DnsFailure>,
    alias: Option<String>,
    total: Option<usize>,
    ede: Option<Ede>,
}

impl<T> Lookup<T> {
    fn failed(e: DnsFailure) -> Lookup<T> {
        Lookup {
            records: Err(e),
            alias: None,
            total: None,
            ede: None,
        }
    }
}

/// The first Extended DNS Error of a response (RFC 8914), bounded and escaped.
fn ede(m: &Message) -> Option<Ede> {
    let opt = m.edns.as_ref()?;
    opt.options().options.iter().find_map(|(_, o)| match o {
        hickory_proto::rr::rdata::opt::EdnsOption::Unknown(EDE_OPTION, data) => {
            Ede::from_option(data)
        }
        _ => None,
    })
}

/// Asks `client` `query` as a validator would (DO, and CD after a SERVFAIL).
async fn ask(client: &Client, query: &Query) -> Reply {
    let response = client.resolve(query, false).await;
    let cd = match &response {
        Ok(m)
            if client.recursive()
                && m.metadata.response_code == ResponseCode::ServFail
                && !ede(m).is_some_and(|e| e.unreachable()) =>
        {
            client.resolve(query, true).await.ok().filter(|cd| {
                matches!(
                    cd.metadata.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                )
            })
        }
        _ => None,
    };
    Reply { response, cd }
}

/// What `reply` says about `rtype` at `fqdn`.
fn read<T>(
    reply: &Reply,
    fqdn: &Name,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> Lookup<T> {
    let m = match &reply.response {
        Ok(m) => m,
        Err(e) => return Lookup::failed(*e),
    };
    let ede = ede(m);
    let (records, alias, total) = records(m, fqdn, rtype, pick);
    let records = match records {
        Err(DnsFailure::Servfail) if reply.cd.is_some() => Err(DnsFailure::DnssecBogus),
        Err(DnsFailure::Servfail) if ede.as_ref().is_some_and(Ede::unreachable) => {
            Err(DnsFailure::NoAuthority)
        }
        other => other,
    };
    Lookup {
        records,
        alias,
        total,
        ede,
    }
}

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
            zones: Arc::default(),
            asked: None,
        })
    }

    /// A view for one probe: the same resolvers, and each question asked once however many
    /// parts of the probe ask it.
    pub fn for_probe(&self) -> Resolvers {
        Resolvers {
            resolvers: self.resolvers.clone(),
            zones: self.zones.clone(),
            asked: Some(Asked::default()),
        }
    }

    /// The exporter's own DNSSEC validation, through the first resolver, of the SRV set at
    /// `srv_name` and the A and AAAA sets of `targets`, as this view's answers had them (no
    /// question asked again); DS and DNSKEY sets from the vantage's cache.
    pub async fn dnssec(
        &self,
        srv_name: Option<&str>,
        targets: &[String],
        now: u32,
    ) -> crate::facts::DnssecFacts {
        // Through the first resolver that answered this probe (a silent first one is the
        // vantage's trouble, not a reason to validate nothing).
        let i = (0..self.resolvers.len())
            .find(|i| !self.known_silent(*i))
            .unwrap_or(0);
        let Some((_, resolver)) = self.resolvers.get(i) else {
            return crate::facts::DnssecFacts::default();
        };
        let client = &*resolver.client();
        let mut wanted: Vec<(&str, RecordType, bool)> = Vec::new();
        if let Some(n) = srv_name {
            wanted.push((n, RecordType::SRV, true));
        }
        for t in targets {
            wanted.push((t, RecordType::A, false));
            wanted.push((t, RecordType::AAAA, false));
        }
        let mut sets = Vec::new();
        for (name, rtype, is_srv) in wanted {
            let Ok(fqdn) = Name::from_ascii(absolute(name)) else {
                continue;
            };
            let query = Query::query(fqdn.clone(), rtype);
            let answer = asked(client, self.asked.as_ref().map(|a| (a, i)), &query).await;
            if let Some(reply) = answer.get()
                && let Some((set, bogus)) = dnssec::from_reply(reply, &fqdn, rtype)
            {
                sets.push((set, bogus, is_srv));
            }
        }
        dnssec::gather(client, &self.zones, sets, now).await
    }

    /// The DS and DNSKEY sets this vantage keeps.
    pub fn zone_cache(&self) -> &ZoneCache {
        &self.zones
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
                // The failed family's EDE tells why; either one's when both or neither failed.
                let ede = match (&a.answer, &b.answer) {
                    (Ok(_), Err(_)) => b.ede.or(a.ede),
                    _ => a.ede.or(b.ede),
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
                    ede,
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

    /// Whether each resolver answers a query for `name`'s NS records and can still recurse
    /// (vantage health). The NS query: any response counts — data, NODATA or NXDOMAIN, but
    /// NXDOMAIN for the root itself (a captive or broken resolver saying that for everything)
    /// does not, nor do SERVFAIL, REFUSED, silence and network errors. A resolver that lost
    /// its upstream still answers that from its cache, so a second query asks for a random
    /// label under `name` (`sipfed-<16 hex>.`), which no cache holds: it must be answered
    /// (NXDOMAIN, NODATA or data), not SERVFAIL, and not with EDE 22/23 (no reachable
    /// authority, network error). The servers of `system` are alternatives, asked at once:
    /// one that answers is enough. The error says which question failed (`what`).
    pub async fn health(&self, name: &str) -> Vec<ResolverAnswer<()>> {
        let Ok(fqdn) = Name::from_ascii(absolute(name)) else {
            return Vec::new();
        };
        let query = Query::query(fqdn.clone(), RecordType::NS);
        let fresh = random_label()
            .and_then(|l| {
                Name::from_ascii(format!("{l}.{}", absolute(name).trim_start_matches('.'))).ok()
            })
            .map(|n| Query::query(n, RecordType::A));
        let asks = self.resolvers.iter().map(|(label, r)| {
            let (query, fqdn, fresh) = (&query, &fqdn, &fresh);
            async move {
                let ns = async {
                    match r.client().resolve_any(query).await {
                        Ok(m) => match records(&m, fqdn, RecordType::NS, |_| Some(())).0 {
                            Err(DnsFailure::Nxdomain) if fqdn.is_root() => {
                                Err(DnsFailure::Nxdomain)
                            }
                            Ok(_) | Err(DnsFailure::Nodata | DnsFailure::Nxdomain) => Ok(()),
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    }
                };
                let recursion = async {
                    let Some(fresh) = fresh else {
                        return Ok(());
                    };
                    match r.client().resolve_any(fresh).await {
                        Ok(m) if ede(&m).is_some_and(|e| e.unreachable()) => {
                            Err(DnsFailure::NoAuthority)
                        }
                        Ok(_) => Ok(()),
                        Err(e) => Err(e),
                    }
                };
                let (ns, recursion) = tokio::join!(ns, recursion);
                ResolverAnswer {
                    total: None,
                    ede: None,
                    resolver: label.clone(),
                    answer: ns.and(recursion),
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
            match &seen.records {
                Err(e) if e.maybe_ours() => {
                    first_failure.get_or_insert(seen);
                }
                _ => return (seen.records, seen.alias, seen.total),
            }
        }
        first_failure.map_or((Err(DnsFailure::Error), None, None), |f| {
            (f.records, f.alias, f.total)
        })
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
            .find_map(|((j, _), answer)| match answer.get().map(|r| &r.response) {
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
                let found = match skip {
                    Some(e) => Lookup::failed(e),
                    None => self.lookup_seen(i, name, rtype, pick).await,
                };
                (
                    ResolverAnswer {
                        total: found.total,
                        ede: found.ede,
                        resolver: label.clone(),
                        answer: found.records,
                    },
                    found.alias,
                )
            },
        );
        futures::future::join_all(lookups).await
    }

    /// What resolver `i` gives for `rtype` at `name`, the alias and EDE with the records.
    async fn lookup_seen<T>(
        &self,
        i: usize,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Lookup<T> {
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
                let found = match skip {
                    Some(e) => Lookup::failed(e),
                    None => self.lookup_seen(i, name, rtype, pick).await,
                };
                ResolverAnswer {
                    total: found.total,
                    ede: found.ede,
                    resolver: label.clone(),
                    answer: found.records,
                }
            },
        );
        futures::future::join_all(lookups).await
    }
}

/// A random label no resolver has cached (`sipfed-<16 hex digits>`).
fn random_label() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(format!("sipfed-{}", crate::facts::hex(&bytes)))
}

/// The records one client gives, asked outside any probe (the transport's tests).
#[cfg(test)]
async fn lookup<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<usize>) {
    let found = lookup_seen(client, None, name, rtype, pick).await;
    (found.records, found.total)
}

/// What `client` gives for `rtype` at `name`: the records, the target of the CNAME owned by
/// `name` among the answers, how many records there were when there were more, and the EDE.
/// With a memo (a probe's questions and the resolver's index), a question the probe already
/// asked is read from its answer.
async fn lookup_seen<T>(
    client: &Client,
    memo: Option<(&Asked, usize)>,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> Lookup<T> {
    let fqdn = match Name::from_ascii(absolute(name)) {
        Ok(n) => n,
        Err(_) => return Lookup::failed(DnsFailure::Error),
    };
    let query = Query::query(fqdn.clone(), rtype);
    let answer = asked(client, memo, &query).await;
    match answer.get() {
        Some(reply) => read(reply, &fqdn, rtype, &pick),
        None => Lookup::failed(DnsFailure::Error),
    }
}

/// The reply of `client` to `query`: the probe's (memo) when it asked already, else asked now.
async fn asked(client: &Client, memo: Option<(&Asked, usize)>, query: &Query) -> Answer {
    let answer = match memo {
        None => Answer::default(),
        Some((Asked(answers), i)) => answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((i, query.clone()))
            .or_default()
            .clone(),
    };
    answer.get_or_init(|| ask(client, query)).await;
    answer
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
