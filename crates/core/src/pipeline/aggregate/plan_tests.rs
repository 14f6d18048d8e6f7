use super::*;
use crate::domain::payload::GivenValues;

pub fn many(values: &[f64], counts: Option<&[f64]>) -> Plan {
    let mut given =
        GivenValues { values: Some(values.to_vec()), counts: counts.map(<[f64]>::to_vec), ..Default::default() };
    Plan::of(Payload::check(&mut given).unwrap())
}

fn totals(unit: &ValueUnit) -> (f64, f64) {
    let (mut count, mut sum) = (0.0, 0.0);
    unit.parts.iter().for_each(|p| {
        p.for_each(|v, w| {
            count += w;
            sum += v * w;
        })
    });
    (count, sum)
}

#[test]
fn ordinary_records_are_one_unit_of_one_slot() {
    assert_eq!(Plan::of(Payload::single(3.0).unwrap()).slots_bound(), 1);
    let plan = many(&[1.0, 2.0, 3.0], Some(&[1.0, 2.0, 3.0]));
    assert_eq!((plan.values.len(), plan.slots_bound()), (1, 1));
    // 148 buckets, plus min and max: one datum; 149: maybe two.
    let wide: Vec<f64> = (0..148).map(|i| 1.02f64.powi(i)).collect();
    assert_eq!(many(&wide, None).slots_bound(), 1);
    let wider: Vec<f64> = (0..149).map(|i| 1.02f64.powi(i)).collect();
    assert_eq!(many(&wider, None).slots_bound(), 2);
}

#[test]
fn the_bound_follows_the_log_scale_range_not_the_number_of_values() {
    // 100,000 distinct values between 1 and 2 fall in about 74 buckets.
    let narrow: Vec<f64> = (0..100_000).map(|i| 1.0 + i as f64 / 100_000.0).collect();
    assert_eq!(many(&narrow, None).slots_bound(), 1);
    // Spread over the whole range, each value has a bucket of its own.
    let spread: Vec<f64> = (0..50_000).map(|i| 1e-108 * 1.0096f64.powi(i)).collect();
    assert_eq!(many(&spread, None).slots_bound(), 50_002usize.div_ceil(150));
    // Everything CloudWatch accepts fits in about 105,600 buckets.
    let mut hull = Hull::default();
    [-MAX_MAGNITUDE, -4.3e-109, 0.0, 4.3e-109, MAX_MAGNITUDE].into_iter().for_each(|v| hull.add(v));
    let range = hull.buckets();
    assert!((105_000..106_000).contains(&range), "{range}");
}

#[test]
fn the_bound_of_a_payload_is_its_plans() {
    let spread: Vec<f64> = (0..1000).map(|i| 1e-108 * 1.0096f64.powi(i)).collect();
    let mut givens = vec![
        GivenValues { value: Some(2.0), ..Default::default() },
        GivenValues { values: Some(spread.clone()), ..Default::default() },
        GivenValues { values: Some(vec![5.0, 6.0]), counts: Some(vec![2e108, 1.0]), ..Default::default() },
        GivenValues { values: Some(vec![1.0; 300]), counts: Some(vec![2e107; 300]), ..Default::default() },
        GivenValues { value: Some(5.0), weight: Some(4.0), ..Default::default() },
        GivenValues { value: Some(5.0), weight: Some(2e108), ..Default::default() },
    ];
    for given in &mut givens {
        let payload = Payload::check(given).unwrap();
        assert_eq!(Plan::bound_of(&payload), Plan::of(payload).slots_bound());
    }
}

#[test]
fn refining_counts_distinct_buckets() {
    let mut plan = Plan::default();
    for i in 0..5000 {
        plan.absorb(Plan::of(Payload::single((i % 7) as f64).unwrap()));
    }
    assert_eq!((plan.values.len(), plan.slots_bound()), (1, 2), "hull of 0..6 spans 191 buckets");
    plan.refine();
    assert_eq!(plan.slots_bound(), 1, "7 distinct buckets");
}

