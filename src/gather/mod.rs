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

/// An I/O error for want of local resources (file descriptors, buffers, memory): the
/// exporter's trouble, never the partner's.
pub(crate) fn local_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
