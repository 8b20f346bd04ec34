//! The store: the configuration in force with everything built from it ([`Setup`]), the facts
//! of every (domain, vantage)'s latest probe and the one [`DomainReport`] judged from them, and
//! the exporter's own counters ([`stats`]). The [`scheduler`] fills it; every view reads it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use tokio::sync::{Notify, Semaphore};

use crate::config::{Config, Domain, Role, Selection};
use crate::error::Error;
use crate::facts::{Facts, unix};
use crate::gather::probe::Prober;
pub use crate::gather::probe::Scope;
use crate::judge::pairs::{self, OwnSide, Pair};
use crate::judge::{self, DomainReport, Env, Tenant, Tenants, TrustStore, VantageFacts};

#[cfg(test)]
mod bench_verdicts;
pub mod check;
pub mod scheduler;
pub mod stats;
pub mod workers;

use stats::Stats;

/// Identifies one (tenant, domain, vantage) probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey {
    pub tenant: String,
    pub domain: String,
    pub vantage: String,
}

/// Identifies a domain's report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainKey {
    pub tenant: String,
    pub domain: String,
}

impl DomainKey {
    pub fn of(d: &Domain) -> DomainKey {
        DomainKey {
            tenant: d.tenant.clone(),
            domain: d.name.clone(),
        }
    }
}

/// A configuration with everything built from it: resolvers and TLS clients per vantage, the
/// trust store, the bound on probes in flight.
pub struct Setup {
    pub config: Config,
    pub prober: Prober,
    pub trust: Arc<TrustStore>,
    /// The built-in roots alone (`cert_client_auth_kept`).
    pub public: TrustStore,
    /// Each tenant's identity for judging: client certificate, inbound trust.
    pub tenants: Tenants,
    /// Bounds probes in flight (`global.concurrency`).
    pub slots: Arc<Semaphore>,
    /// Position of each domain in `config.domains`.
    index: HashMap<DomainKey, usize>,
    /// Position of each shadow domain in `config.shadow` (probed, not exposed).
    shadow_index: HashMap<DomainKey, usize>,
    /// Each tenant's probed domains with their roles: whose verdicts a change of the tenant's
    /// own side renews, and which decide it.
    by_tenant: HashMap<String, Vec<(DomainKey, Role)>>,
    /// (domain, vantage) pairs the configuration probes.
    pairs: usize,
}

