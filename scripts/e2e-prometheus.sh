#!/usr/bin/env bash
# End-to-end test of the alert rules and dashboards against a real exporter and a real Prometheus.
#
#   scripts/e2e-prometheus.sh [path/to/sipfed_exporter]    (default target/release/sipfed_exporter)
#
# Builds nothing. Starts `sipfed_exporter demo` (an in-process lab world of healthy and broken
# federation domains on loopback) and checks its /metrics with `promtool check metrics` and
# against every metric name the alert rules and dashboards use. Then starts Prometheus (Debian
# package `prometheus`) on loopback, scraping the demo every 2s with alerts/*.yml loaded, and
# asserts: every rule evaluates with health "ok"; each broken demo domain raises its expected
# alert (pending or firing) within about 60s; nothing alerts for the healthy domains zahnfee.de
# (own) and teams-kanzlei.de (Microsoft 365 peer); every dashboard query executes without error.
# Needs curl, python3, promtool and prometheus. Prints "N passed, M failed" last; exits non-zero
# on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
BIN=${1:-target/release/sipfed_exporter}
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
ALERT_DEADLINE=${ALERT_DEADLINE:-60}   # seconds to wait for the expected alerts

for tool in curl python3 "$PROMTOOL" "$PROMETHEUS"; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install prometheus curl python3)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "exporter binary $BIN not found or not executable (cargo build --release)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Counts the "ok ..."/"FAIL ..." lines a helper printed; passes anything else through.
tally() {
  local line
  while IFS= read -r line; do
    case $line in
      "ok   "*) pass "${line#ok   }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      *) echo "$line" ;;
    esac
  done <"$1"
}

