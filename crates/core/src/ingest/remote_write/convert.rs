//! A request's samples → candidates, against the state. Pure: the sidecar decodes the body,
//! converts it, submits the candidates, and commits the state (or rolls it back when the
//! pipeline refuses the request, so that the sender's retry is taken as new).
//!
//! The samples are taken in time order. Each is checked against its series' last timestamp
//! first: one at or before it is ignored (`old_timestamp`), so a resent request publishes
//! nothing more. Then:
//! - a gauge's sample is published as it is;
//! - a cumulative series' sample is published as the increase since the series' previous
//!   sample (the first one only sets the baseline; a decrease is a reset), summed with the
//!   increases of series that publish the same datum (labels dropped) at the same timestamp;
//! - a histogram's parts are gathered by timestamp and published as values and counts
//!   ([`super::histograms`]);
//! - Prometheus' stale marker ends a series: its cumulative state is forgotten.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

pub use super::converted::{Converted, PROBLEMS};
use super::histograms::Groups;
use super::series::{Class, Prepared, Verdict, prepare};
use super::state::{Key, Seen, State};
use super::wire::{WriteRequest, is_stale_marker};
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::ingest::cumulative::{Change, Reading};
use crate::ingest::prometheus::rules::{self, Rules};
use crate::pipeline::candidate::Candidate;
use crate::reasons::{RemoteWriteIgnored as Ignored, RemoteWriteOutcome as Outcome, RemoteWriteReject as Reject};

/// Converts one decoded request at `now_ms` (the state's clock: what is idle expires by it).
/// Only the include, exclude and label rules of `rules` apply (the state has bounds of its own).
pub fn convert<'a>(request: &'a WriteRequest, rules: &Rules, state: &mut State, now_ms: i64) -> Converted<'a> {
    let mut out = Converted::default();
    let prepared: Vec<Option<Prepared<'a>>> = request
        .timeseries
        .iter()
        .map(|series| {
            let n = series.samples.len();
            out.count(Outcome::Received, n);
            match prepare(series, rules, state) {
                Verdict::Take(p) => Some(p),
                Verdict::Ignore(reason) => {
                    out.ignore(reason, n);
                    None
                }
                Verdict::Reject(reason, why) => {
                    out.reject(reason, n, Some(why));
                    None
                }
            }
        })
        .collect();
    let bucketed: HashSet<Key> =
        prepared.iter().flatten().filter(|p| matches!(p.class, Class::Bucket(_))).map(|p| p.histogram).collect();
    let in_histogram: Vec<bool> = prepared
        .iter()
        .map(|p| p.as_ref().is_some_and(|p| p.in_histogram(|k| bucketed.contains(&k) || state.knows(k))))
        .collect();
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    for (i, series) in request.timeseries.iter().enumerate().filter(|(i, _)| prepared[*i].is_some()) {
        order.extend(series.samples.iter().enumerate().map(|(j, s)| (s.timestamp, i as u32, j as u32)));
    }
    order.sort_unstable();
    let mut groups = Groups::default();
    // Increases, summed per published datum and timestamp: (series, timestamp, samples, sum).
    let mut sums: Vec<(&Prepared<'a>, i64, usize, f64)> = Vec::new();
    let mut sum_index: HashMap<(String, i64), usize> = HashMap::new();
    for (at, i, j) in order {
        let (i, j) = (i as usize, j as usize);
        let Some(p) = prepared[i].as_ref() else { continue };
        let value = request.timeseries[i].samples[j].value;
        let histogram = in_histogram[i];
        if is_stale_marker(value) {
            if let Ok(Seen::Old) = state.observe(p.key, at, None, now_ms) {
                out.ignore(Ignored::OldTimestamp, 1);
                continue;
            }
            state.forget_reading(if histogram { p.histogram } else { p.key });
            out.ignore(Ignored::StaleMarker, 1);
            continue;
        }
        let valid = match (histogram, p.class) {
            (_, Class::Gauge) | (true, Class::Sum) => value.is_finite(),
            _ => value.is_finite() && value >= 0.0,
        };
        if !valid {
            out.reject(Reject::Value, 1, Some(format!("{}: {value} at {at}", p.name)));
            continue;
        }
        let cumulative = !histogram && p.class != Class::Gauge;
        let reading = cumulative.then(|| Reading { start_ms: None, shape: 0, counts: vec![value], sum: 0.0 });
        let change = match state.observe(p.key, at, reading, now_ms) {
            Ok(Seen::Old) => {
                out.ignore(Ignored::OldTimestamp, 1);
                continue;
            }
            Ok(Seen::New(change)) => change,
            Err(_) => {
                out.reject(Reject::StateFull, 1, Some(format!("{}: the state is full", p.name)));
                continue;
            }
        };
        if histogram {
            groups.add(p, at, value);
            continue;
        }
        let increase = match change {
            None => {
                out.count(Outcome::Published, 1);
                let values = GivenValues { value: Some(value), ..GivenValues::default() };
                out.push(candidate(p, at, values), 1);
                continue;
            }
            Some(Change::Increase(d) | Change::Reset(d)) => d.counts[0],
            Some(_) => {
                out.count(Outcome::Baseline, 1);
                continue;
            }
        };
        out.count(Outcome::Published, 1);
        match sum_index.entry((rules::series_key(p.name, &p.dims), at)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let s = &mut sums[*e.get()];
                s.2 += 1;
                s.3 += increase;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(sums.len());
                sums.push((p, at, 1, increase));
            }
        }
    }
    groups.finish(state, now_ms, &mut out);
    for (p, at, samples, value) in sums {
        let values = GivenValues { value: Some(value), ..GivenValues::default() };
        out.push(candidate(p, at, values), samples);
    }
    out
}

fn candidate<'a>(p: &Prepared<'a>, at_ms: i64, values: GivenValues) -> Candidate<'a> {
    Candidate {
        name: Some(Cow::Borrowed(p.name)),
        unit: Some(Cow::Borrowed(p.unit(false).as_str())),
        dimensions: p.dims.iter().cloned().collect(),
        timestamp: Some(GivenTime::EpochMillis(at_ms)),
        values,
        ..Candidate::default()
    }
}
