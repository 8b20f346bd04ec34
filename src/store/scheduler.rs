//! Scheduling: every (domain, vantage) probed once per interval, the first round at once, then
//! at a stable per-domain offset; at most `concurrency` probes in flight; each probe's facts
//! recorded in the store, which judges the domain; every vantage's own means checked beside
//! (vantage health); the schedule restarted on reload.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ProbeKey, Setup, Store};
use crate::config::Domain;
use crate::facts::unix;

/// Runs probes until `shutdown`; restarts the schedule (keeping results) on every reload.
pub async fn run(store: Arc<Store>, shutdown: CancellationToken) {
    loop {
        // Listen for reloads before reading the runtime, so none slips in between.
        let reloaded = store.reloaded.notified();
        tokio::pin!(reloaded);
        reloaded.as_mut().enable();
        let round = shutdown.child_token();
        let tracker = TaskTracker::new();
        let setup = store.setup();
        for domain in &setup.config.domains {
            for vantage in &domain.vantages {
                let key = ProbeKey {
                    tenant: domain.tenant.clone(),
                    domain: domain.name.clone(),
                    vantage: vantage.clone(),
                };
                let at_once = !store.has_facts(&key);
                tracker.spawn(probe_loop(
                    store.clone(),
                    setup.clone(),
                    domain.clone(),
                    key,
                    at_once,
                    round.clone(),
                ));
            }
        }
        tracker.spawn(vantage_health(setup.clone(), round.clone()));
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
    store: Arc<Store>,
    setup: Arc<Setup>,
    domain: Domain,
    key: ProbeKey,
    mut at_once: bool,
    cancel: CancellationToken,
) {
    let interval = setup.config.global.interval;
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
        let success = store.record(&setup, &domain, &key.vantage, Arc::new(facts));
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
