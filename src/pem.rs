//! Reading PEM files (certificates, keys, trust anchors) with errors that name the file.
//! Imports nothing of the crate but its error, so `config` validates identity files here
//! without importing `gather` or `judge`, which import `config`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};
use rustls::sign::CertifiedKey;

use crate::error::Error;

pub(crate) fn pem_error(path: &Path, message: impl ToString) -> Error {
    Error::Pem {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Every certificate of a PEM file; none, or a malformed block, is an error naming the file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no certificate found"));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

/// Reads a PEM certificate chain and private key into a signing key for client auth.
pub fn load_certified_key(cert_file: &Path, key_file: &Path) -> Result<Arc<CertifiedKey>, Error> {
    let certs = read_certs(cert_file)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&read_key(key_file)?)
        .map_err(|e| pem_error(key_file, e))?;
    let key = CertifiedKey::new(certs, signing);
    // A key that is not the certificate's would fail every handshake that asks for it.
    match key.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            return Err(pem_error(
                key_file,
                format!(
                    "does not match the certificate of {}: {e}",
                    cert_file.display()
                ),
            ));
        }
    }
    Ok(Arc::new(key))
}

/// The trust anchors of a PEM file of CA certificates; a certificate that cannot anchor a
/// chain is an error naming the file.
pub fn read_trust_anchors(ca_file: &Path) -> Result<Vec<TrustAnchor<'static>>, Error> {
    let mut anchors = Vec::new();
    for c in read_certs(ca_file)? {
        let anchor = webpki::anchor_from_trusted_cert(&c).map_err(|e| Error::Pem {
            path: ca_file.display().to_string(),
            message: format!("not a usable trust anchor: {e}"),
        })?;
        anchors.push(anchor.to_owned());
    }
    Ok(anchors)
}