impl Setup {
    /// Builds resolvers, TLS clients and the trust store for `config`.
    pub fn new(config: Config) -> Result<Setup, Error> {
        let prober = Prober::new(&config)?;
        let trust = Arc::new(TrustStore::load(config.global.ca_file.as_deref())?);
        let tenants = tenants(&config, &prober, &trust)?;
        let slots = Arc::new(Semaphore::new(config.global.concurrency));
        let index = config
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| (DomainKey::of(d), i))
            .collect();
        let shadow_index = config
            .shadow
            .iter()
            .enumerate()
            .map(|(i, d)| (DomainKey::of(d), i))
            .collect();
        let mut by_tenant: HashMap<String, Vec<(DomainKey, Role)>> = HashMap::new();
        for d in config.domains.iter().chain(&config.shadow) {
            let entry = by_tenant.entry(d.tenant.clone()).or_default();
            entry.push((DomainKey::of(d), d.role));
        }
        let pairs = config
            .domains
            .iter()
            .chain(&config.shadow)
            .map(|d| d.vantages.len())
            .sum();
        Ok(Setup {
            config,
            prober,
            trust,
            public: TrustStore::public(),
            tenants,
            slots,
            index,
            shadow_index,
            by_tenant,
            pairs,
        })
    }

    /// The configured domain with this key (exposed by this instance).
    pub fn domain(&self, key: &DomainKey) -> Option<&Domain> {
        self.config.domains.get(*self.index.get(key)?)
    }

    /// The domain with this key that this instance probes: exposed, or a shadow.
    pub fn probed_domain(&self, key: &DomainKey) -> Option<&Domain> {
        self.domain(key)
            .or_else(|| self.config.shadow.get(*self.shadow_index.get(key)?))
    }

    /// Every domain this instance probes: the exposed ones, then the shadows.
    pub fn probed(&self) -> impl Iterator<Item = &Domain> {
        self.config.domains.iter().chain(&self.config.shadow)
    }

    /// What judging needs, at the current time.
    pub fn env(&self) -> Env<'_> {
        Env {
            now: unix(SystemTime::now()) as i64,
            trust: &self.trust,
            cert_warning_days: self.config.global.cert_warning_days,
            tenants: &self.tenants,
            public: &self.public,
        }
    }

    /// Labels facts with their vantage's properties for judging.
    pub fn vantage_facts(&self, vantage: &str, facts: Arc<Facts>) -> VantageFacts {
        VantageFacts {
            vantage: vantage.to_string(),
            public: self.config.vantage(vantage).is_some_and(|v| v.public),
            facts,
        }
    }

    /// Probes `domain` from each of `vantages` at once and judges the result (no store
    /// involved): `/probe` and `check`.
    pub async fn probe(&self, domain: &Domain, vantages: &[String]) -> DomainReport {
        self.probe_scoped(domain, vantages, Scope::Configured).await
    }

    /// [`Setup::probe`] as `scope` allows (`/probe` of an unconfigured domain: ad hoc).
    pub async fn probe_scoped(
        &self,
        domain: &Domain,
        vantages: &[String],
        scope: Scope,
    ) -> DomainReport {
        let gathered = futures::future::join_all(vantages.iter().map(|v| async move {
            let _slot = self.slots.acquire().await;
            let facts = self.prober.gather_scoped(domain, v, scope).await;
            self.vantage_facts(v, Arc::new(facts))
        }))
        .await;
        let report = judge::domain(domain, &self.env(), &gathered);
        match scope {
            Scope::Configured => report,
            // An ad-hoc answer reads out no inside resolver's private answers.
            Scope::AdHoc => report.without_inside_addresses(),
        }
    }

    /// Probes every domain of `domains` from its vantages, at most `concurrency` probes at a
    /// time; reports in domain order.
    pub async fn probe_each(&self, domains: &[Domain]) -> Vec<DomainReport> {
        futures::future::join_all(domains.iter().map(|d| self.probe(d, &d.vantages))).await
    }
}

/// The domain a view asks for by name (and tenant, when given): the configured one
/// ([`Scope::Configured`]), else a peer of that name probed from every vantage
/// ([`Scope::AdHoc`]; whether that is allowed is the caller's to say). `name` is normalised.
pub fn lookup(config: &Config, name: &str, tenant: Option<&str>) -> (Domain, Scope) {
    let configured = config
        .domains
        .iter()
        .find(|d| d.name == name && tenant.is_none_or(|t| d.tenant == t));
    if let Some(d) = configured {
        return (d.clone(), Scope::Configured);
    }
    let vantages = config.vantages.iter().map(|v| v.name.clone()).collect();
    let mut d = Domain::peer(name.to_string(), vantages);
    if let Some(t) = tenant {
        d.tenant = t.to_string();
    }
    (d, Scope::AdHoc)
}

/// Every tenant's identity as judging sees it: the client certificate its probes present and
/// what its edge trusts inbound (its `inbound_ca_file`, else the global trust store).
fn tenants(config: &Config, prober: &Prober, trust: &Arc<TrustStore>) -> Result<Tenants, Error> {
    let identities = prober.identities();
    let default = Tenant {
        client_cert: identities.global().chain.clone(),
        inbound: trust.clone(),
    };
    let mut out = Tenants::uniform(default);
    for (name, t) in &config.tenants {
        let inbound = match &t.inbound_ca_file {
            Some(path) => Arc::new(TrustStore::load_only(path).map_err(|e| Error::Config {
                location: format!("tenant {name:?}: inbound_ca_file"),
                message: e.to_string(),
            })?),
            None => trust.clone(),
        };
        out.by_name.insert(
            name.clone(),
            Tenant {
                client_cert: identities.of(name).chain.clone(),
                inbound,
            },
        );
    }
    Ok(out)
}

