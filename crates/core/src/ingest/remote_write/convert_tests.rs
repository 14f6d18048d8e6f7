use super::convert::{Converted, convert};
use super::state::{Bounds, State};
use super::wire::{Label, Sample, TimeSeries, WriteRequest};
use crate::ingest::prometheus::rules::Rules;
use crate::reasons::{RemoteWriteIgnored as Ignored, RemoteWriteOutcome as Outcome, RemoteWriteReject as Reject};

const STALE: f64 = f64::from_bits(0x7ff0_0000_0000_0002);
const JOB: [(&str, &str); 2] = [("job", "shop"), ("instance", "10.0.0.1:8000")];

fn ts(name: &str, labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    let mut all = vec![Label { name: "__name__".into(), value: name.into() }];
    all.extend(JOB.iter().chain(labels).map(|(k, v)| Label { name: k.to_string(), value: v.to_string() }));
    TimeSeries { labels: all, samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect() }
}

fn state() -> State {
    State::new(Bounds { max_series: 1000, max_bytes: 1 << 20, idle_ms: 3_600_000 })
}

/// (name, `k=v,...`, timestamp, value or values×counts) of each candidate.
fn published(c: &Converted<'_>) -> Vec<(String, String, i64, String)> {
    c.candidates
        .iter()
        .map(|d| {
            let dims = d.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let at = match d.timestamp {
                Some(crate::domain::timestamp::GivenTime::EpochMillis(ms)) => ms,
                _ => panic!("no timestamp"),
            };
            let v = &d.values;
            let value = match (v.value, &v.values, &v.counts) {
                (Some(x), _, _) => format!("{x}"),
                (None, Some(values), Some(counts)) => {
                    values.iter().zip(counts).map(|(v, c)| format!("{v}x{c}")).collect::<Vec<_>>().join(" ")
                }
                _ => panic!("no value"),
            };
            (d.name.as_deref().unwrap().to_string(), dims, at, value)
        })
        .collect()
}

/// A request that lives as long as the test (what is converted borrows from it).
fn rw(timeseries: Vec<TimeSeries>) -> &'static WriteRequest {
    Box::leak(Box::new(WriteRequest { timeseries }))
}

const DIMS: &str = "instance=10.0.0.1:8000,job=shop";

#[test]
fn gauges_as_they_are_counters_as_increases_and_a_resent_request_publishes_nothing() {
    let rules = Rules::default();
    let mut s = state();
    let first = rw(vec![ts("up", &[], &[(1.0, 1_000)]), ts("orders_total", &[("code", "200")], &[(10.0, 1_000)])]);
    let c = convert(first, &rules, &mut s, 0);
    assert_eq!(published(&c), vec![("up".into(), DIMS.into(), 1_000, "1".into())]);
    assert_eq!((c.outcome(Outcome::Received), c.outcome(Outcome::Baseline)), (2, 1));
    assert_eq!(c.candidates[0].unit.as_deref(), Some("None"));
    let second = rw(vec![ts("orders_total", &[("code", "200")], &[(15.0, 2_000), (16.0, 3_000)])]);
    let c = convert(second, &rules, &mut s, 0);
    let dims = format!("code=200,{DIMS}");
    assert_eq!(
        published(&c),
        vec![
            ("orders_total".into(), dims.clone(), 2_000, "5".into()),
            ("orders_total".into(), dims, 3_000, "1".into())
        ]
    );
    assert_eq!(c.candidates[0].unit.as_deref(), Some("Count"));
    assert_eq!(c.samples_of, vec![1, 1]);
    s.commit();
    let again = convert(second, &rules, &mut s, 0);
    assert!(again.candidates.is_empty());
    assert_eq!(again.ignored, vec![(Ignored::OldTimestamp, 2)]);
    // A decrease is a reset: the value is the increase since.
    let c = convert(rw(vec![ts("orders_total", &[("code", "200")], &[(3.0, 4_000)])]), &rules, &mut s, 0);
    assert_eq!(published(&c)[0].3, "3");
}

#[test]
fn samples_are_taken_in_time_order_and_a_rollback_lets_the_retry_count() {
    let rules = Rules::default();
    let mut s = state();
    convert(rw(vec![ts("jobs_total", &[], &[(1.0, 1_000)])]), &rules, &mut s, 0);
    s.commit();
    // Out of order within the request, and split over two entries of one series.
    let request = rw(vec![ts("jobs_total", &[], &[(9.0, 3_000)]), ts("jobs_total", &[], &[(4.0, 2_000)])]);
    let c = convert(request, &rules, &mut s, 0);
    let values: Vec<_> = published(&c).into_iter().map(|p| (p.2, p.3)).collect();
    assert_eq!(values, vec![(2_000, "3".to_string()), (3_000, "5".to_string())]);
    s.rollback();
    let retry = convert(request, &rules, &mut s, 0);
    assert_eq!(published(&retry), published(&c), "the retry of a refused request publishes the same");
}

