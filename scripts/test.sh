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
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# PyYAML for the rule and dashboard checks, for whichever python3 is first on PATH.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
cargo test --quiet 2>&1 | tee "$logs/cargo"
echo "== alerts and dashboards"
scripts/test-alerts.sh 2>&1 | tee "$logs/alerts"
echo "== deployment artefacts (systemd, Docker, compose, Kubernetes)"
cargo build --release --quiet   # test-deploy.sh runs the binary's `config check`: not a stale one
scripts/test-deploy.sh 2>&1 | tee "$logs/deploy"
echo "== interoperability with third-party servers (dnsmasq, Kamailio TLS)"
scripts/test-interop.sh target/release/sipfed_exporter 2>&1 | tee "$logs/interop"
echo "== status pages in a real browser (headless Chromium)"
scripts/test-browser.sh target/release/sipfed_exporter 2>&1 | tee "$logs/browser"
echo "== end-to-end with a real Prometheus"
scripts/e2e-prometheus.sh target/release/sipfed_exporter 2>&1 | tee "$logs/e2e"
echo "== fuzzing smoke (cargo-fuzz, 10s per target)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
scripts/fuzz.sh 10 2>&1 | tee "$logs/fuzz"
# One closing line for all four suites (each exited non-zero on any failure above).
cargo_passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$logs/cargo" | awk '{s+=$4} END {print s+0}')
alerts_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/alerts" | tail -1 | awk '{print $1}')
deploy_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/deploy" | tail -1 | awk '{print $1}')
interop_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/interop" | tail -1 | awk '{print $1}')
browser_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/browser" | tail -1 | awk '{print $1}')
e2e_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/e2e" | tail -1 | awk '{print $1}')
fuzz_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$logs/fuzz" | tail -1 | awk '{print $1}')
echo "== cargo tests: $cargo_passed, alert/dashboard checks: $alerts_passed, deployment checks: $deploy_passed, interop checks: $interop_passed, browser checks: $browser_passed, end-to-end checks: $e2e_passed, fuzz targets: $fuzz_passed"
echo "$((cargo_passed + alerts_passed + deploy_passed + interop_passed + browser_passed + e2e_passed + fuzz_passed)) passed, 0 failed"
