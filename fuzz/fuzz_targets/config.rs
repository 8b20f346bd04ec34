//! The configuration decoder over arbitrary text: an error or a configuration, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `domain_files` globs relative to this: a directory with nothing in it.
    let path = std::env::temp_dir().join("sipfed-fuzz-config/sipfed.yml");
    let _ = Config::parse(&path, text);
});
