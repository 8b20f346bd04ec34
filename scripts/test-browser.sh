#!/usr/bin/env bash
# The pages in a real browser: headless Chromium renders the status page and domain pages of
# the demo world plus a fleet of 2,000 healthy domains on shared edges. Asserts on the rendered
# DOM (summary, filters, search, a healthy partner's facts, a failing partner's checklist and
# remediation), takes screenshots, and times the 2,000-domain status page (< 1 s).
# Usage: scripts/test-browser.sh [BIN]   (screenshots go to $SCREENSHOT_DIR, else a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/checks.sh
source scripts/lib/checks.sh
BIN=$(realpath "${1:-target/release/sipfed_exporter}")
FLEET=${FLEET:-2000}
command -v chromium >/dev/null || { echo "chromium not found (apt-get install chromium)" >&2; exit 2; }
dir=$(mktemp -d)
shots=${SCREENSHOT_DIR:-$dir/shots}
mkdir -p "$shots"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$BIN" demo --fleet="$FLEET" --web.listen-address="127.0.0.1:$port" >"$dir/demo.log" 2>&1 &
pid=$!
start=$(date +%s)
ready=""
for _ in $(seq 900); do
  curl -sf -o /dev/null "$base/-/ready" && { ready=1; break; }
  sleep 0.2
done
[ -n "$ready" ] || { echo "exporter not ready after 180 s" >&2; tail "$dir/demo.log" >&2; exit 1; }
echo "first round over $((FLEET + 17)) domains done in $(( $(date +%s) - start )) s"

# Answer times of the full status page (first page and every row) and the API list.
times() { # path -> best of 3 in seconds
  for _ in 1 2 3; do curl -s -o /dev/null -w '%{time_total}\n' "$base$1"; done | sort -n | head -1
}
t_page=$(times /)
t_all=$(times '/?page=all')
t_api=$(times /api/v1/domains)

browse() { # what url
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/profile" --window-size=1280,1000 "$1" "$2" 2>/dev/null
}
dom() { browse --dump-dom "$base$1" >"$dir/$2.html"; }
dom / index
dom '/?state=failing' failing
dom '/?state=warning' warning
dom '/?tenant=msp-kunde' msp
dom '/?q=praxis' search
dom '/?tenant=fleet-3&state=ok&page=all' fleet3
dom /domain/fleet-7/customer7.example healthy
dom /domain/msp-kunde/dentalbuero.de dentalbuero
dom /domain/zahnfee/kfo-sued.de expired
browse --screenshot="$shots/status.png" "$base/"
browse --screenshot="$shots/domain.png" "$base/domain/fleet-7/customer7.example"
browse --screenshot="$shots/failing.png" "$base/domain/msp-kunde/dentalbuero.de"
curl -sf "$base/api/v1/domains/fleet-7/customer7.example" >"$dir/healthy.json"
curl -sf "$base/api/v1/domains" >"$dir/list.json"

py_status=0
python3 - "$dir" "$shots" "$FLEET" "$t_page" "$t_all" "$t_api" >"$dir/results" <<'PY' || py_status=$?
import json, os, sys, time
from html.parser import HTMLParser

d, shots, fleet = sys.argv[1], sys.argv[2], int(sys.argv[3])
t_page, t_all, t_api = map(float, sys.argv[4:7])

class Page(HTMLParser):
    """The rendered DOM: domain rows (data-domain, data-state), fact lines (data-fact), check
    rows (data-check) with their cells' text, and the text of elements by id."""
    def __init__(self):
        super().__init__()
        self.rows, self.facts, self.checks, self.ids = [], [], {}, {}
        self.stack = []  # (tag, sink) where sink collects text
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        sink = None
        if tag == "tr" and "data-domain" in a:
            self.rows.append((a["data-domain"], a.get("data-state")))
        if tag == "tr" and "data-check" in a:
            sink = self.checks.setdefault(a["data-check"], {"cells": [], "classes": []})
            self.cur_check = sink
        if tag == "td" and getattr(self, "cur_check", None) is not None:
            self.cur_check["cells"].append("")
        if tag == "span" and getattr(self, "cur_check", None) is not None:
            self.cur_check["classes"].append(a.get("class", ""))
        if tag == "li" and "data-fact" in a:
            self.facts.append([a["data-fact"], ""])
            self.cur_fact = self.facts[-1]
        if "id" in a:
            self.ids[a["id"]] = ""
            self.cur_id, self.cur_id_tag = a["id"], tag
    def handle_endtag(self, tag):
        if tag == "tr": self.cur_check = None
        if tag == "li": self.cur_fact = None
        if tag == getattr(self, "cur_id_tag", None): self.cur_id = self.cur_id_tag = None
    def handle_data(self, data):
        if getattr(self, "cur_check", None) is not None and self.cur_check["cells"]:
            self.cur_check["cells"][-1] += data
        if getattr(self, "cur_fact", None) is not None:
            self.cur_fact[1] += data
        if getattr(self, "cur_id", None) is not None:
            self.ids[self.cur_id] += data

def page(name):
    p = Page(); p.feed(open(os.path.join(d, name + ".html")).read()); return p

