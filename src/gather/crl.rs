//! CRLs (RFC 5280 §5) with x509-parser: a downloaded list is kept, once its issuer's
//! signature verifies, as the set of serials it revokes with its thisUpdate/nextUpdate, and
//! only for the scope it states: its issuing distribution point must be the URL it was
//! fetched for, and it answers only for the certificates it covers (all, end-entity or CA
//! ones). A delta or indirect CRL, one for only some reasons, or one with a critical extension
//! the exporter does not read is no evidence (a complete CRL of another shard says nothing
//! about a certificate of this one).

use std::collections::HashMap;

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_CRL_NUMBER,
    OID_X509_EXT_DELTA_CRL_INDICATOR, OID_X509_EXT_FRESHEST_CRL, OID_X509_EXT_INVALIDITY_DATE,
    OID_X509_EXT_ISSUER_DISTRIBUTION_POINT, OID_X509_EXT_REASON_CODE,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::facts::{CertState, EvidenceFailure, Reason, Status, reason_name};

/// A CRL is read up to this many bytes, then it is "too large" (`bad_response`): large
/// public CAs' CRLs stay below a few MiB since they shard them (CA/B Forum BR §4.10).
pub const MAX_CRL: usize = 16 * 1024 * 1024;

/// Clocks differ a little: a thisUpdate up to this many seconds ahead of ours is accepted.
const CLOCK_SKEW: i64 = 300;

/// Which certificates a CRL covers (its issuing distribution point's
/// onlyContainsUserCerts/onlyContainsCACerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// End-entity certificates only.
    UserCerts,
    /// CA certificates only.
    CaCerts,
}

/// A verified CRL: what it says of any serial.
#[derive(Debug)]
pub struct Crl {
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub scope: Scope,
    /// Revoked serials (without leading zero octets): when, and the reason code if given.
    revoked: HashMap<Box<[u8]>, (i64, Option<u8>)>,
}

