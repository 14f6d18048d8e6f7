//! The windows and the aggregator: what an add costs in slots, segments, exactness.

use super::*;
use crate::domain::limits::{MAX_MAGNITUDE, MAX_VALUES_PER_DATUM};
use crate::domain::payload::{GivenValues, Payload, valid_number};
use crate::domain::units::{Resolution, Unit};

fn key() -> Vec<u8> {
    let mut key = Vec::new();
    encode_series_key(&mut key, "App", "x", [].into_iter(), Unit::None, Resolution::High);
    key
}

fn one(v: f64) -> Plan {
    Plan::of(Payload::single(v).unwrap())
}

fn many(values: &[f64], counts: Option<&[f64]>) -> Plan {
    let mut given =
        GivenValues { values: Some(values.to_vec()), counts: counts.map(<[f64]>::to_vec), ..Default::default() };
    Plan::of(Payload::check(&mut given).unwrap())
}

fn stats(sample_count: f64, sum: f64, min: f64, max: f64) -> Plan {
    let mut given = GivenValues { statistics: Some(StatSet { sample_count, sum, min, max }), ..Default::default() };
    Plan::of(Payload::check(&mut given).unwrap())
}

/// Adds `plan`, checking that the window grew by no more than the plan's bound.
fn add(w: &mut Window, plan: Plan) -> usize {
    let bound = plan.slots_bound();
    let grown = w.add(plan);
    assert!(grown <= bound, "grew by {grown}, bound {bound}");
    grown
}

/// What CloudWatch would be sent for the window, checked as CloudWatch checks it: every
/// number valid, and each datum's derived count and sum too. Returns the datums'
/// (count, sum, min, max) and how many datums there are.
fn publish(w: &Window) -> ((f64, f64, f64, f64), usize) {
    let mut total = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    let mut datums = 0;
    for d in &w.values {
        for chunk in d.entries().chunks(MAX_VALUES_PER_DATUM) {
            datums += 1;
            let count: f64 = chunk.iter().map(|e| e.1).sum();
            let sum: f64 = chunk.iter().map(|e| e.0 * e.1).sum();
            assert!(chunk.iter().all(|(v, c)| valid_number(*v) && valid_number(*c) && *c > 0.0), "{chunk:?}");
            assert!(count <= MAX_MAGNITUDE && sum.abs() <= MAX_MAGNITUDE, "datum count {count}, sum {sum}");
            total.0 += count;
            total.1 += sum;
            chunk.iter().for_each(|e| {
                total.2 = total.2.min(e.0);
                total.3 = total.3.max(e.0);
            });
        }
    }
    for s in &w.statistics {
        datums += 1;
        assert!([s.sample_count, s.sum, s.min, s.max].into_iter().all(valid_number), "{s:?}");
        total.0 += s.sample_count;
        total.1 += s.sum;
        total.2 = total.2.min(s.min);
        total.3 = total.3.max(s.max);
    }
    assert!(datums <= w.slots(), "{datums} datums from {} slots", w.slots());
    (total, datums)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn windows_close_after_their_end_plus_grace_and_an_add_says_what_it_cost() {
    let agg = Aggregator::default();
    let key = key();
    assert_eq!(agg.add(&key, 0, one(1.0)), 1);
    assert_eq!(agg.add(&key, 0, one(2.0)), 0);
    assert_eq!(agg.add(&key, 1000, one(3.0)), 1);
    assert_eq!(agg.active_series(), 1);
    assert!(agg.drain(Some(1999), 1000).is_empty());
    let closed = agg.drain(Some(2000), 1000);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].window.values[0].sum, 3.0);
    assert_eq!(agg.active_series(), 1);
    let rest = agg.drain(None, 1000);
    assert_eq!(rest.len(), 1);
    assert_eq!(agg.active_series(), 0);
}

#[test]
fn merged_counts_past_2_to_the_360_go_into_segments_that_add_up() {
    // The case: each record valid, merged the count of 5 is 4e108.
    let mut w = Window::default();
    add(&mut w, many(&[5.0], Some(&[2e108])));
    add(&mut w, many(&[5.0, 6.0], Some(&[2e108, 1.0])));
    for v in 1..=10 {
        add(&mut w, one(v as f64));
    }
    let ((count, sum, min, max), datums) = publish(&w);
    assert!(datums > 1);
    assert!(close(count, 4e108 + 11.0) && close(sum, 2e109 + 61.0), "{count} {sum}");
    assert_eq!((min, max), (1.0, 10.0));
}

#[test]
fn statistic_sets_whose_sums_pass_2_to_the_360_stay_apart() {
    let mut w = Window::default();
    assert_eq!(add(&mut w, stats(2.0, 2e108, 1e108, 1e108)), 1);
    assert_eq!(add(&mut w, stats(2.0, 2e108, 1e108, 1e108)), 1);
    for v in 1..=10 {
        add(&mut w, one(v as f64));
    }
    assert_eq!(add(&mut w, stats(1.0, 5.0, 5.0, 5.0)), 0, "merged into the last set");
    let ((count, sum, min, max), datums) = publish(&w);
    assert_eq!((datums, w.statistics.len()), (3, 2));
    assert!(close(count, 15.0) && close(sum, 4e108 + 60.0));
    assert_eq!((min, max), (1.0, 1e108));
}

