//! The web configuration in force, re-read when the file or a file it names changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::decode::WebConfig;
use crate::error::Error;

/// The web config in force: re-read when the file or a file it names changes (checked at
/// most once a second, on use); a broken new version is logged and the old one kept.
#[derive(Debug)]
pub struct LiveWebConfig {
    path: Option<PathBuf>,
    state: Mutex<Live>,
}

#[derive(Debug)]
struct Live {
    config: Arc<WebConfig>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    checked: Instant,
    /// The stamps of a broken version already reported, so it is logged once.
    rejected: Option<Vec<Option<(SystemTime, u64)>>>,
}

fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

impl LiveWebConfig {
    /// Loads `path` and watches it.
    pub fn watch(path: &Path) -> Result<Arc<LiveWebConfig>, Error> {
        let config = WebConfig::load(path)?;
        for w in &config.warnings {
            tracing::warn!(file = %path.display(), "{w}");
        }
        Ok(Self::with(Some(path.to_path_buf()), config))
    }

    /// A configuration that is never re-read (tests, embedding).
    pub fn fixed(config: WebConfig) -> Arc<LiveWebConfig> {
        Self::with(None, config)
    }

    fn with(path: Option<PathBuf>, config: WebConfig) -> Arc<LiveWebConfig> {
        Arc::new(LiveWebConfig {
            path,
            state: Mutex::new(Live {
                stamps: stamps(&config.files),
                config: Arc::new(config),
                checked: Instant::now(),
                rejected: None,
            }),
        })
    }

    /// The configuration to use now.
    pub fn current(&self) -> Arc<WebConfig> {
        let mut live = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(path) = &self.path else {
            return live.config.clone();
        };
        if live.checked.elapsed() < Duration::from_secs(1) {
            return live.config.clone();
        }
        live.checked = Instant::now();
        let now = stamps(&live.config.files);
        if now == live.stamps || live.rejected.as_ref() == Some(&now) {
            return live.config.clone();
        }
        match WebConfig::load(path) {
            Ok(new) if new.tls.is_some() != live.config.tls.is_some() => {
                tracing::error!(file = %path.display(), "web config changed: switching TLS on or off needs a restart; keeping the running one");
                live.rejected = Some(now);
            }
            Ok(new) => {
                tracing::info!(file = %path.display(), "web config reloaded");
                for w in &new.warnings {
                    tracing::warn!(file = %path.display(), "{w}");
                }
                live.stamps = stamps(&new.files);
                live.config = Arc::new(new);
                live.rejected = None;
            }
            Err(e) => {
                tracing::error!(error = %e, "web config changed but is invalid; keeping the running one");
                live.rejected = Some(now);
            }
        }
        live.config.clone()
    }
}
