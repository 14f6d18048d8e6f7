//! The Prometheus text parser (0.0.4 and OpenMetrics) on arbitrary bytes: it must never panic,
//! and what it accepts must hold its promises (valid metric and label names, label names unique
//! per sample, every sample in a family whose name it starts with, errors on real line numbers,
//! text after `# EOF` only after one, at most the limit's samples held).
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::ingest::prometheus::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.split('\n').count();
    for openmetrics in [false, true] {
        let e = parse::parse(text, openmetrics);
        assert!(e.errors.iter().all(|err| err.line >= 1 && err.line <= lines));
        assert!(!e.eof || openmetrics);
        // Text after `# EOF` is named, and only ever after one.
        assert!(e.after_eof.is_none() || e.eof);
        assert!(!e.too_many_samples);
        // What a scrape holds is bounded: never more samples than the limit.
        let limited = parse::parse_limited(text, openmetrics, 3);
        assert!(limited.samples() <= 3);
        assert!(!limited.too_many_samples || limited.samples() == 3);
        assert!(e.samples() <= 3 || limited.too_many_samples);
        for f in &e.families {
            assert!(parse::is_metric_name(f.name));
            for s in &f.samples {
                assert!(parse::is_metric_name(s.name));
                assert!(s.name.starts_with(f.name), "{} in {}", s.name, f.name);
                assert!(s.labels.len() <= parse::MAX_LABELS);
                for (i, (k, _)) in s.labels.iter().enumerate() {
                    assert!(parse::is_label_name(k));
                    assert!(s.labels[..i].iter().all(|(other, _)| other != k), "label {k} twice");
                }
            }
        }
    }
});
