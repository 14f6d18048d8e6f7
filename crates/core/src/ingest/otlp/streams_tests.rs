use super::*;

fn bounds(max_streams: usize, max_bytes: usize) -> Bounds {
    Bounds { max_streams, max_bytes, idle_ms: 60_000 }
}

fn at(start: Option<i64>, v: f64) -> Reading {
    Reading { start_ms: start, shape: 0, counts: vec![v], sum: 0.0 }
}

fn change(s: &mut Streams, key: StreamKey, r: Reading) -> Change {
    s.observe(key, r, First::Baseline, 0).unwrap().0
}

fn inc(v: f64) -> Change {
    Change::Increase(Delta { counts: vec![v], sum: 0.0 })
}

#[test]
fn a_start_time_that_flips_backwards_is_no_reset() {
    let mut s = Streams::new(bounds(10, 1 << 20));
    assert_eq!(change(&mut s, 1, at(Some(200), 100.0)), Change::Baseline);
    // The sender: two start times taking turns, the value not moving. Every point was
    // a reset (200 published where the increase was 0).
    for i in 0..200 {
        let start = if i % 2 == 0 { 100 } else { 200 };
        assert_eq!(change(&mut s, 1, at(Some(start), 100.0)), inc(0.0), "point {i}");
    }
    // A start time moving forward is a reset, and so is a value going down.
    assert_eq!(change(&mut s, 1, at(Some(300), 150.0)), Change::Reset(Delta { counts: vec![150.0], sum: 0.0 }));
    assert_eq!(change(&mut s, 1, at(Some(100), 151.0)), inc(1.0), "backwards again: compared with 300's reading");
    assert_eq!(change(&mut s, 1, at(Some(300), 2.0)), Change::Reset(Delta { counts: vec![2.0], sum: 0.0 }));
}

#[test]
fn the_state_is_bounded_in_bytes_and_a_new_stream_past_it_is_refused() {
    let one = cost(&at(None, 1.0));
    let mut s = Streams::new(bounds(1_000, 3 * one));
    for k in 0..3 {
        assert!(s.observe(k, at(None, 1.0), First::Baseline, 0).is_ok());
    }
    assert_eq!(s.bytes(), 3 * one);
    assert_eq!(s.observe(3, at(None, 1.0), First::Baseline, 0), Err(Full::Bytes));
    // A known stream that grows past the budget (a histogram with more buckets) is forgotten.
    let wide = Reading { start_ms: None, shape: 1, counts: vec![1.0; 10], sum: 0.0 };
    assert_eq!(s.observe(0, wide, First::Baseline, 0), Err(Full::Bytes));
    assert_eq!((s.len(), s.bytes()), (2, 2 * one));
    // The count bound as before.
    let mut s = Streams::new(bounds(1, 1 << 20));
    assert!(s.observe(0, at(None, 1.0), First::Baseline, 0).is_ok());
    assert_eq!(s.observe(1, at(None, 1.0), First::Baseline, 0), Err(Full::Streams));
}

#[test]
fn restore_and_expire_give_their_bytes_back() {
    let mut s = Streams::new(bounds(10, 1 << 20));
    let (_, previous) = s.observe(7, at(None, 5.0), First::Baseline, 0).unwrap();
    assert_eq!(previous, None);
    let (c, previous) = s.observe(7, at(None, 8.0), First::Baseline, 10).unwrap();
    assert_eq!((c, previous.clone()), (inc(3.0), Some(at(None, 5.0))));
    s.restore(7, previous, 10);
    assert_eq!(change(&mut s, 7, at(None, 8.0)), inc(3.0), "the retry publishes the same increase");
    s.restore(7, None, 10);
    assert_eq!((s.len(), s.bytes()), (0, 0));
    s.observe(1, at(None, 1.0), First::Baseline, 0).unwrap();
    s.observe(2, at(None, 1.0), First::Baseline, 50_000).unwrap();
    assert_eq!(s.expire(60_000), 1);
    assert_eq!((s.len(), s.bytes()), (1, cost(&at(None, 1.0))));
}

#[test]
fn keys_are_fixed_size_and_tell_their_parts_apart() {
    let s = Streams::new(bounds(10, 1 << 20));
    let key = |parts: &[&str]| {
        let mut h = s.hasher();
        for p in parts {
            h.write_str(p);
        }
        h.finish()
    };
    assert_eq!(key(&["a", "bc"]), key(&["a", "bc"]));
    assert_ne!(key(&["a", "bc"]), key(&["ab", "c"]));
    assert_ne!(key(&["a"]), key(&["a", ""]));
    let other = Streams::new(bounds(10, 1 << 20));
    let mut h = other.hasher();
    h.write_str("a");
    assert_ne!(h.finish(), key(&["a"]), "each state has keys of its own");
}
