//! The line-based inputs' TCP listeners and namespace filter in `/metrics`: connections open,
//! their bound, those closed at once (by reason) or for idling, failed accepts, and records
//! dropped before the pipeline saw them (by reason).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Input {
    input: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputReason {
    input: &'static str,
    reason: &'static str,
}

/// Why a TCP connection of a line input was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRefusal {
    /// `max_connections` (as capped by the open-files limit) were open.
    MaxConnections,
}

impl ConnectionRefusal {
    pub const ALL: [ConnectionRefusal; 1] = [ConnectionRefusal::MaxConnections];

    pub fn label(self) -> &'static str {
        match self {
            ConnectionRefusal::MaxConnections => "max_connections",
        }
    }
}

/// Why a line input dropped records before submitting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDrop {
    /// The record's namespace is not in the input's `allowed_namespaces`.
    NamespaceNotAllowed,
}

impl RecordDrop {
    pub const ALL: [RecordDrop; 1] = [RecordDrop::NamespaceNotAllowed];

    pub fn label(self) -> &'static str {
        match self {
            RecordDrop::NamespaceNotAllowed => "namespace_not_allowed",
        }
    }
}

#[derive(Default)]
pub(crate) struct Lines {
    active: Family<Input, Gauge>,
    limit: Family<Input, Gauge>,
    refused: Family<InputReason, Counter>,
    timed_out: Family<Input, Counter>,
    accept_errors: Family<Input, Counter>,
    dropped: Family<InputReason, Counter>,
}

impl Lines {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "line_connections_active",
            "TCP connections of line inputs (StatsD, EMF) open now, by input",
            self.active.clone(),
        );
        registry.register(
            "line_connection_limit",
            "Effective bound on a line input's TCP connections (its max_connections, capped by the open-files limit)",
            self.limit.clone(),
        );
        registry.register(
            "line_connections_refused",
            "TCP connections of line inputs closed as soon as accepted, by input and reason",
            self.refused.clone(),
        );
        registry.register(
            "line_connections_timed_out",
            "TCP connections of line inputs closed after idle_timeout without a byte, by input",
            self.timed_out.clone(),
        );
        registry.register(
            "line_accept_errors",
            "Failed accepts of line inputs' TCP listeners (such as too many open files), by input",
            self.accept_errors.clone(),
        );
        registry.register(
            "input_records_dropped",
            "Records of line inputs dropped before the pipeline, by input and reason",
            self.dropped.clone(),
        );
    }

    /// An input's counters, at zero, so that `/metrics` shows them before they move.
    pub fn input(&self, input: &'static str) {
        for r in RecordDrop::ALL {
            drop(self.dropped.get_or_create(&InputReason { input, reason: r.label() }));
        }
    }

    /// An input's TCP listener, with its effective bound.
    pub fn tcp_listening(&self, input: &'static str, limit: usize) {
        self.limit.get_or_create(&Input { input }).set(i64::try_from(limit).unwrap_or(i64::MAX));
        drop(self.active.get_or_create(&Input { input }));
        drop(self.timed_out.get_or_create(&Input { input }));
        drop(self.accept_errors.get_or_create(&Input { input }));
        for r in ConnectionRefusal::ALL {
            drop(self.refused.get_or_create(&InputReason { input, reason: r.label() }));
        }
    }

    pub fn opened(&self, input: &'static str) {
        self.active.get_or_create(&Input { input }).inc();
    }

    pub fn closed(&self, input: &'static str) {
        self.active.get_or_create(&Input { input }).dec();
    }

    pub fn refused(&self, input: &'static str, reason: ConnectionRefusal) {
        self.refused.get_or_create(&InputReason { input, reason: reason.label() }).inc();
    }

    pub fn timed_out(&self, input: &'static str) {
        self.timed_out.get_or_create(&Input { input }).inc();
    }

    pub fn accept_error(&self, input: &'static str) {
        self.accept_errors.get_or_create(&Input { input }).inc();
    }

    pub fn dropped(&self, input: &'static str, reason: RecordDrop, n: usize) {
        self.dropped.get_or_create(&InputReason { input, reason: reason.label() }).inc_by(n as u64);
    }
}
