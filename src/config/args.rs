//! The command line side: one flag per key, spelled from the key by [`flag_name`], with the
//! `--help` text of [`KEYS`]. clap only collects the flags as text; parsing and validation
//! happen in the layering, the same way for every layer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// Environment variable naming the TOML file, like `--config`.
const CONFIG_ENV: &str = "CW_SIDECAR_CONFIG";

/// Prefix of every key's environment variable.
const ENV_PREFIX: &str = "CW_SIDECAR_";

/// Every key settable by flag and environment variable, as written in the file (`section.key`
/// inside a section), with its `--help` text. A key missing here is still a file key.
pub(super) const KEYS: &[(&str, &str)] = &[
    ("listen", "Address to listen on [default: 127.0.0.1:25889]"),
    ("namespace", "Namespace for records that name none (no default: such records are rejected)"),
    ("default_dimensions", "Dimensions added to every record, as K=V,K=V (a record's own value wins)"),
    ("flush_interval", "How often closed windows are published [default: 60s, minimum 1s]"),
    ("window_grace", "How long after its end a window waits for stragglers before it closes [default: 2s]"),
    ("max_buffered_datums", "Bound on buffered output datums; ingest answers 503 beyond it [default: 100000]"),
    ("metric_series_warning", "Log once when a metric has more active series than this [default: 1000]"),
    ("max_put_requests_per_second", "Upper bound on PutMetricData calls per second [default: 20]"),
    ("max_body_bytes", "Largest accepted request body, also after decompression [default: 5MiB]"),
    (
        "max_body_bytes_in_flight",
        "Bound on request body bytes held at once, over all requests; 503 beyond [default: 64MiB]",
    ),
    ("max_header_bytes", "Largest request head (request line and headers); 431 beyond [default: 16KiB]"),
    ("max_connections", "Bound on open HTTP connections, capped by the open-files limit [default: 512]"),
    ("header_read_timeout", "Time a request head may take [default: 10s]"),
    ("body_read_timeout", "Time a request body may take after its head; 408 beyond [default: 30s]"),
    ("idle_timeout", "Time a kept-alive connection may wait for its next request [default: 120s]"),
    ("shutdown_timeout", "How long shutdown and /v1/flush wait for publishing [default: 20s]"),
    ("publish_timeout", "Timeout of one PutMetricData attempt [default: 10s]"),
    ("self_metrics_namespace", "Namespace of the sidecar's own metrics; empty disables them [default: CWSidecar]"),
    ("auth_token", "When set, ingest requires `Authorization: Bearer <token>` (must not be empty)"),
    ("auth_token_file", "File holding the auth token (trailing newline trimmed); keeps it out of `ps`"),
    ("integer_timestamps", "Send timestamps as CBOR integers (emulators): auto, true or false [default: auto]"),
    ("log_format", "Log lines on stderr as text or json (one object per line) [default: text]"),
    ("statsd.enabled", "Listen for StatsD on 127.0.0.1:8125, UDP and TCP, unless addresses are set [default: false]"),
    ("statsd.udp_address", "StatsD UDP address (off unless set or statsd.enabled)"),
    ("statsd.tcp_address", "StatsD TCP address (off unless set or statsd.enabled)"),
    ("statsd.receive_buffer_bytes", "SO_RCVBUF of the StatsD UDP socket [default: 4MiB, capped by net.core.rmem_max]"),
    ("statsd.namespace", "Namespace of StatsD metrics [default: namespace]"),
    ("statsd.units", "CloudWatch unit per StatsD metric name, as name=Unit,name=Unit"),
    ("statsd.gauge_idle_timeout", "A StatsD gauge's last value is forgotten after this idle time [default: 1h]"),
    ("statsd.dots_to_underscores", "Rewrite `.` to `_` in StatsD names, as the CloudWatch agent does [default: false]"),
    ("emf.enabled", "Listen for EMF on 127.0.0.1:25888, UDP and TCP, unless addresses are set [default: false]"),
    ("emf.udp_address", "EMF UDP address (off unless set or emf.enabled)"),
    ("emf.tcp_address", "EMF TCP address (off unless set or emf.enabled)"),
    ("emf.receive_buffer_bytes", "SO_RCVBUF of the EMF UDP socket [default: 4MiB, capped by net.core.rmem_max]"),
    ("emf.namespace", "Namespace of EMF directives that name none [default: namespace]"),
    ("otlp.enabled", "Listen for OTLP/HTTP on 127.0.0.1:4318 unless otlp.listen is set [default: false]"),
    ("otlp.listen", "Address of the OTLP/HTTP listener (off unless set or otlp.enabled)"),
    ("otlp.namespace", "Namespace of OTLP metrics [default: namespace]"),
    ("otlp.resource_dimensions", "Resource attributes kept as dimensions, as a,b [default: service.name]"),
    ("otlp.max_streams", "Bound on cumulative OTLP streams remembered [default: 100000]"),
    ("otlp.stream_idle_timeout", "A cumulative OTLP stream is forgotten after this idle time [default: 1h]"),
    ("scrape.targets", "Prometheus targets to scrape, as http://host:port/path,... (off unless set)"),
    ("scrape.interval", "Time between scrapes of a target [default: 15s]"),
    ("scrape.timeout", "Time a scrape may take, at most the interval [default: 5s]"),
    ("scrape.namespace", "Namespace of scraped metrics [default: namespace]"),
    ("scrape.include", "Glob patterns of the families to publish, as a,b [default: *]"),
    ("scrape.exclude", "Glob patterns of families not to publish, as a,b (added to the runtime ones)"),
    ("scrape.exclude_runtime", "Exclude go_*, process_*, python_gc_*, python_info, promhttp_* [default: true]"),
    ("scrape.drop_labels", "Labels never published as dimensions (their series merge), as a,b"),
    ("scrape.keep_labels", "When set, the only labels published as dimensions, as a,b"),
    ("scrape.max_series_per_target", "Bound on the series one target publishes [default: 1000]"),
    ("scrape.family_series_warning", "Log once when a family has more series than this [default: 100]"),
    ("scrape.max_response_bytes", "Largest answer of a target, also after decompression [default: 10MiB]"),
    ("spool.dir", "Directory of the disk spool: what is acknowledged survives a crash (off unless set)"),
    ("spool.max_bytes", "Bound on the spool's files; ingest answers 503 beyond it [default: 1GiB]"),
    (
        "spool.sync",
        "always (acknowledge after fsync, group-committed) or periodic (fsync every second) [default: always]",
    ),
];

