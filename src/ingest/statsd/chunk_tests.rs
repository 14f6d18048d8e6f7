use super::*;

#[test]
fn big_batches_go_in_chunks_and_resume_after_a_refusal() {
    let clock = crate::clock::ManualClock::new(1_700_000_010_000);
    let (pipeline, telemetry) = crate::test_support::pipeline(Some("T"), 1500, clock.clone());
    let s = Statsd::new(pipeline.clone(), telemetry, clock, Settings::new(&StatsdConfig::default(), None));
    let text: String = (0..2500).map(|i| format!("s{i}:1|c\n")).collect();
    let mut p = s.prepare(parse::lines(text.as_bytes()), 0);
    // 2500 series do not fit in 1500 at once; the first chunk does.
    assert!(matches!(s.submit(&mut p), Err(Refusal::BufferFull { .. })));
    assert_eq!(Statsd::pending(&p), 1500);
    let drained = pipeline.drain(true);
    pipeline.buffer().release(drained.len());
    s.submit(&mut p).unwrap();
    assert_eq!(Statsd::pending(&p), 0);
    assert_eq!(pipeline.active_series(), 1500);
}
