//! The SIP step, as the DNS one is built: [`message`] is the codec (the OPTIONS request's
//! text, framing and parsing a peer's responses; pure, fuzzed directly), [`connection`] runs
//! the transactions of one TLS connection (matching, bounds in time and size).

pub mod connection;
pub mod message;

pub use connection::options;
