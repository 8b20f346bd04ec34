//! Microsoft 365 evidence: looks up the records that tell a Teams tenant (MX to Exchange
//! Online, the `MS=ms…` verification TXT, lyncdiscover/sip/_sip._tls to Microsoft).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};

use crate::facts::{DnsFailure, M365Facts, is_microsoft_host};
use crate::gather::dns::{self, Resolvers};

/// Looks up the evidence records concurrently; `None` when a lookup could not be made for
/// want of local resources (no evidence is not the same as not having looked).
pub async fn gather(resolvers: &Resolvers, domain: &str) -> Option<M365Facts> {
    let name = |prefix: &str| dns::absolute(&format!("{prefix}{domain}"));
    let apex = name("");
    let sip_tls_name = name("_sip._tls.");
    let mx = resolvers.first(&apex, RecordType::MX, |d| match d {
        RData::MX(m) => Some(dns::host(&m.exchange)),
        _ => None,
    });
    let txt = resolvers.first(&apex, RecordType::TXT, |d| match d {
        RData::TXT(t) => {
            let s: String = t
                .txt_data
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            s.starts_with("MS=").then_some(s)
        }
        _ => None,
    });
    let lyncdiscover = alias_or_address(resolvers, name("lyncdiscover."));
    let sip = alias_or_address(resolvers, name("sip."));
    let sip_tls = resolvers.first(&sip_tls_name, RecordType::SRV, |d| match d {
        RData::SRV(s) => Some(dns::host(&s.target)),
        _ => None,
    });
    let ((mx, mx_total), (txt, ms_txt_total), lyncdiscover, sip, (sip_tls, sip_tls_total)) =
        tokio::join!(mx, txt, lyncdiscover, sip, sip_tls);
    let local = Err(DnsFailure::Local);
    if [&mx, &txt, &sip_tls].contains(&&local) {
        return None;
    }
    Some(M365Facts {
        mx: mx.unwrap_or_default(),
        ms_txt: txt.unwrap_or_default(),
        lyncdiscover: lyncdiscover.ok()?,
        sip: sip.ok()?,
        sip_tls: sip_tls.unwrap_or_default(),
        mx_total,
        ms_txt_total,
        sip_tls_total,
    })
}

/// CNAME hops followed at most (a DNS provider's alias in front of Microsoft's name is common).
const MAX_CNAME_HOPS: usize = 8;

/// The alias target (or `""` for a name with addresses), `None` for neither; an error when the
/// lookup could not be made (local resources). One A query usually answers both: a resolver
/// asked for an alias's addresses returns its CNAME chain with them (RFC 1034 §3.6.2), even
/// when the chain ends at no name (NXDOMAIN, RFC 6604). AAAA is asked only when the name has
/// no A record (one query instead of three for a name with addresses), and CNAME only when
/// the A query failed.
async fn alias_or_address(
    resolvers: &Resolvers,
    name: String,
) -> Result<Option<String>, DnsFailure> {
    let is_a = |d: &RData| matches!(d, RData::A(_)).then_some(());
    let (v4, alias, _) = resolvers.first_seen(&name, RecordType::A, is_a).await;
    let alias = match (&v4, alias) {
        (_, Some(alias)) => Some(alias),
        // A failed answer shows no chain, yet the alias may be what exists (a CNAME into a
        // zone whose servers fail): ask for it as such.
        (
            Err(
                DnsFailure::Servfail
                | DnsFailure::Refused
                | DnsFailure::Timeout
                | DnsFailure::DnssecBogus
                | DnsFailure::NoAuthority,
            ),
            None,
        ) => resolvers.cname(&name).await,
        _ => None,
    };
    if let Some(first) = alias {
        let mut current = first.clone();
        for _ in 0..MAX_CNAME_HOPS {
            if is_microsoft_host(&current) {
                return Ok(Some(current));
            }
            match resolvers.cname(&dns::absolute(&current)).await {
                Some(next) => current = next,
                None => break,
            }
        }
        return Ok(Some(first));
    }
    match v4 {
        Ok(_) => return Ok(Some(String::new())),
        Err(DnsFailure::Local) => return Err(DnsFailure::Local),
        // No such name: neither an alias nor an address.
        Err(DnsFailure::Nxdomain) => return Ok(None),
        Err(_) => {}
    }
    let is_aaaa = |d: &RData| matches!(d, RData::AAAA(_)).then_some(());
    match resolvers.first(&name, RecordType::AAAA, is_aaaa).await.0 {
        Ok(_) => Ok(Some(String::new())),
        Err(DnsFailure::Local) => Err(DnsFailure::Local),
        Err(_) => Ok(None),
    }
}

/// Microsoft 365 evidence kept at most: every configured (vantage, domain) of a fleet of
/// 10,000 domains at six vantages.
pub const MAX_ENTRIES: usize = 65_536;

