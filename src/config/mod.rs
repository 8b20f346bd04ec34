//! Strict YAML configuration: decoding with defaults, validation, `domain_files`, and error
//! messages that name the file, line and key.
//!
//! - [`schema`]: the validated types the exporter runs with (re-exported here).
//! - `decode`: the raw serde types of the files and strict decoding with `file:line:column`.
//! - `locate`: `file:line` of a key path, for errors found after decoding.
//! - `normalize`: domain names, durations and URL userinfo to their canonical form.
//! - `validate`: from decoded files to a [`Config`] (`Config::load`, `Config::parse`).
//! - `selection`: `--vantage` and `--shard`.

mod decode;
mod locate;
mod normalize;
pub mod schema;
mod selection;
mod validate;

pub(crate) use decode::{decode, read};
pub use normalize::{normalize_domain, parse_duration};
pub use schema::*;
pub use selection::{Selection, Shard};
