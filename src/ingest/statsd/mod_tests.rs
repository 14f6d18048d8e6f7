use std::time::Duration;

use super::*;
use crate::clock::ManualClock;

const NOW: i64 = 1_700_000_010_000;

fn statsd(tune: impl FnOnce(&mut StatsdConfig)) -> (Statsd, Arc<ManualClock>) {
    let mut config = StatsdConfig::default();
    tune(&mut config);
    let clock = ManualClock::new(NOW);
    let (pipeline, telemetry) = crate::test_support::pipeline(Some("Test"), 1000, clock.clone());
    let settings = Settings::new(&config, None);
    (Statsd::new(pipeline, telemetry, clock.clone(), settings), clock)
}

fn prepare<'a>(s: &'a Statsd, text: &'a str) -> Vec<Candidate<'a>> {
    s.prepare(parse::lines(text.as_bytes()), 0).items
}

fn metric_text(s: &Statsd) -> String {
    s.telemetry.encode()
}

#[test]
fn counters_divide_by_the_rate_in_floating_point() {
    let (s, _) = statsd(|_| {});
    let c = prepare(&s, "hits:1|c|@0.25\nhits:2:3|c|@0.5\nhits:1|c|@0");
    let values: Vec<f64> = c.iter().map(|c| c.values.value.unwrap()).collect();
    assert_eq!(values, vec![4.0, 10.0, 1.0]);
    assert_eq!(c[0].unit.as_deref(), Some("Count"));
    assert_eq!(c[0].name.as_deref(), Some("hits"));
}

#[test]
fn timers_keep_values_weighted_by_one_over_the_rate() {
    let (s, _) = statsd(|_| {});
    let c = prepare(&s, "t:10:20|ms|@0.1\nh:5|h\nd:7|d|@0.5");
    assert_eq!(c[0].values.values, Some(vec![10.0, 20.0]));
    assert_eq!(c[0].values.counts, Some(vec![10.0, 10.0]));
    assert_eq!(c[0].unit.as_deref(), Some("Milliseconds"));
    // One value: unsampled a plain value, sampled a value with its weight (no vectors).
    assert_eq!((c[1].values.value, c[1].values.weight, c[1].values.values.clone()), (Some(5.0), None, None));
    assert_eq!(c[1].unit, None);
    assert_eq!((c[2].values.value, c[2].values.weight, c[2].values.counts.clone()), (Some(7.0), Some(2.0), None));
}

#[test]
fn gauges_apply_deltas_to_the_last_value_kept_across_calls() {
    let (s, clock) = statsd(|c| c.gauge_idle_timeout = Duration::from_secs(60));
    let value = |s: &Statsd, line: &str| {
        let c = prepare(s, line);
        c[0].values.value.or_else(|| c[0].values.values.as_ref().and_then(|v| v.last().copied())).unwrap()
    };
    assert_eq!(value(&s, "g:333|g"), 333.0);
    s.tick(false);
    assert_eq!(value(&s, "g:-10|g"), 323.0);
    assert_eq!(value(&s, "g:+4|g"), 327.0);
    // Per series: tags make another one, whatever their order.
    assert_eq!(value(&s, "g:+1|g|#a:1,b:2"), 1.0);
    assert_eq!(value(&s, "g:+1|g|#b:2,a:1"), 2.0);
    // Packed: each step is a sample.
    assert_eq!(prepare(&s, "g:+1:-2:10|g")[0].values.values, Some(vec![328.0, 326.0, 10.0]));
    // Idle state expires.
    clock.advance(Duration::from_secs(61));
    s.tick(false);
    assert_eq!(value(&s, "g:+5|g"), 5.0);
}

#[test]
fn units_overrides_names_and_namespace() {
    let (s, _) = statsd(|c| {
        c.units = [("db.query".to_string(), "Seconds".to_string())].into();
        c.dots_to_underscores = false;
    });
    assert_eq!(prepare(&s, "db.query:1|ms")[0].unit.as_deref(), Some("Seconds"));
    assert_eq!(prepare(&s, "db.query:1|ms")[0].name.as_deref(), Some("db.query"));
    let (s, _) = statsd(|c| c.dots_to_underscores = true);
    assert_eq!(prepare(&s, "db.query:1|ms")[0].name.as_deref(), Some("db_query"));
    let settings = Settings::new(&StatsdConfig::default(), Some(&"Global".to_string()));
    assert_eq!(settings.namespace.as_deref(), Some("Global"));
    let own = StatsdConfig { namespace: Some("Own".into()), ..StatsdConfig::default() };
    assert_eq!(Settings::new(&own, Some(&"Global".to_string())).namespace.as_deref(), Some("Own"));
}