/// The latest facts of one domain's vantages, the report judged from them and, for a
/// partner, its pair verdicts.
struct Entry {
    facts: HashMap<String, Arc<Facts>>,
    /// Bumped on every new fact, so a report judged from an older set never replaces a newer.
    generation: u64,
    report: Option<Arc<DomainReport>>,
    /// The partner's pair verdicts, its report completed with its tenant's own side as the
    /// store holds it: the one place they are decided (empty for own domains).
    verdicts: Arc<[Pair]>,
}

impl Entry {
    fn empty() -> Entry {
        Entry {
            facts: HashMap::new(),
            generation: 0,
            report: None,
            verdicts: Arc::from(Vec::new()),
        }
    }
}

/// Every domain's entry and every tenant's own side, under one lock, so a verdict always
/// matches the own side beside it.
#[derive(Default)]
struct Entries {
    map: HashMap<DomainKey, Entry>,
    /// Each tenant's own side of inbound federation, from its own domains' latest reports.
    own: HashMap<String, OwnSide>,
}

impl Entries {
    fn get(&self, key: &DomainKey) -> Option<&Entry> {
        self.map.get(key)
    }

    /// The partner's verdicts from its report and its tenant's own side.
    fn judge_pairs(&mut self, key: &DomainKey) {
        let own = self.own.get(&key.tenant);
        if let Some(entry) = self.map.get_mut(key) {
            entry.verdicts = match &entry.report {
                Some(r) => Arc::from(pairs::ready(r, own)),
                None => Arc::from(Vec::new()),
            };
        }
    }

    /// The tenant's own side again from its own domains, and, when it changed, every verdict
    /// of its partners: O(domains of the tenant).
    fn renew_tenant(&mut self, setup: &Setup, tenant: &str) {
        let Some(domains) = setup.by_tenant.get(tenant) else {
            self.own.remove(tenant);
            return;
        };
        let side = {
            let own_reports = domains
                .iter()
                .filter(|(_, role)| *role == Role::Own)
                .filter_map(|(k, _)| self.map.get(k)?.report.as_deref());
            pairs::own_sides(own_reports)
                .remove(tenant)
                .unwrap_or_default()
        };
        if self.own.get(tenant).is_some_and(|o| o.same_as(&side)) {
            return;
        }
        self.own.insert(tenant.to_string(), side);
        for (k, _) in domains.iter().filter(|(_, role)| *role == Role::Peer) {
            self.judge_pairs(k);
        }
    }
}

/// The running exporter's state: the setup in force, latest facts and reports, own counters.
pub struct Store {
    setup: RwLock<Arc<Setup>>,
    entries: RwLock<Entries>,
    /// (domain, vantage) pairs of the setup in force with facts; changed under the entries
    /// lock (readiness is polled often: counting would cost a pass over every domain).
    covered: AtomicUsize,
    pub stats: Stats,
    /// Where the configuration is reloaded from (`None`: built in code, e.g. the demo).
    pub config_file: Option<PathBuf>,
    /// What this instance probes of the configuration (`--vantage`, `--shard`).
    pub selection: Selection,
    reloaded: Notify,
    /// Serialises reloads.
    reloading: Mutex<()>,
}

impl Store {
    pub fn new(setup: Setup, config_file: Option<PathBuf>, selection: Selection) -> Arc<Store> {
        let stats = Stats::default();
        stats.reloaded(true);
        Arc::new(Store {
            setup: RwLock::new(Arc::new(setup)),
            entries: RwLock::new(Entries::default()),
            covered: AtomicUsize::new(0),
            stats,
            config_file,
            selection,
            reloaded: Notify::new(),
            reloading: Mutex::new(()),
        })
    }

