//! Probes stay answered while a large request is parsed and aggregated: that CPU work does
//! not hold the thread that serves `/healthz`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, mid_window_ms};

/// Holds submissions on their thread until released, or until [`Hold::LIMIT`] passes.
#[derive(Default)]
struct Hold {
    entered: AtomicBool,
    released: Mutex<bool>,
    wake: Condvar,
    /// A submission gave up waiting: nothing released it in time.
    gave_up: AtomicBool,
}

impl Hold {
    const LIMIT: Duration = Duration::from_secs(10);

    /// Runs on the submitting thread.
    fn wait(&self) {
        self.entered.store(true, Ordering::SeqCst);
        let released = self.released.lock().unwrap();
        let (_released, timeout) = self.wake.wait_timeout_while(released, Self::LIMIT, |released| !*released).unwrap();
        if timeout.timed_out() {
            self.gave_up.store(true, Ordering::SeqCst);
        }
    }

    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.wake.notify_all();
    }
}

/// One worker thread, as a busy or small machine has: the request must not take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn healthz_answers_while_a_large_request_is_being_aggregated() {
    let app = TestApp::spawn(|_| {}).await;
    let hold = Arc::new(Hold::default());
    let held = hold.clone();
    app.pipeline.on_submit(move || held.wait());

    let values: Vec<f64> = (0..10_000).map(|i| 1.0 + i as f64 / 7.0).collect();
    let body = json!([{"name": "Big", "values": values, "timestamp": mid_window_ms()}]).to_string();
    assert!(body.len() > 64 * 1024, "a large body: {} bytes", body.len());
    let (http, url) = (app.http.clone(), format!("{}/v1/metrics", app.base));
    let post = tokio::spawn(async move {
        let r = http.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
        r.status().as_u16()
    });
    let start = Instant::now();
    while !hold.entered.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Hold::LIMIT, "the submission never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The submission is held on its thread now: the probe must still be served.
    let (status, text) = app.get("/healthz").await;
    hold.release();
    assert_eq!((status, text.as_str()), (200, "ok\n"));
    assert!(
        !hold.gave_up.load(Ordering::SeqCst),
        "/healthz was answered only after the held submission gave up: it ran on the thread serving probes"
    );
    assert_eq!(post.await.unwrap(), 202);
    app.shutdown().await;
}
