#!/usr/bin/env bash
# Side by side, one run, the same third-party world: sipfed_exporter against Prometheus'
# blackbox_exporter, CPU per domain, wall time and peak RSS.
#
# The world (other processes, loopback only): Knot DNS serves, for each of N domains dK.bench,
# `_sipfederationtls._tcp.dK.bench. SRV 0 0 5061 sip.dK.bench.` and `sip.dK.bench. A 127.x.y.E`;
# Kamailio (TLS module) listens on ceil(N/100) edges 127.x.y.1.., each with its own openssl
# certificate naming exactly the 100 targets mapped to it, and answers OPTIONS with 200.
#
# 1. sipfed_exporter (release build), one vantage on that DNS, ca_file = the openssl CA, SIP
#    OPTIONS on, concurrency 64, interval 1h: exactly one round, from start until /-/ready
#    answers 200. CPU = utime + stime from /proc/PID/stat (start-up and config load included).
# 2. blackbox_exporter (Debian's prometheus-blackbox-exporter) with three modules per domain
#    (dns SRV, dns A, tcp with tls: true and server_name), driven with N x 3 /probe requests by
#    64 parallel keep-alive clients, one domain at a time each (SRV, then A, then TLS). CPU from
#    just before the first request to just after the last (its config load not included).
#
# blackbox does less per domain: no SIP OPTIONS, no Microsoft 365 lookups, no authoritative or
# certificate-policy checks. Every probe must succeed in both or the script exits 1.
#
# With --later SECONDS the exporter runs with that interval and is also measured over its
# second round (a monitor's steady state: Microsoft 365 evidence reused, edges already known):
# CPU from the first round's end until 1.5 intervals + the timeout after start, when every
# (domain, vantage) must have been probed again (its probe timestamp later than the first
# round's end). The interval must exceed the first round.
#
# With --runs K both exporters are measured K times, alternately, in the same world (a fresh
# process each time); the table gives the medians and the range of the K ratios. Both figures
# move by 5-15 % from run to run on a shared 2-core machine, so one run decides nothing
# within that distance of a goal.
#
# Usage: scripts/bench-vs-blackbox.sh [--smoke] [--bin BIN] [--later SECONDS] [--runs K] [N...]
# (default N = 2000, K = 1; --smoke = N 100, no build if BIN or target/release/sipfed_exporter exists)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bin=""
sizes=()
smoke=0
later=0
runs=1
while (($#)); do
  case "$1" in
    --smoke) smoke=1 ;;
    --later) later=$2; shift; [[ "$later" =~ ^[0-9]+$ ]] && ((later > 10)) || { echo "--later takes seconds, more than the 10 s probe timeout" >&2; exit 2; } ;;
    --runs) runs=$2; shift; [[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a count" >&2; exit 2; } ;;
    --bin) bin=$(realpath "$2"); shift ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) [[ "$1" =~ ^[0-9]+$ ]] || { echo "not a size: $1" >&2; exit 2; }; sizes+=("$1") ;;
  esac
  shift
