//! The TLS step: a rustls handshake that completes whatever the presented chain is worth and
//! keeps that chain, so certificate problems are judged instead of being lost as handshake
//! errors. Also notes whether the peer asked for a client certificate (mutual TLS).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::cert;
use crate::error::Error;
use crate::facts::{CertFacts, PeerAlert, Reason, TlsFacts, TlsFailure, TlsVersion};

/// The TLS client of a vantage: one base configuration, cheaply specialised per connection
/// with the identity (client certificate) the probing tenant presents.
pub struct TlsClient {
    base: Arc<ClientConfig>,
    /// The cipher suites the client offers, as said when a handshake fails for want of one.
    offered: Arc<str>,
    algs: WebPkiSupportedAlgorithms,
    /// Chains parsed lately, by their certificates: the edges of an MSP present a handful of
    /// chains to thousands of handshakes, parsed once each.
    chains: Mutex<Chains<Arc<[CertFacts]>>>,
}

/// Parsed chains kept at most (then the cache starts over).
const CHAINS_KEPT: usize = 1024;

/// Bytes of presented certificates (DER) the chain cache keeps at most, counted twice for the
/// key and its parsed facts (then the cache starts over). A chain larger than this is parsed
/// and not kept.
const CHAIN_BYTES_KEPT: usize = 16 << 20;

/// Chains parsed lately, bounded in count ([`CHAINS_KEPT`]) and bytes ([`CHAIN_BYTES_KEPT`]).
struct Chains<V> {
    map: HashMap<Vec<CertificateDer<'static>>, V>,
    bytes: usize,
    max_bytes: usize,
}

impl<V: Clone> Chains<V> {
    fn new(max_bytes: usize) -> Self {
        Chains {
            map: HashMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    fn get(&self, presented: &[CertificateDer<'static>]) -> Option<V> {
        self.map.get(presented).cloned()
    }

    /// The cost of keeping a chain: its DER bytes, twice (key and parsed facts).
    fn cost(presented: &[CertificateDer<'static>]) -> usize {
        2 * presented.iter().map(|c| c.len()).sum::<usize>()
    }

    fn insert(&mut self, presented: Vec<CertificateDer<'static>>, value: V) {
        let cost = Self::cost(&presented);
        if cost > self.max_bytes || self.map.contains_key(&presented) {
            return;
        }
        if self.map.len() >= CHAINS_KEPT || self.bytes + cost > self.max_bytes {
            self.map.clear();
            self.bytes = 0;
        }
        self.bytes += cost;
        self.map.insert(presented, value);
    }
}

/// What one handshake produced: its outcome, the presented chain and, on success, the stream.
pub struct Handshake {
    pub result: Result<TlsFacts, TlsFailure>,
    pub chain: Arc<[CertFacts]>,
    /// The OCSP response the peer stapled, if any.
    pub stapled: Option<Vec<u8>>,
    pub stream: Option<TlsStream<TcpStream>>,
}

impl TlsClient {
    /// Builds the client.
    pub fn new() -> Result<TlsClient, Error> {
        let mut provider = rustls::crypto::ring::default_provider();
        // Every suite stays offered and the peer chooses; AES-128-GCM with SHA-256 first
        // makes each handshake cheaper where the peer honours the client's order.
        provider.cipher_suites.sort_by_key(|s| {
            !s.suite()
                .as_str()
                .is_some_and(|n| n.contains("AES_128_GCM"))
        });
        let offered = provider
            .cipher_suites
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect::<Vec<_>>()
            .join(", ")
            .into();
        let provider = Arc::new(provider);
        let algs = provider.signature_verification_algorithms;
        let capture = Arc::new(Capture::new(algs, None));
        let mut base = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Pem {
                path: "tls".into(),
                message: e.to_string(),
            })?
            .dangerous()
            .with_custom_certificate_verifier(capture.clone())
            .with_client_cert_resolver(capture);
        // Every probe must see the peer's full chain: a resumed session presents none.
        base.resumption = rustls::client::Resumption::disabled();
        Ok(TlsClient {
            base: Arc::new(base),
            offered,
            algs,
            chains: Mutex::new(Chains::new(CHAIN_BYTES_KEPT)),
        })
    }

    /// Runs a handshake on a connected stream with SNI `server_name`, offering `client_cert`
    /// to a peer that requests one.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        server_name: &str,
        client_cert: Option<&Arc<CertifiedKey>>,
    ) -> Handshake {
        let capture = Arc::new(Capture::new(self.algs, client_cert.cloned()));
        let mut config = (*self.base).clone();
        config.dangerous().set_certificate_verifier(capture.clone());
        config.client_auth_cert_resolver = capture.clone();
        let connector = TlsConnector::from(Arc::new(config));
        let name = match ServerName::try_from(server_name.to_string()) {
            Ok(n) => n,
            Err(e) => {
                return Handshake {
                    result: Err(TlsFailure::new(
                        Reason::HandshakeFailure,
                        format!("invalid server name: {e}"),
                    )),
                    chain: Arc::new([]),
                    stapled: None,
                    stream: None,
                };
            }
        };
        let start = Instant::now();
        let outcome = connector.connect(name, tcp).await;
        let elapsed = start.elapsed().as_secs_f64();
        let chain = self.parsed(capture.presented());
        let stapled = capture.stapled();
        match outcome {
            Ok(stream) => {
                let (_, conn) = stream.get_ref();
                let version = match conn.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
                    Some(rustls::ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
                    _ => TlsVersion::Unknown,
                };
                let cipher = conn
                    .negotiated_cipher_suite()
                    .and_then(|c| c.suite().as_str())
                    .unwrap_or("unknown")
                    .to_string();
                Handshake {
                    result: Ok(TlsFacts {
                        duration_seconds: elapsed,
                        version,
                        cipher,
                        client_cert_requested: capture.requested.load(Ordering::Relaxed),
                        client_cert_sent: capture.sent.load(Ordering::Relaxed),
                    }),
                    chain,
                    stapled,
                    stream: Some(stream),
                }
            }
            Err(e) => {
                let requested = capture.requested.load(Ordering::Relaxed);
                let mut reason = classify(&e);
                let mut detail = e.to_string();
                if reason == Reason::HandshakeFailure
                    && chain.is_empty()
                    && !requested
                    && refused_hello(&e)
                {
                    // Refused at the hello, before any certificate: the edge found none of
                    // the suites (and key exchanges) we offer acceptable.
                    reason = Reason::NoSharedCipher;
                    detail = format!(
                        "{e}: the edge accepts none of the cipher suites this probe offers ({}); the probe's TLS client (rustls) has no CBC and no static-RSA key exchange suites, so an edge that offers only those (e.g. AES128-SHA) fails here while older clients may still connect",
                        self.offered
                    );
                }
                Handshake {
                    result: Err(TlsFailure {
                        reason,
                        detail,
                        client_cert_requested: requested,
                        client_cert_sent: capture.sent.load(Ordering::Relaxed),
                        alert: refusing_alert(&e),
                    }),
                    chain,
                    stapled,
                    stream: None,
                }
            }
        }
    }
}

/// Whether the peer ended the handshake with the alert servers send when no cipher suite (or
/// key exchange) of the ClientHello suits them: handshake_failure (OpenSSL's "no shared
/// cipher") or insufficient_security.
fn refused_hello(e: &std::io::Error) -> bool {
    matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity
        ))
    )
}

