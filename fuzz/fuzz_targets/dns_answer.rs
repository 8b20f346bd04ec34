//! Whatever a server (or a forger) sends back to a query, reading it never panics: the
//! question and id are checked, a datagram that fills the receive buffer means "truncated",
//! and only records owned by the queried name or its CNAME chain are read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::dns;
use hickory_proto::rr::RecordType;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, datagram)) = data.split_first() else {
        return;
    };
    let rtype = match selector & 0x07 {
        0 => RecordType::A,
        1 => RecordType::AAAA,
        2 => RecordType::SRV,
        3 => RecordType::CNAME,
        4 => RecordType::MX,
        5 => RecordType::TXT,
        6 => RecordType::NS,
        _ => RecordType::SOA,
    };
    let name = if selector & 0x08 == 0 { "x.example" } else { "_sipfederationtls._tcp.x.example" };
    // Mostly the datagram's own id, so the parser is reached; sometimes another.
    let id = match datagram.get(..2) {
        Some(h) if selector & 0x10 == 0 => u16::from_be_bytes([h[0], h[1]]),
        _ => 0x1234,
    };
    if let Some((truncated, records, _alias)) = dns::read_datagram(datagram, name, rtype, id) {
        if let Ok(r) = records {
            assert!(!r.is_empty());
            // Never more records than a datagram can hold.
            assert!(r.len() <= datagram.len() / 11);
        }
        let _ = truncated;
    }
    // The validator's reading of the same bytes: EDE, RRSIG, DNSKEY and DS parsing and the
    // signature checks over whatever keys and signatures the datagram carries.
    let dnssec_type = match selector >> 5 {
        0 => RecordType::DNSKEY,
        1 => RecordType::DS,
        _ => rtype,
    };
    if let Some((ede, _state)) = dns::read_dnssec_datagram(datagram, name, dnssec_type, id, 1_800_000_000) {
        if let Some(e) = ede {
            // Bounded and escaped: no control character reaches a page or a log line.
            assert!(e.text.chars().all(|c| !c.is_control()));
        }
    }
});
