//! `allowed_namespaces` of a line input: the transports serve the input wrapped in
//! [`Filtered`], which drops every candidate whose namespace is not allowed before it is
//! submitted, counted in `input_records_dropped_total{reason="namespace_not_allowed"}` and as
//! `dropped` in `input_lines_total`. An input whose records cannot name their own namespace
//! (StatsD: always the section's) has its whole batch dropped when that namespace is not
//! allowed, before any line reaches its state (set members included).

use std::collections::HashSet;

use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Accepted, Input, Pipeline};
use cw_core::reasons::LineOutcome;

use super::input::LineInput;
use crate::clock::SharedClock;
use crate::telemetry::Telemetry;
use crate::telemetry::lines::RecordDrop;

/// An input, and the namespaces its records may go to (`None`: any).
pub struct Filtered<I> {
    pub input: I,
    allowed: Option<HashSet<String>>,
}

impl<I: LineInput> Filtered<I> {
    /// `allowed` empty means any namespace.
    pub fn new(input: I, allowed: &[String]) -> Filtered<I> {
        input.telemetry().lines.input(I::INPUT.name);
        let allowed = (!allowed.is_empty()).then(|| allowed.iter().cloned().collect());
        let filtered = Filtered { input, allowed };
        if let (Some(allowed), Some(ns)) = (&filtered.allowed, filtered.input.context().namespace)
            && !I::OWN_NAMESPACES
            && !allowed.contains(ns)
        {
            tracing::warn!(
                input = I::INPUT.name,
                namespace = ns,
                "the input's namespace is not in its allowed_namespaces: every line will be dropped"
            );
        }
        filtered
    }

    /// Whether a record for `namespace` (none: the pipeline decides) may be submitted.
    fn allows(allowed: &HashSet<String>, namespace: Option<&str>) -> bool {
        namespace.is_none_or(|ns| allowed.contains(ns))
    }

    fn dropped(&self, n: usize) {
        let (t, input) = (self.input.telemetry(), I::INPUT.name);
        t.lines.dropped(input, RecordDrop::NamespaceNotAllowed, n);
        t.input_lines(input, LineOutcome::Dropped, n);
        tracing::debug!(input, records = n, "records for a namespace not in allowed_namespaces dropped");
    }
}

impl<I: LineInput> LineInput for Filtered<I> {
    const INPUT: Input = I::INPUT;
    const TICKS: bool = I::TICKS;
    const OWN_NAMESPACES: bool = I::OWN_NAMESPACES;

    fn telemetry(&self) -> &Telemetry {
        self.input.telemetry()
    }

    fn pipeline(&self) -> &Pipeline {
        self.input.pipeline()
    }

    fn clock(&self) -> &SharedClock {
        self.input.clock()
    }

    fn context(&self) -> Context<'_> {
        self.input.context()
    }

    fn each_candidate<'a>(&'a self, batch: &'a [u8], mut take: impl FnMut(Candidate<'a>)) {
        let Some(allowed) = &self.allowed else {
            return self.input.each_candidate(batch, take);
        };
        let fallback = self.input.context().namespace;
        if !I::OWN_NAMESPACES && !Self::allows(allowed, fallback) {
            let n = cw_core::ingest::statsd::lines(batch).count();
            self.input.telemetry().input_lines(I::INPUT.name, LineOutcome::Received, n);
            return self.dropped(n);
        }
        let mut dropped = 0;
        self.input.each_candidate(batch, |c| match Self::allows(allowed, c.namespace.as_deref().or(fallback)) {
            true => take(c),
            false => dropped += 1,
        });
        if dropped > 0 {
            self.dropped(dropped);
        }
    }

    fn accepted(&self, answer: Accepted) {
        self.input.accepted(answer);
    }

    fn tick(&self, all: bool) {
        self.input.tick(all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_namespace_is_left_to_the_pipeline() {
        let allowed: HashSet<String> = ["Shop".to_string()].into_iter().collect();
        assert!(Filtered::<crate::ingest::emf::Emf>::allows(&allowed, Some("Shop")));
        assert!(!Filtered::<crate::ingest::emf::Emf>::allows(&allowed, Some("Other")));
        assert!(Filtered::<crate::ingest::emf::Emf>::allows(&allowed, None));
    }
}
