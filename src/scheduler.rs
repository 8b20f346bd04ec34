//! Scheduling: every (domain, vantage) probed once per interval, the first round at once, then
//! at a stable per-domain offset; at most `concurrency` probes in flight; the latest result of
//! each kept in the store; configuration swapped atomically on reload.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::client::WebPkiServerVerifier;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::checks::{self, Context, Finding};
use crate::config::{Config, Domain, Selection};
use crate::error::Error;
use crate::facts::Facts;
use crate::metrics::SelfMetrics;
use crate::probe::{Prober, unix};
use crate::tls;

/// Identifies a stored result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    pub tenant: String,
    pub domain: String,
    pub vantage: String,
}

/// The latest probe of one (tenant, domain, vantage): facts and their judgement.
#[derive(Debug)]
pub struct ProbeResult {
    pub facts: Facts,
    pub findings: Vec<Finding>,
    pub success: bool,
    /// Unix seconds when the probe ended.
    pub finished_at: f64,
}

/// A configuration with everything built from it.
pub struct Runtime {
    pub config: Config,
    pub prober: Prober,
    pub trust: Arc<WebPkiServerVerifier>,
    /// Bounds probes in flight (`global.concurrency`).
    pub slots: Arc<Semaphore>,
}

impl Runtime {
    /// Builds resolvers, TLS clients and the trust store for `config`.
    pub fn new(config: Config) -> Result<Runtime, Error> {
        let prober = Prober::new(&config)?;
        let trust = tls::trust_verifier(config.global.ca_file.as_deref())?;
        let slots = Arc::new(Semaphore::new(config.global.concurrency));
        Ok(Runtime {
            config,
            prober,
            trust,
            slots,
        })
    }

    /// Probes and judges one domain from one vantage (no store involved).
    pub async fn probe(&self, domain: &Domain, vantage: &str) -> ProbeResult {
        let facts = self.prober.gather(domain, vantage).await;
        self.judge(domain, facts)
    }

    /// Probes every (domain, vantage) of `domains` once, at most `concurrency` at a time, for
    /// one-shot uses (`check`, tests, benchmarks); results in domain then vantage order.
    pub async fn probe_each(&self, domains: &[Domain]) -> Vec<(ProbeKey, ProbeResult)> {
        let probes = domains.iter().flat_map(|d| {
            d.vantages.iter().map(move |v| async move {
                let _slot = self.slots.acquire().await;
                let key = ProbeKey {
                    tenant: d.tenant.clone(),
                    domain: d.name.clone(),
                    vantage: v.clone(),
                };
                (key, self.probe(d, v).await)
            })
        });
        futures::future::join_all(probes).await
    }

    /// Judges facts now.
    pub fn judge(&self, domain: &Domain, facts: Facts) -> ProbeResult {
        let now = SystemTime::now();
        let ctx = Context {
            facts: &facts,
            domain,
            now: unix(now) as i64,
            trust: &self.trust,
            cert_warning_days: self.config.global.cert_warning_days,
            stored_certs: facts.stored_certs.as_deref(),
            vantage_public: self
                .config
                .vantage(&facts.vantage)
                .is_some_and(|v| v.public),
        };
        let findings = checks::judge(&ctx);
        let success = checks::probe_success(&findings);
        ProbeResult {
            facts,
            findings,
            success,
            finished_at: unix(SystemTime::now()),
        }
    }
}

/// The running exporter: current runtime, results, self metrics.
pub struct Exporter {
    runtime: RwLock<Arc<Runtime>>,
    results: RwLock<HashMap<ProbeKey, Arc<ProbeResult>>>,
    pub metrics: SelfMetrics,
    /// Where the configuration is reloaded from (`None`: built in code, e.g. the demo).
    pub config_file: Option<PathBuf>,
    /// What this instance probes of the configuration (`--vantage`, `--shard`).
    pub selection: Selection,
    reloaded: Notify,
}

