//! `--web.config.file` in the Prometheus exporter-toolkit format, meaning what the toolkit
//! means: TLS (client certificates, versions, cipher suites, curves), bcrypt basic auth and
//! extra response headers; re-read when the file or a file it names changes.
//!
//! The toolkit's own fixtures (`web/testdata/` of exporter-toolkit) are the reference:
//! `scripts/test-webconfig.sh` runs them against the binary. Where rustls cannot do what a
//! file asks (TLS 1.0/1.1, CBC and static-RSA suites, P-521), the unimplementable items are
//! skipped with a warning naming them; a file left with nothing usable is refused.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Requests answered 503 because the password-check queue was full
/// (`sipfed_http_requests_rejected_total{reason="auth_busy"}`).
pub static AUTH_BUSY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::config;
use crate::error::Error;
use crate::pem;

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
    files: Vec<PathBuf>,
    /// A bcrypt hash unknown users are checked against (equal work), made on first need.
    #[serde(skip)]
    dummy_hash: Arc<OnceLock<String>>,
}

/// `client_auth_type`: what the server asks of a client certificate (Go's tls.ClientAuthType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    /// Also spelled `RequireClientCert`, as the toolkit accepts.
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;

    /// The toolkit's names; empty means `NoClientCert`.
    fn from_str(s: &str) -> Result<ClientAuth, String> {
        Ok(match s {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            other => return Err(format!("Invalid ClientAuth: {other}")),
        })
    }
}

impl ClientAuth {
    /// (a certificate is mandatory, `None`: not asked for / `Some(verify its chain)`).
    fn policy(self) -> (bool, Option<bool>) {
        match self {
            ClientAuth::NoClientCert => (false, None),
            ClientAuth::RequestClientCert => (false, Some(false)),
            ClientAuth::RequireAnyClientCert => (true, Some(false)),
            ClientAuth::VerifyClientCertIfGiven => (false, Some(true)),
            ClientAuth::RequireAndVerifyClientCert => (true, Some(true)),
        }
    }
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

/// Go's names of the cipher suites the toolkit knows (`tls.CipherSuites()`), with the rustls
/// suite each means where rustls implements it.
fn cipher_suite(name: &str) -> Option<Option<rustls::SupportedCipherSuite>> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "TLS_AES_128_GCM_SHA256" => Some(cs::TLS13_AES_128_GCM_SHA256),
        "TLS_AES_256_GCM_SHA384" => Some(cs::TLS13_AES_256_GCM_SHA384),
        "TLS_CHACHA20_POLY1305_SHA256" => Some(cs::TLS13_CHACHA20_POLY1305_SHA256),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => Some(cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => Some(cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Some(cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" => None,
        _ => return None,
    })
}

/// Go's curve names, with the rustls key-exchange group each means where ring has it.
fn curve(name: &str) -> Option<Option<&'static dyn SupportedKxGroup>> {
    use rustls::crypto::ring::kx_group;
    Some(match name {
        "X25519" => Some(kx_group::X25519),
        "CurveP256" => Some(kx_group::SECP256R1),
        "CurveP384" => Some(kx_group::SECP384R1),
        "CurveP521" => None,
        _ => return None,
    })
}

/// The toolkit's TLS version names as numbers (minor version: TLS10 = 0 … TLS13 = 3).
fn tls_version(name: &str) -> Option<u8> {
    match name {
        "TLS10" => Some(0),
        "TLS11" => Some(1),
        "TLS12" => Some(2),
        "TLS13" => Some(3),
        _ => None,
    }
}

impl WebConfig {
    /// Reads and validates the file (certificates, keys and hashes included), in the order
    /// the toolkit does, so the first problem reported is the toolkit's.
    pub fn load(path: &Path) -> Result<WebConfig, Error> {
        let text = config::read(path)?;
        // An empty file is a valid, empty configuration (the toolkit's web_config_empty.yml).
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
        let mut warnings = Vec::new();
        wc.tls = match &wc.tls_server_config {
            Some(t) => t.server_config(&wc.http_server_config, &mut warnings, &bad)?,
            None => None,
        };
        wc.warnings = warnings;
        // Made now, not by the first unknown user's request (which would pay for it).
        if wc.wants_auth() {
            wc.dummy_hash();
        }
        Ok(wc)
    }

