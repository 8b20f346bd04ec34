//! OCSP over arbitrary bytes: building a request for any (certificate, issuer) pair and
//! verifying any response against it never panics, and nothing unverified counts as evidence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::ocsp;

fuzz_target!(|data: &[u8]| {
    // Two big-endian u16 lengths cut the rest into a certificate, an issuer and the response.
    let Some((&[a, b, c, d], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let (cert, rest) = rest.split_at(usize::from(u16::from_be_bytes([a, b])).min(rest.len()));
    let (issuer, response) =
        rest.split_at(usize::from(u16::from_be_bytes([c, d])).min(rest.len()));
    let _ = ocsp::request(cert, issuer);
    let _ = ocsp::verify(response, cert, issuer, 1_800_000_000);
});
