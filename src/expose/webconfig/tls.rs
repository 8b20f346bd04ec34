//! The rustls server configuration a `tls_server_config:` section means: the certificate,
//! TLS versions, cipher suites, curves and the client-certificate policy. What rustls cannot
//! do is skipped with a warning; a section left with nothing usable is refused.

use std::path::Path;
use std::sync::Arc;

use rustls::SupportedCipherSuite;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};

use super::client_verify;
use super::decode::{HttpServerConfig, TlsServerConfig};
use crate::error::Error;
use crate::pem;

/// Makes the error for a key of the file: `bad(key, message)`.
type Bad<'a> = &'a dyn Fn(&str, String) -> Error;

/// `tls_server_config.<k>`.
fn key(k: &str) -> String {
    format!("tls_server_config.{k}")
}

/// The certificates of an inline PEM (`cert:`): at least one, every block well formed.
fn inline_certs(text: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
    if certs.is_empty() {
        return Err("failed to load X509KeyPair: no certificate found".into());
    }
    Ok(certs)
}

/// The TLS versions left to offer.
#[derive(Debug, Clone, Copy)]
struct Versions {
    tls12: bool,
    tls13: bool,
}

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

impl TlsServerConfig {
    /// The rustls configuration, or `None` when the section sets nothing (plain HTTP).
    /// Problems are reported in the order the toolkit meets them.
    pub(super) fn server_config(
        &self,
        http: &HttpServerConfig,
        warnings: &mut Vec<String>,
        bad: Bad<'_>,
    ) -> Result<Option<Arc<rustls::ServerConfig>>, Error> {
        if self.cert_file.is_empty()
            && self.cert.is_empty()
            && self.key_file.is_empty()
            && self.key.is_empty()
            && self.client_auth_type.is_empty()
            && self.client_ca_file.is_empty()
            && self.client_ca.is_empty()
        {
            return Ok(None);
        }
        if self.cert_file.is_empty() && self.cert.is_empty() {
            return Err(bad(
                &key("cert_file"),
                "missing one of cert or cert_file".into(),
            ));
        }
        if self.key_file.is_empty() && self.key.is_empty() {
            return Err(bad(
                &key("key_file"),
                "missing one of key or key_file".into(),
            ));
        }
        // A file wins over the inline PEM, as in the toolkit's loadCert.
        let certs = if !self.cert_file.is_empty() {
            pem::read_certs(Path::new(&self.cert_file))
                .map_err(|e| bad(&key("cert_file"), e.to_string()))?
        } else {
            inline_certs(&self.cert).map_err(|m| bad(&key("cert"), m))?
        };
        let private_key = if !self.key_file.is_empty() {
            pem::read_key(Path::new(&self.key_file))
                .map_err(|e| bad(&key("key_file"), e.to_string()))?
        } else {
            use rustls::pki_types::pem::PemObject;
            // The key is a secret: the message never quotes it.
            rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key.as_bytes())
                .map_err(|e| bad(&key("key"), format!("no usable private key: {e}")))?
        };