    /// True when requests must carry basic-auth credentials.
    pub fn wants_auth(&self) -> bool {
        !self.basic_auth_users.is_empty()
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            // The cost most users have (ties: the lower), so an unknown user costs what a
            // typical known one does.
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

impl TlsServerConfig {
    /// The rustls configuration, or `None` when the section sets nothing (plain HTTP).
    fn server_config(
        &self,
        http: &HttpServerConfig,
        warnings: &mut Vec<String>,
        bad: &dyn Fn(&str, String) -> Error,
    ) -> Result<Option<Arc<rustls::ServerConfig>>, Error> {
        let key = |k: &str| format!("tls_server_config.{k}");
        if self.cert_file.is_empty()
            && self.key_file.is_empty()
            && self.client_auth_type.is_empty()
            && self.client_ca_file.is_empty()
        {
            return Ok(None);
        }
        if self.cert_file.is_empty() {
            return Err(bad(&key("cert_file"), "missing cert_file".into()));
        }
        if self.key_file.is_empty() {
            return Err(bad(&key("key_file"), "missing key_file".into()));
        }
        let certs = pem::read_certs(Path::new(&self.cert_file))
            .map_err(|e| bad(&key("cert_file"), e.to_string()))?;
        let private_key = pem::read_key(Path::new(&self.key_file))
            .map_err(|e| bad(&key("key_file"), e.to_string()))?;

        let (min, max) = (
            self.version("min_version", self.min_version.as_deref(), 2, bad)?,
            self.version("max_version", self.max_version.as_deref(), 3, bad)?,
        );
        if min < 2 {
            warnings.push(format!(
                "tls_server_config.min_version: TLS1{min} is not implemented by rustls; the lowest version offered is TLS 1.2"
            ));
        }
        let mut tls12 = min <= 2 && max >= 2;
        let tls13 = max >= 3;
        if !tls12 && !tls13 {
            return Err(bad(
                &key("max_version"),
                format!(
                    "no TLS version left between min_version TLS1{min} and max_version TLS1{max}: rustls implements only TLS 1.2 and 1.3"
                ),
            ));
        }

        // cipher_suites, as in Go, governs TLS 1.2; TLS 1.3 suites are restricted only when
        // the list names some.
        let defaults = rustls::crypto::ring::default_provider();
        let mut suites12 = Vec::new();
        let mut suites13 = Vec::new();
        let mut skipped = Vec::new();
        for name in &self.cipher_suites {
            match cipher_suite(name) {
                None => {
                    return Err(bad(
                        &key("cipher_suites"),
                        format!("unknown cipher: {name}"),
                    ));
                }
                Some(None) => skipped.push(name.clone()),
                Some(Some(s)) if s.tls13().is_some() => suites13.push(s),
                Some(Some(s)) => suites12.push(s),
            }
        }
        let h2_required = [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ];
        if http.http2
            && !self.cipher_suites.is_empty()
            && !self
                .cipher_suites
                .iter()
                .any(|c| h2_required.contains(&c.as_str()))
        {
            // Go's HTTP/2 server refuses such a list at start (RFC 7540 §9.2.2).
            return Err(bad(
                &key("cipher_suites"),
                "TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher (need TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), or set http_server_config.http2: false".into(),
            ));
        }
        if !skipped.is_empty() {
            warnings.push(format!(
                "tls_server_config.cipher_suites: not implemented by rustls, skipped: {}",
                skipped.join(", ")
            ));
        }
        let listed12 = self
            .cipher_suites
            .iter()
            .any(|n| !n.starts_with("TLS_AES_") && !n.starts_with("TLS_CHACHA20_"));
        if !listed12 {
            suites12 = defaults
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_none())
                .copied()
                .collect();
        }
        if suites13.is_empty() {
            suites13 = defaults
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied()
                .collect();
        }
        if tls12 && suites12.is_empty() {
            tls12 = false;
            if tls13 {
                warnings.push(
                    "tls_server_config.cipher_suites: no listed TLS 1.2 suite is implemented by rustls; TLS 1.2 is off".into(),
                );
            }
        }
        if !tls12 && !tls13 {
            return Err(bad(
                &key("cipher_suites"),
                format!(
                    "none of {} is implemented by rustls (for TLS 1.2 it has only ECDHE with AES-GCM or ChaCha20-Poly1305) and max_version excludes TLS 1.3: nothing left to offer",
                    self.cipher_suites.join(", ")
                ),
            ));
        }

        let mut groups = Vec::new();
        let mut skipped = Vec::new();
        for name in &self.curve_preferences {
            match curve(name) {
                None => {
                    return Err(bad(
                        &key("curve_preferences"),
                        format!("unknown curve: {name}"),
                    ));
                }
                Some(None) => skipped.push(name.clone()),
                Some(Some(g)) => groups.push(g),
            }
        }
        if !skipped.is_empty() {
            if groups.is_empty() {
                return Err(bad(
                    &key("curve_preferences"),
                    format!(
                        "{} not implemented by rustls (it has X25519, CurveP256, CurveP384): no curve left",
                        skipped.join(", ")
                    ),
                ));
            }
            warnings.push(format!(
                "tls_server_config.curve_preferences: not implemented by rustls, skipped: {}",
                skipped.join(", ")
            ));
        }
        if groups.is_empty() {
            groups = defaults.kx_groups.clone();
        }

        let mut cipher_suites = Vec::new();
        if tls13 {
            cipher_suites.extend(suites13);
        }
        if tls12 {
            cipher_suites.extend(suites12);
        }
        let provider = Arc::new(CryptoProvider {
            cipher_suites,
            kx_groups: groups,
            ..defaults
        });
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (tls13, &rustls::version::TLS13),
            (tls12, &rustls::version::TLS12),
        ]
        .into_iter()
        .filter_map(|(on, v)| on.then_some(v))
        .collect();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| bad(&key("cipher_suites"), e.to_string()))?;

