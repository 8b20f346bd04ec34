#!/usr/bin/env bash
# End-to-end test of the alert rules and dashboards against a real exporter and a real Prometheus.
#
#   scripts/e2e-prometheus.sh [LAB_BIN [PROD_BIN]]
#     (defaults target/release/sipfed_exporter-lab and target/release/sipfed_exporter)
#
# Builds nothing. Starts `sipfed_exporter demo` (an in-process lab world of healthy and broken
# federation domains on loopback) and checks its /metrics with `promtool check metrics` and
# against every metric name the alert rules and dashboards use. Then starts Prometheus (Debian
# package `prometheus`) on loopback, scraping the demo every 2s with alerts/*.yml loaded, and
# asserts: every rule evaluates with health "ok"; each broken demo domain's expected alert is
# `firing` within about 60s (the rules are rendered from mixin/ with forOverride, ALERT_FOR=6s,
# so the production rules are what is tested); nothing alerts for the healthy domains zahnfee.de
# (own), teams-kanzlei.de (Microsoft 365 peer) and kieferklinik.de (accepts our client
# certificate); every dashboard query executes without error.
# Prometheus sends to a real Alertmanager (Debian package prometheus-alertmanager) running
# deploy/alertmanager/alertmanager.yml with its receivers pointed at a local webhook (all else as
# shipped): the expired partner's page reaches zahnfee's critical receiver with a summary naming
# the domain and a runbook URL, nothing is sent for the healthy partners, and no alert the
# Alertmanager reports inhibited arrives.
# Then a two-vantage world: a second exporter probes the demo's domains from `inside` (the demo's
# DNS) and `outside` (a dnsmasq forwarding to it); every SPEC §6 metric must be in the two
# scrapes. dnsmasq is stopped: SipFedVantageDown{vantage="outside"} must fire, and no partner
# alert may stand at `outside` that `inside` does not raise as well (one broken vantage is one
# page, not one per partner).
# The demo runs on the lab build (first argument), the two-vantage exporter on the production
# build (second argument).
# Needs curl, python3 (PyYAML), promtool, prometheus, prometheus-alertmanager, jsonnet and dnsmasq.
# Counts through scripts/lib/checks.sh; prints "N passed, M failed, K skipped" last; exits
# non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
BIN=${1:-target/release/sipfed_exporter-lab}    # the lab build: runs `demo`
PROD_BIN=${2:-target/release/sipfed_exporter}   # the production build: the two-vantage exporter
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
ALERTMANAGER=${ALERTMANAGER:-prometheus-alertmanager}
JSONNET=${JSONNET:-jsonnet}
ALERT_DEADLINE=${ALERT_DEADLINE:-60}   # seconds to wait for the expected alerts to fire
ALERT_FOR=${ALERT_FOR:-6s}             # the mixin's forOverride: every rule's `for:` in this test
# Alertmanager waits group_wait (30s as shipped) before the first notification of a group.
NOTIFY_DEADLINE=${NOTIFY_DEADLINE:-90}

DNSMASQ=${DNSMASQ:-dnsmasq}
for tool in curl python3 "$PROMTOOL" "$PROMETHEUS" "$DNSMASQ" "$ALERTMANAGER" "$JSONNET"; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install prometheus prometheus-alertmanager jsonnet curl python3 dnsmasq-base)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "exporter binary $BIN not found or not executable (cargo build --release --features lab)" >&2; exit 2; }
[ -x "$PROD_BIN" ] || { echo "production binary $PROD_BIN not found or not executable (cargo build --release)" >&2; exit 2; }

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

# shellcheck source=lib/checks.sh
source scripts/lib/checks.sh

