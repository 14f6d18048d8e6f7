//! The one path every input takes. An input hands [`Pipeline::submit`] its candidate records
//! (or feeds a [`Submission`] one at a time); the pipeline validates them ([`validate`], with
//! the series already checked in a submission recognised by [`known`]), adds the default
//! dimensions, and sends the valid ones through the admission chain ([`admission`]):
//!
//! ```text
//! gate ─→ catalog ─→ rules ─→ budget ─→ journal ─→ aggregate
//! ```
//!
//! Each stage has one signature ([`admission::Stage`]) and a stage that is not configured is
//! not in the chain. The answer says what was accepted, what was rejected by index, or why
//! the whole submission was refused; each input maps it onto its own protocol.
//!
//! The pipeline owns the traits of what it needs from outside: [`Counters`] (what it counts)
//! and [`admission::Journal`] (the disk spool, when there is one), so it imports nothing of
//! the sidecar's I/O.

pub mod admission;
pub mod aggregate;
pub mod answer;
pub mod buffer;
pub mod candidate;
pub mod counters;
pub mod durable;
pub mod input;
pub mod known;
pub mod memory;
pub mod records;
pub mod submission;
pub mod validate;

#[cfg(test)]
mod rules_tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::catalog::contract::Contract;
use crate::clock::SharedClock;
use crate::cost::budget::{BudgetSettings, SeriesId, SeriesRef, SeriesReport, SeriesTable};
use crate::cost::rules::MetricRules;
use crate::domain::error::ValidationError;
use crate::domain::payload::Payload;
use crate::pipeline::admission::aggregate::Aggregate;
use crate::pipeline::admission::budget::{self, Budget, SharedTable};
use crate::pipeline::admission::catalog::{Catalog as CatalogStage, Mode as CatalogMode};
use crate::pipeline::admission::chain::{Chain, Stage};
use crate::pipeline::admission::gate::{Gate, IngestGate};
use crate::pipeline::admission::journal::{Journal, Journaling};
use crate::pipeline::admission::rules::Rules;
use crate::pipeline::aggregate::plan::Plan;
use crate::pipeline::aggregate::{Aggregator, ClosedWindow};
use crate::pipeline::buffer::Buffer;
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::validate::Defaults;
use crate::reasons::RefuseReason;

pub use answer::{Accepted, Refusal, Rejection};
pub use counters::{Counters, Uncounted};
pub use durable::Finished;
pub use input::{Admission, Input};
pub use submission::{Intake, Submission};

/// What the pipeline needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub defaults: Defaults,
    pub max_buffered: usize,
    pub window_grace: Duration,
    /// Told to clients refused for a full buffer: the next flush frees room.
    pub retry_after: Duration,
    /// A metric with more active series than this is logged, once.
    pub series_warning: usize,
    /// The metric rules (`[[metrics]]`); none leaves the rules stage out.
    pub rules: MetricRules,
    /// The series budget (`[cardinality]`); `None` leaves the budget stage out.
    pub budget: Option<BudgetSettings>,
    /// The memory ceiling's guard (`max_memory`): above its high mark ingest is refused.
    pub memory: Option<Arc<memory::MemoryGuard>>,
    /// The metric catalog and what becomes of a record it does not declare; `None` leaves
    /// the catalog stage out.
    pub catalog: Option<(Arc<Contract>, CatalogMode)>,
}

impl Settings {
    /// What tests and benches use: `namespace` as the fallback, no default dimensions, a 2 s
    /// grace, no series warning.
    pub fn plain(namespace: Option<&str>, max_buffered: usize) -> Settings {
        Settings {
            defaults: Defaults { namespace: namespace.map(str::to_string), ..Default::default() },
            max_buffered,
            window_grace: Duration::from_secs(2),
            retry_after: Duration::from_secs(1),
            series_warning: usize::MAX,
            rules: MetricRules::default(),
            budget: None,
            memory: None,
            catalog: None,
        }
    }
}

