//! Gathering: one probe of one domain from one vantage, all network I/O under one deadline,
//! producing `Facts`. Everything learned before the deadline is kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, timeout_at};

use super::dns::{self, Resolvers};
use super::edge::Edges;
use super::identity::{Identities, Identity};
use super::tls::TlsClient;
use super::vantage::{self, Board, Health, VantageClient};
use super::{authoritative, cert, m365};
use crate::config::{Config, Domain, Federation, Role};
use crate::error::Error;
use crate::facts::{
    Blind, DnsFailure, EndpointFacts, Facts, M365Facts, Reason, ResolverAnswer, SrvFacts,
    TargetFacts, unix,
};

/// How long Microsoft 365 evidence (MX, TXT, lyncdiscover, sip, _sip._tls) is reused: it
/// changes when a tenant moves, rarely, and is most of a probe's DNS queries.
pub const M365_FRESH: Duration = Duration::from_secs(3600);

/// Addresses probed per target at most (a name with hundreds of A records is hostile).
const MAX_ADDRESSES_PER_TARGET: usize = 16;

/// SRV targets probed at most.
const MAX_TARGETS: usize = 8;

/// What a probe may do: a configured domain's probe follows its vantage's rules; an ad-hoc
/// one (`/probe` of an unconfigured domain, `probe_any_domain`) connects only to globally
/// routable addresses and keeps nothing after it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Configured,
    AdHoc,
}

/// What every target and endpoint of one probe shares: from where, as whom, for which
/// domain, until when, and whether the domain is configured.
#[derive(Clone, Copy)]
struct ProbeContext<'a> {
    client: &'a Arc<VantageClient>,
    /// The probe's view of the vantage's resolvers.
    resolvers: &'a Resolvers,
    identity: &'a Identity,
    domain: &'a str,
    /// Whom OPTIONS come from: the tenant's `sip_from` when probing a partner.
    from: Option<&'a str>,
    deadline: Instant,
    scope: Scope,
}

/// Runs probes; built once per configuration.
pub struct Prober {
    vantages: HashMap<String, Arc<VantageClient>>,
    timeout: Duration,
    sip_options: bool,
    /// Validate DNSSEC (`global.dnssec`).
    dnssec: bool,
    /// The looks of shared edges (one connect + handshake per edge and round).
    pub edges: Arc<Edges>,
    /// Microsoft 365 evidence of configured domains by (vantage, domain).
    m365: m365::Cache,
    /// The latest health of every vantage.
    health: Board,
    /// The client certificate each tenant presents.
    identities: Identities,
    /// Who each tenant's OPTIONS to partners come from (`user@domain`).
    sip_from: HashMap<String, Arc<str>>,
}

