//! Client-certificate verification as the toolkit means `client_auth_type` and
//! `client_ca_file` (or inline `client_ca`), and `client_allowed_sans`, on rustls.

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

/// The client-certificate keys of `tls_server_config`.
pub(super) struct Policy<'a> {
    pub client_auth_type: &'a str,
    pub client_ca_file: &'a str,
    /// Inline PEM; used when `client_ca_file` is empty, as in the toolkit.
    pub client_ca: &'a str,
    pub allowed_sans: Option<&'a [String]>,
}

/// The verifier the policy asks for; `None` when no certificate is asked for.
/// `bad(key, message)` makes the error for a key of `tls_server_config`.
pub(super) fn verifier(
    policy: &Policy<'_>,
    provider: &Arc<CryptoProvider>,
    bad: &dyn Fn(&str, String) -> Error,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, Error> {
    let key = |k: &str| format!("tls_server_config.{k}");
    let auth: ClientAuth = policy
        .client_auth_type
        .parse()
        .map_err(|m| bad(&key("client_auth_type"), m))?;
    let (mandatory, verify) = auth.policy();
    let mut roots = RootCertStore::empty();
    let mut direct = Vec::new();
    let ca_text = if !policy.client_ca_file.is_empty() {
        let ca = Path::new(policy.client_ca_file);
        Some(
            std::fs::read(ca)
                .map_err(|e| bad(&key("client_ca_file"), format!("{}: {e}", ca.display())))?,
        )
    } else if !policy.client_ca.is_empty() {
        Some(policy.client_ca.as_bytes().to_vec())
    } else {
        None
    };
    if let Some(text) = &ca_text {
        // Like Go's AppendCertsFromPEM: what parses is used, the rest ignored.
        use rustls::pki_types::pem::PemObject;
        for c in CertificateDer::pem_slice_iter(text).flatten() {
            direct.push(c.clone());
            let _ = roots.add(c);
        }
    } else if verify == Some(true) {
        // Go verifies against the system pool when no client CA is set.
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if ca_text.is_some() && verify.is_none() {
        let k = if policy.client_ca_file.is_empty() {
            "client_ca"
        } else {
            "client_ca_file"
        };
        return Err(bad(
            &key(k),
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
    let allowed_sans = policy.allowed_sans.map(<[String]>::to_vec);
    Ok(Some(Arc::new(ClientVerifier {
        // The toolkit's SAN check runs on every handshake that asks for a certificate and
        // fails one without (Go's VerifyPeerCertificate reads the first certificate).
        mandatory: mandatory || allowed_sans.is_some(),
        chain,
        direct,
        allowed_sans,
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
    /// `client_allowed_sans`: the presented certificate must carry one of these SANs.
    allowed_sans: Option<Vec<String>>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// The SAN values Go's toolkit compares: DNS names, e-mail addresses, IP addresses (as Go
/// prints them) and URIs. An unparsable certificate has none.
fn san_values(cert: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, c)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(san)) = c.subject_alternative_name() else {
        return Vec::new();
    };
    let mut values = Vec::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => values.push(d.to_string()),
            GeneralName::RFC822Name(e) => values.push(e.to_string()),
            GeneralName::URI(u) => values.push(u.to_string()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => values.push(
                    std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
                        .to_string(),
                ),
                16 => {
                    let ip = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default());
                    // Go prints an IPv4-mapped address as IPv4.
                    values.push(match ip.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => ip.to_string(),
                    });
                }
                _ => {}
            },
            _ => {}
        }
    }
    values
}

/// The SANs of the client certificate `config` verified on a connection (its chain checked
/// against the client CAs: `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`), the
/// values `client_allowed_sans` compares; none when the chain was not checked
/// (`RequestClientCert`, `RequireAnyClientCert` prove only key possession) or no certificate
/// was presented.
pub fn verified_sans(
    client_auth_type: &str,
    presented: Option<&[CertificateDer<'_>]>,
) -> Vec<String> {
    let verified = client_auth_type
        .parse::<ClientAuth>()
        .is_ok_and(|a| a.policy().1 == Some(true));
    match presented.and_then(|c| c.first()) {
        Some(cert) if verified => san_values(cert),
        _ => Vec::new(),
    }
}

impl ClientVerifier {
    /// `client_allowed_sans` against the presented certificate.
    fn check_sans(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let Some(allowed) = &self.allowed_sans else {
            return Ok(());
        };
        if san_values(end_entity).iter().any(|v| allowed.contains(v)) {
            Ok(())
        } else {
            Err(rustls::Error::General(format!(
                "could not find allowed SANs in client cert, found: {allowed:?}"
            )))
        }
    }

    /// The chain as `client_auth_type` and the client CAs mean it.
    fn check_chain(
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
        // Chain first, then SANs, as Go runs VerifyPeerCertificate after its own checks.
        let verified = self.check_chain(end_entity, intermediates, now)?;
        self.check_sans(end_entity)?;
        Ok(verified)
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
