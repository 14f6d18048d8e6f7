//! Configuration, layered: flag beats `CW_SIDECAR_<KEY>` env beats TOML file beats default.
//!
//! [`Config`] is the single description of the keys: its serde attributes say how each value
//! is read and printed, its [`Default`] gives the defaults, its doc comments say what each key
//! is, and `deny_unknown_fields` refuses keys it does not know. Each layer (the file named by `--config FILE` or
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
//! A key is its name in the file: `flush_interval` at the top level, `udp_address` in a
//! section `[statsd]`, written `statsd.udp_address`. Its flag replaces dots and underscores by
//! dashes; its environment variable is `CW_SIDECAR_` and the key in capitals, with `__` (two
//! underscores) between section and key:
//!
//! | file | flag | environment variable |
//! |---|---|---|
//! | `flush_interval = "60s"` | `--flush-interval 60s` | `CW_SIDECAR_FLUSH_INTERVAL=60s` |
//! | `[statsd]` `udp_address = "…"` | `--statsd-udp-address …` | `CW_SIDECAR_STATSD__UDP_ADDRESS=…` |
//!
//! Only the keys of the file are read from the environment, so other `CW_SIDECAR_*`
//! variables (`CW_SIDECAR_E2E` of the tests, `CW_SIDECAR_URL` of clients) are left alone.
//!
//! # One definition per key
//!
//! A key is defined once, as a field: its doc comment, its rule (`deserialize_with`) and its
//! default (the struct's `Default`). [`docs`] reads every key with its doc comment and default
//! from the structs' schema; the flags, their `--help`, `cw-sidecar config --print-defaults`
//! and the check of the README's tables (`readme_tests`) all come from there.
//!
//! # Adding a section
//!
//! A section such as `[spool]` is a struct like [`Config`]: `#[derive(Serialize,
//! Deserialize, JsonSchema)]` with `#[serde(default, deny_unknown_fields)]`, a doc comment and
//! (where a rule applies) a `deserialize_with` on every field, and a [`Default`]; it joins as
//! one field of [`Config`] (`pub spool: SpoolConfig`), which gives its keys their flags and
//! variables. A line-based input's section is written with `listener::line_section!`, which
//! adds the listener keys every such section shares; the README gets a table of its keys.

mod args;
mod cost;
pub mod docs;
mod emf;
mod environment;
mod error;
mod human;
pub(crate) mod listener;
mod load;
mod memory;
mod otlp;
mod prometheus;
#[cfg(test)]
mod readme_tests;
mod remote_write;
mod root;
mod rules;
mod scrape;
mod scrape_target;
mod spool;
mod statsd;
#[cfg(test)]
mod tests;

pub use args::ConfigArgs;
pub use cost::{CardinalityConfig, CostConfig, MetricRuleConfig, OverflowPolicy, SELF_METRICS};
pub use emf::EmfConfig;
pub use environment::EnvironmentConfig;
pub use error::ConfigError;
pub use listener::LineListener;
pub use memory::MaxMemory;
pub use otlp::OtlpConfig;
pub use remote_write::RemoteWriteConfig;
pub use root::Config;
pub use rules::{CatalogMode, LogFormat};
pub use scrape::{BasicAuth, ScrapeConfig, TargetConfig};
pub use spool::{SpoolConfig, SyncPolicy};
pub use statsd::StatsdConfig;
