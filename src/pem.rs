//! Reading PEM files (certificates, keys) with errors that name the file.

use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
