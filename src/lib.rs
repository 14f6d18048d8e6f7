//! cw-sidecar: a local CloudWatch metrics publisher.
//!
//! # Layout, in the order a record meets it
//! - [`config`]: layered configuration (defaults < TOML file < `CW_SIDECAR_*` env < flags).
//! - [`ingest`]: the inputs. Each turns its bytes into candidate records and maps the
//!   pipeline's answer onto its own protocol: [`ingest::http`] (`POST /v1/metrics`, served
//!   by our own accept loop within connection limits and timeouts), [`ingest::statsd`]
//!   (StatsD and DogStatsD over UDP and TCP), `ingest::emf`, `ingest::scrape` (Prometheus
//!   targets scraped), `ingest::otlp` (OpenTelemetry metrics over OTLP/HTTP) and
//!   [`ingest::self_metrics`] (the sidecar's own counters).
//! - [`pipeline`]: the one path every input takes, [`pipeline::Pipeline::submit`]:
//!   [`pipeline::validate`] (CloudWatch's rules, from [`domain`]), the default dimensions,
//!   admission against the buffer bound ([`pipeline::budget`]), and aggregation per series
//!   and window ([`pipeline::aggregate`]).
//! - [`domain`]: CloudWatch's vocabulary as types that can only hold valid values, and the
//!   API's limits in [`domain::limits`].
//! - [`flush`]: closed windows leave the pipeline for the publisher.
//! - [`publish`]: windows become datums ([`publish::datum`]), datums become PutMetricData
//!   requests ([`publish::batch`]), and the outbox sends them through the rate limit with
//!   retries and bisection ([`publish::outbox`]) to a sink ([`publish::sink`]).
//! - [`telemetry`]: Prometheus counters on `/metrics`, with every reason label in
//!   [`telemetry::reasons`].
//! - [`app`]: wires it together; `App::build` binds, `run_until_stopped` serves until shutdown.
//! - [`environment`]: where the sidecar runs (ECS, EKS, EC2), detected once at startup into
//!   dimensions added like the default ones.
//! - [`memory`]: the memory ceiling (`max_memory`, from the cgroup by default), the budgets
//!   fitted into it, and the sampler whose measure refuses ingest above the high mark.
//! - [`clock`]: time, injected, so tests move it instead of sleeping.

pub(crate) mod api;
pub mod app;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod cost;
pub(crate) mod engine;
pub mod environment;
pub(crate) mod flush;
pub(crate) mod ingest;
pub(crate) mod memory;
pub mod publish;
pub mod spool;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod test_support;
