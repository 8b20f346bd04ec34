//! DNSSEC validation of our own: for each zone the SRV record and the targets' addresses come
//! from, the DS set at its parent (asked with CD), the zone's DNSKEY set and the RRSIGs over
//! the sets the probe read, verified with hickory-proto's DNSSEC support (ring underneath) —
//! so the verdict holds whatever the vantage's resolver does. No root trust anchor: the chain
//! starts at the parent's DS, as a partner's validating resolver would see it fail.
//!
//! DS and DNSKEY sets are kept per (vantage, zone) by their TTL ([`ZoneCache`], bounded), so
//! a fleet costs one fetch per zone and TTL. Answers without any RRSIG are taken as unsigned
//! and cost nothing more; a validating resolver's SERVFAIL (answered with CD) is looked into.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, Verifier};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::transport::Client;
use super::{Reply, host};
use crate::facts::{BogusCause, DnsFailure, DnssecFacts, DnssecState, ZoneDnssec};

/// DS, DNSKEY records and signatures per set looked at at most (a hostile zone can publish
/// hundreds; each verification costs a signature check).
pub const MAX_KEYS: usize = 8;
pub const MAX_SIGS: usize = 8;
/// Zones validated per probe at most (the SRV zone and the targets' zones).
pub const MAX_ZONES: usize = 4;
/// DS and DNSKEY sets kept per vantage at most: two per zone of a 10,000-domain fleet, and
/// more.
pub const MAX_CACHED: usize = 32_768;
/// How long a fetched set is kept at least and at most, whatever its TTL says.
const MIN_KEEP: Duration = Duration::from_secs(60);
const MAX_KEEP: Duration = Duration::from_secs(86_400);
/// How long a set without records (no DS) is kept when the answer carries no SOA.
const NEGATIVE_KEEP: Duration = Duration::from_secs(300);

/// One record set read from an answer, with the RRSIGs over it.
#[derive(Clone, Debug)]
pub(crate) struct SignedSet {
    pub owner: Name,
    pub rtype: RecordType,
    pub records: Vec<Record>,
    pub sigs: Vec<RRSIG>,
}

impl SignedSet {
    /// The set of `rtype` owned by `owner` in `m`'s answers and the RRSIGs covering it
    /// (bounded).
    pub(crate) fn read(m: &Message, owner: &Name, rtype: RecordType) -> SignedSet {
        let mine = |r: &&Record| r.name == *owner;
        let records = m
            .answers
            .iter()
            .filter(mine)
            .filter(|r| r.record_type() == rtype)
            .take(super::MAX_RECORDS)
            .cloned()
            .collect();
        let sigs = m
            .answers
            .iter()
            .filter(mine)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype => {
                    Some(s.clone())
                }
                _ => None,
            })
            .take(MAX_SIGS)
            .collect();
        SignedSet {
            owner: owner.clone(),
            rtype,
            records,
            sigs,
        }
    }

    /// The zone the signatures name as their signer: an ancestor of the owner (or itself).
    fn signer(&self) -> Option<Name> {
        self.sigs
            .iter()
            .map(|s| s.input().signer_name.clone())
            .find(|z| z.zone_of(&self.owner))
    }

    fn label(&self) -> String {
        format!("{} {}", host(&self.owner), self.rtype)
    }
}

/// A zone's keys as fetched: the DS set at the parent, the DNSKEY set and its RRSIGs.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZoneKeys {
    pub ds: Vec<DS>,
    pub dnskey: KeySet,
}

/// The DNSKEY set (records and signatures), kept apart from the sets a probe read.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeySet {
    pub records: Vec<Record>,
    pub sigs: Vec<RRSIG>,
}

/// What validating one zone's sets gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub state: DnssecState,
    pub cause: Option<BogusCause>,
    pub detail: String,
    /// The earliest expiration of the signatures that validated the sets, and that
    /// signature's validity in seconds.
    pub earliest: Option<(i64, i64)>,
}

impl Outcome {
    fn bogus(cause: BogusCause, detail: String) -> Outcome {
        Outcome {
            state: DnssecState::Bogus,
            cause: Some(cause),
            detail,
            earliest: None,
        }
    }
}

/// Whether we verify signatures of `a` (RFC 8624's MUST and RECOMMENDED validation set and
/// the RSA/SHA-1 ones still in use).
fn supported(a: Algorithm) -> bool {
    a.is_supported()
}

