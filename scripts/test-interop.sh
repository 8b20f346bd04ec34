#!/usr/bin/env bash
# Interoperability with third-party servers on loopback: dnsmasq answers DNS, Kamailio (TLS
# module) is the SIP federation edge, certificates come from openssl. Two more Kamailio
# listeners demand and verify client certificates (require_certificate, verify_certificate,
# one in TLS 1.3, one in TLS 1.2 only): four tenants probe them, each presenting its own
# identity (accepted; unknown issuer; no clientAuth; none). The exporter's `check`
# must judge them as an admin would, and the running exporter's /metrics and /probe must give
# the same verdict as `check --output=json`, check by check, for every domain (one report,
# every view). Real peers (scripts/lib/interop_peers.py): a Kamailio that answers OPTIONS by the
# From domain (200, 404, 403 with ms-diagnostics) behind stunnel verifying client certificates,
# a pool with a dead address and a dead preferred target with a live backup (SRV priorities).
# DNSSEC (scripts/lib/interop_dnssec.py): Knot serves signed zones (automatic signing, a zone
# pre-signed by ldns-signzone with expired signatures, a DS mismatch, an own zone about to
# expire) under a signed lab parent, Unbound validates them with EDE; `check`, /metrics and
# /probe through Unbound, through Knot directly and through dnsmasq forwarding to Knot (neither
# validates).
# Usage: scripts/test-interop.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=lib/checks.sh
source scripts/lib/checks.sh
BIN=$(realpath "${1:-target/release/sipfed_exporter}")
for tool in dnsmasq kamailio stunnel4 openssl python3 cc knotd keymgr unbound ldns-keygen ldns-signzone drill; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install dnsmasq-base kamailio kamailio-tls-modules stunnel4 openssl gcc knot unbound ldnsutils)" >&2; exit 2; }
done

dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"

# Addresses of this run: 127.A.B.1 and .2, A/B from the process id, so runs do not collide.
net="127.$((60 + $$ % 100)).$(($$ / 100 % 250))"
good_ip="$net.1"; bad_ip="$net.2"; mtls_ip="$net.4"; mtls12_ip="$net.5"
# The policy edge (stunnel), and two addresses where nothing listens (a pool's dead member, a
# dead preferred target).
edge_ip="$net.10"; pool_dead_ip="$net.13"; primary_dead_ip="$net.14"

# --- certificates (openssl) ---------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 3650 -subj "/CN=interop root/O=interop" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # name san eku
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf "subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 90 -extfile "$1.ext" 2>/dev/null
}
leaf good "DNS:sip.good.test,DNS:sip.good.sec.test,DNS:sip.expired.sec.test,DNS:sip.dsbad.sec.test,DNS:sip.expiring.sec.test" "serverAuth,clientAuth"
leaf wild "DNS:*.wild.test" "serverAuth"
leaf mtls "DNS:sip.mtls.test,DNS:sip.mtls12.test" "serverAuth,clientAuth"
leaf edges "DNS:sip.accept.test,DNS:sip.nouser.test,DNS:sip.refuse.test,DNS:sip.stranger.test,DNS:sip.pool.test,DNS:sip.backup.test,DNS:sip2.backup.test" "serverAuth,clientAuth"
# Our tenants' client certificates: from the CA the edges trust (with and without clientAuth),
# and from a CA they do not know.
leaf id-good "DNS:edge.interop.test" "serverAuth,clientAuth"
leaf id-noeku "DNS:edge.interop.test" "serverAuth"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca2.key -out ca2.pem \
  -days 3650 -subj "/CN=someone else's root/O=elsewhere" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout id-foreign.key -out id-foreign.csr -subj "/CN=edge.interop.test" 2>/dev/null
printf "subjectAltName=DNS:edge.interop.test\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" > id-foreign.ext
openssl x509 -req -in id-foreign.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial -out id-foreign.pem -days 90 -extfile id-foreign.ext 2>/dev/null

