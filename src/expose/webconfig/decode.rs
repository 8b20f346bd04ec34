//! Decoding the web configuration file: the toolkit's keys, strictly (unknown keys are
//! errors), and what can be checked without building TLS (headers, bcrypt hashes, paths).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::http::HeaderValue;
use serde::Deserialize;

use crate::config;
use crate::error::Error;

/// The web configuration file, validated; `tls` is built from it by `load`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// User name to bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    pub http_server_config: HttpServerConfig,
    /// `rate_limit:` a token bucket over every request (429 beyond the burst).
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// The bucket `rate_limit` asks for, made by `load`; `None`: no limit.
    #[serde(skip)]
    pub(super) limiter: Option<Arc<RateLimiter>>,
    /// The rustls server configuration; `None` serves plain HTTP.
    #[serde(skip)]
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What the file asks for that rustls cannot do (logged at load).
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The file and every file it names, for change detection.
    #[serde(skip)]
    pub(super) files: Vec<PathBuf>,
    /// A bcrypt hash unknown users are checked against (equal work), made on first need.
    #[serde(skip)]
    pub(super) dummy_hash: Arc<OnceLock<String>>,
}

/// `tls_server_config:` of the exporter toolkit. Empty strings mean "not set", as in Go.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    /// The certificate chain itself (PEM); `cert_file` wins when both are set, as in Go.
    #[serde(default)]
    pub cert: String,
    /// The private key itself (PEM); `key_file` wins when both are set.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub client_auth_type: String,
    #[serde(default)]
    pub client_ca_file: String,
    /// Client CA certificates themselves (PEM); `client_ca_file` wins when both are set.
    #[serde(default)]
    pub client_ca: String,
    /// A presented client certificate must carry one of these SANs (DNS name, e-mail, IP or
    /// URI, exact match); `None` (absent or null): no SAN check. An empty list allows none.
    #[serde(default)]
    pub client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub max_version: Option<String>,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    /// The server's suite order wins (the toolkit's default); `false`: the client's.
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
}

/// `http_server_config:` of the exporter toolkit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Offer HTTP/2 (ALPN `h2`); on by default as in the toolkit.
    #[serde(default = "yes")]
    pub http2: bool,
    /// Headers added to every response; only the toolkit's security headers are allowed.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `rate_limit:` of the exporter toolkit: `interval` between two requests (a Go duration:
/// `"1s"`, or an integer of nanoseconds; 0 or absent: no limit) and a `burst` of requests.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub burst: i64,
    #[serde(default)]
    pub interval: GoDuration,
}

