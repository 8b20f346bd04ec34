//! The trust store `cert_trusted` judges against (the built-in web roots plus `ca_file`), and
//! chain verification that judges trust alone: the leaf's purposes (EKU), its name and its
//! validity period are judged by their own checks, so none of them may hide an untrusted chain.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};

use crate::error::Error;
use crate::facts::{CertFacts, Reason, Validity};

/// Trust anchors and the signature algorithms chains may use, and the verdicts of chains
/// already verified.
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
    /// Verdicts by the chain's SHA-256s (leaf first, joined), each with the span of time in
    /// which every certificate of the chain is valid: inside it the verdict cannot change, so
    /// a domain judged again (every probe of every vantage re-judges it) and domains sharing
    /// an edge verify each chain's signatures once. Cleared when full.
    verdicts: Mutex<HashMap<String, Cached>>,
}

/// A cached verdict and the span (Unix seconds, inclusive) it holds for.
#[derive(Clone, Copy)]
struct Cached {
    trust: Trust,
    from: i64,
    until: i64,
}

/// At most this many cached verdicts.
const VERDICTS: usize = 65536;

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

    /// Only the certificates of `ca_file` (a tenant's `inbound_ca_file`: what its edge trusts).
    pub fn load_only(ca_file: &Path) -> Result<TrustStore, Error> {
        Ok(TrustStore::with_anchors(crate::pem::read_trust_anchors(
            ca_file,
        )?))
    }

    /// The built-in web roots alone: the public TLS CAs (`cert_client_auth_kept`).
    pub fn public() -> TrustStore {
        TrustStore::with_anchors(webpki_roots::TLS_SERVER_ROOTS.to_vec())
    }

    /// Only the given anchors (tests and the lab use their own roots).
    pub fn with_anchors(anchors: Vec<TrustAnchor<'static>>) -> TrustStore {
        TrustStore {
            anchors,
            algorithms: webpki::ALL_VERIFICATION_ALGS,
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies the presented chain (leaf first) to a trusted root. The validity period is
    /// judged at `now` unless the leaf is outside it (then at its midpoint: expiry is
    /// `cert_valid_now`'s verdict, not an untrusted chain).
    pub fn verify(&self, chain: &[CertFacts], now: i64) -> Trust {
        let Some(at) = verification_time(chain, now) else {
            return self.verify_at(chain, now);
        };
        // Every certificate of the chain is valid in [from, until]: verifying at any time in
        // it gives the same verdict (trust anchors carry no validity period in webpki).
        let mut span = (i64::MIN, i64::MAX);
        for c in chain {
            let Some(d) = &c.parsed else {
                return self.verify_at(chain, now);
            };
            span = (span.0.max(d.not_before), span.1.min(d.not_after));
        }
        let (from, until) = span;
        let key: String = chain.iter().map(|c| c.sha256.as_str()).collect();
        if (from..=until).contains(&at) {
            let cache = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(&key)
                && (c.from..=c.until).contains(&at)
            {
                return c.trust;
            }
        }
        let trust = self.verify_at(chain, now);
        if (from..=until).contains(&at) {
            let mut cache = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= VERDICTS {
                cache.clear();
            }
            cache.insert(key, Cached { trust, from, until });
        }
        trust
    }

    /// [`TrustStore::verify`] without the cache.
    fn verify_at(&self, chain: &[CertFacts], now: i64) -> Trust {
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
        let at = verification_time(chain, now).unwrap_or(now);
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
            // The leaf is valid at `at` (see `verification_time`): the certificate out of its
            // period is a presented intermediate, not a missing one nor an untrusted root.
            Err(webpki::Error::CertExpired { .. })
                if chain[1..].iter().any(|c| {
                    c.parsed
                        .as_ref()
                        .is_some_and(|d| d.validity_at(at) == Validity::Expired)
                }) =>
            {
                Trust::Untrusted(Reason::IntermediateExpired)
            }
            Err(_) => Trust::Untrusted(Reason::Untrusted),
        }
    }
}

/// The time a chain is verified at: `now`, or the leaf's midpoint when `now` is outside the
/// leaf's validity period; `None` without a parsed leaf.
fn verification_time(chain: &[CertFacts], now: i64) -> Option<i64> {
    let details = chain.first()?.parsed.as_ref()?;
    Some(if details.valid_at(now) {
        now
    } else {
        details.not_before + (details.not_after - details.not_before) / 2
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::test_facts::{DAY, NOW, TestPki};

    const VALID: (i64, i64) = (NOW - 30 * DAY, NOW + 60 * DAY);

    fn cached(store: &TrustStore) -> usize {
        store.verdicts.lock().map(|c| c.len()).unwrap_or(0)
    }

    #[test]
    fn verdicts_are_cached_per_chain_and_match_fresh_ones() {
        let pki = TestPki::generate();
        let other = TestPki::generate();
        let store = pki.trust();
        let good = pki.chain("sip.example.com", VALID, (true, true), false);
        let foreign = other.chain("sip.example.com", VALID, (true, true), false);
        let bare = pki.chain("sip.example.com", VALID, (true, true), true);
        for _ in 0..2 {
            assert_eq!(store.verify(&good, NOW), Trust::Trusted);
            assert_eq!(store.verify(&good, NOW + DAY), Trust::Trusted);
            assert_eq!(
                store.verify(&foreign, NOW),
                Trust::Untrusted(Reason::Untrusted)
            );
            assert_eq!(
                store.verify(&bare, NOW),
                Trust::Untrusted(Reason::IncompleteChain)
            );
        }
        assert_eq!(cached(&store), 3);
        // The same chain, judged by a store that trusts nothing, is not trusted: the cache
        // belongs to its store.
        let none = TrustStore::with_anchors(Vec::new());
        assert_eq!(none.verify(&good, NOW), Trust::Untrusted(Reason::Untrusted));
        // An expired leaf is verified at its midpoint, inside the chain's span: cached too.
        let expired = pki.chain(
            "sip.example.com",
            (NOW - 100 * DAY, NOW - 10 * DAY),
            (true, true),
            false,
        );
        assert_eq!(store.verify(&expired, NOW), Trust::Trusted);
        assert_eq!(store.verify(&expired, NOW), Trust::Trusted);
        assert_eq!(cached(&store), 4);
    }
}
