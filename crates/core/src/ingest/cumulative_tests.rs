use super::*;

fn counter(v: f64) -> Reading {
    Reading { start_ms: None, shape: 0, counts: vec![v], sum: 0.0 }
}

fn hist(start: i64, counts: &[f64], sum: f64) -> Reading {
    Reading { start_ms: Some(start), shape: 7, counts: counts.to_vec(), sum }
}

fn inc(counts: &[f64], sum: f64) -> Change {
    Change::Increase(Delta { counts: counts.to_vec(), sum })
}

#[test]
fn the_first_reading_is_the_baseline_and_the_next_ones_are_increases() {
    let mut s = Streams::new(10, 60_000);
    assert_eq!(s.observe("a", counter(100.0), First::Baseline, 0), Change::Baseline);
    assert_eq!(s.observe("a", counter(103.0), First::Baseline, 1), inc(&[3.0], 0.0));
    assert_eq!(s.observe("a", counter(103.0), First::Baseline, 2), inc(&[0.0], 0.0));
    assert!(matches!(s.observe("a", counter(103.0), First::Baseline, 3), Change::Increase(d) if d.counts == [0.0]));
}

#[test]
fn a_first_reading_known_to_count_from_zero_is_all_increase() {
    let mut s = Streams::new(10, 60_000);
    assert_eq!(s.observe("a", counter(5.0), First::FromZero, 0), inc(&[5.0], 0.0));
    assert_eq!(s.observe("a", counter(6.0), First::FromZero, 1), inc(&[1.0], 0.0));
}

#[test]
fn a_decrease_is_a_reset_and_counts_what_was_counted_since() {
    let mut s = Streams::new(10, 60_000);
    s.observe("a", counter(100.0), First::Baseline, 0);
    assert_eq!(s.observe("a", counter(4.0), First::Baseline, 1), Change::Reset(Delta { counts: vec![4.0], sum: 0.0 }));
    assert_eq!(s.observe("a", counter(9.0), First::Baseline, 2), inc(&[5.0], 0.0));
}

#[test]
fn a_new_start_time_is_a_reset_even_when_the_value_grew() {
    let mut s = Streams::new(10, 60_000);
    s.observe("h", hist(1_000, &[2.0, 1.0, 1.0], 3.0), First::Baseline, 0);
    let change = s.observe("h", hist(5_000, &[10.0, 4.0, 6.0], 20.0), First::Baseline, 1);
    assert_eq!(change, Change::Reset(Delta { counts: vec![10.0, 4.0, 6.0], sum: 20.0 }));
}

#[test]
fn any_bucket_going_down_is_a_reset_but_the_sum_may_go_either_way() {
    let mut s = Streams::new(10, 60_000);
    s.observe("h", hist(1, &[4.0, 2.0, 2.0], 1.0), First::Baseline, 0);
    assert_eq!(s.observe("h", hist(1, &[6.0, 4.0, 2.0], -3.0), First::Baseline, 1), inc(&[2.0, 2.0, 0.0], -4.0));
    assert!(matches!(s.observe("h", hist(1, &[7.0, 5.0, 1.0], 0.0), First::Baseline, 2), Change::Reset(_)));
}

#[test]
fn another_shape_rebases_instead_of_subtracting_unrelated_buckets() {
    let mut s = Streams::new(10, 60_000);
    s.observe("h", hist(1, &[4.0, 2.0, 2.0], 1.0), First::Baseline, 0);
    let mut other = hist(1, &[5.0, 3.0, 2.0], 2.0);
    other.shape = 8;
    assert_eq!(s.observe("h", other, First::Baseline, 1), Change::Rebased);
    assert_eq!(s.observe("h", hist(1, &[6.0, 3.0, 3.0], 2.0), First::Baseline, 2), Change::Rebased);
    assert_eq!(s.observe("h", hist(1, &[7.0, 4.0, 3.0], 3.0), First::Baseline, 3), inc(&[1.0, 1.0, 0.0], 1.0));
}

#[test]
fn the_bound_refuses_new_streams_and_keeps_the_known_ones() {
    let mut s = Streams::new(2, 60_000);
    s.observe("a", counter(1.0), First::Baseline, 0);
    s.observe("b", counter(1.0), First::Baseline, 0);
    assert_eq!(s.observe("c", counter(1.0), First::Baseline, 0), Change::TooManyStreams);
    assert_eq!(s.len(), 2);
    assert_eq!(s.observe("a", counter(2.0), First::Baseline, 1), inc(&[1.0], 0.0));
}

#[test]
fn idle_streams_expire_and_come_back_as_baselines() {
    let mut s = Streams::new(10, 1_000);
    s.observe("a", counter(1.0), First::Baseline, 0);
    s.observe("b", counter(1.0), First::Baseline, 500);
    assert_eq!(s.expire(999), 0);
    assert_eq!(s.expire(1_000), 1);
    assert_eq!(s.len(), 1);
    assert_eq!(s.observe("a", counter(50.0), First::Baseline, 1_001), Change::Baseline);
    assert!(s.forget(&"b"));
    assert!(!s.forget(&"b"));
    assert_eq!(s.len(), 1);
}