done
((${#sizes[@]})) || { ((smoke)) && sizes=(100) || sizes=(2000); }

# --- tools: Debian packages, installed on demand -------------------------------------------
need_apt=()
command -v knotd >/dev/null 2>&1 || need_apt+=(knot)
command -v kamailio >/dev/null 2>&1 || need_apt+=(kamailio kamailio-tls-modules)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need_apt+=(prometheus-blackbox-exporter)
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
bbe=$(command -v prometheus-blackbox-exporter)

if [ -z "$bin" ]; then
  target_dir=${CARGO_TARGET_DIR:-$repo/target}
  if ((smoke)) && [ -x "$target_dir/release/sipfed_exporter" ]; then
    bin="$target_dir/release/sipfed_exporter"
  else
    cargo build --release --quiet
    bin="$target_dir/release/sipfed_exporter"
  fi
fi

dir=$(mktemp -d)
pids=()
stop_world() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap 'stop_world; [ -n "${KEEP:-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"' EXIT
free_port() { # a port free for both UDP and TCP on 127.0.0.1, below the ephemeral range
  python3 - <<'PY'
import random, socket
while True:
    port = random.randrange(20000, 32000)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", port))
            s.close()
    except OSError:
        continue
    print(port)
    break
PY
}
wait_http() { # url [tries] -> 0 once it answers 200
  for _ in $(seq "${2:-600}"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

# Addresses of this run: 127.A.B.1.., A/B from the process id, so runs do not collide.
net="127.$((60 + $$ % 100)).$(($$ / 100 % 250))"
per_edge=100
results="$dir/results"
: > "$results"
status=0

for n in "${sizes[@]}"; do
  edges=$(((n + per_edge - 1) / per_edge))
  ((edges <= 250)) || { echo "N=$n needs $edges edges, at most 250 (25,000 domains)" >&2; exit 2; }
  w="$dir/n$n"; mkdir -p "$w/knot"
  echo "== N=$n: world of $n domains, $edges TLS edges (Knot DNS, Kamailio TLS, openssl certificates)"

  # --- certificates: one CA, one leaf per edge naming exactly its targets ------------------
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/ca.key" -out "$w/ca.pem" \
    -days 30 -subj "/CN=bench root/O=bench" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  for ((e = 1; e <= edges; e++)); do
    sans=$(python3 -c "import sys; e,n,p=map(int,sys.argv[1:]); print(','.join(f'DNS:sip.d{k}.bench' for k in range((e-1)*p+1, min(e*p,n)+1)))" "$e" "$n" "$per_edge")
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/edge$e.key" -out "$w/edge$e.csr" \
      -subj "/CN=edge$e.bench" 2>/dev/null
    printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" \
      "$sans" > "$w/edge$e.ext"
    openssl x509 -req -in "$w/edge$e.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" -CAcreateserial \
      -out "$w/edge$e.pem" -days 30 -extfile "$w/edge$e.ext" 2>/dev/null
  done

  # --- the domains: DNS zone, exporter config, blackbox config, probe list ------------------
  dns_port=$(free_port)
  interval=1h; ((later)) && interval="${later}s"
  python3 - "$w" "$n" "$per_edge" "$net" "$dns_port" "$interval" <<'PY'
import sys
w, n, per_edge, net, dns_port, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
edge = lambda k: f"{net}.{(k - 1) // per_edge + 1}"
with open(f"{w}/bench.zone", "w") as z:
    z.write("$ORIGIN bench.\n$TTL 3600\n@ SOA ns.bench. admin.bench. 1 3600 600 86400 300\n@ NS ns.bench.\nns A 127.0.0.1\n")
    for k in range(1, n + 1):
        z.write(f"_sipfederationtls._tcp.d{k} SRV 0 0 5061 sip.d{k}.bench.\nsip.d{k} A {edge(k)}\n")
with open(f"{w}/sipfed.yml", "w") as c:
    c.write(f"global:\n  ca_file: {w}/ca.pem\n  timeout: 10s\n  interval: {interval}\n  concurrency: 64\n  sip_options: true\n"
            f"vantages:\n  bench:\n    resolvers: [\"127.0.0.1:{dns_port}\"]\ndomains:\n")
    for k in range(1, n + 1):
        c.write(f"  - domain: d{k}.bench\n")
with open(f"{w}/blackbox.yml", "w") as b:
    b.write("modules:\n")
    for k in range(1, n + 1):
        b.write(f"  srv_d{k}:\n    prober: dns\n    timeout: 10s\n    dns:\n"
                f"      query_name: _sipfederationtls._tcp.d{k}.bench\n      query_type: SRV\n"
                f"      transport_protocol: udp\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"
                f"  a_d{k}:\n    prober: dns\n    timeout: 10s\n    dns:\n"
                f"      query_name: sip.d{k}.bench\n      query_type: A\n"
                f"      transport_protocol: udp\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"
                f"  tls_d{k}:\n    prober: tcp\n    timeout: 10s\n    tcp:\n"
                f"      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n      tls: true\n"
                f"      tls_config:\n        ca_file: {w}/ca.pem\n        server_name: sip.d{k}.bench\n")
with open(f"{w}/probes.txt", "w") as p:  # domain, then its three (module, target)
    for k in range(1, n + 1):
        p.write(f"d{k} srv_d{k}=127.0.0.1:{dns_port} a_d{k}=127.0.0.1:{dns_port} tls_d{k}={edge(k)}:5061\n")
PY

  # --- Knot DNS: authoritative for bench. --------------------------------------------------
  cat > "$w/knot.conf" <<KNOT
server:
    rundir: $w/knot
    listen: 127.0.0.1@$dns_port
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: $w/knot
log:
  - target: stderr
    any: warning
zone:
  - domain: bench
    file: $w/bench.zone
    journal-content: none
    zonefile-sync: -1
KNOT
  knotd -c "$w/knot.conf" >"$w/knot.log" 2>&1 &
  pids+=($!)

  # --- Kamailio: one TLS listener and certificate per edge, OPTIONS -> 200 ----------------
  {
    printf "[server:default]\nmethod = TLSv1.2+\ncertificate = %s\nprivate_key = %s\nverify_certificate = no\nrequire_certificate = no\n" \
      "$w/edge1.pem" "$w/edge1.key"
    for ((e = 1; e <= edges; e++)); do
      printf "[server:%s:5061]\nmethod = TLSv1.2+\ncertificate = %s\nprivate_key = %s\nverify_certificate = no\nrequire_certificate = no\n" \
        "$net.$e" "$w/edge$e.pem" "$w/edge$e.key"
    done
  } > "$w/tls.cfg"
  {
    printf '#!KAMAILIO\ndebug=0\nlog_stderror=yes\nchildren=1\ntcp_children=1\nenable_tls=yes\nauto_aliases=no\n'
    printf 'tcp_max_connections=8192\ntls_max_connections=8192\n'
    for ((e = 1; e <= edges; e++)); do printf 'listen=tls:%s:5061\n' "$net.$e"; done
    cat <<KAM
loadmodule "sl.so"
loadmodule "tls.so"
modparam("tls", "config", "$w/tls.cfg")
request_route {
    if (method=="OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("403", "Forbidden");
}
KAM
  } > "$w/kamailio.cfg"
  kamailio -DD -E -m 512 -f "$w/kamailio.cfg" -w "$w" >"$w/kamailio.log" 2>&1 &
  pids+=($!)

  # DNS up: the last domain's SRV record answered.
  python3 - "$dns_port" "$n" <<'PY' || { echo "Knot DNS did not come up:" >&2; cat "$w/knot.log" >&2; exit 1; }
import socket, struct, sys, time
port, n = int(sys.argv[1]), sys.argv[2]
name = b"".join(bytes([len(p)]) + p.encode() for p in f"_sipfederationtls._tcp.d{n}.bench".split(".")) + b"\0"
query = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 33, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
for _ in range(300):
    try:
        s.sendto(query, ("127.0.0.1", port))
        answer = s.recv(4096)
        if answer[3] & 15 == 0 and struct.unpack(">H", answer[6:8])[0] == 1:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY

  up=0
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$net.$edges/5061") 2>/dev/null && (exec 3<>"/dev/tcp/$net.1/5061") 2>/dev/null; then up=1; break; fi
    sleep 0.2
  done
  ((up)) || { echo "Kamailio did not come up:" >&2; tail -20 "$w/kamailio.log" >&2; exit 1; }

  # The K runs (the loop's body is not indented, as its heredocs cannot be).
  for ((run = 1; run <= runs; run++)); do
  ((runs == 1)) || echo "-- run $run of $runs"

  # --- 1. sipfed_exporter: one round ---------------------------------------------------------
  port=$(free_port)
  t0=$(date +%s.%N)
  "$bin" --config.file="$w/sipfed.yml" --web.listen-address="127.0.0.1:$port" >"$w/sipfed.log" 2>&1 &
  sp=$!
  pids+=($sp)
  cpu0=$(awk '{print $14 + $15}' "/proc/$sp/stat")
  if ! wait_http "http://127.0.0.1:$port/-/ready" 6000; then
    echo "sipfed_exporter: no complete round within 600 s" >&2; tail -20 "$w/sipfed.log" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  cpu1=$(awk '{print $14 + $15}' "/proc/$sp/stat")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$sp/status")
  curl -sf "http://127.0.0.1:$port/metrics" > "$w/metrics.txt"
  if ((later)); then
    # The second round: every key's next slot lies within [interval/2, 3/2 interval) of start.
    end=$(python3 -c "import sys; print(float(sys.argv[1]) + 1.5 * int(sys.argv[2]) + 15)" "$t0" "$later")
    now=$(date +%s.%N)
    sleep "$(python3 -c "import sys; print(max(0.0, float(sys.argv[1]) - float(sys.argv[2])))" "$end" "$now")"
    cpu2=$(awk '{print $14 + $15}' "/proc/$sp/stat")
    t2=$(date +%s.%N)
    curl -sf "http://127.0.0.1:$port/metrics" > "$w/metrics2.txt"
    python3 - "$n" "$cpu1" "$cpu2" "$t1" "$t2" "$w/metrics.txt" "$w/metrics2.txt" >> "$results" <<'PY' || status=1
import os, re, sys
n, cpu1, cpu2, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:6])
tick = os.sysconf("SC_CLK_TCK")
def probes(path):
    return sum(float(l.split()[-1]) for l in open(path) if l.startswith("sipfed_probes_total{"))
done = probes(sys.argv[7]) - probes(sys.argv[6])
again = ok = 0
for line in open(sys.argv[7]):
    if line.startswith("sipfed_probe_timestamp_seconds{"):
        again += float(line.split()[-1]) > t1
    elif line.startswith("sipfed_probe_success{"):
        ok += line.rstrip().endswith(" 1")
cpu_ms = (cpu2 - cpu1) / tick * 1000
# Per probe finished in the window (a few keys are probed a third time before it ends).
print(f"later n={n} cpu_ms={cpu_ms:.0f} per_domain={cpu_ms / max(done, 1):.3f} probes={done:.0f} wall={t2 - t1:.2f} "
      f"probed_again={again} healthy={ok}")
sys.exit(0 if again == n and ok == n else 1)
PY
    tail -1 "$results"
  fi
  kill "$sp"; wait "$sp" 2>/dev/null || true
  python3 - "$n" "$cpu0" "$cpu1" "$t0" "$t1" "$hwm" "$w/metrics.txt" >> "$results" <<'PY' || status=1
import os, re, sys
n, cpu0, cpu1, t0, t1, hwm, path = int(sys.argv[1]), *map(float, sys.argv[2:7]), sys.argv[7]
tick = os.sysconf("SC_CLK_TCK")
ok = checks = sip = tls = 0
failing = {}
for line in open(path):
    if line.startswith("sipfed_probe_success{"):
        ok += line.rstrip().endswith(" 1")
    elif line.startswith("sipfed_check_success{"):
        checks += 1
        m = re.search(r'check="([^"]+)"', line)
        if line.rstrip().endswith(" 0"):
            failing[m.group(1)] = failing.get(m.group(1), 0) + 1
        elif m.group(1) == "sip_options":
            sip += 1
        elif m.group(1) == "tls_handshake":
            tls += 1
cpu_ms = (cpu1 - cpu0) / tick * 1000
print(f"sipfed n={n} cpu_ms={cpu_ms:.0f} per_domain={cpu_ms / n:.3f} wall={t1 - t0:.2f} hwm_kib={hwm:.0f} "
      f"healthy={ok} sip_ok={sip} tls_ok={tls} checks={checks} checks_failing={failing}")
sys.exit(0 if ok == n and sip == n and tls == n else 1)
PY
  tail -1 "$results"

  # --- 2. blackbox_exporter: N x 3 probes ----------------------------------------------------
  port=$(free_port)
  "$bbe" --config.file="$w/blackbox.yml" --web.listen-address="127.0.0.1:$port" --log.level=warn >"$w/blackbox.log" 2>&1 &
  bp=$!
  pids+=($bp)
  if ! wait_http "http://127.0.0.1:$port/-/healthy" 1200; then
    echo "blackbox_exporter did not come up" >&2; tail -20 "$w/blackbox.log" >&2; exit 1
  fi
  sleep 1 # let it settle after loading its configuration
  python3 - "$n" "$bp" "$port" "$w/probes.txt" >> "$results" <<'PY' || status=1
import asyncio, os, re, sys, time
n, pid, port, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
domains = [line.split() for line in open(path)]
failed = []
async def get(reader, writer, query):
    writer.write(f"GET /probe?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    code = int(head.split()[1])
    length = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if length:
        body = await reader.readexactly(int(length.group(1)))
    else:  # chunked
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return code, body.decode()
async def worker(queue):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while not queue.empty():
        d = queue.get_nowait()
        for probe in d[1:]:
            module, target = probe.split("=")
            code, body = await get(reader, writer, f"module={module}&target={target}")
            good = code == 200 and re.search(r"(?m)^probe_success 1$", body)
            if good and module.startswith(("srv_", "a_")):
                rrs = re.search(r"(?m)^probe_dns_answer_rrs (\S+)$", body)
                good = rrs and float(rrs.group(1)) >= 1
            if not good:
                if not failed:  # blackbox's own account of the first failure
                    _, log = await get(reader, writer, f"module={module}&target={target}&debug=true")
                    print(log[:3000], file=sys.stderr)
                failed.append((module, target, code, body[-300:]))
    writer.close()
async def main():
    queue = asyncio.Queue()
    for d in domains:
        queue.put_nowait(d)
    await asyncio.gather(*(worker(queue) for _ in range(64)))
c0, t0 = cpu(), time.time()
asyncio.run(main())
c1, t1 = cpu(), time.time()
hwm = next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM"))
cpu_ms = (c1 - c0) / tick * 1000
print(f"blackbox n={n} cpu_ms={cpu_ms:.0f} per_domain={cpu_ms / n:.3f} wall={t1 - t0:.2f} hwm_kib={hwm} "
      f"probes={3 * len(domains)} failed={len(failed)}")
for f in failed[:5]:
    print("  failed:", f, file=sys.stderr)
sys.exit(0 if not failed and len(domains) == n else 1)
PY
  tail -1 "$results"
  kill "$bp"; wait "$bp" 2>/dev/null || true
  done
  stop_world
done

# --- the table ---------------------------------------------------------------------------------
python3 - "$results" "$(nproc)" "$status" <<'PY'
import re, statistics, sys
rows = {}  # N -> kind -> the runs' fields, in order
for line in open(sys.argv[1]):
    kind, rest = line.split(" ", 1)
    fields = dict(re.findall(r"(\w+)=(\S+)", rest))
    rows.setdefault(int(fields["n"]), {}).setdefault(kind, []).append(fields)
def med(runs, key):
    return statistics.median(float(f[key]) for f in runs)
def ratios(ours, theirs):  # per run: our figure over blackbox's in the same run
    return [float(s["per_domain"]) / float(b["per_domain"]) for s, b in zip(ours, theirs) if float(b["per_domain"])]
print()
print(f"sipfed_exporter vs blackbox_exporter, same world, {sys.argv[2]} cores (CPU = utime+stime of the exporter process)")
print("| N | runs | sipfed CPU ms/domain | blackbox CPU ms/domain | ratio | sipfed round wall | blackbox wall | sipfed peak RSS | blackbox peak RSS |")
print("|---|---|---|---|---|---|---|---|---|")
for n, r in sorted(rows.items()):
    s, b = r.get("sipfed", []), r.get("blackbox", [])
    q = ratios(s, b)
    if not q:
        print(f"| {n} | incomplete run | | | | | | | |")
        continue
    ratio = f"{statistics.median(q):.3f}x" + (f" ({min(q):.3f}-{max(q):.3f})" if len(q) > 1 else "")
    print(f"| {n} | {len(q)} | {med(s, 'per_domain'):.3f} | {med(b, 'per_domain'):.3f} | {ratio} | {med(s, 'wall'):.2f} s | "
          f"{med(b, 'wall'):.2f} s | {med(s, 'hwm_kib') / 1024:.0f} MiB | {med(b, 'hwm_kib') / 1024:.0f} MiB |")
if any(len(r.get("sipfed", [])) > 1 for r in rows.values()):
    print("(medians over the runs; ratio: the median and range of the runs' own ratios)")
print()
for n, r in sorted(rows.items()):
    s, b = r.get("later", []), r.get("blackbox", [])
    q = ratios(s, b)
    if q:
        print(f"later rounds, N={n}: sipfed {med(s, 'per_domain'):.3f} ms per domain probe ({med(s, 'probes'):.0f} probes in"
              f" {med(s, 'wall'):.0f} s, idle time included; {med(s, 'probed_again'):.0f} of {n} probed again) ="
              f" {statistics.median(q):.3f}x blackbox's {med(b, 'per_domain'):.3f}")
print()
print("sipfed per domain: SRV, A/AAAA/CNAME, Microsoft 365 records, authoritative checks, TCP, TLS, SIP OPTIONS,")
print("every check judged. blackbox per domain: SRV (dns), A (dns), TCP+TLS (tcp, tls: true) only —")
print("no SIP OPTIONS, no Microsoft 365 lookups, no authoritative checks. sipfed CPU includes its start-up.")
print("ALL PROBES HEALTHY" if sys.argv[3] == "0" else "SOME PROBES FAILED (see above)")
PY
exit "$status"
