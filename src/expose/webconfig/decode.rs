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
    #[serde(default)]
    pub client_auth_type: String,
    #[serde(default)]
    pub client_ca_file: String,
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
