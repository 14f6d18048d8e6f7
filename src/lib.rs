//! cw-sidecar: a local CloudWatch metrics publisher.
//!
//! # Layout, in the order a record meets it
//! - [`config`]: layered configuration (defaults < TOML file < `CW_SIDECAR_*` env < flags).
//! - [`ingest`]: the HTTP API (`POST /v1/metrics`, `/v1/flush`, health, `/metrics`).
//! - [`record`]: the wire format of a record, parsed borrowing from the body.
//! - [`validate`]: CloudWatch's rules, each in one place, turning a record into a [`validate::Sample`].
//! - [`aggregate`]: per series and window statistics and distributions, sharded so
//!   connections do not serialize on one lock.
//! - [`datum`]: closed windows become CloudWatch datums (exact statistics, bounded-error percentiles).
//! - [`batch`]: datums packed into PutMetricData requests within CloudWatch's limits.
//! - [`publish`]: the outbox of unpublished batches, rate limiting, retries and bisection.
//! - [`sink`]: where requests go: CloudWatch through the AWS SDK, or stdout in dry-run.
//! - [`telemetry`]: Prometheus counters and the self metrics published to CloudWatch.
//! - [`app`]: wires it together; `App::build` binds, `run_until_stopped` serves until shutdown.
//! - [`traffic`]: a traffic generator that behaves like a web service (demo, e2e, benchmarks).

pub mod aggregate;
pub mod app;
pub mod batch;
pub mod budget;
pub mod compat;
pub mod config;
pub mod datum;
pub mod ingest;
pub mod publish;
pub mod rate;
pub mod record;
pub mod sink;
pub mod telemetry;
pub mod traffic;
pub mod units;
pub mod validate;
