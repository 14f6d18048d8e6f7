//! Memory per admitted series of the series budget (`[cardinality]`), printed as figures
//! (`cargo bench -p cw-core --bench series_budget`): bytes the table's heap holds per active
//! series, counted by a counting allocator, for metrics of 1 to 8 dimensions, and the time
//! an admission takes. Figures for comparing changes on one machine, never tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use cw_core::cost::budget::{BudgetSettings, Overflow, SeriesId, SeriesRef, SeriesTable};

/// The system allocator, counting the bytes held.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    println!("{:>10} {:>6} {:>14} {:>14}", "series", "dims", "bytes/series", "ns/admission");
    for (series, dims) in [(1_000, 3), (10_000, 3), (100_000, 3), (10_000, 1), (10_000, 8)] {
        let settings = BudgetSettings {
            max_series: series,
            max_series_per_namespace: None,
            max_series_per_metric: series,
            series_ttl_ms: 3_600_000,
            overflow: Overflow::Aggregate,
            default_dimensions: vec![],
        };
        // The keys are made before counting: only the table's own heap is measured.
        let names: Vec<String> = (0..dims).map(|d| format!("dim{d}")).collect();
        let values: Vec<Vec<String>> = (0..series).map(|i| (0..dims).map(|d| format!("v{i}-{d}")).collect()).collect();
        let keys: Vec<Vec<u8>> = (0..series).map(|i| format!("Bench\0Latency\0{i}").into_bytes()).collect();
        let before = HELD.load(Ordering::Relaxed);
        let mut table = SeriesTable::new(settings);
        let start = Instant::now();
        for i in 0..series {
            let dimensions: Vec<(&str, &str)> =
                names.iter().zip(&values[i]).map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let s = SeriesRef { identity: &keys[i], namespace: "Bench", name: "Latency", dimensions: &dimensions };
            std::hint::black_box(table.admit(SeriesId::of(&keys[i]), &s, 1_800_000_000_000, false));
        }
        let elapsed = start.elapsed();
        // The loop's own `dimensions` vectors are freed: what is held is the table's.
        let held = HELD.load(Ordering::Relaxed) - before;
        assert_eq!(table.active(), series);
        println!(
            "{series:>10} {dims:>6} {:>14} {:>14.0}",
            held / series as isize,
            elapsed.as_nanos() as f64 / series as f64
        );
    }
}
