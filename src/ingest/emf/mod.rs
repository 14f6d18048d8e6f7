//! EMF, the CloudWatch embedded metric format, over UDP (a document per datagram) and TCP (a
//! document per line), on the shared transports of [`crate::ingest::lines`]: documents become
//! candidates for the pipeline, like any input ([`parse`] says how).
//!
//! The CloudWatch agent ships EMF to CloudWatch Logs, which extracts the metrics; here they
//! are published with PutMetricData, aggregated, and the log event itself is not kept.
//!
//! Counting, in `input_lines_total{input="emf"}`: `received`, `ignored` (JSON that is not
//! EMF) and `rejected` (the whole document, reason in `input_lines_rejected_total`) count
//! documents; `accepted` and `dropped` count datums (a document gives one per metric and
//! dimension set) that the pipeline took, or refused and lost. A skipped metric or dropped
//! dimension set is a warning in `input_warnings_total`; the document's other metrics publish.

mod loud;

use std::borrow::Cow;
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::EmfConfig;
use crate::ingest::lines::{self, LineInput};
use crate::ingest::source::{BoxFuture, Shared, Source};
use crate::telemetry::Telemetry;
use cw_core::domain::payload::{GivenValues, Payload, StatSet};
use cw_core::domain::timestamp::GivenTime;
use cw_core::ingest::emf::{self as parse, Datum, Limits, Parsed, Values};
use cw_core::ingest::statsd::lines as split_lines;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Accepted, Admission, Input, Pipeline};
use cw_core::reasons::{LineOutcome, LineReject, LineWarning, RejectReason};

pub const INPUT: Input = Input { name: "emf", admission: Admission::Bounded, counted: true };

/// The EMF input: its namespace for directives without one, shared by its listeners.
pub struct Emf {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    /// `[emf].namespace`, else the global one.
    namespace: Option<String>,
    limits: Limits,
    /// Documents over our bounds are a warning, at most one line per 10 s.
    over_bounds: loud::Loud,
}

impl Emf {
    pub fn new(
        pipeline: Arc<Pipeline>,
        telemetry: Arc<Telemetry>,
        clock: SharedClock,
        config: &EmfConfig,
        namespace: Option<&String>,
    ) -> Emf {
        let namespace = config.namespace.clone().or_else(|| namespace.cloned());
        telemetry.line_input(INPUT.name);
        let (limits, over_bounds) = (config.limits(), loud::Loud::new(10_000));
        Emf { pipeline, telemetry, clock, namespace, limits, over_bounds }
    }

    fn warn(&self, warning: LineWarning, message: &str) {
        self.telemetry.input_warning(INPUT.name, warning);
        tracing::debug!(reason = warning.label(), message, "emf metric skipped or dimension set dropped");
    }
}

