//! Revocation evidence for a presented chain: the stapled OCSP response, each certificate's
//! OCSP responders and CRL distribution points (fetched by [`fetch`], read by [`ocsp`] and
//! [`crl`]), for every certificate whose issuer was presented too (a root's revocation is not
//! a chain's business; an unpresented issuer is `cert_trusted`'s). The issuer is the presented
//! certificate whose key verifies the signature, and staples, OCSP answers and CRLs count only
//! when signed by it (or its delegated responder).
//!
//! Fetched once per lifetime: a CRL once per (vantage, URL, issuer), an OCSP answer once per
//! (vantage, URL, issuer, serial), shared by every domain and look that needs it and kept until
//! the document's nextUpdate. The key holds the vantage because the fetch is made from it
//! (through its proxy, under its address rules) and `revocation_reachable` is a finding per
//! vantage; a fleet behind one vantage fetches each CRL once. A failed fetch is kept for a
//! backoff that doubles with each failure in a row ([`RETRY_FIRST`] .. [`RETRY_MAX`]), so a
//! dead responder costs one try per backoff, not one per probe. The cache is bounded in
//! entries and in the bytes its CRLs hold.
//!
//! [`fetch`]: super::fetch
//! [`ocsp`]: super::ocsp
//! [`crl`]: super::crl

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::crl::{self, Crl};
use super::fetch::{self, FetchError, Method};
use super::ocsp;
use super::vantage::VantageClient;
use crate::facts::{
    Blind, CertFacts, CertRevocation, Evidence, EvidenceFailure, MAX_UNDATED_AGE, RevocationFacts,
    Source, Status, unix,
};

/// Cache entries kept at most (one per CRL URL, one per OCSP-checked certificate).
pub const MAX_ENTRIES: usize = 32_768;

/// Bytes the cached CRLs may hold at most, about.
pub const MAX_BYTES: usize = 128 * 1024 * 1024;

/// How long a failed fetch is kept before the first retry.
pub const RETRY_FIRST: Duration = Duration::from_secs(60);

/// The longest backoff between retries of a failing pointer.
pub const RETRY_MAX: Duration = Duration::from_secs(3600);

/// Certificates of a chain looked at: the leaf and its issuer (a hostile chain may present
/// dozens, each naming many pointers).
pub const MAX_CERTS: usize = 2;

/// OCSP responders asked per certificate at most (in the certificate's order).
pub const MAX_OCSP_PER_CERT: usize = 2;

/// CRL distribution points fetched per certificate at most.
pub const MAX_CRL_PER_CERT: usize = 2;

/// Fetches one chain has in flight at most (the rest wait their turn within the deadline).
pub const FETCHES_PER_CHAIN: usize = 4;

/// Fetches in flight per vantage at most, and of them CRLs (up to [`crl::MAX_CRL`] each).
pub const FETCHES_PER_VANTAGE: usize = 32;
pub const CRLS_PER_VANTAGE: usize = 4;

/// A revocation fetch gets the probe timeout divided by this, from its start: a host that
/// does not answer within it timed out; a probe whose deadline comes first did not look.
pub const BUDGET_SHARE: u32 = 2;

/// How long a document without nextUpdate is kept.
const KEEP_UNDATED: Duration = Duration::from_secs(3600);

/// How long a document is kept at most, whatever its nextUpdate says.
const KEEP_MAX: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    vantage: String,
    url: String,
    /// SHA-256 of the issuer's certificate.
    issuer: String,
    /// The certificate's serial (hex) for OCSP; `None` for a CRL.
    serial: Option<String>,
}

/// A fetched and verified document.
enum Document {
    Crl(Crl),
    Ocsp(Status),
}

/// The result of one fetch, as cached.
struct Fetched {
    outcome: Result<Document, FetchError>,
    /// Unix seconds.
    fetched_at: i64,
    /// Until when it is reused.
    keep_until: Instant,
    /// Failures in a row up to this one (0 after a success).
    failures: u32,
}

type Fetching = Shared<BoxFuture<'static, Arc<Fetched>>>;

/// Chains whose path is remembered at most.
const MAX_PATHS: usize = 16_384;

/// One step of a chain's path: a certificate's position, its issuer's, whether it is a CA's.
type Link = (usize, usize, bool);

/// The kept fetches and the bytes the done ones hold (counted when each is done).
#[derive(Default)]
struct Cache {
    map: HashMap<Key, Fetching>,
    bytes: usize,
}

/// The turns of one vantage: fetches in flight, and CRL fetches among them.
struct Turns {
    fetches: Arc<Semaphore>,
    crls: Arc<Semaphore>,
}

