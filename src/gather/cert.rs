//! Certificate parsing (x509-parser): DER in, the fields checks and metrics need out.

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::facts::{CertDetails, CertFacts, Eku, hex};

/// Parses one DER certificate; a malformed one keeps its bytes and hash, `parsed` is `None`.
pub fn parse(der: &[u8]) -> CertFacts {
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    let parsed = X509Certificate::from_der(der)
        .ok()
        .map(|(_, cert)| details(&cert));
    CertFacts {
        der: der.to_vec(),
        sha256,
        parsed,
    }
}

fn details(cert: &X509Certificate<'_>) -> CertDetails {
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some(n.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let eku = match cert.extended_key_usage() {
        Ok(Some(e)) => Some(Eku {
            server_auth: e.value.server_auth,
            client_auth: e.value.client_auth,
            any: e.value.any,
        }),
        Ok(None) => None,
        // A broken EKU extension grants nothing.
        Err(_) => Some(Eku {
            server_auth: false,
            client_auth: false,
            any: false,
        }),
    };
    CertDetails {
        subject_cn: first(&mut cert.subject().iter_common_name()),
        issuer_cn: first(&mut cert.issuer().iter_common_name()),
        issuer_o: first(&mut cert.issuer().iter_organization()),
        serial: hex(cert.raw_serial()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns_names,
        eku,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        ocsp_urls: ocsp_urls(cert),
        crl_urls: crl_urls(cert),
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
    }
}

/// Pointers kept per kind at most (a hostile certificate may name hundreds).
const MAX_POINTERS: usize = 4;

/// An `http://` URL the exporter may fetch (LDAP and others are not followed).
fn http_url(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::URI(u) if u.len() <= 1024 && u.get(..7)?.eq_ignore_ascii_case("http://") => {
            Some(u.to_string())
        }
        _ => None,
    }
}

/// The OCSP responders of the certificate's Authority Information Access.
fn ocsp_urls(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in &aia.accessdescs {
                if d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                    && let Some(u) = http_url(&d.access_location)
                    && !out.contains(&u)
                {
                    out.push(u);
                }
            }
        }
    }
    out.truncate(MAX_POINTERS);
    out
}

/// The certificate's CRL distribution points (full names only).
fn crl_urls(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for u in names.iter().filter_map(http_url) {
                        if !out.contains(&u) {
                            out.push(u);
                        }
                    }
                }
            }
        }
    }
    out.truncate(MAX_POINTERS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_der_is_kept_unparsed() {
        let c = parse(b"\x30\x03\x02\x01\x05garbage");
        assert!(c.parsed.is_none());
        assert_eq!(c.sha256.len(), 64);
    }
}