pub struct Pipeline {
    intake: Intake,
    window_grace_ms: i64,
    aggregator: Arc<Aggregator>,
    buffer: Arc<Buffer>,
    gate: Arc<IngestGate>,
    /// With a spool, accepted records are logged there before they are aggregated.
    journal: Option<Arc<dyn Journal>>,
    /// The active series, with a series budget.
    series: Option<SharedTable>,
    memory: Option<Arc<memory::MemoryGuard>>,
    clock: SharedClock,
}

impl Pipeline {
    /// The pipeline, logging accepted records in `journal` (when given) before it aggregates
    /// them.
    pub fn new(
        settings: Settings,
        counters: Arc<dyn Counters>,
        clock: SharedClock,
        journal: Option<Arc<dyn Journal>>,
    ) -> Pipeline {
        let retry_after = settings.retry_after.max(Duration::from_secs(1));
        let aggregator = Arc::new(Aggregator::new(settings.series_warning));
        let buffer = Arc::new(Buffer::new(settings.max_buffered));
        let gate = Arc::new(IngestGate::default());
        // The stages, in order; those not configured are left out.
        let mut stages: Vec<Box<dyn Stage>> =
            vec![Box::new(Gate::new(gate.clone(), buffer.clone(), retry_after).with_memory(settings.memory.clone()))];
        if let Some((contract, mode)) = &settings.catalog {
            stages.push(Box::new(CatalogStage::new(contract.clone(), *mode, counters.clone())));
        }
        if !settings.rules.is_empty() {
            stages.push(Box::new(Rules::new(settings.rules.clone(), counters.clone(), retry_after)));
        }
        let series = settings.budget.clone().map(|b| Arc::new(Mutex::new(SeriesTable::new(b))));
        if let Some(table) = &series {
            stages.push(Box::new(Budget::new(table.clone(), counters.clone(), clock.clone())));
        }
        if let Some(journal) = &journal {
            stages.push(Box::new(Journaling::new(journal.clone(), counters.clone(), retry_after)));
        }
        stages.push(Box::new(Aggregate::new(aggregator.clone(), counters.clone())));
        let chain = Arc::new(Chain::of(stages));
        Pipeline {
            intake: Intake::new(settings.defaults, counters, chain),
            window_grace_ms: i64::try_from(settings.window_grace.as_millis()).unwrap_or(i64::MAX),
            aggregator,
            buffer,
            gate,
            journal,
            series,
            memory: settings.memory,
            clock,
        }
    }

    /// For the sidecar's integration tests only (feature `test-hooks`): `hook` runs on the
    /// submitting thread as each submission finishes (at most one hook, set once). A test
    /// holds a submission there to see what else still runs.
    #[cfg(feature = "test-hooks")]
    pub fn on_submit(&self, hook: impl Fn() + Send + Sync + 'static) {
        assert!(self.intake.hook.set(Box::new(hook)).is_ok(), "a submit hook is already set");
    }

    /// The journal records are logged in, when there is one.
    pub fn journal(&self) -> Option<&Arc<dyn Journal>> {
        self.journal.as_ref()
    }

