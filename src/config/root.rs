//! The top-level keys: [`Config`] is the effective configuration and the shape of the TOML
//! file, its sections each a struct of their own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cost::{self, CardinalityConfig, CostConfig, MetricRuleConfig};
use super::emf::EmfConfig;
use super::environment::EnvironmentConfig;
use super::human;
use super::memory::{self, MaxMemory};
use super::otlp::OtlpConfig;
use super::remote_write::RemoteWriteConfig;
use super::rules::{self, CatalogMode, LogFormat};
use super::scrape::ScrapeConfig;
use super::spool::SpoolConfig;
use super::statsd::StatsdConfig;

/// The effective configuration; also the shape of the TOML file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    #[serde(deserialize_with = "rules::listen")]
    #[schemars(with = "String")]
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
    #[schemars(with = "String")]
    pub flush_interval: Duration,
    /// Time a window stays open past its end for late records; at most 60s.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::window_grace")]
    #[schemars(with = "String")]
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
    #[schemars(with = "String")]
    pub max_body_bytes: usize,
    /// Ceiling on the sidecar's memory: `auto` (80% of its cgroup's memory limit, v2
    /// `memory.max` or v1 `memory.limit_in_bytes`, when one is set; else none), `none`, or a
    /// size (32MiB to 1TiB). The memory budgets are lowered to fit in it; above 90% of it
    /// (resident memory, measured) ingest is refused until it is below 80%, or below 90% with
    /// the buffer drained.
    #[serde(serialize_with = "memory::print", deserialize_with = "memory::max_memory")]
    #[schemars(with = "String")]
    pub max_memory: MaxMemory,
    /// Bound on the bytes of request bodies held in memory at once, over all requests (bodies
    /// draw from it as their bytes arrive; ingest answers 503 when it is spent); at least
    /// `max_body_bytes`, at most 64GiB.
    #[serde(serialize_with = "human::print::size", deserialize_with = "rules::max_body_bytes_in_flight")]
    #[schemars(with = "String")]
    pub max_body_bytes_in_flight: usize,
    /// Largest request head (request line and headers); 1KiB to 1MiB. Larger is answered 431.
    #[serde(serialize_with = "human::print::size", deserialize_with = "rules::max_header_bytes")]
    #[schemars(with = "String")]
    pub max_header_bytes: usize,
    /// Bound on open HTTP connections (1 to 1000000); further ones are answered (503, or gRPC
    /// `UNAVAILABLE` on the gRPC listener) and closed. Capped
    /// at startup to the open-files limit (RLIMIT_NOFILE) minus descriptors kept for publishing.
    #[serde(deserialize_with = "rules::max_connections")]
    pub max_connections: usize,
    /// Time a request head may take, from the connection's start or the first byte of the
    /// request; at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    #[schemars(with = "String")]
    pub header_read_timeout: Duration,
    /// Time a request body may take, from its head; answered 408 beyond; at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    #[schemars(with = "String")]
    pub body_read_timeout: Duration,
    /// Time a kept-alive connection may wait for the first byte of its next request; at least
    /// 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::connection_timeout")]
    #[schemars(with = "String")]
    pub idle_timeout: Duration,
    /// Upper bound on how long shutdown and `/v1/flush` wait for publishing.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::shutdown_timeout")]
    #[schemars(with = "String")]
    pub shutdown_timeout: Duration,
    /// Timeout of a single PutMetricData attempt (the SDK's own retries are off); at least 100ms.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "rules::publish_timeout")]
    #[schemars(with = "String")]
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
    /// Which self metrics are published (each is a billed series per set of default
    /// dimensions): `a,b` in env and flags, a list in the file; every one by default.
    #[serde(deserialize_with = "cost::self_metrics")]
    pub self_metrics: Vec<String>,
    /// The metric rules: `[[metrics]]` tables in the file (see the README's cost control),
    /// applied in order to every input's records.
    #[serde(deserialize_with = "cost::metric_rules")]
    pub metrics: Vec<MetricRuleConfig>,
    /// The metric catalog (YAML, see the README's metric catalog): the metrics, dimensions
    /// and units records may have, whose dimension sets are the metric rules. Relative to the
    /// working directory; none when unset.
    #[serde(deserialize_with = "rules::catalog", skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PathBuf>,
    /// What becomes of a record the catalog does not declare: `strict` (rejected, the error
    /// naming the closest entry) or `lenient` (published, counted and logged once).
    #[serde(deserialize_with = "rules::catalog_mode")]
    pub catalog_mode: CatalogMode,
    /// The catalog as read from `catalog` when the configuration was loaded.
    #[serde(skip)]
    #[schemars(skip)]
    pub catalog_loaded: Option<std::sync::Arc<cw_core::catalog::Catalog>>,
    /// The bound of each UDP listener's batches of datagrams: lowered to fit in
    /// `max_memory` when it is set (not a key of its own).
    #[serde(skip)]
    #[schemars(skip)]
    pub udp_batch_bytes: usize,
    /// The series budget.
    pub cardinality: CardinalityConfig,
    /// The prices of the bill's estimate.
    pub cost: CostConfig,
    /// The StatsD/DogStatsD listeners.
    pub statsd: StatsdConfig,
    /// The EMF (CloudWatch embedded metric format) listeners.
    pub emf: EmfConfig,
    /// OpenTelemetry metrics over OTLP/HTTP.
    pub otlp: OtlpConfig,
    /// Prometheus targets to scrape.
    pub scrape: ScrapeConfig,
    /// Prometheus remote-write 1.0 at `POST /api/v1/write`.
    pub remote_write: RemoteWriteConfig,
    /// The optional disk spool.
    pub spool: SpoolConfig,
    /// Dimensions from where the sidecar runs (ECS, EKS, EC2), detected at startup.
    pub environment: EnvironmentConfig,
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
            max_memory: MaxMemory::Auto,
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
            self_metrics: cost::SELF_METRICS.iter().map(|s| s.to_string()).collect(),
            metrics: Vec::new(),
            catalog: None,
            catalog_mode: CatalogMode::Strict,
            catalog_loaded: None,
            udp_batch_bytes: cw_core::pipeline::memory::UDP_BATCH_BYTES as usize,
            cardinality: CardinalityConfig::default(),
            cost: CostConfig::default(),
            statsd: StatsdConfig::default(),
            emf: EmfConfig::default(),
            otlp: OtlpConfig::default(),
            scrape: ScrapeConfig::default(),
            remote_write: RemoteWriteConfig::default(),
            spool: SpoolConfig::default(),
            environment: EnvironmentConfig::default(),
        }
    }
}
