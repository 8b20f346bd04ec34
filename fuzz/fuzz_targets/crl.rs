//! CRLs over arbitrary bytes: parsing and verifying any CRL (DER or PEM) against any issuer
//! never panics (the issuing distribution point, delta, indirect and critical extensions
//! included), and a verified one answers for any serial and role.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::crl;

fuzz_target!(|data: &[u8]| {
    // A big-endian u16 length cuts the rest into an issuer certificate and the CRL.
    let Some((&[a, b], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (issuer, list) = rest.split_at(usize::from(u16::from_be_bytes([a, b])).min(rest.len()));
    // The seeds' distribution point (fuzz/seeds/crl/openssl-idp).
    let url = "http://crl.ca.example/ca.crl";
    if let Ok(c) = crl::verify(list, issuer, url, 1_800_000_000) {
        let _ = c.status(&[0x01, 0x02], false);
        let _ = c.status(&[], true);
        let _ = c.size();
    }
});