/// A datum as a candidate; an impossible statistic set (by the pipeline's own rule) is the
/// metric's problem, not the document's: `Err` with the metric's name.
fn candidate(datum: Datum<'_>, now: i64) -> Result<Candidate<'_>, (Cow<'_, str>, String)> {
    let values = match datum.values {
        Values::One(v) => GivenValues { value: Some(v), ..GivenValues::default() },
        Values::Many(values) => GivenValues { values: Some(values), ..GivenValues::default() },
        Values::Weighted { values, counts } => {
            GivenValues { values: Some(values), counts: Some(counts), ..GivenValues::default() }
        }
        Values::Statistics { max, min, count, sum } => {
            let statistics = StatSet { sample_count: count, sum, min, max };
            let given = GivenValues { statistics: Some(statistics), ..GivenValues::default() };
            if let Err(e) = Payload::check(&mut given.clone()) {
                let message = format!("metric {}: {e}", datum.name);
                return Err((datum.name, message));
            }
            given
        }
    };
    Ok(Candidate {
        name: Some(datum.name),
        namespace: datum.namespace,
        unit: datum.unit,
        dimensions: datum.dimensions,
        // Missing: the time it was received, as CloudWatch Logs takes the event's time.
        timestamp: Some(GivenTime::EpochMillis(datum.timestamp_ms.unwrap_or(now))),
        storage_resolution: datum.storage_resolution,
        values,
    })
}

impl LineInput for Emf {
    const INPUT: Input = INPUT;
    const OWN_NAMESPACES: bool = true;

    fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    fn context(&self) -> Context<'_> {
        Context { namespace: self.namespace.as_deref(), dimensions: &[] }
    }

    /// Parses documents (one per line) into candidates for `take`, counting what is skipped.
    fn each_candidate<'a>(&'a self, batch: &'a [u8], mut take: impl FnMut(Candidate<'a>)) {
        let now = self.clock.now_ms();
        let (mut received, mut ignored) = (0, 0);
        for document in split_lines(batch) {
            received += 1;
            let document = match parse::parse_with(document, &self.limits) {
                Ok(Parsed::Emf(d)) => d,
                Ok(Parsed::NotEmf) => {
                    ignored += 1;
                    continue;
                }
                Err(e) => {
                    self.rejected(e.reason, &e.message);
                    if matches!(e.reason, LineReject::TooManyDimensionSets | LineReject::TooManyDatums)
                        && let Some(held_back) = self.over_bounds.allow(now)
                    {
                        tracing::warn!(
                            reason = e.reason.label(),
                            message = %e.message,
                            rejected_since_last_warning = held_back,
                            "emf document rejected: it would make too many series"
                        );
                    }
                    continue;
                }
            };
            for (warning, message) in &document.warnings {
                self.warn(*warning, message);
            }
            // A metric's datums (one per dimension set) come together: warn once for it.
            let mut last_impossible: Option<Cow<'a, str>> = None;
            for datum in document.datums {
                match candidate(datum, now) {
                    Ok(c) => take(c),
                    Err((name, message)) => {
                        if last_impossible.as_ref() != Some(&name) {
                            self.warn(LineWarning::StatisticSet, &message);
                        }
                        last_impossible = Some(name);
                    }
                }
            }
        }
        // Counted once per batch: a labelled counter costs a lookup.
        self.telemetry.input_lines(INPUT.name, LineOutcome::Received, received);
        if ignored > 0 {
            self.telemetry.input_lines(INPUT.name, LineOutcome::Ignored, ignored);
        }
    }

    /// Datums the pipeline's validation refused: their metric is skipped, with a warning.
    fn accepted(&self, answer: Accepted) {
        self.telemetry.input_lines(INPUT.name, LineOutcome::Accepted, answer.accepted);
        let over_budget = answer.rejected.iter().filter(|r| r.reason == RejectReason::SeriesBudget).count();
        if over_budget > 0 {
            // Valid datums the series budget refused: lost, as UDP cannot push back.
            self.telemetry.input_lines(INPUT.name, LineOutcome::Dropped, over_budget);
        }
        for r in &answer.rejected {
            let name = r.name.as_deref().unwrap_or("");
            self.warn(LineWarning::DatumInvalid, &format!("metric {name}: {}", r.error));
        }
    }
}

