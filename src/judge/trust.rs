//! The trust store `cert_trusted` judges against (the built-in web roots plus `ca_file`), and
//! chain verification that judges trust alone: the leaf's purposes (EKU), its name and its
//! validity period are judged by their own checks, so none of them may hide an untrusted chain.

use std::path::Path;

use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};

use crate::error::Error;
use crate::facts::{CertFacts, Reason};

/// Trust anchors and the signature algorithms chains may use.
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
}

/// Outcome of verifying a presented chain against the trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    Untrusted(Reason),
}

/// Any purpose: the chain is judged for trust only (`cert_server_auth` and `cert_client_auth`
/// judge the leaf's EKU).
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

impl TrustStore {
    /// The built-in web roots plus every certificate of `ca_file`.
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStore, Error> {
        let mut anchors = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        if let Some(path) = ca_file {
            for c in crate::pem::read_certs(path)? {
                let anchor = webpki::anchor_from_trusted_cert(&c).map_err(|e| Error::Pem {
                    path: path.display().to_string(),
                    message: format!("not a usable trust anchor: {e}"),
                })?;
                anchors.push(anchor.to_owned());
            }
        }
        Ok(TrustStore::with_anchors(anchors))
    }

    /// Only the given anchors (tests and the lab use their own roots).
    pub fn with_anchors(anchors: Vec<TrustAnchor<'static>>) -> TrustStore {
        TrustStore {
            anchors,
            algorithms: webpki::ALL_VERIFICATION_ALGS,
        }
    }

    /// Verifies the presented chain (leaf first) to a trusted root. The validity period is
    /// judged at `now` unless the leaf is outside it (then at its midpoint: expiry is
    /// `cert_valid_now`'s verdict, not an untrusted chain).
    pub fn verify(&self, chain: &[CertFacts], now: i64) -> Trust {
        let Some(leaf) = chain.first() else {
            return Trust::Untrusted(Reason::Untrusted);
        };
        let Some(details) = &leaf.parsed else {
            return Trust::Untrusted(Reason::MalformedCertificate);
        };
        let leaf_der = CertificateDer::from(leaf.der.as_slice());
        let Ok(end) = webpki::EndEntityCert::try_from(&leaf_der) else {
            return Trust::Untrusted(Reason::MalformedCertificate);
        };
        let intermediates: Vec<CertificateDer<'_>> = chain[1..]
            .iter()
            .map(|c| CertificateDer::from(c.der.as_slice()))
            .collect();
        let at = if (details.not_before..=details.not_after).contains(&now) {
            now
        } else {
            details.not_before + (details.not_after - details.not_before) / 2
        };
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.max(0) as u64));
        let result = end.verify_for_usage(
            self.algorithms,
            &self.anchors,
            &intermediates,
            time,
            AnyPurpose,
            None,
            None,
        );
        match result {
            Ok(_) => Trust::Trusted,
            Err(webpki::Error::UnknownIssuer) if details.self_signed => {
                Trust::Untrusted(Reason::SelfSigned)
            }
            Err(webpki::Error::UnknownIssuer) if chain.len() == 1 => {
                Trust::Untrusted(Reason::IncompleteChain)
            }
            Err(webpki::Error::BadDer | webpki::Error::TrailingData(_)) => {
                Trust::Untrusted(Reason::MalformedCertificate)
            }
            Err(_) => Trust::Untrusted(Reason::Untrusted),
        }
    }
}