impl Crl {
    /// What the CRL says of the certificate with raw serial `serial`, a CA certificate when
    /// `is_ca`: no evidence when the CRL does not cover certificates of its kind.
    pub fn status(&self, serial: &[u8], is_ca: bool) -> Result<Status, EvidenceFailure> {
        match (self.scope, is_ca) {
            (Scope::UserCerts, true) => {
                return Err(bad(
                    "the CRL covers only end-entity certificates (onlyContainsUserCerts), and this is a CA certificate",
                ));
            }
            (Scope::CaCerts, false) => {
                return Err(bad(
                    "the CRL covers only CA certificates (onlyContainsCACerts), and this is an end-entity certificate",
                ));
            }
            _ => {}
        }
        let state = match self.revoked.get(serial_value(serial)) {
            Some((at, reason)) => CertState::Revoked {
                at: *at,
                reason: reason.map(reason_name),
            },
            None => CertState::Good,
        };
        Ok(Status {
            state,
            this_update: self.this_update,
            next_update: self.next_update,
        })
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

/// Parses the DER CRL `der` (PEM is accepted too) fetched for the distribution point `url`,
/// verifies it was signed by `issuer_der`, and that it is a complete CRL for `url`, issued
/// no later than `now` (unix seconds).
pub fn verify(der: &[u8], issuer_der: &[u8], url: &str, now: i64) -> Result<Crl, EvidenceFailure> {
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
    let this_update = crl.last_update().timestamp();
    if this_update > now + CLOCK_SKEW {
        return Err(bad("the CRL's thisUpdate is in the future"));
    }
    let scope = scope(&crl, url)?;
    let mut revoked = HashMap::new();
    for r in crl.iter_revoked_certificates() {
        // An entry extension that changes what the entry means (certificateIssuer of an
        // indirect CRL, or one unknown) and that must be understood: the list is not read.
        if let Some(e) = r.extensions().iter().find(|e| {
            e.critical && e.oid != OID_X509_EXT_REASON_CODE && e.oid != OID_X509_EXT_INVALIDITY_DATE
        }) {
            return Err(bad(format!(
                "an entry of the CRL has the critical extension {}, which the exporter does not read",
                e.oid
            )));
        }
        let reason = r.reason_code().map(|(_, code)| code.0);
        revoked.insert(
            serial_value(r.raw_serial()).into(),
            (r.revocation_date.timestamp(), reason),
        );
    }
    Ok(Crl {
        this_update,
        next_update: crl.next_update().map(|t| t.timestamp()),
        scope,
        revoked,
    })
}

/// The scope the CRL states, when it is a complete CRL for `url` the exporter can read.
fn scope(crl: &CertificateRevocationList<'_>, url: &str) -> Result<Scope, EvidenceFailure> {
    let mut scope = Scope::All;
    for ext in crl.extensions() {
        if ext.oid == OID_X509_EXT_DELTA_CRL_INDICATOR {
            return Err(bad(
                "a delta CRL (deltaCRLIndicator): only the changes since a base CRL, no evidence on its own",
            ));
        }
        if ext.oid == OID_X509_EXT_ISSUER_DISTRIBUTION_POINT {
            let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() else {
                return Err(bad("the CRL's issuing distribution point does not parse"));
            };
            if idp.indirect_crl {
                return Err(bad(
                    "an indirect CRL (it lists certificates of other issuers): not read",
                ));
            }
            if idp.only_contains_attribute_certs {
                return Err(bad("a CRL of attribute certificates only"));
            }
            if idp.only_some_reasons.is_some() {
                return Err(bad(
                    "the CRL covers only some revocation reasons (onlySomeReasons)",
                ));
            }
            match &idp.distribution_point {
                None => {}
                Some(DistributionPointName::FullName(names)) => {
                    let uris: Vec<&str> = names
                        .iter()
                        .filter_map(|n| match n {
                            GeneralName::URI(u) => Some(*u),
                            _ => None,
                        })
                        .collect();
                    if !uris.contains(&url) {
                        let named = uris.first().copied().unwrap_or("no URI");
                        return Err(bad(format!(
                            "a CRL for the distribution point {named}, not {url}: another part (shard) of the CA's CRL, which says nothing about this certificate",
                        )));
                    }
                }
                Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                    return Err(bad(format!(
                        "the CRL's distribution point is a name relative to its issuer, not {url}"
                    )));
                }
            }
            scope = match (idp.only_contains_user_certs, idp.only_contains_ca_certs) {
                (true, false) => Scope::UserCerts,
                (false, true) => Scope::CaCerts,
                (false, false) => Scope::All,
                (true, true) => {
                    return Err(bad(
                        "the CRL claims to contain only user and only CA certificates",
                    ));
                }
            };
            continue;
        }
        let understood = ext.oid == OID_X509_EXT_CRL_NUMBER
            || ext.oid == OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER
            || ext.oid == OID_X509_EXT_FRESHEST_CRL;
        if ext.critical && !understood {
            return Err(bad(format!(
                "the CRL has the critical extension {}, which the exporter does not read",
                ext.oid
            )));
        }
    }
    Ok(scope)
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

    const NOW: i64 = 1_800_000_000;
    /// Whatever URL: the seeds' CRLs state no issuing distribution point.
    const URL: &str = "http://crl.ca.example/ca.crl";

    #[test]
    fn an_openssl_crl_is_read_and_verified() {
        for seed in [DER, PEM] {
            let (issuer, list) = parts(seed);
            let crl = verify(list, issuer, URL, NOW).unwrap();
            let revoked = crl.status(&[0x12, 0x34], false).unwrap();
            assert!(
                matches!(&revoked.state, CertState::Revoked { reason: Some(r), .. } if r == "keyCompromise"),
                "{revoked:?}"
            );
            // A leading zero octet (DER's sign byte) is the same serial.
            assert_eq!(
                crl.status(&[0x00, 0x12, 0x34], false).unwrap().state,
                revoked.state
            );
            assert_eq!(
                crl.status(&[0x12, 0x35], true).unwrap().state,
                CertState::Good
            );
            assert_eq!(
                crl.next_update.map(|n| n - crl.this_update),
                Some(7 * 86_400)
            );
            // Issued after `now`: from the future, no evidence.
            let e = verify(list, issuer, URL, crl.this_update - 301).unwrap_err();
            assert_eq!(e.detail, "the CRL's thisUpdate is in the future");
            assert!(verify(list, issuer, URL, crl.this_update - 299).is_ok());
        }
    }

    #[test]
    fn a_crl_of_another_issuer_is_no_evidence() {
        let (issuer, list) = parts(DER);
        // A CRL checked against a certificate that is not its issuer.
        let e = verify(list, &issuer[..issuer.len() - 1], URL, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::BadResponse);
        let mut tampered = list.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let e = verify(&tampered, issuer, URL, NOW).unwrap_err();
        assert_eq!(e.detail, "the CRL's signature is not the issuer's");
    }

    use crate::gather::ocsp::{element, encode};
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
        CrlIssuingDistributionPoint, CrlScope, DnType, IsCa, Issuer, KeyIdMethod, KeyPair,
        KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber, SigningKey,
    };

