//! Build script: `SIPFED_REVISION` for `sipfed_exporter_build_info{revision}` from the source
//! tree's git commit, so a local build says which commit it is; `unknown` only outside a
//! checkout (a tarball, a Docker context without `.git`). An explicit `SIPFED_REVISION` in
//! the build environment (the Dockerfile's build argument) wins.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SIPFED_REVISION");
    if std::env::var("SIPFED_REVISION").is_ok_and(|v| !v.is_empty()) {
        return;
    }
    // Rebuilt when the checked-out commit moves: HEAD (a branch switch) and the HEAD reflog
    // (every commit, reset or checkout appends to it); in a worktree both are its own.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
    if let Some(rev) = git(&["rev-parse", "HEAD"]) {
        println!("cargo:rustc-env=SIPFED_REVISION={rev}");
    }
}
