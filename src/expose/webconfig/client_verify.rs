//! Client-certificate verification as the toolkit means `client_auth_type` and
//! `client_ca_file`, on rustls.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::error::Error;

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

/// The verifier `client_auth_type` and `client_ca_file` ask for; `None` when no certificate is
/// asked for. `bad(key, message)` makes the error for a key of `tls_server_config`.
pub(super) fn verifier(
    client_auth_type: &str,
    client_ca_file: &str,
    provider: &Arc<CryptoProvider>,
    bad: &dyn Fn(&str, String) -> Error,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, Error> {
    let key = |k: &str| format!("tls_server_config.{k}");
    let auth: ClientAuth = client_auth_type
        .parse()
        .map_err(|m| bad(&key("client_auth_type"), m))?;
    let (mandatory, verify) = auth.policy();
    let mut roots = RootCertStore::empty();
    let mut direct = Vec::new();
    if !client_ca_file.is_empty() {
        let ca = Path::new(client_ca_file);
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
    if !client_ca_file.is_empty() && verify.is_none() {
        return Err(bad(
            &key("client_ca_file"),
            "Client CA's have been configured without a Client Auth Policy (set client_auth_type)"
                .into(),
        ));
    }
    let Some(check) = verify else {
        return Ok(None);
    };
    let chain = if !check {
        Chain::Any
    } else if roots.is_empty() {
        Chain::Nothing
    } else {
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad(&key("client_ca_file"), e.to_string()))?;
        Chain::WebPki(v)
    };
    Ok(Some(Arc::new(ClientVerifier {
        mandatory,
        chain,
        direct,
        algorithms: provider.signature_verification_algorithms,
    })))
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
