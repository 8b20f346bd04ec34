//! Scheduling: every (domain, vantage) probed once per interval, the first round at once, then
//! at a stable per-domain offset; at most `concurrency` probes in flight; each probe's facts
//! recorded in the store, which judges the domain; on reload only the pairs whose settings
//! changed are restarted. Every vantage's own means are checked beside (vantage health).
//! Probe loops run on the probe [`Workers`], one single-threaded runtime per core.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::workers::Workers;
use super::{ProbeKey, Setup, Store};
use crate::config::{Domain, Global, Vantage};
use crate::facts::unix;

/// What a probe loop was started with: a reload that leaves all of it unchanged leaves the
/// loop running, on its schedule.
#[derive(PartialEq)]
struct Settings {
    domain: Domain,
    vantage: Option<Vantage>,
    global: Global,
}

impl Settings {
    fn of(setup: &Setup, domain: &Domain, vantage: &str) -> Settings {
        Settings {
            domain: domain.clone(),
            vantage: setup.config.vantage(vantage).cloned(),
            global: setup.config.global.clone(),
        }
    }
}

/// A running probe loop.
struct Running {
    settings: Settings,
    cancel: CancellationToken,
}

/// Runs probes until `shutdown`. On every reload, the loops of (domain, vantage) pairs whose
/// settings changed or that are gone are cancelled (a probe in flight is dropped, its facts
/// never land), new pairs start at once, and unchanged pairs keep running on their schedule.
pub async fn run(store: Arc<Store>, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    let workers = Workers::start();
    let mut running: HashMap<ProbeKey, Running> = HashMap::new();
    let mut health: Option<CancellationToken> = None;
    loop {
        // Listen for reloads before reading the setup, so none slips in between.
        let reloaded = store.reloaded.notified();
        tokio::pin!(reloaded);
        reloaded.as_mut().enable();
        let setup = store.setup();
        let mut wanted: HashSet<ProbeKey> = HashSet::new();
        // The shadows too: own domains another shard exposes, for this shard's pair verdicts.
        for domain in setup.probed() {
            for vantage in &domain.vantages {
                let key = ProbeKey {
                    tenant: domain.tenant.clone(),
                    domain: domain.name.clone(),
                    vantage: vantage.clone(),
                };
                wanted.insert(key.clone());
                let settings = Settings::of(&setup, domain, vantage);
                if running.get(&key).is_some_and(|r| r.settings == settings) {
                    continue;
                }
                if let Some(old) = running.remove(&key) {
                    old.cancel.cancel();
                }
                let cancel = shutdown.child_token();
                let at_once = !store.has_facts(&key);
                let probes = tracker.track_future(probe_loop(
                    store.clone(),
                    domain.clone(),
                    key.clone(),
                    at_once,
                    cancel.clone(),
                ));
                match workers.next() {
                    Some(worker) => drop(worker.spawn(probes)),
                    None => drop(tokio::spawn(probes)),
                }
                running.insert(key, Running { settings, cancel });
            }
        }
        running.retain(|key, r| {
            let keep = wanted.contains(key);
            if !keep {
                r.cancel.cancel();
            }
            keep
        });
        // The health of the new setup's vantages (its prober holds their state).
        if let Some(old) = health.replace(shutdown.child_token()) {
            old.cancel();
        }
        if let Some(cancel) = &health {
            tracker.spawn(vantage_health(setup.clone(), cancel.clone()));
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                tracker.close();
                tracker.wait().await;
                return;
            }
            _ = reloaded => {}
        }
    }
}

/// Probes one (domain, vantage) on its schedule with the setup in force at each probe.
async fn probe_loop(
    store: Arc<Store>,
    domain: Domain,
    key: ProbeKey,
    mut at_once: bool,
    cancel: CancellationToken,
) {
    let mut last_start: Option<f64> = None;
    loop {
        let setup = store.setup();
        let interval = setup.config.global.interval;
        if !at_once {
            let now = unix(SystemTime::now());
            let wait = until_next_slot(now, last_start, interval, offset(&key, interval));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        at_once = false;
        // The setup may have been replaced while waiting (a reload that left this pair as
        // it was): probe with the one in force now.
        let setup = store.setup();
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = setup.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        last_start = Some(unix(SystemTime::now()));
        store.stats.probe_started();
        let facts = tokio::select! {
            _ = cancel.cancelled() => {
                store.stats.probe_cancelled();
                return;
            }
            f = setup.prober.gather(&domain, &key.vantage) => f,
        };
        drop(permit);
        let Some(success) = store.record(&domain, &key.vantage, Arc::new(facts)) else {
            // A reload changed or removed this pair meanwhile: the result is discarded.
            store.stats.probe_cancelled();
            return;
        };
        store.stats.probe_finished(&key.vantage, success);
        tracing::debug!(domain = %key.domain, vantage = %key.vantage, success, "probe finished");
    }
}

/// Checks every vantage's own means at once, then every interval but at least every 30 s.
async fn vantage_health(setup: Arc<Setup>, cancel: CancellationToken) {
    let every = setup
        .config
        .global
        .interval
        .min(crate::gather::vantage::EVERY);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = setup.prober.check_vantages() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Moments per interval at which probes start.
pub const TICKS: u64 = 60;

/// A stable offset within the interval, from the key's name (FNV-1a), so rounds spread evenly
/// and the same domain probes at the same phase across restarts. Offsets are whole ticks of
/// interval / [`TICKS`]: the probes due in one tick run together and share the wake-ups of
/// their network I/O (a probe alone cost 2.6 times its share of a batch on the third-party
/// world), while a round still spreads over `TICKS` moments.
pub fn offset(key: &ProbeKey, interval: Duration) -> Duration {
    let h = crate::shard::fnv1a(&[&key.tenant, &key.domain, &key.vantage], 0);
    let ms = (interval.as_millis() as u64).max(1);
    let tick = (ms / TICKS).max(1);
    Duration::from_millis(h % (ms / tick) * tick)
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
        // On whole ticks of 5 s, every one of the 60 used.
        let offsets: std::collections::HashSet<u128> = (0..1000)
            .map(|n| offset(&key(&format!("d{n}.example")), i).as_millis())
            .collect();
        assert!(offsets.iter().all(|o| o % 5000 == 0), "{offsets:?}");
        assert_eq!(offsets.len(), TICKS as usize);
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
