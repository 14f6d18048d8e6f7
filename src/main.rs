//! The `cw-sidecar` binary: parse flags, set up logging, run the app until SIGTERM/SIGINT.
//! The traffic generator lives here too: it is a client of the sidecar, not part of it.

mod traffic;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cw_sidecar::app::App;
use cw_sidecar::config::{Config, ConfigArgs, LogFormat};
use cw_sidecar::publish::sink::Sink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Command line. Every configuration key is also a flag and an environment variable.
#[derive(Debug, Parser)]
#[command(name = "cw-sidecar", version, about = "A local CloudWatch metrics publisher sidecar")]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Print each PutMetricData request as a JSON line on stdout instead of calling AWS.
    #[arg(long)]
    dry_run: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Exit 0 when the sidecar at `listen` answers `GET /healthz` (for container HEALTHCHECK).
    Healthcheck,
    /// Print what a running sidecar's series and calls come to a month (`GET /v1/cost`), as a
    /// table.
    Cost {
        /// The sidecar's address, `http://HOST:PORT` (default: `listen`); a path other than
        /// `/` is asked in place of `/v1/cost`.
        #[arg(long)]
        url: Option<String>,
        /// Print the JSON answer as it is.
        #[arg(long)]
        json: bool,
    },
    /// Generate traffic like a web service's (the metric contract) against a sidecar; prints a
    /// JSON summary on stdout.
    Traffic(Box<traffic::TrafficArgs>),
    /// The metric catalog (metrics.yaml): check one, print its JSON Schema.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// About the configuration itself.
    Config {
        /// Print every key at its default, with its documentation, as a TOML file.
        #[arg(long)]
        print_defaults: bool,
    },
}
#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Check a catalog: exit 0 when it is valid, else print every error (FILE:LINE: ...) and
    /// exit 1.
    Check {
        /// The catalog's YAML file.
        file: std::path::PathBuf,
    },
    /// Print the catalog's JSON Schema (docs/catalog.schema.json).
    Schema,
    /// Print a starting catalog from the series a running sidecar has seen (`GET /v1/series`).
    Suggest {
        /// The sidecar's address, `http://HOST:PORT` (default: `listen`).
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = match cli.command.take() {
        // The generator is a client: it needs none of the sidecar's configuration.
        Some(Command::Traffic(args)) => {
            init_logging(LogFormat::Text);
            runtime.block_on(traffic(*args))
        }
        // About a catalog file, whatever the configuration at hand says.
        Some(Command::Catalog(CatalogCommand::Schema)) => {
            print!("{}", cw_sidecar::catalog::schema());
            return ExitCode::SUCCESS;
        }
        Some(Command::Catalog(CatalogCommand::Check { file })) => match cw_sidecar::catalog::read(&file) {
            Ok(c) => {
                let (alarms, widgets) =
                    (c.alarms.len(), c.dashboard.iter().flat_map(|d| &d.rows).map(|r| r.widgets.len()).sum::<usize>());
                println!("{}: valid: {} metrics, {alarms} alarms, {widgets} widgets", file.display(), c.metrics.len());
                return ExitCode::SUCCESS;
            }
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        },
        // About the keys, whatever the configuration at hand says.
        Some(Command::Config { print_defaults }) => {
            if !print_defaults {
                eprintln!("cw-sidecar config: say what to print (--print-defaults)");
                return ExitCode::from(2);
            }
            print!("{}", cw_sidecar::config::docs::print_defaults());
            return ExitCode::SUCCESS;
        }
        // Logging is set up once the configuration says how; an invalid configuration is
        // reported on stderr as it is, before any logging exists.
        command => match Config::load(&cli.config) {
            Err(e) => {
                eprintln!("cw-sidecar: {e}");
                return ExitCode::from(2);
            }
            Ok(config) if cli.print_config => {
                print!("{}", config.to_toml());
                return ExitCode::SUCCESS;
            }
            Ok(config) => {
                init_logging(config.log_format);
                match command {
                    Some(Command::Healthcheck) => runtime.block_on(healthcheck(&config)),
                    Some(Command::Cost { url, json }) => runtime.block_on(cost(&config, url.as_deref(), json)),
                    Some(Command::Catalog(CatalogCommand::Suggest { url })) => {
                        runtime.block_on(suggest(&config, url.as_deref()))
                    }
                    _ => runtime.block_on(serve(config, cli.dry_run)),
                }
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cw-sidecar: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (in dry-run, stdout carries only the requests), filtered by `RUST_LOG`
/// (default `info`): as text, or as one JSON object per line with the event's fields at the
/// top level. JSON escapes every string; text only neutralises terminal escape sequences, so
/// anything a client chose is logged with `?` (Debug, quoted and escaped), never with `%`.
fn init_logging(format: LogFormat) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Without a region, the SDK's region chain warns of each failed IMDS attempt with a raw
    // dump of the error, before our own "no AWS region configured" says it plainly; quiet
    // unless RUST_LOG asks about aws_config.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("aws_config")) {
        filter = filter.add_directive("aws_config::imds::region=error".parse().expect("a valid directive"));
    }
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

async fn traffic(args: traffic::TrafficArgs) -> anyhow::Result<ExitCode> {
    let summary = traffic::run(args).await?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config, dry_run: bool) -> anyhow::Result<ExitCode> {
    // Installed before anything is served: a SIGTERM right after /readyz answers must start
    // the shutdown, not end the process unhandled.
    let shutdown = shutdown_signal()?;
    let sink = if dry_run {
        tracing::info!("dry run: requests are printed on stdout, nothing is sent to AWS");
        Sink::DryRun
    } else {
        Sink::from_environment(config.publish_timeout, config.integer_timestamps).await?
    };
    // Each error says what failed: an address that cannot be listened on, the spool's lock, ...
    let app = App::build(config, sink).await.context("cannot start")?;
    let report = app.run_until_stopped(shutdown).await?;
    Ok(if report.complete() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Resolves on SIGTERM or SIGINT; both handlers are installed when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// The configured `listen` address as a client reaches it.
fn local_address(config: &Config) -> std::net::SocketAddr {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// `GET path` on `addr` over HTTP/1.1 within 3 s: the status code and the body.
async fn get(addr: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = match tokio::time::timeout(Duration::from_secs(3), exchange).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => anyhow::bail!("cannot reach {addr}: {e}"),
        Err(_) => anyhow::bail!("{addr} did not answer {path} within 3s"),
    };
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").context("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("the answer has no status")?;
    let body = &response[end + 4..];
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_vec() };
    Ok((status, body))
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0 && eol + 2 + n <= body.len()) else { break };
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = body.get(eol + 4 + size..).unwrap_or_default();
    }
    out
}

/// `GET /healthz` on the configured address, for a container HEALTHCHECK without curl.
async fn healthcheck(config: &Config) -> anyhow::Result<ExitCode> {
    let addr = local_address(config).to_string();
    match get(&addr, "/healthz").await? {
        (200, _) => Ok(ExitCode::SUCCESS),
        _ => anyhow::bail!("{addr} answered /healthz with an error"),
    }
}

/// `GET /v1/series` of a running sidecar, printed as a starting catalog.
async fn suggest(config: &Config, url: Option<&str>) -> anyhow::Result<ExitCode> {
    let (addr, path) = address(config, url, "/v1/series")?;
    let (status, body) = get(&addr, &path).await?;
    if status != 200 {
        anyhow::bail!("{addr} answered {path} with {status}: {}", String::from_utf8_lossy(&body));
    }
    let series: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("{addr} answered {path} with no JSON"))?;
    print!("{}", cw_sidecar::catalog::suggest(&series).map_err(|e| anyhow::anyhow!("{addr} answered {path}: {e}"))?);
    Ok(ExitCode::SUCCESS)
}

/// The address and path to ask: `--url http://HOST:PORT[/PATH]`, or `listen` and `default`.
fn address(config: &Config, url: Option<&str>, default: &str) -> anyhow::Result<(String, String)> {
    Ok(match url {
        None => (local_address(config).to_string(), default.to_string()),
        Some(url) => {
            let rest =
                url.strip_prefix("http://").with_context(|| format!("--url {url:?}: expected http://HOST:PORT"))?;
            match rest.split_once('/') {
                Some((addr, path)) if !path.is_empty() => (addr.to_string(), format!("/{path}")),
                Some((addr, _)) => (addr.to_string(), default.to_string()),
                None => (rest.to_string(), default.to_string()),
            }
        }
    })
}

/// `GET /v1/cost` of a running sidecar, printed as a table (or as it is, with `--json`).
async fn cost(config: &Config, url: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let (addr, path) = address(config, url, "/v1/cost")?;
    let (status, body) = get(&addr, &path).await?;
    if status != 200 {
        anyhow::bail!("{addr} answered {path} with {status}: {}", String::from_utf8_lossy(&body));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("{addr} answered {path} with no JSON"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", cw_sidecar::cost::table(&report));
    }
    Ok(ExitCode::SUCCESS)
}
