//! `cw-sidecar traffic`: a load generator that behaves like a web service with a job queue,
//! publishing exactly the metric contract of `terraform/README.md` (`RequestCount`, `Http5xx`,
//! `Latency`, `JobFailed`, `QueueDepth`, dimension `Service`), with bursts of errors. Seeded,
//! bounded in time or request count; used by the demo, the end-to-end tests and benchmarks.

use std::time::{Duration, Instant};

use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Args)]
pub struct TrafficArgs {
    /// Base URL of the sidecar
    #[arg(long, default_value = "http://127.0.0.1:25889")]
    pub target: String,
    /// Namespace of the published metrics
    #[arg(long = "metrics-namespace", default_value = "Demo")]
    pub namespace: String,
    /// Service names (the `Service` dimension); repeat for several
    #[arg(long = "service", default_values = ["checkout"])]
    pub services: Vec<String>,
    /// Stop after this long
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests in all (whichever bound comes first)
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Requests per second, per service
    #[arg(long, default_value_t = 50.0)]
    pub rps: f64,
    /// Share of requests answered 5xx outside bursts
    #[arg(long, default_value_t = 0.002)]
    pub error_rate: f64,
    /// Share of requests answered 5xx during a burst
    #[arg(long, default_value_t = 0.25)]
    pub burst_error_rate: f64,
    /// When the first burst of errors starts
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub burst_at: Duration,
    /// Length of each burst (0s: no bursts)
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub burst_for: Duration,
    /// Time from the start of one burst to the next
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub burst_every: Duration,
    /// Storage resolution of the records: 1 (high resolution) or 60
    #[arg(long, default_value_t = 60)]
    pub storage_resolution: u64,
    /// Seed of the random generator (same seed, same traffic)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bearer token, if the sidecar requires one
    #[arg(long, env = "CW_SIDECAR_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

/// Totals of what was generated, printed as JSON at the end.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub http5xx: u64,
    pub jobs: u64,
    pub jobs_failed: u64,
    pub posts: u64,
    pub records_accepted: u64,
    pub records_rejected: u64,
    pub posts_refused: u64,
}

/// Tick length: one envelope per service and tick.
pub const TICK: Duration = Duration::from_millis(100);

/// The simulated services; pure, so it is tested without sockets.
pub struct Traffic {
    args: TrafficArgs,
    rng: fastrand::Rng,
    queue_depth: Vec<f64>,
    carry: Vec<f64>,
    pub summary: Summary,
}

impl Traffic {
    pub fn new(args: TrafficArgs) -> Traffic {
        let n = args.services.len();
        Traffic {
            rng: fastrand::Rng::with_seed(args.seed),
            queue_depth: vec![50.0; n],
            carry: vec![0.0; n],
            args,
            summary: Summary::default(),
        }
    }

    pub fn in_burst(&self, elapsed: Duration) -> bool {
        let a = &self.args;
        if a.burst_for.is_zero() || elapsed < a.burst_at {
            return false;
        }
        let since = elapsed - a.burst_at;
        let every = a.burst_every.max(a.burst_for).max(TICK);
        Duration::from_nanos((since.as_nanos() % every.as_nanos()) as u64) < a.burst_for
    }

