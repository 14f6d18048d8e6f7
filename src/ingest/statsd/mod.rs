//! StatsD and DogStatsD over UDP ([`udp`]) and TCP ([`tcp`]): lines become candidates for the
//! pipeline, like any input.
//!
//! - Counters: one sample of `sum(values) / rate` (floating point), unit `Count`; they
//!   aggregate into the same windows as every other input, so the window's Sum is the count.
//! - Timers, histograms, distributions: `Values` with `Counts` of `1/rate` each (one value
//!   is a weighted value, kept without vectors).
//! - Gauges: the value after applying the line (a `+N`/`-N` adjusts the series' last value,
//!   which is kept in [`state`] across flushes, bounded, and forgotten after `gauge_idle_timeout`).
//! - Sets: members are collected in [`state`] per series and 60 s window (the pipeline's standard
//!   window), bounded; when the window has ended, its number of distinct members is submitted
//!   as one sample stamped with the window's start, so it lands in that window before the
//!   pipeline closes it (end plus grace). At shutdown, open windows are submitted first.
//!
//! The transports are the shared ones of [`crate::ingest::lines`]: each maps the pipeline's
//! refusal onto its protocol: UDP counts what it loses, TCP stops reading until there is
//! room, so that the client's writes block. A ticker on the input's clock moves gauge and set
//! state on every second.

use std::borrow::Cow;
use std::collections::HashMap;

use std::sync::{Arc, Mutex};

use crate::clock::SharedClock;
use crate::config::StatsdConfig;
use crate::ingest::lines::{self, LineInput};
use crate::ingest::source::{BoxFuture, Shared, Source};
use crate::telemetry::Telemetry;
use cw_core::domain::payload::GivenValues;
use cw_core::domain::timestamp::GivenTime;
use cw_core::ingest::statsd::{self as parse, Kind, LineError, Metric, Parsed};
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Accepted, Admission, Input, Pipeline, Refusal};
use cw_core::reasons::{LineOutcome, LineReject, LineWarning};

pub const INPUT: Input = Input { name: "statsd", admission: Admission::Bounded, counted: true };

/// The input's settings, from `[statsd]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespace: Option<String>,
    pub units: HashMap<String, String>,
    pub gauge_idle_ms: i64,
    pub dots_to_underscores: bool,
    /// Tag keys dropped from every line (`origin_tags`).
    pub origin_tags: Vec<String>,
}

impl Settings {
    /// `namespace` is the global one, used when `[statsd]` names none.
    pub fn new(config: &StatsdConfig, namespace: Option<&String>) -> Settings {
        Settings {
            namespace: config.namespace.clone().or_else(|| namespace.cloned()),
            units: config.units.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            gauge_idle_ms: i64::try_from(config.gauge_idle_timeout.as_millis()).unwrap_or(i64::MAX),
            dots_to_underscores: config.dots_to_underscores,
            origin_tags: config.origin_tags.clone(),
        }
    }
}

/// The StatsD input: its settings and its state, shared by the UDP and TCP listeners.
pub struct Statsd {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    settings: Settings,
    gauges: Mutex<Gauges>,
    sets: Mutex<Sets>,
}

impl Statsd {
    pub fn new(pipeline: Arc<Pipeline>, telemetry: Arc<Telemetry>, clock: SharedClock, settings: Settings) -> Statsd {
        telemetry.line_input(INPUT.name);
        Statsd { pipeline, telemetry, clock, settings, gauges: Mutex::default(), sets: Mutex::default() }
    }

    fn count(&self, outcome: LineOutcome, n: usize) {
        self.telemetry.input_lines(INPUT.name, outcome, n);
    }

