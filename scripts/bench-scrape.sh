#!/usr/bin/env bash
# Measures the /metrics scrape of a fleet over HTTP: what README and docs/performance.md quote.
#
#   scripts/bench-scrape.sh [DOMAINS] [LAB_BIN]     (defaults: 10000, target/release/sipfed_exporter-lab)
#
# Starts `demo --fleet=DOMAINS` (the lab build: `cargo build --release --features lab`, copied to
# target/release/sipfed_exporter-lab; built here when missing), waits until every domain has a
# probe result, then:
#   - curl: SCRAPES (default 10) scrapes plain and SCRAPES with `Accept-Encoding: gzip`; prints
#     the median, min and max time and the body size of each;
#   - a real Prometheus (Debian package `prometheus`) scraping the same exporter every 5 s for
#     PROM_SECONDS (default 60); prints the median and max of its `scrape_duration_seconds` and
#     the samples per scrape.
# Loopback only. A measurement, not a test: it asserts nothing beyond the run completing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
BIN=${2:-target/release/sipfed_exporter-lab}
SCRAPES=${SCRAPES:-10}
PROM_SECONDS=${PROM_SECONDS:-60}
for tool in curl python3 prometheus; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install curl prometheus)" >&2; exit 2; }
done
if [ ! -x "$BIN" ]; then
  echo "building the lab binary (cargo build --release --features lab)"
  cargo build --release --features lab --quiet
  cp target/release/sipfed_exporter "$BIN"
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(free_port)
url="http://127.0.0.1:$port/metrics"
"$BIN" demo --fleet="$N" --web.listen-address="127.0.0.1:$port" --log.level=warn >"$tmp/demo.log" 2>&1 &
pids+=($!)
echo "== demo --fleet=$N on 127.0.0.1:$port; waiting for every domain's first probe"
want=$((N + 11))   # the fleet plus the demo's own domains, one vantage
deadline=$((SECONDS + 600))
have=0
while [ "$SECONDS" -lt "$deadline" ]; do
  have=$(curl -sf "$url" 2>/dev/null | grep -c '^sipfed_probe_timestamp_seconds{' || true)
  [ "$have" -ge "$want" ] && break
  sleep 5
done
[ "$have" -ge "$want" ] || { echo "only $have of $want domains probed after 600 s" >&2; tail "$tmp/demo.log" >&2; exit 1; }
echo "   $have domains probed after $SECONDS s"

# stats FILE: "median X ms (min Y, max Z)" of the seconds in FILE, one a line.
stats() { sort -n "$1" | awk '{v[NR]=$1*1000} END {printf "median %.0f ms (min %.0f, max %.0f) over %d scrapes", v[int((NR+1)/2)], v[1], v[NR], NR}'; }
for mode in plain gzip; do
  : >"$tmp/$mode"
  hdr=()
  [ "$mode" = gzip ] && hdr=(-H 'Accept-Encoding: gzip')
  for _ in $(seq "$SCRAPES"); do
    curl -sf "${hdr[@]}" -o "$tmp/body" -w '%{time_total}\n' "$url" >>"$tmp/$mode"
  done
  size=$(stat -c %s "$tmp/body")
  echo "curl /metrics $mode: $(stats "$tmp/$mode"), $(awk -v b="$size" 'BEGIN {printf "%.1f MiB", b/1048576}')"
done

prom_port=$(free_port)
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  scrape_timeout: 5s
scrape_configs:
  - job_name: sipfed
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
echo "== a real Prometheus scraping it every 5 s for $PROM_SECONDS s"
sleep "$PROM_SECONDS"
python3 - "127.0.0.1:$prom_port" "$PROM_SECONDS" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, secs = sys.argv[1], int(sys.argv[2])
def q(expr):
    url = f"http://{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    res = json.load(urllib.request.urlopen(url, timeout=10))["data"]["result"]
    return float(res[0]["value"][1]) if res else float("nan")
r = f"[{secs}s]"
print(f"prometheus scrape_duration_seconds: median {q(f'quantile_over_time(0.5, scrape_duration_seconds{r})'):.2f} s, "
      f"max {q(f'max_over_time(scrape_duration_seconds{r})'):.2f} s over {q(f'count_over_time(up{r})'):.0f} scrapes "
      f"(up {q('up'):.0f}), {q('scrape_samples_scraped'):.0f} samples per scrape")
PY