finish() {
  echo
  summary
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

# promtool's lint, but for the one finding a contract name gives: `sipfed_sip_ms_diagnostics_code`
# is the SPEC's name (ms = Microsoft's ms-diagnostics header, not milliseconds), which the lint
# reads as an abbreviated unit. Any other finding, or a parse error, fails.
lint_metrics() {
  local out rest
  out=$("$PROMTOOL" check metrics <"$1" 2>&1) && return 0
  rest=$(grep -v '^sipfed_sip_ms_diagnostics_code metric names should not contain abbreviated units$' <<<"$out" || true)
  if [ -z "$rest" ]; then return 0; fi
  sed 's/^/     /' <<<"$rest"
  return 1
}

if lint_metrics "$tmp/metrics"; then
  pass "promtool check metrics"
else
  fail "promtool check metrics"
fi

# ---------------------------------------------------------------------------------------------
echo "== two vantages"
# The demo prints its DNS address and configuration; a second exporter probes the same world
# from two vantages, `outside` through a dnsmasq that forwards to the demo's DNS.
demo_dns=$(sed -n 's/.*(DNS at \([0-9.]*:[0-9]*\), config \(.*\))$/\1/p' "$tmp/exporter.log" | head -1)
demo_config=$(sed -n 's/.*(DNS at \([0-9.]*:[0-9]*\), config \(.*\))$/\2/p' "$tmp/exporter.log" | head -1)
dnsmasq_port=$(free_port)
"$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --no-poll --cache-size=0 --user=root \
  --listen-address=127.0.0.1 --bind-interfaces --port="$dnsmasq_port" --pid-file="$tmp/dnsmasq.pid" \
  --server="127.0.0.1#${demo_dns##*:}" >"$tmp/dnsmasq.log" 2>&1 &
pids+=($!)
dnsmasq_pid=$!
python3 - "$demo_config" "$demo_dns" "127.0.0.1:$dnsmasq_port" >"$tmp/two.yml" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
one = f'vantages:\n  inside:\n    resolvers: ["{sys.argv[2]}"]\n'
two = one + f'  outside:\n    resolvers: ["{sys.argv[3]}"]\n'
assert one in text, "demo config has one inside vantage"
text = text.replace(one, two).replace("interval: 30s", "interval: 10s").replace("timeout: 5s", "timeout: 4s")
sys.stdout.write(text)
PY
two_port=$(free_port)
two="127.0.0.1:$two_port"
"$PROD_BIN" --config.file="$tmp/two.yml" --web.listen-address="$two" >"$tmp/two.log" 2>&1 &
pids+=($!)
two_pid=$!
if wait_for "http://$two/-/ready" 30 "$two_pid"; then
  pass "two-vantage exporter ready on $two (outside resolver: dnsmasq on 127.0.0.1:$dnsmasq_port)"
else
  fail "two-vantage exporter ready on $two"
  tail -20 "$tmp/two.log" | sed 's/^/     /'
  finish
fi
deadline=$((SECONDS + 30))
until curl -sf "http://$two/metrics" >"$tmp/metrics-two" \
  && grep -q '^sipfed_probe_timestamp_seconds{.*vantage="outside"' "$tmp/metrics-two" \
  && grep -q '^sipfed_vantage_up{vantage="outside"} 1' "$tmp/metrics-two"; do
  if [ "$SECONDS" -ge "$deadline" ]; then break; fi
  sleep 1
done
sleep 3
curl -sf "http://$two/metrics" >"$tmp/metrics-two" || true
for v in inside outside; do
  if grep -q "^sipfed_vantage_up{vantage=\"$v\"} 1" "$tmp/metrics-two"; then
    pass "vantage $v up while its resolver answers"
  else
    fail "vantage $v up while its resolver answers: $(grep '^sipfed_vantage_up' "$tmp/metrics-two" | tr '\n' ' ')"
  fi
done
if lint_metrics "$tmp/metrics-two"; then
  pass "promtool check metrics (two vantages)"
else
  fail "promtool check metrics (two vantages)"
fi

# Every metric of SPEC §6 and every sipfed_* metric the rules and dashboards use must be in the
# two scrapes (the demo's, and the two-vantage exporter's, which adds sipfed_dns_split_horizon).
# MAY_BE_MISSING stays empty: nothing is allowed to come later. `up` and `ALERTS` come from
# Prometheus.
python3 - "$tmp/metrics" "$tmp/metrics-two" >"$tmp/names" <<'PY'
import glob
import json
import re
import sys

import yaml

MAY_BE_MISSING = set()

SPEC = """
sipfed_probe_success sipfed_probe_duration_seconds sipfed_probe_timestamp_seconds
sipfed_check_success sipfed_srv_records sipfed_srv_target_info sipfed_platform_info
sipfed_m365_evidence sipfed_endpoint_up sipfed_tcp_connect_duration_seconds
sipfed_tls_handshake_duration_seconds sipfed_tls_version_info sipfed_tls_client_cert_requested
sipfed_cert_not_before_timestamp_seconds sipfed_cert_not_after_timestamp_seconds
sipfed_cert_chain_not_after_timestamp_seconds sipfed_cert_info sipfed_sip_options_status_code
sipfed_sip_options_duration_seconds sipfed_sip_ms_diagnostics_code sipfed_domain_info sipfed_dns_split_horizon
sipfed_vantage_up sipfed_vantage_info sipfed_exporter_build_info sipfed_domains
sipfed_probes_total sipfed_probes_in_flight sipfed_config_last_reload_successful
sipfed_config_last_reload_success_timestamp_seconds
process_cpu_seconds_total process_open_fds process_resident_memory_bytes process_start_time_seconds
""".split()

exposed = set()
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", line)
        if m and not line.startswith("#"):
            exposed.add(m.group(1))

for name in SPEC:
    print(("ok   " if name in exposed else "FAIL ") + f"SPEC §6 metric {name} exposed")

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
echo "== alertmanager (deploy/alertmanager/alertmanager.yml, receivers pointed at a local webhook)"
# A webhook that records every notification, by receiver (the request path).
hook_port=$(free_port)
python3 -c '
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"receiver": self.path.strip("/"), "body": body}) + "\n")
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
' "$hook_port" "$tmp/notifications.jsonl" >"$tmp/webhook.log" 2>&1 &
pids+=($!)
touch "$tmp/notifications.jsonl"
# The shipped configuration with every receiver replaced by a webhook to its own path; routes,
# group_wait, inhibit rules and time intervals stay as shipped.
python3 - deploy/alertmanager/alertmanager.yml "http://127.0.0.1:$hook_port" >"$tmp/alertmanager.yml" <<'PY'
import sys

