//! `--web.config.file` in the Prometheus exporter-toolkit format: TLS for the HTTP server
//! (optionally verifying client certificates) and bcrypt basic auth.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;

use crate::config;
use crate::error::Error;
use crate::pem;

/// The web configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// User name to bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// Accepted for compatibility (HTTP/2 and headers settings); not used.
    #[serde(default)]
    pub http_server_config: Option<serde_yaml_ng::Value>,
    /// The rustls server configuration, built once by `load` when TLS is configured.
    #[serde(skip)]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// `tls_server_config:` of the exporter toolkit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    #[serde(default)]
    pub client_auth_type: Option<String>,
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub min_version: Option<String>,
    // Accepted for compatibility; rustls chooses safe suites and curves itself.
    #[serde(default)]
    pub max_version: Option<String>,
    #[serde(default)]
    pub cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    pub curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
}

impl WebConfig {
    /// Reads and validates the file (certificates and hashes included).
    pub fn load(path: &Path) -> Result<WebConfig, Error> {
        let text = config::read(path)?;
        let mut wc: WebConfig = config::decode(path, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(t) = &mut wc.tls_server_config {
            t.cert_file = base.join(&t.cert_file);
            t.key_file = base.join(&t.key_file);
            t.client_ca_file = t.client_ca_file.as_ref().map(|f| base.join(f));
        }
        for (user, hash) in &wc.basic_auth_users {
            if !hash.starts_with("$2") {
                return Err(Error::Config {
                    location: path.display().to_string(),
                    message: format!("basic_auth_users.{user}: expected a bcrypt hash ($2y$…)"),
                });
            }
        }
        wc.tls = wc.server_config()?;
        Ok(wc)
    }

    fn server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, Error> {
        let Some(t) = &self.tls_server_config else {
            return Ok(None);
        };
        let pem = |path: &Path, m: String| Error::Pem {
            path: path.display().to_string(),
            message: m,
        };
        let certs = pem::read_certs(&t.cert_file)?;
        let key = pem::read_key(&t.key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version.as_deref() {
            Some("TLS13") => &[&rustls::version::TLS13],
            None | Some("TLS12") | Some("TLS10") | Some("TLS11") => rustls::DEFAULT_VERSIONS,
            Some(v) => {
                return Err(Error::Config {
                    location: "tls_server_config.min_version".into(),
                    message: format!("unknown TLS version {v:?}, expected TLS12 or TLS13"),
                });
            }
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| pem(&t.cert_file, e.to_string()))?;
        let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
        let builder = match auth {
            "NoClientCert" | "RequestClientCert" => builder.with_no_client_auth(),
            "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" | "RequireAnyClientCert" => {
                let Some(ca) = &t.client_ca_file else {
                    return Err(Error::Config {
                        location: "tls_server_config.client_ca_file".into(),
                        message: format!("client_auth_type {auth} needs client_ca_file"),
                    });
                };
                let mut roots = RootCertStore::empty();
                for c in pem::read_certs(ca)? {
                    roots.add(c).map_err(|e| pem(ca, e.to_string()))?;
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let v = if auth == "VerifyClientCertIfGiven" {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                builder.with_client_cert_verifier(v.build().map_err(|e| pem(ca, e.to_string()))?)
            }
            other => {
                return Err(Error::Config {
                    location: "tls_server_config.client_auth_type".into(),
                    message: format!("unknown client_auth_type {other:?}"),
                });
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| pem(&t.key_file, e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }
}

/// Basic-auth state: the users and a cache of verified credentials (bcrypt is slow on
/// purpose; Prometheus sends the same credentials every scrape).
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashMap<String, bool>>,
}

impl BasicAuth {
    pub fn new(users: BTreeMap<String, String>) -> Arc<BasicAuth> {
        Arc::new(BasicAuth {
            users,
            verified: Mutex::new(HashMap::new()),
        })
    }

    fn allowed(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Some(decoded) = decode_base64(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key = format!(
            "{user}\u{0}{}",
            crate::facts::hex(
                ring::digest::digest(&ring::digest::SHA256, password.as_bytes()).as_ref()
            )
        );
        if let Some(ok) = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return *ok;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }
}

/// Middleware: 401 unless the request carries valid basic-auth credentials.
pub async fn require_auth(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    let header_value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = {
        let auth = auth.clone();
        tokio::task::spawn_blocking(move || auth.allowed(header_value.as_deref()))
            .await
            .unwrap_or(false)
    };
    if allowed {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"sipfed_exporter\"")],
            "Unauthorized\n",
        )
            .into_response()
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_basic_auth() {
        assert_eq!(decode_base64("cHJvbTpzZWNyZXQ=").unwrap(), b"prom:secret");
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("prom".to_string(), hash)]));
        assert!(auth.allowed(Some("Basic cHJvbTpzZWNyZXQ=")));
        // Cached the second time, same answer.
        assert!(auth.allowed(Some("Basic cHJvbTpzZWNyZXQ=")));
        // prom:wrong
        assert!(!auth.allowed(Some("Basic cHJvbTp3cm9uZw==")));
        assert!(!auth.allowed(None));
        assert!(!auth.allowed(Some("Bearer x")));
    }
}
