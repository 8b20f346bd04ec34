//! OCSP (RFC 6960) with x509-ocsp: the request for one certificate, and what a response
//! proves about it. A response counts only when it is signed by the certificate's issuer or
//! by a responder the issuer delegated (issued by it, with the OCSP-signing EKU, valid at the
//! time), and only its answer for this very certificate (issuer name and key hashes, serial).
//! The signature is checked over the bytes received (never a re-encoding), and times with
//! fractional seconds, which DER forbids but responders send, are read to the second.

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

/// Requests up to this size go by GET (RFC 5019 §5, the CA/B Forum Baseline Requirements
/// demand responders answer GET); larger ones by POST.
pub const MAX_GET: usize = 255;

/// Nesting followed at most when reading a response's structure.
const MAX_DEPTH: usize = 16;

/// The URL of a GET request for the DER `request` at responder `url` (RFC 6960 Appendix A.1:
/// the base64 of the request, URL-encoded, as the last path segment).
pub fn get_url(url: &str, request: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(request);
    let mut out = String::with_capacity(url.len() + encoded.len() * 3 / 2 + 1);
    out.push_str(url);
    if !url.ends_with('/') {
        out.push('/');
    }
    for c in encoded.chars() {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

/// One DER element at the start of `input`: its tag, its whole length, and where its content
/// is. `None` for what DER does not allow (indefinite lengths) or does not fit.
pub(crate) fn element(input: &[u8]) -> Option<(u8, usize, std::ops::Range<usize>)> {
    let tag = *input.first()?;
    // High tag numbers never occur in OCSP.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let end = header.checked_add(len)?;
    (end <= input.len()).then_some((tag, end, header..end))
}

/// A DER element of `tag` around `content`.
pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Gives the new content of a primitive DER element (tag, content), or `None` to keep it.
pub(crate) type Rewrite<'a> = &'a dyn Fn(u8, &[u8]) -> Option<Vec<u8>>;

/// The DER elements of `der` with every primitive one `f` rewrites (`f` gives its new
/// content, or `None` to keep it) rewritten, constructed ones followed into (up to `depth`
/// levels) and their lengths made to fit. `None` when `der` is not a sequence of elements.
pub(crate) fn map_primitives(der: &[u8], depth: usize, f: Rewrite<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(der.len());
    let mut rest = der;
    while !rest.is_empty() {
        let (tag, end, content) = element(rest)?;
        let inner = &rest[content];
        if tag & 0x20 != 0 {
            let mapped = map_primitives(inner, depth.checked_sub(1)?, f)?;
            out.extend(encode(tag, &mapped));
        } else {
            match f(tag, inner) {
                Some(c) => out.extend(encode(tag, &c)),
                None => out.extend_from_slice(&rest[..end]),
            }
        }
        rest = &rest[end..];
    }
    Some(out)
}

/// A GeneralizedTime with fractional seconds (`YYYYMMDDHHMMSS.fffZ`) cut to the second.
fn whole_seconds(tag: u8, content: &[u8]) -> Option<Vec<u8>> {
    const GENERALIZED_TIME: u8 = 0x18;
    if tag != GENERALIZED_TIME || content.len() < 17 || content[14] != b'.' {
        return None;
    }
    let (digits, rest) = content.split_at(14);
    let fraction = &rest[1..rest.len() - 1];
    let ok = digits.iter().all(u8::is_ascii_digit)
        && !fraction.is_empty()
        && fraction.iter().all(u8::is_ascii_digit)
        && rest.last() == Some(&b'Z');
    ok.then(|| [digits, b"Z"].concat())
}

/// The basic response in `der`, read with fractional seconds cut, and the bytes of its
/// tbsResponseData as received (what the signature covers).
fn basic_response(der: &[u8]) -> Result<(BasicOcspResponse, &[u8]), EvidenceFailure> {
    let malformed = || bad("a malformed basic OCSP response");
    let (tag, _, content) = element(der).ok_or_else(malformed)?;
    if tag != 0x30 {
        return Err(malformed());
    }
    let inner = &der[content];
    let (_, tbs_end, _) = element(inner).ok_or_else(malformed)?;
    let tbs = &inner[..tbs_end];
    let read = map_primitives(tbs, MAX_DEPTH, &whole_seconds).ok_or_else(malformed)?;
    let basic = if read == tbs {
        BasicOcspResponse::from_der(der)
    } else {
        BasicOcspResponse::from_der(&encode(0x30, &[&read[..], &inner[tbs_end..]].concat()))
    }
    .map_err(|e| bad(format!("a malformed basic OCSP response: {e}")))?;
    Ok((basic, tbs))
}

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
    let (basic, signed) = basic_response(bytes.response.as_bytes())?;
    let signer_ok = signature_by(&basic, signed, issuer.public_key().raw)
        || delegated(&basic, signed, &issuer, now);
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

    /// A CA and a leaf it issued (DER), and the CA's key.
    fn ca_and_leaf() -> (Vec<u8>, Vec<u8>, rcgen::KeyPair) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let ca_cert = ca.self_signed(&key).unwrap();
        let mut leaf = CertificateParams::new(vec!["edge.test".to_string()]).unwrap();
        leaf.serial_number = Some(rcgen::SerialNumber::from(0x1234u64));
        let leaf = leaf
            .signed_by(
                &KeyPair::generate().unwrap(),
                &Issuer::from_params(&ca, &key),
            )
            .unwrap();
        (ca_cert.der().to_vec(), leaf.der().to_vec(), key)
    }

    /// A successful OCSP response around the DER tbsResponseData `tbs`, signed with `key`
    /// (ECDSA P-256 with SHA-256) over exactly these bytes.
    fn response_around(tbs: &[u8], key: &rcgen::KeyPair) -> Vec<u8> {
        response_signed_over(tbs, tbs, key)
    }

    /// A response carrying `tbs` with `key`'s signature over `signed`.
    fn response_signed_over(tbs: &[u8], signed: &[u8], key: &rcgen::KeyPair) -> Vec<u8> {
        use rcgen::SigningKey;
        let signature = key.sign(signed).unwrap();
        let alg = encode(
            0x30,
            &encode(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let sig = encode(0x03, &[&[0u8][..], &signature].concat());
        let basic = encode(0x30, &[tbs, &alg, &sig].concat());
        let kind = ID_PKIX_OCSP_BASIC.to_der().unwrap();
        let bytes = encode(0x30, &[&kind[..], &encode(0x04, &basic)].concat());
        encode(0x30, &[&[0x0a, 1, 0][..], &encode(0xa0, &bytes)].concat())
    }

    /// A tbsResponseData saying `good` for the leaf, dated `this_update`, a week's validity.
    fn good_tbs(ca: &[u8], leaf: &[u8], this_update: u64) -> Vec<u8> {
        use x509_ocsp::{OcspGeneralizedTime, ResponderId, ResponseData, SingleResponse};
        let (_, issuer) = X509Certificate::from_der(ca).unwrap();
        let (_, cert) = X509Certificate::from_der(leaf).unwrap();
        let at = |s: u64| {
            OcspGeneralizedTime(
                der::asn1::GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(s))
                    .unwrap(),
            )
        };
        let key_hash = digest(&SHA1, &issuer.public_key().subject_public_key.data).unwrap();
        ResponseData {
            version: Default::default(),
            responder_id: ResponderId::ByKey(OctetString::new(key_hash.clone()).unwrap()),
            produced_at: at(this_update),
            responses: vec![SingleResponse {
                cert_id: CertId {
                    hash_algorithm: AlgorithmIdentifierOwned {
                        oid: SHA1,
                        parameters: Some(Null.into()),
                    },
                    issuer_name_hash: OctetString::new(
                        digest(&SHA1, issuer.subject().as_raw()).unwrap(),
                    )
                    .unwrap(),
                    issuer_key_hash: OctetString::new(key_hash).unwrap(),
                    serial_number: SerialNumber::new(serial_value(cert.raw_serial())).unwrap(),
                },
                cert_status: CertStatus::Good(Null),
                this_update: at(this_update),
                next_update: Some(at(this_update + 7 * 86_400)),
                single_extensions: None,
            }],
            response_extensions: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn fractional_seconds_are_read_and_the_received_bytes_verified() {
        let (ca, leaf, key) = ca_and_leaf();
        let now = 1_800_000_000;
        let tbs = good_tbs(&ca, &leaf, now as u64 - 60);
        let whole = response_around(&tbs, &key);
        let status = verify(&whole, &leaf, &ca, now).unwrap();
        assert_eq!(
            (status.state, status.this_update),
            (CertState::Good, now - 60)
        );
        // The same times with fractional seconds (`...SS.250Z`), signed as sent: readable,
        // and the signature holds over these bytes (not over a whole-second re-encoding).
        let fractional = map_primitives(&tbs, MAX_DEPTH, &|tag, c| {
            (tag == 0x18).then(|| [&c[..14], b".250Z"].concat())
        })
        .unwrap();
        assert_ne!(fractional, tbs);
        let response = response_around(&fractional, &key);
        let status = verify(&response, &leaf, &ca, now).unwrap();
        assert_eq!(
            (status.state, status.this_update),
            (CertState::Good, now - 60)
        );
        assert_eq!(status.next_update, Some(now - 60 + 7 * 86_400));
        // Signed over the whole-second bytes but sent fractional: not the signed bytes.
        let resigned = response_signed_over(&fractional, &tbs, &key);
        let e = verify(&resigned, &leaf, &ca, now).unwrap_err();
        assert!(e.detail.starts_with("signed by neither"), "{}", e.detail);
    }

    #[test]
    fn an_openssl_response_with_fractional_seconds_is_read_then_its_signature_checked() {
        // The openssl seed with its times made `...SS.125Z` (the signature then no longer
        // holds): read as far as the signature, not refused as malformed. Also a fuzz seed.
        let seed = include_bytes!("../../fuzz/seeds/ocsp_response/fractional-seconds");
        let cert_len = usize::from(u16::from_be_bytes([seed[0], seed[1]]));
        let issuer_len = usize::from(u16::from_be_bytes([seed[2], seed[3]]));
        let (cert, rest) = seed[4..].split_at(cert_len);
        let (issuer, response) = rest.split_at(issuer_len);
        let e = verify(response, cert, issuer, 1_800_000_000).unwrap_err();
        assert!(e.detail.starts_with("signed by neither"), "{}", e.detail);
    }

    #[test]
    fn get_urls_carry_the_request_url_encoded() {
        let (cert, issuer, _) = parts();
        let request = request(cert, issuer).unwrap();
        assert!(request.len() <= MAX_GET, "{} bytes", request.len());
        let url = get_url("http://ocsp.ca.example", &request);
        let path = url.strip_prefix("http://ocsp.ca.example/").unwrap();
        assert!(!path.contains(['+', '/', '=']), "{path}");
        let decoded = path
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        use base64::Engine;
        let back = base64::engine::general_purpose::STANDARD
            .decode(decoded)
            .unwrap();
        assert_eq!(back, request);
        // A responder URL ending in `/` gets no second one.
        assert_eq!(
            get_url("http://o.x/", &[0xfb, 0xff]),
            "http://o.x/%2B%2F8%3D"
        );
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
