//! The `sipfed_exporter` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sipfed_exporter::config::{self, Config, Role, Selection, Shard};
use sipfed_exporter::expose::http::Routes;
use sipfed_exporter::expose::webconfig::LiveWebConfig;
use sipfed_exporter::expose::{checklist, server};
use sipfed_exporter::store::{self, Setup, Store};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "sipfed_exporter",
    version,
    about = "Prometheus exporter for SIP federation health (DNS, reachability, certificates, Microsoft Teams pitfalls)"
)]
struct Cli {
    #[arg(long = "config.file", default_value = "sipfed.yml", global = true)]
    config_file: PathBuf,
    /// Address to listen on (repeatable: serve on all).
    /// Not global: `check` and `config check` serve nothing, their help does not offer it.
    #[arg(long = "web.listen-address", default_value = ":9861")]
    listen: Vec<String>,
    /// Exporter-toolkit web configuration (TLS, basic auth, headers); re-read when it changes.
    #[arg(long = "web.config.file")]
    web_config: Option<PathBuf>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// Connections served at once over all listeners; more wait to be accepted.
    #[arg(long = "web.max-connections", default_value_t = 512)]
    max_connections: usize,
    /// Connections served at once from one source address; more from it are closed at once.
    #[arg(long = "web.max-connections-per-address", default_value_t = 64)]
    max_connections_per_address: usize,
    /// Allow POST /-/reload (SIGHUP always reloads).
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Serve on the sockets systemd passes (LISTEN_FDS) instead of --web.listen-address.
    #[arg(long = "web.systemd-socket")]
    systemd_socket: bool,
    /// Path prefix every endpoint answers under (default: the path of --web.external-url).
    #[arg(long = "web.route-prefix")]
    route_prefix: Option<String>,
    /// The URL users reach the exporter at (e.g. behind a reverse proxy); links carry its path.
    #[arg(long = "web.external-url")]
    external_url: Option<String>,
    /// Probe only from these vantages (repeatable).
    #[arg(long = "vantage")]
    vantage: Vec<String>,
    /// Probe only shard I of N (0-based), e.g. 0/3: domains are split by a hash of tenant and name.
    #[arg(long = "shard")]
    shard: Option<Shard>,
    /// Only messages at this level or above (an unknown level is a usage error, as in the toolkit).
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    log_level: LogLevel,
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// One-shot checklist; exit 0 ok, 1 warning, 2 critical.
    Check {
        domains: Vec<String>,
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// Resolver to ask (repeatable): IP or IP:PORT; replaces the configured ones.
        #[arg(long)]
        resolver: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Print the facts behind the verdicts under each domain (text output).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Start the built-in lab world and the exporter probing it (no network needed).
    /// A production build (without the `lab` feature) has no lab: there the command is hidden
    /// and says how to get it.
    #[cfg_attr(not(feature = "lab"), command(hide = true))]
    Demo {
        /// Add N healthy domains on a few shared edges (a fleet, for the pages at scale).
        #[arg(long, default_value_t = 0)]
        fleet: usize,
        /// Address to serve the demo on; loopback unless told otherwise (it is a lab, not a
        /// service for the whole network).
        #[arg(long = "web.listen-address", default_value = "127.0.0.1:9861")]
        listen: String,
        /// Also write the demo's configuration to this path and serve from it (a path of your
        /// choosing for `check --config.file=`; valid while the demo runs).
        #[arg(long = "write-config")]
        write_config: Option<PathBuf>,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print problems with file:line.
    Check,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Exit codes 1 and 2 mean findings for `check`; usage errors get their own.
            return if e.use_stderr() {
                ExitCode::from(64)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    sipfed_exporter::logging::init(
        cli.log_level.as_str(),
        matches!(cli.log_format, LogFormat::Json),
    );
    #[cfg(unix)]
    match server::raise_fd_limit() {
        Ok((old, new)) if old != new => {
            tracing::debug!(old, new, "raised the soft limit on open files")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the limit on open files"),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        #[cfg(not(feature = "lab"))]
        Some(Command::Demo { .. }) => {
            eprintln!(
                "error: this is the production build, without the lab: the demo needs \
                 `cargo run --release --features lab -- demo`"
            );
            Ok(64)
        }
        #[cfg(feature = "lab")]
        Some(Command::Demo {
            fleet,
            ref listen,
            ref write_config,
        }) => {
            let shutdown = CancellationToken::new();
            let config = write_config.as_deref();
            sipfed_exporter::lab::demo::run(listen, fleet, config, shutdown).await?;
            Ok(0)
        }
        Some(Command::Config {
            command: ConfigCommand::Check,
        }) => Ok(check_config(&cli)),
        Some(Command::Check {
            domains,
            role,
            resolver,
            output,
            verbose,
        }) => {
            let config = if cli.config_file.exists() {
                Config::load(&cli.config_file)?
            } else if domains.is_empty() {
                anyhow::bail!(
                    "{}: not found; name domains to check or give --config.file",
                    cli.config_file.display()
                );
            } else {
                Config::parse(&cli.config_file, "{}")?
            };
            let resolvers = resolver
                .iter()
                .map(|r| config::parse_resolver(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            let checked = store::check::run(store::check::Request {
                config,
                domains,
                role,
                resolvers,
            })
            .await?;
            let (reports, verdicts) = (&checked.reports, &checked.verdicts);
            let status = checklist::exit_status(reports);
            match output {
                Output::Text => {
                    use std::io::IsTerminal;
                    let style = checklist::TextStyle::detect(
                        verbose,
                        std::io::stdout().is_terminal(),
                        std::env::var_os("NO_COLOR").as_deref(),
                    );
                    let now = sipfed_exporter::facts::unix(std::time::SystemTime::now()) as i64;
                    print!("{}", checklist::styled(reports, verdicts, style, now))
                }
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&checklist::json(reports, verdicts))?
                ),
            }
            Ok(status as u8)
        }
        None => serve(cli).await,
    }
}

/// `config check`: loads the configuration and builds everything from it, as serving would;
/// the exit status says whether it is usable.
fn check_config(cli: &Cli) -> u8 {
    match Config::load(&cli.config_file).and_then(|c| Setup::new(c.clone()).map(|s| (c, s))) {
        Ok((c, setup)) => {
            let identities = setup.prober.identities();
            for w in sipfed_exporter::gather::identity::sip_from_warnings(&c, identities) {
                eprintln!("{}: warning: {w}", cli.config_file.display());
            }
            let n = |count: usize, one: &str| match count {
                1 => format!("1 {one}"),
                n => format!("{n} {one}s"),
            };
            println!(
                "{}: ok ({}, {})",
                cli.config_file.display(),
                n(c.domains.len(), "domain"),
                n(c.vantages.len(), "vantage")
            );
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The listening sockets systemd passes (socket activation, sd_listen_fds(3)): fds 3 … 3+N-1
/// when `LISTEN_PID` is this process and `LISTEN_FDS` is N, as the toolkit's
/// `--web.systemd-socket` (go-systemd's activation.Listeners) takes them; the variables are
/// removed so children do not take them too.
#[cfg(unix)]
fn systemd_listeners() -> anyhow::Result<Vec<tokio::net::TcpListener>> {
    use std::os::fd::FromRawFd;
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    // SAFETY: no other thread reads or writes the environment yet (the runtime's workers
    // do not touch it).
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    let ours = pid.and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let n = fds.and_then(|n| n.parse::<i32>().ok()).unwrap_or(0);
    if !ours || n < 1 {
        anyhow::bail!(
            "--web.systemd-socket: no socket activation file descriptors found (LISTEN_PID must be this process, LISTEN_FDS at least 1)"
        );
    }
    let mut listeners = Vec::new();
    for fd in 3..3 + n {
        // SAFETY: sd_listen_fds(3): systemd hands this process fds 3 … 3+N-1 to own; each
        // is taken once, here.
        let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
        let kind = socket
            .r#type()
            .map_err(|e| anyhow::anyhow!("--web.systemd-socket: fd {fd} is not a socket: {e}"))?;
        if kind != socket2::Type::STREAM || !socket.is_listener().unwrap_or(false) {
            anyhow::bail!("--web.systemd-socket: fd {fd} is not a listening stream socket");
        }
        socket.set_cloexec(true)?;
        socket.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(socket.into())?;
        tracing::info!(address = ?listener.local_addr().ok(), "listening on a systemd socket");
        listeners.push(listener);
    }
    Ok(listeners)
}

#[cfg(not(unix))]
fn systemd_listeners() -> anyhow::Result<Vec<tokio::net::TcpListener>> {
    anyhow::bail!("--web.systemd-socket needs a unix system")
}

/// Serves `/metrics`, the pages and the API until stopped.
async fn serve(cli: Cli) -> anyhow::Result<u8> {
    let web = match &cli.web_config {
        Some(path) => Some(LiveWebConfig::watch(path)?),
        None => None,
    };
    let routes = Routes {
        telemetry_path: cli.telemetry_path.clone(),
        enable_lifecycle: cli.enable_lifecycle,
        route_prefix: cli.route_prefix.clone(),
        external_url: cli.external_url.clone(),
        ..Routes::default()
    };
    routes.check().map_err(anyhow::Error::msg)?;
    let selection = Selection {
        vantages: cli.vantage.clone(),
        shard: cli.shard,
    };
    let mut config = Config::load(&cli.config_file)?;
    config.select(&selection)?;
    let store = Store::new(
        Setup::new(config)?,
        Some(cli.config_file.clone()),
        selection,
    );
    let mut listeners = Vec::new();
    if cli.systemd_socket {
        listeners = systemd_listeners()?;
    }
    for listen in cli.listen.iter().filter(|_| !cli.systemd_socket) {
        let addr = server::parse_listen(listen).map_err(anyhow::Error::msg)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        listeners.push(listener);
    }
    let options = server::Options {
        web,
        routes,
        limits: server::Limits {
            max_connections: cli.max_connections.max(1),
            max_connections_per_address: cli.max_connections_per_address.max(1),
            ..server::Limits::default()
        },
    };
    server::run_with(store, listeners, options, CancellationToken::new()).await?;
    Ok(0)
}
