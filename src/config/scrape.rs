//! The `[scrape]` section: Prometheus targets scraped over `http://`, and what of them is
//! published. Off while no target is configured.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::human::{self, Text};
use super::prometheus::prometheus_section;
pub use super::scrape_target::{BasicAuth, TargetConfig};
use super::scrape_target::{interval, timeout};

prometheus_section! {
    /// Prometheus scraping.
    pub struct ScrapeConfig, namespace "of scraped metrics",
    include "on family names: a family is published when one matches",
    {
        /// Time between two scrapes of a target that names none; at least 1s.
        #[serde(serialize_with = "human::print::duration", deserialize_with = "interval")]
        #[schemars(with = "String")]
        pub interval: Duration = Duration::from_secs(15),
        /// Time a scrape may take, unless its target names one; at least 100ms (capped at the
        /// target's interval).
        #[serde(serialize_with = "human::print::duration", deserialize_with = "timeout")]
        #[schemars(with = "String")]
        pub timeout: Duration = Duration::from_secs(5),
    } {
        /// Bound on the series one target publishes (1 to 1000000); further series are refused,
        /// counted and logged once each.
        #[serde(deserialize_with = "max_series")]
        pub max_series_per_target: usize = 1000,
        /// A family with more series than this is logged once (a label such as a device id).
        #[serde(deserialize_with = "family_series_warning")]
        pub family_series_warning: usize = 100,
        /// Largest answer of a target, before and after decompression; 1KiB to 1GiB.
        #[serde(serialize_with = "human::print::size", deserialize_with = "max_response_bytes")]
        #[schemars(with = "String")]
        pub max_response_bytes: usize = 10 * 1024 * 1024,
        /// Bound on the samples one scrape holds (Prometheus' `sample_limit`; 1 to 10000000): an
        /// answer with more fails the scrape (`too_many_samples`), and parsing stops there.
        #[serde(deserialize_with = "max_samples_per_scrape")]
        pub max_samples_per_scrape: usize = 100_000,
        /// Bound on the memory a target's series state may hold between scrapes (its series and
        /// their cumulative readings; 64KiB to 1GiB): further series are refused (`state_bytes`).
        #[serde(serialize_with = "human::print::size", deserialize_with = "max_state_bytes_per_target")]
        #[schemars(with = "String")]
        pub max_state_bytes_per_target: usize = 8 * 1024 * 1024,
        /// The targets: `[[scrape.targets]]` tables in the file, `URL,URL` in env and flags.
        #[serde(deserialize_with = "super::scrape_target::targets")]
        pub targets: Vec<TargetConfig> = Vec::new(),
    }
}

impl ScrapeConfig {
    /// A target's interval and timeout (the timeout never longer than the interval).
    pub fn timing(&self, target: &TargetConfig) -> (Duration, Duration) {
        let interval = target.interval.unwrap_or(self.interval);
        (interval, target.timeout.unwrap_or(self.timeout).min(interval))
    }
}

fn text<'de, D: Deserializer<'de>, T>(d: D, parse: impl FnOnce(String) -> Result<T, String>) -> Result<T, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    parse(s).map_err(D::Error::custom)
}

fn max_series<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| human::count(&s, 1, 1_000_000).map(|n| n as usize))
}

fn family_series_warning<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| human::count(&s, 1, 1_000_000).map(|n| n as usize))
}

fn max_response_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (1024..=1024 * 1024 * 1024).contains(&n) => Ok(n as usize),
        _ => Err("must be between 1KiB and 1GiB".into()),
    })
}

fn max_samples_per_scrape<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| human::count(&s, 1, 10_000_000).map(|n| n as usize))
}

