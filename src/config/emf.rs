//! The `[emf]` section: the EMF (CloudWatch embedded metric format) listeners, off unless an
//! address is set or `enabled = true` (which listens on 127.0.0.1:25888 for both UDP and TCP,
//! where the CloudWatch agent listens and the aws-embedded-metrics clients send).

use std::net::SocketAddr;

use serde::de::{Deserializer, Error};

use super::human;
use super::listener::line_section;
use cw_core::ingest::emf::{DEFAULT_MAX_DATUMS, DEFAULT_MAX_DIMENSION_SETS, Limits};

/// The conventional EMF address, where `enabled = true` listens.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 25888);

line_section! {
    /// EMF documents over UDP and TCP; `namespace` is for directives that name none (every
    /// EMF directive should).
    pub struct EmfConfig, at "127.0.0.1:25888" = DEFAULT_ADDRESS, namespace "of directives that name none" {
        /// Dimension sets one directive may have (1 to 1000): a directive with more rejects
        /// its document (`too_many_dimension_sets`). Each set makes every metric of the
        /// directive a series of its own.
        #[serde(deserialize_with = "max_dimension_sets")]
        pub max_dimension_sets: usize = DEFAULT_MAX_DIMENSION_SETS,
        /// Datums one document may give, metrics × dimension sets over its directives (1 to
        /// 100000): a document that would give more is rejected (`too_many_datums`).
        #[serde(deserialize_with = "max_datums_per_document")]
        pub max_datums_per_document: usize = DEFAULT_MAX_DATUMS,
    }
}

impl EmfConfig {
    /// The parser's bounds.
    pub fn limits(&self) -> Limits {
        Limits { max_dimension_sets: self.max_dimension_sets, max_datums: self.max_datums_per_document }
    }
}

fn count<'de, D: Deserializer<'de>>(d: D, max: u64) -> Result<usize, D::Error> {
    let human::Text(s) = serde::Deserialize::deserialize(d)?;
    human::count(&s, 1, max).map(|n| n as usize).map_err(D::Error::custom)
}

fn max_dimension_sets<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    count(d, 1000)
}

fn max_datums_per_document<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    count(d, 100_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(toml: &str) -> Result<EmfConfig, String> {
        let config: Result<Config, _> = toml::from_str(toml);
        config.map(|c| c.emf).map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_enabled_means_25888_on_both() {
        let c = EmfConfig::default();
        assert_eq!((c.udp(), c.tcp()), (None, None));
        let c = parse("[emf]\nenabled = true").unwrap();
        assert_eq!((c.udp(), c.tcp()), (Some(DEFAULT_ADDRESS), Some(DEFAULT_ADDRESS)));
        let c = parse("[emf]\nenabled = true\ntcp_address = \"127.0.0.1:0\"").unwrap();
        assert_eq!((c.udp(), c.tcp()), (Some(DEFAULT_ADDRESS), Some("127.0.0.1:0".parse().unwrap())));
        let c = parse("[emf]\nudp_address = \"127.0.0.1:0\"").unwrap();
        assert_eq!((c.udp(), c.tcp()), (Some("127.0.0.1:0".parse().unwrap()), None));
    }

    #[test]
    fn keys_and_their_rules() {
        let c = parse("[emf]\nreceive_buffer_bytes = \"8MiB\"\nnamespace = \"Apps\"").unwrap();
        assert_eq!(c.receive_buffer_bytes, Some(8 * 1024 * 1024));
        assert_eq!(c.namespace.as_deref(), Some("Apps"));
        assert!(parse("[emf]\nudp_address = \"nowhere\"").is_err());
        assert!(parse("[emf]\nreceive_buffer_bytes = 10").is_err());
        assert!(parse("[emf]\nunits = {}").is_err());
        assert!(parse("[emf]\nnamespace = \"AWS/EC2\"").is_err());
        let c = parse("[emf]\nmax_dimension_sets = 5\nmax_datums_per_document = \"40\"").unwrap();
        assert_eq!(c.limits(), Limits { max_dimension_sets: 5, max_datums: 40 });
        assert_eq!(EmfConfig::default().limits(), Limits::default());
        assert!(parse("[emf]\nmax_dimension_sets = 0").unwrap_err().contains("max_dimension_sets"));
        assert!(parse("[emf]\nmax_datums_per_document = 100001").is_err());
    }

    #[test]
    fn the_shared_tcp_limits_and_allowed_namespaces() {
        let c = EmfConfig::default();
        assert_eq!((c.max_connections, c.idle_timeout), (256, std::time::Duration::from_secs(300)));
        assert!(c.allowed_namespaces.is_empty());
        let c = parse("[emf]\nmax_connections = 10\nidle_timeout = \"30s\"\nallowed_namespaces = [\"Shop\", \"Jobs\"]")
            .unwrap();
        assert_eq!((c.max_connections, c.idle_timeout), (10, std::time::Duration::from_secs(30)));
        assert_eq!(c.allowed_namespaces, ["Shop", "Jobs"]);
        let listener = c.listener();
        assert_eq!((listener.max_connections, listener.allowed_namespaces.len()), (10, 2));
        assert_eq!(parse("[emf]\nallowed_namespaces = \"A, B\"").unwrap().allowed_namespaces, ["A", "B"]);
        assert!(parse("[emf]\nallowed_namespaces = [\"AWS/EC2\"]").unwrap_err().contains("AWS/EC2"));
        assert!(parse("[emf]\nmax_connections = 0").is_err());
        assert!(parse("[emf]\nidle_timeout = \"10ms\"").is_err());
    }
}
