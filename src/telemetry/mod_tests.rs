use super::*;

#[test]
fn deltas_cover_what_happened_since_the_last_flush() {
    let t = Telemetry::default();
    t.records_accepted(5);
    t.record_rejected(RejectReason::Unit);
    t.put_call(PutOutcome::Throttled, 0.01);
    t.put_call(PutOutcome::Success, 0.01);
    t.datums_published(3);
    let d = t.take_deltas();
    assert_eq!(
        d,
        Totals {
            records_accepted: 5,
            records_rejected: 1,
            datums_published: 3,
            datums_dropped: 0,
            publish_failures: 1,
            throttled_requests: 1,
            udp_dropped: 0,
        }
    );
    t.datums_dropped(DropReason::Invalid, 2);
    let d = t.take_deltas();
    assert_eq!((d.records_accepted, d.datums_dropped), (0, 2));
}

#[test]
fn exposition_names_the_counters_with_their_labels() {
    let t = Telemetry::default();
    t.record_rejected(RejectReason::Timestamp);
    t.put_call(PutOutcome::Success, 0.2);
    let text = t.encode();
    assert!(text.contains("cw_sidecar_records_rejected_total{reason=\"timestamp\"} 1"), "{text}");
    assert!(text.contains("cw_sidecar_put_metric_data_calls_total{outcome=\"success\"} 1"), "{text}");
    assert!(text.contains("cw_sidecar_publish_latency_seconds_count 1"), "{text}");
    for phase in ["idle", "header", "body"] {
        let line = format!("cw_sidecar_connections_timed_out_total{{phase=\"{phase}\"}} 0");
        assert!(text.contains(&line), "{line} is there before any timeout: {text}");
    }
    assert!(text.contains("cw_sidecar_requests_refused_total{reason=\"body_budget\"} 0"), "{text}");
}