# --- revocation evidence (openssl ca, openssl crl, openssl ocsp) -----------------------------
# Leaves naming a CRL and an OCSP responder on a loopback HTTP front (python): GET /ca.crl
# serves the CRL `openssl ca -gencrl` made; POST /ocsp runs `openssl ocsp -reqin/-respout` for
# each request (its own -port would listen on every interface). Chains: leaf + issuer.
rev_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
revleaf() { # name crl-url ocsp-url
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=sip.$1.test" 2>/dev/null
  printf "subjectAltName=DNS:sip.%s.test\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\ncrlDistributionPoints=URI:%s\nauthorityInfoAccess=OCSP;URI:%s\n" "$1" "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.leaf.pem" -days 90 -extfile "$1.ext" 2>/dev/null
  cat "$1.leaf.pem" ca.pem > "$1.pem"
}
revleaf revoked "http://127.0.0.1:$rev_port/ca.crl" "http://127.0.0.1:$rev_port/ocsp"
revleaf fine "http://127.0.0.1:$rev_port/ca.crl" "http://127.0.0.1:$rev_port/ocsp"
revleaf deadptr "http://127.0.0.1:1/ca.crl" "http://127.0.0.1:1/ocsp"
mkdir -p cadb && touch cadb/index.txt && echo 1000 > cadb/crlnumber
printf "[ca]\ndefault_ca = interop\n[interop]\ndatabase = cadb/index.txt\ncrlnumber = cadb/crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n" > ca.cnf
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke revoked.leaf.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -valid fine.leaf.pem 2>/dev/null
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out ca.crl.pem 2>/dev/null
openssl crl -in ca.crl.pem -outform DER -out ca.crl
cat > revocation.py <<'PY'
import http.server, subprocess, sys, tempfile, os
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, body, kind):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        # RFC 5019 GET: /ocsp/<URL-encoded base64 of the request>
        if self.path.startswith("/ocsp/"):
            import base64, urllib.parse
            return self.ocsp(base64.b64decode(urllib.parse.unquote(self.path[len("/ocsp/"):])))
        if self.path != "/ca.crl":
            return self.send_error(404)
        self.answer(open("ca.crl", "rb").read(), "application/pkix-crl")
    def do_POST(self):
        if self.path != "/ocsp":
            return self.send_error(404)
        self.ocsp(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
    def ocsp(self, request):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "req"), "wb").write(request)
            subprocess.run(["openssl", "ocsp", "-index", "cadb/index.txt", "-rsigner", "ca.pem",
                            "-rkey", "ca.key", "-CA", "ca.pem", "-ndays", "1",
                            "-reqin", os.path.join(d, "req"), "-respout", os.path.join(d, "resp")],
                           check=True, capture_output=True)
            self.answer(open(os.path.join(d, "resp"), "rb").read(), "application/ocsp-response")
    def log_message(self, *args):
        sys.stderr.write("revocation: " + (args[0] % args[1:]) + "\n")
# Threads: the exporter asks for the CRL and each OCSP answer at once; one slow `openssl ocsp`
# must not hold the others past the probe's deadline.
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 revocation.py "$rev_port" 2>revocation.log &
pids+=($!)

# --- Kamailio: two TLS listeners, one certificate each -----------------------------------
cat > tls.cfg <<TLS
[server:default]
method = TLSv1.2+
certificate = $dir/good.pem
private_key = $dir/good.key
verify_certificate = no
require_certificate = no
[server:$bad_ip:5061]
method = TLSv1.2+
certificate = $dir/wild.pem
private_key = $dir/wild.key
verify_certificate = no
require_certificate = no
[server:$net.7:5061]
method = TLSv1.2+
certificate = $dir/revoked.pem
private_key = $dir/revoked.key
verify_certificate = no
require_certificate = no
[server:$net.8:5061]
method = TLSv1.2+
certificate = $dir/fine.pem
private_key = $dir/fine.key
verify_certificate = no
require_certificate = no
[server:$net.9:5061]
method = TLSv1.2+
certificate = $dir/deadptr.pem
private_key = $dir/deadptr.key
verify_certificate = no
require_certificate = no
TLS
cat > tls-mtls.cfg <<TLS
[server:default]
method = TLSv1.2+
certificate = $dir/mtls.pem
private_key = $dir/mtls.key
verify_certificate = no
require_certificate = no
[server:$mtls_ip:5061]
method = TLSv1.2+
certificate = $dir/mtls.pem
private_key = $dir/mtls.key
ca_list = $dir/ca.pem
verify_certificate = yes
require_certificate = yes
[server:$mtls12_ip:5061]
method = TLSv1.2
certificate = $dir/mtls.pem
private_key = $dir/mtls.key
ca_list = $dir/ca.pem
verify_certificate = yes
require_certificate = yes
TLS
cat > kamailio.cfg <<KAM
#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children=4
enable_tls=yes
listen=tls:$good_ip:5061
listen=tls:$bad_ip:5061
listen=tls:$net.7:5061
listen=tls:$net.8:5061
listen=tls:$net.9:5061
auto_aliases=no
loadmodule "sl.so"
loadmodule "tls.so"
modparam("tls", "config", "$dir/tls.cfg")
request_route {
    if (method=="OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("403", "Forbidden");
}
KAM
# Kamailio 5.6's TLS module (Debian 12's kamailio-tls-modules) never empties OpenSSL's
# per-process error queue before SSL_accept/SSL_read/SSL_write (its tls.so has no call to
# ERR_clear_error), while OpenSSL documents that SSL_get_error is unreliable unless the queue is
# empty before the call. An error left behind by a refused handshake (client certificate
# rejected or missing) is then taken for the fatal error of a later connection the same TCP
# worker serves: Kamailio logs "TLS read: ... certificate verify failed" for a connection whose
# handshake succeeded and closes it before answering OPTIONS, so the accepted identity's
# sip_options failed in 5 of 16 runs here. Current Kamailio clears the queue itself
# (tls_openssl_clear_errors, proposed in kamailio PR #3607); the edges here get the same fix
# from a preloaded shim, so the verdicts compared below are about the exporter, not this bug.
cat > clear-errors.c <<'C'
/* Nothing is linked: OpenSSL must be first loaded (and set up) by Kamailio's tls module,
 * whose libssl and libcrypto these look up once it has. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
typedef struct ssl_st SSL;
static void *real(const char *lib, const char *name) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
  return h ? dlvsym(h, name, "OPENSSL_3.0.0") : NULL;
}
static void clear(void) {
  static void (*clear_error)(void);
  if (!clear_error) clear_error = (void (*)(void))real("libcrypto.so.3", "ERR_clear_error");
  if (clear_error) clear_error();
}
#define WRAP(name, args, call)                                     \
  int name args {                                                  \
    static int (*next) args;                                       \
    if (!next) next = (int (*) args)real("libssl.so.3", #name);    \
    if (!next) abort(); /* no OpenSSL 3 loaded: fail loudly */     \
    clear();                                                       \
    return next call;                                              \
  }