impl Exporter {
    pub fn new(
        runtime: Runtime,
        config_file: Option<PathBuf>,
        selection: Selection,
    ) -> Arc<Exporter> {
        let metrics = SelfMetrics::new();
        metrics.reload(true);
        metrics.set_interval(runtime.config.global.interval);
        Arc::new(Exporter {
            runtime: RwLock::new(Arc::new(runtime)),
            results: RwLock::new(HashMap::new()),
            metrics,
            config_file,
            selection,
            reloaded: Notify::new(),
        })
    }

    /// The runtime in force.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The latest result for a key.
    pub fn result(&self, key: &ProbeKey) -> Option<Arc<ProbeResult>> {
        self.results
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// The latest result of every configured (tenant, domain, vantage) that has one, in
    /// configuration order, under one read lock.
    pub fn results_of(&self, config: &Config) -> Vec<(ProbeKey, Arc<ProbeResult>)> {
        let results = self.results.read().unwrap_or_else(|p| p.into_inner());
        keys(config)
            .filter_map(|k| results.get(&k).cloned().map(|r| (k, r)))
            .collect()
    }

    /// How many configured (domain, vantage) pairs have a result, of how many.
    pub fn coverage(&self) -> (usize, usize) {
        let rt = self.runtime();
        (self.results_of(&rt.config).len(), keys(&rt.config).count())
    }

    fn store(&self, key: ProbeKey, result: ProbeResult) {
        self.results
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::new(result));
    }

    /// Re-reads the configuration file; on any error the running configuration stays.
    pub fn reload(&self) -> Result<(), Error> {
        let outcome = self.try_reload();
        self.metrics.reload(outcome.is_ok());
        match &outcome {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "reload failed, keeping the running configuration")
            }
        }
        outcome
    }

    fn try_reload(&self) -> Result<(), Error> {
        let Some(path) = &self.config_file else {
            return Ok(());
        };
        let mut config = Config::load(path)?;
        config.select(&self.selection)?;
        let runtime = Runtime::new(config)?;
        self.metrics.set_interval(runtime.config.global.interval);
        let wanted: std::collections::HashSet<ProbeKey> = keys(&runtime.config).collect();
        *self.runtime.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(runtime);
        self.results
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| wanted.contains(k));
        self.reloaded.notify_waiters();
        Ok(())
    }
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

/// Runs probes until `shutdown`; restarts the schedule (keeping results) on every reload.
pub async fn run(exporter: Arc<Exporter>, shutdown: CancellationToken) {
    loop {
        // Listen for reloads before reading the runtime, so none slips in between.
        let reloaded = exporter.reloaded.notified();
        tokio::pin!(reloaded);
        reloaded.as_mut().enable();
        let round = shutdown.child_token();
        let tracker = TaskTracker::new();
        let rt = exporter.runtime();
        for domain in &rt.config.domains {
            for vantage in &domain.vantages {
                let key = ProbeKey {
                    tenant: domain.tenant.clone(),
                    domain: domain.name.clone(),
                    vantage: vantage.clone(),
                };
                let at_once = exporter.result(&key).is_none();
                tracker.spawn(probe_loop(
                    exporter.clone(),
                    rt.clone(),
                    domain.clone(),
                    key,
                    at_once,
                    round.clone(),
                ));
            }
        }
        tracker.close();
        tokio::select! {
            _ = shutdown.cancelled() => {
                tracker.wait().await;
                return;
            }
            _ = reloaded => {
                round.cancel();
                tracker.wait().await;
            }
        }
    }
}