#[test]
fn origin_tags_are_not_dimensions_unless_asked() {
    let dims = |c: &Candidate| c.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    let line = "hits:1|c|#dd.internal.entity_id:5c7b-pod-uid,host:ip-10-0-0-1,route:/a";
    let (s, _) = statsd(|_| {});
    assert_eq!(dims(&prepare(&s, line)[0]), ["route=/a"]);
    // Asked for `host`: it stays, the entity id still goes.
    let (s, _) = statsd(|c| c.origin_tags = vec!["dd.internal.entity_id".into()]);
    assert_eq!(dims(&prepare(&s, line)[0]), ["host=ip-10-0-0-1", "route=/a"]);
    let (s, _) = statsd(|c| c.origin_tags = vec![]);
    assert_eq!(dims(&prepare(&s, line)[0]).len(), 3);
    // Sets too: two pods' members are one series.
    let (s, _) = statsd(|_| {});
    assert!(prepare(&s, "u:a|s|#dd.internal.entity_id:p1\nu:b|s|#dd.internal.entity_id:p2").is_empty());
    s.tick(true);
    assert_eq!(s.pipeline.active_series(), 1);
    let (s, _) = statsd(|c| c.origin_tags = vec![]);
    prepare(&s, "u:a|s|#dd.internal.entity_id:p1\nu:b|s|#dd.internal.entity_id:p2");
    s.tick(true);
    assert_eq!(s.pipeline.active_series(), 2);
}

#[test]
fn lines_are_counted_by_outcome_and_reason() {
    let (s, _) = statsd(|_| {});
    let mut p = s.prepare(parse::lines(b"a:1|c\nb:1|q\n_e{1,1}:a|b\nc:1|c|@5\nu:x|s\nbad:1|ms|T1\n"), 0);
    s.submit(&mut p).unwrap();
    let text = metric_text(&s);
    for expected in [
        "cw_sidecar_input_lines_total{input=\"statsd\",outcome=\"received\"} 6",
        "cw_sidecar_input_lines_total{input=\"statsd\",outcome=\"accepted\"} 3",
        "cw_sidecar_input_lines_total{input=\"statsd\",outcome=\"rejected\"} 2",
        "cw_sidecar_input_lines_total{input=\"statsd\",outcome=\"ignored\"} 1",
        "cw_sidecar_input_lines_rejected_total{input=\"statsd\",reason=\"unknown_type\"} 1",
        "cw_sidecar_input_lines_rejected_total{input=\"statsd\",reason=\"invalid\"} 1",
        "cw_sidecar_input_warnings_total{input=\"statsd\",reason=\"sample_rate_above_one\"} 1",
        "cw_sidecar_udp_dropped_total{input=\"statsd\",reason=\"kernel\"} 0",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}

#[test]
fn sets_count_distinct_members_per_series_and_window_when_it_ends() {
    let (s, clock) = statsd(|_| {});
    assert!(prepare(&s, "u:alice|s\nu:bob|s\nu:alice|s\nu:carol|s|#a:1\nu:x:y|s").is_empty());
    s.tick(false);
    assert_eq!(s.pipeline.active_series(), 0, "the window has not ended");
    clock.advance(Duration::from_secs(60));
    assert!(prepare(&s, "u:dave|s").is_empty());
    s.tick(false);
    assert_eq!(s.pipeline.active_series(), 2, "two series of the first window");
    assert_eq!(s.sets.lock().unwrap().members, 1);
    let windows = s.pipeline.drain(true);
    assert_eq!(windows.len(), 2);
    let mut counts: Vec<f64> =
        windows.iter().map(|w| w.window.values.iter().flat_map(|d| d.entries()).map(|(v, c)| v * c).sum()).collect();
    counts.sort_by(f64::total_cmp);
    assert_eq!(counts, vec![1.0, 3.0]);
    assert!(windows.iter().all(|w| w.start_ms == NOW - NOW % 60_000));
    s.tick(true);
    assert_eq!(s.sets.lock().unwrap().members, 0);
}

#[test]
fn a_gauge_key_part_cannot_run_into_the_next() {
    let (s, _) = statsd(|c| c.gauge_idle_timeout = Duration::from_secs(60));
    let value = |line: &str| prepare(&s, line)[0].values.value.unwrap();
    assert_eq!(value("g:+1|g|#ab:c"), 1.0);
    assert_eq!(value("g:+1|g|#a:bc"), 1.0, "another series");
    assert_eq!(value("g:+1|g|#ab:c"), 2.0);
}

#[test]
fn a_streamed_batch_is_taken_and_refused_as_the_prepared_one_would_be() {
    // Max 1000 buffered: of 2,500 series, the first 1000 fit, the second chunk is refused
    // and the lines after it are lost with it. A bad line and a set member on the way.
    let mut text: String = (0..2500).map(|i| format!("hits{i}:1|c\n")).collect();
    text.insert_str(0, "bad line\nusers:u1|s\n");
    let run = |streamed: bool| {
        let (s, _) = statsd(|_| {});
        let outcome = match streamed {
            true => lines::input::submit_once(&s, text.as_bytes()),
            false => {
                let mut prepared = s.prepare_batch(text.as_bytes());
                lines::input::submit(&s, &mut prepared).map_err(|r| (r, prepared.pending()))
            }
        };
        let held = s.pipeline.drain(true).len();
        // The counters, in an order of their own (labels come in hash order).
        let mut counters: Vec<String> = metric_text(&s).lines().map(str::to_string).collect();
        counters.sort();
        (outcome.map_err(|(r, n)| (r.reason(), n)), held, counters)
    };
    let (streamed, prepared) = (run(true), run(false));
    assert_eq!(streamed.0, Err((cw_core::reasons::RefuseReason::BufferFull, 1500)));
    assert_eq!(streamed.1, 1000);
    assert_eq!(streamed, prepared);
}
