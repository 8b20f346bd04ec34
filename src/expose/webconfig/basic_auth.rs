//! Basic auth (bcrypt, bounded verification queue, success cache) and the configured response
//! headers, as one axum middleware over the live web configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use tokio::sync::Semaphore;

use super::decode::WebConfig;
use super::live::LiveWebConfig;

/// Requests answered 503 because the password-check queue was full
/// (`sipfed_http_requests_rejected_total{reason="auth_busy"}`).
pub static AUTH_BUSY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Basic auth and response headers over the live web config. bcrypt is slow on purpose:
/// at most `BCRYPT_PARALLEL` verifications run at once and at most `BCRYPT_QUEUE` requests
/// wait for one (more are answered 503 at once), unknown users cost one verification too (no
/// user-name oracle), and only successes are cached, so the scraper's repeated credentials
/// cost one verification per config.
pub struct Guard {
    web: Arc<LiveWebConfig>,
    /// SHA-256 of (user, password, stored hash) of credentials that verified.
    verified: Mutex<HashMap<[u8; 32], ()>>,
    bcrypt: Semaphore,
    /// Requests waiting for or holding a bcrypt slot.
    waiting: std::sync::atomic::AtomicUsize,
}

/// What a request's credentials are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Allowed,
    Denied,
    /// Too many verifications waiting: try again later (503).
    Busy,
}

const BCRYPT_PARALLEL: usize = 2;
/// Requests that may wait for a bcrypt slot beside those verifying.
const BCRYPT_QUEUE: usize = 16;
const CACHE_ENTRIES: usize = 256;

impl Guard {
    pub fn new(web: Arc<LiveWebConfig>) -> Arc<Guard> {
        Arc::new(Guard {
            web,
            verified: Mutex::new(HashMap::new()),
            bcrypt: Semaphore::new(BCRYPT_PARALLEL),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The live web config this guard reads.
    pub fn web(&self) -> &Arc<LiveWebConfig> {
        &self.web
    }

    /// Whether `authorization` (the header's value) names a user of `config` with the right
    /// password.
    pub async fn allowed(&self, config: &Arc<WebConfig>, authorization: Option<&str>) -> bool {
        self.check(config, authorization).await == Auth::Allowed
    }

    /// [`Guard::allowed`], or `Busy` when too many verifications wait already.
    pub async fn check(&self, config: &Arc<WebConfig>, authorization: Option<&str>) -> Auth {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return Auth::Denied;
        };
        let known = config.basic_auth_users.get(&user);
        let hash = match known {
            Some(h) => h.clone(),
            None => String::new(),
        };
        let key: [u8; 32] = {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            for part in [user.as_bytes(), password.as_bytes(), hash.as_bytes()] {
                ctx.update(&(part.len() as u64).to_be_bytes());
                ctx.update(part);
            }
            let mut k = [0u8; 32];
            k.copy_from_slice(ctx.finish().as_ref());
            k
        };
        if known.is_some()
            && self
                .verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&key)
        {
            return Auth::Allowed;
        }
        let Some(_queued) = Queued::enter(&self.waiting, BCRYPT_PARALLEL + BCRYPT_QUEUE) else {
            AUTH_BUSY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Auth::Busy;
        };
        let Ok(_permit) = self.bcrypt.acquire().await else {
            return Auth::Denied;
        };
        let config = config.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let hash = if hash.is_empty() {
                config.dummy_hash().to_string()
            } else {
                hash
            };
            bcrypt::verify(password, &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = ok && known.is_some();
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, ());
        }
        if ok { Auth::Allowed } else { Auth::Denied }
    }
}

/// A place among at most `bound` counted in `count`, given back when dropped.
struct Queued<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicUsize, bound: usize) -> Option<Queued<'a>> {
        use std::sync::atomic::Ordering::AcqRel;
        count
            .fetch_update(AcqRel, std::sync::atomic::Ordering::Acquire, |n| {
                (n < bound).then_some(n + 1)
            })
            .ok()
            .map(|_| Queued(count))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Middleware: the configured headers on every response, and 401 unless the request carries
