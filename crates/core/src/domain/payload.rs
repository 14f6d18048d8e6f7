//! What a record measured: one value, values with optional counts (weights), or a
//! pre-aggregated statistic set. A [`Payload`] can only be made by checking it.

use serde::Serialize;

use crate::domain::error::{ValidationError, reject};
use crate::domain::limits::{MAX_MAGNITUDE, MAX_RECORD_TOTAL, MIN_MAGNITUDE};
use crate::reasons::RejectReason;

const NUMBER_RULE: &str = "must be finite, within ±2^360, and zero or at least 2^-360 in magnitude";

/// A statistic set; also the `StatisticValues` of a datum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatSet {
    pub sample_count: f64,
    pub sum: f64,
    #[serde(rename = "Minimum")]
    pub min: f64,
    #[serde(rename = "Maximum")]
    pub max: f64,
}

impl StatSet {
    pub fn merge(&mut self, other: &StatSet) {
        self.sample_count += other.sample_count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// What an input gave, unchecked: exactly one of `value`, `values` or `statistics` is allowed,
/// `counts` only with `values`, and `weight` only with `value`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GivenValues {
    pub value: Option<f64>,
    /// How many samples `value` stands for (a sampled StatsD timer's `1/rate`): what `values`
    /// with one value and `counts` with one count say, without two vectors. Not read from JSON.
    pub weight: Option<f64>,
    pub values: Option<Vec<f64>>,
    pub counts: Option<Vec<f64>>,
    pub statistics: Option<StatSet>,
}

/// A checked payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload(Measured);

/// What a checked payload holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Single(f64),
    /// One value standing for `weight` samples: `Many` with one value and one count.
    Weighted {
        value: f64,
        weight: f64,
    },
    Many {
        values: Vec<f64>,
        counts: Option<Vec<f64>>,
    },
    Statistics(StatSet),
}

impl Payload {
    pub fn single(v: f64) -> Result<Payload, ValidationError> {
        check_number("value", v)?;
        Ok(Payload(Measured::Single(v)))
    }

    /// One value standing for `weight` samples, checked as `values` `[v]` with `counts` `[w]`.
    pub fn weighted(v: f64, w: f64) -> Result<Payload, ValidationError> {
        check_number("value", v)?;
        if !(valid_number(w) && w > 0.0) {
            return Err(reject(RejectReason::Value, format!("weight: must be finite and greater than 0, got {w}")));
        }
        check_totals(&[v], Some(&[w]))?;
        Ok(Payload(Measured::Weighted { value: v, weight: w }))
    }

    /// Checks what was given, taking the value vectors out of it.
    pub fn check(given: &mut GivenValues) -> Result<Payload, ValidationError> {
        let fail = |m: String| reject(RejectReason::Value, m);
        let n = given.value.is_some() as u8 + given.values.is_some() as u8 + given.statistics.is_some() as u8;
        if n != 1 {
            return Err(fail(format!("exactly one of `value`, `values` or `statistics` is required, got {n}")));
        }
        if given.counts.is_some() && given.values.is_none() {
            return Err(fail("counts: only allowed together with `values`".into()));
        }
        if given.weight.is_some() && given.value.is_none() {
            return Err(fail("weight: only allowed together with `value`".into()));
        }
        if let Some(v) = given.value {
            return match given.weight {
                None => Payload::single(v),
                Some(w) => Payload::weighted(v, w),
            };
        }
        if let Some(s) = given.statistics {
            return Ok(Payload(Measured::Statistics(check_statistics(s)?)));
        }
        let values = given.values.take().unwrap_or_default();
        if values.is_empty() {
            return Err(fail("values: must not be empty".into()));
        }
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !valid_number(**v)) {
            return Err(fail(format!("values[{i}]: {NUMBER_RULE}, got {v}")));
        }
        let counts = given.counts.take();
        if let Some(counts) = &counts {
            if counts.len() != values.len() {
                return Err(fail(format!(
                    "counts: must have as many entries as values ({}), got {}",
                    values.len(),
                    counts.len()
                )));
            }
            if let Some((i, c)) = counts.iter().enumerate().find(|(_, c)| !(valid_number(**c) && **c > 0.0)) {
                return Err(fail(format!("counts[{i}]: must be finite and greater than 0, got {c}")));
            }
        }
        check_totals(&values, counts.as_deref())?;
        Ok(Payload(Measured::Many { values, counts }))
    }

    pub fn measured(&self) -> &Measured {
        &self.0
    }

    pub fn into_measured(self) -> Measured {
        self.0
    }
}

/// A record's counts, and its |value × count|, each add up to at most [`MAX_RECORD_TOTAL`].
fn check_totals(values: &[f64], counts: Option<&[f64]>) -> Result<(), ValidationError> {
    let (mut count, mut abs_sum) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let w = counts.map_or(1.0, |c| c[i]);
        count += w;
        abs_sum += v.abs() * w;
    }
    let why =
        "a datum's SampleCount and Sum stay within ±2^360, and a record may be split over at most 64 datums' worth";
    if count > MAX_RECORD_TOTAL {
        return Err(reject(RejectReason::Value, format!("counts: must add up to at most 2^366, got {count} ({why})")));
    }
    if abs_sum > MAX_RECORD_TOTAL {
        let field = if counts.is_some() { "values, counts" } else { "values" };
        return Err(reject(
            RejectReason::Value,
            format!("{field}: |value × count| must add up to at most 2^366, got {abs_sum} ({why})"),
        ));
    }
    Ok(())
}

