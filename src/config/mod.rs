//! Configuration, layered: flag beats `CW_SIDECAR_<KEY>` env beats TOML file beats default.
//!
//! [`Config`] is the single description of the keys: its serde attributes say how each value
//! is read and printed, its [`Default`] gives the defaults, and `deny_unknown_fields` refuses
//! keys it does not know. Each layer (the file named by `--config FILE` or
//! `CW_SIDECAR_CONFIG`, the environment, the flags) becomes a table tagged with where it came
//! from; [figment] merges them and deserializes the result. Values are human strings in every
//! layer (`60s`, `500ms`, `5MiB`, `K=V,K=V`, `auto`); one `deserialize_with` function per key
//! (in `rules`) parses a value and says what is allowed, so an invalid value is reported the
//! same way whichever layer it came from, naming the key, the layer and the rule:
//!
//! ```text
//! invalid value "500ms" for `flush_interval` (from environment variable CW_SIDECAR_FLUSH_INTERVAL): must be at least 1s
//! ```
//!
//! # Keys, flags and environment variables
//!
//! A key is its name in the file: `flush_interval` at the top level, `address` in a section
//! `[statsd]`, written `statsd.address`. Its flag replaces dots and underscores by dashes;
//! its environment variable is `CW_SIDECAR_` and the key in capitals, with `__` (two
//! underscores) between section and key:
//!
//! | file | flag | environment variable |
//! |---|---|---|
//! | `flush_interval = "60s"` | `--flush-interval 60s` | `CW_SIDECAR_FLUSH_INTERVAL=60s` |
//! | `[statsd]` `address = "…"` | `--statsd-address …` | `CW_SIDECAR_STATSD__ADDRESS=…` |
//!
//! Only the keys listed in `args::KEYS` are read from the environment, so other
//! `CW_SIDECAR_*` variables (`CW_SIDECAR_E2E` of the tests, `CW_SIDECAR_URL` of clients) are
//! left alone.
//!
//! # Adding a section
//!
//! A section such as `[statsd]` is a struct like [`Config`]: `#[derive(Serialize,
//! Deserialize)]` with `#[serde(default, deny_unknown_fields)]`, a doc comment and (where a
//! rule applies) a `deserialize_with` on every field, and a [`Default`]. It joins as one field
//! of [`Config`] (`pub statsd: StatsdConfig`) and one line per key in `args::KEYS`
//! (`("statsd.address", "help text")`), which gives the key its flag and variable.

mod args;
mod emf;
mod error;
mod human;
mod load;
mod otlp;
mod rules;
mod scrape;
mod spool;
mod statsd;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use args::ConfigArgs;
pub use emf::EmfConfig;
pub use error::ConfigError;
pub use otlp::OtlpConfig;
pub use scrape::{ScrapeConfig, TargetConfig};
pub use spool::{SpoolConfig, SyncPolicy};
pub use statsd::StatsdConfig;

