//! One catalog file drives both sides: a copy of the demo's catalog with a metric added
//! (`CartSize`, with an alarm and a graph) and one removed (`JobFailed`, its alarm and graph
//! with it) is planned by Terraform (`terraform/tests/catalog_file`, mocked provider) and
//! enforced by a sidecar in strict mode: the added metric is in the plan and accepted, the
//! removed one is gone from the plan and refused. The unchanged catalog fails the same plan
//! checks, so they can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, now_ms};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `text` with `anchor` replaced by `with`; the anchor must be there exactly once.
fn edit(text: &str, anchor: &str, with: &str) -> String {
    assert_eq!(text.matches(anchor).count(), 1, "the demo's catalog changed: no single {anchor:?}");
    text.replacen(anchor, with, 1)
}

/// `text` without the part from `from` up to (not including) `to`.
fn cut(text: &str, from: &str, to: &str) -> String {
    let start = text.find(from).unwrap_or_else(|| panic!("the demo's catalog changed: no {from:?}"));
    let end = start + text[start..].find(to).unwrap_or_else(|| panic!("no {to:?} after {from:?}"));
    format!("{}{}", &text[..start], &text[end..])
}

/// The demo's catalog with CartSize added and JobFailed removed.
fn changed_catalog() -> String {
    let text = std::fs::read_to_string(root().join("terraform/examples/complete/metrics.yaml")).unwrap();
    let text = cut(&text, "  - name: JobFailed\n", "  - name: QueueDepth\n");
    let text = cut(&text, "  - name: checkout-job-failures\n", "\ndashboard:\n");
    let text = cut(&text, "        - title: Failed jobs\n", "        - title: Queue depth\n");
    let text = edit(
        &text,
        "\nalarms:\n",
        "  - name: CartSize\n    unit: Count\n    kind: gauge\n    description: Items in a cart at checkout.\n    dimensions: [Environment, Service]\n\nalarms:\n",
    );
    let text = edit(
        &text,
        "\ndashboard:\n",
        "  - name: checkout-cart-size\n    kind: threshold\n    metric: CartSize\n    statistic: Maximum\n    dimensions: {Environment: demo, Service: checkout}\n    threshold: 50\n    period: 60\n    topic: warning\n\ndashboard:\n",
    );
    edit(
        &text,
        "        - title: Queue depth\n",
        "        - title: Cart size\n          metrics:\n            - {metric: CartSize, statistic: Maximum, dimensions: {Environment: demo, Service: checkout}}\n        - title: Queue depth\n",
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == ".terraform" || name == ".terraform.lock.hcl" || name.contains(".tfstate") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn terraform(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform is installed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `terraform test` of tests/catalog_file on `catalog`: whether the plan checks passed.
fn plan_checks(dir: &Path, catalog: &str) -> (bool, String) {
    std::fs::write(dir.join("tests/catalog_file/metrics.yaml"), catalog).unwrap();
    terraform(dir, &["test", "-no-color", "-test-directory=tests/catalog_file"])
}

async fn sidecar_answer(catalog: &Path, name: &str) -> Value {
    let app = TestApp::spawn(|c| {
        c.default_dimensions.insert("Environment".into(), "demo".into());
        c.catalog = Some(catalog.to_path_buf());
        c.catalog_loaded = Some(cw_sidecar::catalog::read(catalog).unwrap().into());
    })
    .await;
    let record = json!({"namespace": "Demo", "metrics": [
        {"name": name, "value": 3, "unit": "Count", "timestamp": now_ms(), "dimensions": {"Service": "checkout"}}
    ]});
    let (_, answer) = app.post_json(record).await;
    app.shutdown().await;
    answer
}

#[tokio::test]
#[ignore = "needs terraform (TF_PLUGIN_DIR, or /opt/tf-plugins, as a provider mirror without registry access)"]
async fn a_metric_added_to_the_catalog_is_planned_and_accepted_and_one_removed_is_neither() {
    let dir = std::env::temp_dir().join(format!("cw-catalog-both-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root().join("terraform"), &dir);
    let mut init = vec!["init", "-backend=false", "-input=false", "-no-color"];
    let mirror = std::env::var("TF_PLUGIN_DIR")
        .ok()
        .or_else(|| Path::new("/opt/tf-plugins").is_dir().then(|| "/opt/tf-plugins".to_string()));
    let plugin_dir = mirror.map(|m| format!("-plugin-dir={m}"));
    init.extend(plugin_dir.as_deref());
    let (ok, log) = terraform(&dir, &init);
    assert!(ok, "terraform init: {log}");

    let changed = changed_catalog();
    let (ok, log) = plan_checks(&dir, &changed);
    assert!(ok, "the changed catalog's plan: {log}");
    let original = std::fs::read_to_string(root().join("terraform/examples/complete/metrics.yaml")).unwrap();
    let (ok, log) = plan_checks(&dir, &original);
    assert!(!ok && log.contains("The metric added to the catalog must have its alarm in the plan"), "{log}");
    assert!(log.contains("The metric removed from the catalog must have no alarm and no graph left"), "{log}");

    // The same file, enforced.
    let file = dir.join("tests/catalog_file/metrics.yaml");
    std::fs::write(&file, &changed).unwrap();
    let added = sidecar_answer(&file, "CartSize").await;
    assert_eq!((&added["accepted"], &added["rejected"]), (&json!(1), &json!([])), "{added}");
    let removed = sidecar_answer(&file, "JobFailed").await;
    assert_eq!(removed["accepted"], 0, "{removed}");
    let error = removed["rejected"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("metric `JobFailed` in namespace `Demo`: the catalog does not declare it"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
