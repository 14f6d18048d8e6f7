//! Micro-benchmarks of the HTTP hot path, stage by stage, per record (`cargo bench`).
//! Each stage runs on the records of `scripts/bench.sh`'s 1000-record body (60 series,
//! long-tailed values); where an iteration handles a whole body or a whole flush, the
//! throughput column counts records (or windows), so time per record = 1 / that rate.
//! Timings are for comparing a change on one machine, never tests.

use std::cell::Cell;
use std::sync::LazyLock;

use cw_sidecar::bench_support as b;
use divan::Bencher;
use divan::counter::ItemsCount;

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
    let items = b::split(BATCH.as_bytes());
    let next = cycle(items.len());
    bencher.with_inputs(|| items[next()]).bench_local_values(b::parse);
}

/// Candidate → valid sample (names, unit, timestamp, dimensions, values).
#[divan::bench]
fn validate(bencher: Bencher) {
    let candidates: Vec<_> = b::split(BATCH.as_bytes()).into_iter().map(b::parse).collect();
    let validator = b::Validator::default();
    let next = cycle(candidates.len());
    bencher.with_inputs(|| candidates[next()].clone()).bench_local_refs(|c| validator.check(c));
}

/// Sample → series key bytes.
#[divan::bench]
fn series_key(bencher: Bencher) {
    let mut candidates: Vec<_> = b::split(BATCH.as_bytes()).into_iter().map(b::parse).collect();
    let validator = b::Validator::default();
    let samples = validator.samples(&mut candidates);
    let next = cycle(samples.len());
    bencher.with_inputs(|| (next(), Vec::with_capacity(128))).bench_local_refs(|(i, out)| samples.encode_key(*i, out));
}

fn keyed(body: &str) -> b::Keyed {
    let mut candidates: Vec<_> = b::split(body.as_bytes()).into_iter().map(b::parse).collect();
    b::Validator::default().samples(&mut candidates).keyed()
}

/// One record added to its series' open window (the 60 series exist already).
#[divan::bench]
fn aggregate(bencher: Bencher) {
    let keyed = keyed(&BATCH);
    let aggregation = b::Aggregation::default();
    (0..keyed.len()).for_each(|i| {
        aggregation.add(&keyed, i);
    });
    let next = cycle(keyed.len());
    bencher.with_inputs(&next).bench_local_values(|i| aggregation.add(&keyed, i));
}

/// 1000 records, each opening a new series, into an empty aggregator.
#[divan::bench]
fn aggregate_new_series(bencher: Bencher) {
    let keyed = keyed(&SPREAD);
    bencher.counter(ItemsCount::new(keyed.len())).with_inputs(b::Aggregation::default).bench_local_values(|a| {
        (0..keyed.len()).for_each(|i| {
            a.add(&keyed, i);
        });
        a
    });
}

/// A flush: 1000 windows of 20 distinct values each → datums → PutMetricData requests.
#[divan::bench]
fn batching(bencher: Bencher) {
    let aggregation = b::Aggregation::default();
    for seed in 1..=20 {
        // The same 1000 series, new random values each round: 20 distinct values each.
        let keyed = keyed(&body(1000, 1000, seed));
        (0..keyed.len()).for_each(|i| {
            aggregation.add(&keyed, i);
        });
    }
    let closed = aggregation.drain();
    bencher.counter(ItemsCount::new(closed.len())).bench_local(|| closed.batches());
}

/// The whole HTTP path after the body is read: a 1000-record body into the pipeline.
#[divan::bench]
fn submit_1000_records(bencher: Bencher) {
    let pipeline = b::HttpPipeline::new(1_000_000);
    bencher.counter(ItemsCount::new(1000usize)).bench_local(|| pipeline.submit(BATCH.as_bytes()));
}

/// The same for a one-record body: the fixed cost of a submission.
#[divan::bench]
fn submit_one_record(bencher: Bencher) {
    let pipeline = b::HttpPipeline::new(1_000_000);
    bencher.bench_local(|| pipeline.submit(ONE.as_bytes()));
}