/// The revocation cache of a prober, shared by every vantage, domain and look.
pub struct Revocations {
    entries: Mutex<Cache>,
    /// The path found by signature per chain (its certificates' hashes): a signature check
    /// per look of an edge would be per-probe work; a chain is checked once. Bounded by
    /// [`MAX_PATHS`] (then it starts over).
    paths: Mutex<HashMap<String, Arc<[Link]>>>,
    turns: Mutex<HashMap<String, Arc<Turns>>>,
    /// The cache's byte bound ([`MAX_BYTES`]; smaller in tests).
    max_bytes: usize,
    crl_fetches: AtomicU64,
    ocsp_requests: AtomicU64,
}

impl Default for Revocations {
    fn default() -> Revocations {
        Revocations {
            entries: Mutex::default(),
            paths: Mutex::default(),
            turns: Mutex::default(),
            max_bytes: MAX_BYTES,
            crl_fetches: AtomicU64::new(0),
            ocsp_requests: AtomicU64::new(0),
        }
    }
}

/// What a cached outcome holds in memory, about.
fn size(f: &Fetched) -> usize {
    match &f.outcome {
        Ok(Document::Crl(c)) => c.size().max(256),
        _ => 256,
    }
}

/// One certificate with its issuer, as the chain presented them.
struct Pair<'a> {
    position: usize,
    cert: &'a CertFacts,
    issuer: &'a CertFacts,
    /// The certificate is a CA's (basicConstraints cA): which CRLs cover it.
    is_ca: bool,
}

impl Revocations {
    /// CRL downloads started so far.
    pub fn crl_fetches(&self) -> u64 {
        self.crl_fetches.load(Ordering::Relaxed)
    }