WRAP(SSL_accept, (SSL *s), (s))
WRAP(SSL_connect, (SSL *s), (s))
WRAP(SSL_read, (SSL *s, void *b, int n), (s, b, n))
WRAP(SSL_write, (SSL *s, const void *b, int n), (s, b, n))
WRAP(SSL_shutdown, (SSL *s), (s))
C
echo 'OPENSSL_3.0.0 { global: SSL_accept; SSL_connect; SSL_read; SSL_write; SSL_shutdown; local: *; };' > clear-errors.map
cc -shared -fPIC -O2 -Wall -Werror -Wl,--version-script=clear-errors.map -o clear-errors.so clear-errors.c
export LD_PRELOAD=$dir/clear-errors.so
kamailio -DD -E -f kamailio.cfg -w "$dir" >kamailio.log 2>&1 &
pids+=($!)
# The mutual-TLS listeners in a Kamailio of their own (tls-mtls.cfg): its refused
# handshakes never share a process with the edges above.
sed -e "s/^listen=tls:.*$//" -e "s|^auto_aliases=no$|listen=tls:$mtls_ip:5061\\nlisten=tls:$mtls12_ip:5061\\nauto_aliases=no|" \
  -e "s|/tls.cfg\"|/tls-mtls.cfg\"|" kamailio.cfg | sed 's/\\n/\n/g' > kamailio-mtls.cfg
kamailio -DD -E -f kamailio-mtls.cfg -w "$dir" >kamailio-mtls.log 2>&1 &
pids+=($!)
unset LD_PRELOAD

