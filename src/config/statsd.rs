//! The `[statsd]` section: the StatsD/DogStatsD listeners, off unless an address is set or
//! `enabled = true` (which listens on 127.0.0.1:8125 for both UDP and TCP).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serializer;
use serde::de::{Deserialize, Deserializer, Error};

use super::human::{self, Pairs, Text};
use super::listener::{boolean, line_section};
use cw_core::domain::units::Unit;

/// The conventional StatsD address, where `enabled = true` listens.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8125);

line_section! {
    /// StatsD and DogStatsD over UDP and TCP.
    pub struct StatsdConfig, at "127.0.0.1:8125" = DEFAULT_ADDRESS, namespace "of StatsD metrics" {
        /// CloudWatch unit per metric name, beating the type's default (`ms` Milliseconds,
        /// `c` Count, others None): `name=Unit,name=Unit` in env and flags, a table in the file.
        #[serde(deserialize_with = "units")]
        pub units: BTreeMap<String, String> = BTreeMap::new(),
        /// A gauge's last value (what `+N`/`-N` adjust) is forgotten after this long without lines.
        #[serde(serialize_with = "print_duration", deserialize_with = "gauge_idle_timeout")]
        #[schemars(with = "String")]
        pub gauge_idle_timeout: Duration = Duration::from_secs(3600),
        /// Rewrite `.` to `_` in names, as the CloudWatch agent does (off: names are verbatim).
        #[serde(deserialize_with = "boolean")]
        pub dots_to_underscores: bool = false,
        /// Tags that DogStatsD clients add on their own, taken as origin metadata and not as
        /// dimensions, as DogStatsD's agent does (`dd.internal.entity_id` is the pod's UID:
        /// one billed series per pod). A list; `a,b` in env and flags; `[]` keeps them all.
        /// Remove `host` from it to keep `host` as a dimension.
        #[serde(deserialize_with = "origin_tags")]
        pub origin_tags: Vec<String> = ORIGIN_TAGS.iter().map(|t| t.to_string()).collect(),
    }
}

/// The default `origin_tags`.
pub const ORIGIN_TAGS: &[&str] = &["dd.internal.entity_id", "host"];

fn origin_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Tags::deserialize(d)? {
        Tags::List(l) => l,
        Tags::Text(t) => t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
    })
}

fn units<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let Pairs(map) = Pairs::deserialize(d)?;
    for (name, unit) in &map {
        if Unit::parse(unit).is_none() {
            return Err(D::Error::custom(format!("`{unit}` (for `{name}`) is not a CloudWatch standard unit")));
        }
    }
    Ok(map)
}

fn gauge_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    match human::duration(&s).map_err(D::Error::custom)? {
        d if d < Duration::from_secs(1) => Err(D::Error::custom("must be at least 1s")),
        d => Ok(d),
    }
}

fn print_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    human::print::duration(d, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(toml: &str) -> Result<StatsdConfig, String> {
        let config: Result<Config, _> = toml::from_str(toml);
        config.map(|c| c.statsd).map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_enabled_means_8125_on_both() {
        let c = StatsdConfig::default();
        assert_eq!((c.udp(), c.tcp()), (None, None));
        let c = parse("[statsd]\nenabled = true").unwrap();
        assert_eq!((c.udp(), c.tcp()), (Some(DEFAULT_ADDRESS), Some(DEFAULT_ADDRESS)));
        let c = parse("[statsd]\nenabled = true\nudp_address = \"0.0.0.0:9125\"").unwrap();
        assert_eq!(c.udp(), Some("0.0.0.0:9125".parse().unwrap()));
        assert_eq!(c.tcp(), Some(DEFAULT_ADDRESS));
        let c = parse("[statsd]\ntcp_address = \"127.0.0.1:0\"").unwrap();
        assert_eq!((c.udp(), c.tcp()), (None, Some("127.0.0.1:0".parse().unwrap())));
    }

    #[test]
    fn keys_and_their_rules() {
        let c = parse(
            "[statsd]\nreceive_buffer_bytes = \"8MiB\"\nnamespace = \"Apps\"\ngauge_idle_timeout = \"10m\"\n\
             [statsd.units]\n\"db.query\" = \"Seconds\"",
        )
        .unwrap();
        assert_eq!(c.receive_buffer_bytes, Some(8 * 1024 * 1024));
        assert_eq!(c.namespace.as_deref(), Some("Apps"));
        assert_eq!(c.gauge_idle_timeout, Duration::from_secs(600));
        assert_eq!(c.units.get("db.query").map(String::as_str), Some("Seconds"));
        assert!(parse("[statsd]\nunits = { x = \"Parsecs\" }").unwrap_err().contains("Parsecs"));
        assert!(parse("[statsd]\nudp_address = \"nowhere\"").is_err());
        assert!(parse("[statsd]\nreceive_buffer_bytes = 10").is_err());
        assert!(parse("[statsd]\nbogus = 1").is_err());
        assert!(parse("[statsd]\nnamespace = \"AWS/EC2\"").is_err());
    }
}
