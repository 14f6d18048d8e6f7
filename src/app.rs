//! Wires the stages together: `App::build` binds the API's listener and every input the
//! configuration turns on ([`SOURCES`]), on the engine (pipeline, spool, outbox, flusher);
//! `run_until_stopped` serves, flushes on a timer, and on shutdown publishes everything it
//! holds before returning.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{self, Api};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::engine::{self, Engine};
use crate::environment::{self, Lookup};
use crate::flush::Flusher;
use crate::ingest::http::listener::HttpListener;
use crate::ingest::http::server::ServerLimits;
use crate::ingest::http::{BodyBudget, BodyLimits, Http};
use crate::ingest::otlp::{self, Otlp};
use crate::ingest::remote_write::RemoteWrite;
use crate::ingest::source::{Address, Build, Running, Shared, Source};
use crate::ingest::{emf, scrape, statsd};
use crate::publish::publisher::Publisher;
use crate::publish::sink::Sink;
use crate::publish::tracker::FlushCounts;
use crate::telemetry::Telemetry;

/// Every input beside the API's own `POST /v1/metrics`, each built from its config section
/// (and left out when the section turns nothing on). Adding an input is a module that
/// implements [`Source`] and a line here.
pub(crate) const SOURCES: &[Build] = &[statsd::build, emf::build, otlp::http::build, otlp::grpc::build, scrape::build];

/// What shutdown managed to publish, and what it had to leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    pub counts: FlushCounts,
}

impl ShutdownReport {
    pub fn complete(&self) -> bool {
        self.counts.retrying == 0
    }
}

pub struct App {
    /// The API's listener: our records and OTLP at `/v1/metrics`, flush, health, `/metrics`.
    api_listener: HttpListener,
    api: Arc<Api>,
    sources: Vec<Box<dyn Source>>,
    flusher: Arc<Flusher>,
    publisher: Arc<Publisher>,
    flush_interval: Duration,
    clock: SharedClock,
}

impl App {
    /// Binds `config.listen` (port 0 picks a free port) and prepares the pipeline.
    pub async fn build(config: Config, sink: Sink) -> std::io::Result<App> {
        App::build_with_clock(config, sink, SystemClock::shared()).await
    }

    /// [`App::build`] on a given clock (tests move time themselves).
    pub async fn build_with_clock(config: Config, sink: Sink, clock: SharedClock) -> std::io::Result<App> {
        App::build_with_env(config, sink, clock, &|name| std::env::var(name).ok()).await
    }

    /// [`App::build_with_clock`] with the environment's variables read by `lookup` (the
    /// detectors of `[environment]` read theirs there; tests give their own).
    pub async fn build_with_env(
        mut config: Config,
        sink: Sink,
        clock: SharedClock,
        lookup: Lookup<'_>,
    ) -> std::io::Result<App> {
        let telemetry = Arc::new(Telemetry::default());
        add_environment(&mut config, &telemetry, lookup).await?;
        let memory = crate::memory::apply(&mut config, std::path::Path::new("/"));
        let Engine { pipeline, outbox, flusher, rate, .. } =
            Engine::assemble(&config, &telemetry, &clock, memory.clone())?;
        if let Some(guard) = &memory {
            telemetry.memory.set(guard, false);
            telemetry.memory.budgets(&crate::memory::shares(&config, guard.ceiling()));
            crate::memory::spawn_sampler(guard, pipeline.buffer(), &telemetry)?;
        }
        let publisher = Arc::new(Publisher::new(outbox, Arc::new(sink), rate, telemetry.clone(), clock.clone()));
        let http = Arc::new(Http {
            pipeline: pipeline.clone(),
            telemetry: telemetry.clone(),
            auth_token: config.auth_token.clone(),
            body_limits: BodyLimits { max: config.max_body_bytes, timeout: config.body_read_timeout },
            bodies: BodyBudget::new(config.max_body_bytes_in_flight),
        });
        let namespace = config.namespace.as_ref();
        let otlp = Arc::new(Otlp::new(pipeline.clone(), telemetry.clone(), clock.clone(), &config.otlp, namespace));
        let remote_write = RemoteWrite::new(&config, pipeline.clone(), telemetry.clone(), clock.clone()).map(Arc::new);
        let api = Arc::new(Api {
            http: http.clone(),
            otlp: otlp.clone(),
            remote_write,
            flusher: flusher.clone(),
            started: AtomicBool::new(false),
            cost: crate::cost::CostSettings {
                prices: config.cost.prices(),
                budget: config.cardinality.enabled.then(|| config.cardinality.clone()),
                self_metrics: crate::cost::expected_self_metrics(&config),
            },
        });
        let limits = ServerLimits::of(&config);
        let api_listener =
            HttpListener::bind("api", config.listen, api::router(api.clone()), limits, telemetry.clone()).await?;
        let flush_interval = config.flush_interval;
        let authenticated = config.auth_token.is_some();
        let shared = Shared { config: Arc::new(config), pipeline, telemetry, clock: clock.clone(), http, otlp };
        let mut sources = Vec::new();
        for build in SOURCES {
            sources.extend(build(&shared).await?);
        }
        if authenticated {
            warn_unauthenticated(&sources);
        }
        Ok(App { api_listener, api, sources, flusher, publisher, flush_interval, clock })
    }

