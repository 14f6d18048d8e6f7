//! The app with a line input (StatsD or EMF) on 127.0.0.1:0, UDP and TCP, for the tests of
//! those inputs: a [`TestApp`] plus where the input listens and its counters.

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use cw_sidecar::config::Config;
use tokio::net::UdpSocket;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::TestApp;

pub struct LineApp {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// The input's label in `/metrics`: `statsd` or `emf`.
    input: &'static str,
    pub app: TestApp,
}

impl Deref for LineApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl LineApp {
    /// The app with `input` (`statsd` or `emf`) listening on UDP and TCP ports of its own.
    pub async fn spawn(input: &'static str, tune: impl FnOnce(&mut Config)) -> LineApp {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let app = TestApp::spawn(|c| {
            let (udp, tcp) = match input {
                "statsd" => (&mut c.statsd.udp_address, &mut c.statsd.tcp_address),
                "emf" => (&mut c.emf.udp_address, &mut c.emf.tcp_address),
                other => panic!("no line input {other}"),
            };
            (*udp, *tcp) = (Some(any), Some(any));
            tune(c);
        })
        .await;
        let (udp, tcp) = if input == "statsd" { app.statsd } else { app.emf };
        LineApp { udp: udp.unwrap(), tcp: tcp.unwrap(), input, app }
    }

    pub async fn send_udp(&self, datagram: &str) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.send_to(datagram.as_bytes(), self.udp).await.unwrap();
    }

    pub async fn metrics(&self) -> String {
        self.app.get("/metrics").await.1
    }

    /// A counter of this input from `/metrics`, e.g. `input_lines_total`, `outcome="received"`.
    pub async fn counter(&self, family: &str, label: &str) -> f64 {
        let wanted = format!("cw_sidecar_{family}{{input=\"{}\",{label}}} ", self.input);
        let text = self.metrics().await;
        text.lines().find_map(|l| l.strip_prefix(&wanted)).map_or(0.0, |v| v.parse().unwrap())
    }

    /// Waits until `n` lines (for EMF: documents received, ignored or rejected, datums
    /// accepted or dropped) have had `outcome`; UDP is processed on a thread of its own.
    pub async fn wait_lines(&self, outcome: &str, n: f64) {
        let label = format!("outcome=\"{outcome}\"");
        for _ in 0..400 {
            if self.counter("input_lines_total", &label).await >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{n} lines not {outcome} in time:\n{}", self.metrics().await);
    }

    pub async fn wait_received(&self, n: f64) {
        self.wait_lines("received", n).await;
    }

    /// `/v1/flush`, which must publish everything.
    pub async fn flush(&self) {
        let (status, counts) = self.app.flush().await;
        assert_eq!(status, 200, "{counts}");
    }

    /// Shuts down, which must publish everything, and hands back the fake to read.
    pub async fn shutdown(self) -> FakeCloudWatch {
        let fake = self.app.fake.clone();
        assert!(self.app.shutdown().await.complete());
        fake
    }
}