/// Validates `sets` of `zone` from `keys` down at unix time `now`: the DS set names a DNSKEY
/// that signs the DNSKEY set, and a key of that set signs every set, within the signatures'
/// validity. No DS: insecure.
pub(crate) fn validate(zone: &Name, keys: &ZoneKeys, sets: &[SignedSet], now: u32) -> Outcome {
    if keys.ds.is_empty() {
        return Outcome {
            state: DnssecState::Insecure,
            cause: None,
            detail: String::new(),
            earliest: None,
        };
    }
    let ds: Vec<&DS> = keys
        .ds
        .iter()
        .take(MAX_KEYS)
        .filter(|d| supported(d.algorithm()) && d.digest_type().is_supported())
        .collect();
    if ds.is_empty() {
        let algs: Vec<String> = keys.ds.iter().map(|d| d.algorithm().to_string()).collect();
        return Outcome::bogus(
            BogusCause::UnsupportedAlgorithm,
            format!("the DS at the parent uses only {}", algs.join(", ")),
        );
    }
    let zone_keys: Vec<(u16, &DNSKEY)> = keys
        .dnskey
        .records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) if k.zone_key() && !k.revoke() => {
                k.calculate_key_tag().ok().map(|t| (t, k))
            }
            _ => None,
        })
        .take(MAX_KEYS)
        .collect();
    let entry: Vec<(u16, &DNSKEY)> = zone_keys
        .iter()
        .filter(|(_, k)| ds.iter().any(|d| d.covers(zone, k).unwrap_or(false)))
        .copied()
        .collect();
    if entry.is_empty() {
        let tags: Vec<String> = ds.iter().map(|d| d.key_tag().to_string()).collect();
        let have: Vec<String> = zone_keys.iter().map(|(t, _)| t.to_string()).collect();
        return Outcome::bogus(
            BogusCause::NoKeyMatchesDs,
            format!(
                "DS key tag {} at the parent, DNSKEY key tags [{}] in the zone",
                tags.join(", "),
                have.join(", ")
            ),
        );
    }
    let dnskey_set = SignedSet {
        owner: zone.clone(),
        rtype: RecordType::DNSKEY,
        records: keys.dnskey.records.clone(),
        sigs: keys.dnskey.sigs.clone(),
    };
    let mut earliest: Option<(i64, i64)> = None;
    let checks = std::iter::once((&dnskey_set, &entry)).chain(sets.iter().map(|s| (s, &zone_keys)));
    for (set, by) in checks {
        match verify_set(set, by, now) {
            Ok((expiry, validity)) => {
                if earliest.is_none_or(|(e, _)| expiry < e) {
                    earliest = Some((expiry, validity));
                }
            }
            Err((cause, detail)) => {
                return Outcome::bogus(cause, format!("{}: {detail}", set.label()));
            }
        }
    }
    Outcome {
        state: DnssecState::Secure,
        cause: None,
        detail: String::new(),
        earliest,
    }
}

/// The signature over `set` that validates it longest (its expiration and validity), or why
/// none does.
fn verify_set(
    set: &SignedSet,
    keys: &[(u16, &DNSKEY)],
    now: u32,
) -> Result<(i64, i64), (BogusCause, String)> {
    if set.sigs.is_empty() {
        return Err((BogusCause::AnswerUnsigned, "no RRSIG".into()));
    }
    let mut best: Option<(i64, i64)> = None;
    let mut expired: Option<u32> = None;
    let mut early: Option<u32> = None;
    let mut unsupported = true;
    for sig in set.sigs.iter().take(MAX_SIGS) {
        let input = sig.input();
        if !supported(input.algorithm) {
            continue;
        }
        unsupported = false;
        let by = keys
            .iter()
            .filter(|(tag, k)| *tag == input.key_tag && k.algorithm() == input.algorithm);
        for (_, key) in by {
            if key
                .verify_rrsig(&set.owner, DNSClass::IN, sig, set.records.iter())
                .is_err()
            {
                continue;
            }
            let (inception, expiration) = (input.sig_inception.get(), input.sig_expiration.get());
            if now > expiration {
                expired = Some(expiration);
            } else if now < inception {
                early = Some(inception);
            } else {
                let e = i64::from(expiration);
                let validity = e - i64::from(inception);
                if best.is_none_or(|(b, _)| e > b) {
                    best = Some((e, validity));
                }
            }
        }
    }
    if let Some(best) = best {
        return Ok(best);
    }
    if let Some(at) = expired {
        return Err((
            BogusCause::SignatureExpired,
            format!("RRSIG expired {}", crate::facts::date(i64::from(at))),
        ));
    }
    if let Some(at) = early {
        return Err((
            BogusCause::SignatureNotYetValid,
            format!("RRSIG valid from {}", crate::facts::date(i64::from(at))),
        ));
    }
    if unsupported {
        let algs: Vec<String> = set
            .sigs
            .iter()
            .map(|s| s.input().algorithm.to_string())
            .collect();
        return Err((
            BogusCause::UnsupportedAlgorithm,
            format!("signed only with {}", algs.join(", ")),
        ));
    }
    let tags: Vec<String> = set
        .sigs
        .iter()
        .map(|s| s.input().key_tag.to_string())
        .collect();
    Err((
        BogusCause::BadSignature,
        format!(
            "no RRSIG (key tags {}) verifies with the zone's keys",
            tags.join(", ")
        ),
    ))
}