# --- The policy edge: Kamailio (plain TCP) answering by the From domain, stunnel in front ----
# Kamailio 5.6's own TLS is unreliable with OpenSSL 3 (above); stunnel terminates TLS, demands
# a client certificate from the CA the edges trust (verifyChain, requireCert) and forwards
# plain TCP. Kamailio answers OPTIONS as a federation edge with an allow list would: 200 for
# the allowed From domain, 404 (no such user) for a request URI it has no user for, 403 with
# ms-diagnostics for any other sender. Every request's From and request URI go to its log.
policy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > kamailio-policy.cfg <<KAM
#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children=2
disable_tls=yes
listen=tcp:127.0.0.1:$policy_port
auto_aliases=no
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
request_route {
    xlog("L_ERR", "policy: OPTIONS from \$fU@\$fd to \$rd\n");
    if (method!="OPTIONS") {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    if (\$fd=="allowed.interop.test") {
        if (\$rd=="nouser.test") {
            sl_send_reply("404", "Not Found");
            exit;
        }
        sl_send_reply("200", "OK");
        exit;
    }
    append_to_reply("ms-diagnostics: 1034;reason=\"Previous hop federation peer did not report diagnostic information\";source=\"sip.policy.test\"\r\n");
    sl_send_reply("403", "Forbidden");
    exit;
}
KAM
kamailio -DD -E -f kamailio-policy.cfg -w "$dir" >kamailio-policy.log 2>&1 &
pids+=($!)
cat > stunnel.conf <<STN
foreground = yes
pid =
debug = notice
[edge]
accept = $edge_ip:5061
connect = 127.0.0.1:$policy_port
cert = $dir/edges.pem
key = $dir/edges.key
CAfile = $dir/ca.pem
verifyChain = yes
requireCert = yes
STN
stunnel4 stunnel.conf >stunnel.log 2>&1 &
pids+=($!)

# --- dnsmasq: authoritative for .test -------------------------------------------------------
# The port is free when picked, but anything on this busy machine may take it before dnsmasq
# binds it: pick another when dnsmasq cannot listen ("Address already in use").
dns_up=
for _ in 1 2 3 4 5; do
  dns_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --local=/test/ --port="$dns_port" \
    --listen-address=127.0.0.1 --bind-interfaces --pid-file= \
    --srv-host=_sipfederationtls._tcp.good.test,sip.good.test,5061,0,0 \
    --host-record=sip.good.test,"$good_ip" \
    --srv-host=_sipfederationtls._tcp.wild.test,sip.wild.test,5061,0,0 \
    --host-record=sip.wild.test,"$bad_ip" \
    --srv-host=_sipfederationtls._tcp.moved.test,sip.elsewhere.test,5061,0,0 \
    --host-record=sip.elsewhere.test,"$good_ip" \
    --mx-host=teams.test,teams-test.mail.protection.outlook.com,0 \
    --txt-record=teams.test,MS=ms12345678 \
    --srv-host=_sipfederationtls._tcp.down.test,sip.down.test,5061,0,0 \
    --host-record=sip.down.test,"$net.3" \
    --srv-host=_sipfederationtls._tcp.revoked.test,sip.revoked.test,5061,0,0 \
    --host-record=sip.revoked.test,"$net.7" \
    --srv-host=_sipfederationtls._tcp.fine.test,sip.fine.test,5061,0,0 \
    --host-record=sip.fine.test,"$net.8" \
    --srv-host=_sipfederationtls._tcp.deadptr.test,sip.deadptr.test,5061,0,0 \
    --host-record=sip.deadptr.test,"$net.9" \
    --host-record=sip.mtls.test,"$mtls_ip" --host-record=sip.mtls12.test,"$mtls12_ip" \
    $(for d in accept nouser refuse stranger; do
        printf -- "--srv-host=_sipfederationtls._tcp.%s.test,sip.%s.test,5061,0,0 --host-record=sip.%s.test,%s " "$d" "$d" "$d" "$edge_ip"
      done) \
    --srv-host=_sipfederationtls._tcp.pool.test,sip.pool.test,5061,0,0 \
    --host-record=sip.pool.test,"$edge_ip" --host-record=sip.pool.test,"$pool_dead_ip" \
    --srv-host=_sipfederationtls._tcp.backup.test,sip.backup.test,5061,10,0 \
    --srv-host=_sipfederationtls._tcp.backup.test,sip2.backup.test,5061,20,0 \
    --host-record=sip.backup.test,"$primary_dead_ip" --host-record=sip2.backup.test,"$edge_ip" \
    $(for id in ok foreign noeku none; do
        printf -- "--srv-host=_sipfederationtls._tcp.mtls-%s.test,sip.mtls.test,5061,0,0 " "$id"
        printf -- "--srv-host=_sipfederationtls._tcp.mtls12-%s.test,sip.mtls12.test,5061,0,0 " "$id"
      done) --log-facility=- 2>dnsmasq.log &
  dnsmasq_pid=$!
  while kill -0 "$dnsmasq_pid" 2>/dev/null && ! grep -q "started" dnsmasq.log; do sleep 0.1; done
  if kill -0 "$dnsmasq_pid" 2>/dev/null; then pids+=("$dnsmasq_pid"); dns_up=1; break; fi
  wait "$dnsmasq_pid" 2>/dev/null || true
  cat dnsmasq.log >&2
done
[ -n "$dns_up" ] || { echo "dnsmasq did not start" >&2; exit 1; }

# --- Knot: signed zones; Unbound validating them ------------------------------------------
# Knot (authoritative) serves an unsigned root (so Unbound never leaves loopback), the lab
# parent sec.test (signed, publishing the children's DS) and three children: good.sec.test
# (signed by Knot), expired.sec.test (pre-signed by ldns-signzone, signatures expired in 2020),
# dsbad.sec.test (signed by Knot, the parent's DS names a key the zone does not have). Unbound
# validates from a trust anchor for sec.test, with RFC 8914 EDE on.
knot_ip="$net.20"; unbound_ip="$net.21"
mkdir -p knot
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
knot_port=$(free_port); unbound_port=$(free_port)
cat > knot/knot.conf <<KNOT
server:
  rundir: $dir/knot
  listen: $knot_ip@$knot_port
database:
  storage: $dir/knot
log:
  - target: stderr
    any: info
policy:
  - id: lab
    algorithm: ecdsap256sha256
    manual: on
template:
  - id: default
    storage: $dir/knot
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: .
    file: root.zone
  - domain: sec.test.
    dnssec-signing: on
    dnssec-policy: lab
  - domain: good.sec.test.
    dnssec-signing: on
    dnssec-policy: lab
  - domain: dsbad.sec.test.
    dnssec-signing: on
    dnssec-policy: lab
  - domain: expired.sec.test.
  - domain: expiring.sec.test.
KNOT
soa() { printf '$TTL 300\n@ SOA ns.sec.test. hostmaster.sec.test. 1 3600 600 86400 300\n@ NS ns.sec.test.\n'; }
for z in sec.test good.sec.test dsbad.sec.test; do
  keymgr -c knot/knot.conf "$z." generate algorithm=ecdsap256sha256 ksk=yes zsk=yes >/dev/null
done
# The root delegates sec.test (unsigned: the trust anchor is sec.test's own key).
{ soa | sed 's/^@ SOA/. SOA/; s/^@ NS/. NS/'; printf 'sec.test. NS ns.sec.test.\nns.sec.test. A %s\n' "$knot_ip"; } > knot/root.zone
# The child zones: SRV and target inside the zone, at the good edge (Kamailio).
child() { soa; printf '_sipfederationtls._tcp SRV 0 0 5061 sip\nsip A %s\n' "$good_ip"; }
child > knot/good.sec.test.zone
child > knot/dsbad.sec.test.zone
child > knot/expired.sec.test.unsigned
ldns-keygen -a ECDSAP256SHA256 -k expired.sec.test > expired.keyname
# Signatures valid from 2019-12-01 to 2020-01-01: long expired.
ldns-signzone -o expired.sec.test. -i 20191201000000 -e 20200101000000 -f knot/expired.sec.test.zone \
  knot/expired.sec.test.unsigned "$(cat expired.keyname)"
# Our own zone whose re-signing stopped: signed 20 days ago, the signatures expire in 20 hours.
child > knot/expiring.sec.test.unsigned
ldns-keygen -a ECDSAP256SHA256 -k expiring.sec.test > expiring.keyname
expiring_at=$(date -u -d '+20 hours' +%Y%m%d%H%M%S)
ldns-signzone -o expiring.sec.test. -i "$(date -u -d '-20 days' +%Y%m%d%H%M%S)" -e "$expiring_at" \
  -f knot/expiring.sec.test.zone knot/expiring.sec.test.unsigned "$(cat expiring.keyname)"
date -u -d "$(sed -E 's/(....)(..)(..)(..)(..)(..)/\1-\2-\3 \4:\5:\6/' <<<"$expiring_at")" +%s > expiring-at.txt
# A key dsbad.sec.test does not have: its DS is what the parent publishes.
ldns-keygen -a ECDSAP256SHA256 -k dsbad.sec.test > stray.keyname
{
  soa
  printf 'ns A %s\n' "$knot_ip"
  for c in good dsbad expired expiring; do printf '%s NS ns.sec.test.\n' "$c"; done
  keymgr -c knot/knot.conf good.sec.test. ds | grep ' 2 '
  cat "$(cat expired.keyname).ds" "$(cat expiring.keyname).ds"
  cat "$(cat stray.keyname).ds"
} > knot/sec.test.zone
# The DS of the key dsbad.sec.test really has (published nowhere): the check names its tag.
keymgr -c knot/knot.conf dsbad.sec.test. ds | grep ' 2 ' > dsbad-own-ds.txt
knotd -c knot/knot.conf >knot.log 2>&1 &
pids+=($!)
anchor=$(keymgr -c knot/knot.conf sec.test. ds | grep ' 2 ' | head -1)
cat > unbound.conf <<UNB
server:
  interface: $unbound_ip@$unbound_port
  port: $unbound_port
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: "$dir/unbound.pid"
  use-syslog: no
  logfile: "$dir/unbound.log"
  verbosity: 1
  val-log-level: 2
  ede: yes
  module-config: "validator iterator"
  trust-anchor: "$anchor"
  qname-minimisation: no
  # Unbound answers test. itself (RFC 6761 default local zone): ask Knot instead.
  local-zone: "test." nodefault
  cache-max-ttl: 5
  cache-max-negative-ttl: 5
stub-zone:
  name: "."
  stub-addr: $knot_ip@$knot_port
UNB
unbound -d -c unbound.conf >unbound.out 2>&1 &
pids+=($!)
# A forwarder that does not validate (dnsmasq, plain forwarding to Knot): what most office
# resolvers are. It passes RRSIGs through when asked with DO.
fwd_ip="$net.22"; fwd_port=$(free_port)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --server="$knot_ip#$knot_port" --port="$fwd_port" \
  --listen-address="$fwd_ip" --bind-interfaces --pid-file= --log-facility=- 2>dnsmasq-fwd.log &
pids+=($!)
for _ in $(seq 50); do
  drill -p "$unbound_port" @"$unbound_ip" _sipfederationtls._tcp.good.sec.test SRV 2>/dev/null | grep -q 'rcode: NOERROR' && break
  sleep 0.2
done

for ip in "$good_ip" "$mtls_ip" "$edge_ip"; do
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/$ip/5061") 2>/dev/null && break
    sleep 0.2
  done
done

# Four tenants, one identity each, probing the same two mutual-TLS edges.
tenants="tenants:
  id-ok: {client_cert: {cert_file: id-good.pem, key_file: id-good.key}}
  id-foreign: {client_cert: {cert_file: id-foreign.pem, key_file: id-foreign.key}}
  id-noeku: {client_cert: {cert_file: id-noeku.pem, key_file: id-noeku.key}}
  t-allowed: {client_cert: {cert_file: id-good.pem, key_file: id-good.key}, sip_from: sipfed-monitor@allowed.interop.test}
  t-blocked: {client_cert: {cert_file: id-good.pem, key_file: id-good.key}, sip_from: sipfed-monitor@blocked.interop.test}"
mtls_domains=$(for id in ok foreign noeku none; do
  for v in mtls mtls12; do printf "  - {domain: %s-%s.test, tenant: id-%s}\n" "$v" "$id" "$id"; done; done)
mtls_names=$(for id in ok foreign noeku none; do printf "mtls-%s.test mtls12-%s.test " "$id" "$id"; done)
# The policy edge's partners, each probed as a tenant: by From domain, and failover.
peer_domains="  - {domain: accept.test, tenant: t-allowed}
  - {domain: nouser.test, tenant: t-allowed}
  - {domain: refuse.test, tenant: t-blocked}
  - {domain: stranger.test, tenant: id-foreign}
  - {domain: pool.test, tenant: t-allowed}
  - {domain: backup.test, tenant: t-allowed}"
peer_names="accept.test nouser.test refuse.test stranger.test pool.test backup.test"
# One probe at a time (check and the served exporter alike): Kamailio 5.6.3's TLS module still
# refuses an accepted identity now and then when refused handshakes of other identities run in
# the same worker at the same moment (seen after the error-queue shim above, in about 1 run of
# 10); the edges are Kamailio's to judge, not a load test of it.
# dnsmasq answers .test only (it refuses `. NS`, which the default health query asks to prove
# recursion): the vantage's health query is a name it is authoritative for.
printf "global:\n  ca_file: ca.pem\n  timeout: 5s\n  concurrency: 1\nvantages:\n  inside:\n    resolvers: [\"127.0.0.1:%s\"]\n    health_query: health.test\n%s\ndomains:\n%s\n%s\n" "$dns_port" "$tenants" "$mtls_domains" "$peer_domains" > sipfed.yml
set +e
# shellcheck disable=SC2086 # one word per domain
"$BIN" check --config.file=sipfed.yml --resolver "127.0.0.1:$dns_port" --output json \
  good.test wild.test moved.test teams.test down.test $mtls_names revoked.test fine.test deadptr.test $peer_names > report.json
status=$?
# The real peers once more, one `check` (text) each: its exit status and checklist lines.
for d in $peer_names; do
  "$BIN" check --config.file=sipfed.yml --resolver "127.0.0.1:$dns_port" "$d" > "check-$d.txt" 2>&1
  echo $? > "check-$d.rc"
done
set -e

# The same world served: /metrics after the first round, and a fresh /probe?target= per domain.
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > served.yml <<YML
global:
  ca_file: ca.pem
  timeout: 5s
  interval: 10m
  concurrency: 1
vantages:
  inside:
    resolvers: ["127.0.0.1:$dns_port"]
    health_query: health.test
domains:
  - domain: good.test
  - domain: wild.test
  - domain: moved.test
  - domain: teams.test
  - domain: down.test
  - domain: revoked.test
  - domain: fine.test
  - domain: deadptr.test
$mtls_domains
$peer_domains
$tenants
YML
"$BIN" --config.file=served.yml --web.listen-address="127.0.0.1:$http_port" >exporter.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/-/ready")" = 200 ] && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$http_port/metrics" > metrics.txt
for d in good.test wild.test moved.test teams.test down.test $mtls_names revoked.test fine.test deadptr.test $peer_names; do
  curl -sf "http://127.0.0.1:$http_port/probe?target=$d" > "probe-$d.txt"
