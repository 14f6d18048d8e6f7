use std::collections::BTreeMap;

use super::*;

const HOUR: i64 = 3_600_000;

fn settings(max: usize, per_metric: usize, overflow: Overflow) -> BudgetSettings {
    BudgetSettings {
        max_series: max,
        max_series_per_namespace: None,
        max_series_per_metric: per_metric,
        series_ttl_ms: HOUR,
        overflow,
        default_dimensions: vec!["Service".into()],
    }
}

struct S {
    identity: Vec<u8>,
    ns: &'static str,
    name: &'static str,
    dims: Vec<(&'static str, &'static str)>,
}

fn series(ns: &'static str, name: &'static str, dims: &[(&'static str, &'static str)]) -> S {
    let identity = format!("{ns}/{name}/{dims:?}").into_bytes();
    S { identity, ns, name, dims: dims.to_vec() }
}

fn admit(t: &mut SeriesTable, s: &S, now: i64, overflow: bool) -> Verdict {
    let r = SeriesRef { identity: &s.identity, namespace: s.ns, name: s.name, dimensions: &s.dims };
    t.admit(SeriesId::of(&s.identity), &r, now, overflow)
}

fn session(i: usize) -> &'static str {
    Box::leak(format!("s{i}").into_boxed_str())
}

#[test]
fn series_are_admitted_first_come_first_served_and_keep_their_place_while_active() {
    let mut t = SeriesTable::new(settings(10_000, 3, Overflow::Aggregate));
    let s: Vec<S> = (0..5).map(|i| series("Media", "duration", &[("session_id", session(i))])).collect();
    for x in &s[..3] {
        assert_eq!(admit(&mut t, x, 0, false), Verdict::Admitted);
    }
    assert!(matches!(admit(&mut t, &s[3], 1, false), Verdict::Over { bound: SeriesBound::PerMetric, .. }));
    // The first three keep their place, sending again.
    assert_eq!(admit(&mut t, &s[0], 2, false), Verdict::Admitted);
    assert!(t.touch(SeriesId::of(&s[2].identity), 3));
    // The overflow series is admitted past the bound, and counts.
    let other = series("Media", "duration", &[("session_id", OVERFLOW_VALUE)]);
    assert_eq!(admit(&mut t, &other, 3, true), Verdict::Admitted);
    assert_eq!(t.active(), 4);
    assert_eq!(t.report(3, 20).top_metrics[0].series, 4);
}

#[test]
fn a_series_silent_for_the_ttl_is_forgotten_and_its_place_goes_to_a_newcomer() {
    let mut t = SeriesTable::new(settings(2, 1000, Overflow::Refuse));
    let a = series("App", "m", &[("k", "a")]);
    let b = series("App", "m", &[("k", "b")]);
    let c = series("App", "m", &[("k", "c")]);
    assert_eq!(admit(&mut t, &a, 0, false), Verdict::Admitted);
    assert_eq!(admit(&mut t, &b, 30 * 60_000, false), Verdict::Admitted);
    assert_eq!(admit(&mut t, &c, 59 * 60_000, false), Verdict::Over { bound: SeriesBound::Total, limit: 2, active: 2 });
    // `a` last sent at 0: gone an hour later; `b` is still active.
    assert_eq!(admit(&mut t, &c, HOUR + 1, false), Verdict::Admitted);
    assert!(!t.touch(SeriesId::of(&a.identity), HOUR + 2));
    assert!(t.touch(SeriesId::of(&b.identity), HOUR + 2));
    let report = t.report(HOUR + 2, 20);
    assert_eq!(report.active_series, 2);
    assert_eq!(report.series_by_namespace, BTreeMap::from([("App".to_string(), 2)]));
}

#[test]
fn the_narrowest_bound_met_is_named() {
    let mut s = settings(3, 2, Overflow::Refuse);
    s.max_series_per_namespace = Some(2);
    let mut t = SeriesTable::new(s);
    assert_eq!(admit(&mut t, &series("A", "m", &[("k", "1")]), 0, false), Verdict::Admitted);
    assert_eq!(admit(&mut t, &series("A", "m", &[("k", "2")]), 0, false), Verdict::Admitted);
    let per_metric = admit(&mut t, &series("A", "m", &[("k", "3")]), 0, false);
    assert_eq!(per_metric, Verdict::Over { bound: SeriesBound::PerMetric, limit: 2, active: 2 });
    let per_ns = admit(&mut t, &series("A", "other", &[]), 0, false);
    assert_eq!(per_ns, Verdict::Over { bound: SeriesBound::PerNamespace, limit: 2, active: 2 });
    assert_eq!(admit(&mut t, &series("B", "m", &[]), 0, false), Verdict::Admitted);
    let total = admit(&mut t, &series("C", "m", &[]), 0, false);
    assert_eq!(total, Verdict::Over { bound: SeriesBound::Total, limit: 3, active: 3 });
}

#[test]
fn overflow_series_have_room_of_their_own_and_then_are_refused() {
    let mut t = SeriesTable::new(settings(10, 1, Overflow::Aggregate));
    let room = t.settings().overflow_room();
    assert_eq!(room, 100);
    for i in 0..room {
        assert_eq!(admit(&mut t, &series("A", session(i), &[]), 0, true), Verdict::Admitted);
    }
    let last = admit(&mut t, &series("A", "one-more", &[]), 0, true);
    assert_eq!(last, Verdict::Over { bound: SeriesBound::OverflowSeries, limit: 100, active: 100 });
}

#[test]
fn the_report_names_the_widest_dimension_and_the_memory_stays_with_the_active_series() {
    let mut t = SeriesTable::new(settings(100_000, 100_000, Overflow::Aggregate));
    for i in 0..1000 {
        let s = series(
            "Media",
            "ws_frames",
            &[("Service", "media"), ("device_id", session(i % 10)), ("session_id", session(i))],
        );
        assert_eq!(admit(&mut t, &s, 0, false), Verdict::Admitted);
    }
    let top = &t.report(0, 20).top_metrics[0];
    assert_eq!(
        (top.series, top.widest_dimension.as_deref(), top.widest_dimension_values),
        (1000, Some("session_id"), 1000)
    );
    // Everything expires: nothing is left of the metric.
    let report = t.report(2 * HOUR, 20);
    assert_eq!((report.active_series, report.top_metrics.len()), (0, 0));
    assert!(t.metrics.is_empty() && t.namespaces.is_empty());
}

#[test]
fn series_forgotten_among_others_leave_the_others_found_and_counted() {
    let mut t = SeriesTable::new(settings(10_000, 10_000, Overflow::Refuse));
    let s: Vec<S> = (0..300).map(|i| series("App", "m", &[("k", session(i)), ("z", session(i % 7))])).collect();
    // Every third series is sent at 0 only, the others again at half an hour.
    for (i, x) in s.iter().enumerate() {
        assert_eq!(admit(&mut t, x, 0, false), Verdict::Admitted);
        if i % 3 != 0 {
            assert!(t.touch(SeriesId::of(&x.identity), 30 * 60_000));
        }
    }
    let report = t.report(HOUR, 20);
    assert_eq!(report.active_series, 200);
    assert_eq!(report.top_metrics[0].widest_dimension_values, 200);
    for (i, x) in s.iter().enumerate() {
        assert_eq!(t.touch(SeriesId::of(&x.identity), HOUR), i % 3 != 0, "series {i}");
    }
    // A forgotten series is a newcomer again.
    assert_eq!(admit(&mut t, &s[0], HOUR, false), Verdict::Admitted);
    assert_eq!(t.active(), 201);
}