import yaml

conf = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
conf["receivers"] = [{"name": r["name"],
                      "webhook_configs": [{"url": f"{sys.argv[2]}/{r['name']}", "send_resolved": True}]}
                     for r in conf["receivers"]]
yaml.safe_dump(conf, sys.stdout, sort_keys=False)
PY
am_port=$(free_port)
am="127.0.0.1:$am_port"
"$ALERTMANAGER" --config.file="$tmp/alertmanager.yml" --storage.path="$tmp/am" \
  --web.listen-address="$am" --cluster.listen-address= --log.level=warn >"$tmp/alertmanager.log" 2>&1 &
pids+=($!)
am_pid=$!
if wait_for "http://$am/-/ready" 30 "$am_pid"; then
  pass "alertmanager ready on $am with the shipped routing"
else
  fail "alertmanager ready on $am"
  tail -20 "$tmp/alertmanager.log" | sed 's/^/     /'
  finish
fi

# ---------------------------------------------------------------------------------------------
echo "== prometheus"
prom_port=$(free_port)
prom="127.0.0.1:$prom_port"
# The production rules, rendered from the mixin with one short `for:` (forOverride), so that
# they fire within seconds; everything else as in alerts/sipfed.rules.yml.
mkdir -p "$tmp/rules"
if "$JSONNET" -J mixin -S -e "(import 'lib/rules-yaml.libsonnet').manifest(((import 'mixin.libsonnet')
    + { _config+:: { forOverride: '$ALERT_FOR' } }).prometheusAlerts)" >"$tmp/rules/sipfed.rules.yml" 2>"$tmp/jsonnet.err"; then
  pass "rules rendered from mixin/ with for: $ALERT_FOR ($(grep -c '^ *- alert:' "$tmp/rules/sipfed.rules.yml") alerts)"
