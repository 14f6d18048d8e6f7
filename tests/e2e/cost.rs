//! The chat-service case on LocalStack: `http_requests_total{method,path,status}` goes through
//! the sidecar with a rule that drops `method` and rolls up by (`Service`, `status`). The
//! per-path series and the rollup both reach CloudWatch, and an alarm on the rollup's 5xx
//! series fires. (LocalStack does not evaluate metric-math alarms, so the ratio alarm of the
//! Terraform module is proven by `terraform test`; here the alarm is the rollup's own.)

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use serde_json::json;

use crate::support::{Sidecar, alarm_state, cloudwatch, localstack, unique};

const RULE: &str = r#"
[[metrics]]
match = "http_requests_total"
keep_dimensions = ["path", "status"]
rollups = [["Service", "status"]]
"#;

#[tokio::test]
#[ignore = "needs LocalStack (scripts/localstack.sh start); scripts/test.sh runs it"]
async fn an_alarm_on_the_rollup_fires_while_the_per_path_series_are_published() {
    let endpoint = localstack().await;
    let run = unique();
    let namespace = format!("E2E-Chat-{run}");
    let dir = std::env::temp_dir().join(format!("cw-sidecar-e2e-cost-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("sidecar.toml");
    std::fs::write(&config, RULE).unwrap();
    let sidecar = Sidecar::start(
        &endpoint,
        &[
            "--config",
            config.to_str().unwrap(),
            "--default-dimensions",
            "Service=chat",
            "--flush-interval",
            "1s",
            "--window-grace",
            "1s",
        ],
    )
    .await;
    let cw = cloudwatch(&endpoint);
    let dim = |k: &str, v: &str| Dimension::builder().name(k).value(v).build();
    let alarm = format!("chat-5xx-{run}");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(&namespace)
        .metric_name("http_requests_total")
        .dimensions(dim("Service", "chat"))
        .dimensions(dim("status", "5xx"))
        .statistic(Statistic::Sum)
        .period(10)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    // A second of traffic at a time: 3 paths × 2 methods, one request in four a 5xx, until
    // the alarm fires.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let records: Vec<_> = (0..24)
            .map(|i| {
                let status = if i % 4 == 0 { "5xx" } else { "2xx" };
                let (method, path) = (["GET", "POST"][i % 2], ["/rooms", "/messages", "/users"][i % 3]);
                json!({"name": "http_requests_total", "value": 1, "unit": "Count", "storage_resolution": 1,
                    "dimensions": {"method": method, "path": path, "status": status}})
            })
            .collect();
        sidecar.post(json!({"namespace": namespace, "metrics": records})).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if alarm_state(&endpoint, &alarm).await.as_deref() == Some("ALARM") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the alarm on the rollup did not fire within 120 s");
    }
    // Both kinds of series exist with exactly their dimensions; none carries `method`.
    let listed = cw.list_metrics().namespace(&namespace).metric_name("http_requests_total").send().await.unwrap();
    let mut shapes: Vec<Vec<String>> = listed
        .metrics()
        .iter()
        .map(|m| {
            let mut names: Vec<String> = m.dimensions().iter().filter_map(|d| d.name().map(String::from)).collect();
            names.sort();
            names
        })
        .collect();
    shapes.sort();
    shapes.dedup();
    assert_eq!(shapes, [vec!["Service", "path", "status"], vec!["Service", "status"]], "{listed:?}");
    let per_path = listed.metrics().iter().filter(|m| m.dimensions().len() == 3).count();
    assert_eq!(per_path, 6, "3 paths × 2 statuses");
    sidecar.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
