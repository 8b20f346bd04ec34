//! Gathering: all network I/O. [`probe`] runs one probe of one domain from one vantage under
//! one deadline, with [`edge`] (each shared edge looked at once per round, SIP OPTIONS as
//! transactions on its connection), [`dns`] (SRV, A/AAAA, CNAME per resolver), [`authoritative`] (every
//! name server's copy), [`m365`] (Microsoft 365 evidence), [`tls`] (a handshake that keeps any
//! presented chain, parsed by [`cert`]), [`sip`] (OPTIONS over the TLS connection) and
//! [`proxy`] (a vantage's SOCKS5 proxy). The result is plain [`crate::facts::Facts`].

pub mod authoritative;
pub mod cert;
pub mod dns;
pub mod edge;
pub mod m365;
pub mod probe;
pub mod proxy;
pub mod sip;
pub mod tls;