else
  fail "rules rendered from mixin/ with for: $ALERT_FOR: $(cat "$tmp/jsonnet.err")"
  finish
fi
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - $tmp/rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['$am']
scrape_configs:
  - job_name: sipfed
    static_configs:
      - targets: ['$exporter']
  - job_name: sipfed_vantages
    static_configs:
      - targets: ['$two']
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
    ("zahnlabor-west.de: refuses zahnfee's client certificate (unknown issuer)", [
        {"alertname": "SipFedFederationBroken", "tenant": "zahnfee", "domain": "zahnlabor-west.de",
         "direction": "outbound", "severity": "critical"}]),
    ("altbau-dental.de: certificate without clientAuth, cannot connect to us", [
        {"alertname": "SipFedFederationBroken", "tenant": "zahnfee", "domain": "altbau-dental.de",
         "direction": "inbound", "severity": "critical"}]),
    ("dental-ring.de: refuses SIP from zahnfee.de (403, ms-diagnostics 1034)", [
        {"alertname": "SipFedFederationBroken", "tenant": "zahnfee", "domain": "dental-ring.de",
         "direction": "outbound", "severity": "critical"},
        {"alertname": "SipFedCheckFailing", "tenant": "zahnfee", "domain": "dental-ring.de",
         "check": "sip_accepts_us", "severity": "critical"}]),
    ("zahnzentrum-ost.de: a pool address in maintenance (a ticket, not a page)", [
        {"alertname": "SipFedEdgeDegraded", "tenant": "zahnfee", "domain": "zahnzentrum-ost.de",
         "check": "edge_redundancy", "severity": "warning"}]),
    ("mundwerk.de: preferred SRV target down, backup up", [
        {"alertname": "SipFedPeerUnreachable", "tenant": "zahnfee", "domain": "mundwerk.de",
         "vantage": "inside", "severity": "critical"},
        {"alertname": "SipFedFederationBroken", "tenant": "zahnfee", "domain": "mundwerk.de",
         "direction": "outbound", "severity": "critical"}]),
    ("dentalbuero.de: Microsoft 365 tenant without federation SRV", [
        {"alertname": "SipFedTeamsFederationRecordMissing", "tenant": "msp-kunde",
         "domain": "dentalbuero.de", "check": "teams_federation_srv", "severity": "critical"}]),
]
# The healthy own domain, a healthy Microsoft 365 peer, and a partner that accepts our client
# certificate.
HEALTHY_DOMAINS = ["zahnfee.de", "teams-kanzlei.de", "kieferklinik.de"]
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
    alerts = [a for a in api("alerts")["alerts"] if a["state"] == "firing"]
    if not unmet(alerts) or time.monotonic() - start > deadline_s:
        break
    time.sleep(2)
waited = time.monotonic() - start
time.sleep(4)  # two more evaluation rounds before the negative checks
firing = [a for a in api("alerts")["alerts"] if a["state"] == "firing"]
# The negative checks look at pending alerts too: nothing may even start for a healthy domain.
alerts = [a for a in api("alerts")["alerts"] if a["state"] in ("pending", "firing")]

for desc, alts in EXPECTED:
    hits = [a for a in firing for w in alts if matches(a, w)]
    if hits:
        print(f"ok   alert firing for {desc}: " + "; ".join(show(a["labels"]) for a in hits))
    else:
        domain = alts[0]["domain"]
        got = [f"{a['state']} {show(a['labels'])}" for a in alerts if a["labels"].get("domain") == domain]
        print(f"FAIL alert firing for {desc}: expected one of {[show(w) for w in alts]} within "
              f"{deadline_s:.0f}s; alerts for {domain}: {got or 'none'}")
print(f"note: waited {waited:.0f}s for the expected alerts")

for healthy in HEALTHY_DOMAINS:
    bad = [show(a["labels"]) for a in alerts
           if a["labels"].get("domain") == healthy and a["labels"].get("job") == "sipfed"]
    print(("ok   " if not bad else "FAIL ") + f"no alert for the healthy domain {healthy}"
          + ("" if not bad else ": " + "; ".join(bad)))
