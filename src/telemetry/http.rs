//! The HTTP listeners' connections in `/metrics`: how many are open against the effective
//! bound, those refused at the bound or closed for time, failed accepts, and the request
//! body bytes held in memory.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::reasons::TimeoutPhase;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Phase {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refused {
    reason: &'static str,
    answer: &'static str,
}

/// How a connection over `connection_limit` was answered before it was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// HTTP/1: `503` with `Retry-After: 1`, written without reading the request.
    Http503,
    /// HTTP/2 (gRPC): its first call answered `UNAVAILABLE` with a `RetryInfo`, then `GOAWAY`.
    GrpcUnavailable,
    /// HTTP/2 while the most refusals that are answered at once (8) are being answered
    /// already: closed unanswered.
    Closed,
}

impl OverLimit {
    pub const ALL: [OverLimit; 3] = [OverLimit::Http503, OverLimit::GrpcUnavailable, OverLimit::Closed];

    pub fn label(self) -> &'static str {
        match self {
            OverLimit::Http503 => "http_503",
            OverLimit::GrpcUnavailable => "grpc_unavailable",
            OverLimit::Closed => "closed",
        }
    }
}

#[derive(Default)]
pub(crate) struct Connections {
    active: Gauge,
    limit: Gauge,
    refused: Family<Refused, Counter>,
    timed_out: Family<Phase, Counter>,
    accept_errors: Counter,
    body_bytes_in_flight: Gauge,
}

impl Connections {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("connections_active", "HTTP connections open now", self.active.clone());
        registry.register(
            "connection_limit",
            "Effective bound on HTTP connections (max_connections, capped by the open-files limit)",
            self.limit.clone(),
        );
        registry.register(
            "connections_refused",
            "HTTP connections refused because connection_limit were open, by reason and how they were answered",
            self.refused.clone(),
        );
        registry.register(
            "connections_timed_out",
            "HTTP connections closed for time, by the phase they were in",
            self.timed_out.clone(),
        );
        registry.register("accept_errors", "Failed accepts (such as too many open files)", self.accept_errors.clone());
        registry.register(
            "body_bytes_in_flight",
            "Bytes of request bodies held in memory (bounded by max_body_bytes_in_flight)",
            self.body_bytes_in_flight.clone(),
        );
        for a in OverLimit::ALL {
            drop(self.refused.get_or_create(&Refused { reason: "max_connections", answer: a.label() }));
        }
        for p in TimeoutPhase::ALL {
            drop(self.timed_out.get_or_create(&Phase { phase: p.label() }));
        }
    }

    pub fn opened(&self) {
        self.active.inc();
    }

    pub fn closed(&self) {
        self.active.dec();
    }

    pub fn set_limit(&self, limit: usize) {
        self.limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    pub fn refused(&self, answer: OverLimit) {
        self.refused.get_or_create(&Refused { reason: "max_connections", answer: answer.label() }).inc();
    }

    pub fn timed_out(&self, phase: TimeoutPhase) {
        self.timed_out.get_or_create(&Phase { phase: phase.label() }).inc();
    }

    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    pub fn set_body_bytes_in_flight(&self, bytes: usize) {
        self.body_bytes_in_flight.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