    /// The setup in force.
    pub fn setup(&self) -> Arc<Setup> {
        self.setup.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The latest health of every vantage of the setup in force that has been checked, in
    /// configuration order.
    pub fn vantage_health(&self) -> Vec<(String, crate::gather::vantage::Health)> {
        let setup = self.setup();
        setup
            .config
            .vantages
            .iter()
            .filter_map(|v| Some((v.name.clone(), setup.prober.health().get(&v.name)?)))
            .collect()
    }

    /// Per vantage and address family, whether the vantage's host has a route for it
    /// (`sipfed_vantage_address_family_up`), for the families its connections tried.
    pub fn vantage_routes(&self) -> Vec<(String, &'static str, bool)> {
        let setup = self.setup();
        setup
            .config
            .vantages
            .iter()
            .flat_map(|v| {
                setup
                    .prober
                    .routes(&v.name)
                    .into_iter()
                    .map(|(family, up)| (v.name.clone(), family, up))
            })
            .collect()
    }

    /// The latest report of a domain.
    pub fn report(&self, key: &DomainKey) -> Option<Arc<DomainReport>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(key).and_then(|e| e.report.clone())
    }

    /// The latest report of every configured domain that has one, in configuration order,
    /// under one read lock.
    pub fn reports(&self, config: &Config) -> Vec<Arc<DomainReport>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        config
            .domains
            .iter()
            .filter_map(|d| entries.get(&DomainKey::of(d))?.report.clone())
            .collect()
    }

    /// [`Store::reports`] with each one's pair verdicts as the store decided them, under one
    /// read lock (`/metrics`, the status page).
    pub fn judged(&self, config: &Config) -> Vec<(Arc<DomainReport>, Arc<[Pair]>)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        config
            .domains
            .iter()
            .filter_map(|d| {
                let e = entries.get(&DomainKey::of(d))?;
                Some((e.report.clone()?, e.verdicts.clone()))
            })
            .collect()
    }

    /// The latest report of a domain with its pair verdicts (empty for own domains).
    pub fn report_judged(&self, key: &DomainKey) -> Option<(Arc<DomainReport>, Arc<[Pair]>)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(key)?;
        Some((e.report.clone()?, e.verdicts.clone()))
    }

    /// A tenant's own side as the store holds it: what a fresh report of one of its partners
    /// (`/probe`) is completed with.
    pub fn own_side(&self, tenant: &str) -> Option<OwnSide> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.own.get(tenant).cloned()
    }

    /// Whether the (domain, vantage) has facts yet.
    pub fn has_facts(&self, key: &ProbeKey) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let dk = DomainKey {
            tenant: key.tenant.clone(),
            domain: key.domain.clone(),
        };
        entries
            .get(&dk)
            .is_some_and(|e| e.facts.contains_key(&key.vantage))
    }

    /// How many configured (domain, vantage) pairs have facts, of how many.
    pub fn coverage(&self) -> (usize, usize) {
        // Under the entries lock: a reload swaps the setup and recounts under it.
        let _entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        (self.covered.load(Ordering::Relaxed), self.setup().pairs)
    }

    /// Stores a probe's facts and judges the domain again from the latest facts of all its
    /// vantages; returns whether that vantage's probe succeeded (no critical check failed), or
    /// `None` when the configuration in force no longer has this (domain, vantage) as probed
    /// (a reload changed it meanwhile): then nothing is stored.
    pub fn record(&self, domain: &Domain, vantage: &str, facts: Arc<Facts>) -> Option<bool> {
        let key = DomainKey::of(domain);
        let (setup, generation, snapshot) = {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            // Under the entries lock: a reload swaps the setup before it re-judges under this
            // lock, so a result of the old configuration either lands before or not at all.
            let setup = self.setup();
            if setup.probed_domain(&key) != Some(domain)
                || !domain.vantages.iter().any(|v| v == vantage)
            {
                return None;
            }
            let entry = entries.map.entry(key.clone()).or_insert_with(Entry::empty);
            if entry.facts.insert(vantage.to_string(), facts).is_none() {
                self.covered.fetch_add(1, Ordering::Relaxed);
            }
            entry.generation += 1;
            let snapshot = latest(&setup, domain, entry);
            (setup, entry.generation, snapshot)
        };
        let report = Arc::new(judge::domain(domain, &setup.env(), &snapshot));
        let success = report
            .vantages
            .iter()
            .find(|v| v.vantage == vantage)
            .is_some_and(|v| v.success);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.map.get_mut(&key)
            && entry.generation == generation
        {
            entry.report = Some(report);
            // The verdicts are decided here, once: a partner's from its tenant's own side; an
            // own domain's report may change that side, and with it its partners' verdicts.
            match domain.role {
                Role::Peer => entries.judge_pairs(&key),
                Role::Own => entries.renew_tenant(&setup, &key.tenant),
            }
        }
        Some(success)
    }

    /// Re-reads the configuration file; on any error the running configuration stays.
    pub fn reload(&self) -> Result<(), Error> {
        let outcome = self.try_reload();
        self.stats.reloaded(outcome.is_ok());
        match &outcome {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "reload failed, keeping the running configuration")
            }
        }
        outcome
    }

    fn try_reload(&self) -> Result<(), Error> {
        // One reload at a time: SIGHUP and POST /-/reload may arrive together.
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let Some(path) = &self.config_file else {
            return Ok(());
        };
        let mut config = Config::load(path)?;
        config.select(&self.selection)?;
        let setup = Arc::new(Setup::new(config)?);
        {
            // The swap happens under the entries lock, so `record` sees either the old setup
            // and stores before the re-judging, or the new one and checks against it.
            let _entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            *self.setup.write().unwrap_or_else(|p| p.into_inner()) = setup.clone();
        }
        self.rejudge(&setup);
        self.reloaded.notify_waiters();
        Ok(())
    }

    /// Drops what the configuration no longer asks for and judges every domain again under
    /// it (a changed role changes severities at once).
    fn rejudge(&self, setup: &Setup) {
        let mut guard = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let entries = &mut *guard;
        let wanted: HashSet<DomainKey> = setup.probed().map(DomainKey::of).collect();
        entries.map.retain(|k, _| wanted.contains(k));
        let env = setup.env();
        for d in setup.probed() {
            let Some(entry) = entries.map.get_mut(&DomainKey::of(d)) else {
                continue;
            };
            entry.facts.retain(|v, _| d.vantages.contains(v));
            entry.generation += 1;
            let snapshot = latest(setup, d, entry);
            entry.report =
                (!snapshot.is_empty()).then(|| Arc::new(judge::domain(d, &env, &snapshot)));
        }
        // Every tenant's own side and every verdict again, under the new configuration.
        entries.own.clear();
        for tenant in setup.by_tenant.keys() {
            entries.renew_tenant(setup, tenant);
        }
        let covered = entries.map.values().map(|e| e.facts.len()).sum();
        self.covered.store(covered, Ordering::Relaxed);
    }
}

