//! The inputs. Each turns its bytes into candidate records for the [`crate::pipeline`] and
//! maps the pipeline's answer onto its own protocol.
//! - [`http`]: `POST /v1/metrics` (JSON, NDJSON), answering 202/400/413/415/503.
//! - [`statsd`]: StatsD and DogStatsD lines over UDP and TCP.
//! - [`emf`]: CloudWatch embedded metric format documents over UDP and TCP.
//! - [`otlp`]: OpenTelemetry metrics over OTLP/HTTP, protobuf and JSON, at `/v1/metrics`
//!   and on a listener of its own.
//! - [`descriptors`]: the open-files limit and the descriptors every listener leaves free.
//! - [`lines`]: the UDP and TCP listeners both line-based inputs share.
//! - [`cumulative`], [`buckets`]: cumulative readings as increases, histogram buckets as
//!   CloudWatch values and counts, for the inputs that scrape or receive cumulative data.
//! - [`scrape`]: Prometheus targets scraped (text 0.0.4 and OpenMetrics).
//! - [`remote_write`]: Prometheus remote-write 1.0 at `POST /api/v1/write` of the API.
//! - [`self_metrics`]: the sidecar's own counters, recorded at every flush.

pub mod descriptors;
pub mod emf;
pub mod http;
pub mod lines;
pub mod otlp;
pub mod records;
pub mod remote_write;
pub mod scrape;
pub mod self_metrics;
pub mod source;
pub mod statsd;