/// A cached set: when it goes stale, and what it was.
type Slot = Arc<tokio::sync::OnceCell<(Instant, Result<Arc<Fetched>, DnsFailure>)>>;

/// What one DS or DNSKEY query gave: the records (parsed) and signatures.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    ds: Vec<DS>,
    records: Vec<Record>,
    sigs: Vec<RRSIG>,
}

/// DS and DNSKEY sets of one vantage by (zone, type), kept by their TTL; a second asker while
/// the first waits shares its answer (one fetch per zone per TTL, however many probes).
#[derive(Default)]
pub struct ZoneCache {
    slots: Mutex<HashMap<(Name, RecordType), Slot>>,
}

impl ZoneCache {
    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Name, RecordType), Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot for `key`: the cached one while fresh (or being fetched), else a new one (not
    /// kept when the cache is full of fresh entries).
    fn slot(&self, key: (Name, RecordType)) -> Slot {
        let mut slots = self.lock();
        let now = Instant::now();
        let fresh = |s: &Slot| s.get().is_none_or(|(until, _)| *until > now);
        if let Some(s) = slots.get(&key)
            && fresh(s)
        {
            return s.clone();
        }
        let slot = Slot::default();
        if slots.len() >= MAX_CACHED {
            slots.retain(|_, s| fresh(s));
        }
        if slots.len() < MAX_CACHED {
            slots.insert(key, slot.clone());
        }
        slot
    }

    /// The `rtype` set (DS or DNSKEY) of `zone` as `client` answers it with CD.
    async fn fetch(
        &self,
        client: &Client,
        zone: &Name,
        rtype: RecordType,
    ) -> Result<Arc<Fetched>, DnsFailure> {
        let slot = self.slot((zone.clone(), rtype));
        let got = slot
            .get_or_init(|| async {
                let r = fetch(client, zone, rtype).await;
                let keep = match &r {
                    Ok((_, ttl)) => *ttl,
                    // A failure is asked again by the next probe.
                    Err(_) => Duration::ZERO,
                };
                (Instant::now() + keep, r.map(|(f, _)| Arc::new(f)))
            })
            .await;
        got.1.clone()
    }
}

/// One DS or DNSKEY query with CD (the resolver's validation must not hide a bogus zone's
/// keys) and how long its answer may be kept.
async fn fetch(
    client: &Client,
    zone: &Name,
    rtype: RecordType,
) -> Result<(Fetched, Duration), DnsFailure> {
    let m = client
        .resolve(&Query::query(zone.clone(), rtype), true)
        .await?;
    match m.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        ResponseCode::ServFail => return Err(DnsFailure::Servfail),
        ResponseCode::Refused => return Err(DnsFailure::Refused),
        _ => return Err(DnsFailure::Error),
    }
    let set = SignedSet::read(&m, zone, rtype);
    let ttl = set
        .records
        .iter()
        .map(|r| r.ttl)
        .min()
        .map(|t| Duration::from_secs(u64::from(t)))
        .or_else(|| {
            m.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(Duration::from_secs(u64::from(soa.minimum.min(r.ttl)))),
                _ => None,
            })
        })
        .unwrap_or(NEGATIVE_KEEP)
        .clamp(MIN_KEEP, MAX_KEEP);
    let ds = set
        .records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
            _ => None,
        })
        .take(MAX_KEYS)
        .collect();
    Ok((
        Fetched {
            ds,
            records: set.records,
            sigs: set.sigs,
        },
        ttl,
    ))
}

/// The zone holding `owner`, from the SOA a CD query for it returns (the answer at an apex,
/// the authority section below one); for sets that came without signatures.
async fn zone_of(client: &Client, owner: &Name) -> Option<Name> {
    let m = client
        .resolve(&Query::query(owner.clone(), RecordType::SOA), true)
        .await
        .ok()?;
    m.answers
        .iter()
        .chain(&m.authorities)
        .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(owner))
        .map(|r| r.name.clone())
}

