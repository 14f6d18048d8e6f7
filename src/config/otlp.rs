//! The `[otlp]` section: OpenTelemetry metrics over OTLP/HTTP. `POST /v1/metrics` of the HTTP
//! API always takes OTLP bodies; the listener of its own (where SDKs send by default) is off
//! unless `listen` is set or `enabled = true` (which listens on 127.0.0.1:4318). OTLP/gRPC is
//! off unless `grpc_listen` is set or `grpc = true` (which listens on 127.0.0.1:4317).

use std::net::SocketAddr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};
use serde::{Serialize, Serializer};

use super::human::{self, Text};
use super::listener::{address, boolean, namespace};
use cw_core::domain::names::check_dimension;

/// The conventional OTLP/HTTP address, where `enabled = true` listens.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4318);

/// The conventional OTLP/gRPC address, where `grpc = true` listens.
pub const DEFAULT_GRPC_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4317);

/// OpenTelemetry metrics over OTLP/HTTP (protobuf and JSON).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Listen on 127.0.0.1:4318 (the SDKs' default), unless `listen` says otherwise.
    #[serde(deserialize_with = "boolean")]
    pub enabled: bool,
    /// Address of the OTLP listener; off unless set (or `enabled`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub listen: Option<SocketAddr>,
    /// Listen for OTLP/gRPC on 127.0.0.1:4317 (the SDKs' default), unless `grpc_listen` says
    /// otherwise.
    #[serde(deserialize_with = "boolean")]
    pub grpc: bool,
    /// Address of the OTLP/gRPC listener (`MetricsService/Export`); off unless set (or `grpc`).
    #[serde(deserialize_with = "address", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub grpc_listen: Option<SocketAddr>,
    /// Bound on one gRPC message, on the wire and decompressed (1KiB to 64MiB): a call with a
    /// larger one is refused from its length prefix (`RESOURCE_EXHAUSTED`, `too_large`).
    #[serde(serialize_with = "human::print::size", deserialize_with = "grpc_max_message_bytes")]
    #[schemars(with = "String")]
    pub grpc_max_message_bytes: usize,
    /// Calls one gRPC connection may have in flight (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`,
    /// 1 to 1000): clients queue the rest; connections are bounded by `max_connections`.
    #[serde(deserialize_with = "grpc_max_concurrent_streams")]
    pub grpc_max_concurrent_streams: u32,
    /// Namespace of OTLP metrics; the global `namespace` when unset.
    #[serde(deserialize_with = "namespace", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Resource attributes kept as dimensions (`a,b` in env and flags, an array in the file);
    /// empty keeps none.
    #[serde(deserialize_with = "names")]
    pub resource_dimensions: Vec<String>,
    /// Bound on cumulative streams remembered (for increases); points of further streams are
    /// refused and counted.
    #[serde(deserialize_with = "max_streams")]
    pub max_streams: usize,
    /// A cumulative stream without points for this long is forgotten (its next point sets a
    /// new baseline).
    #[serde(serialize_with = "print_duration", deserialize_with = "stream_idle_timeout")]
    #[schemars(with = "String")]
    pub stream_idle_timeout: Duration,
    /// Bound on the memory the cumulative streams may hold (each stream a fixed part and 8
    /// bytes per count; 64KiB to 4GiB): points of further streams are refused
    /// (`stream_state_full`).
    #[serde(serialize_with = "human::print::size", deserialize_with = "max_stream_state_bytes")]
    #[schemars(with = "String")]
    pub max_stream_state_bytes: usize,
    /// Bound on the data points of one request (1 to 10000000), counted before it is decoded:
    /// a request with more is refused whole (413, `too_many_points`).
    #[serde(deserialize_with = "max_points_per_request")]
    pub max_points_per_request: usize,
    /// Bound on the bucket counts (both sides of an exponential histogram together), explicit
    /// bounds or quantiles of one point (10 to 1000000), counted before the request is decoded:
    /// a request with such a point is refused whole (413, `too_many_buckets`).
    #[serde(deserialize_with = "max_buckets_per_point")]
    pub max_buckets_per_point: usize,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            enabled: false,
            listen: None,
            grpc: false,
            grpc_listen: None,
            grpc_max_message_bytes: 4 * 1024 * 1024,
            grpc_max_concurrent_streams: 100,
            namespace: None,
            resource_dimensions: vec!["service.name".to_string()],
            max_streams: 100_000,
            stream_idle_timeout: Duration::from_secs(3600),
            max_stream_state_bytes: 32 * 1024 * 1024,
            max_points_per_request: 100_000,
            max_buckets_per_point: 1_000,
        }
    }
}

impl OtlpConfig {
    /// Where the OTLP listener listens, if anywhere.
    pub fn address(&self) -> Option<SocketAddr> {
        self.listen.or(self.enabled.then_some(DEFAULT_ADDRESS))
    }

    /// Where the OTLP/gRPC listener listens, if anywhere.
    pub fn grpc_address(&self) -> Option<SocketAddr> {
        self.grpc_listen.or(self.grpc.then_some(DEFAULT_GRPC_ADDRESS))
    }
}

/// `a,b,c` as text, or an array of strings; each a valid dimension name.
fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = human::strings(d, "names as a,b or an array of strings")?;
    for name in &names {
        check_dimension(name, "x").map_err(|e| D::Error::custom(format!("`{name}`: {}", e.message)))?;
    }
    Ok(names)
}

