//! Load generator for `scripts/bench.sh`. Targets a loopback address only and stops by itself.
//!
//!   bench_load rate <url> <body-file> <connections> <requests/s> <seconds>
//!     Open loop: `connections` keep-alive HTTP/1.1 connections share a fixed request rate
//!     (connection c sends requests c, c + n, c + 2n, ... of one global schedule). Each
//!     request's latency runs from its *scheduled* time to the end of its answer, so a slow
//!     answer that delays the next requests counts against them too (no coordinated
//!     omission). Prints one line:
//!     `count N errors E non2xx X rate R p50_us A p99_us B max_us C`.
//!
//!   bench_load fill <url> <first-series> <series> <values> <connections>
//!     Closed loop, as fast as the server answers: `series` distinct series (metric `Fill`,
//!     dimension `Id` = s<first-series + i>), each given `values` distinct values, in
//!     1000-record bodies, all with one timestamp (the start of the current minute) so that
//!     every series has one window. Prints `records N requests R errors E non2xx X seconds S`.
//!
//!   bench_load proto <otlp-http|otlp-grpc|remote-write> <url> <connections> <requests/s> <seconds>
//!     Protobuf bodies of 100 data points ([`proto`]) to the path of their kind on the
//!     server of `url`: OTLP over HTTP/1.1 or gRPC, or remote-write; open loop at the rate
//!     as `rate` does, or closed loop (as fast as answered) when it is 0 ([`load`]). Prints
//!     `count N errors E non2xx X rate R p50_us A p99_us B max_us C points P cpu_pct U`.
//!
//!   bench_load proto-count <kind> <url> <requests>
//!     The same, `requests` of them one after another on one connection (for callgrind).
//!
//!   bench_load startup <runs> <port> <cpu> <program> [args...]
//!     Starts `program args... --listen 127.0.0.1:<port + run>` `runs` times, pinned to core
//!     `cpu`; each time measures from the spawn to the first `GET /readyz` answered 200
//!     (polled in a tight loop), then stops it with SIGINT. Prints
//!     `runs N median_ms M min_ms A max_ms B`.

mod load;
mod proto;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_load rate <url> <body-file> <connections> <rate> <seconds>\n\
                 \x20      bench_load fill <url> <first-series> <series> <values> <connections>\n\
                 \x20      bench_load proto <kind> <url> <connections> <rate> <seconds>\n\
                 \x20      bench_load proto-count <kind> <url> <requests>\n\
                 \x20      bench_load startup <runs> <port> <cpu> <program> [args...]";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let kind = args.get(1).and_then(|k| proto::Kind::parse(k));
    match (args.first().map(String::as_str), kind) {
        (Some("rate"), _) if args.len() == 6 => {
            let body = std::fs::read(&args[2]).expect("body file");
            rt.block_on(rate(uri(&args[1]), Bytes::from(body), num(&args[3]), num(&args[4]), num(&args[5])));
        }
        (Some("fill"), _) if args.len() == 6 => {
            rt.block_on(fill(uri(&args[1]), num(&args[2]), num(&args[3]), num(&args[4]), num(&args[5])));
        }
        (Some("proto"), Some(kind)) if args.len() == 6 => {
            rt.block_on(load::run(kind, uri(&args[2]), num(&args[3]), num(&args[4]), num(&args[5]), u64::MAX));
        }
        (Some("proto-count"), Some(kind)) if args.len() == 4 => {
            rt.block_on(load::run(kind, uri(&args[2]), 1, 0, 600, num(&args[3])));
        }
        (Some("startup"), _) if args.len() >= 5 => {
            startup(num(&args[1]), num(&args[2]) as u16, num(&args[3]) as usize, &args[4], &args[5..])
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

fn uri(s: &str) -> Uri {
    let uri: Uri = s.parse().expect("url");
    let host = uri.host().expect("url has a host");
    assert!(host == "127.0.0.1" || host == "localhost", "bench_load only targets the loopback address");
    uri
}

fn addr(uri: &Uri) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], uri.port_u16().unwrap_or(80)))
}

async fn connect(uri: &Uri) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr(uri)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One POST on `sender`: Ok(status) once the whole answer is read.
async fn post(sender: &mut SendRequest<Full<Bytes>>, uri: &Uri, body: &Bytes) -> Result<u16, ()> {
    sender.ready().await.map_err(|_| ())?;
    let request = Request::post(uri.clone())
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .expect("request");
    let response = sender.send_request(request).await.map_err(|_| ())?;
    let status = response.status().as_u16();
    response.into_body().collect().await.map_err(|_| ())?;
    Ok(status)
}

/// What one connection's (or sender's) requests came to.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    non2xx: u64,
}

impl Tally {
    /// The tallies of every task, together; the latencies sorted.
    async fn join(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
        let mut all = Tally::default();
        for task in tasks {
            let t = task.await.expect("load task");
            all.latencies_us.extend(t.latencies_us);
            all.errors += t.errors;
            all.non2xx += t.non2xx;
        }
        all.latencies_us.sort_unstable();
        all
    }

    /// `count N errors E non2xx X rate R p50_us A p99_us B max_us C` over `elapsed` seconds
    /// (the latencies sorted, as [`Tally::join`] leaves them).
    fn summary(&self, elapsed: f64) -> String {
        let l = &self.latencies_us;
        let pct = |p: f64| if l.is_empty() { 0 } else { l[((l.len() - 1) as f64 * p).round() as usize] };
        format!(
            "count {} errors {} non2xx {} rate {:.0} p50_us {} p99_us {} max_us {}",
            l.len(),
            self.errors,
            self.non2xx,
            l.len() as f64 / elapsed,
            pct(0.50),
            pct(0.99),
            l.last().copied().unwrap_or(0)
        )
    }
}

