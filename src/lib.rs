//! cw-sidecar: a local CloudWatch metrics publisher.
//!
//! # Layout, in the order a record meets it
//! - [`config`]: layered configuration (defaults < TOML file < `CW_SIDECAR_*` env < flags).
//! - [`ingest`]: the inputs. Each turns its bytes into candidate records and maps the
//!   pipeline's answer onto its own protocol: [`ingest::http`] (`POST /v1/metrics`).
//! - [`domain`]: CloudWatch's vocabulary as types that can only hold valid values, with the
//!   API's limits in one place.
//! - [`pipeline`]: the one path every input takes: validation, default dimensions, admission
//!   against the buffer bound, aggregation per series and window.
//! - [`publish`]: closed windows become datums, datums become PutMetricData batches, and the
//!   outbox publishes them with rate limiting, retries and bisection through a sink.
//! - [`telemetry`]: Prometheus counters and the self metrics published to CloudWatch.
//! - [`app`]: wires it together; `App::build` binds, `run_until_stopped` serves until shutdown.

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod ingest;
pub mod pipeline;
pub mod publish;
pub mod telemetry;
