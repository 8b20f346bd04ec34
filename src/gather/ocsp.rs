//! OCSP (RFC 6960) with x509-ocsp: the request for one certificate, and what a response
//! proves about it. A response counts only when it is signed by the certificate's issuer or
//! by a responder the issuer delegated (issued by it, with the OCSP-signing EKU, valid at the
//! time), and only its answer for this very certificate (issuer name and key hashes, serial).

use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::facts::{CertState, EvidenceFailure, Reason, Status, reason_name};

/// An OCSP response is read up to this many bytes (real ones are 1–4 KiB).
pub const MAX_RESPONSE: usize = 64 * 1024;

/// Certificates embedded in a response looked at at most (for a delegated responder).
const MAX_EMBEDDED: usize = 4;

/// The media type of an OCSP request body (RFC 6960 Appendix A.1).
pub const REQUEST_TYPE: &str = "application/ocsp-request";

const SHA1: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_PKIX_OCSP_BASIC: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

fn bad(detail: impl Into<String>) -> EvidenceFailure {
    EvidenceFailure::new(Reason::BadResponse, detail)
}

/// Hashes with the algorithm a CertID names (SHA-1, as RFC 5019 profiles, or SHA-256).
fn digest(alg: &der::oid::ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    let alg = if *alg == SHA1 {
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if *alg == SHA256 {
        &ring::digest::SHA256
    } else {
        return None;
    };
    Some(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// Serial bytes without leading zero octets (DER keeps one for positive numbers).
fn serial_value(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    &raw[start..]
}

/// The DER of an OCSP request for `cert` (issued by `issuer`), with a SHA-1 CertID (what
/// responders are required to support, RFC 5019 §2.1.1). `None` when either does not parse.
pub fn request(cert_der: &[u8], issuer_der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).ok()?;
    let id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(digest(&SHA1, issuer.subject().as_raw())?).ok()?,
        issuer_key_hash: OctetString::new(digest(
            &SHA1,
            &issuer.public_key().subject_public_key.data,
        )?)
        .ok()?,
        serial_number: SerialNumber::new(serial_value(cert.raw_serial())).ok()?,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .ok()
}

/// What the DER response `der` proves about `cert_der` (issued by `issuer_der`) at `now`.
pub fn verify(
    der: &[u8],
    cert_der: &[u8],
    issuer_der: &[u8],
    now: i64,
) -> Result<Status, EvidenceFailure> {
    let (Ok((_, cert)), Ok((_, issuer))) = (
        X509Certificate::from_der(cert_der),
        X509Certificate::from_der(issuer_der),
    ) else {
        return Err(bad("the certificate or its issuer does not parse"));
    };
    let response =
        OcspResponse::from_der(der).map_err(|e| bad(format!("not an OCSP response: {e}")))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(bad(format!(
            "the responder answered {:?}",
            response.response_status
        )));
    }
    let Some(bytes) = response.response_bytes else {
        return Err(bad("a successful OCSP response without a response"));
    };
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(bad(format!(
            "an OCSP response of type {}, not basic",
            bytes.response_type
        )));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| bad(format!("a malformed basic OCSP response: {e}")))?;
    let signed = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| bad(format!("a malformed basic OCSP response: {e}")))?;
    let signer_ok = signature_by(&basic, &signed, issuer.public_key().raw)
        || delegated(&basic, &signed, &issuer, now);
    if !signer_ok {
        return Err(bad(
            "signed by neither the issuer nor a responder the issuer delegated (OCSP-signing EKU)",
        ));
    }
    let issuer_name = issuer.subject().as_raw();
    let issuer_key = &issuer.public_key().subject_public_key.data;
    let serial = serial_value(cert.raw_serial());
    let single = basic.tbs_response_data.responses.iter().find(|r| {
        let id = &r.cert_id;
        let alg = &id.hash_algorithm.oid;
        serial_value(id.serial_number.as_bytes()) == serial
            && digest(alg, issuer_name).is_some_and(|h| h == id.issuer_name_hash.as_bytes())
            && digest(alg, issuer_key).is_some_and(|h| h == id.issuer_key_hash.as_bytes())
    });
    let Some(single) = single else {
        return Err(bad(format!(
            "the response is about another certificate (none for serial {})",
            crate::facts::hex(serial)
        )));
    };
    let time = |t: &x509_ocsp::OcspGeneralizedTime| t.0.to_unix_duration().as_secs() as i64;
    let this_update = time(&single.this_update);
    // Clocks differ a little; a response from the future is not evidence.
    if this_update > now + 300 {
        return Err(bad("the response's thisUpdate is in the future"));
    }
    let state = match &single.cert_status {
        CertStatus::Good(_) => CertState::Good,
        CertStatus::Unknown(_) => CertState::Unknown,
        CertStatus::Revoked(info) => CertState::Revoked {
            at: time(&info.revocation_time),
            reason: info.revocation_reason.map(|r| reason_name(r as u8)),
        },
    };
    Ok(Status {
        state,
        this_update,
        next_update: single.next_update.as_ref().map(time),
    })
}