    /// The envelopes one tick at `elapsed` sends, one per service, and its request count.
    pub fn tick(&mut self, elapsed: Duration, budget: u64) -> (Vec<Value>, u64) {
        let burst = self.in_burst(elapsed);
        let error_rate = if burst { self.args.burst_error_rate } else { self.args.error_rate };
        let job_fail_rate = if burst { 0.2 } else { 0.01 };
        let resolution = self.args.storage_resolution;
        let timestamp = cw_sidecar::clock::system_now_ms();
        let mut sent = 0;
        let mut envelopes = Vec::new();
        for i in 0..self.args.services.len() {
            // Whole requests per tick, carrying the fraction over so the rate comes out right.
            self.carry[i] += self.args.rps * TICK.as_secs_f64();
            let n = (self.carry[i].floor() as u64).min(budget - sent);
            self.carry[i] -= n as f64;
            sent += n;
            let mut latencies = Vec::with_capacity(n as usize);
            let mut errors = 0;
            for _ in 0..n {
                let failed = self.rng.f64() < error_rate;
                errors += failed as u64;
                latencies.push(self.latency_ms(failed));
            }
            let jobs = n / 2 + (self.rng.f64() < 0.5) as u64;
            let failed_jobs = (0..jobs).filter(|_| self.rng.f64() < job_fail_rate).count() as u64;
            // The queue grows while jobs fail and drains otherwise.
            let drift = if burst { 40.0 } else { -15.0 };
            self.queue_depth[i] = (self.queue_depth[i] + drift + self.rng.f64() * 20.0 - 10.0).max(0.0);
            self.summary.requests += n;
            self.summary.http5xx += errors;
            self.summary.jobs += jobs;
            self.summary.jobs_failed += failed_jobs;

            let mut metrics = Vec::new();
            let counted = |name: &str, zeros: u64, ones: u64| {
                let pairs: Vec<(f64, u64)> = [(0.0, zeros), (1.0, ones)].into_iter().filter(|p| p.1 > 0).collect();
                (!pairs.is_empty()).then(|| {
                    json!({"name": name, "unit": "Count", "storage_resolution": resolution, "timestamp": timestamp,
                           "values": pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                           "counts": pairs.iter().map(|p| p.1).collect::<Vec<_>>()})
                })
            };
            metrics.extend(counted("RequestCount", 0, n));
            metrics.extend(counted("Http5xx", n - errors, errors));
            metrics.extend(counted("JobFailed", jobs - failed_jobs, failed_jobs));
            if n > 0 {
                metrics.push(json!({"name": "Latency", "unit": "Milliseconds", "storage_resolution": resolution,
                                    "timestamp": timestamp, "values": latencies}));
            }
            metrics.push(json!({"name": "QueueDepth", "unit": "Count", "storage_resolution": resolution,
                                "timestamp": timestamp, "value": self.queue_depth[i].round()}));
            envelopes.push(json!({
                "namespace": self.args.namespace,
                "dimensions": {"Service": self.args.services[i]},
                "metrics": metrics,
            }));
        }
        (envelopes, sent)
    }

    /// A log-normal latency around 40 ms, with a long tail; failures are slower.
    fn latency_ms(&mut self, failed: bool) -> f64 {
        let normal = (-2.0 * (1.0 - self.rng.f64()).ln()).sqrt() * (std::f64::consts::TAU * self.rng.f64()).cos();
        let mut ms = 40.0 * (0.5 * normal).exp();
        if self.rng.f64() < 0.01 {
            ms *= 10.0;
        }
        if failed {
            ms *= 3.0;
        }
        (ms * 10.0).round() / 10.0
    }
}

/// Runs the generator against a sidecar until its time or request bound.
pub async fn run(args: TrafficArgs) -> anyhow::Result<Summary> {
    let url: hyper::Uri = format!("{}/v1/metrics", args.target.trim_end_matches('/')).parse()?;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let auth = args.auth_token.clone();
    let duration = args.duration;
    let max_requests = args.max_requests.unwrap_or(u64::MAX);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut traffic = Traffic::new(args);
    let started = Instant::now();
    let mut ticks = tokio::time::interval(TICK);
    let mut last_progress = Instant::now();
    while started.elapsed() < duration && traffic.summary.requests < max_requests {
        ticks.tick().await;
        let elapsed = started.elapsed();
        let (envelopes, _) = traffic.tick(elapsed, max_requests - traffic.summary.requests);
        for envelope in envelopes {
            post(&client, &url, auth.as_deref(), envelope.to_string(), &mut traffic.summary).await?;
        }
        let every = if interactive { Duration::from_millis(500) } else { Duration::from_secs(5) };
        if last_progress.elapsed() >= every {
            last_progress = Instant::now();
            progress(&traffic, elapsed, duration, interactive);
        }
    }
    progress(&traffic, started.elapsed(), duration, interactive);
    eprintln!();
    Ok(traffic.summary)
}

fn progress(traffic: &Traffic, elapsed: Duration, duration: Duration, interactive: bool) {
    let s = &traffic.summary;
    let rate = if s.requests > 0 { 100.0 * s.http5xx as f64 / s.requests as f64 } else { 0.0 };
    let line = format!(
        "traffic {:>5.1}s/{:.0}s  requests {}  5xx {:.1}%{}  jobs {} ({} failed)  records accepted {} rejected {}  refused posts {}",
        elapsed.as_secs_f64(),
        duration.as_secs_f64(),
        s.requests,
        rate,
        if traffic.in_burst(elapsed) { " (error burst)" } else { "" },
        s.jobs,
        s.jobs_failed,
        s.records_accepted,
        s.records_rejected,
        s.posts_refused,
    );
    if interactive { eprint!("\r{line}\x1b[K") } else { eprintln!("{line}") }
}

