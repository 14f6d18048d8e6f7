//! The metric catalog as a service meets it: the demo's own catalog
//! (`terraform/examples/complete/metrics.yaml`), strict through the app and lenient through
//! the binary's flags; what is published follows its dimension sets, what is not declared is
//! rejected (or let through) and counted by reason; a catalog with an error stops the start,
//! naming the file and the line.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Sidecar, TestApp, metric_in, now_ms, sidecar_command, until};

fn catalog_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("terraform/examples/complete/metrics.yaml")
}

fn records() -> Value {
    let at = now_ms();
    json!({"namespace": "Demo", "metrics": [
        {"name": "Latency", "value": 12, "unit": "Milliseconds", "timestamp": at, "dimensions": {"Service": "checkout"}},
        {"name": "Latancy", "value": 12, "unit": "Milliseconds", "timestamp": at, "dimensions": {"Service": "checkout"}},
        {"name": "RequestCount", "value": 1, "unit": "Count", "timestamp": at, "dimensions": {"Service": "checkout", "Route": "/pay"}},
        {"name": "RequestCount", "value": 1, "unit": "Count", "timestamp": at, "dimensions": {"Service": "checkout"}},
    ]})
}

#[tokio::test]
async fn strict_rejects_what_the_catalog_does_not_declare_and_publishes_its_dimension_sets() {
    let app = TestApp::spawn(|c| {
        c.default_dimensions.insert("Environment".into(), "demo".into());
        c.catalog = Some(catalog_path());
        c.catalog_loaded = Some(cw_sidecar::catalog::read(&catalog_path()).unwrap().into());
    })
    .await;
    let (status, answer) = app.post_json(records()).await;
    assert_eq!((status, &answer["accepted"]), (202, &json!(2)), "{answer}");
    assert_eq!(
        answer["rejected"],
        json!([
            {"index": 1, "error": "metric `Latancy` in namespace `Demo`: the catalog does not declare it; the closest entry is `Latency`"},
            {"index": 2, "error": "metric `RequestCount` in namespace `Demo`: the catalog does not declare dimension `Route` for it; the closest entry is `Service`"},
        ])
    );
    let strict = |reason: &str| format!("reason=\"{reason}\",mode=\"strict\"");
    assert_eq!(app.metric("cw_sidecar_catalog_undeclared_records_total", &strict("metric")).await, 1.0);
    assert_eq!(app.metric("cw_sidecar_catalog_undeclared_records_total", &strict("dimension")).await, 1.0);
    assert_eq!(app.metric("cw_sidecar_catalog_undeclared_records_total", &strict("unit")).await, 0.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"catalog\"").await, 2.0);
    app.flush().await;
    let mut published: Vec<(String, Vec<String>)> = app
        .fake
        .datums("Demo")
        .iter()
        .map(|d| (d.name.clone(), d.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect()))
        .collect();
    published.sort();
    let dims = vec!["Environment=demo".to_string(), "Service=checkout".to_string()];
    assert_eq!(published, [("Latency".to_string(), dims.clone()), ("RequestCount".to_string(), dims)]);
    app.shutdown().await;
}

#[tokio::test]
async fn lenient_publishes_what_is_undeclared_counts_it_and_logs_it_once() {
    let fake = FakeCloudWatch::start().await;
    let catalog = catalog_path();
    let args = ["--catalog", catalog.to_str().unwrap(), "--catalog-mode", "lenient", "--flush-interval", "1s"];
    let sidecar = Sidecar::start(&fake, &args).await;
    for _ in 0..2 {
        let answer: Value = sidecar.post_json(&records()).await.unwrap().json().await.unwrap();
        assert_eq!(answer["accepted"], 4, "{answer}");
    }
    let text = sidecar.metrics().await;
    let lenient = |reason: &str| format!("reason=\"{reason}\",mode=\"lenient\"");
    assert_eq!(metric_in(&text, "cw_sidecar_catalog_undeclared_records_total", &lenient("metric")), 2.0);
    assert_eq!(metric_in(&text, "cw_sidecar_catalog_undeclared_records_total", &lenient("dimension")), 2.0);
    sidecar.flush().await;
    until("the undeclared metric published", async || fake.datums("Demo").iter().any(|d| d.name == "Latancy")).await;
    let logged = sidecar.log().iter().filter(|l| l.contains("catalog") && l.contains("Latancy")).count();
    assert_eq!(logged, 1, "{:?}", sidecar.log());
    sidecar.kill().await;
}

#[test]
fn a_catalog_with_an_error_stops_the_start_naming_file_and_line() {
    let dir = std::env::temp_dir().join(format!("cw-catalog-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("metrics.yaml");
    let text = std::fs::read_to_string(catalog_path()).unwrap().replace("metric: Latency\n", "metric: Latncy\n");
    std::fs::write(&bad, text).unwrap();
    let out = sidecar_command().args(["--dry-run", "--catalog"]).arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:74: alarms[2]: metric `Latncy`", bad.display())), "{stderr}");
    assert!(stderr.contains("the closest entry is `Latency`"), "{stderr}");
    let out = sidecar_command().args(["catalog", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(&format!("{}:74: ", bad.display())));
    let out = sidecar_command().args(["catalog", "check"]).arg(catalog_path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: 5 metrics, 4 alarms, 5 widgets"));
    // One source of rules: a catalog beside [[metrics]] rules is refused.
    let config = dir.join("sidecar.toml");
    std::fs::write(&config, "[[metrics]]\nmatch = \"*\"\ndrop_dimensions = [\"Host\"]\n").unwrap();
    let out = sidecar_command()
        .args(["--dry-run", "--config"])
        .arg(&config)
        .arg("--catalog")
        .arg(catalog_path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("move the [[metrics]] rules into it"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn suggest_prints_a_valid_catalog_of_the_series_a_sidecar_has_seen() {
    let fake = FakeCloudWatch::start().await;
    let sidecar = Sidecar::start(&fake, &["--default-dimensions", "Environment=demo"]).await;
    let at = now_ms();
    let records = json!({"namespace": "Shop", "metrics": [
        {"name": "Latency", "value": 12, "unit": "Milliseconds", "timestamp": at, "dimensions": {"Service": "checkout"}},
        {"name": "Latency", "value": 12, "unit": "Milliseconds", "timestamp": at, "dimensions": {"Service": "cart", "Route": "/add"}},
        {"name": "Orders", "value": 1, "unit": "Count", "timestamp": at, "dimensions": {"Service": "checkout"}},
    ]});
    let answer: Value = sidecar.post_json(&records).await.unwrap().json().await.unwrap();
    assert_eq!(answer["accepted"], 3, "{answer}");
    let out = tokio::process::Command::from(sidecar_command())
        .args(["catalog", "suggest", "--url", &sidecar.base])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let catalog = cw_core::catalog::parse(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
    assert_eq!(catalog.namespaces.iter().map(|n| n.value.as_str()).collect::<Vec<_>>(), ["Shop"]);
    let latency = catalog.metric("Shop", "Latency").expect("Latency suggested");
    let sets: Vec<Vec<String>> = latency.dimension_sets.iter().flatten().map(|s| s.value.clone()).collect();
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(sets, [set(&["Environment", "Route", "Service"]), set(&["Environment", "Service"])]);
    let dims: Vec<&str> = latency.dimensions.iter().map(|d| d.value.as_str()).collect();
    assert_eq!(dims, ["Environment", "Route", "Service"]);
    assert!(catalog.metric("Shop", "Orders").is_some());
    sidecar.kill().await;
}