/// The effective configuration; also the shape of the TOML file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    #[serde(deserialize_with = "rules::listen")]
    pub listen: SocketAddr,
    /// Namespace for records that name none; `None` (or empty) means such records are rejected.
    #[serde(deserialize_with = "rules::namespace", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Dimensions merged into every record (and the self metrics' only dimensions): `K=V,K=V`
    /// in env and flags, a table in the file; at most 30.
    #[serde(deserialize_with = "rules::default_dimensions")]
    pub default_dimensions: BTreeMap<String, String>,
    /// Period of the flush that publishes closed windows; at least 1s.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::flush_interval")]
    pub flush_interval: Duration,
    /// Time a window stays open past its end for late records; at most 60s.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::window_grace")]
    pub window_grace: Duration,
    /// Bound on datums in memory: unpublished ones and those open windows will make (1 to 100000000).
    #[serde(deserialize_with = "rules::max_buffered_datums")]
    pub max_buffered_datums: usize,
    /// A metric (namespace and name) with more active series than this is logged, once: each
    /// series is a billed custom metric (1 to 100000000).
    #[serde(deserialize_with = "rules::metric_series_warning")]
    pub metric_series_warning: usize,
    /// Rate limit on PutMetricData calls, lowered on throttling, then recovers (1 to 10000).
    #[serde(deserialize_with = "rules::max_put_requests_per_second")]
    pub max_put_requests_per_second: u32,
    /// Largest request body accepted, before and after decompression; 1KiB to 1GiB.
    #[serde(serialize_with = "human::print::size", deserialize_with = "rules::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Bound on the bytes of request bodies held in memory at once, over all requests (bodies
    /// draw from it as their bytes arrive; ingest answers 503 when it is spent); at least
    /// `max_body_bytes`, at most 64GiB.
    #[serde(serialize_with = "human::print::size", deserialize_with = "rules::max_body_bytes_in_flight")]
    pub max_body_bytes_in_flight: usize,
    /// Largest request head (request line and headers); 1KiB to 1MiB. Larger is answered 431.
    #[serde(serialize_with = "human::print::size", deserialize_with = "rules::max_header_bytes")]
    pub max_header_bytes: usize,
    /// Bound on open HTTP connections (1 to 1000000); further ones are closed at once. Capped
    /// at startup to the open-files limit (RLIMIT_NOFILE) minus descriptors kept for publishing.
    #[serde(deserialize_with = "rules::max_connections")]
    pub max_connections: usize,
    /// Time a request head may take, from the connection's start or the first byte of the
    /// request; at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    pub header_read_timeout: Duration,
    /// Time a request body may take, from its head; answered 408 beyond; at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    pub body_read_timeout: Duration,
    /// Time a kept-alive connection may wait for the first byte of its next request; at least
    /// 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    pub idle_timeout: Duration,
    /// Upper bound on how long shutdown and `/v1/flush` wait for publishing.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::shutdown_timeout")]
    pub shutdown_timeout: Duration,
    /// Timeout of a single PutMetricData attempt (the SDK's own retries are off); at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::publish_timeout")]
    pub publish_timeout: Duration,
    /// Namespace of the self metrics; empty disables them.
    #[serde(deserialize_with = "rules::self_metrics_namespace")]
    pub self_metrics_namespace: String,
    /// Bearer token required on ingest when set (printed redacted). Never empty: an empty
    /// value is refused rather than taken as "no authentication".
    #[serde(
        serialize_with = "human::print::redacted",
        deserialize_with = "rules::auth_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_token: Option<String>,
    /// File holding the bearer token, so that it does not show in the process list; read by
    /// [`Config::load`] into `auth_token` (trailing newline trimmed). Relative to the working
    /// directory; cannot be combined with `auth_token`.
    #[serde(deserialize_with = "rules::auth_token_file", skip_serializing_if = "Option::is_none")]
    pub auth_token_file: Option<PathBuf>,
    /// Timestamps as CBOR integers instead of doubles: `None` (auto) turns it on exactly
    /// when a custom endpoint (an emulator such as LocalStack) is configured.
    #[serde(serialize_with = "human::print::auto_bool", deserialize_with = "rules::integer_timestamps")]
    pub integer_timestamps: Option<bool>,
    /// Log lines as human text or as one JSON object per line.
    #[serde(deserialize_with = "rules::log_format")]
    pub log_format: LogFormat,
    /// The StatsD/DogStatsD listeners.
    pub statsd: StatsdConfig,
    /// The EMF (CloudWatch embedded metric format) listeners.
    pub emf: EmfConfig,
    /// OpenTelemetry metrics over OTLP/HTTP.
    pub otlp: OtlpConfig,
    /// Prometheus targets to scrape.
    pub scrape: ScrapeConfig,
    /// The optional disk spool.
    pub spool: SpoolConfig,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human text, one event per line.
    #[default]
    Text,
    /// One JSON object per event and line, for log pipelines.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 25889)),
            namespace: None,
            default_dimensions: BTreeMap::new(),
            flush_interval: Duration::from_secs(60),
            window_grace: Duration::from_secs(2),
            max_buffered_datums: 100_000,
            metric_series_warning: 1000,
            max_put_requests_per_second: 20,
            max_body_bytes: 5 * 1024 * 1024,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            max_header_bytes: 16 * 1024,
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(20),
            publish_timeout: Duration::from_secs(10),
            self_metrics_namespace: "CWSidecar".to_string(),
            auth_token: None,
            auth_token_file: None,
            integer_timestamps: None,
            log_format: LogFormat::Text,
            statsd: StatsdConfig::default(),
            emf: EmfConfig::default(),
            otlp: OtlpConfig::default(),
            scrape: ScrapeConfig::default(),
            spool: SpoolConfig::default(),
        }
    }
}

impl Config {
    /// Layers the file named by `--config` (if any), the `CW_SIDECAR_*` environment variables
    /// and the flags in `args`, over the defaults.
    pub fn load(args: &ConfigArgs) -> Result<Config, ConfigError> {
        load::load(args, |name| std::env::var_os(name))
    }

    /// The effective configuration as TOML, with the token redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }
}
