//! What every listening section shares. The line-based inputs' sections (`[statsd]`,
//! `[emf]`) are written with [`line_section!`], which gives each the same listener keys
//! (`enabled`, `udp_address`, `tcp_address`, `receive_buffer_bytes`, `namespace`,
//! `allowed_namespaces`, and the TCP listener's `max_connections` and `idle_timeout`), defined
//! once here with their rules, beside the section's own keys; [`LineListener`] is what the
//! listeners are bound from. The value rules every section uses live here too.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serializer;
use serde::de::{Deserialize, Deserializer, Error};

use super::human::{self, Text};
use cw_core::domain::names::Namespace;

/// Where a line-based input listens, and within which limits, resolved from its section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineListener {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    /// `SO_RCVBUF` of the UDP socket (the transport's default when `None`).
    pub receive_buffer_bytes: Option<usize>,
    /// Bound on a batch of datagrams read and not yet handled (see the config's
    /// `udp_batch_bytes`).
    pub max_batch_bytes: usize,
    /// Bound on open TCP connections (before the open-files limit caps it).
    pub max_connections: usize,
    /// Time a TCP connection may stay without a byte.
    pub idle_timeout: Duration,
    /// The namespaces records may go to; empty: any.
    pub allowed_namespaces: Vec<String>,
}

/// The TCP listener's default `max_connections`.
pub const MAX_CONNECTIONS: usize = 256;
/// The TCP listener's default `idle_timeout`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A line-based input's section: the shared listener keys, then the section's own.
///
/// ```ignore
/// line_section! {
///     /// StatsD and DogStatsD over UDP and TCP.
///     pub struct StatsdConfig, at "127.0.0.1:8125" = DEFAULT_ADDRESS, namespace "of StatsD metrics" {
///         /// A key of its own.
///         #[serde(deserialize_with = "...")]
///         pub gauge_idle_timeout: Duration = Duration::from_secs(3600),
///     }
/// }
/// ```
macro_rules! line_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, at $at:literal = $address:expr, namespace $of:literal {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty = $default:expr,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            #[doc = concat!("Listen on ", $at, " for UDP and TCP, unless an address below says otherwise.")]
            #[serde(deserialize_with = "crate::config::listener::boolean")]
            pub enabled: bool,
            /// UDP address; off unless set (or `enabled`).
            #[serde(deserialize_with = "crate::config::listener::address", skip_serializing_if = "Option::is_none")]
            #[schemars(with = "Option<String>")]
            pub udp_address: Option<std::net::SocketAddr>,
            /// TCP address; off unless set (or `enabled`).
            #[serde(deserialize_with = "crate::config::listener::address", skip_serializing_if = "Option::is_none")]
            #[schemars(with = "Option<String>")]
            pub tcp_address: Option<std::net::SocketAddr>,
            /// `SO_RCVBUF` of the UDP socket; 4 MiB when unset, capped by the kernel's
            /// `net.core.rmem_max` (a log line gives the size granted).
            #[serde(
                serialize_with = "crate::config::listener::print_size",
                deserialize_with = "crate::config::listener::receive_buffer_bytes",
                skip_serializing_if = "Option::is_none"
            )]
            pub receive_buffer_bytes: Option<usize>,
            #[doc = concat!("Namespace ", $of, "; the global `namespace` when unset.")]
            #[serde(deserialize_with = "crate::config::listener::namespace", skip_serializing_if = "Option::is_none")]
            pub namespace: Option<String>,
            /// Namespaces records may go to (a list; `a,b` in env and flags); records for
            /// any other are dropped, counted in `input_records_dropped_total`. Empty: any.
            #[serde(deserialize_with = "crate::config::listener::namespaces")]
            pub allowed_namespaces: Vec<String>,
            /// Bound on open TCP connections (1 to 1000000); one more is closed at once,
            /// counted. Capped at startup to the open-files limit (RLIMIT_NOFILE) minus
            /// descriptors kept for publishing and the spool.
            #[serde(deserialize_with = "crate::config::rules::max_connections")]
            pub max_connections: usize,
            /// Time a TCP connection may stay without sending a byte before it is closed;
            /// at least 100ms.
            #[serde(
                serialize_with = "crate::config::human::print::duration",
                deserialize_with = "crate::config::rules::connection_timeout"
            )]
            #[schemars(with = "String")]
            pub idle_timeout: std::time::Duration,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: false,
                    udp_address: None,
                    tcp_address: None,
                    receive_buffer_bytes: None,
                    namespace: None,
                    allowed_namespaces: Vec::new(),
                    max_connections: crate::config::listener::MAX_CONNECTIONS,
                    idle_timeout: crate::config::listener::IDLE_TIMEOUT,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// Where UDP listens, if anywhere.
            pub fn udp(&self) -> Option<std::net::SocketAddr> {
                self.udp_address.or(self.enabled.then_some($address))
            }

            /// Where TCP listens, if anywhere.
            pub fn tcp(&self) -> Option<std::net::SocketAddr> {
                self.tcp_address.or(self.enabled.then_some($address))
            }

            /// What the listeners are bound from.
            pub fn listener(&self) -> crate::config::listener::LineListener {
                crate::config::listener::LineListener {
                    udp: self.udp(),
                    tcp: self.tcp(),
                    receive_buffer_bytes: self.receive_buffer_bytes,
                    max_batch_bytes: cw_core::pipeline::memory::UDP_BATCH_BYTES as usize,
                    max_connections: self.max_connections,
                    idle_timeout: self.idle_timeout,
                    allowed_namespaces: self.allowed_namespaces.clone(),
                }
            }
        }
    };
}

pub(super) use line_section;

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

/// Empty means unset.
pub(super) fn namespace<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, |s| match s.is_empty() {
        true => Ok(None),
        false => match Namespace::parse(&s) {
            Ok(_) => Ok(Some(s)),
            Err(e) => Err(e.to_string()),
        },
    })
}

/// A list of namespaces: an array (file) or `a,b` (env, flags); each a valid namespace.
pub(super) fn namespaces<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = human::strings(d, "a list of namespaces, or a,b")?;
    for ns in &list {
        Namespace::parse(ns).map_err(|e| D::Error::custom(format!("`{ns}`: {e}")))?;
    }
    Ok(list)
}

pub(super) fn print_size<S: Serializer>(n: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
    human::print::size(&n.unwrap_or(0), s)
}
