//! The library's error type: configuration problems and start-up failures.

/// Errors that stop a command or a reload; probe failures are facts, never errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; `location` is `file[:line[:column]]`.
    #[error("{location}: {message}")]
    Config { location: String, message: String },
    /// A certificate, key or trust file could not be used.
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