/// A histogram `latency_seconds` at `at`: cumulative buckets for 0.1, 0.5, +Inf, `_count`, `_sum`.
fn histogram(at: i64, buckets: [f64; 3], sum: f64) -> Vec<TimeSeries> {
    let les = ["0.1", "0.5", "+Inf"];
    let mut out: Vec<TimeSeries> =
        les.iter().zip(buckets).map(|(le, v)| ts("latency_seconds_bucket", &[("le", le)], &[(v, at)])).collect();
    out.push(ts("latency_seconds_count", &[], &[(buckets[2], at)]));
    out.push(ts("latency_seconds_sum", &[], &[(sum, at)]));
    out
}

#[test]
fn histograms_are_rebuilt_from_their_buckets_as_values_and_counts() {
    let rules = Rules::default();
    let mut s = state();
    let c = convert(rw(histogram(1_000, [1.0, 2.0, 3.0], 1.0)), &rules, &mut s, 0);
    assert!(c.candidates.is_empty());
    assert_eq!(c.outcome(Outcome::Baseline), 5);
    // One more in each bucket (0.05, 0.3 and 1.0): 3 samples adding 1.35.
    let c = convert(rw(histogram(2_000, [2.0, 4.0, 6.0], 2.35)), &rules, &mut s, 0);
    assert_eq!(c.candidates.len(), 1);
    let d = &c.candidates[0];
    assert_eq!((d.name.as_deref(), d.unit.as_deref()), (Some("latency_seconds"), Some("Seconds")));
    let (values, counts) = (d.values.values.clone().unwrap(), d.values.counts.clone().unwrap());
    assert_eq!(counts.iter().sum::<f64>(), 3.0, "SampleCount is the _count increase");
    let sum: f64 = values.iter().zip(&counts).map(|(v, c)| v * c).sum();
    assert!((sum - 1.35).abs() < 1e-9, "Sum is the _sum increase: {sum}");
    assert!(values[0] <= 0.1 && (0.1..=0.5).contains(&values[1]) && values[2] >= 0.5, "{values:?}");
    assert_eq!(published(&c)[0].1, DIMS, "no `le` dimension");
    assert_eq!((c.outcome(Outcome::Published), c.samples_of.clone()), (5, vec![5]));
}

#[test]
fn a_histogram_split_over_two_requests_is_held_until_whole() {
    let rules = Rules::default();
    let mut s = state();
    convert(rw(histogram(1_000, [1.0, 2.0, 3.0], 1.0)), &rules, &mut s, 0);
    s.commit();
    let mut parts = histogram(2_000, [3.0, 4.0, 5.0], 2.2);
    let rest = parts.split_off(2);
    let c = convert(rw(parts), &rules, &mut s, 0);
    assert!(c.candidates.is_empty());
    assert_eq!(c.outcome(Outcome::Held), 2);
    s.commit();
    let c = convert(rw(rest), &rules, &mut s, 0);
    assert_eq!(c.candidates.len(), 1);
    assert_eq!(c.candidates[0].values.counts.as_ref().unwrap().iter().sum::<f64>(), 2.0);
    assert_eq!(c.outcome(Outcome::Published), 5, "the held parts are counted with the rest");
    // Parts of a timestamp overtaken by a later whole one are given up.
    s.commit();
    let mut parts = histogram(3_000, [4.0, 5.0, 6.0], 3.0);
    parts.truncate(1);
    convert(rw(parts), &rules, &mut s, 0);
    s.commit();
    let c = convert(rw(histogram(4_000, [5.0, 6.0, 7.0], 4.0)), &rules, &mut s, 0);
    assert_eq!(c.rejected, vec![(Reject::IncompleteHistogram, 1)]);
    assert_eq!(c.candidates[0].values.counts.as_ref().unwrap().iter().sum::<f64>(), 2.0);
}

#[test]
fn a_new_bucket_layout_is_a_new_baseline() {
    let rules = Rules::default();
    let mut s = state();
    convert(rw(histogram(1_000, [1.0, 2.0, 3.0], 1.0)), &rules, &mut s, 0);
    let mut other = vec![ts("latency_seconds_bucket", &[("le", "+Inf")], &[(4.0, 2_000)])];
    other.push(ts("latency_seconds_count", &[], &[(4.0, 2_000)]));
    other.push(ts("latency_seconds_sum", &[], &[(2.0, 2_000)]));
    // Fewer buckets than before: held, as the rest may follow...
    let c = convert(rw(other), &rules, &mut s, 0);
    assert_eq!(c.outcome(Outcome::Held), 3);
    // ...until a later timestamp shows it is the layout now.
    let mut later = vec![ts("latency_seconds_bucket", &[("le", "+Inf")], &[(6.0, 3_000)])];
    later.push(ts("latency_seconds_count", &[], &[(6.0, 3_000)]));
    later.push(ts("latency_seconds_sum", &[], &[(3.0, 3_000)]));
    let c = convert(rw(later), &rules, &mut s, 0);
    assert_eq!(c.outcome(Outcome::Baseline), 3);
    assert_eq!(published(&c).len(), 1);
    assert_eq!(c.candidates[0].values.counts.as_ref().unwrap().iter().sum::<f64>(), 2.0);
}