impl Prober {
    /// Builds resolvers and TLS clients for every vantage of `config`.
    pub fn new(config: &Config) -> Result<Prober, Error> {
        let identities = Identities::load(config)?;
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
                tls: TlsClient::new()?,
                routes: Default::default(),
            };
            vantages.insert(v.name.clone(), Arc::new(client));
        }
        Ok(Prober {
            vantages,
            timeout: config.global.timeout,
            sip_options: config.global.sip_options,
            dnssec: config.global.dnssec,
            // Shorter than the half interval between two probes of one domain: no domain is
            // judged twice on the same look.
            edges: Arc::new(Edges::new(
                config.global.interval / 3,
                config.global.timeout,
                config.global.sip_options,
            )),
            m365: m365::Cache::default(),
            health: Board::default(),
            identities,
            sip_from: config
                .sip_from
                .iter()
                .map(|(tenant, from)| (tenant.clone(), from.to_string().into()))
                .collect(),
        })
    }

    /// The client certificate each tenant presents.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// The latest health of every vantage.
    pub fn health(&self) -> &Board {
        &self.health
    }

    /// Per address family, whether `vantage`'s host has a route for it, as its connections
    /// found (families not tried yet are missing).
    pub fn routes(&self, vantage: &str) -> Vec<(&'static str, bool)> {
        self.vantages
            .get(vantage)
            .map(|c| c.routes.known())
            .unwrap_or_default()
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
    /// do not answer even the health query; or every answer was NXDOMAIN and the vantage's
    /// resolvers fail the health check (NXDOMAIN for the root: a captive resolver).
    async fn dns_blind<'a>(
        &self,
        client: &VantageClient,
        answers: impl Iterator<Item = &'a Result<(), DnsFailure>>,
        deadline: Instant,
    ) -> Option<Blind> {
        let mut any = false;
        let mut local = false;
        let (mut all_ours, mut all_nxdomain) = (true, true);
        for a in answers {
            any = true;
            local |= *a == Err(DnsFailure::Local);
            all_nxdomain &= *a == Err(DnsFailure::Nxdomain);
            all_ours &= a.as_ref().is_err_and(|e| e.maybe_ours());
            if !all_ours && !all_nxdomain {
                return None;
            }
        }
        if !any {
            return None;
        }
        if all_nxdomain {
            // NXDOMAIN is the partner's answer unless the resolver says it for everything (a
            // captive or broken resolver: NXDOMAIN for the root itself). The scheduled
            // checker's fresh result decides, so a fleet of domains without SRV costs no
            // health query per probe; without one, checked now.
            let h = match self.health.fresh(&client.name) {
                Some(h) => h,
                None => self.health_of(client, deadline).await,
            };
            return (!h.resolvers_up).then_some(Blind::ResolversDown);
        }
        if local {
            return Some(Blind::LocalResources);
        }
        (!self.health_of(client, deadline).await.resolvers_up).then_some(Blind::ResolversDown)
    }

    /// Probes `domain` from `vantage` within the configured timeout.
    pub async fn gather(&self, domain: &Domain, vantage: &str) -> Facts {
        self.gather_scoped(domain, vantage, Scope::Configured).await
    }

    /// Probes `domain` from `vantage` as `scope` allows.
    pub async fn gather_scoped(&self, domain: &Domain, vantage: &str, scope: Scope) -> Facts {
        // A probe's state (every DNS lookup, handshake and transaction in flight) is about
        // 11 KiB: boxed, it exists only while the probe runs, not for the life of every
        // caller that may probe (the scheduler keeps one task per (domain, vantage): at 10,000
        // domains that was 115 MiB held for good).
        Box::pin(self.gather_now(domain, vantage, scope)).await
    }

    async fn gather_now(&self, domain: &Domain, vantage: &str, scope: Scope) -> Facts {
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
        // Every question of the probe goes through its view of the resolvers: the SRV target
        // is often a Microsoft 365 evidence name as well (`sip.<domain>`), asked once.
        let resolvers = client.resolvers.for_probe();
        let (srv, hosts) = self.hosts(client, &resolvers, domain, deadline).await;
        facts.srv = srv;
        let hosts = match hosts {
            Ok(hosts) => hosts,
            Err(blind) => {
                facts.blind = Some(blind);
                facts.duration_seconds = start.elapsed().as_secs_f64();
                return facts;
            }
        };
        let m365 = self.m365(client, &resolvers, &domain.name, scope);
        let authoritative = async {
            if domain.role == Role::Own && domain.federation == Federation::Open {
                let per_query = (self.timeout / 4).max(Duration::from_millis(200));
                Some(authoritative::gather(&resolvers, &domain.name, per_query).await)
            } else {
                None
            }
        };
        let identity = self.identities.of(&domain.tenant);
        // Partners are asked as the tenant; an own edge is not asked to accept itself.
        let from = match domain.role {
            Role::Peer => self.sip_from.get(&domain.tenant).map(|f| &**f),
            Role::Own => None,
        };
        let cx = ProbeContext {
            client,
            resolvers: &resolvers,
            identity,
            domain: &domain.name,
            from,
            deadline,
            scope,
        };
        let targets = futures::future::join_all(
            hosts
                .iter()
                .map(|(name, port)| self.target(&cx, name, *port)),
        );
        // Every step is bounded by the deadline on its own, so what finished in time is kept.
        let m365 = async { timeout_at(deadline, m365).await.ok().flatten() };
        let authoritative = async { timeout_at(deadline, authoritative).await.ok().flatten() };
        let (targets, m365, authoritative) = tokio::join!(targets, m365, authoritative);
        facts.blind = self.address_blind(client, &targets, deadline).await;
        if self.dnssec && facts.blind.is_none() {
            // Read from the answers the probe has (no question asked again); the DS and
            // DNSKEY sets come from the vantage's cache, fetched once per zone and TTL.
            let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            let srv_name = facts.srv.as_ref().map(|s| s.name.clone());
            let now = u32::try_from(
                started
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            )
            .unwrap_or(u32::MAX);
            let validation = resolvers.dnssec(srv_name.as_deref(), &names, now);
            facts.dnssec = timeout_at(deadline, validation).await.ok();
        }
        facts.targets = targets;
        facts.m365 = m365;
        facts.authoritative = authoritative;
        facts.duration_seconds = start.elapsed().as_secs_f64();
        facts
    }

    /// The hosts to connect to (name, port) and the SRV facts they came from: the direct
    /// route, or the SRV targets in priority/weight order (at most `MAX_TARGETS`); `Err` when
    /// the vantage could not look (its resolvers are down).
    async fn hosts(
        &self,
        client: &VantageClient,
        resolvers: &Resolvers,
        domain: &Domain,
        deadline: Instant,
    ) -> (Option<SrvFacts>, Result<Vec<(String, u16)>, Blind>) {
        let mut hosts: Vec<(String, u16)> = Vec::new();
        if domain.federation == Federation::Direct {
            if let Some(fqdn) = &domain.fqdn {
                hosts.push((fqdn.clone(), domain.port));
            }
            return (None, Ok(hosts));
        }
        let name = dns::absolute(&format!("_sipfederationtls._tcp.{}", domain.name));
        let answers = match timeout_at(deadline, resolvers.srv(&name)).await {
            Ok(a) => a,
            Err(_) => {
                vec![ResolverAnswer {
                    ede: None,
                    total: None,
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
            return (Some(srv), Err(blind));
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
        (Some(srv), Ok(hosts))
    }

    /// Whether the address lookups of `targets` left the vantage blind.
    async fn address_blind(
        &self,
        client: &VantageClient,
        targets: &[TargetFacts],
        deadline: Instant,
    ) -> Option<Blind> {
        let outcomes: Vec<Result<(), DnsFailure>> = targets
            .iter()
            .flat_map(|t| &t.address_answers)
            .map(|a| a.answer.as_ref().map(drop).map_err(|e| *e))
            .collect();
        if outcomes.contains(&Err(DnsFailure::Local)) {
            // A target we could not look up for want of sockets or memory: not the partner's.
            Some(Blind::LocalResources)
        } else {
            // Every address lookup failed in a way that may be ours: asked of the resolvers'
            // health (they may have died since the SRV answer).
            self.dns_blind(client, outcomes.iter(), deadline).await
        }
    }

    async fn target(&self, cx: &ProbeContext<'_>, name: &str, port: u16) -> TargetFacts {
        let ProbeContext {
            resolvers,
            deadline,
            ..
        } = *cx;
        let lookups = resolvers.addresses_and_cname(name);
        let (address_answers, cname) = match timeout_at(deadline, lookups).await {
            Ok(found) => found,
            Err(_) => (
                vec![ResolverAnswer {
                    ede: None,
                    total: None,
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
                let address = SocketAddr::new(*ip, port);
                self.endpoint(cx, name, address)
            });
            target.endpoints = futures::future::join_all(probes).await;
        }
        target
    }

    /// One address: the edge's shared look, then SIP OPTIONS for this domain on the edge's
    /// connection. Waiting for the look (a turn at the address, another probe's handshake)
    /// is not this probe's time: its deadline moves by the wait.
    async fn endpoint(
        &self,
        cx: &ProbeContext<'_>,
        target: &str,
        address: SocketAddr,
    ) -> EndpointFacts {
        let ProbeContext {
            client,
            identity,
            domain,
            from,
            deadline,
            scope,
            ..
        } = *cx;
        // An ad-hoc probe connects only where a public vantage would: never inside.
        let public = client.public || scope == Scope::AdHoc;
        if !crate::facts::may_connect(address.ip(), public) {
            return EndpointFacts {
                address,
                tcp: Err(Reason::ForbiddenAddress),
                tls: None,
                chain: Default::default(),
                sip: None,
                revocation: None,
                blind: None,
            };
        }
        let waiting = Instant::now();
        let (_use, edge) = self
            .edges
            .get(
                client,
                identity,
                address,
                target,
                scope == Scope::Configured,
            )
            .await;
        let deadline = deadline + waiting.elapsed();
        let mut facts = EndpointFacts {
            address,
            tcp: edge.tcp,
            tls: edge.tls.clone(),
            chain: edge.chain.clone(),
            sip: None,
            revocation: edge.revocation.clone(),
            blind: edge.blind,
        };
        if self.sip_options && facts.up() {
            facts.sip = edge.options(domain, from, deadline).await;
        }
        facts
    }

    /// Microsoft 365 evidence, reused for [`M365_FRESH`]; `None` when it could not be looked
    /// up for want of local resources (then nothing is kept). An ad-hoc probe's is never kept.
    async fn m365(
        &self,
        client: &VantageClient,
        resolvers: &Resolvers,
        domain: &str,
        scope: Scope,
    ) -> Option<M365Facts> {
        if let Some(facts) = self.m365.get(&client.name, domain, M365_FRESH) {
            return Some(facts);
        }
        let facts = m365::gather(resolvers, domain).await?;
        if scope == Scope::Configured {
            self.m365.insert(&client.name, domain, facts.clone());
        }
        Some(facts)
    }

    /// Microsoft 365 evidence entries and bytes kept.
    pub fn m365_cache_size(&self) -> (usize, usize) {
        self.m365.size()
    }
}

/// Every parsable certificate in a PEM file, or why there is none (unreadable file, no
/// certificate, nothing parsable): a wrong path must show, not hide the renewal check.
pub(crate) fn read_cert_file(
    path: &std::path::Path,
) -> Result<Vec<crate::facts::CertFacts>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let iter =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A read error (a directory, an I/O error) ends the iteration; it is the reason to give.
    let mut error = None;
    let certs: Vec<crate::facts::CertFacts> = iter
        .filter_map(|c| c.map_err(|e| error.get_or_insert(e.to_string())).ok())
        .take(64)
        .map(|c| cert::parse(&c))
        .filter(|c| c.parsed.is_some())
        .collect();
    if certs.is_empty() {
        let why = error.unwrap_or_else(|| "no parsable certificate".into());
        return Err(format!("{}: {why}", path.display()));
    }
    Ok(certs)
}