    /// Fetches kept (in flight or done).
    pub fn kept(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// Bytes the done kept fetches hold, about.
    pub fn bytes(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }

    /// The certificates of `chain` looked at, with their issuers ([`path`], remembered).
    fn pairs<'a>(&self, chain: &'a [CertFacts]) -> Vec<Pair<'a>> {
        let key: String = chain.iter().map(|c| c.sha256.as_str()).collect();
        let known = self
            .paths
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let links = known.unwrap_or_else(|| {
            let links: Arc<[Link]> = path(chain).into();
            let mut paths = self.paths.lock().unwrap_or_else(|p| p.into_inner());
            if paths.len() >= MAX_PATHS {
                paths.clear();
            }
            paths.insert(key, links.clone());
            links
        });
        links
            .iter()
            .map(|&(position, issuer, is_ca)| Pair {
                position,
                cert: &chain[position],
                issuer: &chain[issuer],
                is_ca,
            })
            .collect()
    }

    /// The turns of `vantage`.
    fn turns(&self, vantage: &str) -> Arc<Turns> {
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        turns
            .entry(vantage.to_string())
            .or_insert_with(|| {
                Arc::new(Turns {
                    fetches: Arc::new(Semaphore::new(FETCHES_PER_VANTAGE)),
                    crls: Arc::new(Semaphore::new(CRLS_PER_VANTAGE)),
                })
            })
            .clone()
    }

    /// OCSP requests sent so far.
    pub fn ocsp_requests(&self) -> u64 {
        self.ocsp_requests.load(Ordering::Relaxed)
    }

    /// The evidence for `chain` (leaf first) as `client`'s vantage can have it before
    /// `deadline`; `stapled` is the OCSP response the edge stapled to the handshake. A fetch
    /// gets `budget` of its own (missing it is the host's timeout); one the probe's deadline
    /// cuts short is not looked at (`blind`, [`Blind::OutOfTime`]), never a failure. With
    /// `keep` false (an ad-hoc probe's look) cached evidence is used, but what is fetched is
    /// not kept, and only from globally routable addresses (never loopback or private hosts,
    /// whatever the vantage). Kept fetches run as tasks of their own: a probe that is
    /// cancelled (a `/probe` whose caller left) leaves none half-done for others to join.
    pub async fn gather(
        self: &Arc<Self>,
        client: &Arc<VantageClient>,
        chain: &[CertFacts],
        stapled: Option<&[u8]>,
        deadline: Instant,
        budget: Duration,
        keep: bool,
    ) -> RevocationFacts {
        let now = unix(SystemTime::now()) as i64;
        let pairs = self.pairs(chain);
        let turns = Semaphore::new(FETCHES_PER_CHAIN);
        let mut facts = RevocationFacts {
            stapled: stapled.is_some(),
            certs: Vec::new(),
            blind: None,
        };
        let looks = pairs
            .iter()
            .map(|p| self.certificate(client, p, stapled, now, (deadline, budget, keep), &turns));
        for (cert, blind) in futures::future::join_all(looks).await {
            facts.blind = facts.blind.or(blind);
            facts.certs.push(cert);
        }
        facts
    }

    async fn certificate(
        self: &Arc<Self>,
        client: &Arc<VantageClient>,
        pair: &Pair<'_>,
        stapled: Option<&[u8]>,
        now: i64,
        (deadline, budget, keep): (Instant, Duration, bool),
        turns: &Semaphore,
    ) -> (CertRevocation, Option<Blind>) {
        let details = pair.cert.parsed.as_ref();
        let serial = details.map(|d| d.serial.clone()).unwrap_or_default();
        let mut evidence = Vec::new();
        if pair.position == 0
            && let Some(staple) = stapled
        {
            evidence.push(Evidence {
                source: Source::Staple,
                url: String::new(),
                fetched_at: now,
                outcome: ocsp::verify(staple, &pair.cert.der, &pair.issuer.der, now),
            });
        }
        let (ocsp_urls, crl_urls) = match details {
            Some(d) => (d.ocsp_urls.as_slice(), d.crl_urls.as_slice()),
            None => (&[][..], &[][..]),
        };
        let fetches = ocsp_urls
            .iter()
            .take(MAX_OCSP_PER_CERT)
            .map(|u| (Source::Ocsp, u))
            .chain(
                crl_urls
                    .iter()
                    .take(MAX_CRL_PER_CERT)
                    .map(|u| (Source::Crl, u)),
            )
            .map(|(source, url)| {
                let key = Key {
                    vantage: client.name.clone(),
                    url: url.clone(),
                    issuer: pair.issuer.sha256.clone(),
                    serial: (source == Source::Ocsp).then(|| serial.clone()),
                };
                // The chain's turn first: its fetches are started (or joined) a few at a time.
                let fetch = async move {
                    let _turn = turns.acquire().await;
                    self.get(key, client, pair, budget, keep).await
                };
                async move { (source, url, tokio::time::timeout_at(deadline, fetch).await) }
            });
        let mut blind = None;
        for (source, url, fetched) in futures::future::join_all(fetches).await {
            let Ok(fetched) = fetched else {
                // The probe's time ran out, not the fetch's: nothing learned for this probe.
                blind = Some(Blind::OutOfTime);
                continue;
            };
            let outcome = match &fetched.outcome {
                Ok(Document::Ocsp(status)) => Ok(status.clone()),
                Ok(Document::Crl(crl)) => crl.status(&unhex(&serial), pair.is_ca),
                Err(FetchError::Failed(f)) => Err(f.clone()),
                Err(FetchError::Blind(b)) => {
                    blind = Some(*b);
                    continue;
                }
            };
            evidence.push(Evidence {
                source,
                url: url.clone(),
                fetched_at: fetched.fetched_at,
                outcome,
            });
        }
        let cert = CertRevocation {
            position: pair.position,
            subject_cn: details.map(|d| d.subject_cn.clone()).unwrap_or_default(),
            serial,
            evidence,
        };
        (cert, blind)
    }

    /// The cached fetch of `key`, or a new one within `budget` when there is none to reuse
    /// (kept, and run as a task of its own, only with `keep`).
    fn get(
        self: &Arc<Self>,
        key: Key,
        client: &Arc<VantageClient>,
        pair: &Pair<'_>,
        budget: Duration,
        keep: bool,
    ) -> Fetching {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let failures = match entries.map.get(&key) {
            Some(f) => match f.peek() {
                // In flight, or done and still kept.
                None => return f.clone(),
                Some(done) if now < done.keep_until => return f.clone(),
                Some(done) if done.outcome.is_err() => done.failures + 1,
                Some(_) => 0,
            },
            None => 0,
        };
        if keep && entries.map.len() >= MAX_ENTRIES {
            sweep(&mut entries, now, self.max_bytes);
        }
        let this = self.clone();
        let client = client.clone();
        let (cert, issuer) = (pair.cert.der.clone(), pair.issuer.der.clone());
        let url = key.url.clone();
        let is_ocsp = key.serial.is_some();
        // An ad-hoc probe's fetches: only globally routable hosts.
        let public = !keep;
        let turns = self.turns(&client.name);
        let kept = keep.then(|| key.clone());
        let fetching = async move {
            // The vantage's turn (waiting is ours, not the host's: the budget starts after).
            let _crl = match is_ocsp {
                true => None,
                false => turns.crls.clone().acquire_owned().await.ok(),
            };
            let _fetch = turns.fetches.clone().acquire_owned().await;
            let deadline = Instant::now() + budget;
            let outcome = if is_ocsp {
                this.ocsp_requests.fetch_add(1, Ordering::Relaxed);
                fetch_ocsp(&client, &url, &cert, &issuer, deadline, public).await
            } else {
                this.crl_fetches.fetch_add(1, Ordering::Relaxed);
                fetch_crl(&client, &url, &issuer, deadline, public).await
            };
            let now_unix = unix(SystemTime::now()) as i64;
            let dated = match &outcome {
                Ok(Document::Crl(c)) => Ok((c.this_update, c.next_update)),
                Ok(Document::Ocsp(s)) => Ok((s.this_update, s.next_update)),
                Err(e) => Err(e),
            };
            let (keep, failures) = keep_for(dated, now_unix, failures);
            let fetched = Arc::new(Fetched {
                outcome,
                fetched_at: now_unix,
                keep_until: Instant::now() + keep,
                failures,
            });
            if let Some(key) = kept {
                // Counted as it is done (its entry, in flight, cannot have gone), and the
                // cache swept when over its bytes.
                let mut entries = this.entries.lock().unwrap_or_else(|p| p.into_inner());
                if entries.map.contains_key(&key) {
                    entries.bytes += size(&fetched);
                    if entries.bytes > this.max_bytes {
                        sweep(&mut entries, Instant::now(), this.max_bytes);
                    }
                }
            }
            fetched
        };
        if !keep {
            // Its caller's alone: cancelled with it.
            return fetching.boxed().shared();
        }
        // Kept fetches are shared: they run on their own, whoever waits or stops waiting.
        let task = tokio::spawn(fetching);
        let fetching = async move {
            task.await.unwrap_or_else(|_| {
                Arc::new(Fetched {
                    outcome: Err(FetchError::Blind(Blind::LocalResources)),
                    fetched_at: unix(SystemTime::now()) as i64,
                    keep_until: Instant::now(),
                    failures,
                })
            })
        }
        .boxed()
        .shared();
        if let Some(old) = entries.map.insert(key, fetching.clone())
            && let Some(done) = old.peek()
        {
            entries.bytes = entries.bytes.saturating_sub(size(done));
        }
        fetching
    }
}