#[test]
fn histograms_of_huge_weights_stay_in_range() {
    let mut w = Window::default();
    let values: Vec<f64> = (1..=2000).map(|i| i as f64).collect();
    for _ in 0..3 {
        add(&mut w, many(&values, Some(&vec![1e103; 2000])));
        add(&mut w, many(&values, None));
    }
    assert!(w.values.len() > 1 && w.values.iter().any(|d| !d.is_exact()));
    let ((count, sum, min, max), _) = publish(&w);
    assert!(close(count, 3.0 * (2000.0 * 1e103 + 2000.0)), "{count}");
    assert!(close(sum, 3.0 * (1e103 + 1.0) * 2001.0 * 1000.0), "{sum}");
    assert_eq!((min, max), (1.0, 2000.0));
}

#[test]
fn a_unit_that_does_not_fit_the_last_segment_goes_whole_into_a_new_one() {
    // The last segment is exact with 150 values and nearly full: a joined plan of small
    // values must not both turn it into a histogram and open a segment.
    let mut w = Window::default();
    let full: Vec<f64> = (1..=150).map(|i| i as f64 / 150.0).collect();
    add(&mut w, many(&full, Some(&[1.5e106; 150])));
    let mut joined = many(&[0.5, 151.0], Some(&[1e107, 1.0]));
    joined.absorb(one(152.0));
    assert_eq!(joined.slots_bound(), 1);
    assert_eq!(add(&mut w, joined), 1);
    assert_eq!(w.values.len(), 2);
    assert!(w.values[0].is_exact() && close(w.values[0].count, 2.25e108));
}

#[test]
fn no_add_grows_a_window_past_its_plans_bound() {
    let mut rng = fastrand::Rng::with_seed(3);
    let magnitudes = [1e-100, 1e-3, 1.0, 1e3, 1e50, 1e100, 1e106, 1e107, 2e108];
    for _ in 0..40 {
        let mut w = Window::default();
        let mut want = (0.0, 0.0);
        let mut joined: Option<Plan> = None;
        for _ in 0..30 {
            let n = [1, 2, 10, 149, 150, 151, 400][rng.usize(..7)];
            let scale = magnitudes[rng.usize(..magnitudes.len())];
            let values: Vec<f64> = (0..n).map(|_| scale * rng.f64() * if rng.bool() { 1.0 } else { -1.0 }).collect();
            let counts: Vec<f64> = (0..n).map(|_| [1.0, 0.25, 1e100, 1e107][rng.usize(..4)]).collect();
            let mut given = GivenValues { values: Some(values), counts: Some(counts), ..Default::default() };
            let Ok(payload) = Payload::check(&mut given) else { continue };
            let plan = Plan::of(payload);
            for u in &plan.values {
                u.parts.iter().for_each(|p| {
                    p.for_each(|v, c| {
                        want.0 += c;
                        want.1 += v * c;
                    })
                });
            }
            // Half the time joined with the next records, as admission joins a request's
            // records of one series-window.
            match joined.take() {
                None if rng.bool() => joined = Some(plan),
                None => {
                    add(&mut w, plan);
                }
                Some(mut j) => {
                    j.absorb(plan);
                    if rng.bool() {
                        joined = Some(j);
                    } else {
                        j.refine();
                        add(&mut w, j);
                    }
                }
            }
        }
        if let Some(mut j) = joined.take() {
            j.refine();
            add(&mut w, j);
        }
        let ((count, _sum, _, _), _) = publish(&w);
        assert!(close(count, want.0), "{count} vs {}", want.0);
    }
}

#[test]
fn a_window_costs_one_slot_per_datum_it_can_make() {
    let mut w = Window::default();
    let spread: Vec<f64> = (0..3000).map(|i| 1e-10 * 1.0096f64.powi(i)).collect();
    assert_eq!(add(&mut w, many(&spread, None)), 3002usize.div_ceil(150));
    assert_eq!(add(&mut w, many(&spread, None)), 0, "the same buckets again");
    let (_, datums) = publish(&w);
    assert_eq!((datums, w.slots()), (20, 21), "min and max took their buckets' only samples");
}

#[test]
fn a_lone_value_added_without_a_plan_lands_as_its_plan_would() {
    // Small values, repeats, zeros of both signs, enough distinct ones to become a histogram,
    // and magnitudes near 2^360 that open new segments.
    let mut values: Vec<f64> = (0..400).map(|i| ((i * 37) % 211) as f64 * 0.5 - 20.0).collect();
    values.extend([0.0, -0.0, MAX_MAGNITUDE, -MAX_MAGNITUDE, MAX_MAGNITUDE * 0.75, 1e-100, 3.0, MAX_MAGNITUDE]);
    values.extend((0..200).map(|i| MAX_MAGNITUDE / (1.0 + i as f64)));
    let (mut planned, mut direct) = (Window::default(), Window::default());
    for (i, &v) in values.iter().enumerate() {
        let a = planned.add(one(v));
        let b = direct.add_payload(Payload::single(v).unwrap());
        assert_eq!(a, b, "slots added by value {i} ({v})");
        assert_eq!(format!("{planned:?}"), format!("{direct:?}"), "after value {i} ({v})");
    }
    assert!(direct.values.len() > 1, "the huge values opened segments of their own");
    assert!(!direct.values[0].is_exact(), "the first segment became a histogram");
    // Payloads that are not one value take the plan.
    let mut given = GivenValues { values: Some(vec![1.0, 2.0]), counts: Some(vec![3.0, 4.0]), ..Default::default() };
    let payload = Payload::check(&mut given).unwrap();
    assert_eq!(planned.add(Plan::of(payload.clone())), direct.add_payload(payload));
    assert_eq!(format!("{planned:?}"), format!("{direct:?}"));
}
