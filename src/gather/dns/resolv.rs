//! `system`: the name servers and options of /etc/resolv.conf, read as glibc reads them, and
//! read again when the file changes.
//!
//! glibc's rules (resolv/res_init.c): a line counts only when it starts with its keyword and a
//! blank; lines starting with `#` or `;`, other keywords (`search`, `domain`, `sortlist`) and
//! unknown options are ignored, not errors; a `nameserver` is the word after the keyword, and
//! an IPv6 address may carry a scope (`fe80::1%eth0`, or a numeric interface index), which a
//! link-local server needs. `timeout` is capped at 30 s and `attempts` at 5 as glibc caps them.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::transport::{Client, Options};

/// How often, at most, a query looks whether the file changed (one `stat`).
const RECHECK: Duration = Duration::from_secs(1);
/// glibc's RES_MAXRETRANS and RES_MAXRETRY.
const MAX_TIMEOUT: u64 = 30;
const MAX_ATTEMPTS: u64 = 5;

/// The resolv.conf `system` stands for: `SIPFED_RESOLV_CONF` if set, else /etc/resolv.conf.
pub(super) fn path() -> PathBuf {
    std::env::var_os("SIPFED_RESOLV_CONF").map_or_else(|| "/etc/resolv.conf".into(), PathBuf::from)
}

/// The name servers a resolv.conf lists, in order, at `port` (each once), and its `timeout`,
/// `attempts` and `rotate` options (glibc's defaults 5 s and 2 when absent).
pub(super) fn servers(path: &Path, port: u16) -> Result<(Vec<SocketAddr>, Options), String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&text, port)
}

fn parse(text: &[u8], port: u16) -> Result<(Vec<SocketAddr>, Options), String> {
    let mut servers: Vec<SocketAddr> = Vec::new();
    let mut timeout = 5;
    let mut attempts = 2;
    let mut rotate = false;
    for line in text.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        // Only the name servers and the options: the search list is what makes nslookup lie.
        if let Some(rest) = keyword(&line, "nameserver") {
            let word = rest.split([' ', '\t', '\r']).next().unwrap_or("");
            if let Some(addr) = name_server(word, port)
                && !servers.contains(&addr)
            {
                servers.push(addr);
            }
        } else if let Some(rest) = keyword(&line, "options") {
            for option in rest.split([' ', '\t', '\r']).filter(|o| !o.is_empty()) {
                if let Some(n) = option.strip_prefix("timeout:") {
                    timeout = atoi(n).clamp(1, MAX_TIMEOUT);
                } else if let Some(n) = option.strip_prefix("attempts:") {
                    attempts = atoi(n).clamp(1, MAX_ATTEMPTS);
                } else if option == "rotate" {
                    rotate = true;
                }
                // Anything else (ndots:, edns0, trust-ad, single-request, options of later
                // libcs): not ours to judge, ignored as glibc ignores what it does not know.
            }
        }
    }
    if servers.is_empty() {
        return Err("no name server".into());
    }
    let options = Options {
        timeout: Duration::from_secs(timeout),
        attempts: usize::try_from(attempts).unwrap_or(1),
        rotate,
    };
    Ok((servers, options))
}

/// The rest of `line` when it starts with `word` and a blank (glibc's MATCH).
fn keyword<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(word)?;
    rest.starts_with([' ', '\t'])
        .then(|| rest.trim_start_matches([' ', '\t']))
}

/// The leading digits of `s` as a number, 0 without any (C's atoi on what options hold).
fn atoi(s: &str) -> u64 {
    let digits = s.bytes().take_while(u8::is_ascii_digit).take(9);
    digits.fold(0, |n, d| n * 10 + u64::from(d - b'0'))
}

/// One `nameserver` word: an IPv4 address, or an IPv6 address with an optional `%scope` (an
/// interface name or index; an interface this host lacks leaves scope 0, as with glibc).
fn name_server(word: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let (ip, scope) = word.split_once('%')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    let scope = scope_id(scope);
    Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
}