/// Binds what `[emf]` turns on: the input's [`Source`]; `None` when nothing is.
pub fn build(shared: &Shared) -> BoxFuture<'_, std::io::Result<Option<Box<dyn Source>>>> {
    Box::pin(async move {
        let config = &shared.config;
        let mut listener = config.emf.listener();
        listener.max_batch_bytes = config.udp_batch_bytes;
        if listener.udp.is_none() && listener.tcp.is_none() {
            return Ok(None);
        }
        let (pipeline, telemetry, clock) = (shared.pipeline.clone(), shared.telemetry.clone(), shared.clock.clone());
        let emf = Emf::new(pipeline, telemetry, clock, &config.emf, config.namespace.as_ref());
        let bound = lines::Listeners::bind(&listener, "emf.receive_buffer_bytes", emf).await?;
        Ok(bound.map(|b| Box::new(b) as Box<dyn Source>))
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::clock::ManualClock;

    const NOW: i64 = 1_700_000_010_000;

    fn emf(namespace: Option<&str>) -> Emf {
        let clock = ManualClock::new(NOW);
        let (pipeline, telemetry) = crate::test_support::pipeline(None, 1000, clock.clone());
        let config = EmfConfig { namespace: namespace.map(str::to_string), ..EmfConfig::default() };
        Emf::new(pipeline, telemetry, clock, &config, Some(&"Global".to_string()))
    }

    fn counted(e: &Emf, expected: &[&str]) {
        let text = e.telemetry.encode();
        for line in expected {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn documents_become_candidates_stamped_when_received() {
        let e = emf(None);
        let batch = concat!(
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Op"]],"Metrics":[{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"Op":"add","Latency":[1,2]}"#,
            "\n",
            r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Metrics":[{"Name":"S"}]}]},"S":{"Max":3,"Min":1,"Count":2,"Sum":4}}"#,
            "\n"
        );
        let p = e.prepare_batch(batch.as_bytes());
        assert_eq!(p.items.len(), 2);
        let c = &p.items[0];
        assert_eq!(c.namespace.as_deref(), Some("Shop"));
        assert_eq!(c.name.as_deref(), Some("Latency"));
        assert_eq!(c.unit.as_deref(), Some("Milliseconds"));
        assert_eq!(c.storage_resolution, Some(1));
        assert_eq!(c.timestamp, Some(GivenTime::EpochMillis(NOW)));
        assert_eq!(c.values.values, Some(vec![1.0, 2.0]));
        let c = &p.items[1];
        assert_eq!(c.namespace, None, "the context's namespace applies");
        assert_eq!(c.timestamp, Some(GivenTime::EpochMillis(1_700_000_000_000)));
        assert_eq!(c.values.statistics, Some(StatSet { sample_count: 2.0, sum: 4.0, min: 1.0, max: 3.0 }));
    }

    #[test]
    fn the_namespace_of_directives_without_one() {
        assert_eq!(emf(Some("Own")).context().namespace, Some("Own"));
        assert_eq!(emf(None).context().namespace, Some("Global"));
    }

    #[test]
    fn an_impossible_statistic_set_skips_its_metric_once() {
        let e = emf(None);
        let doc = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["A"],[]],"Metrics":[{"Name":"S"},{"Name":"M"}]}]},"A":"a","S":{"Max":1,"Min":3,"Count":2,"Sum":4},"M":1}"#;
        let p = e.prepare_batch(doc.as_bytes());
        assert_eq!(p.items.iter().map(|c| c.name.as_deref().unwrap()).collect::<Vec<_>>(), vec!["M", "M"]);
        counted(&e, &["cw_sidecar_input_warnings_total{input=\"emf\",reason=\"statistic_set\"} 1"]);
    }

    #[test]
    fn documents_are_counted_by_outcome_and_reason() {
        let e = emf(None);
        let batch = concat!(
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Gone"]],"Metrics":[{"Name":"M"},{"Name":"X"},{"Name":"Huge"}]}]},"M":1,"Huge":1e200}"#,
            "\n{\"level\":\"info\"}\n{oops\n",
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Metrics":[{"Name":"M"}]}]},"M":[],"#,
            "\n"
        );
        let mut p = e.prepare_batch(batch.as_bytes());
        lines::input::submit(&e, &mut p).unwrap();
        assert_eq!(e.pipeline.active_series(), 1);
        counted(
            &e,
            &[
                "cw_sidecar_input_lines_total{input=\"emf\",outcome=\"received\"} 4",
                "cw_sidecar_input_lines_total{input=\"emf\",outcome=\"accepted\"} 1",
                "cw_sidecar_input_lines_total{input=\"emf\",outcome=\"ignored\"} 1",
                "cw_sidecar_input_lines_total{input=\"emf\",outcome=\"rejected\"} 2",
                "cw_sidecar_input_lines_rejected_total{input=\"emf\",reason=\"invalid_json\"} 2",
                "cw_sidecar_input_warnings_total{input=\"emf\",reason=\"dimension_missing\"} 1",
                "cw_sidecar_input_warnings_total{input=\"emf\",reason=\"metric_missing\"} 1",
                "cw_sidecar_input_warnings_total{input=\"emf\",reason=\"datum_invalid\"} 1",
                "cw_sidecar_input_lines_rejected_total{input=\"emf\",reason=\"too_many_values\"} 0",
                "cw_sidecar_udp_dropped_total{input=\"emf\",reason=\"kernel\"} 0",
            ],
        );
    }
}