fn check_statistics(s: StatSet) -> Result<StatSet, ValidationError> {
    let fail = |m: String| reject(RejectReason::Statistics, m);
    for (field, v) in [("sample_count", s.sample_count), ("sum", s.sum), ("min", s.min), ("max", s.max)] {
        if !valid_number(v) {
            return Err(fail(format!("statistics.{field}: {NUMBER_RULE}, got {v}")));
        }
    }
    if s.sample_count <= 0.0 {
        return Err(fail(format!("statistics.sample_count: must be greater than 0, got {}", s.sample_count)));
    }
    if s.min > s.max {
        return Err(fail(format!("statistics: min ({}) must not exceed max ({})", s.min, s.max)));
    }
    let mean = s.sum / s.sample_count;
    let slack = 1e-9 * mean.abs().max(s.min.abs()).max(s.max.abs());
    if mean < s.min - slack || mean > s.max + slack {
        return Err(fail(format!(
            "statistics: sum / sample_count ({mean}) must lie between min ({}) and max ({})",
            s.min, s.max
        )));
    }
    Ok(s)
}

/// CloudWatch accepts 0 and magnitudes in [2^-360, 2^360]; NaN and infinities never.
pub fn valid_number(v: f64) -> bool {
    let a = v.abs();
    v.is_finite() && (a == 0.0 || (MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&a))
}

fn check_number(field: &str, v: f64) -> Result<(), ValidationError> {
    if valid_number(v) { Ok(()) } else { Err(reject(RejectReason::Value, format!("{field}: {NUMBER_RULE}, got {v}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(mut g: GivenValues) -> String {
        Payload::check(&mut g).unwrap_err().message
    }

    fn values(v: &[f64], c: Option<&[f64]>) -> GivenValues {
        GivenValues { values: Some(v.to_vec()), counts: c.map(<[f64]>::to_vec), ..GivenValues::default() }
    }

    #[test]
    fn number_rules() {
        assert!(Payload::single(1e300).unwrap_err().message.contains("2^360"));
        assert!(Payload::single(1e-300).unwrap_err().message.contains("2^-360"));
        assert!(Payload::single(f64::NAN).is_err());
        assert_eq!(Payload::single(-5.5).unwrap().measured(), &Measured::Single(-5.5));
        assert!(Payload::single(0.0).is_ok());
        assert!(err(GivenValues::default()).contains("exactly one"));
        assert!(err(GivenValues { value: Some(1.0), values: Some(vec![1.0]), ..Default::default() }).contains("got 2"));
        assert!(err(values(&[], None)).contains("must not be empty"));
        assert!(err(values(&[1.0, 2.0], Some(&[1.0]))).contains("as many entries"));
        assert!(err(values(&[1.0, 2.0], Some(&[1.0, 0.0]))).starts_with("counts[1]"));
        assert!(err(values(&[1.0, 1e-320], None)).starts_with("values[1]"));
        assert!(
            err(GivenValues { value: Some(1.0), counts: Some(vec![1.0]), ..Default::default() })
                .contains("only allowed")
        );
        // Each number valid, but past what a record may add up to.
        assert!(err(values(&[2e108], Some(&[2e108]))).starts_with("values, counts: |value × count| must add up"));
        assert!(err(values(&[1.0; 100], Some(&[2e108; 100]))).starts_with("counts: must add up to at most 2^366"));
        assert!(err(values(&[2e108; 100], None)).starts_with("values: |value × count|"));
        assert!(Payload::check(&mut values(&[5.0, 6.0], Some(&[2e108, 1.0]))).is_ok());
    }

    #[test]
    fn a_weighted_value_is_checked_as_one_value_with_its_count() {
        let weighted = |v, w| GivenValues { value: Some(v), weight: Some(w), ..GivenValues::default() };
        let mut ok = weighted(5.5, 4.0);
        assert_eq!(Payload::check(&mut ok).unwrap().measured(), &Measured::Weighted { value: 5.5, weight: 4.0 });
        assert!(err(weighted(1e300, 1.0)).starts_with("value: "));
        for w in [0.0, -1.0, f64::INFINITY, f64::NAN, 1e-320] {
            assert!(err(weighted(1.0, w)).starts_with("weight: must be finite and greater than 0"), "{w}");
        }
        // Within range each, past what a record may add up to: as `values`/`counts` would be.
        assert_eq!(err(weighted(2e108, 2e108)), err(values(&[2e108], Some(&[2e108]))));
        assert!(err(GivenValues { weight: Some(2.0), ..Default::default() }).contains("exactly one"));
        let mut alone = GivenValues { weight: Some(2.0), values: Some(vec![1.0]), ..Default::default() };
        assert!(Payload::check(&mut alone).unwrap_err().message.starts_with("weight: only allowed"));
    }

    #[test]
    fn statistics_must_be_consistent() {
        let stats = |n, sum, min, max| GivenValues {
            statistics: Some(StatSet { sample_count: n, sum, min, max }),
            ..GivenValues::default()
        };
        let mut ok = stats(4.0, 10.0, 1.0, 4.0);
        assert!(matches!(Payload::check(&mut ok).unwrap().measured(), Measured::Statistics(s) if s.sum == 10.0));
        assert!(err(stats(0.0, 0.0, 0.0, 0.0)).contains("greater than 0"));
        assert!(err(stats(1.0, 1.0, 2.0, 1.0)).contains("must not exceed"));
        assert!(err(stats(2.0, 100.0, 1.0, 4.0)).contains("between"));
    }
}
