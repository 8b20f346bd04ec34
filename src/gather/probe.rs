//! Gathering: one probe of one domain from one vantage, all network I/O under one deadline,
//! producing `Facts`. Everything learned before the deadline is kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};

use super::dns::{self, Resolvers};
use super::proxy::ProxyError;
use super::tls::TlsClient;
use super::vantage::{self, Board, Health};
use super::{authoritative, cert, local_exhaustion, m365, proxy, sip};
use crate::config::{Config, Domain, Federation, Proxy, Role};
use crate::error::Error;
use crate::facts::{
    Blind, DnsFailure, EndpointFacts, Facts, Reason, ResolverAnswer, SrvFacts, TargetFacts,
    TlsFailure, unix,
};

/// Connections in flight to one address at most: many customer domains share one edge.
const PER_ADDRESS_CONNECTIONS: usize = 4;

/// Addresses probed per target at most (a name with hundreds of A records is hostile).
const MAX_ADDRESSES_PER_TARGET: usize = 16;

/// SRV targets probed at most.
const MAX_TARGETS: usize = 8;

/// The network side of one vantage: its resolvers and its TLS client, shared by all probes.
pub struct VantageClient {
    pub name: String,
    pub public: bool,
    /// SOCKS5 proxy connections go through.
    pub proxy: Option<Proxy>,
    /// The name every resolver must answer NS for (vantage health).
    pub health_query: String,
    pub resolvers: Resolvers,
    pub tls: TlsClient,
}

/// Runs probes; built once per configuration.
pub struct Prober {
    vantages: HashMap<String, Arc<VantageClient>>,
    timeout: Duration,
    sip_options: bool,
    limiter: AddressLimiter,
    /// The latest health of every vantage.
    health: Board,
}

impl Prober {
    /// Builds resolvers and TLS clients for every vantage of `config`.
    pub fn new(config: &Config) -> Result<Prober, Error> {
        let client_cert = config
            .global
            .client_cert
            .as_ref()
            .map(|c| (c.cert_file.as_path(), c.key_file.as_path()));
        // A resolver attempt may use a third of the probe, so a retry still fits.
        let query_timeout = (config.global.timeout / 3).max(Duration::from_millis(200));
        let mut vantages = HashMap::new();
        for v in &config.vantages {
            let client = VantageClient {
                name: v.name.clone(),
                public: v.public,
                proxy: v.proxy.clone(),
                health_query: v.health_query.clone(),
                resolvers: Resolvers::new(v, query_timeout)?,
                tls: TlsClient::new(client_cert)?,
            };
            vantages.insert(v.name.clone(), Arc::new(client));
        }
        Ok(Prober {
            vantages,
            timeout: config.global.timeout,
            sip_options: config.global.sip_options,
            limiter: AddressLimiter::default(),
            health: Board::default(),
        })
    }

    /// The latest health of every vantage.
    pub fn health(&self) -> &Board {
        &self.health
    }

    /// Checks every vantage's own means at once and records the results.
    pub async fn check_vantages(&self) {
        let checks = self.vantages.values().map(|c| async move {
            let h = vantage::check(c, vantage::CHECK_BOUND).await;
            self.health.set(&c.name, h);
        });
        futures::future::join_all(checks).await;
    }

    /// The vantage's health for a probe whose look failed in a way that may be ours: the
    /// latest result when it is fresh and says the resolvers are down, else checked now
    /// (resolvers that died since the last check must not fail partners), within what is left
    /// of the probe's deadline and a moment at least.
    async fn health_of(&self, client: &VantageClient, deadline: Instant) -> Health {
        if let Some(h) = self.health.fresh(&client.name)
            && !h.resolvers_up
        {
            return h;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let bound = left.clamp(Duration::from_millis(500), vantage::CHECK_BOUND);
        let h = vantage::check(client, bound).await;
        self.health.set(&client.name, h.clone());
        h
    }

    /// Why the probe's DNS look is no evidence, if it is none: every answer it got failed in
    /// a way that may be ours (`answers`), and we could not ask or the vantage's resolvers
    /// do not answer even the health query.
    async fn dns_blind<'a>(
        &self,
        client: &VantageClient,
        mut answers: impl Iterator<Item = &'a Result<(), DnsFailure>>,
        deadline: Instant,
    ) -> Option<Blind> {
        let mut any = false;
        let mut local = false;
        let all_ours = answers.all(|a| {
            any = true;
            local |= *a == Err(DnsFailure::Local);
            a.as_ref().is_err_and(|e| e.maybe_ours())
        });
        if !any || !all_ours {
            return None;
        }
        if local {
            return Some(Blind::LocalResources);
        }
        (!self.health_of(client, deadline).await.resolvers_up).then_some(Blind::ResolversDown)
    }

