//! Lab certificates (rcgen): a root, an issuing intermediate, a Let's Encrypt look-alike
//! intermediate, and leaves with any names, validity, EKUs and chain shape a test needs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A CA that can sign.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
}

/// The lab's certificate authorities.
pub struct Pki {
    root: Ca,
    issuing: Ca,
    lets_encrypt: Ca,
    /// PEM of the root, to be used as `ca_file`.
    pub root_pem: String,
}

/// Who signs a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The lab's issuing intermediate (trusted through the root).
    Issuing,
    /// An intermediate named like Let's Encrypt's (trusted through the lab root).
    LetsEncrypt,
    /// The leaf signs itself.
    SelfSigned,
}

/// What a leaf certificate should look like.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    pub names: Vec<String>,
    /// Days relative to now (negative: in the past).
    pub not_before_days: i64,
    pub not_after_days: i64,
    pub server_auth: bool,
    pub client_auth: bool,
    pub signer: Signer,
    /// Send the intermediate with the leaf.
    pub with_intermediate: bool,
}

impl LeafSpec {
    /// A healthy federation certificate: 90 days, 30 used, serverAuth+clientAuth, full chain.
    pub fn good(name: &str) -> LeafSpec {
        LeafSpec {
            names: vec![name.to_string()],
            not_before_days: -30,
            not_after_days: 60,
            server_auth: true,
            client_auth: true,
            signer: Signer::Issuing,
            with_intermediate: true,
        }
    }
}

/// A certificate chain and its key, ready for a TLS server or a PEM file.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf alone as PEM.
    pub leaf_pem: String,
    /// The leaf and its intermediate (when the spec sends one) as PEM: what a server's or a
    /// mutual-TLS client's certificate file holds.
    pub chain_pem: String,
    pub key_pem: String,
    /// An OCSP response the server staples to its handshakes.
    pub ocsp: Option<Vec<u8>>,
}

impl Leaf {
    /// A copy of this chain and key.
    pub fn clone_key(&self) -> Leaf {
        Leaf {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            leaf_pem: self.leaf_pem.clone(),
            chain_pem: self.chain_pem.clone(),
            key_pem: self.key_pem.clone(),
            ocsp: self.ocsp.clone(),
        }
    }
}

fn dn(cn: &str, o: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d.push(DnType::OrganizationName, o);
    d
}

fn ca_params(cn: &str, o: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn, o);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(365);
    p.not_after = now + Duration::days(3650);
    p
}

impl Pki {
    /// Creates fresh CAs (new keys every time).
    pub fn new() -> Result<Pki, rcgen::Error> {
        Pki::named("sipfed lab")
    }

    /// Fresh CAs whose names start with `name` (`<name> root`, `<name> issuing CA`): another
    /// organisation's PKI, whose issuer a verifier of the lab's does not know.
    pub fn named(name: &str) -> Result<Pki, rcgen::Error> {
        let root_key = KeyPair::generate()?;
        let root_params = ca_params(&format!("{name} root"), name, None);
        let root_cert = root_params.self_signed(&root_key)?;
        let root_pem = root_cert.pem();
        let root = Ca {
            params: root_params,
            key: root_key,
            der: root_cert.der().clone(),
            pem: root_pem.clone(),
        };
        let issuing = Self::intermediate(&root, &format!("{name} issuing CA"), name)?;
        let lets_encrypt = Self::intermediate(&root, "R13", "Let's Encrypt")?;
        Ok(Pki {
            root,
            issuing,
            lets_encrypt,
            root_pem,
        })
    }

    fn intermediate(root: &Ca, cn: &str, o: &str) -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let params = ca_params(cn, o, Some(0));
        let issuer = Issuer::from_params(&root.params, &root.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Ca {
            params,
            key,
            der: cert.der().clone(),
            pem: cert.pem(),
        })
    }

    /// The root's parameters and key, to sign another intermediate.
    pub(crate) fn root_signer(&self) -> (&CertificateParams, &KeyPair) {
        (&self.root.params, &self.root.key)
    }

    /// The root certificate.
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.root.der
    }

    /// Issues a leaf as `spec` says.
    pub fn leaf(&self, spec: &LeafSpec) -> Result<Leaf, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(spec.names.clone())?;
        params.distinguished_name = dn(
            spec.names.first().map(String::as_str).unwrap_or("lab"),
            "sipfed lab peer",
        );
        let now = OffsetDateTime::now_utc();
        params.not_before = now + Duration::days(spec.not_before_days);
        params.not_after = now + Duration::days(spec.not_after_days);
        params.extended_key_usages = Vec::new();
        if spec.server_auth {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if spec.client_auth {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        if params.extended_key_usages.is_empty() {
            // An EKU extension that allows neither: code signing only.
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::CodeSigning);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let (cert, intermediate) = match spec.signer {
            Signer::SelfSigned => (params.self_signed(&key)?, None),
            Signer::Issuing | Signer::LetsEncrypt => {
                let ca = if spec.signer == Signer::Issuing {
                    &self.issuing
                } else {
                    &self.lets_encrypt
                };
                let issuer = Issuer::from_params(&ca.params, &ca.key);
                (params.signed_by(&key, &issuer)?, Some(ca))
            }
        };
        let mut chain = vec![cert.der().clone()];
        let mut chain_pem = cert.pem();
        if spec.with_intermediate
            && let Some(ca) = intermediate
        {
            chain.push(ca.der.clone());
            chain_pem.push_str(&ca.pem);
        }
        Ok(Leaf {
            chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            leaf_pem: cert.pem(),
            chain_pem,
            key_pem: key.serialize_pem(),
            ocsp: None,
        })
    }
}