#[test]
fn a_record_past_2_to_the_360_splits_into_units_that_each_fit_and_add_up() {
    let plan = many(&[5.0, 6.0], Some(&[2e108, 1.0]));
    assert!(plan.values.len() > 1);
    let (mut count, mut sum) = (0.0, 0.0);
    for unit in &plan.values {
        let (c, s) = totals(unit);
        assert!(unit.count <= SEGMENT_LIMIT && unit.abs_sum <= SEGMENT_LIMIT, "{unit:?}");
        assert!(c <= SEGMENT_LIMIT && s.abs() <= SEGMENT_LIMIT);
        unit.parts.iter().for_each(|p| p.for_each(|v, w| assert!(valid_number(v) && valid_number(w))));
        count += c;
        sum += s;
    }
    assert!((count - (2e108 + 1.0)).abs() <= 1e-12 * count, "{count}");
    assert!((sum - (1e109 + 6.0)).abs() <= 1e-12 * sum, "{sum}");
    // A single value at the edge is published whole.
    assert_eq!(many(&[MAX_MAGNITUDE], None).values.len(), 1);
    assert_eq!(Plan::of(Payload::single(-MAX_MAGNITUDE).unwrap()).values.len(), 1);
    // Counts alone past 2^360: units of whole entries.
    let plan = many(&[0.0, 0.0, 1.0], Some(&[2e108, 2e108, 1.0]));
    assert_eq!(plan.values.len(), 2);
    assert_eq!(plan.values.iter().map(|u| u.count).sum::<f64>(), 4e108 + 1.0);
}

#[test]
fn units_join_while_they_fit_and_statistic_sets_merge_while_valid() {
    let mut plan = many(&[1.0], Some(&[2e108]));
    plan.absorb(many(&[1.0], Some(&[2e107])));
    assert_eq!(plan.values.len(), 1);
    plan.absorb(many(&[1.0], Some(&[2e108])));
    assert_eq!(plan.values.len(), 2, "4.2e108 would pass 2^360");
    // Alone, 5 × 2e108 is past 2^360 already: five pieces of 2e108 each.
    let split = many(&[5.0], Some(&[2e108]));
    assert_eq!(split.values.iter().map(|u| u.abs_sum).collect::<Vec<_>>(), vec![2e108; 5]);

    let set = |sum: f64| StatSet { sample_count: 2.0, sum, min: sum / 2.0, max: sum / 2.0 };
    let mut sets = SmallVec::new();
    assert!(push_statistics(&mut sets, set(2e108)));
    assert!(push_statistics(&mut sets, set(2e108)), "4e108 would pass 2^360");
    assert!(!push_statistics(&mut sets, set(-2e108)), "back in range");
    assert_eq!(sets.iter().map(|s| s.sum).collect::<Vec<_>>(), vec![2e108, 0.0]);
    // A merged sum that cancels to below 2^-360 (but not zero) is not a valid number.
    let mut sets = SmallVec::new();
    push_statistics(&mut sets, StatSet { sample_count: 1.0, sum: 1e-100, min: 1e-100, max: 1e-100 });
    let almost = -1e-100 * (1.0 - 1e-15);
    assert!(push_statistics(&mut sets, StatSet { sample_count: 1.0, sum: almost, min: almost, max: almost }));
}

#[test]
fn a_weighted_value_plans_as_one_value_with_one_count() {
    // Within range, and past 2^360 (split into pieces), at the edge, and tiny.
    for (v, w) in [(5.5, 4.0), (5.0, 2e108), (MAX_MAGNITUDE, 1.0), (2e-108, 3.0), (0.0, 1e100)] {
        let mut given = GivenValues { value: Some(v), weight: Some(w), ..Default::default() };
        let weighted = Plan::of(Payload::check(&mut given).unwrap());
        let as_values = many(&[v], Some(&[w]));
        assert_eq!(weighted.values.len(), as_values.values.len(), "{v} × {w}");
        assert_eq!(weighted.slots_bound(), as_values.slots_bound());
        for (a, b) in weighted.values.iter().zip(&as_values.values) {
            assert_eq!((a.count, a.abs_sum, a.entries, a.hull), (b.count, b.abs_sum, b.entries, b.hull));
            assert_eq!(totals(a), totals(b));
        }
    }
}
