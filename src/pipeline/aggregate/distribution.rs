//! The samples of one series-window: exact count, sum, min and max, plus either the exact
//! distinct values (while they fit one datum) or a log-scale histogram whose buckets publish
//! the exact mean of their samples.

use smallvec::SmallVec;

use crate::domain::limits::MAX_VALUES_PER_DATUM;

/// Relative width of a histogram bucket. A bucket publishes the mean of its samples, which
/// lies inside the bucket, so any nearest-rank percentile is off by less than `GAMMA - 1`.
const GAMMA: f64 = 1.0095;

/// Samples of one series-window: exact count, sum, min and max, plus either the exact
/// distinct values (while they fit one datum) or a log-scale histogram.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Weight of samples equal to `min`/`max`, published as entries of their own.
    min_weight: f64,
    max_weight: f64,
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// Distinct values and their counts, at most [`MAX_VALUES_PER_DATUM`].
    Exact(SmallVec<[(f64, f64); 1]>),
    /// Buckets sorted by index: (index, count, sum of samples).
    Histogram(Vec<(i32, f64, f64)>),
}

impl Distribution {
    pub fn new(value: f64, weight: f64) -> Distribution {
        let value = if value == 0.0 { 0.0 } else { value }; // -0.0 and 0.0 are one value
        let mut exact = SmallVec::new();
        exact.push((value, weight));
        Distribution {
            count: weight,
            sum: value * weight,
            min: value,
            max: value,
            min_weight: weight,
            max_weight: weight,
            repr: Repr::Exact(exact),
        }
    }

    pub fn add(&mut self, value: f64, weight: f64) {
        let value = if value == 0.0 { 0.0 } else { value };
        self.count += weight;
        self.sum += value * weight;
        if value < self.min {
            self.min = value;
            self.min_weight = weight;
        } else if value == self.min {
            self.min_weight += weight;
        }
        if value > self.max {
            self.max = value;
            self.max_weight = weight;
        } else if value == self.max {
            self.max_weight += weight;
        }
        match &mut self.repr {
            Repr::Exact(entries) => {
                if let Some(e) = entries.iter_mut().find(|e| e.0 == value) {
                    e.1 += weight;
                } else if entries.len() < MAX_VALUES_PER_DATUM {
                    entries.push((value, weight));
                } else {
                    let mut buckets = Vec::with_capacity(entries.len() + 1);
                    for &(v, w) in entries.iter() {
                        bucket_add(&mut buckets, v, w);
                    }
                    bucket_add(&mut buckets, value, weight);
                    self.repr = Repr::Histogram(buckets);
                }
            }
            Repr::Histogram(buckets) => bucket_add(buckets, value, weight),
        }
    }

    #[cfg(test)]
    pub fn is_exact(&self) -> bool {
        matches!(self.repr, Repr::Exact(_))
    }

    /// The (value, count) entries to publish. Their count, sum, min and max equal the
    /// samples'; each sample is stood for by a value within `GAMMA - 1` of it, in order.
    pub fn entries(&self) -> Vec<(f64, f64)> {
        match &self.repr {
            Repr::Exact(entries) => entries.to_vec(),
            Repr::Histogram(buckets) => {
                let mut out = Vec::with_capacity(buckets.len() + 2);
                out.push((self.min, self.min_weight));
                let (min_bucket, max_bucket) = (bucket_index(self.min), bucket_index(self.max));
                for &(index, mut count, mut sum) in buckets {
                    if index == min_bucket {
                        count -= self.min_weight;
                        sum -= self.min * self.min_weight;
                    }
                    if index == max_bucket && self.max != self.min {
                        count -= self.max_weight;
                        sum -= self.max * self.max_weight;
                    }
                    // What is left after taking out min and max may be rounding dust.
                    if count > 1e-9 * self.count {
                        out.push(((sum / count).clamp(self.min, self.max), count));
                    }
                }
                if self.max != self.min {
                    out.push((self.max, self.max_weight));
                }
                out
            }
        }
    }
}

/// Log-scale bucket index, symmetric around zero (which has bucket 0).
fn bucket_index(v: f64) -> i32 {
    if v == 0.0 {
        return 0;
    }
    // ln(2^-360)/ln(GAMMA) is about -26400: the offset keeps indexes of each sign apart.
    let i = (v.abs().ln() / GAMMA.ln()).floor() as i32 + 30_000;
    if v > 0.0 { i } else { -i }
}

fn bucket_add(buckets: &mut Vec<(i32, f64, f64)>, v: f64, w: f64) {
    let index = bucket_index(v);
    match buckets.binary_search_by_key(&index, |b| b.0) {
        Ok(i) => {
            buckets[i].1 += w;
            buckets[i].2 += v * w;
        }
        Err(i) => buckets.insert(i, (index, w, v * w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((min, max), (d.min, d.max));
    }
}