impl TlsClient {
    /// The facts of a presented chain, parsed once while it is kept.
    fn parsed(&self, presented: Vec<CertificateDer<'static>>) -> Arc<[CertFacts]> {
        let lock = || self.chains.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(chain) = lock().get(&presented) {
            return chain.clone();
        }
        let chain: Arc<[CertFacts]> = presented.iter().map(|c| cert::parse(c)).collect();
        let mut chains = lock();
        // Looks run as tasks of their own, on several threads: one that parsed the same
        // chain meanwhile has put it in first, and every look shares that one.
        if let Some(first) = chains.get(&presented) {
            return first;
        }
        chains.insert(presented, chain.clone());
        chain
    }
}

/// Maps a handshake error to the bounded reason set.
fn classify(e: &std::io::Error) -> Reason {
    use std::io::ErrorKind;
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match inner {
            rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(_) => Reason::ProtocolVersion,
            _ => Reason::HandshakeFailure,
        };
    }
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            Reason::Closed
        }
        ErrorKind::TimedOut => Reason::Timeout,
        ErrorKind::InvalidData => Reason::HandshakeFailure,
        _ => Reason::HandshakeFailure,
    }
}

/// The alert of a TLS error when it is one a peer refuses a client certificate with.
pub fn refusing_alert(e: &std::io::Error) -> Option<PeerAlert> {
    use AlertDescription as A;
    let Some(rustls::Error::AlertReceived(alert)) =
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
    else {
        return None;
    };
    Some(match alert {
        A::UnknownCA => PeerAlert::UnknownCa,
        A::UnsupportedCertificate => PeerAlert::UnsupportedCertificate,
        A::CertificateRequired => PeerAlert::CertificateRequired,
        A::BadCertificate => PeerAlert::BadCertificate,
        A::CertificateUnknown => PeerAlert::CertificateUnknown,
        A::CertificateExpired => PeerAlert::CertificateExpired,
        A::CertificateRevoked => PeerAlert::CertificateRevoked,
        A::AccessDenied => PeerAlert::AccessDenied,
        A::HandshakeFailure => PeerAlert::HandshakeFailure,
        _ => return None,
    })
}

