//! OpenTelemetry metrics over OTLP/HTTP: `ExportMetricsServiceRequest`s, protobuf or JSON,
//! become candidates for the pipeline ([`convert`]), and the pipeline's answer becomes an
//! OTLP answer ([`http`]): 200 with a partial success naming the points refused and why, 503
//! with `Retry-After` when the pipeline refuses the request as a whole.
//!
//! Served at `POST /v1/metrics` of the HTTP API beside our own JSON records (told apart by
//! `Content-Type` for protobuf and by the document's top-level `resourceMetrics` for JSON),
//! and, when configured, on a listener of its own (127.0.0.1:4318, the SDKs' default).
//!
//! The cumulative state (last reading per stream) is bounded by `max_streams` and forgets
//! streams idle for `stream_idle_timeout`. It is held across a request's conversion and
//! submission, and what the request did to it is taken back when the pipeline refuses the
//! request, so that the client's retry publishes the same increases.

pub mod http;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::clock::SharedClock;
use crate::config::OtlpConfig;
use crate::telemetry::Telemetry;
use cw_core::ingest::cumulative::{First, Streams};
pub use cw_core::ingest::otlp::convert::Settings;
use cw_core::ingest::otlp::convert::{self, Converted, StreamKey, Undo};
use cw_core::pipeline::candidate::Context;
use cw_core::pipeline::{Admission, Input, Pipeline, Refusal};
use cw_core::reasons::{OtlpOutcome, OtlpReject};

pub const INPUT: Input = Input { name: "otlp", admission: Admission::Bounded, counted: true };

/// How often idle streams are looked for.
const EXPIRE_EVERY_MS: i64 = 60_000;
/// Reasons given in a partial success's message; the rest are counted.
const MESSAGES: usize = 10;

/// What a request that was not refused as a whole amounts to.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Data points refused (`partial_success.rejected_data_points`).
    pub rejected: usize,
    /// Why, point by point (the first few).
    pub message: String,
}

struct State {
    streams: Streams<StreamKey>,
    expired_at_ms: i64,
}

/// The OTLP input: its settings and its cumulative state.
pub struct Otlp {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    settings: Settings,
    namespace: Option<String>,
    state: Mutex<State>,
}

impl Otlp {
    /// `namespace` is the global one, used when `[otlp]` names none. Streams that started
    /// from now on count from zero.
    pub fn new(
        pipeline: Arc<Pipeline>,
        telemetry: Arc<Telemetry>,
        clock: SharedClock,
        config: &OtlpConfig,
        namespace: Option<&String>,
    ) -> Otlp {
        let now = clock.now_ms();
        let idle_ms = i64::try_from(config.stream_idle_timeout.as_millis()).unwrap_or(i64::MAX);
        Otlp {
            pipeline,
            telemetry,
            settings: Settings { resource_dimensions: config.resource_dimensions.clone(), started_ms: now },
            namespace: config.namespace.clone().or_else(|| namespace.cloned()),
            state: Mutex::new(State { streams: Streams::new(config.max_streams, idle_ms), expired_at_ms: now }),
            clock,
        }
    }

    /// Converts and submits one request.
    pub fn export(&self, request: &ExportMetricsServiceRequest) -> Result<Answer, Refusal> {
        let t = &self.telemetry;
        let now = self.clock.now_ms();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now - state.expired_at_ms >= EXPIRE_EVERY_MS {
            state.streams.expire(now);
            state.expired_at_ms = now;
        }
        let Converted { candidates, point_of, points, refused, empty, undo } =
            convert::convert(request, &self.settings, &mut state.streams, now);
        t.otlp_points(OtlpOutcome::Received, points.len());
        let context = Context { namespace: self.namespace.as_deref(), dimensions: &[] };
        let accepted = match self.pipeline.submit(INPUT, &context, candidates.into_iter().map(Ok)) {
            Ok(accepted) => accepted,
            Err(refusal) => {
                for u in undo.into_iter().rev() {
                    match u {
                        Undo::Forget(key) => drop(state.streams.forget(&key)),
                        Undo::Restore(key, reading) => drop(state.streams.observe(key, reading, First::Baseline, now)),
                    }
                }
                t.otlp_points(OtlpOutcome::Refused, points.len());
                return Err(refusal);
            }
        };
        t.set_otlp_streams(state.streams.len());
        drop(state);
        // Points refused here, and points with a candidate the pipeline rejected.
        let mut bad: BTreeMap<usize, (OtlpReject, String)> =
            refused.into_iter().map(|(p, r)| (p, (r.reason, r.message))).collect();
        for r in accepted.rejected {
            bad.entry(point_of[r.index]).or_insert((OtlpReject::Invalid, r.error));
        }
        for (reason, _) in bad.values() {
            t.otlp_point_rejected(*reason);
        }
        t.otlp_points(OtlpOutcome::Rejected, bad.len());
        t.otlp_points(OtlpOutcome::Empty, empty);
        t.otlp_points(OtlpOutcome::Accepted, points.len() - bad.len() - empty);
        let mut message: Vec<String> =
            bad.iter().take(MESSAGES).map(|(p, (_, why))| points[*p].describe(why)).collect();
        if bad.len() > MESSAGES {
            message.push(format!("and {} more points", bad.len() - MESSAGES));
        }
        Ok(Answer { rejected: bad.len(), message: message.join("; ") })
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
