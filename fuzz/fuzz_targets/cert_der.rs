//! Certificate analysis over arbitrary DER: parsing every certificate of a "chain" cut from the
//! input and verifying it against the built-in roots never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::cert;
use sipfed_exporter::judge::TrustStore;

fn roots() -> &'static TrustStore {
    static ROOTS: OnceLock<TrustStore> = OnceLock::new();
    ROOTS.get_or_init(|| TrustStore::load(None).expect("built-in roots"))
}

fuzz_target!(|data: &[u8]| {
    // The first byte says where to cut the rest into a leaf and one intermediate.
    let (chain, now) = match data.split_first() {
        None => (vec![cert::parse(data)], 0),
        Some((cut, rest)) => {
            let at = (usize::from(*cut) * rest.len()) / 256;
            let (a, b) = rest.split_at(at);
            (vec![cert::parse(b), cert::parse(a)], i64::from(*cut) << 24)
        }
    };
    let _ = roots().verify(&chain, now);
    let _ = roots().verify(&chain[..1], 1_800_000_000);
});