/// A Go `time.Duration` as yaml.v2 decodes one: a string for `time.ParseDuration`, or an
/// integer of nanoseconds. Nanoseconds, signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoDuration(pub i128);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(GoDuration(n.into())),
            Raw::Text(s) => parse_go_duration(&s)
                .map(GoDuration)
                .ok_or_else(|| serde::de::Error::custom(format!("time: invalid duration {s:?}"))),
        }
    }
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` (`ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`); `"0"` alone is allowed. Nanoseconds.
fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total.round() as i128;
    Some(if negative { -ns } else { ns })
}

/// The toolkit's limiter (golang.org/x/time/rate): a bucket of `burst` tokens, full at the
/// start, one token back per `interval`; a request takes a token or is answered 429. A burst
/// of 0 (or less) refuses every request, as Go's limiter does.
#[derive(Debug)]
pub struct RateLimiter {
    interval: std::time::Duration,
    burst: f64,
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl RateLimiter {
    /// The limiter `rate_limit` asks for; `None` when it asks for none (interval 0, or
    /// negative: Go's `rate.Every` makes that an infinite rate).
    pub(super) fn new(config: &RateLimitConfig) -> Option<RateLimiter> {
        if config.interval.0 <= 0 {
            return None;
        }
        let nanos = u64::try_from(config.interval.0).unwrap_or(u64::MAX);
        let burst = config.burst.max(0) as f64;
        Some(RateLimiter {
            interval: std::time::Duration::from_nanos(nanos),
            burst,
            state: std::sync::Mutex::new((burst, std::time::Instant::now())),
        })
    }

    /// Takes a token if one is there.
    pub fn allow(&self) -> bool {
        self.allow_at(std::time::Instant::now())
    }

    fn allow_at(&self, now: std::time::Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *state;
        let refill =
            now.saturating_duration_since(last).as_secs_f64() / self.interval.as_secs_f64();
        let tokens = (tokens + refill).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

/// The headers the toolkit lets a web config set, with their allowed values (none: any).
const HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

impl WebConfig {
    /// Reads the file and checks what needs no TLS: headers, hashes; paths are made absolute
    /// and every file named is listed in `files`. An empty file is a valid, empty
    /// configuration (the toolkit's web_config_empty.yml).
    pub(super) fn decode(path: &Path) -> Result<WebConfig, Error> {
        let text = config::read(path)?;
        let mut wc: WebConfig = if text.trim().is_empty() {
            WebConfig::default()
        } else {
            config::decode(path, &text)?
        };
        let bad = |key: &str, message: String| Error::Config {
            location: path.display().to_string(),
            message: format!("{key}: {message}"),
        };
        for (name, value) in &wc.http_server_config.headers {
            let Some((_, allowed)) = HEADERS.iter().find(|(h, _)| h == name) else {
                return Err(bad(
                    &format!("http_server_config.headers.{name}"),
                    format!("HTTP header {name:?} can not be configured"),
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(bad(
                    &format!("http_server_config.headers.{name}"),
                    format!(
                        "invalid value for {name}. Expected one of: {allowed:?}, but got: {value:?}"
                    ),
                ));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(bad(
                    &format!("http_server_config.headers.{name}"),
                    format!("{value:?} is not a valid header value"),
                ));
            }
        }
        for (user, hash) in &wc.basic_auth_users {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(bad(
                    &format!("basic_auth_users.{user}"),
                    "expected a bcrypt hash ($2y$…)".into(),
                ));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        wc.files = vec![path.to_path_buf()];
        if let Some(t) = &mut wc.tls_server_config {
            for f in [&mut t.cert_file, &mut t.key_file, &mut t.client_ca_file] {
                if !f.is_empty() && Path::new(f.as_str()).is_relative() {
                    *f = base.join(f.as_str()).display().to_string();
                }
                if !f.is_empty() {
                    wc.files.push(PathBuf::from(f.as_str()));
                }
            }
        }
        Ok(wc)
    }

    /// The request limiter in force, if `rate_limit` asks for one.
    pub fn limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_deref()
    }

    /// True when requests must carry basic-auth credentials.
    pub fn wants_auth(&self) -> bool {
        !self.basic_auth_users.is_empty()
    }

    /// A bcrypt hash unknown users are checked against, at the cost most users have (ties:
    /// the lower), so an unknown user costs what a typical known one does.
    pub(super) fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            let mut costs: BTreeMap<u32, usize> = BTreeMap::new();
            for h in self.basic_auth_users.values() {
                if let Ok(p) = h.parse::<bcrypt::HashParts>() {
                    *costs.entry(p.get_cost()).or_default() += 1;
                }
            }
            let cost = costs
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(bcrypt::DEFAULT_COST, |(c, _)| *c);
            bcrypt::hash("not a password anyone has", cost).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s"), Some(1_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("1h2m"), Some(3_720_000_000_000));
        assert_eq!(parse_go_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_go_duration("-3us"), Some(-3_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "1", "s", "1x", "1..2s", "-"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_bucket_allows_the_burst_then_one_per_interval() {
        let config = RateLimitConfig {
            burst: 2,
            interval: GoDuration(1_000_000_000),
        };
        let limiter = RateLimiter::new(&config).unwrap();
        let t0 = Instant::now();
        assert!(limiter.allow_at(t0));
        assert!(limiter.allow_at(t0));
        assert!(!limiter.allow_at(t0));
        assert!(!limiter.allow_at(t0 + Duration::from_millis(900)));
        assert!(limiter.allow_at(t0 + Duration::from_millis(1001)));
        assert!(!limiter.allow_at(t0 + Duration::from_millis(1002)));
        // Never more than the burst saved up.
        let later = t0 + Duration::from_secs(60);
        assert!(limiter.allow_at(later));
        assert!(limiter.allow_at(later));
        assert!(!limiter.allow_at(later));
    }

    #[test]
    fn no_limiter_for_a_zero_or_negative_interval_and_none_allowed_for_burst_zero() {
        for ns in [0, -5] {
            let c = RateLimitConfig {
                burst: 0,
                interval: GoDuration(ns),
            };
            assert!(RateLimiter::new(&c).is_none());
        }
        let c = RateLimitConfig {
            burst: 0,
            interval: GoDuration(1_000_000_000),
        };
        assert!(!RateLimiter::new(&c).unwrap().allow());
    }
}