    /// A CA (DER, params, key) that signs CRLs.
    fn ca() -> (Vec<u8>, CertificateParams, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        (cert.der().to_vec(), params, key)
    }

    /// A CRL of the CA revoking serial 0x1234, with `idp` as its issuing distribution point.
    fn crl_with(
        params: &CertificateParams,
        key: &KeyPair,
        idp: Option<CrlIssuingDistributionPoint>,
    ) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(5),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: idp,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from_slice(&[0x12, 0x34]),
                revocation_time: now - time::Duration::hours(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&Issuer::from_params(params, key))
        .unwrap()
        .der()
        .to_vec()
    }

    fn idp(url: &str, scope: Option<CrlScope>) -> Option<CrlIssuingDistributionPoint> {
        Some(CrlIssuingDistributionPoint {
            distribution_point: CrlDistributionPoint {
                uris: vec![url.to_string()],
            },
            scope,
        })
    }

    /// `crl` with the DER `extension` added to its crlExtensions, signed again with `key`
    /// (ECDSA P-256, as rcgen's default key).
    fn with_extension(crl: &[u8], extension: &[u8], key: &KeyPair) -> Vec<u8> {
        let (_, _, outer) = element(crl).unwrap();
        let outer = &crl[outer];
        let (_, tbs_end, tbs) = element(outer).unwrap();
        let (tbs, alg) = (&outer[tbs], &outer[tbs_end..]);
        let (_, alg_end, _) = element(alg).unwrap();
        let mut fields = Vec::new();
        let mut rest = tbs;
        while !rest.is_empty() {
            let (tag, end, content) = element(rest).unwrap();
            if tag == 0xa0 {
                let list = &rest[content];
                let (_, _, exts) = element(list).unwrap();
                let exts = [&list[exts], extension].concat();
                fields.extend(encode(0xa0, &encode(0x30, &exts)));
            } else {
                fields.extend_from_slice(&rest[..end]);
            }
            rest = &rest[end..];
        }
        let tbs = encode(0x30, &fields);
        let signature = key.sign(&tbs).unwrap();
        let sig = encode(0x03, &[&[0u8][..], &signature].concat());
        encode(0x30, &[&tbs[..], &alg[..alg_end], &sig].concat())
    }

    /// An extension: OID (content bytes), critical, value (DER).
    fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
        let critical = if critical {
            &[0x01, 0x01, 0xff][..]
        } else {
            &[]
        };
        encode(
            0x30,
            &[&encode(0x06, oid)[..], critical, &encode(0x04, value)].concat(),
        )
    }

    #[test]
    fn an_openssl_issuing_distribution_point_is_read() {
        // `openssl ca -gencrl` with issuingDistributionPoint = critical, fullname =
        // URI:http://crl.ca.example/ca.crl, onlyuser = TRUE (also a fuzz seed).
        let (issuer, list) = parts(include_bytes!("../../fuzz/seeds/crl/openssl-idp"));
        let crl = verify(list, issuer, URL, NOW).unwrap();
        assert_eq!(crl.scope, Scope::UserCerts);
        assert_eq!(crl.status(&[0x01], false).unwrap().state, CertState::Good);
        assert!(crl.status(&[0x01], true).is_err());
        let e = verify(list, issuer, "http://crl.ca.example/other.crl", NOW).unwrap_err();
        assert!(e.detail.contains("another part (shard)"), "{}", e.detail);
    }

    #[test]
    fn a_crl_counts_only_for_the_distribution_point_it_states() {
        let (issuer, params, key) = ca();
        let now = crate::facts::unix(std::time::SystemTime::now()) as i64;
        let crl = crl_with(&params, &key, idp(URL, None));
        let read = verify(&crl, &issuer, URL, now).unwrap();
        assert!(matches!(
            read.status(&[0x12, 0x34], false).unwrap().state,
            CertState::Revoked { .. }
        ));
        // Another validly signed shard of the same CA, served at this URL: no evidence.
        let shard = crl_with(
            &params,
            &key,
            idp("http://crl.ca.example/shard-7.crl", None),
        );
        let e = verify(&shard, &issuer, URL, now).unwrap_err();
        assert!(
            e.detail.starts_with(
                "a CRL for the distribution point http://crl.ca.example/shard-7.crl, not http://crl.ca.example/ca.crl"
            ),
            "{}",
            e.detail
        );
        // Without an issuing distribution point a CRL is the CA's complete list.
        assert!(verify(&crl_with(&params, &key, None), &issuer, URL, now).is_ok());
    }

    #[test]
    fn a_crl_answers_only_for_the_certificates_it_covers() {
        let (issuer, params, key) = ca();
        let now = crate::facts::unix(std::time::SystemTime::now()) as i64;
        let users = crl_with(&params, &key, idp(URL, Some(CrlScope::UserCertsOnly)));
        let users = verify(&users, &issuer, URL, now).unwrap();
        assert_eq!(users.scope, Scope::UserCerts);
        assert!(users.status(&[0x12, 0x35], false).is_ok());
        let e = users.status(&[0x12, 0x35], true).unwrap_err();
        assert!(e.detail.contains("onlyContainsUserCerts"), "{}", e.detail);
        let cas = crl_with(&params, &key, idp(URL, Some(CrlScope::CaCertsOnly)));
        let cas = verify(&cas, &issuer, URL, now).unwrap();
        assert!(cas.status(&[0x12, 0x35], true).is_ok());
        let e = cas.status(&[0x12, 0x35], false).unwrap_err();
        assert!(e.detail.contains("onlyContainsCACerts"), "{}", e.detail);
    }

    #[test]
    fn delta_indirect_and_unknown_critical_crls_are_no_evidence() {
        let (issuer, params, key) = ca();
        let now = crate::facts::unix(std::time::SystemTime::now()) as i64;
        let base = crl_with(&params, &key, None);
        // The rewrite itself keeps a CRL valid: an unknown non-critical extension is read.
        let harmless = extension(&[0x2b, 6, 1, 4, 1, 0x82, 0x37, 1], false, &[0x05, 0x00]);
        assert!(verify(&with_extension(&base, &harmless, &key), &issuer, URL, now).is_ok());
        let cases = [
            // deltaCRLIndicator 2.5.29.27, base CRL number 1
            (
                extension(&[0x55, 0x1d, 0x1b], true, &[0x02, 0x01, 0x01]),
                "a delta CRL",
            ),
            // issuingDistributionPoint 2.5.29.28 { indirectCRL [4] TRUE }
            (
                extension(&[0x55, 0x1d, 0x1c], true, &[0x30, 0x03, 0x84, 0x01, 0xff]),
                "an indirect CRL",
            ),
            // issuingDistributionPoint { onlySomeReasons [3] keyCompromise }
            (
                extension(
                    &[0x55, 0x1d, 0x1c],
                    true,
                    &[0x30, 0x04, 0x83, 0x02, 0x06, 0x40],
                ),
                "the CRL covers only some revocation reasons",
            ),
            // 1.3.6.1.4.1.311.1, critical and unknown
            (
                extension(&[0x2b, 6, 1, 4, 1, 0x82, 0x37, 1], true, &[0x05, 0x00]),
                "the CRL has the critical extension 1.3.6.1.4.1.311.1",
            ),
        ];
        for (ext, said) in cases {
            let e = verify(&with_extension(&base, &ext, &key), &issuer, URL, now).unwrap_err();
            assert!(e.detail.starts_with(said), "{said}: {}", e.detail);
        }
    }
}
