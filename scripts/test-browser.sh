#!/usr/bin/env bash
# The status pages in a real browser: headless Chromium renders `/` and a domain's checklist
# from the demo world; the rendered DOM must show each domain's state and the remediation text.
# Usage: scripts/test-browser.sh [BIN]   (writes screenshots to $SCREENSHOT_DIR when set)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/sipfed_exporter}")
command -v chromium >/dev/null || { echo "chromium not found (apt-get install chromium)" >&2; exit 2; }
dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" demo --web.listen-address="127.0.0.1:$port" >"$dir/demo.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/-/ready" && break
  sleep 0.2
done
browse() { # what url
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/profile" --window-size=1200,900 "$1" "$2" 2>/dev/null
}
browse --dump-dom "http://127.0.0.1:$port/" >"$dir/index.html"
browse --dump-dom "http://127.0.0.1:$port/domain/msp-kunde/dentalbuero.de" >"$dir/domain.html"
if [ -n "${SCREENSHOT_DIR:-}" ]; then
  mkdir -p "$SCREENSHOT_DIR"
  browse --screenshot="$SCREENSHOT_DIR/status.png" "http://127.0.0.1:$port/"
  browse --screenshot="$SCREENSHOT_DIR/domain.png" "http://127.0.0.1:$port/domain/msp-kunde/dentalbuero.de"
fi
python3 - "$dir/index.html" "$dir/domain.html" <<'PY'
import sys
from html.parser import HTMLParser

class Rows(HTMLParser):
    """Table rows as lists of (text, css class) cells, as the browser rendered them."""
    def __init__(self):
        super().__init__(); self.rows = []; self.cell = None; self.cls = []
    def handle_starttag(self, tag, attrs):
        if tag == "tr": self.rows.append([])
        elif tag in ("td", "th"): self.cell = ""; self.cls = []
        elif tag == "span" and self.cell is not None: self.cls.append(dict(attrs).get("class", ""))
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.rows:
            self.rows[-1].append((self.cell.strip(), " ".join(self.cls))); self.cell = None
    def handle_data(self, data):
        if self.cell is not None: self.cell += data

passed = failed = 0
def expect(what, ok):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    passed, failed = passed + ok, failed + (not ok)

index = Rows(); index.feed(open(sys.argv[1]).read())
rows = {r[1][0]: r for r in index.rows[1:] if len(r) >= 6}
expect(f"status page lists 11 domains (got {len(rows)})", len(rows) == 11)
for domain, state, cls, failing in [
    ("zahnfee.de", "ok", "ok", ""),
    ("toothfairy.uk", "warning", "warning", "cert_expiry"),
    ("wurzel-gmbh.de", "ok", "ok", "cert_not_wildcard"),
    ("praxis-nord.de", "failing", "critical", "tcp_connect"),
    ("stille-praxis.de", "failing", "critical", "tls_handshake"),
    ("implantat.at", "failing", "critical", "cert_trusted"),
    ("teams-kanzlei.de", "ok", "ok", ""),
]:
    r = rows.get(domain)
    got = (r[4][0], r[4][1], r[5][0]) if r else None
    expect(f"{domain}: state {state} ({cls}), failing '{failing}' (got {got})", got == (state, cls, failing))

page = Rows(); page.feed(open(sys.argv[2]).read())
checks = {r[0][0]: r for r in page.rows[1:] if len(r) >= 4}
f = checks.get("teams_federation_srv")
expect("dentalbuero.de lists teams_federation_srv as critical", bool(f) and f[1][1] == "critical")
expect("the remediation names the exact record",
       bool(f) and "_sipfederationtls._tcp.dentalbuero.de. 3600 IN SRV 100 1 5061 sipfed.online.lync.com." in f[3][0])
got = checks["srv_present"][1][0] if "srv_present" in checks else None
expect(f"srv_present shows 'critical (nxdomain)' (got {got!r})", got == "critical (nxdomain)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
