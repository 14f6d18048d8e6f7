//! The `[statsd]` section: the StatsD/DogStatsD listeners, off unless an address is set or
//! `enabled = true` (which listens on 127.0.0.1:8125 for both UDP and TCP).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};
use serde::{Serialize, Serializer};

use super::human::{self, Pairs, Text};
use cw_core::domain::names::Namespace;
use cw_core::domain::units::Unit;

/// The conventional StatsD address, where `enabled = true` listens.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8125);

/// StatsD and DogStatsD over UDP and TCP.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsdConfig {
    /// Listen on 127.0.0.1:8125 for UDP and TCP, unless an address below says otherwise.
    #[serde(deserialize_with = "boolean")]
    pub enabled: bool,
    /// UDP address; off unless set (or `enabled`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    pub udp_address: Option<SocketAddr>,
    /// TCP address; off unless set (or `enabled`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    pub tcp_address: Option<SocketAddr>,
    /// `SO_RCVBUF` of the UDP socket; 4 MiB when unset, capped by the kernel's
    /// `net.core.rmem_max` (a log line gives the size granted).
    #[serde(
        serialize_with = "print_size",
        deserialize_with = "receive_buffer_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_buffer_bytes: Option<usize>,
    /// Namespace of StatsD metrics; the global `namespace` when unset.
    #[serde(deserialize_with = "namespace", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CloudWatch unit per metric name, beating the type's default (`ms` Milliseconds,
    /// `c` Count, others None): `name=Unit,name=Unit` in env and flags, a table in the file.
    #[serde(deserialize_with = "units")]
    pub units: BTreeMap<String, String>,
    /// A gauge's last value (what `+N`/`-N` adjust) is forgotten after this long without lines.
    #[serde(serialize_with = "print_duration", deserialize_with = "gauge_idle_timeout")]
    pub gauge_idle_timeout: Duration,
    /// Rewrite `.` to `_` in names, as the CloudWatch agent does (off: names are verbatim).
    #[serde(deserialize_with = "boolean")]
    pub dots_to_underscores: bool,
}

impl Default for StatsdConfig {
    fn default() -> Self {
        StatsdConfig {
            enabled: false,
            udp_address: None,
            tcp_address: None,
            receive_buffer_bytes: None,
            namespace: None,
            units: BTreeMap::new(),
            gauge_idle_timeout: Duration::from_secs(3600),
            dots_to_underscores: false,
        }
    }
}

impl StatsdConfig {
    /// Where UDP listens, if anywhere.
    pub fn udp(&self) -> Option<SocketAddr> {
        self.udp_address.or(self.enabled.then_some(DEFAULT_ADDRESS))
    }

    /// Where TCP listens, if anywhere.
    pub fn tcp(&self) -> Option<SocketAddr> {
        self.tcp_address.or(self.enabled.then_some(DEFAULT_ADDRESS))
    }
}

fn text<'de, D: Deserializer<'de>, T>(d: D, parse: impl FnOnce(String) -> Result<T, String>) -> Result<T, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    parse(s).map_err(D::Error::custom)
}

pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    text(d, |s| match s.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    })
}

/// Empty means off.
pub(super) fn address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    text(d, |s| match s.trim() {
        "" => Ok(None),
        s => s.parse().map(Some).map_err(|_| "expected an address such as 127.0.0.1:8125".to_string()),
    })
}

pub(super) fn receive_buffer_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (4096..=1024 * 1024 * 1024).contains(&n) => Ok(Some(n as usize)),
        _ => Err("must be between 4KiB and 1GiB".into()),
    })
}

pub(super) fn namespace<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, |s| match s.is_empty() {
        true => Ok(None),
        false => match Namespace::parse(&s) {
            Ok(_) => Ok(Some(s)),
            Err(e) => Err(e.to_string()),
        },
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
    text(d, |s| match human::duration(&s)? {
        d if d < Duration::from_secs(1) => Err("must be at least 1s".into()),
        d => Ok(d),
    })
}

fn print_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    human::print::duration(d, s)
}

pub(super) fn print_size<S: Serializer>(n: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
    human::print::size(&n.unwrap_or(0), s)
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