/// Validates the sets of one probe (the first resolver's answers): `sets` with, for each,
/// whether a validating resolver failed it (SERVFAIL answered with CD).
pub(crate) async fn gather(
    client: &Client,
    cache: &ZoneCache,
    sets: Vec<(SignedSet, bool, bool)>,
    now: u32,
) -> DnssecFacts {
    let mut facts = DnssecFacts::default();
    // By zone, in order of first appearance (the SRV first).
    let mut zones: Vec<(Name, Vec<SignedSet>, bool)> = Vec::new();
    for (set, bogus, is_srv) in sets {
        let zone = match set.signer() {
            Some(z) => Some(z),
            None if bogus => zone_of(client, &set.owner).await,
            None => None,
        };
        let Some(zone) = zone else {
            if !set.records.is_empty() || bogus {
                let name = host(&set.owner);
                if !facts.unsigned.contains(&name) {
                    facts.unsigned.push(name);
                }
            }
            continue;
        };
        if let Some((_, sets, srv)) = zones.iter_mut().find(|(z, _, _)| *z == zone) {
            sets.push(set);
            *srv |= is_srv;
        } else if zones.len() < MAX_ZONES {
            zones.push((zone, vec![set], is_srv));
        }
    }
    for (zone, sets, holds_srv) in zones {
        let (ds, dnskey) = tokio::join!(
            cache.fetch(client, &zone, RecordType::DS),
            cache.fetch(client, &zone, RecordType::DNSKEY)
        );
        let labels = sets.iter().map(SignedSet::label).collect();
        let mut entry = ZoneDnssec {
            zone: host(&zone),
            sets: labels,
            holds_srv,
            ds_tags: Vec::new(),
            key_tags: Vec::new(),
            state: DnssecState::Indeterminate,
            cause: None,
            detail: String::new(),
            earliest_expiry: None,
            validity_seconds: None,
        };
        let ds = match ds {
            Ok(ds) => ds,
            Err(e) => {
                entry.detail = format!("the DS set could not be fetched ({})", e.reason().as_str());
                facts.zones.push(entry);
                continue;
            }
        };
        entry.ds_tags = ds.ds.iter().map(DS::key_tag).collect();
        // Without DS the DNSKEY set does not matter: insecure whatever it holds.
        let dnskey = match dnskey {
            Ok(k) => k,
            Err(_) if ds.ds.is_empty() => Arc::new(Fetched::default()),
            Err(e) => {
                entry.detail = format!(
                    "the DNSKEY set could not be fetched ({})",
                    e.reason().as_str()
                );
                facts.zones.push(entry);
                continue;
            }
        };
        entry.key_tags = dnskey
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => k.calculate_key_tag().ok(),
                _ => None,
            })
            .take(MAX_KEYS)
            .collect();
        let keys = ZoneKeys {
            ds: ds.ds.clone(),
            dnskey: KeySet {
                records: dnskey.records.clone(),
                sigs: dnskey.sigs.clone(),
            },
        };
        let outcome = validate(&zone, &keys, &sets, now);
        entry.state = outcome.state;
        entry.cause = outcome.cause;
        entry.detail = outcome.detail;
        entry.earliest_expiry = outcome.earliest.map(|(e, _)| e);
        entry.validity_seconds = outcome.earliest.map(|(_, v)| v);
        facts.zones.push(entry);
    }
    facts
}

/// The set of `rtype` at `owner` a reply shows (from the CD answer when the resolver failed
/// it), and whether the resolver failed it.
pub(super) fn from_reply(
    reply: &Reply,
    owner: &Name,
    rtype: RecordType,
) -> Option<(SignedSet, bool)> {
    let bogus = reply.cd.is_some();
    let m = match (&reply.response, &reply.cd) {
        (_, Some(cd)) => cd,
        (Ok(m), None) if m.metadata.response_code == ResponseCode::NoError => m,
        _ => return None,
    };
    Some((SignedSet::read(m, owner, rtype), bogus))
}

/// One datagram read as the validator reads answers (the DNS fuzz target's way in): the
/// resolver's Extended DNS Error, the set of `rtype` at `owner` with its RRSIGs, and that
/// set validated at `now` against the DS and DNSKEY records the same datagram carries (the
/// parsing and signature paths a hostile server reaches). `None` when it is no response to
/// the question with id `id`.
pub fn read_datagram(
    datagram: &[u8],
    owner: &str,
    rtype: RecordType,
    id: u16,
    now: u32,
) -> Option<(Option<crate::facts::Ede>, DnssecState)> {
    let owner = Name::from_ascii(super::absolute(owner)).ok()?;
    let m = super::transport::response(datagram, &Query::query(owner.clone(), rtype), id)?;
    let ede = super::ede(&m);
    let set = SignedSet::read(&m, &owner, rtype);
    let ds = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
            _ => None,
        })
        .take(MAX_KEYS)
        .collect();
    let dnskey = SignedSet::read(&m, &owner, RecordType::DNSKEY);
    let keys = ZoneKeys {
        ds,
        dnskey: KeySet {
            records: dnskey.records,
            sigs: dnskey.sigs,
        },
    };
    Some((ede, validate(&owner, &keys, &[set], now).state))
}

#[cfg(test)]
mod tests;
