//! Prometheus scraping: one task per target, on the injected clock, fetches the target's
//! exposition ([`fetch`]), parses it ([`parse`]), turns it into candidates with the target's
//! state ([`convert`], under the [`rules`] of `[scrape]`) and submits them to the pipeline like
//! any input. A target that is down, slow or answering garbage is logged and counted, and the
//! other targets go on: each has its own task, timeout and state.

pub mod fetch;
mod report;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::ScrapeConfig;
use crate::ingest::source::{Address, BoxFuture, Running as SourceRunning, Shared, Source};
use crate::telemetry::Telemetry;
use cw_core::ingest::prometheus::convert::{self, TargetState};
use cw_core::ingest::prometheus::parse;
use cw_core::ingest::prometheus::rules::Rules;
use cw_core::pipeline::candidate::Context;
use cw_core::pipeline::{Admission, Input, Pipeline};
use cw_core::reasons::{ScrapeOutcome, ScrapeRefusal};
use fetch::{Credentials, Failure, Fetcher};

pub const INPUT: Input = Input { name: "scrape", admission: Admission::Bounded, counted: true };

/// Answers parsed and converted at once, over all targets: what the scrapes hold at a time is
/// bounded by this many answers' worth, however many targets answer together.
const PARSING_AT_ONCE: usize = 2;

/// One configured target.
struct Target {
    url: String,
    uri: hyper::Uri,
    credentials: Option<Credentials>,
    interval: Duration,
    timeout: Duration,
    state: Mutex<Watch>,
}

/// A target's state, with what was logged about it.
#[derive(Default)]
struct Watch {
    convert: TargetState,
    /// Whether the last scrape failed (logged on the change only).
    down: Option<bool>,
    /// Line errors of the last scrape (logged when the number changes).
    line_errors: usize,
    /// What the last scrape refused, by reason (its summary is a warning when this changes).
    refused: Vec<(ScrapeRefusal, usize)>,
}

/// The scrape input: its settings and targets.
pub struct Scraper {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    rules: Rules,
    namespace: Option<String>,
    fetcher: Fetcher,
    targets: Vec<Arc<Target>>,
    max_samples: usize,
    parsing: Arc<tokio::sync::Semaphore>,
}

impl Scraper {
    /// `None` when no target is configured. `namespace` is the global one.
    pub fn new(
        config: &ScrapeConfig,
        namespace: Option<&String>,
        pipeline: Arc<Pipeline>,
        telemetry: Arc<Telemetry>,
        clock: SharedClock,
    ) -> Option<Scraper> {
        if config.targets.is_empty() {
            return None;
        }
        let rules = Rules {
            max_series: config.max_series_per_target,
            max_state_bytes: config.max_state_bytes_per_target,
            family_series_warning: config.family_series_warning,
            ..config.label_rules()
        };
        let targets = config
            .targets
            .iter()
            .filter_map(|t| {
                let (interval, timeout) = config.timing(t);
                // Checked by the config: a URL that does not parse is never a target.
                let uri = t.url.parse().ok()?;
                telemetry.scrape.target(&t.url);
                let credentials = Credentials::of(t);
                Some(Arc::new(Target {
                    url: t.url.clone(),
                    uri,
                    credentials,
                    interval,
                    timeout,
                    state: Mutex::default(),
                }))
            })
            .collect();
        let namespace = config.namespace.clone().or_else(|| namespace.cloned());
        if namespace.is_none() {
            tracing::warn!(
                "scrape has no namespace (set scrape.namespace or namespace): every series will be rejected"
            );
        }
        let fetcher = Fetcher::new(config.max_response_bytes, clock.clone());
        let (max_samples, parsing) =
            (config.max_samples_per_scrape, Arc::new(tokio::sync::Semaphore::new(PARSING_AT_ONCE)));
        Some(Scraper { pipeline, telemetry, clock, rules, namespace, fetcher, targets, max_samples, parsing })
    }

    /// Scrapes `target` at once, then every interval, until stopped.
    async fn run(self: Arc<Self>, target: Arc<Target>, stop: CancellationToken) {
        tracing::info!(target = %target.url, interval = ?target.interval, timeout = ?target.timeout, "scraping");
        let mut next = self.clock.elapsed();
        loop {
            tokio::select! {
                _ = self.clock.sleep_until(next) => {}
                _ = stop.cancelled() => return,
            }
            tokio::select! {
                _ = self.clone().scrape(target.clone()) => {}
                _ = stop.cancelled() => return,
            }
            // A scrape that overran its interval pushes the next one back instead of bunching up.
            next = (next + target.interval).max(self.clock.elapsed());
        }
    }