done

# --- DNSSEC judged: through Unbound (validating) and through Knot itself (not validating) ---
# `check` JSON per zone and resolver, then one served exporter with both as vantages.
sec_names="good.sec.test expired.sec.test dsbad.sec.test expiring.sec.test"
printf "global:\n  ca_file: ca.pem\n  timeout: 5s\ndomains:\n  - domain: expiring.sec.test\n    role: own\n" > dnssec.yml
set +e
for d in $sec_names; do
  for via in "unbound $unbound_ip:$unbound_port" "knot $knot_ip:$knot_port" "fwd $fwd_ip:$fwd_port"; do
    "$BIN" check --config.file=dnssec.yml --resolver "${via#* }" --output json "$d" \
      > "dnssec-${via%% *}-$d.json" 2> "dnssec-${via%% *}-$d.err"
    echo $? > "dnssec-${via%% *}-$d.rc"
  done
done
# global.dnssec off: no validation of ours, so through Knot the expired zone looks fine.
printf "global:\n  ca_file: ca.pem\n  timeout: 5s\n  dnssec: false\n" > dnssec-off.yml
"$BIN" check --config.file=dnssec-off.yml --resolver "$knot_ip:$knot_port" --output json expired.sec.test \
  > dnssec-off-expired.sec.test.json 2> dnssec-off-expired.sec.test.err