async fn probe_loop(
    exporter: Arc<Exporter>,
    rt: Arc<Runtime>,
    domain: Domain,
    key: ProbeKey,
    mut at_once: bool,
    cancel: CancellationToken,
) {
    let interval = rt.config.global.interval;
    let offset = offset(&key, interval);
    let mut last_start: Option<f64> = None;
    loop {
        if !at_once {
            let now = unix(SystemTime::now());
            let wait = until_next_slot(now, last_start, interval, offset);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        at_once = false;
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = rt.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        last_start = Some(unix(SystemTime::now()));
        exporter.metrics.probe_started();
        let facts = tokio::select! {
            _ = cancel.cancelled() => {
                exporter.metrics.probe_cancelled();
                return;
            }
            f = rt.prober.gather(&domain, &key.vantage) => f,
        };
        drop(permit);
        let mut result = rt.judge(&domain, facts);
        explain_across_vantages(&exporter, &rt, &domain, &key, &mut result);
        result.facts.shed_der();
        exporter
            .metrics
            .probe_finished(&key.vantage, result.success);
        tracing::debug!(domain = %key.domain, vantage = %key.vantage, success = result.success, "probe finished");
        exporter.store(key.clone(), result);
    }
}

fn explain_across_vantages(
    exporter: &Exporter,
    rt: &Runtime,
    domain: &Domain,
    key: &ProbeKey,
    result: &mut ProbeResult,
) {
    let public = |v: &str| rt.config.vantage(v).is_some_and(|v| v.public);
    let others: Vec<(bool, Arc<ProbeResult>)> = domain
        .vantages
        .iter()
        .filter(|v| **v != key.vantage)
        .filter_map(|v| {
            let k = ProbeKey {
                vantage: v.clone(),
                ..key.clone()
            };
            exporter.result(&k).map(|r| (public(v), r))
        })
        .collect();
    let views: Vec<(bool, &[Finding])> = others
        .iter()
        .map(|(p, r)| (*p, r.findings.as_slice()))
        .collect();
    crate::compare::explain(domain, public(&key.vantage), &mut result.findings, &views);
}

/// A stable offset within the interval, from the key's name (FNV-1a), so rounds spread evenly
/// and the same domain probes at the same phase across restarts.
pub fn offset(key: &ProbeKey, interval: Duration) -> Duration {
    let h = crate::config::fnv1a(&[&key.tenant, &key.domain, &key.vantage], 0);
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

/// How long to wait from `now` (unix seconds) until the next slot `k * interval + offset`
/// that lies at least half an interval after the last probe's start.
pub fn until_next_slot(
    now: f64,
    last_start: Option<f64>,
    interval: Duration,
    offset: Duration,
) -> Duration {
    let i = interval.as_secs_f64();
    let o = offset.as_secs_f64();
    let earliest = match last_start {
        Some(s) => (s + i / 2.0).max(now),
        None => now,
    };
    let k = ((earliest - o) / i).ceil();
    let slot = k * i + o;
    Duration::from_secs_f64((slot - now).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(d: &str) -> ProbeKey {
        ProbeKey {
            tenant: "t".into(),
            domain: d.into(),
            vantage: "inside".into(),
        }
    }

    #[test]
    fn offsets_are_stable_and_spread() {
        let i = Duration::from_secs(300);
        assert_eq!(offset(&key("zahnfee.de"), i), offset(&key("zahnfee.de"), i));
        let mut buckets = [0u32; 10];
        for n in 0..1000 {
            let o = offset(&key(&format!("d{n}.example")), i);
            buckets[(o.as_secs() / 30) as usize] += 1;
        }
        // 1000 domains over 10 buckets of 30 s: none empty, none with a third of them.
        assert!(buckets.iter().all(|&b| b > 50 && b < 150), "{buckets:?}");
    }

    #[test]
    fn next_slot_respects_offset_and_half_interval() {
        let i = Duration::from_secs(300);
        let o = Duration::from_secs(100);
        // At t=1000 with offset 100 the slots are 1000 (=3*300+100), 1300, ...
        assert_eq!(until_next_slot(1000.0, None, i, o), Duration::ZERO);
        assert_eq!(
            until_next_slot(1001.0, None, i, o),
            Duration::from_secs(299)
        );
        // The first round ran at 990: the slot at 1000 is too close, the next is 1300.
        assert_eq!(
            until_next_slot(995.0, Some(990.0), i, o),
            Duration::from_secs(305)
        );
        // A probe that started at 1000 and ended at 1010 waits for 1300.
        assert_eq!(
            until_next_slot(1010.0, Some(1000.0), i, o),
            Duration::from_secs(290)
        );
    }
}