        let auth: ClientAuth = self
            .client_auth_type
            .parse()
            .map_err(|m| bad(&key("client_auth_type"), m))?;
        let (mandatory, verify) = auth.policy();
        let mut roots = RootCertStore::empty();
        let mut direct = Vec::new();
        if !self.client_ca_file.is_empty() {
            let ca = Path::new(&self.client_ca_file);
            let text = std::fs::read(ca)
                .map_err(|e| bad(&key("client_ca_file"), format!("{}: {e}", ca.display())))?;
            // Like Go's AppendCertsFromPEM: what parses is used, the rest ignored.
            use rustls::pki_types::pem::PemObject;
            for c in CertificateDer::pem_slice_iter(&text).flatten() {
                direct.push(c.clone());
                let _ = roots.add(c);
            }
        } else if verify == Some(true) {
            // Go verifies against the system pool when no client CA is set.
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if !self.client_ca_file.is_empty() && verify.is_none() {
            return Err(bad(
                &key("client_ca_file"),
                "Client CA's have been configured without a Client Auth Policy (set client_auth_type)".into(),
            ));
        }
        let builder = match verify {
            None => builder.with_no_client_auth(),
            Some(check) => {
                let chain = if !check {
                    Chain::Any
                } else if roots.is_empty() {
                    Chain::Nothing
                } else {
                    let v = WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| bad(&key("client_ca_file"), e.to_string()))?;
                    Chain::WebPki(v)
                };
                builder.with_client_cert_verifier(Arc::new(ClientVerifier {
                    mandatory,
                    chain,
                    direct,
                    algorithms: provider.signature_verification_algorithms,
                }))
            }
        };
        let mut config = builder
            .with_single_cert(certs, private_key)
            .map_err(|e| bad(&key("key_file"), e.to_string()))?;
        config.ignore_client_order = self.prefer_server_cipher_suites.unwrap_or(true);
        config.alpn_protocols = if http.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Some(Arc::new(config)))
    }

    fn version(
        &self,
        field: &str,
        value: Option<&str>,
        default: u8,
        bad: &dyn Fn(&str, String) -> Error,
    ) -> Result<u8, Error> {
        match value {
            None => Ok(default),
            Some(v) => tls_version(v).ok_or_else(|| {
                bad(
                    &format!("tls_server_config.{field}"),
                    format!("unknown TLS version: {v}"),
                )
            }),
        }
    }
}

/// How presented client certificates are checked.
#[derive(Debug)]
enum Chain {
    /// Any certificate (RequestClientCert, RequireAnyClientCert): proof of key possession only.
    Any,
    /// A chain to a client CA.
    WebPki(Arc<dyn ClientCertVerifier>),
    /// No usable CA (empty client_ca_file): every presented certificate fails, as in Go.
    Nothing,
}

/// The toolkit's client-auth types on rustls: whether a certificate is required is separate
/// from how it is checked; a certificate listed in client_ca_file itself is trusted directly
/// (Go does; webpki refuses a self-signed CA certificate as a client's end entity).
#[derive(Debug)]
struct ClientVerifier {
    mandatory: bool,
    chain: Chain,
    direct: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.chain {
            Chain::Any => Ok(ClientCertVerified::assertion()),
            Chain::Nothing => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
            Chain::WebPki(v) => {
                if self
                    .direct
                    .iter()
                    .any(|d| d.as_ref() == end_entity.as_ref())
                {
                    let valid = x509_parser::parse_x509_certificate(end_entity)
                        .map(|(_, c)| {
                            let t = now.as_secs() as i64;
                            c.validity().not_before.timestamp() <= t
                                && t <= c.validity().not_after.timestamp()
                        })
                        .unwrap_or(false);
                    return if valid {
                        Ok(ClientCertVerified::assertion())
                    } else {
                        Err(rustls::Error::InvalidCertificate(
                            rustls::CertificateError::Expired,
                        ))
                    };
                }
                v.verify_client_cert(end_entity, intermediates, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

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
pub async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let config = guard.web.current();
    let mut response = if config.wants_auth() {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match guard.check(&config, value).await {
            Auth::Allowed => next.run(request).await,
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
