//! The exporter's own counters: probes in flight and finished, configuration reloads. Plain
//! atomics; `expose::metrics` renders them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::SystemTime;

use crate::facts::unix;

/// Counters about the exporter itself.
#[derive(Default)]
pub struct Stats {
    in_flight: AtomicI64,
    /// Probes finished per (vantage, success).
    finished: Mutex<BTreeMap<(String, bool), u64>>,
    reload_ok: AtomicBool,
    /// Unix seconds of the last successful (re)load, as f64 bits.
    reload_at: AtomicU64,
}

impl Stats {
    pub fn probe_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn probe_cancelled(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// A probe ended; `success`: no critical check failed.
    pub fn probe_finished(&self, vantage: &str, success: bool) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        *finished.entry((vantage.to_string(), success)).or_default() += 1;
    }

    pub fn reloaded(&self, ok: bool) {
        self.reload_ok.store(ok, Ordering::Relaxed);
        if ok {
            let now = unix(SystemTime::now());
            self.reload_at.store(now.to_bits(), Ordering::Relaxed);
        }
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Probes finished per (vantage, success).
    pub fn finished(&self) -> BTreeMap<(String, bool), u64> {
        self.finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the last (re)load succeeded, and when the last successful one was.
    pub fn last_reload(&self) -> (bool, f64) {
        (
            self.reload_ok.load(Ordering::Relaxed),
            f64::from_bits(self.reload_at.load(Ordering::Relaxed)),
        )
    }
}