finish() {
  echo
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for URL SECONDS PID: polls until URL answers 200, or the process died, or time is up.
wait_for() {
  local url=$1 deadline=$((SECONDS + $2)) pid=$3
  until curl -sf -o /dev/null "$url"; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
echo "== exporter"
exporter_port=$(free_port)
exporter="127.0.0.1:$exporter_port"
"$BIN" demo --web.listen-address="$exporter" >"$tmp/exporter.log" 2>&1 &
pids+=($!)
exporter_pid=$!

if wait_for "http://$exporter/-/ready" 30 "$exporter_pid"; then
  pass "exporter demo ready on $exporter"
else
  fail "exporter demo ready on $exporter"
  tail -20 "$tmp/exporter.log" | sed 's/^/     /'
  finish
fi

# The demo's first probe results appear within ~10s.
deadline=$((SECONDS + 30))
until curl -sf "http://$exporter/metrics" >"$tmp/metrics" && grep -q '^sipfed_probe_timestamp_seconds{' "$tmp/metrics"; do
  if [ "$SECONDS" -ge "$deadline" ]; then break; fi
  sleep 1
done
sleep 3 # let the remaining first-round probes finish
curl -sf "http://$exporter/metrics" >"$tmp/metrics" || true
if grep -q '^sipfed_probe_timestamp_seconds{' "$tmp/metrics"; then
  pass "probe results in /metrics ($(grep -c '^sipfed_probe_timestamp_seconds{' "$tmp/metrics") domain/vantage pairs)"
else
  fail "probe results in /metrics within 30s"
fi

if out=$("$PROMTOOL" check metrics <"$tmp/metrics" 2>&1); then
  pass "promtool check metrics"
else
  fail "promtool check metrics"
  sed 's/^/     /' <<<"$out"
fi

# Every sipfed_* metric the rules and dashboards use must be in the scrape, except those in
# MAY_BE_MISSING: metrics the spec defines that the exporter may not implement yet, or that are
# only present under conditions the demo does not create. `up` and `ALERTS` come from Prometheus.
python3 - "$tmp/metrics" >"$tmp/names" <<'PY'
import glob
import json
import re
import sys

import yaml

MAY_BE_MISSING = {
    "sipfed_sip_options_status_code",       # SIP OPTIONS probing may come later
    "sipfed_sip_options_duration_seconds",
    "sipfed_m365_evidence",                 # may come later
    "sipfed_dns_authoritative_agree",       # may come later
    "sipfed_dns_split_horizon",             # only for domains with two or more vantages;
                                            # the demo has one
    "sipfed_vantage_up",                    # SPEC §6, being implemented: remove from this
                                            # set once the exporter exposes it
}

exposed = set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", line)
    if m and not line.startswith("#"):
        exposed.add(m.group(1))

used = {}   # name -> where
for path in sorted(glob.glob("alerts/*.yml")):
    for group in yaml.safe_load(open(path))["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            for n in re.findall(r"\bsipfed_[a-z0-9_]+", rule["expr"]):
                used.setdefault(n, f"{path} {name}")
            for text in rule.get("annotations", {}).values():
                for n in re.findall(r"\b(sipfed_[a-z0-9_]+)\{", text):
                    used.setdefault(n, f"{path} {name} (annotation)")


def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))


for path in sorted(glob.glob("dashboards/*.json")):
    dash = json.load(open(path, encoding="utf-8"))
    exprs = [t.get("expr", "") for p in walk(dash["panels"]) for t in p.get("targets", [])]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        exprs.append(q.get("query", "") if isinstance(q, dict) else (q or ""))
    for e in exprs:
        for n in re.findall(r"\bsipfed_[a-z0-9_]+", e):
            used.setdefault(n, path)

missing_allowed = []
for name in sorted(used):
    if name in exposed:
        print(f"ok   metric {name} exposed")
    elif name in MAY_BE_MISSING:
        missing_allowed.append(name)
    else:
        print(f"FAIL metric {name} exposed: used by {used[name]}, not in the demo's /metrics")
if missing_allowed:
    print("note: not exposed, allowed for now: " + ", ".join(missing_allowed))
PY
tally "$tmp/names"

# ---------------------------------------------------------------------------------------------
echo "== prometheus"
prom_port=$(free_port)
prom="127.0.0.1:$prom_port"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - $repo/alerts/*.yml
scrape_configs:
  - job_name: sipfed
    static_configs:
      - targets: ['$exporter']
EOF
if out=$("$PROMTOOL" check config "$tmp/prometheus.yml" 2>&1); then
  pass "promtool check config (temporary prometheus.yml)"
else
  fail "promtool check config (temporary prometheus.yml)"
  sed 's/^/     /' <<<"$out"
  finish
fi

"$PROMETHEUS" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="$prom" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
prom_pid=$!
if wait_for "http://$prom/-/ready" 30 "$prom_pid"; then
  pass "prometheus ready on $prom"
else
  fail "prometheus ready on $prom"
  tail -20 "$tmp/prometheus.log" | sed 's/^/     /'
  finish
fi

# Alerts, rules and dashboard queries, asserted through the HTTP API.
python3 - "$prom" "$ALERT_DEADLINE" >"$tmp/api" <<'PY'
import glob
import json
import re
import sys
import time
import urllib.parse
import urllib.request

prom, deadline_s = sys.argv[1], float(sys.argv[2])


def api(path, **params):
    url = f"http://{prom}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def show(labels):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


# (description, alternatives); an alternative is a label subset an alert must carry. Where the
# exporter may reasonably report a fault either way, both are listed.
EXPECTED = [
    ("toothfairy.uk: certificate with 10 of 90 days left", [
        {"alertname": "SipFedCertificateExpiringSoon", "tenant": "zahnfee", "domain": "toothfairy.uk",
         "severity": "warning"}]),
    ("wurzel-gmbh.de: wildcard certificate", [
        {"alertname": "SipFedCheckFailing", "tenant": "zahnfee", "domain": "wurzel-gmbh.de",
         "check": "cert_not_wildcard", "severity": "info"}]),
    ("praxis-nord.de: edge refuses TCP", [
        {"alertname": "SipFedPeerUnreachable", "tenant": "zahnfee", "domain": "praxis-nord.de",
         "vantage": "inside", "severity": "critical"}]),
    ("kfo-sued.de: expired certificate", [
        {"alertname": "SipFedCertificateExpired", "tenant": "zahnfee", "domain": "kfo-sued.de",
         "severity": "critical"}]),
    # sipfed_endpoint_up is 1 only when TCP and TLS both complete.
    ("stille-praxis.de: TCP accepted, TLS never answers", [
        {"alertname": "SipFedPeerUnreachable", "tenant": "zahnfee", "domain": "stille-praxis.de",
         "vantage": "inside", "severity": "critical"}]),
    ("labor-ost.de: no SRV record", [
        {"alertname": "SipFedCheckFailing", "tenant": "msp-kunde", "domain": "labor-ost.de",
         "check": "srv_present", "severity": "critical"}]),
    ("implantat.at: self-signed certificate", [
        {"alertname": "SipFedCheckFailing", "tenant": "msp-kunde", "domain": "implantat.at",
         "check": "cert_trusted", "severity": "critical"}]),
    ("kanzlei-umzug.de: Teams tenant with a self-hosted SRV target", [
        {"alertname": "SipFedTeamsFederationRecordMissing", "tenant": "msp-kunde",
         "domain": "kanzlei-umzug.de", "check": "teams_federation_srv", "severity": "critical"},
        {"alertname": "SipFedCheckFailing", "tenant": "msp-kunde",
         "domain": "kanzlei-umzug.de", "check": "teams_federation_srv", "severity": "critical"}]),
    ("dentalbuero.de: Microsoft 365 tenant without federation SRV", [
        {"alertname": "SipFedTeamsFederationRecordMissing", "tenant": "msp-kunde",
         "domain": "dentalbuero.de", "check": "teams_federation_srv", "severity": "critical"}]),
]
# The healthy own domain, and a healthy Microsoft 365 peer.
HEALTHY_DOMAINS = ["zahnfee.de", "teams-kanzlei.de"]
# The demo has no broken vantage: SipFedVantageDown must stay quiet.
NEVER = ["SipFedExporterDown", "SipFedExporterAbsent", "SipFedConfigReloadFailed", "SipFedProbesStale",
         "SipFedVantageDown"]


def matches(alert, want):
    return all(alert["labels"].get(k) == v for k, v in want.items())


def unmet(alerts):
    return [d for d, alts in EXPECTED if not any(matches(a, w) for a in alerts for w in alts)]


start = time.monotonic()
alerts = []
while True:
    alerts = [a for a in api("alerts")["alerts"] if a["state"] in ("pending", "firing")]
    if not unmet(alerts) or time.monotonic() - start > deadline_s:
        break
    time.sleep(2)
waited = time.monotonic() - start
time.sleep(4)  # two more evaluation rounds before the negative checks
alerts = [a for a in api("alerts")["alerts"] if a["state"] in ("pending", "firing")]

for desc, alts in EXPECTED:
    hits = [a for a in alerts for w in alts if matches(a, w)]
    if hits:
        print(f"ok   alert for {desc}: " + "; ".join(f"{a['state']} {show(a['labels'])}" for a in hits))
    else:
        domain = alts[0]["domain"]
        got = [show(a["labels"]) for a in alerts if a["labels"].get("domain") == domain]
        print(f"FAIL alert for {desc}: expected one of {[show(w) for w in alts]} within "
              f"{deadline_s:.0f}s; alerts for {domain}: {got or 'none'}")
print(f"note: waited {waited:.0f}s for the expected alerts")

for healthy in HEALTHY_DOMAINS:
    bad = [show(a["labels"]) for a in alerts if a["labels"].get("domain") == healthy]
    print(("ok   " if not bad else "FAIL ") + f"no alert for the healthy domain {healthy}"
          + ("" if not bad else ": " + "; ".join(bad)))
for name in NEVER:
    bad = [show(a["labels"]) for a in alerts if a["labels"].get("alertname") == name]
    print(("ok   " if not bad else "FAIL ") + f"no {name}" + ("" if not bad else ": " + "; ".join(bad)))

expected_keys = {(w["alertname"], w["domain"]) for _, alts in EXPECTED for w in alts}
extra = [show(a["labels"]) for a in alerts
         if (a["labels"].get("alertname"), a["labels"].get("domain")) not in expected_keys]
if extra:
    print("note: other alerts pending or firing (not asserted):")
    for e in sorted(extra):
        print("        " + e)

up = api("query", query='up{job="sipfed"}')["result"]
ok = len(up) == 1 and up[0]["value"][1] == "1"
print(("ok   " if ok else "FAIL ") + 'prometheus scrapes the exporter (up{job="sipfed"} == 1)'
      + ("" if ok else f": {up}"))

for group in api("rules")["groups"]:
    for rule in group["rules"]:
        ok = rule.get("health") == "ok"
        print(("ok   " if ok else "FAIL ") + f"rule {group['name']}/{rule['name']} health ok"
              + ("" if ok else f": health={rule.get('health')} {rule.get('lastError', '')}"))

# Every dashboard query, with the variables set to a broken demo domain, must execute (a parse
# check cannot see runtime errors such as duplicate series on the "one" side of a group_left).
VALUES = {"job": "sipfed", "instance": ".+", "tenant": "zahnfee", "domain": "toothfairy.uk", "vantage": "inside",
          "__rate_interval": "10s", "__interval": "2s", "__range": "5m"}
VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))


empty = []
for path in sorted(glob.glob("dashboards/*.json")):
    dash = json.load(open(path, encoding="utf-8"))
    for p in walk(dash["panels"]):
        for t in p.get("targets", []):
            if not t.get("expr"):
                continue
            expr = VAR.sub(lambda m: VALUES[m.group(1) or m.group(2)], t["expr"])
            where = f"{path}: {p.get('title')!r} {t['refId']}"
            try:
                data = api("query", query=expr)
            except Exception as e:  # noqa: BLE001 - any failure is the test result
                print(f"FAIL dashboard query {where} executes: {e}")
                continue
            print(f"ok   dashboard query {where} executes")
            if not data["result"]:
                empty.append(where)
if empty:
    print("note: dashboard queries with no data for tenant zahnfee, domain toothfairy.uk:")
    for e in empty:
        print("        " + e)
PY
tally "$tmp/api"

finish