#[test]
fn summaries_publish_count_and_sum_as_increases_and_no_quantile() {
    let rules = Rules::default();
    let mut s = state();
    let at = |t: i64, n: f64| {
        rw(vec![
            ts("rpc_seconds", &[("quantile", "0.5")], &[(0.2, t)]),
            ts("rpc_seconds_count", &[], &[(n, t)]),
            ts("rpc_seconds_sum", &[], &[(n / 2.0, t)]),
        ])
    };
    let c = convert(at(1_000, 2.0), &rules, &mut s, 0);
    assert_eq!(c.ignored, vec![(Ignored::Quantile, 1)]);
    let c = convert(at(2_000, 6.0), &rules, &mut s, 0);
    let got: Vec<_> = published(&c).into_iter().map(|p| (p.0, p.3)).collect();
    assert_eq!(got, vec![("rpc_seconds_count".into(), "4".into()), ("rpc_seconds_sum".into(), "2".into())]);
    assert_eq!(c.candidates[0].unit.as_deref(), Some("Count"));
    assert_eq!(c.candidates[1].unit.as_deref(), Some("Seconds"));
}

#[test]
fn the_rules_of_scrape_apply() {
    let rules =
        Rules { exclude: vec!["debug_*".into(), "go_*".into()], drop_labels: vec!["pod".into()], ..Rules::default() };
    let mut s = state();
    let at = |t: i64, a: f64, b: f64| {
        rw(vec![
            ts("go_goroutines", &[], &[(5.0, t)]),
            ts("debug_total", &[], &[(1.0, t)]),
            ts("hits_total", &[("pod", "a")], &[(a, t)]),
            ts("hits_total", &[("pod", "b")], &[(b, t)]),
        ])
    };
    let c = convert(at(1_000, 1.0, 1.0), &rules, &mut s, 0);
    assert_eq!(c.ignored, vec![(Ignored::Excluded, 2)]);
    let c = convert(at(2_000, 3.0, 6.0), &rules, &mut s, 0);
    assert_eq!(published(&c), vec![("hits_total".into(), DIMS.into(), 2_000, "7".into())]);
    assert_eq!(c.samples_of, vec![2]);
    let only = Rules { include: vec!["hits".into()], ..Rules::default() };
    let c = convert(at(3_000, 3.0, 6.0), &only, &mut state(), 0);
    assert_eq!(c.ignored, vec![(Ignored::Excluded, 2)], "a counter's family name matches");
}

#[test]
fn a_stale_marker_forgets_the_series_state() {
    let rules = Rules::default();
    let mut s = state();
    convert(rw(vec![ts("jobs_total", &[], &[(10.0, 1_000), (STALE, 2_000), (12.0, 3_000)])]), &rules, &mut s, 0);
    let c = convert(rw(vec![ts("jobs_total", &[], &[(15.0, 4_000)])]), &rules, &mut s, 0);
    assert_eq!(published(&c)[0].3, "3", "12 was a new baseline after the marker");
}

#[test]
fn what_is_wrong_is_rejected_with_its_reason() {
    let rules = Rules::default();
    let mut s = state();
    let nameless = TimeSeries {
        labels: vec![Label { name: "job".into(), value: "x".into() }],
        samples: vec![Sample { value: 1.0, timestamp: 1 }],
    };
    let mut twice = ts("up", &[], &[(1.0, 1)]);
    twice.labels.push(Label { name: "job".into(), value: "y".into() });
    let wide: Vec<(String, String)> = (0..29).map(|i| (format!("l{i:02}"), "v".into())).collect();
    let wide: Vec<(&str, &str)> = wide.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = rw(vec![
        nameless,
        twice,
        ts("wide", &wide, &[(1.0, 1)]),
        ts("temperature", &[], &[(f64::NAN, 1), (f64::INFINITY, 2)]),
        ts("jobs_total", &[], &[(-1.0, 1)]),
        ts("latency_bucket", &[("le", "fast")], &[(1.0, 1)]),
    ]);
    let c = convert(request, &rules, &mut s, 0);
    assert!(c.candidates.is_empty());
    let mut rejected = c.rejected.clone();
    rejected.sort_by_key(|r| r.0.label());
    assert_eq!(
        rejected,
        vec![(Reject::Malformed, 2), (Reject::NoName, 1), (Reject::TooManyDimensions, 1), (Reject::Value, 3)]
    );
    assert_eq!(c.outcome(Outcome::Rejected), 7);
    assert!(c.problems[0].contains("without __name__"), "{:?}", c.problems);
    assert!(c.problems.iter().any(|p| p.contains("31 labels")), "{:?}", c.problems);
}

#[test]
fn new_series_past_the_state_bound_are_rejected() {
    let rules = Rules::default();
    let mut s = State::new(Bounds { max_series: 1, max_bytes: 1 << 20, idle_ms: 60_000 });
    let c = convert(rw(vec![ts("a", &[], &[(1.0, 1)]), ts("b", &[], &[(1.0, 1)])]), &rules, &mut s, 0);
    assert_eq!((c.candidates.len(), c.rejected.clone()), (1, vec![(Reject::StateFull, 1)]));
}
