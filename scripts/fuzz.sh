#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), starting from the committed seeds
# in fuzz/seeds/<target>/; new inputs go to a scratch corpus, crashes to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# FUZZ_BUILD_ARGS adds cargo-fuzz build options: scripts/test.sh's smoke passes
# "--dev -s none" (an unoptimised build without AddressSanitizer compiles in a fraction of the
# time, and a smoke is about panics and hangs in safe Rust); long runs keep the defaults.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds into
# $CARGO_TARGET_DIR when set (else fuzz/target). Exits non-zero when a target finds a crash.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(sip_response cert_der config web_config dns_answer ocsp_response crl)
fi
cargo +nightly fuzz --version >/dev/null 2>&1 || {
  echo "cargo-fuzz not found: cargo install cargo-fuzz (and rustup toolchain install nightly)" >&2
  exit 2
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# shellcheck source=lib/checks.sh
source ../scripts/lib/checks.sh
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  echo "== fuzz $t for ${seconds}s"
  # -rss_limit_mb: a probe's memory is bounded; -timeout: one input must not hang.
  # shellcheck disable=SC2086 # FUZZ_BUILD_ARGS is a list of options
  if cargo +nightly fuzz run ${FUZZ_BUILD_ARGS:-} "$t" "$scratch/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    >"$scratch/$t.log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|Done )' "$scratch/$t.log" | sed "s/^/   $t: /" || true
    pass "fuzz target $t: no crash in ${seconds}s"
  else
    tail -40 "$scratch/$t.log" | sed 's/^/     /'
    fail "fuzz target $t (the input is in fuzz/artifacts/$t/)"
  fi
done
summary