/// Waits until `at`: a timer for the bulk of the wait (tokio's rounds up to the next
/// millisecond and may wake a little later still), then yields to the other connections
/// until the instant itself.
async fn wait_until(at: Instant) {
    const MARGIN: Duration = Duration::from_millis(3);
    if at > Instant::now() + MARGIN + MARGIN {
        tokio::time::sleep_until((at - MARGIN).into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

async fn rate(uri: Uri, body: Bytes, connections: u64, rate: u64, seconds: u64) {
    assert!(connections > 0 && rate > 0 && (1..=600).contains(&seconds));
    let total = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect(&uri).await.expect("connect"));
    }
    let (uri, body) = (Arc::new(uri), Arc::new(body));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for (c, mut sender) in senders.into_iter().enumerate() {
        let (uri, body) = (uri.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut i = c as u64;
            while i < total {
                let scheduled = start + period.mul_f64(i as f64);
                wait_until(scheduled).await;
                match post(&mut sender, &uri, &body).await {
                    Ok(status) => {
                        let us = scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        tally.latencies_us.push(us);
                        if !(200..300).contains(&status) {
                            tally.non2xx += 1;
                        }
                    }
                    Err(()) => {
                        tally.errors += 1;
                        match connect(&uri).await {
                            Ok(s) => sender = s,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
                i += connections;
            }
            tally
        }));
    }
    let all = Tally::join(tasks).await;
    println!("{}", all.summary(start.elapsed().as_secs_f64()));
}

/// 1000-record bodies: round r gives every series its value r + 1.5, series by series, so
/// that each body touches 1000 different series (as many spread-out clients would).
fn fill_bodies(first: u64, series: u64, values: u64, ts_ms: u64) -> impl Iterator<Item = (Bytes, u64)> {
    use std::fmt::Write as _;
    let per_round = series.div_ceil(1000);
    (0..values * per_round).map(move |n| {
        let (round, chunk) = (n / per_round, n % per_round);
        let (lo, hi) = (chunk * 1000, ((chunk + 1) * 1000).min(series));
        let mut s = String::with_capacity(80 * 1000);
        s.push('[');
        for i in lo..hi {
            if i > lo {
                s.push(',');
            }
            let _ = write!(
                s,
                r#"{{"name":"Fill","value":{}.5,"timestamp":{ts_ms},"dimensions":{{"Id":"s{}"}}}}"#,
                round + 1,
                first + i
            );
        }
        s.push(']');
        (Bytes::from(s), hi - lo)
    })
}

async fn fill(uri: Uri, first: u64, series: u64, values: u64, connections: u64) {
    assert!(series > 0 && values > 0 && connections > 0);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
    let ts_ms = now_ms - now_ms % 60_000;
    let bodies = Arc::new(std::sync::Mutex::new(fill_bodies(first, series, values, ts_ms)));
    let uri = Arc::new(uri);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (uri, bodies) = (uri.clone(), bodies.clone());
        let mut sender = connect(&uri).await.expect("connect");
        tasks.push(tokio::spawn(async move {
            let (mut records, mut requests, mut errors, mut non2xx) = (0u64, 0u64, 0u64, 0u64);
            loop {
                let Some((body, n)) = bodies.lock().expect("bodies").next() else { break };
                match post(&mut sender, &uri, &body).await {
                    Ok(status) if (200..300).contains(&status) => records += n,
                    Ok(_) => non2xx += 1,
                    Err(()) => {
                        errors += 1;
                        sender = connect(&uri).await.expect("reconnect");
                    }
                }
                requests += 1;
            }
            (records, requests, errors, non2xx)
        }));
    }
    let mut sum = (0, 0, 0, 0);
    for task in tasks {
        let t = task.await.expect("fill task");
        sum = (sum.0 + t.0, sum.1 + t.1, sum.2 + t.2, sum.3 + t.3);
    }
    println!(
        "records {} requests {} errors {} non2xx {} seconds {:.3}",
        sum.0,
        sum.1,
        sum.2,
        sum.3,
        start.elapsed().as_secs_f64()
    );
}

/// `GET /readyz` on a fresh connection: whether it answered 200.
fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))) else { return false };
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn startup(runs: u64, port: u16, cpu: usize, program: &str, args: &[String]) {
    assert!((1..=50).contains(&runs));
    // The child's affinity, set between fork and exec (no taskset in the measured time).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let mut ms = Vec::new();
    for run in 0..runs {
        let port = port + run as u16;
        let start = Instant::now();
        let mut command = Command::new(program);
        command
            .args(args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: sched_setaffinity is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(move || {
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = command.spawn().expect("spawn");
        let deadline = start + Duration::from_secs(10);
        while !ready(port) {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{program} was not ready within 10 s");
            }
            std::hint::spin_loop();
        }
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
        // SIGINT, as a container runtime would stop it; the child is ours, by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let _ = child.wait();
    }
    ms.sort_by(f64::total_cmp);
    println!("runs {} median_ms {:.2} min_ms {:.2} max_ms {:.2}", ms.len(), ms[ms.len() / 2], ms[0], ms[ms.len() - 1]);
}