/// How long a fetch's outcome is kept, and the failures in a row it makes: `dated` is a
/// document's (thisUpdate, nextUpdate), `failures` those before this fetch.
fn keep_for(
    dated: Result<(i64, Option<i64>), &FetchError>,
    now: i64,
    failures: u32,
) -> (Duration, u32) {
    let backoff = RETRY_FIRST
        .saturating_mul(1 << failures.min(16))
        .min(RETRY_MAX);
    match dated {
        // Stale evidence is retried like a failure: the next one may be fresh.
        Ok((this_update, None)) if this_update.saturating_add(MAX_UNDATED_AGE) < now => {
            (backoff, failures)
        }
        Ok((this_update, None)) => {
            let left = this_update.saturating_add(MAX_UNDATED_AGE) - now;
            (KEEP_UNDATED.min(Duration::from_secs(left as u64)), 0)
        }
        Ok((_, Some(n))) if n > now => (Duration::from_secs((n - now) as u64).min(KEEP_MAX), 0),
        Ok((_, Some(_))) => (backoff, failures),
        // The exporter could not look: nothing learned, nothing kept.
        Err(FetchError::Blind(_)) => (Duration::ZERO, failures),
        Err(FetchError::Failed(_)) => (backoff, failures),
    }
}

/// Drops what is no longer kept, then the entries closest to their end while the cache holds
/// too many entries or more than `max_bytes`.
fn sweep(cache: &mut Cache, now: Instant, max_bytes: usize) {
    let mut freed = 0;
    cache.map.retain(|_, f| match f.peek() {
        Some(d) if now >= d.keep_until => {
            freed += size(d);
            false
        }
        _ => true,
    });
    cache.bytes = cache.bytes.saturating_sub(freed);
    if cache.map.len() < MAX_ENTRIES && cache.bytes <= max_bytes {
        return;
    }
    let mut done: Vec<(Instant, Key)> = cache
        .map
        .iter()
        .filter_map(|(k, f)| Some((f.peek()?.keep_until, k.clone())))
        .collect();
    done.sort_by_key(|(until, _)| *until);
    for (_, key) in done {
        if cache.map.len() < MAX_ENTRIES * 3 / 4 && cache.bytes <= max_bytes * 3 / 4 {
            break;
        }
        if let Some(f) = cache.map.remove(&key)
            && let Some(d) = f.peek()
        {
            cache.bytes = cache.bytes.saturating_sub(size(d));
        }
    }
}

async fn fetch_ocsp(
    client: &VantageClient,
    url: &str,
    cert: &[u8],
    issuer: &[u8],
    deadline: Instant,
    public: bool,
) -> Result<Document, FetchError> {
    let Some(request) = ocsp::request(cert, issuer) else {
        return Err(FetchError::Failed(EvidenceFailure::new(
            crate::facts::Reason::BadResponse,
            "the certificate or its issuer does not parse: no OCSP request can be made",
        )));
    };
    // GET where the request fits (RFC 5019: responders and their caches expect it), else POST.
    let body = if request.len() <= ocsp::MAX_GET {
        let url = ocsp::get_url(url, &request);
        fetch::fetch(
            client,
            &url,
            Method::Get,
            ocsp::MAX_RESPONSE,
            deadline,
            public,
        )
        .await?
    } else {
        let method = Method::Post {
            content_type: ocsp::REQUEST_TYPE,
            body: &request,
        };
        fetch::fetch(client, url, method, ocsp::MAX_RESPONSE, deadline, public).await?
    };
    let now = unix(SystemTime::now()) as i64;
    ocsp::verify(&body, cert, issuer, now)
        .map(Document::Ocsp)
        .map_err(FetchError::Failed)
}