for name in NEVER:
    bad = [show(a["labels"]) for a in alerts if a["labels"].get("alertname") == name]
    print(("ok   " if not bad else "FAIL ") + f"no {name}" + ("" if not bad else ": " + "; ".join(bad)))

expected_keys = {(w["alertname"], w["domain"]) for _, alts in EXPECTED for w in alts}
extra = [show(a["labels"]) for a in alerts
         if (a["labels"].get("alertname"), a["labels"].get("domain")) not in expected_keys
         and a["labels"].get("job") == "sipfed"]
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

# ---------------------------------------------------------------------------------------------
echo "== notifications through Alertmanager (waits for the shipped group_wait)"
python3 - "$tmp/notifications.jsonl" "$am" "$NOTIFY_DEADLINE" "$exporter" >"$tmp/notify" <<'PY'
import json
import sys
import time
import urllib.request

path, am, deadline_s, exporter = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
EXPIRED = {"alertname": "SipFedCertificateExpired", "tenant": "zahnfee", "domain": "kfo-sued.de"}
RECEIVER = "zahnfee-pager"   # zahnfee's route for severity="critical"
HEALTHY = ["zahnfee.de", "teams-kanzlei.de"]


def notifications():
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def delivered(n):
    """(receiver, alert) for every firing alert in every notification."""
    return [(x["receiver"], a) for x in n for a in x["body"]["alerts"] if a["status"] == "firing"]


def show(labels):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def page(pairs):
    return [a for r, a in pairs if r == RECEIVER and all(a["labels"].get(k) == v for k, v in EXPIRED.items())]


# The demo has no warning beside a critical problem of the same domain, so one is sent to the
# Alertmanager as Prometheus would: a warning for kfo-sued.de at the vantage where its
# certificate is expired (critical). The shipped inhibit rule must hold it back; it is in
# office hours or not, so the Alertmanager's own status tells inhibition from a mute.
WARNING = {"alertname": "SipFedCheckFailing", "check": "sip_options", "severity": "warning",
           "tenant": "zahnfee", "domain": "kfo-sued.de", "vantage": "inside", "job": "sipfed",
           "instance": exporter}