    async fn scrape(self: Arc<Self>, target: Arc<Target>) {
        let started = self.clock.elapsed();
        let now_ms = self.clock.now_ms();
        let fetched = self.fetcher.fetch(&target.uri, target.timeout, target.credentials.as_ref()).await;
        let seconds = |clock: &SharedClock| clock.elapsed().saturating_sub(started).as_secs_f64();
        let answer = match fetched {
            Ok(a) => a,
            Err(f) => return self.failed(&target, f, seconds(&self.clock)),
        };
        let this = self.clone();
        let t = target.clone();
        // Never closed: acquiring fails only if it were, and then parsing goes on unbounded.
        let permit = self.parsing.clone().acquire_owned().await.ok();
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            this.publish(&t, &answer.body, answer.openmetrics, now_ms)
        })
        .await;
        let seconds = seconds(&self.clock);
        match done {
            Ok(Ok(series)) => {
                let mut watch = target.state.lock().unwrap_or_else(|e| e.into_inner());
                if watch.down.replace(false) == Some(true) {
                    tracing::info!(target = %target.url, "target is up again");
                }
                drop(watch);
                self.telemetry.scrape.scraped(&target.url, ScrapeOutcome::Success, seconds, Some(series));
            }
            Ok(Err(f)) => self.failed(&target, f, seconds),
            Err(e) => {
                self.failed(&target, Failure { outcome: ScrapeOutcome::Malformed, message: e.to_string() }, seconds)
            }
        }
    }

    fn failed(&self, target: &Target, f: Failure, seconds: f64) {
        self.telemetry.scrape.scraped(&target.url, f.outcome, seconds, None);
        let mut watch = target.state.lock().unwrap_or_else(|e| e.into_inner());
        if watch.down.replace(true) != Some(true) {
            tracing::warn!(target = %target.url, outcome = f.outcome.label(), error = %f.message, "scrape failed");
        } else {
            tracing::debug!(target = %target.url, outcome = f.outcome.label(), error = %f.message, "scrape failed");
        }
    }

    /// Parses, converts and submits one answer; (published, capped) series.
    fn publish(&self, target: &Target, body: &[u8], openmetrics: bool, now_ms: i64) -> Result<(usize, usize), Failure> {
        let malformed = |message: String| Failure { outcome: ScrapeOutcome::Malformed, message };
        let text = std::str::from_utf8(body).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
        let exposition = parse::parse_limited(text, openmetrics, self.max_samples);
        if exposition.too_many_samples {
            return Err(Failure {
                outcome: ScrapeOutcome::TooManySamples,
                message: format!("more than max_samples_per_scrape ({}) samples", self.max_samples),
            });
        }
        if let Some(line) = exposition.after_eof {
            return Err(malformed(format!("text after OpenMetrics `# EOF`, line {line}: an invalid exposition")));
        }
        let url = target.url.as_str();
        let mut watch = target.state.lock().unwrap_or_else(|e| e.into_inner());
        let errors = exposition.errors.len();
        if errors > 0 {
            self.telemetry.scrape.refused(url, ScrapeRefusal::Malformed, errors);
        }
        if openmetrics && !exposition.eof {
            return Err(malformed("OpenMetrics answer without `# EOF` (cut short?)".into()));
        }
        if exposition.samples() == 0 && errors > 0 {
            let first = &exposition.errors[0];
            return Err(malformed(format!("no valid sample; line {}: {}", first.line, first.message)));
        }
        if errors != watch.line_errors && errors > 0 {
            let first = &exposition.errors[0];
            tracing::warn!(target = url, lines = errors, first_line = first.line, error = %first.message, "lines skipped");
        }
        watch.line_errors = errors;
        let converted = convert::convert(&mut watch.convert, &self.rules, &exposition, now_ms);
        drop(exposition);
        for (reason, n) in &converted.refused {
            self.telemetry.scrape.refused(url, *reason, *n);
        }
        report::refused(url, &self.rules, &converted, &mut watch.refused);
        for w in &converted.warnings {
            let (label, values) = w.widest_label.clone().unwrap_or_default();
            tracing::warn!(
                target = url,
                family = %w.family,
                series = w.series,
                widest_label = %label,
                distinct_values = values,
                "family has more series than family_series_warning: each is a billed custom metric \
                 (scrape.drop_labels or scrape.exclude keep it cheap)"
            );
        }
        let (published, capped) = (converted.published, converted.capped);
        drop(watch);
        if converted.candidates.is_empty() {
            return Ok((published, capped));
        }
        let context = Context { namespace: self.namespace.as_deref(), dimensions: &[] };
        match self.pipeline.submit(INPUT, &context, converted.candidates.into_iter().map(Ok)) {
            Ok(answer) => {
                for r in &answer.rejected {
                    self.telemetry.scrape.refused(url, ScrapeRefusal::of(r.reason), 1);
                }
                if let Some(r) = answer.rejected.first() {
                    tracing::debug!(target = url, rejected = answer.rejected.len(), error = %r.error, "scraped datums rejected");
                }
                Ok((published, capped))
            }
            Err(refusal) => Err(Failure { outcome: ScrapeOutcome::Refused, message: refusal.to_string() }),
        }
    }
}

/// The scrape input that `[scrape]` turns on (a target at least): its [`Source`]; `None`
/// when no target is configured.
pub fn build(shared: &Shared) -> BoxFuture<'_, std::io::Result<Option<Box<dyn Source>>>> {
    let config = &shared.config;
    let (pipeline, telemetry, clock) = (shared.pipeline.clone(), shared.telemetry.clone(), shared.clock.clone());
    let scraper = Scraper::new(&config.scrape, config.namespace.as_ref(), pipeline, telemetry, clock);
    Box::pin(std::future::ready(Ok(scraper.map(|s| Box::new(s) as Box<dyn Source>))))
}

impl Source for Scraper {
    fn name(&self) -> &'static str {
        INPUT.name
    }

    /// It listens nowhere: it calls its targets.
    fn addresses(&self) -> Vec<Address> {
        Vec::new()
    }

    /// Starts one task per target.
    fn start(self: Box<Self>) -> std::io::Result<Box<dyn SourceRunning>> {
        let stop = CancellationToken::new();
        let scraper = Arc::new(*self);
        let tasks =
            scraper.targets.iter().map(|t| tokio::spawn(scraper.clone().run(t.clone(), stop.clone()))).collect();
        Ok(Box::new(Running { tasks, stop }))
    }
}

/// The scrape tasks while they run.
struct Running {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
}

impl SourceRunning for Running {
    /// Stops scraping (a scrape in progress is abandoned); before the pipeline closes.
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stop.cancel();
            for t in self.tasks.drain(..) {
                let _ = t.await;
            }
        })
    }
}