fn scope_id(scope: &str) -> u32 {
    #[cfg(unix)]
    if let Ok(name) = std::ffi::CString::new(scope) {
        // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index != 0 {
            return index;
        }
    }
    u32::try_from(atoi(scope)).unwrap_or(0)
}

/// What identifies one version of the file: a rewrite changes the mtime (or the size), a
/// replacement by rename (resolvconf, systemd-resolved, container runtimes) the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        },
    })
}

/// The `system` resolver: its client, built again from the file when the file changed (looked
/// at on use, at most once per [`RECHECK`]). A file that became unreadable or lists no name
/// server keeps the servers last read (logged once per change).
pub(super) struct System {
    path: PathBuf,
    port: u16,
    /// The probe's budget for one attempt, which caps resolv.conf's timeout.
    query_timeout: Duration,
    recursion: bool,
    recheck: Duration,
    state: Mutex<State>,
}

struct State {
    stamp: Option<Stamp>,
    checked: Instant,
    client: Arc<Client>,
}

impl System {
    /// Reads `path` (an error when it cannot be read or lists no name server).
    pub(super) fn new(
        path: PathBuf,
        port: u16,
        query_timeout: Duration,
        recursion: bool,
    ) -> Result<System, String> {
        let stamp = stamp(&path);
        let client = build(&path, port, query_timeout, recursion)?;
        Ok(System {
            path,
            port,
            query_timeout,
            recursion,
            recheck: RECHECK,
            state: Mutex::new(State {
                stamp,
                checked: Instant::now(),
                client: Arc::new(client),
            }),
        })
    }

    /// The client for the file as it is now.
    pub(super) fn client(&self) -> Arc<Client> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= self.recheck {
            state.checked = Instant::now();
            let now = stamp(&self.path);
            if now != state.stamp {
                state.stamp = now;
                match build(&self.path, self.port, self.query_timeout, self.recursion) {
                    Ok(client) => {
                        tracing::info!(path = %self.path.display(), "resolv.conf changed: name servers read again");
                        state.client = Arc::new(client);
                    }
                    Err(problem) => tracing::warn!(
                        path = %self.path.display(),
                        %problem,
                        "resolv.conf changed but cannot be used: keeping the name servers read before"
                    ),
                }
            }
        }
        state.client.clone()
    }
}

