//! The `[remote_write]` section: Prometheus remote-write 1.0 at `POST /api/v1/write` of the
//! HTTP API. On by default, as OTLP is at `/v1/metrics`: it takes only what a sender posts
//! there, under the API's limits and token. What is published follows the rules of scrape.

use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};

use super::human::{self, Text};
use super::listener::boolean;
use super::prometheus::prometheus_section;

prometheus_section! {
    /// Prometheus remote-write 1.0.
    pub struct RemoteWriteConfig, namespace "of remote-written metrics",
    include "on metric names: a series is published when one matches its name or its family's (the name without `_total`, `_bucket`, `_count`, `_sum`)",
    {
        /// Serve `POST /api/v1/write` on the HTTP API's listener.
        #[serde(deserialize_with = "boolean")]
        pub enabled: bool = true,
    } {
        /// Bound on the series of one request (1 to 10000000), counted before it is decoded: a
        /// request with more is refused whole (413, `too_many_series`).
        #[serde(deserialize_with = "per_request")]
        pub max_series_per_request: usize = 100_000,
        /// Bound on the samples of one request (1 to 10000000), counted before it is decoded: a
        /// request with more is refused whole (413, `too_many_samples`).
        #[serde(deserialize_with = "per_request")]
        pub max_samples_per_request: usize = 100_000,
        /// Bound on the series remembered (their last timestamps and readings; 1 to 10000000):
        /// samples of further series are rejected (`state_full`).
        #[serde(deserialize_with = "max_series")]
        pub max_series: usize = 100_000,
        /// Bound on the memory the series state may hold (64KiB to 4GiB): samples of further
        /// series are rejected (`state_full`).
        #[serde(serialize_with = "human::print::size", deserialize_with = "max_state_bytes")]
        #[schemars(with = "String")]
        pub max_state_bytes: usize = 32 * 1024 * 1024,
        /// A series without samples for this long is forgotten (its next sample is new, and a
        /// cumulative one sets a new baseline); at least 1m.
        #[serde(serialize_with = "human::print::duration", deserialize_with = "series_idle_timeout")]
        #[schemars(with = "String")]
        pub series_idle_timeout: Duration = Duration::from_secs(3600),
    }
}

fn text<'de, D: Deserializer<'de>, T>(d: D, parse: impl FnOnce(String) -> Result<T, String>) -> Result<T, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    parse(s).map_err(D::Error::custom)
}

fn per_request<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| human::count(&s, 1, 10_000_000).map(|n| n as usize))
}

fn max_series<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| human::count(&s, 1, 10_000_000).map(|n| n as usize))
}

fn max_state_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (64 * 1024..=4 * 1024 * 1024 * 1024).contains(&n) => usize::try_from(n).map_err(|e| e.to_string()),
        _ => Err("must be between 64KiB and 4GiB".into()),
    })
}

fn series_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| match human::duration(&s)? {
        d if d < Duration::from_secs(60) => Err("must be at least 1m".into()),
        d => Ok(d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(toml: &str) -> Result<RemoteWriteConfig, String> {
        let config: Result<Config, _> = toml::from_str(toml);
        config.map(|c| c.remote_write).map_err(|e| e.to_string())
    }

    #[test]
    fn on_by_default_with_the_runtime_families_excluded() {
        let c = RemoteWriteConfig::default();
        assert!(c.enabled);
        assert!(c.excluded().contains(&"go_*".to_string()));
        assert!(!parse("[remote_write]\nenabled = false").unwrap().enabled);
        let c = parse("[remote_write]\nexclude_runtime = false\nexclude = [\"debug_*\"]").unwrap();
        assert_eq!(c.excluded(), vec!["debug_*".to_string()]);
    }

    #[test]
    fn keys_and_their_rules() {
        let c = parse(
            "[remote_write]\nnamespace = \"Prom\"\ninclude = \"http_*,db_*\"\ndrop_labels = [\"pod\"]\n\
             max_series_per_request = 500\nmax_samples_per_request = 1000\nmax_series = 20\n\
             max_state_bytes = \"1MiB\"\nseries_idle_timeout = \"10m\"",
        )
        .unwrap();
        assert_eq!(c.namespace.as_deref(), Some("Prom"));
        assert_eq!(c.include, vec!["http_*".to_string(), "db_*".to_string()]);
        assert_eq!(c.drop_labels, vec!["pod".to_string()]);
        assert_eq!((c.max_series_per_request, c.max_samples_per_request, c.max_series), (500, 1000, 20));
        assert_eq!((c.max_state_bytes, c.series_idle_timeout), (1 << 20, Duration::from_secs(600)));
        assert!(parse("[remote_write]\nmax_series_per_request = 0").is_err());
        assert!(parse("[remote_write]\nmax_state_bytes = \"1KiB\"").is_err());
        assert!(parse("[remote_write]\nseries_idle_timeout = \"10s\"").is_err());
        assert!(parse("[remote_write]\nnamespace = \"AWS/X\"").is_err());
        assert!(parse("[remote_write]\nbogus = 1").is_err());
    }
}