    /// Probes `domain` from `vantage` within the configured timeout.
    pub async fn gather(&self, domain: &Domain, vantage: &str) -> Facts {
        let started = SystemTime::now();
        let start = Instant::now();
        // Clamped, never a panic: the configuration bounds the timeout, `Prober` users may not.
        let deadline = start
            .checked_add(self.timeout)
            .unwrap_or(start + crate::config::MAX_INTERVAL);
        let mut facts = Facts {
            domain: domain.name.clone(),
            vantage: vantage.to_string(),
            started_at: unix(started),
            ..Facts::default()
        };
        let Some(client) = self.vantages.get(vantage) else {
            return facts;
        };
        if let Some(path) = &domain.cert_file {
            facts.stored_certs = Some(read_cert_file(path));
        }
        // (name, port) to connect to, in SRV priority/weight order.
        let mut hosts: Vec<(String, u16)> = Vec::new();
        match domain.federation {
            Federation::Direct => {
                if let Some(fqdn) = &domain.fqdn {
                    hosts.push((fqdn.clone(), domain.port));
                }
            }
            Federation::Open => {
                let name = dns::absolute(&format!("_sipfederationtls._tcp.{}", domain.name));
                let answers = match timeout_at(deadline, client.resolvers.srv(&name)).await {
                    Ok(a) => a,
                    Err(_) => {
                        vec![ResolverAnswer {
                            resolver: String::new(),
                            answer: Err(DnsFailure::Timeout),
                        }]
                    }
                };
                let srv = SrvFacts { name, answers };
                let outcomes: Vec<Result<(), DnsFailure>> = srv
                    .answers
                    .iter()
                    .map(|a| a.answer.as_ref().map(drop).map_err(|e| *e))
                    .collect();
                if let Some(blind) = self.dns_blind(client, outcomes.iter(), deadline).await {
                    facts.blind = Some(blind);
                    facts.srv = Some(srv);
                    facts.duration_seconds = start.elapsed().as_secs_f64();
                    return facts;
                }
                let mut records = srv.records().to_vec();
                records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)));
                for r in records {
                    let host = (r.target.clone(), r.port);
                    // "." means "no service here" (RFC 2782).
                    if !r.target.is_empty() && !hosts.contains(&host) {
                        hosts.push(host);
                    }
                }
                hosts.truncate(MAX_TARGETS);
                facts.srv = Some(srv);
            }
        }
        let m365 = m365::gather(&client.resolvers, &domain.name);
        let authoritative = async {
            if domain.role == Role::Own && domain.federation == Federation::Open {
                let per_query = (self.timeout / 4).max(Duration::from_millis(200));
                Some(authoritative::gather(&client.resolvers, &domain.name, per_query).await)
            } else {
                None
            }
        };
        let targets = futures::future::join_all(
            hosts
                .iter()
                .map(|(name, port)| self.target(client, name, *port, &domain.name, deadline)),
        );
        // Every step is bounded by the deadline on its own, so what finished in time is kept.
        let m365 = async { timeout_at(deadline, m365).await.ok() };
        let authoritative = async { timeout_at(deadline, authoritative).await.ok().flatten() };
        let (targets, m365, authoritative) = tokio::join!(targets, m365, authoritative);
        if domain.federation == Federation::Direct {
            let outcomes: Vec<Result<(), DnsFailure>> = targets
                .iter()
                .flat_map(|t| &t.address_answers)
                .map(|a| a.answer.as_ref().map(drop).map_err(|e| *e))
                .collect();
            facts.blind = self.dns_blind(client, outcomes.iter(), deadline).await;
        }
        facts.targets = targets;
        facts.m365 = m365;
        facts.authoritative = authoritative;
        facts.duration_seconds = start.elapsed().as_secs_f64();
        facts
    }

    async fn target(
        &self,
        client: &VantageClient,
        name: &str,
        port: u16,
        domain: &str,
        deadline: Instant,
    ) -> TargetFacts {
        let lookups = async {
            tokio::join!(
                client.resolvers.addresses(name),
                client.resolvers.cname(name)
            )
        };
        let (address_answers, cname) = match timeout_at(deadline, lookups).await {
            Ok(found) => found,
            Err(_) => (
                vec![ResolverAnswer {
                    resolver: String::new(),
                    answer: Err(DnsFailure::Timeout),
                }],
                None,
            ),
        };
        let mut target = TargetFacts {
            name: name.to_string(),
            port,
            cname,
            address_answers,
            endpoints: Vec::new(),
        };
        if let Ok(ips) = target.addresses() {
            let probes = ips.iter().take(MAX_ADDRESSES_PER_TARGET).map(|ip| {
                self.endpoint(client, name, SocketAddr::new(*ip, port), domain, deadline)
            });
            target.endpoints = futures::future::join_all(probes).await;
        }
        target
    }

    async fn endpoint(
        &self,
        client: &VantageClient,
        target: &str,
        address: SocketAddr,
        domain: &str,
        deadline: Instant,
    ) -> EndpointFacts {
        let mut facts = EndpointFacts {
            address,
            tcp: Err(Reason::Timeout),
            tls: None,
            chain: Vec::new(),
            sip: None,
            blind: None,
        };
        if !crate::facts::may_connect(address.ip(), client.public) {
            facts.tcp = Err(Reason::ForbiddenAddress);
            return facts;
        }
        let Ok(_permit) = timeout_at(deadline, self.limiter.acquire(address)).await else {
            // Waiting for a turn at a busy shared edge is our trouble, not the partner's.
            facts.blind = Some(Blind::NoTurn);
            return facts;
        };
        let start = Instant::now();
        let connect = async {
            match &client.proxy {
                Some(proxy) => proxy::connect(proxy, address).await,
                None => TcpStream::connect(address)
                    .await
                    .map_err(ProxyError::Target),
            }
        };
        let tcp = match timeout_at(deadline, connect).await {
            Err(_) => return facts,
            Ok(Err(ProxyError::Proxy(detail))) => {
                // The proxy, not the partner, failed: nothing was learned about the address.
                tracing::debug!(vantage = %client.name, %detail, "proxy failed");
                facts.tcp = Err(Reason::ConnectError);
                facts.blind = Some(Blind::ProxyDown);
                return facts;
            }
            Ok(Err(ProxyError::Target(e))) => {
                facts.tcp = Err(connect_reason(&e));
                if local_exhaustion(&e) {
                    facts.blind = Some(Blind::LocalResources);
                }
                return facts;
            }
            Ok(Ok(s)) => s,
        };
        facts.tcp = Ok(start.elapsed().as_secs_f64());
        let _ = tcp.set_nodelay(true);
        let Ok(hs) = timeout_at(deadline, client.tls.handshake(tcp, target)).await else {
            facts.tls = Some(Err(TlsFailure {
                reason: Reason::Timeout,
                detail: "no TLS handshake before the probe's deadline".into(),
            }));
            return facts;
        };
        facts.tls = Some(hs.result);
        facts.chain = hs.chain;
        if self.sip_options
            && let Some(stream) = hs.stream
        {
            facts.sip = Some(sip::options(stream, domain, target, deadline).await);
        }
        facts
    }
}

