//! Certificate parsing (x509-parser) and the pure name rules of RFC 6125 that checks use.

use x509_parser::extensions::GeneralName;
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
    }
}

/// How a certificate's SAN dNSNames cover a host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCoverage {
    /// An exact (non-wildcard) SAN equals the name.
    Exact,
    /// Only a wildcard SAN (`*.example.com`) covers the name.
    Wildcard,
    None,
}

/// RFC 6125 matching on SAN dNSNames only (no CN fallback): case-insensitive; a wildcard
/// covers exactly one whole left-most label and never a public-suffix-like two-label name.
pub fn coverage(dns_names: &[String], host: &str) -> NameCoverage {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut wildcard = false;
    for san in dns_names {
        let san = san.trim_end_matches('.');
        if san.eq_ignore_ascii_case(&host) {
            return NameCoverage::Exact;
        }
        if let Some(suffix) = san.strip_prefix("*.")
            && suffix.contains('.')
            && let Some((first, rest)) = host.split_once('.')
            && !first.is_empty()
            && rest.eq_ignore_ascii_case(suffix)
        {
            wildcard = true;
        }
    }
    if wildcard {
        NameCoverage::Wildcard
    } else {
        NameCoverage::None
    }
}

/// Whether the issuer is a CA that issues through ACME (renewal is automated, but XPhone
/// still needs the renewed certificate re-selected by hand).
pub fn is_acme_issuer(d: &CertDetails) -> bool {
    let o = d.issuer_o.to_ascii_lowercase();
    o.contains("let's encrypt")
        || o.contains("zerossl")
        || o.contains("buypass")
        || o.contains("google trust services")
}

/// Whether the issuer is Let's Encrypt (which stopped issuing clientAuth in 2026).
pub fn is_lets_encrypt(d: &CertDetails) -> bool {
    d.issuer_o.eq_ignore_ascii_case("let's encrypt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rfc6125_matching() {
        let cases = [
            (
                &["xphone.zahnfee.de"][..],
                "xphone.zahnfee.de",
                NameCoverage::Exact,
            ),
            (
                &["XPhone.Zahnfee.de"][..],
                "xphone.zahnfee.de.",
                NameCoverage::Exact,
            ),
            (
                &["*.zahnfee.de"][..],
                "xphone.zahnfee.de",
                NameCoverage::Wildcard,
            ),
            (
                &["*.zahnfee.de", "xphone.zahnfee.de"][..],
                "xphone.zahnfee.de",
                NameCoverage::Exact,
            ),
            (&["*.zahnfee.de"][..], "a.b.zahnfee.de", NameCoverage::None),
            (&["*.zahnfee.de"][..], "zahnfee.de", NameCoverage::None),
            (&["*.de"][..], "zahnfee.de", NameCoverage::None),
            (
                &["x*.zahnfee.de"][..],
                "xphone.zahnfee.de",
                NameCoverage::None,
            ),
            (
                &["sip.zahnfee.de"][..],
                "xphone.zahnfee.de",
                NameCoverage::None,
            ),
            (&[][..], "xphone.zahnfee.de", NameCoverage::None),
        ];
        for (sans, host, want) in cases {
            assert_eq!(coverage(&names(sans), host), want, "{sans:?} vs {host}");
        }
    }

    #[test]
    fn garbage_der_is_kept_unparsed() {
        let c = parse(b"\x30\x03\x02\x01\x05garbage");
        assert!(c.parsed.is_none());
        assert_eq!(c.sha256.len(), 64);
    }
}