    /// Parses lines, applies them to gauge and set state, and returns the candidates.
    #[cfg(test)]
    pub fn prepare<'a>(
        &'a self,
        lines: impl IntoIterator<Item = &'a [u8]>,
        capacity: usize,
    ) -> lines::input::Prepared<'a> {
        let mut prepared = lines::input::Prepared { items: Vec::with_capacity(capacity), done: 0 };
        self.each_line(lines, |c| prepared.items.push(c));
        prepared
    }

    /// Parses lines, applies them to gauge and set state, and hands each candidate to `take`.
    fn each_line<'a>(&'a self, lines: impl IntoIterator<Item = &'a [u8]>, mut take: impl FnMut(Candidate<'a>)) {
        let now = self.clock.now_ms();
        // Lines accepted without the pipeline (set members).
        let (mut received, mut ignored, mut taken) = (0, 0, 0);
        // One metric parsed into for every line: a parsed line is a few hundred bytes, not moved.
        let mut metric = Metric::empty();
        for bytes in lines {
            received += 1;
            match parse::parse_bytes_into(bytes, &mut metric) {
                Ok(Parsed::Metric) => {}
                Ok(Parsed::Ignored) => {
                    ignored += 1;
                    continue;
                }
                Err(e) => {
                    self.rejected(e.reason, &e.message);
                    continue;
                }
            }
            if metric.rate_clamped {
                self.telemetry.input_warning(INPUT.name, LineWarning::SampleRateAboveOne);
            }
            match self.candidate(&mut metric, now, &mut take) {
                Ok(true) => {}
                Ok(false) => taken += 1,
                Err(e) => self.rejected(e.reason, &e.message),
            }
        }
        // Counted once per batch: a labelled counter costs a lookup.
        self.count(LineOutcome::Received, received);
        if ignored > 0 {
            self.count(LineOutcome::Ignored, ignored);
        }
        if taken > 0 {
            self.count(LineOutcome::Accepted, taken);
        }
    }

    /// Submits prepared candidates: [`lines::submit`].
    #[cfg(test)]
    pub fn submit(&self, prepared: &mut lines::input::Prepared<'_>) -> Result<(), Refusal> {
        lines::input::submit(self, prepared)
    }

    /// How many candidates are not submitted yet (what UDP loses on a refusal).
    #[cfg(test)]
    pub fn pending(prepared: &lines::input::Prepared<'_>) -> usize {
        prepared.pending()
    }

    /// Hands the line's candidate to `take` (made where `take` receives it, from the parsed
    /// line where it lies: its tags are taken); `false` when the line went into input-side
    /// state instead (a set member).
    fn candidate<'a>(
        &'a self,
        m: &mut Metric<'a>,
        now: i64,
        take: &mut impl FnMut(Candidate<'a>),
    ) -> Result<bool, LineError> {
        if !self.settings.origin_tags.is_empty() {
            m.tags.retain(|(k, _)| !self.settings.origin_tags.iter().any(|t| t == k));
        }
        let name: Cow<'a, str> = match self.settings.dots_to_underscores && m.name.contains('.') {
            true => Cow::Owned(m.name.replace('.', "_")),
            false => Cow::Borrowed(m.name),
        };
        let unit = self.settings.units.get(name.as_ref()).map(String::as_str).or(m.kind.default_unit());
        let time_ms = m.timestamp_ms;
        let values = match m.kind {
            Kind::Counter => {
                let sum: f64 = m.samples.iter().map(number).sum();
                GivenValues { value: Some(sum / m.rate), ..GivenValues::default() }
            }
            // One value (most lines) needs no vectors: unsampled it is a plain value, sampled
            // a value standing for 1/rate samples.
            Kind::Timer | Kind::Histogram | Kind::Distribution => match m.samples.as_slice() {
                [one] if m.rate == 1.0 => GivenValues { value: Some(number(one)), ..GivenValues::default() },
                [one] => GivenValues { value: Some(number(one)), weight: Some(1.0 / m.rate), ..GivenValues::default() },
                many => {
                    let values: Vec<f64> = many.iter().map(number).collect();
                    let counts = vec![1.0 / m.rate; values.len()];
                    GivenValues { values: Some(values), counts: Some(counts), ..GivenValues::default() }
                }
            },
            Kind::Gauge => {
                let values = self.gauges.lock().unwrap_or_else(|e| e.into_inner()).apply(&name, unit, m, now)?;
                match values.len() {
                    1 => GivenValues { value: Some(values[0]), ..GivenValues::default() },
                    _ => GivenValues { values: Some(values.into_vec()), ..GivenValues::default() },
                }
            }
            Kind::Set => {
                self.sets.lock().unwrap_or_else(|e| e.into_inner()).add(&name, unit, m, time_ms.unwrap_or(now))?;
                return Ok(false);
            }
        };
        take(Candidate {
            name: Some(name),
            unit: unit.map(Cow::Borrowed),
            dimensions: std::mem::take(&mut m.tags),
            timestamp: time_ms.map(GivenTime::EpochMillis),
            values,
            ..Candidate::default()
        });
        Ok(true)
    }

    /// Forgets idle gauges and submits the sets whose window has ended (all with `all`). Sets
    /// refused for a full buffer are kept for the next call, unless shutting down.
    pub fn tick(&self, all: bool) {
        let now = self.clock.now_ms();
        self.gauges.lock().unwrap_or_else(|e| e.into_inner()).forget_idle(now, self.settings.gauge_idle_ms);
        let ended = self.sets.lock().unwrap_or_else(|e| e.into_inner()).take_ended(now, all);
        if ended.is_empty() {
            return;
        }
        let candidates = ended.iter().map(|(_, set)| {
            Ok(Candidate {
                name: Some(Cow::Borrowed(set.name.as_str())),
                unit: set.unit.as_deref().map(Cow::Borrowed),
                dimensions: set
                    .tags
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                    .collect(),
                timestamp: Some(GivenTime::EpochMillis(set.window)),
                values: GivenValues { value: Some(set.members.len() as f64), ..GivenValues::default() },
                ..Candidate::default()
            })
        });
        match self.pipeline.submit(INPUT, &self.context(), candidates) {
            Ok(answer) => {
                for r in &answer.rejected {
                    self.telemetry.input_line_rejected(INPUT.name, LineReject::of(r.reason));
                    tracing::warn!(error = %r.error, "statsd set count rejected");
                }
            }
            Err(Refusal::BufferFull { .. } | Refusal::SpoolFull { .. } | Refusal::MemoryHigh { .. }) if !all => {
                self.sets.lock().unwrap_or_else(|e| e.into_inner()).put_back(ended);
            }
            Err(refusal) => tracing::error!(%refusal, sets = ended.len(), "statsd set counts lost"),
        }
    }
}

