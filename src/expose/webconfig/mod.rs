//! `--web.config.file` in the Prometheus exporter-toolkit format, meaning what the toolkit
//! means: TLS (client certificates, versions, cipher suites, curves), bcrypt basic auth and
//! extra response headers; re-read when the file or a file it names changes.
//!
//! The toolkit's own fixtures (`web/testdata/` of exporter-toolkit) are the reference:
//! `scripts/test-webconfig.sh` runs them against the binary. Where rustls cannot do what a
//! file asks (TLS 1.0/1.1, CBC and static-RSA suites, P-521), the unimplementable items are
//! skipped with a warning naming them; a file left with nothing usable is refused.
//!
//! - `decode`: the file's keys, headers, hashes and paths ([`WebConfig`]).
//! - `tls`: the rustls server configuration of `tls_server_config`.
//! - `client_verify`: client certificates as `client_auth_type` and `client_ca_file` mean.
//! - `live`: the configuration in force, re-read on change ([`LiveWebConfig`]).
//! - `basic_auth`: bcrypt basic auth and response headers, the [`guard`] middleware.

mod basic_auth;
mod client_verify;
mod decode;
mod live;
mod tls;

use std::path::Path;
use std::sync::Arc;

pub use basic_auth::{AUTH_BUSY, Auth, Guard, guard};
pub use client_verify::{ClientAuth, verified_sans};
pub use decode::{HttpServerConfig, RateLimitConfig, RateLimiter, TlsServerConfig, WebConfig};
pub use live::LiveWebConfig;

use crate::error::Error;

impl WebConfig {
    /// Reads and validates the file (certificates, keys and hashes included), in the order
    /// the toolkit does, so the first problem reported is the toolkit's.
    pub fn load(path: &Path) -> Result<WebConfig, Error> {
        let mut wc = WebConfig::decode(path)?;
        let bad = |key: &str, message: String| Error::Config {
            location: path.display().to_string(),
            message: format!("{key}: {message}"),
        };
        let mut warnings = Vec::new();
        wc.tls = match &wc.tls_server_config {
            Some(t) => t.server_config(&wc.http_server_config, &mut warnings, &bad)?,
            None => None,
        };
        wc.warnings = warnings;
        wc.limiter = decode::RateLimiter::new(&wc.rate_limit).map(Arc::new);
        // Made now, not by the first unknown user's request (which would pay for it).
        if wc.wants_auth() {
            wc.dummy_hash();
        }
        Ok(wc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_made_when_the_file_is_read() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let dir = std::env::temp_dir().join(format!("sipfed-dummy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  prom: '{hash}'\n")).unwrap();
        let config = WebConfig::load(&path).unwrap();
        assert!(
            config
                .dummy_hash
                .get()
                .is_some_and(|h| h.starts_with("$2b$04$"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
