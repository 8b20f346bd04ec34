#!/usr/bin/env bash
# Tests the bundled monitoring artefacts without an exporter or a Prometheus server:
#   - alerts/*.yml pass `promtool check rules`;
#   - alerts/tests/*.yml pass `promtool test rules`;
#   - every alert has severity, summary, description and a runbook_url whose anchor exists in
#     docs/runbooks.md, and has unit tests where it fires and where it does not;
#   - every PromQL expression in dashboards/*.json parses (Grafana variables replaced by
#     concrete values), and every dashboard uses the ${datasource} variable and sets units;
#   - deploy/alertmanager/alertmanager.yml passes `amtool check-config` and routes as documented
#     (skipped when amtool is not installed: Debian package prometheus-alertmanager).
# Needs promtool (Debian package prometheus) and python3 with PyYAML.
# Prints "N passed, M failed[, K skipped]" last; exits non-zero on any failure.
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
    "job": "sipfed", "tenant": "zahnfee", "domain": "zahnfee.de", "vantage": "inside",
    "__rate_interval": "1m", "__interval": "30s", "__interval_ms": "30000",
    "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}
VAR = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)\]\]")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_VARS = ("datasource", "job", "tenant", "domain", "vantage")


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
        if not p.get("targets"):
            problems.append("no queries")
        result(not problems, f"{path}: {where}: datasource and unit", "; ".join(problems))

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
  route_test msp-noc tenant=unknown-customer severity=warning domain=example.org alertname=SipFedCheckFailing
else
  skip "amtool check-config $am (amtool not installed: apt-get install prometheus-alertmanager)"
fi

echo
summary