def expect(what, ok):
    print(("ok   " if ok else "FAIL ") + what)

total = fleet + 17
# Speed is measured by scripts/bench-scrape.sh, not asserted here: a note only.
for name, t in [("/", t_page), ("/?page=all", t_all), ("/api/v1/domains", t_api)]:
    print(f"note: {name} over {total} domains answered in {t*1000:.0f} ms")

# The demo's problem domains, by state; every fleet domain is healthy.
FAILING = {"praxis-nord.de", "kfo-sued.de", "stille-praxis.de", "kanzlei-umzug.de", "labor-ost.de",
           "implantat.at", "dentalbuero.de", "zahnlabor-west.de", "altbau-dental.de",
           "dental-ring.de", "mundwerk.de"}
WARNING = {"toothfairy.uk", "zahnzentrum-ost.de"}
index = page("index")
summary = " ".join(index.ids.get("summary", "").split())
want = f"{total} domains: {len(FAILING)} failing · {len(WARNING)} warning · 0 unknown · 0 pending · {total - len(FAILING) - len(WARNING)} ok"
expect(f"summary line '{summary}'", summary == want)
expect("per-tenant summary table is shown", "tenants" in index.ids)
first = [r for r, _ in index.rows[: len(FAILING) + len(WARNING)]]
expect(f"failing then warning domains come first (got {first})",
       set(first[: len(FAILING)]) == FAILING and set(first[len(FAILING):]) == WARNING)
expect(f"the first page is bounded (500 rows, got {len(index.rows)})", len(index.rows) == 500)
expect("a link to every row", f"all {total}" in index.ids.get("pages", ""))

def listed(name): return {r for r, _ in page(name).rows}
expect("?state=failing lists exactly the failing domains", listed("failing") == FAILING)
expect("?state=warning lists exactly the warning domains", listed("warning") == WARNING)
expect("?tenant=msp-kunde lists exactly its four domains",
       listed("msp") == {"kanzlei-umzug.de", "labor-ost.de", "implantat.at", "dentalbuero.de"})
expect("?q=praxis finds exactly the two praxis domains", listed("search") == {"praxis-nord.de", "stille-praxis.de"})
want3 = {f"customer{i}.example" for i in range(3, fleet, 10)}
expect(f"?tenant=fleet-3&state=ok lists exactly its {len(want3)} domains", listed("fleet3") == want3)

# A healthy partner's facts, as the API's report has them.
report = json.load(open(os.path.join(d, "healthy.json")))
ep = report["vantages"][0]["facts"]["targets"][0]["endpoints"][0]
leaf = ep["chain"][0]["parsed"]
healthy = page("healthy")
facts = {}
for k, v in healthy.facts:
    facts.setdefault(k, []).append(" ".join(v.split()))
def fact(key, needle):
    got = facts.get(key, [])
    shown = [g if len(g) < 120 else g[:117] + "..." for g in got]
    expect(f"domain page fact {key} shows {needle!r} (got {shown})", any(needle in g for g in got))
fact("srv_record", "0 0 5061 sip.customer7.example")
fact("target", "sip.customer7.example:5061")
fact("addresses", ep["address"].rsplit(":", 1)[0])
fact("address", ep["address"])
fact("issuer", leaf["issuer_cn"])
fact("not_after", time.strftime("%Y-%m-%d", time.gmtime(leaf["not_after"])))
fact("tls", ep["tls"]["ok"]["version"])
fact("tls", ep["tls"]["ok"]["cipher"])
fact("sip", "SIP/2.0 200")
fact("sans", "sip.customer7.example")
fact("sha256", ep["chain"][0]["sha256"])
expect("healthy partner is ok", healthy.ids.get("state") == "ok")

# A failing partner: its failing check first, with the exact remediation and a runbook link.
bad = page("dentalbuero")
f = bad.checks.get("teams_federation_srv")
expect("dentalbuero.de lists teams_federation_srv as critical", bool(f) and "critical" in f["classes"])
expect("the remediation names the exact record",
       bool(f) and any("_sipfederationtls._tcp.dentalbuero.de. 3600 IN SRV 100 1 5061 sipfed.online.lync.com." in c for c in f["cells"]))
html = open(os.path.join(d, "dentalbuero.html")).read()
expect("failing checks link their runbook section", "/runbooks#sipfedteamsfederationrecordmissing" in html)

lst = json.load(open(os.path.join(d, "list.json")))
states = {x["domain"]: x["state"] for x in lst["domains"]}
expect(f"the API lists every domain ({len(states)})", len(states) == total)
expect("the API's failing domains are the page's", {k for k, v in states.items() if v == "failing"} == FAILING)

for s in ("status.png", "domain.png", "failing.png"):
    p = os.path.join(shots, s)
    ok = os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(p) > 10000
    expect(f"screenshot {s} taken ({os.path.getsize(p) if os.path.exists(p) else 0} bytes)", ok)
PY
# Why, who and what (issue 32): scripts/lib/why_who.py.
python3 scripts/lib/why_who.py "$dir" >>"$dir/results" || py_status=$?
tally "$dir/results"
((py_status == 0)) || fail "page checks ended early (python exit status $py_status)"
summary
