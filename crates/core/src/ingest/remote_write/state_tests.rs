use super::state::*;
use crate::ingest::cumulative::{Change, Delta, Reading};

fn counter(v: f64) -> Option<Reading> {
    Some(Reading { start_ms: None, shape: 0, counts: vec![v], sum: 0.0 })
}

fn bounds() -> Bounds {
    Bounds { max_series: 3, max_bytes: 1 << 20, idle_ms: 60_000 }
}

#[test]
fn a_sample_at_or_before_the_last_timestamp_is_old() {
    let mut s = State::new(bounds());
    let k = s.key(["x_total", "job", "a"]);
    assert_eq!(s.observe(k, 1_000, counter(5.0), 0), Ok(Seen::New(Some(Change::Baseline))));
    assert_eq!(s.observe(k, 1_000, counter(9.0), 0), Ok(Seen::Old));
    assert_eq!(s.observe(k, 999, counter(9.0), 0), Ok(Seen::Old));
    let up = Change::Increase(Delta { counts: vec![4.0], sum: 0.0 });
    assert_eq!(s.observe(k, 2_000, counter(9.0), 0), Ok(Seen::New(Some(up))));
    let reset = Change::Reset(Delta { counts: vec![2.0], sum: 0.0 });
    assert_eq!(s.observe(k, 3_000, counter(2.0), 0), Ok(Seen::New(Some(reset))));
    // A gauge keeps its timestamp only.
    let g = s.key(["up"]);
    assert_eq!(s.observe(g, 1_000, None, 0), Ok(Seen::New(None)));
    assert_eq!(s.observe(g, 1_000, None, 0), Ok(Seen::Old));
    assert_eq!(s.reading(g), None);
}

#[test]
fn keys_tell_parts_apart() {
    let s = State::new(bounds());
    assert_ne!(s.key(["ab", "c"]), s.key(["a", "bc"]));
    assert_eq!(s.key(["a", "b"]), s.key(["a", "b"]));
    assert_ne!(State::new(bounds()).key(["a"]), s.key(["a"]), "each state has keys of its own");
}

#[test]
fn bounded_in_series_and_bytes() {
    let mut s = State::new(bounds());
    for i in 0..3 {
        assert!(s.observe(i, 1, None, 0).is_ok());
    }
    assert_eq!(s.observe(3, 1, None, 0), Err(Full::Series));
    assert_eq!(s.observe(0, 2, None, 0), Ok(Seen::New(None)), "a known series goes on");
    let mut s = State::new(Bounds { max_series: 100, max_bytes: 2 * SERIES_BYTES + 8, idle_ms: 60_000 });
    assert!(s.observe(1, 1, counter(1.0), 0).is_ok());
    assert_eq!(s.bytes(), SERIES_BYTES + 8);
    assert_eq!(s.observe(2, 1, counter(1.0), 0), Err(Full::Bytes));
    assert!(s.observe(2, 1, None, 0).is_ok());
    assert_eq!(s.bytes(), 2 * SERIES_BYTES + 8);
    assert_eq!(s.len(), 2);
}

#[test]
fn rollback_takes_back_every_change_and_commit_keeps_them() {
    let mut s = State::new(bounds());
    s.observe(1, 1_000, counter(5.0), 0).unwrap();
    s.commit();
    let bytes = s.bytes();
    s.observe(1, 2_000, counter(7.0), 0).unwrap();
    s.observe(1, 3_000, counter(9.0), 0).unwrap();
    s.observe(2, 3_000, None, 0).unwrap();
    s.forget_reading(1);
    let held = vec![Held { at_ms: 3_000, parts: Parts { buckets: vec![(1.0, 2.0)], samples: 1, ..Parts::default() } }];
    s.hold(9, held.clone(), 0).unwrap();
    s.rollback();
    assert_eq!((s.len(), s.bytes(), s.last_ms(1)), (1, bytes, Some(1_000)));
    assert_eq!(s.reading(1).map(|r| r.counts.clone()), Some(vec![5.0]));
    assert!(!s.knows(2) && !s.knows(9));
    // Held parts are taken whole and put back by a rollback.
    s.hold(9, held.clone(), 0).unwrap();
    s.commit();
    assert_eq!(s.take_held(9), held);
    assert!(s.take_held(9).is_empty());
    s.rollback();
    assert_eq!(s.take_held(9), held);
    assert_eq!(s.bytes(), bytes);
}

#[test]
fn idle_series_and_held_parts_expire() {
    let mut s = State::new(bounds());
    s.observe(1, 1, counter(1.0), 0).unwrap();
    s.observe(2, 1, None, 50_000).unwrap();
    s.hold(3, vec![Held { at_ms: 1, parts: Parts::default() }], 0).unwrap();
    assert_eq!(s.expire(70_000), 1);
    assert!(!s.knows(1) && s.knows(2) && !s.knows(3));
    assert_eq!(s.bytes(), SERIES_BYTES);
    // A forgotten series starts again with a baseline.
    assert_eq!(s.observe(1, 1, counter(1.0), 70_000), Ok(Seen::New(Some(Change::Baseline))));
}
