#!/usr/bin/env bash
# Renders the monitoring mixin (mixin/, plain jsonnet) into the bundled files:
#   alerts/sipfed.rules.yml   the mixin's prometheusAlerts, as commented YAML
#   dashboards/*.json         the mixin's grafanaDashboards
#   deploy/kubernetes/prometheusrule.yml   (scripts/gen-prometheusrule.py from the rules)
#
#   scripts/gen-mixin.sh            rewrite those files in the repository
#   scripts/gen-mixin.sh OUTDIR     write alerts/ and dashboards/ under OUTDIR instead (what
#                                   scripts/test-alerts.sh compares with the committed files)
# Needs jsonnet (Debian package jsonnet), and python3 with PyYAML for the PrometheusRule.
set -euo pipefail

JSONNET=${JSONNET:-jsonnet}
command -v "$JSONNET" >/dev/null || { echo "jsonnet not found (apt-get install jsonnet, or set JSONNET=)" >&2; exit 2; }
if [ $# -gt 0 ]; then
  mkdir -p "$1/alerts" "$1/dashboards"
  out=$(cd "$1" && pwd)
fi
cd "$(dirname "$0")/.."
out=${out:-.}
rm -f "$out"/dashboards/*.json   # a dashboard removed from the mixin must not linger

"$JSONNET" -J mixin -S -e \
  "(import 'lib/rules-yaml.libsonnet').manifest((import 'mixin.libsonnet').prometheusAlerts)" \
  >"$out/alerts/sipfed.rules.yml"

# One file per dashboard, two-space JSON with sorted keys, ending in a newline.
"$JSONNET" -J mixin -S -m "$out/dashboards" -e "
  local d = (import 'mixin.libsonnet').grafanaDashboards;
  { [name]: std.manifestJsonEx(d[name], '  ') + '\n' for name in std.objectFields(d) }" >/dev/null

if [ "$out" = . ]; then
  python3 scripts/gen-prometheusrule.py --write
fi
