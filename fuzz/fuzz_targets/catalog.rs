//! The metric catalog's reader on arbitrary text: it must never panic, and a catalog it
//! accepts must hold its promises (every unit a CloudWatch unit, resolutions 1 or 60, every
//! alarm on a declared metric), and the contract and rules made of it must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::catalog::{contract, parse};
use cw_core::domain::units::Unit;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(catalog) = parse(text) else { return };
    for m in &catalog.metrics {
        assert!(Unit::parse(&m.unit.value).is_some());
        assert!(matches!(m.resolution.value, 1 | 60));
    }
    for a in &catalog.alarms {
        assert!(catalog.metrics.iter().any(|m| m.name.value == a.metric.value));
    }
    let c = contract::Contract::new(&catalog, ["Environment".to_string()]);
    let _ = c.verdict("Demo", "Latency", Unit::Milliseconds, &[("Service", "x")]);
    let _ = contract::rules(&catalog);
});
