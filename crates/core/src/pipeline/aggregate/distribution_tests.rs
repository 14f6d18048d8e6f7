use super::*;

#[test]
fn position_of_finds_the_first_equal_entry_wherever_it_lies() {
    for len in 0..12 {
        let entries: Vec<(f64, f64)> = (0..len).map(|i| (i as f64, 1.0)).collect();
        for i in 0..len {
            assert_eq!(position_of(&entries, i as f64), Some(i), "len {len}");
        }
        assert_eq!(position_of(&entries, -1.0), None);
        assert_eq!(position_of(&entries, 0.5), None);
    }
    assert_eq!(position_of(&[(1.0, 1.0), (0.0, 1.0)], -0.0), Some(1), "-0 equals 0, as == has it");
}

/// Expands entries into a sorted list, as CloudWatch sees `Values`/`Counts` with whole counts.
fn expand(entries: &[(f64, f64)]) -> Vec<f64> {
    let mut out: Vec<f64> = entries.iter().flat_map(|(v, c)| std::iter::repeat_n(*v, *c as usize)).collect();
    out.sort_by(f64::total_cmp);
    out
}

fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

#[test]
fn few_distinct_values_are_published_exactly() {
    let mut d = Distribution::new(0.0, 1.0);
    for i in 0..1000 {
        d.add((i % 2) as f64, 1.0);
    }
    assert!(d.is_exact());
    let mut entries = d.entries();
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(entries, vec![(0.0, 501.0), (1.0, 500.0)]);
}

#[test]
fn a_histogram_keeps_statistics_exact_and_percentiles_within_one_percent() {
    let mut rng = fastrand::Rng::with_seed(7);
    let samples: Vec<f64> =
        (0..20_000).map(|_| (rng.f64() * 12.0).exp() * if rng.u8(..) == 0 { 30.0 } else { 1.0 }).collect();
    let mut d = Distribution::new(samples[0], 1.0);
    samples[1..].iter().for_each(|v| d.add(*v, 1.0));
    assert!(!d.is_exact());
    let entries = d.entries();
    let count: f64 = entries.iter().map(|e| e.1).sum();
    let sum: f64 = entries.iter().map(|e| e.0 * e.1).sum();
    let raw_sum: f64 = samples.iter().sum();
    assert_eq!(count, samples.len() as f64);
    assert!(((sum - raw_sum) / raw_sum).abs() < 1e-9, "{sum} vs {raw_sum}");
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let published = expand(&entries);
    assert_eq!(published.first(), sorted.first());
    assert_eq!(published.last(), sorted.last());
    for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9] {
        let (want, got) = (nearest_rank(&sorted, p), nearest_rank(&published, p));
        assert!(((got - want) / want).abs() <= 0.01, "p{p}: {got} vs {want}");
    }
}

#[test]
fn negative_values_and_weights_keep_sums_exact() {
    let mut d = Distribution::new(-5.0, 2.0);
    for i in 0..500 {
        d.add(i as f64 * 0.37 - 90.0, 0.5 + (i % 3) as f64);
    }
    let entries = d.entries();
    let count: f64 = entries.iter().map(|e| e.1).sum();
    let sum: f64 = entries.iter().map(|e| e.0 * e.1).sum();
    assert!((count - d.count).abs() < 1e-9 * d.count);
    assert!((sum - d.sum).abs() <= 1e-9 * d.sum.abs());
    let min = entries.iter().map(|e| e.0).fold(f64::MAX, f64::min);
    let max = entries.iter().map(|e| e.0).fold(f64::MIN, f64::max);
    assert_eq!((min, max), (d.min(), d.max()));
}
