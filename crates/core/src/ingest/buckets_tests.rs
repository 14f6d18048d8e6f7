use super::*;

fn total(pairs: &[(f64, f64)]) -> (f64, f64) {
    (pairs.iter().map(|p| p.1).sum(), pairs.iter().map(|p| p.0 * p.1).sum())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Every value inside its bucket (bounds given as (lo, hi]).
fn inside(pairs: &[(f64, f64)], buckets: &[(f64, f64)]) {
    for (v, _) in pairs {
        assert!(buckets.iter().any(|(lo, hi)| *v >= *lo && *v <= *hi), "{v} is in no bucket of {buckets:?}");
    }
}

#[test]
fn prometheus_default_buckets_give_exact_count_and_sum_with_values_inside_their_buckets() {
    // Samples: 0.003, 0.004, 0.02, 0.03, 0.2, 0.7, 0.9, 3.0 (8 samples, sum 4.857).
    let bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    let mut counts = [0.0; 15];
    for v in [0.003, 0.004, 0.02, 0.03, 0.2, 0.7, 0.9, 3.0] {
        counts[bounds.iter().position(|b| v <= *b).unwrap_or(14)] += 1.0;
    }
    let pairs = explicit(&bounds, &counts, 4.857, None, None).unwrap();
    let (n, s) = total(&pairs);
    assert_eq!(n, 8.0);
    assert!(close(s, 4.857), "sum {s}");
    inside(&pairs, &[(0.0, 0.005), (0.01, 0.025), (0.025, 0.05), (0.1, 0.25), (0.5, 0.75), (0.75, 1.0), (2.5, 5.0)]);
}

#[test]
fn the_overflow_bucket_absorbs_what_the_bounded_ones_cannot_know() {
    // 1 sample at 0.5 in (0, 1], 2 samples at 50 and 70 above 10.
    let pairs = explicit(&[1.0, 10.0], &[1.0, 0.0, 2.0], 120.5, None, None).unwrap();
    assert_eq!(pairs, vec![(0.5, 1.0), (60.0, 2.0)]);
}

#[test]
fn without_an_open_bucket_the_bounded_ones_share_the_difference() {
    // (0, 1]: 2 samples, (1, 2]: 2 samples; midpoints give 0.5*2 + 1.5*2 = 4; the sum is 5.
    let pairs = explicit(&[1.0, 2.0], &[2.0, 2.0, 0.0], 5.0, Some(0.0), None).unwrap();
    let (n, s) = total(&pairs);
    assert_eq!(n, 4.0);
    assert!(close(s, 5.0));
    inside(&pairs, &[(0.0, 1.0), (1.0, 2.0)]);
}

#[test]
fn known_min_and_max_are_entries_of_their_own() {
    let pairs = explicit(&[1.0, 2.0], &[2.0, 1.0, 1.0], 6.1, Some(0.1), Some(4.0)).unwrap();
    assert!(pairs.contains(&(0.1, 1.0)) && pairs.contains(&(4.0, 1.0)), "{pairs:?}");
    let (n, s) = total(&pairs);
    assert_eq!(n, 4.0);
    assert!(close(s, 6.1), "sum {s}");
    let lo = pairs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let hi = pairs.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((lo, hi), (0.1, 4.0));
}

#[test]
fn a_single_bucket_without_bounds_is_the_mean() {
    assert_eq!(explicit(&[], &[4.0], 10.0, None, None).unwrap(), vec![(2.5, 4.0)]);
}

#[test]
fn negative_samples_below_the_first_bound_keep_the_sum_exact() {
    let pairs = explicit(&[0.5, 1.0], &[2.0, 0.0, 0.0], -3.0, None, None).unwrap();
    assert_eq!(pairs, vec![(-1.5, 2.0)]);
}

#[test]
fn empty_buckets_publish_nothing() {
    assert!(explicit(&[1.0], &[0.0, 0.0], 0.0, None, None).unwrap().is_empty());
}

#[test]
fn malformed_buckets_are_refused_with_the_rule() {
    assert_eq!(explicit(&[1.0], &[1.0], 1.0, None, None), Err(BucketError::Arity { bounds: 1, counts: 1 }));
    assert_eq!(explicit(&[2.0, 1.0], &[0.0; 3], 0.0, None, None), Err(BucketError::Bounds));
    assert_eq!(explicit(&[f64::NAN], &[0.0; 2], 0.0, None, None), Err(BucketError::Bounds));
    assert_eq!(explicit(&[1.0], &[-1.0, 0.0], 0.0, None, None), Err(BucketError::Counts));
    assert!(BucketError::Arity { bounds: 1, counts: 1 }.to_string().contains("one more entry than the bounds"));
}

#[test]
fn exponential_buckets_keep_values_within_the_relative_error_of_the_scale() {
    // Scale 2: base 2^(1/4). Samples 1.1, 1.3, 3.0, 0 and -2.0.
    let base = 2f64.powf(0.25);
    let index = |v: f64| (v.log2() * 4.0).ceil() as i32 - 1;
    let (i1, i2, i3) = (index(1.1), index(1.3), index(3.0));
    let offset = i1.min(i2);
    let mut positive = vec![0.0; (i3 - offset + 1) as usize];
    for i in [i1, i2, i3] {
        positive[(i - offset) as usize] += 1.0;
    }
    let negative_offset = index(2.0);
    let h = Exponential {
        scale: 2,
        zero_count: 1.0,
        zero_threshold: 0.0,
        positive_offset: offset,
        positive: &positive,
        negative_offset,
        negative: &[1.0],
    };
    let sum = 1.1 + 1.3 + 3.0 - 2.0;
    let pairs = exponential(&h, sum, None, None).unwrap();
    let (n, s) = total(&pairs);
    assert_eq!(n, 5.0);
    assert!(close(s, sum), "sum {s}");
    for sample in [1.1, 1.3, 3.0, -2.0] {
        assert!(pairs.iter().any(|(v, _)| (v / sample - 1.0).abs() <= base - 1.0), "{sample} not near {pairs:?}");
    }
    assert!(pairs.contains(&(0.0, 1.0)));
}

#[test]
fn large_histograms_become_records_of_at_most_150_values() {
    let pairs: Vec<(f64, f64)> = (0..320).map(|i| (i as f64, 1.0)).collect();
    let given: Vec<GivenValues> = given_values(&pairs).collect();
    assert_eq!(given.iter().map(|g| g.values.as_ref().unwrap().len()).collect::<Vec<_>>(), vec![150, 150, 20]);
    assert_eq!(given[2].counts.as_ref().unwrap().len(), 20);
}
