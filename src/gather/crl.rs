//! CRLs (RFC 5280 §5) with x509-parser: a downloaded list is kept, once its issuer's
//! signature verifies, as the set of serials it revokes with its thisUpdate/nextUpdate.

use std::collections::HashMap;

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::facts::{CertState, EvidenceFailure, Reason, Status, reason_name};

/// A CRL is read up to this many bytes, then it is "too large" (`bad_response`): large
/// public CAs' CRLs stay below a few MiB since they shard them (CA/B Forum BR §4.10).
pub const MAX_CRL: usize = 16 * 1024 * 1024;

/// A verified CRL: what it says of any serial.
#[derive(Debug)]
pub struct Crl {
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// Revoked serials (without leading zero octets): when, and the reason code if given.
    revoked: HashMap<Box<[u8]>, (i64, Option<u8>)>,
}

impl Crl {
    /// What the CRL says of the certificate with raw serial `serial`.
    pub fn status(&self, serial: &[u8]) -> Status {
        let state = match self.revoked.get(serial_value(serial)) {
            Some((at, reason)) => CertState::Revoked {
                at: *at,
                reason: reason.map(reason_name),
            },
            None => CertState::Good,
        };
        Status {
            state,
            this_update: self.this_update,
            next_update: self.next_update,
        }
    }

    /// Bytes the CRL holds in memory, about (the cache's budget).
    pub fn size(&self) -> usize {
        self.revoked.keys().map(|k| k.len() + 48).sum::<usize>() + 64
    }
}

fn serial_value(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    &raw[start..]
}

fn bad(detail: impl Into<String>) -> EvidenceFailure {
    EvidenceFailure::new(Reason::BadResponse, detail)
}

/// Parses the DER CRL `der` (PEM is accepted too) and verifies it was signed by `issuer_der`.
pub fn verify(der: &[u8], issuer_der: &[u8]) -> Result<Crl, EvidenceFailure> {
    let pem;
    let der = if der.starts_with(b"-----BEGIN") {
        pem = x509_parser::pem::parse_x509_pem(der)
            .map_err(|e| bad(format!("not a CRL: {e}")))?
            .1;
        &pem.contents[..]
    } else {
        der
    };
    let (_, crl) =
        CertificateRevocationList::from_der(der).map_err(|e| bad(format!("not a CRL: {e}")))?;
    let (_, issuer) = X509Certificate::from_der(issuer_der)
        .map_err(|_| bad("the certificate's issuer does not parse"))?;
    if crl.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(bad(format!(
            "a CRL of {}, not of the certificate's issuer {}",
            crl.issuer(),
            issuer.subject()
        )));
    }
    if crl.verify_signature(issuer.public_key()).is_err() {
        return Err(bad("the CRL's signature is not the issuer's"));
    }
    let revoked = crl
        .iter_revoked_certificates()
        .map(|r| {
            let reason = r.reason_code().map(|(_, code)| code.0);
            (
                serial_value(r.raw_serial()).into(),
                (r.revocation_date.timestamp(), reason),
            )
        })
        .collect();
    Ok(Crl {
        this_update: crl.last_update().timestamp(),
        next_update: crl.next_update().map(|t| t.timestamp()),
        revoked,
    })
}

/// The raw serial of a DER certificate (for [`Crl::status`]).
pub fn serial_of(cert_der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    Some(cert.raw_serial().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz seeds: a u16 length, an issuer, and its CRL from `openssl ca -gencrl` revoking
    /// serial 0x1234 (keyCompromise), as DER and as PEM.
    const DER: &[u8] = include_bytes!("../../fuzz/seeds/crl/openssl-der");
    const PEM: &[u8] = include_bytes!("../../fuzz/seeds/crl/openssl-pem");

    fn parts(seed: &[u8]) -> (&[u8], &[u8]) {
        let n = usize::from(u16::from_be_bytes([seed[0], seed[1]]));
        seed[2..].split_at(n)
    }

    #[test]
    fn an_openssl_crl_is_read_and_verified() {
        for seed in [DER, PEM] {
            let (issuer, list) = parts(seed);
            let crl = verify(list, issuer).unwrap();
            let revoked = crl.status(&[0x12, 0x34]);
            assert!(
                matches!(&revoked.state, CertState::Revoked { reason: Some(r), .. } if r == "keyCompromise"),
                "{revoked:?}"
            );
            // A leading zero octet (DER's sign byte) is the same serial.
            assert_eq!(crl.status(&[0x00, 0x12, 0x34]).state, revoked.state);
            assert_eq!(crl.status(&[0x12, 0x35]).state, CertState::Good);
            assert_eq!(
                crl.next_update.map(|n| n - crl.this_update),
                Some(7 * 86_400)
            );
        }
    }

    #[test]
    fn a_crl_of_another_issuer_is_no_evidence() {
        let (issuer, list) = parts(DER);
        // A CRL checked against a certificate that is not its issuer.
        let e = verify(list, &issuer[..issuer.len() - 1]).unwrap_err();
        assert_eq!(e.reason, Reason::BadResponse);
        let mut tampered = list.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let e = verify(&tampered, issuer).unwrap_err();
        assert_eq!(e.detail, "the CRL's signature is not the issuer's");
    }
}