/// Posts one envelope; a 503 is retried after its Retry-After (a few times), as a
/// well-behaved client would.
async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &hyper::Uri,
    auth: Option<&str>,
    body: String,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    for _ in 0..5 {
        let mut req = hyper::Request::post(url.clone()).header("content-type", "application/json");
        if let Some(token) = auth {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let response = client.request(req.body(Full::new(Bytes::from(body.clone())))?).await?;
        let status = response.status();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
        let answer: Value =
            serde_json::from_slice(&response.into_body().collect().await?.to_bytes()).unwrap_or_default();
        summary.posts += 1;
        if status.as_u16() == 503 {
            summary.posts_refused += 1;
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).min(5))).await;
            continue;
        }
        summary.records_accepted += answer["accepted"].as_u64().unwrap_or(0);
        summary.records_rejected += answer["rejected"].as_array().map_or(0, |r| r.len() as u64);
        if !status.is_success() {
            anyhow::bail!("the sidecar answered {status}: {answer}");
        }
        return Ok(());
    }
    anyhow::bail!("the sidecar kept answering 503 (buffer full or shutting down)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TrafficArgs,
    }

    fn args(extra: &[&str]) -> TrafficArgs {
        let mut argv = vec!["traffic"];
        argv.extend_from_slice(extra);
        Wrapper::parse_from(argv).args
    }

    fn run_for(traffic: &mut Traffic, from: Duration, to: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            out.extend(traffic.tick(t, u64::MAX).0);
            t += TICK;
        }
        out
    }

    #[test]
    fn the_same_seed_gives_the_same_traffic() {
        let strip = |v: Vec<Value>| -> Vec<Value> {
            v.into_iter()
                .map(|mut e| {
                    e["metrics"].as_array_mut().unwrap().iter_mut().for_each(|m| m["timestamp"] = json!(0));
                    e
                })
                .collect()
        };
        let a = strip(run_for(&mut Traffic::new(args(&["--seed", "7"])), Duration::ZERO, Duration::from_secs(3)));
        let b = strip(run_for(&mut Traffic::new(args(&["--seed", "7"])), Duration::ZERO, Duration::from_secs(3)));
        assert_eq!(a, b);
    }

    #[test]
    fn bursts_raise_the_error_rate_and_the_rate_of_requests_holds() {
        let mut t = Traffic::new(args(&["--rps", "200", "--error-rate", "0.01", "--burst-error-rate", "0.3"]));
        run_for(&mut t, Duration::ZERO, Duration::from_secs(20));
        assert_eq!(t.summary.requests, 4000);
        let calm = t.summary.http5xx as f64 / t.summary.requests as f64;
        assert!(calm < 0.02, "{calm}");
        let before = t.summary.clone();
        run_for(&mut t, Duration::from_secs(20), Duration::from_secs(30));
        let burst = (t.summary.http5xx - before.http5xx) as f64 / (t.summary.requests - before.requests) as f64;
        assert!((0.25..0.35).contains(&burst), "{burst}");
    }

    #[test]
    fn envelopes_follow_the_metric_contract() {
        let mut t = Traffic::new(args(&["--service", "a", "--service", "b", "--storage-resolution", "1"]));
        let envelopes = run_for(&mut t, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(envelopes.len(), 20);
        let mut names: Vec<&str> = envelopes
            .iter()
            .flat_map(|e| e["metrics"].as_array().unwrap())
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names, ["Http5xx", "JobFailed", "Latency", "QueueDepth", "RequestCount"]);
        for e in &envelopes {
            assert_eq!(e["dimensions"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Service"]);
            for m in e["metrics"].as_array().unwrap() {
                assert_eq!(m["storage_resolution"], 1);
                let unit = if m["name"] == "Latency" { "Milliseconds" } else { "Count" };
                assert_eq!(m["unit"], unit);
            }
        }
    }

    #[test]
    fn a_request_bound_is_never_exceeded() {
        let mut t = Traffic::new(args(&["--rps", "1000"]));
        let (_, sent) = t.tick(Duration::ZERO, 7);
        assert_eq!((sent, t.summary.requests), (7, 7));
    }
}