async fn fetch_crl(
    client: &VantageClient,
    url: &str,
    issuer: &[u8],
    deadline: Instant,
    public: bool,
) -> Result<Document, FetchError> {
    let body = fetch::fetch(client, url, Method::Get, crl::MAX_CRL, deadline, public).await?;
    // Parsing and verifying a large CRL is CPU work: off the I/O threads.
    let (issuer, url) = (issuer.to_vec(), url.to_string());
    let now = unix(SystemTime::now()) as i64;
    let verified =
        tokio::task::spawn_blocking(move || crl::verify(&body, &issuer, &url, now)).await;
    match verified {
        Ok(v) => v.map(Document::Crl).map_err(FetchError::Failed),
        Err(_) => Err(FetchError::Failed(EvidenceFailure::new(
            crate::facts::Reason::BadResponse,
            "the CRL could not be read",
        ))),
    }
}

/// Issuer candidates whose signature is checked at most per certificate (a hostile chain may
/// carry many certificates of one name).
const MAX_CANDIDATES: usize = 4;

/// The leaf and, up to [`MAX_CERTS`], each certificate that signed the one before, with its
/// issuer, while the chain presents the issuer: the certificate whose key verifies the
/// signature, never a name match alone (a chain may carry a forged certificate with the
/// issuer's name, and a staple or CRL signed by that forger).
fn path(chain: &[CertFacts]) -> Vec<Link> {
    let parsed: Vec<Option<X509Certificate<'_>>> = chain
        .iter()
        .map(|c| X509Certificate::from_der(&c.der).ok().map(|(_, x)| x))
        .collect();
    // The leaf, then the certificate that signed it: the path as far as MAX_CERTS.
    let mut out = Vec::new();
    let mut position = 0;
    while out.len() < MAX_CERTS {
        let Some(cert) = chain.get(position) else {
            break;
        };
        match cert.parsed.as_ref() {
            Some(d) if !d.self_signed => {}
            _ => break,
        }
        let Some(issuer) = issuer_of(position, chain, &parsed) else {
            break;
        };
        out.push((
            position,
            issuer,
            parsed[position].as_ref().is_some_and(|x| x.is_ca()),
        ));
        position = issuer;
    }
    out
}

/// The position of the presented certificate that issued `chain[position]`: among those with
/// its issuer's name (the ones whose subject key identifier is its authority key identifier
/// first), the first whose public key verifies its signature.
fn issuer_of(
    position: usize,
    chain: &[CertFacts],
    parsed: &[Option<X509Certificate<'_>>],
) -> Option<usize> {
    let cert = parsed[position].as_ref()?;
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
            _ => None,
        });
    let mut candidates: Vec<(bool, usize)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let p = p.as_ref()?;
            (chain[i].sha256 != chain[position].sha256
                && p.subject().as_raw() == cert.issuer().as_raw())
            .then_some(i)
        })
        .map(|i| {
            let ski = parsed[i].as_ref().and_then(|p| {
                p.extensions()
                    .iter()
                    .find_map(|e| match e.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
                        _ => None,
                    })
            });
            // `false` sorts first: a key identifier that matches.
            let mismatch = aki.is_some() && ski != aki;
            (mismatch, i)
        })
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|(_, i)| i)
        .find(|i| {
            parsed[*i]
                .as_ref()
                .is_some_and(|p| cert.verify_signature(Some(p.public_key())).is_ok())
        })
}