echo $? > dnssec-off-expired.sec.test.rc
set -e
sec_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > dnssec-served.yml <<YML
global:
  ca_file: ca.pem
  timeout: 5s
  interval: 10m
vantages:
  validating:
    resolvers: ["$unbound_ip:$unbound_port"]
  plain:
    resolvers: ["$knot_ip:$knot_port"]
domains:
  - domain: good.sec.test
  - domain: expired.sec.test
  - domain: dsbad.sec.test
  - domain: expiring.sec.test
    role: own
YML
"$BIN" --config.file=dnssec-served.yml --web.listen-address="127.0.0.1:$sec_port" >exporter-dnssec.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sec_port/-/ready")" = 200 ] && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$sec_port/metrics" > dnssec-metrics.txt
for d in $sec_names; do
  curl -sf "http://127.0.0.1:$sec_port/probe?target=$d" > "dnssec-probe-$d.txt"
done

py_status=0
python3 - "$status" report.json >results.txt <<'PY' || py_status=$?
import json, re, sys
status = int(sys.argv[1])
check_json = json.load(open(sys.argv[2]))
reports = {r["domain"]: {f["check"]: f for v in r["vantages"] for f in v["findings"]} for r in check_json}
def expect(domain, check, ok, reason=None):
    f = reports.get(domain, {}).get(check)
    good = f is not None and f["passed"] == ok and (reason is None or f["reason"] == reason)
    print(("ok   " if good else "FAIL ") + f"{domain} {check}: want {'pass' if ok else 'fail ' + str(reason)}, got "
          + (f"{'pass' if f['passed'] else 'fail ' + str(f['reason'])}: {f['message']}" if f else "absent"))
