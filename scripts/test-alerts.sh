#!/usr/bin/env bash
# Tests the bundled monitoring artefacts without an exporter or a Prometheus server:
#   - alerts/*.yml pass `promtool check rules`;
#   - alerts/tests/*.yml pass `promtool test rules`;
#   - every alert has severity, summary, description and a runbook_url whose anchor exists in
#     docs/runbooks.md, and has unit tests where it fires and where it does not;
#   - alerts/sipfed.rules.yml and dashboards/*.json are what scripts/gen-mixin.sh renders from
#     mixin/ (byte for byte; skipped when jsonnet is not installed: Debian package jsonnet);
#   - every PromQL expression in dashboards/*.json parses (Grafana variables replaced by
#     concrete values), and every dashboard follows Grafana's dashboard-linter rules: the
#     ${datasource} variable on every panel, query and query variable, multi-value `job` and
#     `instance` variables, `job=~"$job", instance=~"$instance"` in every selector,
#     $__rate_interval in every rate()/increase(), units set;
#   - deploy/alertmanager/alertmanager.yml passes `amtool check-config`, routes as documented
#     and, in a real Alertmanager on loopback, SipFedVantageDown inhibits the partner alerts of
#     its vantage and no others (skipped when amtool/prometheus-alertmanager are not installed:
#     Debian package prometheus-alertmanager).
# Needs promtool (Debian package prometheus) and python3 with PyYAML.
# Counts through scripts/lib/checks.sh (a skip must be allowed in scripts/skips-allowed.txt).
# Prints "N passed, M failed, K skipped" last; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
PROMTOOL=${PROMTOOL:-promtool}
AMTOOL=${AMTOOL:-amtool}

if ! command -v "$PROMTOOL" >/dev/null; then
  echo "promtool not found (apt-get install prometheus, or set PROMTOOL=)" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=lib/checks.sh
. scripts/lib/checks.sh

# reject DESCRIPTION COMMAND...: a negative control that passes when the command fails.
reject() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then
    fail "$desc (accepted)"
    sed 's/^/     /' <<<"$out"
  else
    pass "$desc"
  fi
}