fn build(
    path: &Path,
    port: u16,
    query_timeout: Duration,
    recursion: bool,
) -> Result<Client, String> {
    let (servers, mut options) = servers(path, port)?;
    // resolv.conf's timeout, within the probe's budget for one attempt.
    options.timeout = options.timeout.min(query_timeout);
    Ok(Client::new(servers, options, recursion))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::gather::dns::answer::tests::{a, pick_a, response};
    use crate::gather::dns::lookup;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn servers_and_options() {
        let (servers, options) = parse(
            b"search corp.example\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver 192.0.2.1\noptions timeout:1 attempts:3 rotate\n",
            5353,
        )
        .unwrap();
        assert_eq!(
            servers,
            vec![sa("192.0.2.1:5353"), sa("[2001:db8::1]:5353")]
        );
        let want = Options {
            timeout: Duration::from_secs(1),
            attempts: 3,
            rotate: true,
        };
        assert_eq!(options, want);
        // glibc's defaults; attempts capped at 5 and timeout at 30 s as glibc does.
        let (_, options) =
            parse(b"nameserver 192.0.2.1\noptions attempts:9 timeout:99\n", 53).unwrap();
        let want = Options {
            timeout: Duration::from_secs(30),
            attempts: 5,
            rotate: false,
        };
        assert_eq!(options, want);
        assert_eq!(parse(b"search x\n", 53), Err("no name server".into()));
    }

    /// What glibc ignores is no error: unknown options and keywords, comments, a line not
    /// starting with its keyword, trailing words, a value that is no address.
    #[test]
    fn unknown_options_and_lines_are_ignored() {
        let text = b"# generated\n; comment\noptions edns0 trust-ad ndots:2 no-such-option single-request-reopen timeout:2\nsortlist 130.155.160.0/255.255.240.0\nlookup file bind\nnameserver 192.0.2.1 # the first\n nameserver 192.0.2.9\nnameserver\tnot-an-address\nnameserver 192.0.2.2\r\noptions rotate attempts:x\n";
        let (servers, options) = parse(text, 53).unwrap();
        assert_eq!(servers, vec![sa("192.0.2.1:53"), sa("192.0.2.2:53")]);
        let want = Options {
            timeout: Duration::from_secs(2),
            attempts: 1,
            rotate: true,
        };
        assert_eq!(options, want);
    }

    /// A link-local name server keeps its scope: by interface name (loopback `lo` is index 1
    /// on Linux, looked up, not assumed) or by index.
    #[test]
    fn ipv6_scope_ids_are_kept() {
        let lo = scope_id("lo");
        assert_ne!(lo, 0, "the loopback interface has an index");
        let (servers, _) = parse(
            b"nameserver fe80::1%lo\nnameserver fe80::2%7\nnameserver fe80::3%no-such-if0\n",
            53,
        )
        .unwrap();
        let scopes: Vec<(String, u32)> = servers
            .iter()
            .map(|s| match s {
                SocketAddr::V6(v6) => (v6.ip().to_string(), v6.scope_id()),
                SocketAddr::V4(v4) => (v4.ip().to_string(), 0),
            })
            .collect();
        assert_eq!(
            scopes,
            vec![
                ("fe80::1".to_string(), lo),
                ("fe80::2".to_string(), 7),
                ("fe80::3".to_string(), 0)
            ]
        );
    }

    /// Two name servers on loopback, one port: 127.0.0.1 answers 192.0.2.1, 127.0.0.2 answers
    /// 192.0.2.2.
    async fn two_servers() -> u16 {
        loop {
            let one = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = one.local_addr().unwrap().port();
            let Ok(two) = tokio::net::UdpSocket::bind(("127.0.0.2", port)).await else {
                continue;
            };
            for (socket, last) in [(one, 1), (two, 2)] {
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                        let Ok(q) = Message::from_vec(&buf[..n]) else {
                            continue;
                        };
                        let ip = vec![a("x.test", Ipv4Addr::new(192, 0, 2, last))];
                        let r = response(&q, ResponseCode::NoError, ip).to_vec().unwrap();
                        let _ = socket.send_to(&r, from).await;
                    }
                });
            }
            return port;
        }
    }

    /// The file replaced (by rename, as resolvconf does) or rewritten in place: the next query
    /// after the recheck goes to the new name server; a broken new file keeps the old one.
    #[tokio::test]
    async fn a_changed_file_is_read_again() {
        let port = two_servers().await;
        let dir = std::env::temp_dir().join(format!("sipfed-resolv-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "nameserver 127.0.0.1\noptions timeout:1\n").unwrap();
        let mut system = System::new(path.clone(), port, Duration::from_secs(1), true).unwrap();
        system.recheck = Duration::ZERO;
        let ask = |system: &System| {
            let client = system.client();
            async move { lookup(&client, "x.test", RecordType::A, pick_a).await.0 }
        };
        assert_eq!(ask(&system).await, Ok(vec![Ipv4Addr::new(192, 0, 2, 1)]));
        // Replaced by rename: another inode.
        let next = dir.join("resolv.conf.new");
        std::fs::write(&next, "nameserver 127.0.0.2\noptions timeout:1\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(ask(&system).await, Ok(vec![Ipv4Addr::new(192, 0, 2, 2)]));
        // Rewritten in place (same inode, other size).
        std::fs::write(&path, "nameserver 127.0.0.1\noptions timeout:1 rotate\n").unwrap();
        assert_eq!(ask(&system).await, Ok(vec![Ipv4Addr::new(192, 0, 2, 1)]));
        // A file without name servers keeps the last good ones.
        std::fs::write(&path, "# emptied\n").unwrap();
        assert_eq!(ask(&system).await, Ok(vec![Ipv4Addr::new(192, 0, 2, 1)]));
        // Without a change, the client is the same one (no re-read).
        assert!(Arc::ptr_eq(&system.client(), &system.client()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
