//! Micro-benchmarks of the HTTP hot path, stage by stage, per record (`cargo bench -p cw-core`),
//! on the core crate alone.
//! Each stage runs on the records of `scripts/bench.sh`'s 1000-record body (60 series,
//! long-tailed values); where an iteration handles a whole body or a whole flush, the
//! throughput column counts records (or windows), so time per record = 1 / that rate.
//! Timings are for comparing a change on one machine, never tests.

use std::cell::Cell;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use cw_core::clock::StillClock;
use cw_core::domain::payload::Payload;
use cw_core::ingest::json::submit::submit_body;
use cw_core::ingest::json::{BodyKind, parse_record, split_body};
use cw_core::pipeline::aggregate::Aggregator;
use cw_core::pipeline::aggregate::plan::Plan;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::validate::{Defaults, Memo, Sample, validate_with};
use cw_core::pipeline::{Finished, Input, Pipeline, Settings, Uncounted};
use cw_core::publish::batch::into_batches;
use cw_core::publish::datum::{Datum, datums_for};
use divan::Bencher;
use divan::counter::ItemsCount;

/// The benches' "now": records without a timestamp fall in this minute.
const NOW_MS: i64 = 1_800_000_000_000;

fn main() {
    divan::main();
}

/// A small deterministic generator (xorshift), so every run sees the same body.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `records` records over `series` series (Service × Route), long-tailed latencies.
fn body(records: usize, series: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let items: Vec<String> = (0..records)
        .map(|i| {
            let tail = if rng.next() < 0.05 { 40.0 } else { 1.0 };
            let v = ((rng.next() * 3.0 + 1.0).exp() * tail * 1000.0).round() / 1000.0;
            let s = i % series;
            format!(
                r#"{{"name":"Latency","value":{v},"unit":"Milliseconds","dimensions":{{"Service":"svc{}","Route":"/r{}"}}}}"#,
                s % 10,
                s / 10
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

static BATCH: LazyLock<String> = LazyLock::new(|| body(1000, 60, 7));
static ONE: LazyLock<String> = LazyLock::new(|| body(1, 1, 7));
/// 1000 distinct series, one record each.
static SPREAD: LazyLock<String> = LazyLock::new(|| body(1000, 1000, 7));

/// A JSON array body split into its records, unparsed.
fn split(body: &str) -> Vec<&[u8]> {
    split_body(body.as_bytes(), BodyKind::Json).expect("a JSON array of records").items
}

/// One record parsed into a candidate, as the HTTP input reads it.
fn candidate(item: &[u8]) -> Candidate<'_> {
    parse_record(item).expect("a valid record")
}

/// The fallbacks every record of the benches takes: namespace `Bench`, no default dimensions.
fn defaults() -> Defaults {
    Defaults { namespace: Some("Bench".into()), ..Default::default() }
}

/// The valid records of a body.
fn samples<'a>(candidates: &'a mut [Candidate<'_>], defaults: &'a Defaults) -> Vec<Sample<'a>> {
    let mut memo = Memo::default();
    candidates
        .iter_mut()
        .filter_map(|c| validate_with(c, &Context::default(), defaults, NOW_MS, Some(&mut memo)).ok())
        .collect()
}

/// Series keys, windows and payloads, as a submission holds them before aggregation.
struct Keyed {
    keys: Vec<u8>,
    items: Vec<(Range<usize>, i64, Payload)>,
}

impl Keyed {
    fn of(body: &str) -> Keyed {
        let mut candidates: Vec<_> = split(body).into_iter().map(candidate).collect();
        let defaults = defaults();
        let mut keys = Vec::new();
        let items = samples(&mut candidates, &defaults)
            .into_iter()
            .map(|s| {
                let start = keys.len();
                s.encode_key(&mut keys);
                (start..keys.len(), s.window_start_ms(), s.payload)
            })
            .collect();
        Keyed { keys, items }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    /// Adds record `i` to its series-window (its payload cloned, its plan made, as a
    /// submission does for each record); the slots the window grew by.
    fn add(&self, aggregator: &Aggregator, i: usize) -> usize {
        let (key, window, payload) = &self.items[i];
        aggregator.add(&self.keys[key.clone()], *window, Plan::of(payload.clone()))
    }
}

/// A pipeline as the HTTP input sees it, on a clock that stands still at [`NOW_MS`].
fn pipeline() -> Pipeline {
    let settings = Settings { defaults: defaults(), ..Settings::plain(None, 1_000_000) };
    Pipeline::new(settings, Arc::new(Uncounted), StillClock::shared(NOW_MS), None)
}

/// A body through the whole pipeline after it is read (the HTTP input's path); the records
/// accepted.
fn submit(pipeline: &Pipeline, body: &str) -> usize {
    match submit_body(pipeline, Input::HTTP, body.as_bytes(), BodyKind::Json).map(Finished::now) {
        Ok(Ok(accepted)) => accepted.accepted,
        _ => 0,
    }
}

/// Cycles over `0..n`, one index per iteration.
fn cycle(n: usize) -> impl Fn() -> usize {
    let i = Cell::new(0);
    move || {
        let v = i.get();
        i.set((v + 1) % n);
        v
    }
}

/// JSON record → candidate (the HTTP input's deserializer).
#[divan::bench]
fn parse(bencher: Bencher) {
    let items = split(&BATCH);
    let next = cycle(items.len());
    bencher.with_inputs(|| items[next()]).bench_local_values(candidate);
}

/// Candidate → valid sample (names, unit, timestamp, dimensions, values).
#[divan::bench]
fn validate(bencher: Bencher) {
    let candidates: Vec<_> = split(&BATCH).into_iter().map(candidate).collect();
    let defaults = defaults();
    let mut memo = Memo::default();
    let next = cycle(candidates.len());
    bencher
        .with_inputs(|| candidates[next()].clone())
        .bench_local_refs(|c| validate_with(c, &Context::default(), &defaults, NOW_MS, Some(&mut memo)).is_ok());
}

/// Sample → series key bytes.
#[divan::bench]
fn series_key(bencher: Bencher) {
    let mut candidates: Vec<_> = split(&BATCH).into_iter().map(candidate).collect();
    let defaults = defaults();
    let samples = samples(&mut candidates, &defaults);
    let next = cycle(samples.len());
    bencher.with_inputs(|| (next(), Vec::with_capacity(128))).bench_local_refs(|(i, out)| samples[*i].encode_key(out));
}

/// One record added to its series' open window (the 60 series exist already).
#[divan::bench]
fn aggregate(bencher: Bencher) {
    let keyed = Keyed::of(&BATCH);
    let aggregator = Aggregator::default();
    (0..keyed.len()).for_each(|i| {
        keyed.add(&aggregator, i);
    });
    let next = cycle(keyed.len());
    bencher.with_inputs(&next).bench_local_values(|i| keyed.add(&aggregator, i));
}

/// 1000 records, each opening a new series, into an empty aggregator.
#[divan::bench]
fn aggregate_new_series(bencher: Bencher) {
    let keyed = Keyed::of(&SPREAD);
    bencher.counter(ItemsCount::new(keyed.len())).with_inputs(Aggregator::default).bench_local_values(|a| {
        (0..keyed.len()).for_each(|i| {
            keyed.add(&a, i);
        });
        a
    });
}

/// A flush: 1000 windows of 20 distinct values each → datums → PutMetricData requests.
#[divan::bench]
fn batching(bencher: Bencher) {
    let aggregator = Aggregator::default();
    for seed in 1..=20 {
        // The same 1000 series, new random values each round: 20 distinct values each.
        let keyed = Keyed::of(&body(1000, 1000, seed));
        (0..keyed.len()).for_each(|i| {
            keyed.add(&aggregator, i);
        });
    }
    let closed = aggregator.drain(None, 0);
    bencher.counter(ItemsCount::new(closed.len())).bench_local(|| {
        let datums: Vec<Datum> = closed.iter().flat_map(datums_for).collect();
        into_batches(datums).len()
    });
}

/// The whole HTTP path after the body is read: a 1000-record body into the pipeline.
#[divan::bench]
fn submit_1000_records(bencher: Bencher) {
    let pipeline = pipeline();
    bencher.counter(ItemsCount::new(1000usize)).bench_local(|| submit(&pipeline, &BATCH));
}

/// The same for a one-record body: the fixed cost of a submission.
#[divan::bench]
fn submit_one_record(bencher: Bencher) {
    let pipeline = pipeline();
    bencher.bench_local(|| submit(&pipeline, &ONE));
}