        let versions = self.versions(warnings, bad)?;
        let defaults = rustls::crypto::ring::default_provider();
        let (cipher_suites, versions) =
            self.cipher_suites(http, &defaults, versions, warnings, bad)?;
        let kx_groups = self.kx_groups(&defaults, warnings, bad)?;
        let provider = Arc::new(CryptoProvider {
            cipher_suites,
            kx_groups,
            ..defaults
        });
        let offered: Vec<&'static rustls::SupportedProtocolVersion> = [
            (versions.tls13, &rustls::version::TLS13),
            (versions.tls12, &rustls::version::TLS12),
        ]
        .into_iter()
        .filter_map(|(on, v)| on.then_some(v))
        .collect();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&offered)
            .map_err(|e| bad(&key("cipher_suites"), e.to_string()))?;
        let builder = match client_verify::verifier(
            &client_verify::Policy {
                client_auth_type: &self.client_auth_type,
                client_ca_file: &self.client_ca_file,
                client_ca: &self.client_ca,
                allowed_sans: self.client_allowed_sans.as_deref(),
            },
            &provider,
            bad,
        )? {
            None => builder.with_no_client_auth(),
            Some(verifier) => builder.with_client_cert_verifier(verifier),
        };
        let mut config = builder.with_single_cert(certs, private_key).map_err(|e| {
            let k = if self.key_file.is_empty() {
                "key"
            } else {
                "key_file"
            };
            bad(&key(k), e.to_string())
        })?;
        config.ignore_client_order = self.prefer_server_cipher_suites.unwrap_or(true);
        config.alpn_protocols = if http.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Some(Arc::new(config)))
    }

    /// `min_version` and `max_version` (default TLS 1.2 to 1.3) as the versions rustls has.
    fn versions(&self, warnings: &mut Vec<String>, bad: Bad<'_>) -> Result<Versions, Error> {
        let (min, max) = (
            self.version("min_version", self.min_version.as_deref(), 2, bad)?,
            self.version("max_version", self.max_version.as_deref(), 3, bad)?,
        );
        if min < 2 {
            warnings.push(format!(
                "tls_server_config.min_version: TLS1{min} is not implemented by rustls; the lowest version offered is TLS 1.2"
            ));
        }
        let versions = Versions {
            tls12: min <= 2 && max >= 2,
            tls13: max >= 3,
        };
        if !versions.tls12 && !versions.tls13 {
            return Err(bad(
                &key("max_version"),
                format!(
                    "no TLS version left between min_version TLS1{min} and max_version TLS1{max}: rustls implements only TLS 1.2 and 1.3"
                ),
            ));
        }
        Ok(versions)
    }

    /// The suites to offer (TLS 1.3's first), and the versions still on: TLS 1.2 goes off when
    /// none of its listed suites is implemented. `cipher_suites`, as in Go, governs TLS 1.2;
    /// TLS 1.3 suites are restricted only when the list names some.
    fn cipher_suites(
        &self,
        http: &HttpServerConfig,
        defaults: &CryptoProvider,
        mut versions: Versions,
        warnings: &mut Vec<String>,
        bad: Bad<'_>,
    ) -> Result<(Vec<SupportedCipherSuite>, Versions), Error> {
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
        self.check_http2_suites(http, bad)?;
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
        if versions.tls12 && suites12.is_empty() {
            versions.tls12 = false;
            if versions.tls13 {
                warnings.push(
                    "tls_server_config.cipher_suites: no listed TLS 1.2 suite is implemented by rustls; TLS 1.2 is off".into(),
                );
            }
        }
        if !versions.tls12 && !versions.tls13 {
            return Err(bad(
                &key("cipher_suites"),
                format!(
                    "none of {} is implemented by rustls (for TLS 1.2 it has only ECDHE with AES-GCM or ChaCha20-Poly1305) and max_version excludes TLS 1.3: nothing left to offer",
                    self.cipher_suites.join(", ")
                ),
            ));
        }
        let mut suites = Vec::new();
        if versions.tls13 {
            suites.extend(suites13);
        }
        if versions.tls12 {
            suites.extend(suites12);
        }
        Ok((suites, versions))
    }

    /// Go's HTTP/2 server refuses a suite list without an HTTP/2-required suite at start
    /// (RFC 7540 §9.2.2); so does this one.
    fn check_http2_suites(&self, http: &HttpServerConfig, bad: Bad<'_>) -> Result<(), Error> {
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
            return Err(bad(
                &key("cipher_suites"),
                "TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher (need TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), or set http_server_config.http2: false".into(),
            ));
        }
        Ok(())
    }

    /// The key-exchange groups of `curve_preferences` (rustls' defaults when not set).
    fn kx_groups(
        &self,
        defaults: &CryptoProvider,
        warnings: &mut Vec<String>,
        bad: Bad<'_>,
    ) -> Result<Vec<&'static dyn SupportedKxGroup>, Error> {
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
        Ok(groups)
    }

    /// One of `min_version` / `max_version` as a minor version number, `default` when unset.
    fn version(
        &self,
        field: &str,
        value: Option<&str>,
        default: u8,
        bad: Bad<'_>,
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