impl LineInput for Statsd {
    const INPUT: Input = INPUT;

    /// Idle gauges are forgotten and ended set windows submitted.
    const TICKS: bool = true;

    fn tick(&self, all: bool) {
        Statsd::tick(self, all);
    }

    fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    fn context(&self) -> Context<'_> {
        Context { namespace: self.settings.namespace.as_deref(), dimensions: &[] }
    }

    fn each_candidate<'a>(&'a self, batch: &'a [u8], take: impl FnMut(Candidate<'a>)) {
        self.each_line(parse::lines(batch), take);
    }

    fn accepted(&self, answer: Accepted) {
        self.count(LineOutcome::Accepted, answer.accepted);
        if !answer.rejected.is_empty() {
            self.count(LineOutcome::Rejected, answer.rejected.len());
            for r in &answer.rejected {
                self.telemetry.input_line_rejected(INPUT.name, LineReject::of(r.reason));
                tracing::debug!(error = %r.error, "statsd line rejected");
            }
        }
    }
}

/// Binds what `[statsd]` turns on: the input's [`Source`]; `None` when nothing is.
pub fn build(shared: &Shared) -> BoxFuture<'_, std::io::Result<Option<Box<dyn Source>>>> {
    Box::pin(async move {
        let config = &shared.config;
        let mut listener = config.statsd.listener();
        listener.max_batch_bytes = config.udp_batch_bytes;
        if listener.udp.is_none() && listener.tcp.is_none() {
            return Ok(None);
        }
        let settings = Settings::new(&config.statsd, config.namespace.as_ref());
        if settings.namespace.is_none() {
            tracing::warn!("statsd has no namespace (set statsd.namespace or namespace): every line will be rejected");
        }
        let statsd = Statsd::new(shared.pipeline.clone(), shared.telemetry.clone(), shared.clock.clone(), settings);
        let bound = lines::Listeners::bind(&listener, "statsd.receive_buffer_bytes", statsd).await?;
        Ok(bound.map(|b| Box::new(b) as Box<dyn Source>))
    })
}

mod state;

use state::{Gauges, Sets, number};

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod chunk_tests;
