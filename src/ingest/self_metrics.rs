//! The sidecar's own metrics, one more input of the pipeline: recorded at every flush as
//! samples of the current minute under `self_metrics_namespace`, with exactly the default
//! dimensions. They aggregate like any series, so an outage costs one datum per metric and
//! minute, whatever the flush interval. Only the metrics named in `self_metrics` are recorded:
//! each is a billed series per set of default dimensions.

use std::borrow::Cow;

use crate::telemetry::Telemetry;
use cw_core::domain::payload::GivenValues;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Input, Pipeline};

/// Records this flush's self metrics named in `names`; nothing when `namespace` is empty
/// (disabled).
pub fn record(pipeline: &Pipeline, telemetry: &Telemetry, namespace: &str, names: &[String]) {
    if namespace.is_empty() {
        return;
    }
    let wanted = |name: &str| names.iter().any(|n| n == name);
    let d = telemetry.take_deltas();
    // The budget's count when there is one (what `max_series` bounds), otherwise the series
    // with an open window.
    let active = || pipeline.series_report(0).map_or(pipeline.active_series(), |r| r.active_series);
    let metrics = [
        ("Heartbeat", 1),
        ("RecordsAccepted", d.records_accepted),
        ("RecordsRejected", d.records_rejected),
        ("DatumsPublished", d.datums_published),
        ("DatumsDropped", d.datums_dropped),
        ("UdpDropped", d.udp_dropped),
        ("PublishFailures", d.publish_failures),
        ("ThrottledRequests", d.throttled_requests),
        ("BufferedDatums", pipeline.buffer().used() as u64),
        ("ActiveSeries", if wanted("ActiveSeries") { active() as u64 } else { 0 }),
    ];
    let mut candidates: Vec<_> = metrics
        .into_iter()
        .filter(|(name, _)| wanted(name))
        .map(|(name, value)| {
            Ok(Candidate {
                name: Some(Cow::Borrowed(name)),
                unit: Some(Cow::Borrowed("Count")),
                values: GivenValues { value: Some(value as f64), ..GivenValues::default() },
                ..Candidate::default()
            })
        })
        .collect();
    // Each scrape target's health, with a `Target` dimension.
    for (target, h) in telemetry.scrape.health() {
        let health = [
            ("ScrapeUp", "Count", h.up as u8 as f64),
            ("ScrapeDuration", "Seconds", h.duration_seconds),
            ("ScrapeSeriesPublished", "Count", h.series_published as f64),
            ("ScrapeSeriesCapped", "Count", h.series_capped as f64),
        ];
        candidates.extend(health.into_iter().filter(|(name, ..)| wanted(name)).map(|(name, unit, value)| {
            Ok(Candidate {
                name: Some(Cow::Borrowed(name)),
                unit: Some(Cow::Borrowed(unit)),
                dimensions: [(Cow::Borrowed("Target"), Cow::Owned(target.clone()))].into_iter().collect(),
                values: GivenValues { value: Some(value), ..GivenValues::default() },
                ..Candidate::default()
            })
        }));
    }
    if candidates.is_empty() {
        return;
    }
    let context = Context { namespace: Some(namespace), dimensions: &[] };
    match pipeline.submit(Input::SELF_METRICS, &context, candidates) {
        Ok(report) if report.rejected.is_empty() => {}
        Ok(report) => tracing::error!(rejected = ?report.rejected, "self metrics rejected"),
        Err(refusal) => tracing::error!(%refusal, "self metrics refused"),
    }
}