fn max_state_bytes_per_target<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (64 * 1024..=1024 * 1024 * 1024).contains(&n) => Ok(n as usize),
        _ => Err("must be between 64KiB and 1GiB".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(toml: &str) -> Result<ScrapeConfig, String> {
        let config: Result<Config, _> = toml::from_str(toml);
        config.map(|c| c.scrape).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_shape_parses() {
        let c = parse(
            "[scrape]\ninterval = \"15s\"\ntimeout = \"5s\"\nnamespace = \"Media\"\ninclude = [\"http_*\"]\n\
             exclude = [\"debug_*\"]\ndrop_labels = [\"device_id\"]\nkeep_labels = []\nmax_series_per_target = 500\n\
             family_series_warning = 50\n[[scrape.targets]]\nurl = \"http://127.0.0.1:9100/metrics\"\n\
             interval = \"10s\"\ntimeout = \"2s\"\n[[scrape.targets]]\nurl = \"http://127.0.0.1:9200/metrics\"\n",
        )
        .unwrap();
        assert_eq!(c.namespace.as_deref(), Some("Media"));
        assert_eq!((c.include.clone(), c.exclude.clone()), (vec!["http_*".into()], vec!["debug_*".into()]));
        assert_eq!(c.drop_labels, vec!["device_id".to_string()]);
        assert_eq!((c.max_series_per_target, c.family_series_warning), (500, 50));
        assert!(c.exclude_runtime);
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.timing(&c.targets[0]), (Duration::from_secs(10), Duration::from_secs(2)));
        assert_eq!(c.timing(&c.targets[1]), (Duration::from_secs(15), Duration::from_secs(5)));
    }

    #[test]
    fn rules_of_each_key() {
        assert!(parse("[scrape]\ntargets = [\"https://example.com/metrics\"]").unwrap_err().contains("http://"));
        assert!(parse("[scrape]\ntargets = [\"nowhere\"]").is_err());
        assert!(parse("[scrape]\ninterval = \"500ms\"").is_err());
        assert!(parse("[scrape]\nmax_series_per_target = 0").is_err());
        assert!(parse("[scrape]\nbogus = 1").is_err());
        assert!(parse("[[scrape.targets]]\nurl = \"http://a:1/m\"\nbogus = 1").is_err());
        let c = parse("[scrape]\ntargets = \"http://a:1/m, http://b:2/m\"\ninclude = \"a_*,b_*\"").unwrap();
        assert_eq!(c.targets.iter().map(|t| t.url.as_str()).collect::<Vec<_>>(), ["http://a:1/m", "http://b:2/m"]);
        assert_eq!(c.include, vec!["a_*".to_string(), "b_*".to_string()]);
        // A target's timeout never outlasts its interval.
        let c = parse("[scrape]\ntimeout = \"30s\"\ntargets = [\"http://a:1/m\"]").unwrap();
        assert_eq!(c.timing(&c.targets[0]).1, Duration::from_secs(15));
        assert!(parse("[scrape]\nexclude_runtime = false").is_ok());
    }

    #[test]
    fn environment_variables_and_flags_set_targets_and_lists() {
        let env = [
            ("CW_SIDECAR_SCRAPE__TARGETS", "http://127.0.0.1:9100/metrics,http://127.0.0.1:8000/metrics"),
            ("CW_SIDECAR_SCRAPE__DROP_LABELS", "device_id,session_id"),
            ("CW_SIDECAR_SCRAPE__EXCLUDE_RUNTIME", "false"),
            ("CW_SIDECAR_SCRAPE__INTERVAL", "30s"),
        ];
        let var = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v));
        let mut args = crate::config::ConfigArgs::default();
        args.flags.insert("scrape.max_series_per_target".into(), "50".into());
        let c = crate::config::load::load(&args, var).unwrap().scrape;
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[1].url, "http://127.0.0.1:8000/metrics");
        assert_eq!(c.drop_labels, ["device_id", "session_id"]);
        assert!(!c.exclude_runtime);
        assert_eq!((c.interval, c.max_series_per_target), (Duration::from_secs(30), 50));
        let bad = |name: &str| (name == "CW_SIDECAR_SCRAPE__TARGETS").then(|| "https://x/metrics".into());
        let err = crate::config::load::load(&crate::config::ConfigArgs::default(), bad).unwrap_err().to_string();
        assert!(err.contains("CW_SIDECAR_SCRAPE__TARGETS") && err.contains("http://"), "{err}");
    }
}
