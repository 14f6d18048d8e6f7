//! Wires the stages together: `App::build` binds the listener and assembles inputs, pipeline
//! and publisher; `run_until_stopped` serves, flushes on a timer, and on shutdown publishes
//! everything it holds before returning.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::engine::{self, Engine};
use crate::flush::Flusher;
use crate::ingest::http::server::{self, ServerLimits, Timeouts};
use crate::ingest::http::{BodyBudget, BodyLimits, HttpState, router};
use crate::ingest::{emf, otlp, scrape, statsd};
use crate::publish::publisher::Publisher;
use crate::publish::sink::Sink;
use crate::publish::tracker::FlushCounts;
use crate::telemetry::Telemetry;

/// How long requests in flight may take to finish once the server stops, the last step of
/// shutdown.
const SERVER_DRAIN: Duration = Duration::from_secs(1);

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
    listener: TcpListener,
    http: Arc<HttpState>,
    limits: ServerLimits,
    flusher: Arc<Flusher>,
    publisher: Arc<Publisher>,
    flush_interval: Duration,
    clock: SharedClock,
    statsd: Option<statsd::Listeners>,
    emf: Option<emf::Listeners>,
    /// The OTLP listener, when configured.
    otlp: Option<TcpListener>,
    scrape: Option<scrape::Scraper>,
}

impl App {
    /// Binds `config.listen` (port 0 picks a free port) and prepares the pipeline.
    pub async fn build(config: Config, sink: Sink) -> std::io::Result<App> {
        App::build_with_clock(config, sink, SystemClock::shared()).await
    }

    /// [`App::build`] on a given clock (tests move time themselves).
    pub async fn build_with_clock(config: Config, sink: Sink, clock: SharedClock) -> std::io::Result<App> {
        let listener = TcpListener::bind(config.listen).await?;
        let telemetry = Arc::new(Telemetry::default());
        let Engine { pipeline, outbox, flusher, rate, .. } = Engine::assemble(&config, &telemetry, &clock)?;
        let publisher = Arc::new(Publisher::new(outbox, Arc::new(sink), rate, telemetry.clone(), clock.clone()));
        let settings = statsd::Settings::new(&config.statsd, config.namespace.as_ref());
        let input = statsd::Statsd::new(pipeline.clone(), telemetry.clone(), clock.clone(), settings);
        let statsd = statsd::Listeners::bind(&config.statsd, input).await?;
        let input =
            emf::Emf::new(pipeline.clone(), telemetry.clone(), clock.clone(), &config.emf, config.namespace.as_ref());
        let emf = emf::bind(&config.emf, input).await?;
        let otlp_input = Arc::new(otlp::Otlp::new(
            pipeline.clone(),
            telemetry.clone(),
            clock.clone(),
            &config.otlp,
            config.namespace.as_ref(),
        ));
        let otlp = match config.otlp.address() {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        let scrape = scrape::Scraper::new(
            &config.scrape,
            config.namespace.as_ref(),
            pipeline.clone(),
            telemetry.clone(),
            clock.clone(),
        );
        let http = Arc::new(HttpState {
            pipeline,
            flusher: flusher.clone(),
            telemetry,
            otlp: otlp_input,
            auth_token: config.auth_token.clone(),
            body_limits: BodyLimits { max: config.max_body_bytes, timeout: config.body_read_timeout },
            bodies: BodyBudget::new(config.max_body_bytes_in_flight),
            started: AtomicBool::new(false),
        });
        let limits = ServerLimits {
            max_connections: server::connection_limit(config.max_connections),
            max_header_bytes: config.max_header_bytes,
            timeouts: Timeouts { header: config.header_read_timeout, idle: config.idle_timeout },
        };
        let flush_interval = config.flush_interval;
        Ok(App { listener, http, limits, flusher, publisher, flush_interval, clock, statsd, emf, otlp, scrape })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Where StatsD listens, if it does: (UDP, TCP).
    pub fn statsd_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.statsd.as_ref().map_or((None, None), |s| (s.udp_addr(), s.tcp_addr()))
    }

    /// Where EMF listens, if it does: (UDP, TCP).
    pub fn emf_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.emf.as_ref().map_or((None, None), |s| (s.udp_addr(), s.tcp_addr()))
    }

    /// Where the OTLP listener listens, if it does.
    pub fn otlp_addr(&self) -> Option<SocketAddr> {
        self.otlp.as_ref().map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The pipeline every input submits to (tests use it as an input of their own).
    pub fn pipeline(&self) -> Arc<cw_core::pipeline::Pipeline> {
        self.http.pipeline.clone()
    }

    /// Serves until `shutdown` resolves, then stops ingest (503), publishes everything it
    /// holds, open windows included, and returns within `shutdown_timeout`.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> std::io::Result<ShutdownReport> {
        let App { listener, http, limits, flusher, publisher, flush_interval, clock, statsd, emf, otlp, scrape } = self;
        let listen = listener.local_addr()?;
        let stop_publisher = CancellationToken::new();
        let publishing = tokio::spawn(publisher.run(stop_publisher.clone()));

        let stop_timer = CancellationToken::new();
        let timer = tokio::spawn(flush_timer(flusher.clone(), clock, flush_interval, stop_timer.clone()));

        let stop_server = CancellationToken::new();
        let server = tokio::spawn(server::serve(
            listener,
            router(http.clone()),
            limits,
            http.telemetry.clone(),
            stop_server.clone(),
            SERVER_DRAIN,
        ));
        // The OTLP listener is served like the API (its own connection limit), stopped with it.
        let otlp_server = otlp.map(|listener| {
            tokio::spawn(server::serve(
                listener,
                otlp::http::router(http.clone()),
                limits,
                http.telemetry.clone(),
                stop_server.clone(),
                SERVER_DRAIN,
            ))
        });
        let statsd = statsd.map(statsd::Listeners::start).transpose()?;
        let emf = emf.map(emf::Listeners::start).transpose()?;
        let scrape = scrape.map(scrape::Scraper::start);
        http.started.store(true, Ordering::Release);
        tracing::info!(%listen, "cw-sidecar ready");

        shutdown.await;
        tracing::info!("shutting down: refusing new records, publishing everything buffered");
        if let Some(statsd) = statsd {
            statsd.stop().await;
        }
        if let Some(emf) = emf {
            emf.stop().await;
        }
        if let Some(scrape) = scrape {
            scrape.stop().await;
        }
        engine::close(&http.pipeline).await;
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
        stop_server.cancel();
        // The server drains for SERVER_DRAIN, then closes what is left: this is a safety net.
        match tokio::time::timeout(SERVER_DRAIN + Duration::from_secs(1), server).await {
            Ok(Ok(result)) => result?,
            _ => tracing::warn!("HTTP server did not stop in time"),
        }
        if let Some(otlp_server) = otlp_server {
            match tokio::time::timeout(SERVER_DRAIN + Duration::from_secs(1), otlp_server).await {
                Ok(Ok(result)) => result?,
                _ => tracing::warn!("OTLP server did not stop in time"),
            }
        }
        Ok(report)
    }
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