/// Per-connection state: accepts any chain (recording it) and records a certificate request.
#[derive(Debug)]
struct Capture {
    algs: WebPkiSupportedAlgorithms,
    client_cert: Option<Arc<CertifiedKey>>,
    presented: Mutex<Vec<CertificateDer<'static>>>,
    /// The stapled OCSP response (rustls asks for one in every ClientHello).
    stapled: Mutex<Option<Vec<u8>>>,
    requested: AtomicBool,
    sent: AtomicBool,
}

/// A stapled response is kept up to this size (real ones are 1–4 KiB).
const MAX_STAPLE: usize = 64 * 1024;

impl Capture {
    fn new(algs: WebPkiSupportedAlgorithms, client_cert: Option<Arc<CertifiedKey>>) -> Capture {
        Capture {
            algs,
            client_cert,
            presented: Mutex::new(Vec::new()),
            stapled: Mutex::new(None),
            requested: AtomicBool::new(false),
            sent: AtomicBool::new(false),
        }
    }

    fn stapled(&self) -> Option<Vec<u8>> {
        self.stapled.lock().ok()?.take()
    }

    fn presented(&self) -> Vec<CertificateDer<'static>> {
        match self.presented.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => Vec::new(),
        }
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !ocsp_response.is_empty()
            && let Ok(mut s) = self.stapled.lock()
        {
            // An oversized staple is kept as an empty one: stapled, and no evidence.
            *s = Some(if ocsp_response.len() <= MAX_STAPLE {
                ocsp_response.to_vec()
            } else {
                Vec::new()
            });
        }
        if let Ok(mut p) = self.presented.lock() {
            p.push(end_entity.clone().into_owned());
            // A hostile peer may send hundreds of certificates; judging needs a handful.
            p.extend(
                intermediates
                    .iter()
                    .take(15)
                    .map(|c| c.clone().into_owned()),
            );
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ResolvesClientCert for Capture {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::Relaxed);
        let key = self.client_cert.as_ref()?;
        key.key.choose_scheme(sigschemes)?;
        self.sent.store(true, Ordering::Relaxed);
        Some(key.clone())
    }

    // Always true, so rustls asks us and we learn that the peer requested a certificate.
    fn has_certs(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod chain_cache_tests {
    use super::*;

    fn chain(tag: u8, len: usize) -> Vec<CertificateDer<'static>> {
        vec![CertificateDer::from(vec![tag; len])]
    }

    #[test]
    fn the_chain_cache_is_bounded_in_bytes() {
        // 4 MiB: two 1 MiB chains cost 2 MiB each and fill it.
        let mut chains = Chains::new(4 << 20);
        chains.insert(chain(1, 1 << 20), 1);
        chains.insert(chain(2, 1 << 20), 2);
        assert_eq!(chains.bytes, 4 << 20);
        assert_eq!(chains.get(&chain(1, 1 << 20)), Some(1));
        // A third would exceed the bound: the cache starts over with it alone.
        chains.insert(chain(3, 1 << 20), 3);
        assert_eq!(chains.map.len(), 1);
        assert_eq!(chains.bytes, 2 << 20);
        assert_eq!(chains.get(&chain(1, 1 << 20)), None);
        assert_eq!(chains.get(&chain(3, 1 << 20)), Some(3));
        // A chain larger than the whole bound is not kept at all; the others stay.
        chains.insert(chain(4, 3 << 20), 4);
        assert_eq!(chains.get(&chain(4, 3 << 20)), None);
        assert_eq!(chains.get(&chain(3, 1 << 20)), Some(3));
        assert_eq!(chains.bytes, 2 << 20);
        // Small chains: bounded by count as before.
        let mut small = Chains::new(CHAIN_BYTES_KEPT);
        for i in 0..(CHAINS_KEPT + 5) {
            small.insert(
                vec![CertificateDer::from((i as u32).to_be_bytes().to_vec())],
                i,
            );
        }
        assert!(small.map.len() <= CHAINS_KEPT);
        assert_eq!(small.map.len(), 5);
    }
}
