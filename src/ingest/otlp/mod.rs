//! OpenTelemetry metrics over OTLP/HTTP: `ExportMetricsServiceRequest`s, protobuf or JSON,
//! become candidates for the pipeline ([`convert`]), and the pipeline's answer becomes an
//! OTLP answer ([`http`]): 200 with a partial success naming the points refused and why, 503
//! with `Retry-After` when the pipeline refuses the request as a whole.
//!
//! Served at `POST /v1/metrics` of the HTTP API beside our own JSON records (told apart by
//! `Content-Type` for protobuf and by the document's top-level `resourceMetrics` for JSON),
//! and, when configured, on a listener of its own (127.0.0.1:4318, the SDKs' default). OTLP
//! over gRPC ([`grpc`], `MetricsService/Export` on 127.0.0.1:4317) shares this input: the same
//! conversion, state and answers.
//!
//! The cumulative state (last reading per stream) is bounded by `max_streams` and
//! `max_stream_state_bytes`, and forgets streams idle for `stream_idle_timeout`. It is held
//! across a request's conversion and submission; what the request did to it is taken back when
//! the pipeline refuses the request, so that the client's retry publishes the same increases,
//! and what a point did is taken back when the pipeline rejects that point.

pub mod grpc;
pub mod http;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::clock::SharedClock;
use crate::config::OtlpConfig;
use crate::telemetry::Telemetry;
use cw_core::ingest::otlp::budget::Bounds;
pub use cw_core::ingest::otlp::convert::Settings;
use cw_core::ingest::otlp::convert::{self, Converted, take_back};
use cw_core::ingest::otlp::streams::{self, Streams};
use cw_core::ingest::otlp::wire::Decoded;
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
    streams: Streams,
    expired_at_ms: i64,
}

/// The OTLP input: its settings and its cumulative state.
pub struct Otlp {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    settings: Settings,
    /// The decoded-size budget of one request.
    pub bounds: Bounds,
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
            bounds: Bounds {
                max_points: config.max_points_per_request,
                max_buckets_per_point: config.max_buckets_per_point,
            },
            namespace: config.namespace.clone().or_else(|| namespace.cloned()),
            state: Mutex::new(State {
                streams: Streams::new(streams::Bounds {
                    max_streams: config.max_streams,
                    max_bytes: config.max_stream_state_bytes,
                    idle_ms,
                }),
                expired_at_ms: now,
            }),
            clock,
        }
    }

    /// Converts and submits one decoded request.
    pub fn export(&self, decoded: &Decoded) -> Result<Answer, Refusal> {
        let t = &self.telemetry;
        let now = self.clock.now_ms();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now - state.expired_at_ms >= EXPIRE_EVERY_MS {
            state.streams.expire(now);
            state.expired_at_ms = now;
        }
        let Converted { candidates, point_of, points, refused, empty, undo } =
            convert::convert_with(&decoded.request, &decoded.faults, &self.settings, &mut state.streams, now);
        t.otlp_points(OtlpOutcome::Received, points.len());
        let context = Context { namespace: self.namespace.as_deref(), dimensions: &[] };
        let accepted = match self.pipeline.submit(INPUT, &context, candidates.into_iter().map(Ok)) {
            Ok(accepted) => accepted,
            Err(refusal) => {
                take_back(&mut state.streams, undo, |_| true, now);
                t.otlp_points(OtlpOutcome::Refused, points.len());
                return Err(refusal);
            }
        };
        // Points refused here (their rule counted as the pipeline counts its own), and points
        // with a candidate the pipeline rejected: these leave their streams as they were.
        let mut bad: BTreeMap<usize, (OtlpReject, String)> = BTreeMap::new();
        for (p, r) in refused {
            if let Some(rule) = r.rule {
                t.record_rejected(rule);
            }
            bad.insert(p, (r.reason, r.message));
        }
        for r in accepted.rejected {
            bad.entry(point_of[r.index]).or_insert((OtlpReject::Invalid, r.error));
        }
        if !undo.is_empty() && !bad.is_empty() {
            take_back(&mut state.streams, undo, |p| bad.contains_key(&p), now);
        }
        t.set_otlp_streams(state.streams.len());
        drop(state);
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
