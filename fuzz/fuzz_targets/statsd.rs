//! The StatsD line parser on arbitrary bytes: it must never panic, and what it accepts must
//! hold its promises (a name, finite values, a sample per non-empty item of a packed list, a
//! rate in (0, 1], each tag key once); its shortcut for usual numbers reads the same `f64` as
//! `str::parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::ingest::statsd as parse;
use parse::{Metric, Parsed, Sample};

fuzz_target!(|data: &[u8]| {
    // The parser's shortcut for usual numbers reads what the general float parser reads.
    if let Ok(text) = std::str::from_utf8(data) {
        for t in text.split(|c| matches!(c, ':' | '|' | '@' | '\n')) {
            if let Some(v) = parse::decimal(t) {
                assert_eq!(Ok(v.to_bits()), t.parse::<f64>().map(f64::to_bits), "{t}");
            }
        }
    }
    // One metric parsed into for every line, as the listeners do: nothing of a line stays.
    let mut m = Metric::empty();
    for line in parse::lines(data) {
        assert!(!line.is_empty() && !line.contains(&b'\n'));
        let Ok(Parsed::Metric) = parse::parse_bytes_into(line, &mut m) else { continue };
        assert!(!m.name.is_empty());
        assert!(m.rate > 0.0 && m.rate <= 1.0, "{}", m.rate);
        assert!(!m.samples.is_empty());
        // A packed list's empty items are skipped, every other item is a sample.
        if m.kind != parse::Kind::Set {
            let text = std::str::from_utf8(line).unwrap_or("");
            let values = text.split_once(':').map_or("", |(_, rest)| rest.split('|').next().unwrap_or(""));
            let items = values.split(':').filter(|v| !v.is_empty()).count();
            // The Influx form puts `,k=v` before the first `:`: only plain names are compared.
            if !text.split(':').next().unwrap_or("").contains(',') {
                assert_eq!(m.samples.len(), items, "{text}");
            }
        }
        for s in &m.samples {
            match s {
                Sample::Number(v) | Sample::Delta(v) => assert!(v.is_finite()),
                Sample::Member(member) => assert!(!member.is_empty()),
            }
        }
        for (i, (k, v)) in m.tags.iter().enumerate() {
            assert!(!v.is_empty());
            assert!(m.tags[..i].iter().all(|(other, _)| other != k), "duplicate tag {k}");
        }
        if let Some(ms) = m.timestamp_ms {
            assert_eq!(ms % 1000, 0);
        }
    }
});
