//! The memory ceiling in `/metrics`: the ceiling and its high mark, the resident memory as
//! last measured, and whether ingest is refused for it (the refusals themselves are counted
//! by each input, `reason="memory_high"`).

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::pipeline::memory::MemoryGuard;

#[derive(Default)]
pub(crate) struct Memory {
    max: Gauge,
    high_mark: Gauge,
    resident: Gauge,
    refusing: Gauge,
    budget: Family<Vec<(&'static str, &'static str)>, Gauge>,
}

impl Memory {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("memory_max_bytes", "The memory ceiling (max_memory); 0 when none", self.max.clone());
        registry.register(
            "memory_high_mark_bytes",
            "Resident memory above which ingest is refused (90% of max_memory)",
            self.high_mark.clone(),
        );
        registry.register("memory_resident_bytes", "Resident memory, as last measured", self.resident.clone());
        registry.register(
            "memory_refusing",
            "1 while ingest is refused for memory (from the high mark until below 80% of max_memory, or below the high mark with the buffer drained)",
            self.refusing.clone(),
        );
        registry.register(
            "memory_budget_bytes",
            "The shares of max_memory the budgets are sized to, by budget (udp_batch: the bound of one UDP listener's batch)",
            self.budget.clone(),
        );
    }

    /// The shares of the ceiling, as [`crate::memory::shares`] gives them.
    pub fn budgets(&self, shares: &[(&'static str, u64)]) {
        for (budget, bytes) in shares {
            self.budget.get_or_create(&vec![("budget", *budget)]).set(i64::try_from(*bytes).unwrap_or(i64::MAX));
        }
    }

    pub fn set(&self, guard: &MemoryGuard, refusing: bool) {
        self.max.set(guard.ceiling() as i64);
        self.high_mark.set(guard.high_mark() as i64);
        self.resident.set(guard.rss() as i64);
        self.refusing.set(refusing as i64);
    }
}
