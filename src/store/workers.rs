//! Probe workers: one single-threaded runtime per core, each on its own thread. A probe loop
//! lives on one worker for good, with every socket and timer of its probes, so their network
//! events wake only that thread; on one runtime shared by all threads, tasks are handed between
//! threads (work stealing, a futex wake-up per hand-over). Figures in docs/performance.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The probe workers; they stop when this is dropped (tasks still on them are dropped).
pub struct Workers {
    /// Each worker's runtime and the thread that runs it.
    workers: Vec<(Handle, JoinHandle<()>)>,
    stop: CancellationToken,
    next: AtomicUsize,
}

impl Workers {
    /// Starts one worker per core the process may use. A worker that cannot be started is
    /// left out (logged); with none, [`Workers::next`] gives `None` and probes run where they
    /// are spawned.
    pub fn start() -> Workers {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        let stop = CancellationToken::new();
        let workers = (0..n)
            .filter_map(|i| {
                start_one(i, stop.clone())
                    .inspect_err(
                        |e| tracing::warn!(error = %e, worker = i, "cannot start a probe worker"),
                    )
                    .ok()
            })
            .collect();
        Workers {
            workers,
            stop,
            next: AtomicUsize::new(0),
        }
    }

    /// The worker for the next probe loop (round robin).
    pub fn next(&self) -> Option<&Handle> {
        let n = self.workers.len();
        (n > 0).then(|| &self.workers[self.next.fetch_add(1, Ordering::Relaxed) % n].0)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Each thread leaves its runtime's block_on and drops the runtime with what is left
        // on it; nobody waits for that (dropping may happen on an async thread).
        self.stop.cancel();
    }
}

fn start_one(i: usize, stop: CancellationToken) -> std::io::Result<(Handle, JoinHandle<()>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    let thread = std::thread::Builder::new()
        .name(format!("sipfed-probe-{i}"))
        .spawn(move || runtime.block_on(stop.cancelled()))?;
    Ok((handle, thread))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probe loops go round the workers, each runs on its worker's thread, and dropping the
    /// workers ends their threads.
    #[test]
    fn loops_go_round_the_workers_on_their_own_threads() {
        let workers = Workers::start();
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(workers.workers.len(), n);
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..2 * n {
            let tx = tx.clone();
            workers.next().expect("a worker").spawn(async move {
                let name = std::thread::current().name().map(String::from);
                tx.send(name).unwrap();
            });
        }
        let mut names: Vec<String> = (0..2 * n).map(|_| rx.recv().unwrap().unwrap()).collect();
        names.sort();
        let want: Vec<String> = (0..n)
            .flat_map(|i| [format!("sipfed-probe-{i}"), format!("sipfed-probe-{i}")])
            .collect();
        assert_eq!(names, want);
        let started = std::mem::take(&mut { workers }.workers);
        for (_, thread) in started {
            thread.join().unwrap();
        }
    }
}