/// Bytes of lower-case hex (as [`crate::facts::hex`] writes them).
fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .filter_map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, CrlDistributionPoint, DnType, IsCa, Issuer, KeyPair,
    };

    use super::*;
    use crate::gather::cert;

    /// A leaf whose CRL is at `crl`, and its CA.
    fn chain(crl: &str) -> Vec<CertFacts> {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["edge.test".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "edge.test");
        leaf.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![crl.to_string()],
        }];
        let cert = leaf
            .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
            .unwrap();
        vec![cert::parse(cert.der()), cert::parse(ca_cert.der())]
    }

    #[test]
    fn stale_and_old_undated_documents_back_off_like_failures() {
        let now = 1_800_000_000;
        let failed = FetchError::Failed(EvidenceFailure::new(crate::facts::Reason::Timeout, "t"));
        let min = |m: u64| Duration::from_secs(60 * m);
        // Fresh until tomorrow: kept a day, the failures forgotten.
        assert_eq!(
            keep_for(Ok((now - 60, Some(now + 86_400))), now, 3),
            (Duration::from_secs(86_400), 0)
        );
        // Stale: the backoff of a third failure in a row (1, 2, 4 minutes).
        assert_eq!(keep_for(Ok((now - 99, Some(now - 1))), now, 2), (min(4), 2));
        assert_eq!(keep_for(Err(&failed), now, 2), (min(4), 2));
        // Undated: an hour, or what is left of its 7 days; older is stale.
        assert_eq!(keep_for(Ok((now - 60, None)), now, 0), (min(60), 0));
        let almost = now - MAX_UNDATED_AGE + 600;
        assert_eq!(keep_for(Ok((almost, None)), now, 0), (min(10), 0));
        let old = now - MAX_UNDATED_AGE - 1;
        assert_eq!(keep_for(Ok((old, None)), now, 0), (min(1), 0));
        assert_eq!(
            keep_for(Err(&FetchError::Blind(Blind::ProxyDown)), now, 1),
            (Duration::ZERO, 1)
        );
    }

    #[test]
    fn the_issuer_is_the_key_that_signed_not_the_first_with_its_name() {
        let real = chain("http://127.0.0.1:1/ca.crl");
        // An impostor with the CA's name (and the same subject key identifier: it is the
        // forger's to choose) under another key, presented before the real CA.
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "test CA");
        let impostor = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
        let presented = vec![
            real[0].clone(),
            cert::parse(impostor.der()),
            real[1].clone(),
        ];
        let revocations = Revocations::default();
        let p = revocations.pairs(&presented);
        assert_eq!(p.len(), 1, "only the leaf has a presented issuer");
        assert_eq!((p[0].position, &p[0].issuer.sha256), (0, &real[1].sha256));
        // Remembered per chain: the same answer without a signature check.
        assert_eq!(
            revocations.pairs(&presented)[0].issuer.sha256,
            real[1].sha256
        );
        assert_eq!(path(&presented), vec![(0, 2, false)]);
        // Without the real CA, the impostor is no issuer at all.
        let p = revocations.pairs(&presented[..2]);
        assert!(p.is_empty(), "an impostor's name alone makes no issuer");
    }

    const BUDGET: Duration = Duration::from_secs(2);

    /// A chain of `n` certificates, each signed by the next (the last self-signed), each
    /// naming `pointers` OCSP responders and as many CRLs, all distinct URLs on `base`.
    fn hostile_chain(n: usize, pointers: usize, base: &str) -> Vec<CertFacts> {
        let keys: Vec<KeyPair> = (0..n).map(|_| KeyPair::generate().unwrap()).collect();
        let params: Vec<CertificateParams> = (0..n)
            .map(|i| {
                let mut p = CertificateParams::new(vec![format!("c{i}.test")]).unwrap();
                p.distinguished_name
                    .push(DnType::CommonName, format!("c{i}"));
                if i > 0 {
                    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                }
                p.crl_distribution_points = (0..pointers)
                    .map(|j| CrlDistributionPoint {
                        uris: vec![format!("{base}/c{i}-crl{j}")],
                    })
                    .collect();
                p.custom_extensions = vec![aia_ocsp(
                    &(0..pointers)
                        .map(|j| format!("{base}/c{i}-ocsp{j}"))
                        .collect::<Vec<_>>(),
                )];
                p
            })
            .collect();
        (0..n)
            .map(|i| {
                let der = if i + 1 == n {
                    params[i].self_signed(&keys[i]).unwrap().der().to_vec()
                } else {
                    let issuer = Issuer::from_params(&params[i + 1], &keys[i + 1]);
                    params[i]
                        .signed_by(&keys[i], &issuer)
                        .unwrap()
                        .der()
                        .to_vec()
                };
                cert::parse(&der)
            })
            .collect()
    }

    /// An Authority Information Access extension naming `urls` as OCSP responders.
    fn aia_ocsp(urls: &[String]) -> rcgen::CustomExtension {
        use crate::gather::ocsp::encode;
        let oid = encode(0x06, &[0x2b, 6, 1, 5, 5, 7, 0x30, 1]);
        let descriptions: Vec<u8> = urls
            .iter()
            .flat_map(|u| encode(0x30, &[&oid[..], &encode(0x86, u.as_bytes())].concat()))
            .collect();
        rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            encode(0x30, &descriptions),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hostile_chain_causes_a_bounded_number_of_fetches() {
        // 10 certificates x (4 OCSP + 4 CRL pointers: what cert.rs keeps of 8 each), every
        // pointer answered with 16 MiB.
        let (url, served, peak) = slow_http_peak(Duration::ZERO, 16 << 20).await;
        let base = url.trim_end_matches("/ca.crl").to_string();
        let chain = hostile_chain(10, 8, &base);
        assert_eq!(chain[0].parsed.as_ref().unwrap().crl_urls.len(), 4);
        let client = Arc::new(VantageClient::test("v"));
        let revocations = Arc::new(Revocations::default());
        // Budgets far above what 8 bodies of 16 MiB take on loopback, even in a debug build
        // on a loaded machine: the bound asserted is the number of fetches, not their speed.
        let deadline = Instant::now() + Duration::from_secs(120);
        let budget = Duration::from_secs(60);
        let facts = revocations
            .gather(&client, &chain, None, deadline, budget, true)
            .await;
        let requests = served.load(Ordering::Relaxed);
        let peak = peak.load(Ordering::SeqCst);
        eprintln!("hostile chain: {requests} requests, at most {peak} at once");
        // The server counts a connection until its next write fails, a moment after the
        // client let go of it, so its count can run over the client's FETCHES_PER_CHAIN by
        // the ones draining; without the bound all 8 are in flight at once.
        assert!(peak < requests, "{peak} at once of {requests}");
        // The leaf and its issuer, 2 OCSP + 2 CRL pointers each.
        assert_eq!(facts.certs.len(), 2);
        assert_eq!(requests, 8);
        for c in &facts.certs {
            assert_eq!(c.evidence.len(), 4, "{c:?}");
            assert!(c.evidence.iter().all(|e| e.outcome.is_err()), "{c:?}");
        }
    }

    #[tokio::test]
    async fn an_ad_hoc_look_uses_cached_evidence_but_keeps_none() {
        // A closed port: the CRL fetch of a configured look fails at once (connection
        // refused) and is kept for the backoff; an ad-hoc look never connects to loopback.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let chain = chain(&format!("http://127.0.0.1:{port}/ca.crl"));
        let client = Arc::new(VantageClient::test("v"));
        let revocations = Arc::new(Revocations::default());
        let gather = |keep| {
            let deadline = Instant::now() + Duration::from_secs(5);
            revocations.gather(&client, &chain, None, deadline, BUDGET, keep)
        };
        let reason = |f: &RevocationFacts| {
            f.certs[0].evidence[0]
                .outcome
                .as_ref()
                .map_err(|e| e.reason)
                .err()
        };
        use crate::facts::Reason::{ConnectionRefused, ForbiddenAddress};

        let facts = gather(false).await;
        assert_eq!(facts.certs.len(), 1, "{facts:?}");
        assert_eq!(reason(&facts), Some(ForbiddenAddress), "{facts:?}");
        assert_eq!(revocations.crl_fetches(), 1);
        assert_eq!(revocations.kept(), 0, "an ad-hoc look keeps no evidence");

        let facts = gather(true).await;
        assert_eq!(reason(&facts), Some(ConnectionRefused), "{facts:?}");
        assert_eq!((revocations.crl_fetches(), revocations.kept()), (2, 1));
        // Now cached: an ad-hoc look uses it without fetching.
        let facts = gather(false).await;
        assert_eq!(reason(&facts), Some(ConnectionRefused));
        assert_eq!((revocations.crl_fetches(), revocations.kept()), (2, 1));
    }

    /// A loopback HTTP server answering every request with 404 after `delay`; counts them.
    async fn slow_404(delay: Duration) -> (String, Arc<AtomicU64>) {
        slow_http(delay, 0).await
    }

    /// A loopback HTTP server answering every request after `delay`: 404, or with `body`
    /// bytes > 0 a 200 with that many bytes of junk; counts them.
    async fn slow_http(delay: Duration, body: usize) -> (String, Arc<AtomicU64>) {
        let (url, served, _) = slow_http_peak(delay, body).await;
        (url, served)
    }

    /// [`slow_http`], also counting the most requests it had open at once.
    async fn slow_http_peak(
        delay: Duration,
        body: usize,
    ) -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ca.crl", listener.local_addr().unwrap());
        let served = Arc::new(AtomicU64::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let (counter, most) = (served.clone(), peak.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let (counter, most, open) = (counter.clone(), most.clone(), open.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    counter.fetch_add(1, Ordering::Relaxed);
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    if body == 0 {
                        let _ = s
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    } else {
                        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n");
                        let _ = s.write_all(head.as_bytes()).await;
                        // 64 KiB at a time: the server's memory is not the client's.
                        let block = [0x30u8; 64 * 1024];
                        let mut left = body;
                        while left > 0 {
                            let n = left.min(block.len());
                            if s.write_all(&block[..n]).await.is_err() {
                                break;
                            }
                            left -= n;
                        }
                    }
                    // Written: the client has read it (but for what the sockets buffer), or
                    // gave up and closed.
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (url, served, peak)
    }

    #[tokio::test]
    async fn the_cache_is_bounded_by_the_bytes_counted_as_each_fetch_is_done() {
        // Every fetch fails (404): 256 bytes each. A bound of 600 holds two.
        let (url, _) = slow_404(Duration::ZERO).await;
        let client = Arc::new(VantageClient::test("v"));
        let revocations = Arc::new(Revocations {
            max_bytes: 600,
            ..Revocations::default()
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        for i in 0..2 {
            let chain = chain(&format!("{url}?{i}"));
            revocations
                .gather(&client, &chain, None, deadline, BUDGET, true)
                .await;
        }
        assert_eq!((revocations.kept(), revocations.bytes()), (2, 512));
        // The third goes over: swept to three quarters of the bound, the soonest to end first.
        let chain = chain(&format!("{url}?2"));
        revocations
            .gather(&client, &chain, None, deadline, BUDGET, true)
            .await;
        assert_eq!((revocations.kept(), revocations.bytes()), (1, 256));
    }

    #[tokio::test]
    async fn an_ad_hoc_look_never_fetches_from_loopback_even_on_an_inside_vantage() {
        let (url, served) = slow_404(Duration::ZERO).await;
        let chain = chain(&url);
        // An inside vantage (not public): configured looks may fetch from loopback.
        let client = Arc::new(VantageClient::test("inside"));
        let revocations = Arc::new(Revocations::default());
        let deadline = Instant::now() + Duration::from_secs(5);
        let facts = revocations
            .gather(&client, &chain, None, deadline, BUDGET, false)
            .await;
        let e = facts.certs[0].evidence[0].outcome.as_ref().unwrap_err();
        assert_eq!(e.reason, crate::facts::Reason::ForbiddenAddress, "{e:?}");
        assert!(e.detail.contains("for an ad-hoc probe"), "{}", e.detail);
        assert_eq!(
            served.load(Ordering::Relaxed),
            0,
            "nothing reached the server"
        );
        let facts = revocations
            .gather(&client, &chain, None, deadline, BUDGET, true)
            .await;
        let e = facts.certs[0].evidence[0].outcome.as_ref().unwrap_err();
        assert_eq!(e.reason, crate::facts::Reason::HttpError, "{e:?}");
        assert_eq!(served.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_cancelled_look_leaves_no_fetch_that_later_times_out() {
        // The host answers after 100 ms with 8 MiB (junk: no CRL); the fetch's budget is 1 s.
        // A body that large is read only while someone drives the fetch.
        let (url, served) = slow_http(Duration::from_millis(100), 8 << 20).await;
        let chain = chain(&url);
        let client = Arc::new(VantageClient::test("v"));
        let revocations = Arc::new(Revocations::default());
        let budget = Duration::from_secs(1);
        let far = Instant::now() + Duration::from_secs(10);
        // A probe that starts the fetch and is cancelled (its caller left) after 50 ms.
        let cancelled = revocations.gather(&client, &chain, None, far, budget, true);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), cancelled)
                .await
                .is_err()
        );
        // Well past the fetch's budget (and its connection's life), the next probe joins
        // what the first one left.
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        let facts = revocations
            .gather(&client, &chain, None, far, budget, true)
            .await;
        let e = facts.certs[0].evidence[0].outcome.as_ref().unwrap_err();
        // What the host sent, read to its end, not the end of a fetch nobody drove.
        assert_eq!(e.reason, crate::facts::Reason::BadResponse, "{e:?}");
        assert!(e.detail.starts_with("not a CRL"), "{}", e.detail);
        assert_eq!(served.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_probe_deadline_before_the_evidence_is_not_looked_not_a_timeout() {
        let (url, served) = slow_404(Duration::from_millis(300)).await;
        let chain = chain(&url);
        let client = Arc::new(VantageClient::test("v"));
        let revocations = Arc::new(Revocations::default());
        // The probe has 100 ms left; the fetch has its budget of 2 s.
        let soon = Instant::now() + Duration::from_millis(100);
        let facts = revocations
            .gather(&client, &chain, None, soon, BUDGET, true)
            .await;
        assert_eq!(facts.blind, Some(Blind::OutOfTime), "{facts:?}");
        assert!(facts.certs[0].evidence.is_empty(), "{facts:?}");
        // The fetch went on and is kept: the next probe has the responder's answer.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let later = Instant::now() + Duration::from_secs(5);
        let facts = revocations
            .gather(&client, &chain, None, later, BUDGET, true)
            .await;
        assert_eq!(facts.blind, None);
        let e = facts.certs[0].evidence[0].outcome.as_ref().unwrap_err();
        assert_eq!(e.reason, crate::facts::Reason::HttpError, "{e:?}");
        assert_eq!(served.load(Ordering::Relaxed), 1);
    }
}