req = urllib.request.Request(f"http://{am}/api/v2/alerts", method="POST",
                             data=json.dumps([{"labels": WARNING, "annotations": {"summary": "injected"}}]).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
injected = time.monotonic()
GROUP_WAIT = 35   # the shipped group_wait (30s) and a margin: a delivered warning is sent by then

start = time.monotonic()
while (not page(delivered(notifications())) or time.monotonic() - injected < GROUP_WAIT) \
        and time.monotonic() - start < deadline_s:
    time.sleep(2)
pairs = delivered(notifications())
print(f"note: {len(notifications())} notifications after {time.monotonic() - start:.0f}s: "
      + ", ".join(sorted({r for r, _ in pairs})))
hits = page(pairs)
print(("ok   " if hits else "FAIL ") + f"the expired partner's page reaches {RECEIVER}: "
      + (show(hits[0]["labels"]) if hits else f"none within {deadline_s:.0f}s; got "
         + "; ".join(f"{r} {show(a['labels'])}" for r, a in pairs)))
if hits:
    ann = hits[0]["annotations"]
    summary = ann.get("summary", "")
    print(("ok   " if "kfo-sued.de" in summary else "FAIL ") + f"its summary names the domain: {summary!r}")
    runbook = ann.get("runbook_url", "")
    ok = runbook.startswith("https://") and runbook.endswith("#sipfedcertificateexpired")
    print(("ok   " if ok else "FAIL ") + f"it carries the runbook URL: {runbook!r}")
noc = [a for r, a in pairs if r == "msp-noc-critical" and a["labels"].get("domain") == "kfo-sued.de"]
print(("ok   " if noc else "FAIL ") + "the NOC's critical receiver gets it too (continue: true)")
for healthy in HEALTHY:
    bad = [f"{r} {show(a['labels'])}" for r, a in pairs if a["labels"].get("domain") == healthy]
    print(("ok   " if not bad else "FAIL ") + f"nothing sent for the healthy partner {healthy}"
          + ("" if not bad else ": " + "; ".join(bad)))

# Inhibited alerts, as the Alertmanager itself reports them: none may have been sent.
with urllib.request.urlopen(f"http://{am}/api/v2/alerts?inhibited=true&silenced=false&active=false",
                            timeout=10) as r:
    held = [a for a in json.load(r) if a["status"]["inhibitedBy"]]
mine = [a for a in held if a["labels"] == WARNING]
print(("ok   " if mine else "FAIL ") + "the warning beside kfo-sued.de's critical alert is inhibited "
      + f"(Alertmanager: {len(held)} inhibited: " + "; ".join(show(a["labels"]) for a in held[:4]) + ")")
sent = {json.dumps(a["labels"], sort_keys=True) for _, a in pairs}
leaked = [show(a["labels"]) for a in held if json.dumps(a["labels"], sort_keys=True) in sent]
print(("ok   " if held and not leaked else "FAIL ") + "no inhibited alert arrives"
      + ("" if not leaked else ": " + "; ".join(leaked)))
PY
tally "$tmp/notify"

# ---------------------------------------------------------------------------------------------
echo "== a vantage's resolver stops"
kill "$dnsmasq_pid" 2>/dev/null || true
wait "$dnsmasq_pid" 2>/dev/null || true
python3 - "$prom" "$ALERT_DEADLINE" >"$tmp/vantage" <<'PY'
import json
import sys
import time
import urllib.parse
import urllib.request

prom, deadline_s = sys.argv[1], float(sys.argv[2])
JOB = "sipfed_vantages"
# The exporter's alerts about itself, not about a partner.
OWN = {"SipFedVantageDown", "SipFedExporterDown", "SipFedExporterAbsent",
       "SipFedConfigReloadFailed", "SipFedProbesStale"}


def api(path, **params):
    url = f"http://{prom}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["data"]


def standing():
    return [a for a in api("alerts")["alerts"]
            if a["state"] in ("pending", "firing") and a["labels"].get("job") == JOB]


def show(labels):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


start = time.monotonic()
down = []
while time.monotonic() - start < deadline_s:
    down = [a for a in standing() if a["labels"].get("alertname") == "SipFedVantageDown"]
    if down:
        break
    time.sleep(2)
print(("ok   " if [a for a in down if a["labels"].get("vantage") == "outside"] else "FAIL ")
      + f"SipFedVantageDown for vantage outside within {deadline_s:.0f}s: "
      + ("; ".join(f"{a['state']} {show(a['labels'])}" for a in down) or "none"))
print(("ok   " if all(a["labels"].get("vantage") == "outside" for a in down) else "FAIL ")
      + "no SipFedVantageDown for vantage inside")

# A round of the outside vantage's probes (interval 10s, timeout 4s) after the health check saw
# it down, and a few evaluations: every outside result is now the blind one.
time.sleep(24)
alerts = standing()


def key(a):
    return tuple(a["labels"].get(k) for k in ("alertname", "tenant", "domain", "check"))


inside = {key(a) for a in alerts if a["labels"].get("vantage") == "inside"}
outside = [a for a in alerts if a["labels"].get("vantage") == "outside"
           and a["labels"].get("alertname") not in OWN]
storm = [a for a in outside if key(a) not in inside]
print(("ok   " if not storm else "FAIL ")
      + "no partner alert at the broken vantage that the other vantage does not raise"
      + ("" if not storm else ": " + "; ".join(show(a["labels"]) for a in storm)))
print(f"note: {len(outside)} partner alerts at outside (each also at inside), {len(inside)} at inside")
up = api("query", query=f'sipfed_vantage_up{{job="{JOB}"}}')["result"]
states = {r["metric"]["vantage"]: r["value"][1] for r in up}
print(("ok   " if states == {"inside": "1", "outside": "0"} else "FAIL ")
      + f"sipfed_vantage_up: inside 1, outside 0 (got {states})")
PY
tally "$tmp/vantage"

finish
