//! Memory per active series of the whole pipeline, filled the way `scripts/bench.sh` fills the
//! sidecar for its "memory per active series" figure (`cargo bench -p cw-core --bench
//! series_memory`): series of one metric (`Bench`/`Fill`, dimension `Id` = `s<n>`), 20
//! distinct values each (round r gives every series r + 1.5), all in one window, in 1000-record
//! JSON bodies through `submit_body`, with and without the series budget (raised to cover
//! them). Each case runs in a child process of its own, so that its RSS is its own.
//!
//! Printed per series: the heap bytes held (a counting allocator: what was asked for, and what
//! glibc's malloc hands out for it, its 8-byte header and 16-byte rounding, at least 32), and
//! the growth of VmRSS, which also holds what the allocator freed but kept. Then what one
//! series' structures weigh by type. Figures for comparing changes on one machine, never tests.
//!
//!   cargo bench -p cw-core --bench series_memory            # 100,000 and 1,000,000 series
//!   SERIES=200000 cargo bench -p cw-core --bench series_memory

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use cw_core::clock::StillClock;
use cw_core::cost::budget::{BudgetSettings, Overflow};
use cw_core::domain::payload::StatSet;
use cw_core::ingest::json::BodyKind;
use cw_core::ingest::json::submit::submit_body;
use cw_core::pipeline::aggregate::{Distribution, Window};
use cw_core::pipeline::{Finished, Input, Pipeline, Settings, Uncounted};

/// The system allocator, counting the bytes held: as asked for, and as glibc's chunks.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

/// The chunk glibc's malloc uses for `size` bytes: an 8-byte header, rounded up to 16, at
/// least 32 (mmapped blocks, above 128 KiB, are rounded to pages instead; near enough).
fn chunk(size: usize) -> isize {
    ((size + 8).div_ceil(16) * 16).max(32) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(new_size) - chunk(layout.size()), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Within the minute that starts at `NOW_MS`: every record falls in its one window.
const NOW_MS: i64 = 1_800_000_000_000;
const VALUES: usize = 20;

fn rss_kb() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).unwrap_or(0)
}

/// One 1000-record body of round `round` for series `lo..hi`, as `bench_load fill` makes it.
fn body(round: usize, lo: usize, hi: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(80 * (hi - lo));
    s.push('[');
    for i in lo..hi {
        if i > lo {
            s.push(',');
        }
        let _ =
            write!(s, r#"{{"name":"Fill","value":{}.5,"timestamp":{NOW_MS},"dimensions":{{"Id":"s{i}"}}}}"#, round + 1);
    }
    s.push(']');
    s
}

/// Fills a pipeline with `series` series, with or without the budget; prints a line.
fn case(series: usize, budget: bool) {
    let mut settings = Settings::plain(Some("Bench"), series * 2);
    if budget {
        settings.budget = Some(BudgetSettings {
            max_series: series,
            max_series_per_namespace: None,
            max_series_per_metric: series,
            series_ttl_ms: 3_600_000,
            overflow: Overflow::Aggregate,
            default_dimensions: vec![],
        });
    }
    let (held, chunks, rss) = (HELD.load(Ordering::Relaxed), CHUNKS.load(Ordering::Relaxed), rss_kb());
    let pipeline = Pipeline::new(settings, Arc::new(Uncounted), StillClock::shared(NOW_MS), None);
    for round in 0..VALUES {
        for lo in (0..series).step_by(1000) {
            let body = body(round, lo, (lo + 1000).min(series));
            let accepted = submit_body(&pipeline, Input::HTTP, body.as_bytes(), BodyKind::Json).map(Finished::now);
            assert!(matches!(accepted, Ok(Ok(_))), "a fill body was refused");
        }
    }
    assert_eq!(pipeline.active_series(), series);
    let per = |bytes: isize| bytes / series as isize;
    println!(
        "{series:>10} {:>7} {:>13} {:>13} {:>13}",
        if budget { "on" } else { "off" },
        per(HELD.load(Ordering::Relaxed) - held),
        per(CHUNKS.load(Ordering::Relaxed) - chunks),
        per((rss_kb() - rss) * 1024),
    );
    std::hint::black_box(pipeline);
}

fn main() {
    if let Ok(spec) = std::env::var("SERIES_MEMORY_CASE") {
        let (series, budget) = spec.split_once(',').unwrap_or((&spec, "off"));
        case(series.parse().unwrap_or(100_000), budget == "on");
        return;
    }
    let sizes: Vec<usize> = match std::env::var("SERIES") {
        Ok(s) => s.split(',').filter_map(|n| n.parse().ok()).collect(),
        Err(_) => vec![100_000, 1_000_000],
    };
    println!(
        "{:>10} {:>7} {:>13} {:>13} {:>13}",
        "series", "budget", "heap B/series", "chunk B/series", "RSS B/series"
    );
    let exe = std::env::current_exe().unwrap_or_default();
    for series in sizes {
        for budget in ["off", "on"] {
            let status = std::process::Command::new(&exe)
                .env("SERIES_MEMORY_CASE", format!("{series},{budget}"))
                .status()
                .map(|s| s.success());
            assert!(matches!(status, Ok(true)), "the case {series},{budget} failed");
        }
    }
    println!(
        "sizes: Window {} B, Distribution {} B, StatSet {} B",
        size_of::<Window>(),
        size_of::<Distribution>(),
        size_of::<StatSet>()
    );
}
