//! Issue 25, findings 6 and 11 on the scrape input: a password in a target's URL leaked into
//! the log, `/metrics` and the self metrics; text after OpenMetrics `# EOF` was skipped and the
//! scrape counted a success; duplicate series were silently reduced to one.

use std::sync::atomic::Ordering;
use std::time::Duration;

use cw_sidecar::config::{BasicAuth, Config, TargetConfig};

use crate::helpers::{TestApp, sidecar_command, until};
use crate::scrape::{FakeTarget, minute_clock, scrapes};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

#[test]
fn a_password_in_a_target_url_is_refused_naming_the_key_and_the_files_to_use() {
    for (var, value) in [
        ("CW_SIDECAR_SCRAPE__TARGETS", "http://user:secret@127.0.0.1:9100/metrics"),
        ("CW_SIDECAR_SCRAPE__TARGETS", "http://127.0.0.1:1/m,http://user:secret@127.0.0.1:9100/metrics"),
    ] {
        let out = sidecar_command().args(["--print-config"]).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{value}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("CW_SIDECAR_SCRAPE__TARGETS") || err.contains("scrape.targets"), "{err}");
        assert!(err.contains("password_file") && err.contains("bearer_token_file"), "{err}");
        assert!(!err.contains("secret"), "the password itself is never shown: {err}");
        assert!(err.contains("user:***@"), "{err}");
    }
    // In the file, as a table.
    let dir = std::env::temp_dir().join(format!("cw-sidecar-userinfo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sidecar.toml");
    std::fs::write(&file, "[[scrape.targets]]\nurl = \"http://user:secret@127.0.0.1:9100/metrics\"\n").unwrap();
    let out = sidecar_command().args(["--config", file.to_str().unwrap(), "--print-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("password_file") && !err.contains("secret"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn basic_auth_and_bearer_tokens_come_from_files_read_at_each_scrape() {
    let answer = || -> crate::scrape::Answer {
        Box::new(|n| (vec![("content-type", OPENMETRICS.into())], format!("up_now {n}\n# EOF\n").into_bytes()))
    };
    let (basic, bearer) =
        (FakeTarget::start(Duration::ZERO, answer()).await, FakeTarget::start(Duration::ZERO, answer()).await);
    let dir = std::env::temp_dir().join(format!("cw-sidecar-credentials-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (password, token) = (dir.join("password"), dir.join("token"));
    std::fs::write(&password, "s3cret\n").unwrap();
    std::fs::write(&token, "  tok-1 \n").unwrap();
    let (basic_url, bearer_url) = (basic.url(), bearer.url());
    let (clock, shared) = minute_clock();
    let (p, t) = (password.clone(), token.clone());
    let app = TestApp::spawn_with_clock(
        move |c: &mut Config| {
            c.scrape.targets = vec![
                TargetConfig {
                    basic_auth: Some(BasicAuth { username: "scraper".into(), password_file: p }),
                    ..TargetConfig::new(basic_url.clone())
                },
                TargetConfig { bearer_token_file: Some(t), ..TargetConfig::new(bearer_url.clone()) },
            ];
        },
        shared,
    )
    .await;
    until("both scraped", async || basic.hits.load(Ordering::SeqCst) == 1 && bearer.hits.load(Ordering::SeqCst) == 1)
        .await;
    let header = |t: &FakeTarget, i: usize| {
        let heads = t.heads.lock().unwrap();
        heads[i].lines().find_map(|l| l.strip_prefix("authorization: ").map(str::to_string)).unwrap_or_default()
    };
    // base64("scraper:s3cret")
    assert_eq!(header(&basic, 0), "Basic c2NyYXBlcjpzM2NyZXQ=");
    assert_eq!(header(&bearer, 0), "Bearer tok-1");
    // A rotated token is read at the next scrape; a missing file fails the scrape, counted.
    std::fs::write(&token, "tok-2").unwrap();
    std::fs::remove_file(&password).unwrap();
    clock.advance(Duration::from_secs(15));
    until("the bearer target again", async || bearer.hits.load(Ordering::SeqCst) == 2).await;
    assert_eq!(header(&bearer, 1), "Bearer tok-2");
    let url = basic.url();
    until("a credentials failure", async || scrapes(&app, &url, "credentials").await == 1.0).await;
    assert_eq!(basic.hits.load(Ordering::SeqCst), 1, "no request without its credentials");
    let text = app.get("/metrics").await.1;
    assert!(!text.contains("s3cret") && !text.contains("tok-"), "no secret in /metrics");
    assert!(app.shutdown().await.complete());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn text_after_eof_fails_the_scrape_and_duplicates_keep_the_first_sample() {
    let after_eof = FakeTarget::start(
        Duration::ZERO,
        Box::new(|_| (vec![("content-type", OPENMETRICS.into())], b"a_gauge 1\n# EOF\nb_gauge 2\n".to_vec())),
    )
    .await;
    let duplicates = FakeTarget::start(
        Duration::ZERO,
        Box::new(|_| (vec![], b"# TYPE depth gauge\ndepth{q=\"a\"} 1\ndepth{q=\"a\"} 2\n".to_vec())),
    )
    .await;
    let (eof_url, dup_url) = (after_eof.url(), duplicates.url());
    let (_clock, shared) = minute_clock();
    let urls = [eof_url.clone(), dup_url.clone()];
    let app = TestApp::spawn_with_clock(
        move |c: &mut Config| c.scrape.targets = urls.iter().map(|u| TargetConfig::new(u.clone())).collect(),
        shared,
    )
    .await;
    until("both scraped", async || {
        scrapes(&app, &eof_url, "malformed").await == 1.0 && scrapes(&app, &dup_url, "success").await == 1.0
    })
    .await;
    assert_eq!(scrapes(&app, &eof_url, "success").await, 0.0, "text after # EOF is no success");
    let labels = format!("target=\"{dup_url}\",reason=\"duplicate\"");
    assert_eq!(app.metric("cw_sidecar_scrape_series_refused_total", &labels).await, 1.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let datums = fake.datums("Test");
    assert!(datums.iter().all(|d| d.name != "a_gauge" && d.name != "b_gauge"), "nothing of the invalid answer");
    let depth: Vec<_> = datums.iter().filter(|d| d.name == "depth").collect();
    assert_eq!(depth.len(), 1);
    assert_eq!(depth[0].values, vec![1.0], "the first sample is kept, as Prometheus does");
}