/// Bytes the kept evidence may hold at most, about (the names and records, plus a fixed
/// amount per entry).
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// What one entry costs besides its names and records: the map's and the order's slots.
const ENTRY_OVERHEAD: usize = 256;

type Key = (String, String);

/// Microsoft 365 evidence of configured domains by (vantage, domain), with when it was
/// gathered. Bounded in entries and bytes: past either, the least recently used entries go.
/// An ad-hoc probe may read it but never adds to it (SPEC §5 "Ad-hoc probes").
pub struct Cache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<Key, Entry>,
    /// Keys by their last use, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
}

struct Entry {
    at: Instant,
    facts: M365Facts,
    bytes: usize,
    used: u64,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::new(MAX_ENTRIES, MAX_BYTES)
    }
}

impl Cache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Cache {
        Cache {
            max_entries,
            max_bytes,
            inner: Mutex::default(),
        }
    }

    /// The evidence of `domain` at `vantage` gathered less than `fresh` ago, now the most
    /// recently used.
    pub fn get(&self, vantage: &str, domain: &str, fresh: Duration) -> Option<M365Facts> {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let lru = &mut *lru;
        let key = (vantage.to_string(), domain.to_string());
        let entry = lru.entries.get_mut(&key)?;
        if entry.at.elapsed() >= fresh {
            return None;
        }
        lru.clock += 1;
        lru.order.remove(&entry.used);
        entry.used = lru.clock;
        lru.order.insert(entry.used, key);
        Some(entry.facts.clone())
    }

    /// Keeps `facts` as the evidence of `domain` at `vantage`, dropping the least recently
    /// used entries while over a bound; evidence larger than the byte bound is not kept.
    pub fn insert(&self, vantage: &str, domain: &str, facts: M365Facts) {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let lru = &mut *lru;
        let key = (vantage.to_string(), domain.to_string());
        let bytes = ENTRY_OVERHEAD + 2 * (key.0.len() + key.1.len()) + facts.heap_bytes();
        if let Some(old) = lru.entries.remove(&key) {
            lru.order.remove(&old.used);
            lru.bytes -= old.bytes;
        }
        if bytes > self.max_bytes {
            return;
        }
        while lru.entries.len() >= self.max_entries || lru.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(old) = lru.entries.remove(&oldest) {
                lru.bytes -= old.bytes;
            }
        }
        lru.clock += 1;
        let entry = Entry {
            at: Instant::now(),
            facts,
            bytes,
            used: lru.clock,
        };
        lru.order.insert(entry.used, key.clone());
        lru.bytes += bytes;
        lru.entries.insert(key, entry);
    }

    /// Entries and bytes held.
    pub fn size(&self) -> (usize, usize) {
        let lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (lru.entries.len(), lru.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mx: &str) -> M365Facts {
        M365Facts {
            mx: vec![mx.to_string()],
            ..M365Facts::default()
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_cache_drops_the_least_recently_used_past_its_entry_bound() {
        let cache = Cache::new(3, MAX_BYTES);
        for d in ["a.test", "b.test", "c.test"] {
            cache.insert("v", d, facts(d));
        }
        // a is used again, so b is now the least recently used.
        assert_eq!(cache.get("v", "a.test", HOUR).unwrap().mx, ["a.test"]);
        cache.insert("v", "d.test", facts("d.test"));
        assert_eq!(cache.size().0, 3);
        assert!(
            cache.get("v", "b.test", HOUR).is_none(),
            "b was least recent"
        );
        for d in ["a.test", "c.test", "d.test"] {
            assert_eq!(cache.get("v", d, HOUR).unwrap().mx, [d], "{d} kept");
        }
        // Replacing an entry neither grows the cache nor drops another.
        cache.insert("v", "c.test", facts("c2.test"));
        assert_eq!(cache.size().0, 3);
        assert_eq!(cache.get("v", "c.test", HOUR).unwrap().mx, ["c2.test"]);
        assert!(cache.get("v", "a.test", HOUR).is_some());
        // Stale evidence is not given out.
        assert!(cache.get("v", "a.test", Duration::ZERO).is_none());
    }

    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let big = |n: usize| M365Facts {
            ms_txt: vec!["MS=".to_string() + &"x".repeat(n)],
            ..M365Facts::default()
        };
        let cache = Cache::new(MAX_ENTRIES, 10_000);
        for i in 0..10 {
            cache.insert("v", &format!("d{i}.test"), big(3_000));
        }
        let (entries, bytes) = cache.size();
        assert_eq!(entries, 3, "three entries of about 3.3 KB fit in 10 KB");
        assert!(bytes <= 10_000, "{bytes}");
        // The three most recent are the ones kept.
        for i in 7..10 {
            assert!(cache.get("v", &format!("d{i}.test"), HOUR).is_some(), "{i}");
        }
        // Evidence larger than the bound is not kept, and drops nothing.
        cache.insert("v", "huge.test", big(20_000));
        assert!(cache.get("v", "huge.test", HOUR).is_none());
        assert_eq!(cache.size().0, 3);
    }
}