    /// The stages a submission goes through, by name, in order.
    pub fn stages(&self) -> Vec<&'static str> {
        self.intake.chain.names()
    }

    /// Resolves once everything submitted before is durable in the journal (at once without
    /// one): for inputs that acknowledge by reading on (TCP) or answer after submitting.
    pub async fn durable(&self) {
        if let Some(journal) = &self.journal {
            journal.barrier().await;
        }
    }

    /// Aggregates a record the journal replays (admitted past the bound: it was accepted
    /// before); returns the end of its window.
    pub fn restore(&self, key: &[u8], window_start_ms: i64, payload: Payload) -> i64 {
        // Its series is active again; the rules were applied before it was journaled.
        if let (Some(table), Some(view)) = (&self.series, aggregate::try_decode_series_key(key)) {
            let identity = aggregate::identity_of(key);
            let series =
                SeriesRef { identity, namespace: view.namespace, name: view.name, dimensions: &view.dimensions };
            budget::lock(table).restore(SeriesId::of(identity), &series, self.clock.now_ms());
        }
        let plan = Plan::of(payload);
        let mut reservation = self.buffer.reserve_past_bound(plan.slots_bound());
        reservation.keep(self.aggregator.add(key, window_start_ms, plan));
        aggregate::window_end(key, window_start_ms)
    }

    /// Validates, enriches, admits and aggregates one submission. Items an input could not
    /// even turn into a candidate come as errors and are rejected by their index.
    pub fn submit<'a>(
        &self,
        input: Input,
        context: &Context<'_>,
        items: impl IntoIterator<Item = Result<Candidate<'a>, ValidationError>>,
    ) -> Result<Accepted, Refusal> {
        let items = items.into_iter();
        let mut submission = self.submission(input, *context, items.size_hint().0);
        items.for_each(|item| submission.push(item));
        submission.finish()
    }

    /// A submission fed one item at a time, for an input that parses and submits in one pass
    /// ([`Pipeline::submit`] is this with an iterator). `expected` items are room made ahead.
    /// Nothing is counted or admitted before [`Submission::finish`]: a submission dropped
    /// before it leaves no trace.
    pub fn submission<'c>(&self, input: Input, context: Context<'c>, expected: usize) -> Submission<'_, 'c> {
        Submission::new(&self.intake, input, context, self.clock.now_ms(), expected)
    }

    /// Refuses early, before an input reads a body it could not submit.
    pub fn check_open(&self) -> Result<(), Refusal> {
        if self.gate.is_closed() {
            self.intake.counters.refused(RefuseReason::ShuttingDown);
            return Err(Refusal::ShuttingDown);
        }
        if let Some(m) = self.memory.as_ref().filter(|m| m.refusing()) {
            self.intake.counters.refused(RefuseReason::MemoryHigh);
            return Err(Refusal::MemoryHigh { rss: m.rss(), high: m.high_mark() });
        }
        Ok(())
    }

    /// The memory ceiling's guard, when `max_memory` sets one.
    pub fn memory(&self) -> Option<&Arc<memory::MemoryGuard>> {
        self.memory.as_ref()
    }

    /// Takes out the windows that closed (end plus grace), or all of them with `include_open`.
    pub fn drain(&self, include_open: bool) -> Vec<ClosedWindow> {
        self.drain_ended(include_open).0
    }

    /// [`Pipeline::drain`], with the time by which every window it took out had ended: every
    /// window that ended by then was taken out.
    pub fn drain_ended(&self, include_open: bool) -> (Vec<ClosedWindow>, i64) {
        let cutoff = (!include_open).then(|| self.clock.now_ms());
        let ended = cutoff.map_or(i64::MAX, |now| now.saturating_sub(self.window_grace_ms));
        (self.aggregator.drain(cutoff, self.window_grace_ms), ended)
    }

    /// Stops admitting records; [`Pipeline::busy`] says whether submissions are still
    /// adding theirs.
    pub fn close(&self) {
        self.gate.close();
    }

    /// Whether a submission is inside the gate.
    pub fn busy(&self) -> bool {
        self.gate.busy()
    }

    pub fn is_closed(&self) -> bool {
        self.gate.is_closed()
    }

    /// The bound on buffered datums, which the outbox releases as datums leave.
    pub fn buffer(&self) -> &Arc<Buffer> {
        &self.buffer
    }

    pub fn active_series(&self) -> usize {
        self.aggregator.active_series()
    }

    /// The metrics of the active series with their dimension sets; `None` without a budget.
    pub fn seen_metrics(&self) -> Option<Vec<crate::cost::budget::SeenMetric>> {
        self.series.as_ref().map(|t| budget::lock(t).seen(self.clock.now_ms()))
    }

    /// The series budget's view of the active series, with the `top` metrics by series;
    /// `None` without a budget.
    pub fn series_report(&self, top: usize) -> Option<SeriesReport> {
        self.series.as_ref().map(|t| budget::lock(t).report(self.clock.now_ms(), top))
    }
}