/// Keys whose values are never shown, not even in error messages.
pub(super) const SECRET_KEYS: &[&str] = &["auth_token"];

/// The flag of a key: `flush_interval` is `--flush-interval`, `statsd.address` `--statsd-address`.
pub(super) fn flag_name(key: &str) -> String {
    format!("--{}", key.replace(['.', '_'], "-"))
}

/// The environment variable of a key: `flush_interval` is `CW_SIDECAR_FLUSH_INTERVAL`, and a
/// section's `statsd.address` is `CW_SIDECAR_STATSD__ADDRESS` (two underscores between section
/// and key, as keys themselves contain one).
pub(super) fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Where the configuration comes from: a TOML file, and the keys given as flags. The binary
/// flattens this into its command line; environment variables are read by
/// [`Config::load`](super::Config::load).
#[derive(Debug, Default, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file (`--config FILE` or `CW_SIDECAR_CONFIG`).
    pub config: Option<PathBuf>,
    /// Keys given as flags, by key as written in the file, each with its text as typed.
    pub flags: BTreeMap<String, String>,
}

/// A key's flag (without the dashes), placeholder and `--help` text, built once: clap wants
/// `&'static str`.
struct FlagSpec {
    key: &'static str,
    long: String,
    value_name: String,
    help: String,
}

static FLAGS: LazyLock<Vec<FlagSpec>> = LazyLock::new(|| {
    KEYS.iter()
        .map(|&(key, help)| FlagSpec {
            key,
            long: flag_name(key).trim_start_matches('-').to_string(),
            value_name: key.replace('.', "_").to_ascii_uppercase(),
            help: format!("{help} [env: {}]", env_name(key)),
        })
        .collect()
});

impl Args for ConfigArgs {
    fn augment_args(cmd: Command) -> Command {
        let config = Arg::new("config")
            .long("config")
            .env(CONFIG_ENV)
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .action(ArgAction::Set)
            .help("TOML configuration file (keys as in the README's table)");
        cmd.arg(config).args(FLAGS.iter().map(|flag| {
            Arg::new(flag.key)
                .long(flag.long.as_str())
                .value_name(flag.value_name.as_str())
                .value_parser(clap::value_parser!(String))
                .action(ArgAction::Set)
                .help(flag.help.as_str())
        }))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ConfigArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(path) = matches.get_one::<PathBuf>("config") {
            self.config = Some(path.clone());
        }
        for &(key, _) in KEYS {
            if let Some(value) = matches.get_one::<String>(key) {
                self.flags.insert(key.to_string(), value.clone());
            }
        }
        Ok(())
    }
}