fn max_streams<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    human::count(&s, 1, 10_000_000).map(|n| n as usize).map_err(D::Error::custom)
}

fn max_stream_state_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    match human::size(&s).map_err(D::Error::custom)? {
        n if (64 * 1024..=4 * 1024 * 1024 * 1024).contains(&n) => usize::try_from(n).map_err(D::Error::custom),
        _ => Err(D::Error::custom("must be between 64KiB and 4GiB")),
    }
}

fn grpc_max_message_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    match human::size(&s).map_err(D::Error::custom)? {
        n if (1024..=64 * 1024 * 1024).contains(&n) => usize::try_from(n).map_err(D::Error::custom),
        _ => Err(D::Error::custom("must be between 1KiB and 64MiB")),
    }
}

fn grpc_max_concurrent_streams<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    human::count(&s, 1, 1_000).map(|n| n as u32).map_err(D::Error::custom)
}

fn max_points_per_request<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    human::count(&s, 1, 10_000_000).map(|n| n as usize).map_err(D::Error::custom)
}

fn max_buckets_per_point<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    human::count(&s, 10, 1_000_000).map(|n| n as usize).map_err(D::Error::custom)
}

fn stream_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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

    fn parse(toml: &str) -> Result<OtlpConfig, String> {
        let config: Result<Config, _> = toml::from_str(toml);
        config.map(|c| c.otlp).map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_enabled_means_4318() {
        let c = OtlpConfig::default();
        assert_eq!(c.address(), None);
        assert_eq!(c.resource_dimensions, vec!["service.name"]);
        assert_eq!(parse("[otlp]\nenabled = true").unwrap().address(), Some(DEFAULT_ADDRESS));
        let c = parse("[otlp]\nlisten = \"127.0.0.1:0\"").unwrap();
        assert_eq!(c.address(), Some("127.0.0.1:0".parse().unwrap()));
    }

    #[test]
    fn grpc_is_off_by_default_and_grpc_means_4317() {
        let c = OtlpConfig::default();
        assert_eq!((c.grpc_address(), c.grpc_max_message_bytes, c.grpc_max_concurrent_streams), (None, 4 << 20, 100));
        assert_eq!(parse("[otlp]\ngrpc = true").unwrap().grpc_address(), Some(DEFAULT_GRPC_ADDRESS));
        assert_eq!(parse("[otlp]\ngrpc = true").unwrap().address(), None, "the HTTP listener stays off");
        let c = parse("[otlp]\ngrpc_listen = \"127.0.0.1:0\"\ngrpc_max_message_bytes = \"1MiB\"").unwrap();
        assert_eq!((c.grpc_address(), c.grpc_max_message_bytes), (Some("127.0.0.1:0".parse().unwrap()), 1 << 20));
        assert_eq!(parse("[otlp]\ngrpc_max_concurrent_streams = 8").unwrap().grpc_max_concurrent_streams, 8);
        assert!(parse("[otlp]\ngrpc_max_message_bytes = \"100\"").is_err());
        assert!(parse("[otlp]\ngrpc_max_message_bytes = \"1GiB\"").is_err());
        assert!(parse("[otlp]\ngrpc_max_concurrent_streams = 0").is_err());
        assert!(parse("[otlp]\ngrpc_listen = \"nowhere\"").is_err());
    }

    #[test]
    fn keys_and_their_rules() {
        let c = parse(
            "[otlp]\nnamespace = \"Otel\"\nresource_dimensions = [\"service.name\", \"host.name\"]\n\
             max_streams = 500\nstream_idle_timeout = \"10m\"",
        )
        .unwrap();
        assert_eq!(c.namespace.as_deref(), Some("Otel"));
        assert_eq!(c.resource_dimensions, vec!["service.name", "host.name"]);
        assert_eq!((c.max_streams, c.stream_idle_timeout), (500, Duration::from_secs(600)));
        assert_eq!(parse("[otlp]\nresource_dimensions = \"a, b\"").unwrap().resource_dimensions, vec!["a", "b"]);
        assert!(parse("[otlp]\nresource_dimensions = \"\"").unwrap().resource_dimensions.is_empty());
        assert!(parse("[otlp]\nresource_dimensions = [\":x\"]").is_err());
        assert!(parse("[otlp]\nmax_streams = 0").is_err());
        assert!(parse("[otlp]\nstream_idle_timeout = \"10ms\"").is_err());
        assert!(parse("[otlp]\nbogus = 1").is_err());
        let c = parse(
            "[otlp]\nmax_stream_state_bytes = \"1MiB\"\nmax_points_per_request = 500\nmax_buckets_per_point = 200",
        )
        .unwrap();
        assert_eq!((c.max_stream_state_bytes, c.max_points_per_request, c.max_buckets_per_point), (1 << 20, 500, 200));
        assert!(parse("[otlp]\nmax_stream_state_bytes = \"1KiB\"").is_err());
        assert!(parse("[otlp]\nmax_points_per_request = 0").is_err());
        assert!(parse("[otlp]\nmax_buckets_per_point = 5").is_err());
        assert!(parse("[otlp]\nnamespace = \"AWS/X\"").is_err());
    }
}
