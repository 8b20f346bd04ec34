//! The web configuration (exporter-toolkit format) decoder over arbitrary text, read from a
//! file as `--web.config.file` does: an error or a configuration, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::expose::webconfig::WebConfig;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sipfed-fuzz-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("web.yml")
    })
}

fuzz_target!(|data: &[u8]| {
    if std::fs::write(file(), data).is_ok() {
        let _ = WebConfig::load(file());
    }
});
