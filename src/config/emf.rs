//! The `[emf]` section: the EMF (CloudWatch embedded metric format) listeners, off unless an
//! address is set or `enabled = true` (which listens on 127.0.0.1:25888 for both UDP and TCP,
//! where the CloudWatch agent listens and the aws-embedded-metrics clients send).

use std::net::SocketAddr;

use serde::Serialize;

use super::statsd::{address, boolean, namespace, print_size, receive_buffer_bytes};

/// The conventional EMF address, where `enabled = true` listens.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 25888);

/// EMF documents over UDP and TCP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmfConfig {
    /// Listen on 127.0.0.1:25888 for UDP and TCP, unless an address below says otherwise.
    #[serde(deserialize_with = "boolean")]
    pub enabled: bool,
    /// UDP address; off unless set (or `enabled`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    pub udp_address: Option<SocketAddr>,
    /// TCP address; off unless set (or `enabled`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    pub tcp_address: Option<SocketAddr>,
    /// `SO_RCVBUF` of the UDP socket; 4 MiB when unset, capped by `net.core.rmem_max`.
    #[serde(
        serialize_with = "print_size",
        deserialize_with = "receive_buffer_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_buffer_bytes: Option<usize>,
    /// Namespace of directives that name none (every EMF directive should); the global
    /// `namespace` when unset.
    #[serde(deserialize_with = "namespace", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl EmfConfig {
    /// Where UDP listens, if anywhere.
    pub fn udp(&self) -> Option<SocketAddr> {
        self.udp_address.or(self.enabled.then_some(DEFAULT_ADDRESS))
    }

    /// Where TCP listens, if anywhere.
    pub fn tcp(&self) -> Option<SocketAddr> {
        self.tcp_address.or(self.enabled.then_some(DEFAULT_ADDRESS))
    }
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
    }
}
