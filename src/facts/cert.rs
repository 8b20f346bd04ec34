//! Certificates as presented, parsed once at gathering time, and the pure name rules of RFC
//! 6125 that checks use.

use serde::Serialize;

use super::ser_hex;

/// One certificate as presented, parsed once at gathering time.
#[derive(Debug, Clone, Serialize)]
pub struct CertFacts {
    #[serde(serialize_with = "ser_hex")]
    pub der: Vec<u8>,
    /// Hex SHA-256 of the DER.
    pub sha256: String,
    /// `None` when the certificate could not be parsed.
    pub parsed: Option<CertDetails>,
}

/// The fields checks and metrics need.
#[derive(Debug, Clone, Serialize)]
pub struct CertDetails {
    pub subject_cn: String,
    pub issuer_cn: String,
    /// Also used to tell Let's Encrypt and other ACME CAs.
    pub issuer_o: String,
    /// Hex, lower-case.
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    /// SAN dNSNames, lower-case.
    pub dns_names: Vec<String>,
    /// `None` when the certificate has no EKU extension (any usage).
    pub eku: Option<Eku>,
    pub self_signed: bool,
    /// The OCSP responders its Authority Information Access names (http URLs only).
    pub ocsp_urls: Vec<String>,
    /// Its CRL distribution points (http URLs only).
    pub crl_urls: Vec<String>,
    /// DER of the subject and issuer names: finding a certificate's issuer in a chain.
    #[serde(skip)]
    pub subject_raw: Vec<u8>,
    #[serde(skip)]
    pub issuer_raw: Vec<u8>,
}

/// Where a moment stands against a certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    NotYetValid,
    Valid,
    Expired,
}

impl CertDetails {
    /// Where `now` (Unix seconds) stands against notBefore..notAfter. Both ends are inclusive
    /// (RFC 5280 §4.1.2.5: the certificate is valid through the second of its notAfter), the
    /// one rule every check and view uses.
    pub fn validity_at(&self, now: i64) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    /// Whether the certificate is valid at `now`: notBefore <= now <= notAfter.
    pub fn valid_at(&self, now: i64) -> bool {
        self.validity_at(now) == Validity::Valid
    }

    /// Whether the certificate may authenticate a TLS client: no EKU extension (any usage),
    /// or one with clientAuth or anyExtendedKeyUsage.
    pub fn allows_client_auth(&self) -> bool {
        self.eku.is_none_or(|k| k.client_auth || k.any)
    }

    /// Whether the certificate may authenticate a TLS server: no EKU extension, or one with
    /// serverAuth or anyExtendedKeyUsage.
    pub fn allows_server_auth(&self) -> bool {
        self.eku.is_none_or(|k| k.server_auth || k.any)
    }
}

/// The extended key usages relevant to federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Eku {
    pub server_auth: bool,
    pub client_auth: bool,
    pub any: bool,
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

    fn details(not_before: i64, not_after: i64, eku: Option<(bool, bool, bool)>) -> CertDetails {
        CertDetails {
            subject_cn: String::new(),
            issuer_cn: String::new(),
            issuer_o: String::new(),
            serial: String::new(),
            not_before,
            not_after,
            dns_names: Vec::new(),
            eku: eku.map(|(server_auth, client_auth, any)| Eku {
                server_auth,
                client_auth,
                any,
            }),
            self_signed: false,
            ocsp_urls: Vec::new(),
            crl_urls: Vec::new(),
            subject_raw: Vec::new(),
            issuer_raw: Vec::new(),
        }
    }

    /// Both ends of the validity period are inclusive (RFC 5280 §4.1.2.5).
    #[test]
    fn validity_includes_both_ends() {
        let d = details(100, 200, None);
        let cases = [
            (99, Validity::NotYetValid),
            (100, Validity::Valid),
            (150, Validity::Valid),
            (200, Validity::Valid),
            (201, Validity::Expired),
        ];
        for (now, want) in cases {
            assert_eq!(d.validity_at(now), want, "at {now}");
            assert_eq!(d.valid_at(now), want == Validity::Valid, "at {now}");
        }
    }

    #[test]
    fn extended_key_usage_rules() {
        // (eku as (serverAuth, clientAuth, any), allows client, allows server)
        let cases = [
            (None, true, true),
            (Some((true, true, false)), true, true),
            (Some((true, false, false)), false, true),
            (Some((false, true, false)), true, false),
            (Some((false, false, true)), true, true),
            (Some((false, false, false)), false, false),
        ];
        for (eku, client, server) in cases {
            let d = details(0, 1, eku);
            assert_eq!(
                (d.allows_client_auth(), d.allows_server_auth()),
                (client, server),
                "{eku:?}"
            );
        }
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
}