/// valid basic-auth credentials when users are configured.
pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let config = guard.web.current();
    // Before auth and headers, as the toolkit's handler does.
    if config.limiter().is_some_and(|l| !l.allow()) {
        return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response();
    }
    let mut response = if config.wants_auth() {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let user = value.and_then(parse_basic).map(|(u, _)| u);
        match guard.check(&config, value).await {
            Auth::Allowed => {
                // The verified user is who the handlers show tenants to (viewers, see_all).
                crate::expose::access::WebUser::add(&mut request, user);
                next.run(request).await
            }
            Auth::Denied => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic")],
                "Unauthorized\n",
            )
                .into_response(),
            Auth::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "Too many password checks waiting\n",
            )
                .into_response(),
        }
    } else {
        next.run(request).await
    };
    for (name, value) in &config.http_server_config.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    // The scheme is case-insensitive (RFC 9110 §11.1), as Go's net/http reads it.
    let (scheme, encoded) = value.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 as clients send it in `Authorization: Basic`: padding optional and
/// non-zero trailing bits accepted (as the decoder this replaced did).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    BASE64.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[tokio::test]
    async fn basic_auth_caches_only_successes_and_checks_unknown_users() {
        assert_eq!(decode_base64("cHJvbTpzZWNyZXQ=").unwrap(), b"prom:secret");
        let hash = bcrypt::hash("secret", 4).unwrap();
        let config = Arc::new(WebConfig {
            basic_auth_users: BTreeMap::from([("prom".to_string(), hash)]),
            ..Default::default()
        });
        let guard = Guard::new(LiveWebConfig::fixed((*config).clone()));
        assert!(guard.allowed(&config, Some("Basic cHJvbTpzZWNyZXQ=")).await);
        assert_eq!(guard.verified.lock().unwrap().len(), 1);
        // Cached the second time, same answer.
        assert!(guard.allowed(&config, Some("Basic cHJvbTpzZWNyZXQ=")).await);
        // prom:wrong, and an unknown user (eve:secret): refused, not cached.
        assert!(!guard.allowed(&config, Some("Basic cHJvbTp3cm9uZw==")).await);
        assert!(!guard.allowed(&config, Some("Basic ZXZlOnNlY3JldA==")).await);
        assert_eq!(guard.verified.lock().unwrap().len(), 1);
        // The unknown user cost a verification against a hash of the users' cost.
        assert!(config.dummy_hash.get().unwrap().starts_with("$2b$04$"));
        assert!(!guard.allowed(&config, None).await);
        assert!(!guard.allowed(&config, Some("Bearer x")).await);
        // Any case of the scheme.
        assert!(guard.allowed(&config, Some("basic cHJvbTpzZWNyZXQ=")).await);
        assert!(guard.allowed(&config, Some("BASIC cHJvbTpzZWNyZXQ=")).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_checks_beyond_the_queue_are_busy() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let config = Arc::new(WebConfig {
            basic_auth_users: BTreeMap::from([("prom".to_string(), hash)]),
            ..Default::default()
        });
        let guard = Guard::new(LiveWebConfig::fixed((*config).clone()));
        // Wrong passwords: never cached, every one a verification.
        let checks = (0..BCRYPT_PARALLEL + BCRYPT_QUEUE + 10)
            .map(|_| guard.check(&config, Some("Basic cHJvbTp3cm9uZw==")));
        let counted = AUTH_BUSY.load(std::sync::atomic::Ordering::Relaxed);
        let results = futures::future::join_all(checks).await;
        let busy = results.iter().filter(|r| **r == Auth::Busy).count();
        // Each busy answer is counted for sipfed_http_requests_rejected_total{reason="auth_busy"}
        // (no other test here fills the queue).
        assert_eq!(
            AUTH_BUSY.load(std::sync::atomic::Ordering::Relaxed) - counted,
            10
        );
        let denied = results.iter().filter(|r| **r == Auth::Denied).count();
        assert_eq!(busy, 10);
        assert_eq!(denied, BCRYPT_PARALLEL + BCRYPT_QUEUE);
        assert_eq!(guard.waiting.load(std::sync::atomic::Ordering::Acquire), 0);
    }
}
