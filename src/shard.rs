//! Sharding: which exporter instance of a fleet owns a domain, and the stable hash that
//! spreads domains over shards and probes over their schedule.

/// The shard (of `n`) a domain belongs to: FNV-1a of `tenant/name`.
pub fn shard_of(tenant: &str, name: &str, n: u64) -> u64 {
    fnv1a(&[tenant, name], b'/') % n
}

/// FNV-1a over `parts` joined by `separator`: a stable hash (unlike std's, it is fixed across
/// Rust versions), for shards and schedule offsets.
pub fn fnv1a(parts: &[&str], separator: u8) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for (i, part) in parts.iter().enumerate() {
        let sep = (i > 0).then_some(separator);
        for b in sep.into_iter().chain(part.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}