def absent(domain, check):
    good = check not in reports.get(domain, {})
    print(("ok   " if good else "FAIL ") + f"{domain} {check}: want absent")

for c in ["srv_present", "srv_port_5061", "srv_target_in_domain", "target_resolves", "tcp_connect",
          "tls_handshake", "tls_min_version", "cert_trusted", "cert_name_match", "cert_not_wildcard",
          "cert_valid_now", "cert_expiry", "cert_server_auth", "cert_client_auth", "sip_options"]:
    expect("good.test", c, True)
# The facts behind the verdict: Kamailio's status line and Server header.
sip = [e["sip"] for r in check_json if r["domain"] == "good.test" for v in r["vantages"]
       for t in v["facts"]["targets"] for e in t["endpoints"] if e.get("sip")]
good = bool(sip) and sip[0]["detail"] == "SIP/2.0 200 OK" and "kamailio" in (sip[0].get("server") or "")
print(("ok   " if good else "FAIL ") + f"good.test SIP facts: status line and responding server, got {sip[:1]}")
good = bool(sip) and sip[0]["status"] == {"ok": 200}
print(("ok   " if good else "FAIL ") + "good.test SIP status serialised as {\"ok\": 200}")
expect("wild.test", "cert_name_match", True)
expect("wild.test", "cert_not_wildcard", False, "wildcard")
expect("wild.test", "cert_client_auth", False, "no_client_auth")
expect("wild.test", "sip_options", True)
expect("moved.test", "srv_target_in_domain", False, "outside_domain")
expect("moved.test", "cert_name_match", False, "name_mismatch")
expect("teams.test", "srv_present", False, "nxdomain")
expect("teams.test", "teams_federation_srv", False, "missing_srv")
expect("down.test", "tcp_connect", False, "connection_refused")
absent("down.test", "tls_handshake")
# Revocation evidence from openssl's CRL and OCSP responder, behind Kamailio.
expect("revoked.test", "cert_not_revoked", False, "revoked")
expect("revoked.test", "revocation_reachable", True)
expect("fine.test", "cert_not_revoked", True)
expect("fine.test", "revocation_reachable", True)
expect("deadptr.test", "revocation_reachable", False, "connection_refused")
absent("deadptr.test", "cert_not_revoked")
msg = reports.get("revoked.test", {}).get("cert_not_revoked", {}).get("message", "")
good = "(keyCompromise)" in msg and "according to the" in msg
print(("ok   " if good else "FAIL ") + f"revoked.test: the message names the reason code and the source: {msg}")
# Mutual TLS against Kamailio (OpenSSL): TLS 1.3 (alert after the handshake) and TLS 1.2 only
# (alert during it), one verdict per identity on the same edge.
def says(domain, check, words):
    f = reports.get(domain, {}).get(check) or {}
    good = words in f.get("message", "")
    print(("ok   " if good else "FAIL ") + f"{domain} {check} names {words!r}: {f.get('message')}")
