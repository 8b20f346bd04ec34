//! Gathering: all network I/O. [`probe`] runs one probe of one domain from one vantage under
//! one deadline, with [`edge`] (each shared edge looked at once per round, SIP OPTIONS as
//! transactions on its connection), [`dns`] (SRV, A/AAAA, CNAME per resolver), [`authoritative`] (every
//! name server's copy), [`m365`] (Microsoft 365 evidence), [`tls`] (a handshake that keeps any
//! presented chain, parsed by [`cert`]) presenting the tenant's [`identity`], [`sip`] (OPTIONS over the TLS connection) and
//! [`proxy`] (a vantage's SOCKS5 proxy), [`revocation`] (OCSP and CRL evidence for a presented
//! chain, cached by lifetime: [`fetch`] over HTTP, read by [`ocsp`] and [`crl`]); [`vantage`] checks a vantage's own means (health). The result is plain [`crate::facts::Facts`].

pub mod authoritative;
pub mod cert;
pub mod crl;
pub mod dns;
pub mod edge;
pub mod fetch;
pub mod identity;
pub mod m365;
pub mod ocsp;
pub mod probe;
pub mod proxy;
pub mod revocation;
pub mod sip;
pub mod tls;
pub mod vantage;

/// A connect error that says the exporter's host has no route for the address's family:
/// ENETUNREACH (no route at all) or EADDRNOTAVAIL (no source address of that family). The
/// vantage's blindness, never the partner's fault. EHOSTUNREACH is not one: a route exists
/// and a router or the neighbour lookup said the host is not there, which is about the
/// partner's address.
pub(crate) fn no_route(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(101 | 99))
}

/// An I/O error for want of local resources (file descriptors, buffers, memory): the
/// exporter's trouble, never the partner's.
pub(crate) fn local_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

#[cfg(test)]
mod tests {
    use std::io::Error;

    /// No route for the family (ENETUNREACH, EADDRNOTAVAIL) is ours; a host unreachable
    /// (EHOSTUNREACH) or a refusal is about the partner's address.
    #[test]
    fn no_route_is_only_a_missing_route_for_the_family() {
        let cases = [
            (101, true),  // ENETUNREACH
            (99, true),   // EADDRNOTAVAIL
            (113, false), // EHOSTUNREACH
            (111, false), // ECONNREFUSED
            (110, false), // ETIMEDOUT
        ];
        for (errno, want) in cases {
            assert_eq!(
                super::no_route(&Error::from_raw_os_error(errno)),
                want,
                "{errno}"
            );
        }
    }
}