/// Whether the response's signature verifies with the key of `spki_der` (a DER
/// SubjectPublicKeyInfo).
fn signature_by(basic: &BasicOcspResponse, signed: &[u8], spki_der: &[u8]) -> bool {
    use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};
    let Ok(alg_der) = basic.signature_algorithm.to_der() else {
        return false;
    };
    let (Ok((_, alg)), Ok((_, spki))) = (
        AlgorithmIdentifier::from_der(&alg_der),
        SubjectPublicKeyInfo::from_der(spki_der),
    ) else {
        return false;
    };
    let Some(sig) = basic.signature.as_bytes() else {
        return false;
    };
    let sig = x509_parser::asn1_rs::BitString::new(0, sig);
    x509_parser::verify::verify_signature(&spki, &alg, &sig, signed).is_ok()
}

/// Whether an embedded certificate is a responder `issuer` delegated that signed the response.
fn delegated(basic: &BasicOcspResponse, signed: &[u8], issuer: &X509Certificate, now: i64) -> bool {
    let Some(certs) = &basic.certs else {
        return false;
    };
    certs.iter().take(MAX_EMBEDDED).any(|c| {
        let Ok(der) = c.to_der() else { return false };
        let Ok((_, responder)) = X509Certificate::from_der(&der) else {
            return false;
        };
        let ocsp_signing =
            matches!(responder.extended_key_usage(), Ok(Some(e)) if e.value.ocsp_signing);
        let valid = responder.validity().not_before.timestamp() <= now
            && now <= responder.validity().not_after.timestamp();
        ocsp_signing
            && valid
            && responder.issuer().as_raw() == issuer.subject().as_raw()
            && responder
                .verify_signature(Some(issuer.public_key()))
                .is_ok()
            && signature_by(basic, signed, responder.public_key().raw)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fuzz seed: u16 lengths, then a leaf, its issuer and `openssl ocsp`'s response
    /// (leaf serial 0x1234 revoked, keyCompromise; signed by the issuer).
    const SEED: &[u8] = include_bytes!("../../fuzz/seeds/ocsp_response/openssl-revoked");

    fn parts() -> (&'static [u8], &'static [u8], &'static [u8]) {
        let cert_len = usize::from(u16::from_be_bytes([SEED[0], SEED[1]]));
        let issuer_len = usize::from(u16::from_be_bytes([SEED[2], SEED[3]]));
        let (cert, rest) = SEED[4..].split_at(cert_len);
        let (issuer, response) = rest.split_at(issuer_len);
        (cert, issuer, response)
    }

    #[test]
    fn an_openssl_response_is_read_and_verified() {
        let (cert, issuer, response) = parts();
        let status = verify(response, cert, issuer, 1_800_000_000).unwrap();
        assert!(
            matches!(&status.state, CertState::Revoked { at, reason: Some(r) }
                if r == "keyCompromise" && *at <= status.this_update),
            "{status:?}"
        );
        assert_eq!(
            status.next_update.map(|n| n - status.this_update),
            Some(7 * 86_400)
        );
        // Our request for the same certificate is one openssl answers (same CertID).
        assert!(request(cert, issuer).is_some_and(|r| r.len() > 40));
    }

    #[test]
    fn a_response_checked_against_another_issuer_is_no_evidence() {
        let (cert, _, response) = parts();
        // The leaf as its own "issuer": wrong key, wrong name hash.
        let e = verify(response, cert, cert, 1_800_000_000).unwrap_err();
        assert_eq!(e.reason, Reason::BadResponse);
        assert!(e.detail.starts_with("signed by neither"), "{}", e.detail);
        let e = verify(&response[..response.len() - 1], cert, cert, 0).unwrap_err();
        assert!(e.detail.starts_with("not an OCSP response"), "{}", e.detail);
    }
}