for v in ["mtls", "mtls12"]:
    expect(f"{v}-ok.test", "client_cert_accepted", True)
    expect(f"{v}-ok.test", "sip_options", True)
    for d, why, alert in [("foreign", "client_cert_rejected", "unknown_ca"),
                          ("noeku", "client_cert_rejected", "unsupported_certificate"),
                          ("none", "client_cert_missing", None)]:
        expect(f"{v}-{d}.test", "client_cert_accepted", False, why)
        absent(f"{v}-{d}.test", "sip_options")
        if alert:
            says(f"{v}-{d}.test", "client_cert_accepted", f"alert {alert}")
    for d, want in [("ok", True), ("foreign", False), ("noeku", False), ("none", False)]:
        r = next(r for r in check_json if r["domain"] == f"{v}-{d}.test")
        got = [p["ready"] for p in r["federation_ready"] if p["direction"] == "outbound"]
        good = got == [want]
        print(("ok   " if good else "FAIL ") + f"{v}-{d}.test outbound ready {want} in check JSON, got {got}")
# One verdict, every view: check_success per (domain, check) in /metrics and in /probe equals
# the `check` JSON's pass/fail, and no view has a check the others lack.
sample = re.compile(r'^sipfed_check_success\{(.*)\} (\S+)$')
def verdicts(text):
    out = {}
    for line in text.splitlines():
        m = sample.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[(labels["domain"], labels["check"])] = float(m.group(2)) == 1.0
    return out
from_check = {(d, c): f["passed"] for d, fs in reports.items() for c, f in fs.items()}
from_metrics = verdicts(open("metrics.txt").read())
from_probe = {}
for d in reports:
    from_probe.update(verdicts(open(f"probe-{d}.txt").read()))
for name, view in [("/metrics", from_metrics), ("/probe", from_probe)]:
    good = view == from_check and len(view) > 40
    diff = sorted(set(view.items()) ^ set(from_check.items()))
    print(("ok   " if good else "FAIL ") + f"{name} gives the same verdict as check for {len(view)} (domain, check) pairs" + ("" if good else f": differs in {diff}"))
    if not good:
        # Why the served exporter saw otherwise: its failure reasons for the differing pairs.
        text = open("metrics.txt").read()
        for (d, c), _ in diff:
            for line in text.splitlines():
                if line.startswith("sipfed_check_failure_info{") and f'domain="{d}"' in line and f'check="{c}"' in line:
                    print("     " + line)
# The pair verdicts: /metrics and /probe say what check says.
ready = re.compile(r'^sipfed_federation_ready\{(.*)\} (\S+)$')
def pairs(text):
    out = {}
    for line in text.splitlines():
        m = ready.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[(labels["domain"], labels["direction"])] = float(m.group(2)) == 1.0
    return out
from_check = {(r["domain"], p["direction"]): p["ready"] for r in check_json for p in r["federation_ready"]}
from_probe = {}
for d in reports:
    from_probe.update(pairs(open(f"probe-{d}.txt").read()))
for name, view in [("/metrics", pairs(open("metrics.txt").read())), ("/probe", from_probe)]:
    good = view == from_check and len(view) >= 16
    diff = sorted(set(view.items()) ^ set(from_check.items()))
    print(("ok   " if good else "FAIL ") + f"{name} gives the same pair verdicts as check for {len(view)} (partner, direction)" + ("" if good else f": differs in {diff}"))
for d in reports:
    info = [l for l in open(f"probe-{d}.txt").read().splitlines() if l.startswith("sipfed_domain_info{")]
    good = len(info) == 1 and f'domain="{d}"' in info[0]
    print(("ok   " if good else "FAIL ") + f"/probe?target={d} renders sipfed_domain_info")
want_status = 2
good = status == want_status
print(("ok   " if good else "FAIL ") + f"exit status {status}, want {want_status} (a critical check failed)")
PY
tally results.txt
((py_status == 0)) || fail "result checks ended early (python exit status $py_status)"
peers_status=0
python3 "$repo/scripts/lib/interop_peers.py" "$dir" >peers.txt || peers_status=$?
tally peers.txt
((peers_status == 0)) || fail "real-peer checks ended early (python exit status $peers_status)"
dnssec_status=0
python3 "$repo/scripts/lib/interop_dnssec.py" "$dir" >dnssec.txt || dnssec_status=$?
tally dnssec.txt
((dnssec_status == 0)) || fail "DNSSEC checks ended early (python exit status $dnssec_status)"
summary