    /// Where the API listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.api_listener.addresses().first().map(|a| a.addr).unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Where input `name` listens for `kind` (`udp`, `tcp`, `http`), if it does.
    pub fn addr(&self, name: &str, kind: &str) -> Option<SocketAddr> {
        self.addresses().into_iter().find(|(n, k, _)| *n == name && *k == kind).map(|(_, _, a)| a)
    }

    /// Every input's addresses: (input, kind, address).
    pub fn addresses(&self) -> Vec<(&'static str, &'static str, SocketAddr)> {
        let mut out = Vec::new();
        for s in &self.sources {
            out.extend(s.addresses().into_iter().map(|Address { kind, addr }| (s.name(), kind, addr)));
        }
        out
    }

    /// The pipeline every input submits to (tests use it as an input of their own).
    pub fn pipeline(&self) -> Arc<cw_core::pipeline::Pipeline> {
        self.api.http.pipeline.clone()
    }

    /// Serves until `shutdown` resolves, then stops ingest (503), publishes everything it
    /// holds, open windows included, and returns within `shutdown_timeout`.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> std::io::Result<ShutdownReport> {
        let App { api_listener, api, sources, flusher, publisher, flush_interval, clock } = self;
        let listen = api_listener.local_addr()?;
        let stop_publisher = CancellationToken::new();
        let publishing = tokio::spawn(publisher.run(stop_publisher.clone()));

        let stop_timer = CancellationToken::new();
        let timer = tokio::spawn(flush_timer(flusher.clone(), clock, flush_interval, stop_timer.clone()));

        let mut running: Vec<Box<dyn Running>> = vec![Box::new(api_listener).start()?];
        for source in sources {
            running.push(source.start()?);
        }
        api.started.store(true, Ordering::Release);
        tracing::info!(%listen, "cw-sidecar ready");

        shutdown.await;
        tracing::info!("shutting down: refusing new records, publishing everything buffered");
        for input in &mut running {
            input.stop().await;
        }
        engine::close(&api.http.pipeline).await;
        stop_timer.cancel();
        let _ = timer.await;
        let counts = flusher.flush_and_wait().await;
        let report = ShutdownReport { counts };
        if report.complete() {
            tracing::info!(
                published = counts.published,
                rejected = counts.rejected,
                "shutdown complete: everything published"
            );
        } else {
            for ((namespace, metric), datums) in flusher.outbox.unpublished_by_metric() {
                tracing::error!(%namespace, %metric, datums, "left unpublished at shutdown");
            }
            tracing::error!(unpublished = counts.retrying, "shutdown_timeout passed before everything was published");
        }
        stop_publisher.cancel();
        let _ = publishing.await;
        if let Some(spool) = &flusher.spool {
            // Its last deletions done, the spool holds exactly what the next start publishes.
            spool.stop();
            let (datums, files) = flusher.outbox.stored();
            if datums > 0 {
                tracing::warn!(
                    datums, batch_files = files, dir = %spool.dir().display(),
                    "left in the spool: the next start publishes them"
                );
            }
        }
        // The listeners drain, then close what is left.
        for input in running {
            input.close().await?;
        }
        Ok(report)
    }
}

/// Runs the detectors of `[environment]` (if any) and adds the dimensions they found to the
/// default dimensions; refuses to start under `fail_on_missing` when one is missing.
async fn add_environment(config: &mut Config, telemetry: &Telemetry, lookup: Lookup<'_>) -> std::io::Result<()> {
    if config.environment.detect.is_empty() {
        return Ok(());
    }
    let detection = environment::detect(&config.environment, lookup).await;
    environment::log(&detection);
    for o in &detection.outcomes {
        telemetry.environment.detected(o.detector, o.outcome);
    }
    telemetry.environment.set_dimensions(detection.dimensions.len(), detection.missing.len());
    if config.environment.fail_on_missing
        && let Some(why) = detection.incomplete()
    {
        let message = format!("environment incomplete (environment.fail_on_missing): {why}");
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, message));
    }
    config.default_dimensions.extend(detection.dimensions);
    Ok(())
}

/// With `auth_token` set, names the inputs that cannot carry a token (the line inputs, on UDP
/// or TCP): they take records from any local client.
fn warn_unauthenticated(sources: &[Box<dyn Source>]) -> Vec<String> {
    let inputs: Vec<String> = sources
        .iter()
        .flat_map(|s| {
            let name = s.name();
            s.addresses()
                .into_iter()
                .filter(|a| !matches!(a.kind, "http" | "grpc"))
                .map(move |a| format!("{name} ({} {})", a.kind, a.addr))
        })
        .collect();
    if !inputs.is_empty() {
        tracing::warn!(
            inputs = %inputs.join(", "),
            "auth_token does not cover these inputs: StatsD and EMF cannot carry a token, and take records from \
             any client that reaches them (limit them with allowed_namespaces)"
        );
    }
    inputs
}

/// Publishes closed windows every `interval` of the clock's time.
async fn flush_timer(flusher: Arc<Flusher>, clock: SharedClock, interval: Duration, stop: CancellationToken) {
    let mut next = clock.elapsed() + interval;
    loop {
        tokio::select! {
            _ = clock.sleep_until(next) => {}
            _ = stop.cancelled() => return,
        }
        // Draining many series takes a while: keep it off the threads serving ingest.
        let f = flusher.clone();
        let _ = tokio::task::spawn_blocking(move || f.flush(false, None)).await;
        // Like a delayed tick: a late flush pushes the next one back instead of bunching up.
        next = (next + interval).max(clock.elapsed());
    }
}