echo "== mixin (scripts/gen-mixin.sh renders the committed files)"
JSONNET=${JSONNET:-jsonnet}
# mixin_fresh DIR: the files under DIR/alerts and DIR/dashboards are exactly what the mixin
# renders (no file missing, none extra, every byte equal).
mixin_fresh() {
  local gen="$tmp/mixin-gen"
  rm -rf "$gen"
  JSONNET=$JSONNET scripts/gen-mixin.sh "$gen" || return 1
  local ok=1 f
  for f in alerts/sipfed.rules.yml dashboards/*.json; do
    [ -f "$gen/$f" ] || { echo "$f is not rendered by the mixin"; ok=0; }
  done
  for f in "$gen"/alerts/* "$gen"/dashboards/*; do
    f=${f#"$gen"/}
    if ! cmp -s "$1/$f" "$gen/$f"; then
      diff -u "$1/$f" "$gen/$f" | head -40 || true
      ok=0
    fi
  done
  ((ok)) || { echo "alerts/ or dashboards/ stale: run scripts/gen-mixin.sh"; return 1; }
}
if command -v "$JSONNET" >/dev/null; then
  run "alerts/ and dashboards/ are what scripts/gen-mixin.sh renders from mixin/" mixin_fresh .
  mkdir -p "$tmp/stale/alerts" "$tmp/stale/dashboards"
  cp alerts/sipfed.rules.yml "$tmp/stale/alerts/"
  cp dashboards/*.json "$tmp/stale/dashboards/"
  sed -i '0,/for: 10m/s//for: 11m/' "$tmp/stale/alerts/sipfed.rules.yml"
  reject "negative control: a hand-edited rule file is reported stale" mixin_fresh "$tmp/stale"
else
  skip jsonnet "alerts/ and dashboards/ rendered from mixin/ (jsonnet not installed: apt-get install jsonnet)"
fi

echo "== alert rules"
for f in alerts/*.yml; do
  run "promtool check rules $f" "$PROMTOOL" check rules "$f"
done
for f in alerts/tests/*.yml; do
  run "promtool test rules $f" "$PROMTOOL" test rules "$f"
done

# The Python half writes one rule file per dashboard expression into $tmp/exprs and prints one
# line per structural check: "ok <what>" or "FAIL <what>: <why>".
python3 - "$tmp/exprs" >"$tmp/lint" <<'PY'
import glob
import json
import os
import re
import sys

import yaml

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)


def result(ok, what, why=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + why))


# --- alert rules: annotations, labels, runbook anchors, tests --------------------------------

def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


runbook = open("docs/runbooks.md", encoding="utf-8").read()
anchors = {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", runbook, re.M)}
broken = sorted({a for a in re.findall(r"\]\(#([^)]+)\)", runbook) if a not in anchors})
result(not broken, "docs/runbooks.md: internal links resolve", "no heading for " + ", ".join(broken))

alerts = {}
for path in sorted(glob.glob("alerts/*.yml")):
    for group in yaml.safe_load(open(path))["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                alerts[rule["alert"]] = rule

for name, rule in alerts.items():
    problems = []
    if not re.fullmatch(r"SipFed[A-Z][A-Za-z0-9]*", name):
        problems.append("name is not CamelCase with prefix SipFed")
    severity = rule.get("labels", {}).get("severity")
    if severity is None and name != "SipFedCheckFailing":  # that one takes the series' severity
        problems.append("no severity label")
    elif severity is not None and severity not in ("critical", "warning", "info"):
        problems.append(f"severity {severity!r}")
    ann = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        if not ann.get(key):
            problems.append(f"no {key}")
    url = ann.get("runbook_url", "")
    m = re.fullmatch(r"https://github\.com/sipfed/sipfed_exporter/blob/main/docs/runbooks\.md#(.+)", url)
    if not m:
        problems.append(f"runbook_url {url!r} does not point into docs/runbooks.md")
    elif m.group(1) not in anchors:
        problems.append(f"docs/runbooks.md has no heading for #{m.group(1)}")
    result(not problems, f"alert {name}: labels, annotations, runbook", "; ".join(problems))

firing, quiet = set(), set()
for path in sorted(glob.glob("alerts/tests/*.yml")):
    for test in yaml.safe_load(open(path))["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
for name in alerts:
    missing = [kind for kind, seen in (("firing", firing), ("not firing", quiet)) if name not in seen]
    result(not missing, f"alert {name}: unit tests for firing and not firing",
           "no test case where it is " + " or ".join(missing))
for name in sorted((firing | quiet) - set(alerts)):
    result(False, f"tests name alert {name}", "no such alert in alerts/*.yml")

# --- dashboards ------------------------------------------------------------------------------

VALUES = {
    "job": "sipfed", "instance": "exporter:9861", "tenant": "zahnfee", "domain": "zahnfee.de", "vantage": "inside",
    "__rate_interval": "1m", "__interval": "30s", "__interval_ms": "30000",
    "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}
VAR = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)\]\]")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_VARS = ("datasource", "job", "instance", "tenant", "domain", "vantage")
# Grafana dashboard-linter's target-job-rule and target-instance-rule: every selector filters on
# both variables. Functions and keywords are not selectors.
JOB_INSTANCE = ('job=~"$job"', 'instance=~"$instance"')
NOT_SELECTORS = {
    "sum", "min", "max", "avg", "count", "count_values", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and",
    "or", "unless", "bool", "offset", "time", "vector", "scalar", "rate", "irate", "increase",
    "delta", "idelta", "clamp_max", "clamp_min", "clamp", "abs", "absent", "label_replace",
    "label_join", "histogram_quantile", "sort", "sort_desc", "round", "ceil", "floor",
    "timestamp", "changes", "resets", "deriv", "predict_linear", "min_over_time",
    "max_over_time", "avg_over_time", "last_over_time", "sum_over_time", "count_over_time",
}


def selector_problems(expr):
    """Selectors without the job/instance matchers, and rate()/increase() windows other than
    $__rate_interval (dashboard-linter's target-rate-interval-rule)."""
    problems = []
    # Strings (label values, e.g. "$job") and label lists in by/on/without (...) are no selectors.
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\{[^}]*\}", "{}", bare)   # matchers
    bare = re.sub(r"\[[^\]]*\]", "", bare)    # range windows
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|\(|\[|)", bare):
        name, after = m.group(1), m.group(2)
        if name in NOT_SELECTORS or after == "(" or re.fullmatch(r"\d.*|e|inf|nan", name, re.I):
            continue
        if after != "{":
            problems.append(f"selector {name} without label matchers")
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr):
        missing = [x for x in JOB_INSTANCE if x not in m.group(2)]
        if missing:
            problems.append(f"selector {m.group(1)}{{{m.group(2)}}} lacks " + ", ".join(missing))
    for m in re.finditer(r"\b(rate|irate|increase)\s*\((.*?)\[([^\]]*)\]", expr, re.S):
        if m.group(3) != "$__rate_interval":
            problems.append(f"{m.group(1)}() over [{m.group(3)}], not [$__rate_interval]")
    return problems


# Negative controls: the selector check must be able to fail.
for bad, why in (
    ('sum(sipfed_domains{job=~"$job"})', "lacks instance"),
    ('sum(sipfed_domains)', "without label matchers"),
    ('sum by (vantage) (rate(sipfed_probes_total{job=~"$job", instance=~"$instance"}[5m]))', "rate_interval"),
):
    got = selector_problems(bad)
    result(any(why.split()[-1] in g for g in got), f"negative control: dashboard query {bad!r} is rejected",
           f"expected a problem about {why}, got {got}")
result(not selector_problems('count(ALERTS{job=~"$job", instance=~"$instance", alertstate="firing"}) or vector(0)'),
       "control: a query with job and instance matchers is accepted",
       "; ".join(selector_problems('count(ALERTS{job=~"$job", instance=~"$instance", alertstate="firing"}) or vector(0)')))


def substitute(expr):
    unknown = []

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in VALUES:
            unknown.append(name)
            return m.group(0)
        return VALUES[name]

    return VAR.sub(repl, expr), unknown


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def uids(node):
    """Every datasource uid anywhere in the dashboard."""
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and "uid" in ds:
            yield ds["uid"]
        elif isinstance(ds, str):
            yield ds
        for v in node.values():
            yield from uids(v)
    elif isinstance(node, list):
        for v in node:
            yield from uids(v)


n = 0
for path in sorted(glob.glob("dashboards/*.json")):
    dash = json.load(open(path, encoding="utf-8"))
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    problems = [f"no variable {v}" for v in REQUIRED_VARS if v not in variables]
    ds_var = variables.get("datasource", {})
    if ds_var and (ds_var.get("type") != "datasource" or ds_var.get("query") != "prometheus"):
        problems.append("variable datasource is not a Prometheus data source variable")
    for name in ("job", "instance"):
        v = variables.get(name, {})
        if v and not (v.get("multi") and v.get("includeAll")):
            problems.append(f"variable {name} is not multi-value with All")
    for v in variables.values():
        if v.get("type") == "query" and v.get("datasource") != DATASOURCE:
            problems.append(f"variable {v['name']} does not query ${{datasource}}")
    result(not problems, f"{path}: template variables", "; ".join(problems))

    hard = sorted({u for u in uids(dash) if u != "${datasource}"})
    result(not hard, f"{path}: no hard-coded datasource", "found " + ", ".join(map(str, hard)))

    ids = [p.get("id") for p in walk_panels(dash["panels"])]
    result(len(ids) == len(set(ids)), f"{path}: panel ids unique", f"ids {ids}")

    exprs = []
    for v in variables.values():
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q
        if v.get("type") != "query" or not q:
            continue
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S) or \
            re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S)
        if m:
            exprs.append((f"variable {v['name']}", m.group(1)))
            # job lists the jobs to choose from; instance those of the chosen jobs.
            if v["name"] not in ("job", "instance"):
                sel = selector_problems(m.group(1))
                result(not sel, f"{path}: variable {v['name']}: job and instance matchers", "; ".join(sel))
    for p in walk_panels(dash["panels"]):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("type") == "row":
            continue
        problems = []
        if p.get("datasource") != DATASOURCE:
            problems.append(f"panel datasource is {p.get('datasource')}")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append("no fieldConfig.defaults.unit")
        for t in p.get("targets", []):
            if t.get("datasource") != DATASOURCE:
                problems.append(f"target {t.get('refId')} datasource is {t.get('datasource')}")
            if t.get("expr"):
                exprs.append((f"{where} {t.get('refId')}", t["expr"]))
                problems += [f"target {t.get('refId')}: {p}" for p in selector_problems(t["expr"])]
        if not p.get("targets"):
            problems.append("no queries")
        result(not problems, f"{path}: {where}: datasource, unit, job/instance matchers, rate interval",
               "; ".join(problems))

    for where, expr in exprs:
        concrete, unknown = substitute(expr)
        if unknown:
            result(False, f"{path}: {where}: expression", "unknown variables " + ", ".join(unknown))
            continue
        n += 1
        rule = {"groups": [{"name": "dashboard", "rules": [{"record": "dashboard:expr", "expr": concrete}]}]}
        with open(os.path.join(out_dir, f"{n:03d}.yml"), "w") as f:
            f.write(f"# {path}: {where}\n")
            yaml.safe_dump(rule, f, sort_keys=False)
PY

echo "== structure (runbooks, alert metadata, dashboards)"
while IFS= read -r line; do
  case $line in
    "ok   "*) pass "${line#ok   }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    *) echo "$line" ;;
  esac
done <"$tmp/lint"

echo "== dashboard expressions"
shopt -s nullglob
exprs=("$tmp"/exprs/*.yml)
if [ ${#exprs[@]} -eq 0 ]; then
  fail "no PromQL expressions found in dashboards/*.json"
fi
for f in "${exprs[@]}"; do
  run "$(head -1 "$f" | sed 's/^# //') parses" "$PROMTOOL" check rules "$f"
done

echo "== alertmanager"
am=deploy/alertmanager/alertmanager.yml
if command -v "$AMTOOL" >/dev/null; then
  run "amtool check-config $am" "$AMTOOL" check-config "$am"
  # route_test EXPECTED_RECEIVERS LABEL=VALUE...
  route_test() {
    local expected=$1
    shift
    run "route {$*} -> $expected" \
      "$AMTOOL" config routes test --config.file="$am" --verify.receivers="$expected" "$@"
  }
  route_test msp-noc-critical,zahnfee-pager tenant=zahnfee severity=critical domain=praxis-nord.de alertname=SipFedPeerUnreachable
  route_test zahnfee-mail tenant=zahnfee severity=warning domain=toothfairy.uk alertname=SipFedCertificateExpiringSoon
  route_test zahnfee-mail tenant=zahnfee severity=info domain=wurzel-gmbh.de alertname=SipFedCheckFailing
  route_test msp-noc-critical,msp-kunde-tickets tenant=msp-kunde severity=critical domain=labor-ost.de alertname=SipFedCheckFailing
  route_test msp-kunde-tickets tenant=msp-kunde severity=warning domain=implantat.at alertname=SipFedCheckFailing
  route_test msp-noc severity=critical alertname=SipFedExporterDown job=sipfed instance=exporter:9861
  route_test msp-noc severity=critical alertname=SipFedVantageDown job=sipfed instance=exporter:9861 vantage=outside
  route_test msp-noc tenant=unknown-customer severity=warning domain=example.org alertname=SipFedCheckFailing
else
  skip amtool "amtool check-config $am (amtool not installed: apt-get install prometheus-alertmanager)"
fi

# The inhibit rules, in a real Alertmanager on loopback: SipFedVantageDown holds back the partner
# alerts of the same job, instance and vantage, and nothing else.
ALERTMANAGER=${ALERTMANAGER:-$(command -v prometheus-alertmanager || command -v alertmanager || true)}
inhibit_test() {  # inhibit_test CONFIG with|without -> one "ok/FAIL" line per expectation
  rm -rf "$tmp/am-data"
  python3 - "$ALERTMANAGER" "$1" "$tmp/am-data" "$2" <<'PY'
import json
import socket
import subprocess
import sys
import time
import urllib.request

binary, config, data, mode = sys.argv[1:5]
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
url = f"http://127.0.0.1:{port}/api/v2"
proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={data}",
                         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.monotonic() + 30  # generous: the machine may be busy
    while True:
        try:
            urllib.request.urlopen(f"{url}/status", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    base = {"job": "sipfed", "instance": "exporter-0:9861"}
    alerts = {
        "vantage down": {**base, "alertname": "SipFedVantageDown", "vantage": "outside", "severity": "critical"},
        "partner at that vantage": {**base, "alertname": "SipFedPeerUnreachable", "vantage": "outside",
                                    "severity": "critical", "tenant": "zahnfee", "domain": "praxis-nord.de"},
        "partner check at that vantage": {**base, "alertname": "SipFedCheckFailing", "vantage": "outside",
                                          "severity": "warning", "tenant": "zahnfee", "domain": "toothfairy.uk",
                                          "check": "cert_client_auth"},
        "partner at another vantage": {**base, "alertname": "SipFedPeerUnreachable", "vantage": "inside",
                                       "severity": "critical", "tenant": "zahnfee", "domain": "praxis-nord.de"},
        "partner at the same vantage of another exporter": {
            "job": "sipfed", "instance": "exporter-1:9861", "alertname": "SipFedPeerUnreachable",
            "vantage": "outside", "severity": "critical", "tenant": "zahnfee", "domain": "praxis-nord.de"},
        "exporter alert without a domain": {**base, "alertname": "SipFedConfigReloadFailed", "severity": "warning"},
        # Our client certificate of tenant kanzlei is unfit: its outbound pages are held back.
        "client cert invalid": {**base, "alertname": "SipFedClientCertInvalid", "severity": "critical", "tenant": "kanzlei"},
        "outbound of that tenant": {**base, "alertname": "SipFedFederationBroken", "severity": "critical", "tenant": "kanzlei",
                                    "domain": "partner.example", "vantage": "inside", "direction": "outbound"},
        "inbound of that tenant": {**base, "alertname": "SipFedFederationBroken", "severity": "critical", "tenant": "kanzlei",
                                   "domain": "partner.example", "vantage": "inside", "direction": "inbound"},
        "outbound of another tenant": {**base, "alertname": "SipFedFederationBroken", "severity": "critical", "tenant": "zahnfee",
                                       "domain": "partner.example", "vantage": "inside", "direction": "outbound"},
    }
    body = json.dumps([{"labels": l} for l in alerts.values()]).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/alerts", body, {"Content-Type": "application/json"}), timeout=5)
    expected = {"vantage down": False, "partner at that vantage": True, "partner check at that vantage": True,
                "partner at another vantage": False, "partner at the same vantage of another exporter": False,
                "exporter alert without a domain": False, "client cert invalid": False,
                "outbound of that tenant": True, "inbound of that tenant": False,
                "outbound of another tenant": False}
    if mode == "without":  # no inhibit rules: everything is delivered
        expected = {name: False for name in expected}
    got = {}
    deadline = time.monotonic() + 30  # the inhibitor learns of source alerts asynchronously
    while time.monotonic() < deadline:
        listed = json.load(urllib.request.urlopen(f"{url}/alerts", timeout=5))
        got = {}
        for a in listed:
            for name, labels in alerts.items():
                if a["labels"] == labels:
                    got[name] = bool(a["status"]["inhibitedBy"])
        if got == expected:
            break
        time.sleep(0.2)
    for name, want in expected.items():
        ok = got.get(name) == want
        print(("ok   " if ok else "FAIL ") + f"inhibit: {name} is {'held back' if want else 'delivered'}"
              + ("" if ok else f" (got {'missing' if name not in got else ('held back' if got[name] else 'delivered')})"))
finally:
    proc.terminate()
    proc.wait()
PY
}
if [ -n "$ALERTMANAGER" ]; then
  inhibit_test "$am" with >"$tmp/inhibit" 2>&1 || echo "FAIL inhibit test ended early: $(tail -1 "$tmp/inhibit")" >>"$tmp/inhibit"
  while IFS= read -r line; do
    case $line in
      "ok   "*) pass "${line#ok   }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      *) echo "$line" ;;
    esac
  done <"$tmp/inhibit"
  # Negative control: without the SipFedVantageDown inhibit rule, the partner alert is delivered.
  python3 - "$am" "$tmp/am-no-inhibit.yml" <<'PY'
import sys
import yaml
c = yaml.safe_load(open(sys.argv[1]))
c["inhibit_rules"] = [r for r in c["inhibit_rules"] if not {'alertname="SipFedVantageDown"', 'alertname="SipFedClientCertInvalid"'} & set(r.get("source_matchers", []))]
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
  inhibit_test "$tmp/am-no-inhibit.yml" without >"$tmp/no-inhibit" 2>&1 || true
  if grep -q '^ok   inhibit: partner at that vantage is delivered' "$tmp/no-inhibit" \
    && grep -q '^ok   inhibit: outbound of that tenant is delivered' "$tmp/no-inhibit"; then
    pass "negative control: without the inhibit rules the partner alert at that vantage and the tenant's outbound alert are delivered"
  else
    fail "negative control: without the inhibit rules the partner alert at that vantage and the tenant's outbound alert are delivered"
    sed 's/^/     /' "$tmp/no-inhibit"
  fi
else
  skip alertmanager "inhibit rules in a real Alertmanager (prometheus-alertmanager not installed)"
fi

echo
summary