/// Every parsable certificate in a PEM file, or why there is none (unreadable file, no
/// certificate, nothing parsable): a wrong path must show, not hide the renewal check.
fn read_cert_file(path: &std::path::Path) -> Result<Vec<crate::facts::CertFacts>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let iter =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs: Vec<crate::facts::CertFacts> = iter
        .filter_map(Result::ok)
        .take(64)
        .map(|c| cert::parse(&c))
        .filter(|c| c.parsed.is_some())
        .collect();
    if certs.is_empty() {
        return Err(format!("{}: no parsable certificate", path.display()));
    }
    Ok(certs)
}

fn connect_reason(e: &std::io::Error) -> Reason {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => Reason::ConnectionRefused,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Reason::Unreachable,
        ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::ConnectError,
    }
}

/// Bounds connections per address across all probes; entries vanish when unused.
#[derive(Default)]
struct AddressLimiter {
    slots: Mutex<HashMap<SocketAddr, Arc<Semaphore>>>,
}

struct AddressPermit<'a> {
    limiter: &'a AddressLimiter,
    address: SocketAddr,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl AddressLimiter {
    async fn acquire(&self, address: SocketAddr) -> AddressPermit<'_> {
        let sem = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(address)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_ADDRESS_CONNECTIONS)))
                .clone()
        };
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = match sem.acquire_owned().await {
            Ok(p) => p,
            Err(_) => unreachable!("address semaphores are never closed"),
        };
        AddressPermit {
            limiter: self,
            address,
            _permit: permit,
        }
    }
}

impl Drop for AddressPermit<'_> {
    fn drop(&mut self) {
        let mut slots = self.limiter.slots.lock().unwrap_or_else(|p| p.into_inner());
        // The map holds one reference, this permit's semaphore another: drop idle entries.
        if let Some(sem) = slots.get(&self.address)
            && Arc::strong_count(sem) <= 2
            && sem.available_permits() + 1 >= PER_ADDRESS_CONNECTIONS
        {
            slots.remove(&self.address);
        }
    }
}