/// The latest facts of the domain's vantages, in configuration order.
fn latest(setup: &Setup, domain: &Domain, entry: &Entry) -> Vec<VantageFacts> {
    domain
        .vantages
        .iter()
        .filter_map(|v| Some(setup.vantage_facts(v, entry.facts.get(v)?.clone())))
        .collect()
}

/// Every (tenant, domain, vantage) the configuration asks for.
pub fn keys(config: &Config) -> impl Iterator<Item = ProbeKey> + '_ {
    config.domains.iter().flat_map(|d| {
        d.vantages.iter().map(move |v| ProbeKey {
            tenant: d.tenant.clone(),
            domain: d.name.clone(),
            vantage: v.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/probe` and `check` find a domain the same way: configured (of the tenant, when one is
    /// named), else an ad-hoc peer probed from every vantage.
    #[test]
    fn lookup_finds_the_configured_domain_else_an_ad_hoc_peer() {
        let yaml = "vantages:\n  inside:\n    resolvers: [\"127.0.0.1:9\"]\n  outside:\n    resolvers: [\"127.0.0.1:9\"]\n    public: true\ndomains:\n  - domain: kanzlei.de\n    tenant: acme\n    role: own\n    fqdn: sip.kanzlei.de\n    vantages: [inside]\n";
        let config = Config::parse(std::path::Path::new("test.yml"), yaml).expect("test config");
        let (d, scope) = lookup(&config, "kanzlei.de", None);
        assert_eq!(
            (d.tenant.as_str(), d.role, d.vantages.clone(), scope),
            (
                "acme",
                crate::config::Role::Own,
                vec!["inside".to_string()],
                Scope::Configured
            )
        );
        let (d, scope) = lookup(&config, "kanzlei.de", Some("acme"));
        assert_eq!(
            (d.role, scope),
            (crate::config::Role::Own, Scope::Configured)
        );
        // Another tenant's question about the same name is an ad-hoc peer of that tenant.
        let (d, scope) = lookup(&config, "kanzlei.de", Some("beta"));
        assert_eq!(
            (d.tenant.as_str(), d.role, scope),
            ("beta", crate::config::Role::Peer, Scope::AdHoc)
        );
        let (d, scope) = lookup(&config, "partner.example", None);
        assert_eq!(
            (d.name.as_str(), d.role, d.vantages, scope),
            (
                "partner.example",
                crate::config::Role::Peer,
                vec!["inside".to_string(), "outside".to_string()],
                Scope::AdHoc
            )
        );
    }

    /// A reload moves only the domains whose entries changed their tenant or name: the shards'
    /// sets before and after differ by exactly those (here: one whose tenant changed, one
    /// added, one removed), whatever else changed in the entries.
    #[test]
    fn a_reload_moves_only_the_domains_whose_entries_changed() {
        use crate::config::Shard;
        let dir = std::env::temp_dir().join(format!("sipfed-shard-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("c.yml");
        let head = "vantages:\n  inside:\n    resolvers: [\"127.0.0.1:9\"]\ndomains:\n";
        let entry = |i: usize, tenant: &str, port: u16| {
            format!(
                "  - {{domain: d{i}.example, tenant: {tenant}, port: {port}, fqdn: sip.d{i}.example, federation: direct}}\n"
            )
        };
        // d3 moves to a tenant that puts it on another shard.
        let before_tenant = "t3";
        let moved_tenant = (0..)
            .map(|k| format!("m{k}"))
            .find(|t| {
                crate::shard::shard_of(t, "d3.example", 3)
                    != crate::shard::shard_of(before_tenant, "d3.example", 3)
            })
            .expect("some tenant moves it");
        let mut before = String::from(head);
        let mut after = String::from(head);
        for i in 0..30 {
            let tenant = format!("t{}", i % 5);
            before.push_str(&entry(
                i,
                if i == 3 { before_tenant } else { &tenant },
                5061,
            ));
            match i {
                0 => {}
                3 => after.push_str(&entry(i, &moved_tenant, 5061)),
                // Changed entries that keep tenant and name stay where they are.
                5 | 6 => after.push_str(&entry(i, &tenant, 5062)),
                _ => after.push_str(&entry(i, &tenant, 5061)),
            }
        }
        after.push_str(&entry(30, "t0", 5061));
        let owned = |store: &Store| -> HashSet<String> {
            store
                .setup()
                .config
                .domains
                .iter()
                .map(|d| format!("{}/{}", d.tenant, d.name))
                .collect()
        };
        std::fs::write(&path, &before).expect("write config");
        let stores: Vec<Arc<Store>> = (0..3)
            .map(|i| {
                let selection = Selection {
                    vantages: Vec::new(),
                    shard: Some(Shard { index: i, count: 3 }),
                };
                let mut config = Config::load(&path).expect("config");
                config.select(&selection).expect("select");
                Store::new(
                    Setup::new(config).expect("setup"),
                    Some(path.clone()),
                    selection,
                )
            })
            .collect();
        let before_sets: Vec<HashSet<String>> = stores.iter().map(|s| owned(s)).collect();
        std::fs::write(&path, &after).expect("write config");
        for s in &stores {
            s.reload().expect("reload");
        }
        let mut moved: Vec<String> = Vec::new();
        for (i, s) in stores.iter().enumerate() {
            let now = owned(s);
            moved.extend(
                before_sets[i]
                    .symmetric_difference(&now)
                    .map(|d| format!("{d} {}", if now.contains(d) { "in" } else { "out" })),
            );
        }
        moved.sort();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            moved,
            vec![
                format!("{moved_tenant}/d3.example in"),
                "t0/d0.example out".to_string(),
                "t0/d30.example in".to_string(),
                "t3/d3.example out".to_string(),
            ]
        );
    }

    /// The store decides a partner's verdicts when its report is recorded and again when its
    /// tenant's own side changes, and only then: a new report of the own domain that changes
    /// the own side renews the partner's verdicts without the partner being probed again; one
    /// that leaves it as it was, or another tenant's, leaves them be.
    #[test]
    fn an_own_domains_new_report_renews_its_partners_verdicts() {
        use crate::facts::{CertFacts, EndpointFacts};
        let yaml = "vantages:\n  inside:\n    resolvers: [\"127.0.0.1:9\"]\ndomains:\n  - {domain: partner.example, tenant: acme}\n  - {domain: example.com, tenant: acme, role: own, fqdn: sip.example.com}\n  - {domain: other.example, tenant: beta}\n";
        let config = Config::parse(std::path::Path::new("t.yml"), yaml).expect("config");
        let store = Store::new(
            Setup::new(config).expect("setup"),
            None,
            Selection::default(),
        );
        let setup = store.setup();
        let [partner, ours, other] = [0, 1, 2].map(|i| setup.config.domains[i].clone());
        let verdicts = |d: &Domain| store.report_judged(&DomainKey::of(d)).expect("judged").1;
        let failing = || {
            store
                .own_side("acme")
                .and_then(|o| o.failing)
                .map(|(d, _, f)| (d, f.check.as_str()))
        };
        store.record(&partner, "inside", Arc::new(Facts::two_endpoints()));
        store.record(&other, "inside", Arc::new(Facts::two_endpoints()));
        let (first, theirs) = (verdicts(&partner), verdicts(&other));
        assert!(!first.is_empty());
        // Our own domain's only address refuses TCP: a new own side, new verdicts.
        let down = || {
            Facts::test()
                .srv(&[("sip.example.com", 5061)])
                .target("sip.example.com", 5061, &["192.0.2.1"])
                .endpoint(EndpointFacts::refused(
                    "192.0.2.1:5061",
                    crate::facts::Reason::ConnectionRefused,
                ))
        };
        store.record(&ours, "inside", Arc::new(down()));
        assert_eq!(failing(), Some(("example.com".into(), "tcp_connect")));
        let second = verdicts(&partner);
        assert!(!Arc::ptr_eq(&first, &second), "renewed");
        assert!(Arc::ptr_eq(&theirs, &verdicts(&other)), "beta's untouched");
        // The same own side again: nothing to renew.
        store.record(&ours, "inside", Arc::new(down()));
        assert!(Arc::ptr_eq(&second, &verdicts(&partner)));
        // Fixed reachability (one address, serving): the own side changes, so do the verdicts.
        let fixed = Facts::test()
            .srv(&[("sip.example.com", 5061)])
            .target("sip.example.com", 5061, &["192.0.2.1"])
            .endpoint(
                EndpointFacts::serving(
                    "192.0.2.1:5061",
                    vec![CertFacts::valid(&["sip.example.com"])],
                )
                .sip(Ok(200)),
            );
        store.record(&ours, "inside", Arc::new(fixed));
        assert_ne!(failing().map(|f| f.1), Some("tcp_connect"));
        assert!(!Arc::ptr_eq(&second, &verdicts(&partner)), "renewed again");
    }
}
