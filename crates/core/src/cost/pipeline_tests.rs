//! The rules and budget stages in the pipeline, as every input meets them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::clock::{BoxSleep, Clock};
use crate::cost::budget::{BudgetSettings, Overflow};
use crate::cost::rules::{MetricRule, MetricRules, RuleSpec};
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::pipeline::aggregate::decode_series_key;
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::{Input, Pipeline, Settings, Uncounted};
use crate::reasons::RejectReason;

const T0: i64 = 1_800_000_000_000;

struct Manual(AtomicI64);
impl Clock for Manual {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
    fn elapsed(&self) -> Duration {
        Duration::ZERO
    }
    fn sleep_until(&self, _: Duration) -> BoxSleep {
        Box::pin(std::future::pending())
    }
}

fn record(name: &'static str, value: f64, at: i64, dims: &[(&'static str, String)]) -> Candidate<'static> {
    Candidate {
        name: Some(Cow::Borrowed(name)),
        unit: Some(Cow::Borrowed("Milliseconds")),
        dimensions: dims.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Owned(v.clone()))).collect(),
        timestamp: Some(GivenTime::EpochMillis(at)),
        values: GivenValues { value: Some(value), ..GivenValues::default() },
        ..Candidate::default()
    }
}

fn pipeline(rules: Vec<RuleSpec>, budget: Option<BudgetSettings>, clock: Arc<Manual>) -> Pipeline {
    let mut settings = Settings::plain(Some("App"), 1_000_000);
    let rules = rules.into_iter().enumerate().map(|(i, r)| MetricRule::new(i, r).unwrap()).collect();
    settings.rules = MetricRules::new(rules, ["Service".to_string()]);
    settings.budget = budget;
    Pipeline::new(settings, Arc::new(Uncounted), clock, None)
}

fn clock() -> Arc<Manual> {
    Arc::new(Manual(AtomicI64::new(T0)))
}

/// Per series (dimensions as text): sample count, sum, min, max and the sorted values.
type Held = BTreeMap<String, (f64, f64, f64, f64, Vec<(u64, u64)>)>;

fn held(p: &Pipeline) -> Held {
    let mut out: Held = BTreeMap::new();
    for w in p.drain(true) {
        let view = decode_series_key(&w.key);
        let e = out.entry(format!("{}:{:?}", view.name, view.dimensions)).or_insert((
            0.0,
            0.0,
            f64::MAX,
            f64::MIN,
            Vec::new(),
        ));
        for d in &w.window.values {
            e.0 += d.count;
            e.1 += d.sum;
            e.2 = e.2.min(d.min());
            e.3 = e.3.max(d.max());
            e.4.extend(d.entries().into_iter().map(|(v, c)| (v.to_bits(), c.to_bits())));
        }
        e.4.sort();
    }
    out
}

fn chat(i: usize) -> Candidate<'static> {
    let paths = ["/rooms", "/messages", "/login"];
    let status = if i.is_multiple_of(7) { "500" } else { "200" };
    record(
        "http_requests_total",
        (i % 13) as f64 + 0.5,
        T0 - 1000 * (i as i64 % 120),
        &[
            ("Service", "chat".into()),
            ("path", paths[i % 3].into()),
            ("status", status.into()),
            ("method", "GET".into()),
        ],
    )
}

#[test]
fn a_rollup_holds_exactly_what_its_records_sent_alone_would() {
    let rollup = RuleSpec {
        matches: "http_*".into(),
        drop_dimensions: vec!["method".into()],
        rollups: vec![vec!["Service".into(), "status".into()]],
        ..Default::default()
    };
    let with_rules = pipeline(vec![rollup], None, clock());
    let answer = with_rules.submit(Input::HTTP, &Context::default(), (0..500).map(|i| Ok(chat(i)))).unwrap();
    assert_eq!(answer.accepted, 500);

    // The same records sent as each published series, one by one.
    let alone = pipeline(vec![], None, clock());
    for i in 0..500 {
        let r = chat(i);
        let keep = |names: &[&str]| {
            let mut r = r.clone();
            r.dimensions.retain(|(k, _)| names.contains(&k.as_ref()));
            r
        };
        alone.submit(Input::HTTP, &Context::default(), [Ok(keep(&["Service", "path", "status"]))]).unwrap();
        alone.submit(Input::HTTP, &Context::default(), [Ok(keep(&["Service", "status"]))]).unwrap();
    }
    let (got, want) = (held(&with_rules), held(&alone));
    assert_eq!(got.len(), 3 * 2 + 2, "{:?}", got.keys());
    assert_eq!(got, want);
}

#[test]
fn the_media_service_gets_100_sessions_and_one_all_other_series_with_every_sample_counted() {
    let budget = BudgetSettings {
        max_series: 10_000,
        max_series_per_namespace: None,
        max_series_per_metric: 100,
        series_ttl_ms: 3_600_000,
        overflow: Overflow::Aggregate,
        default_dimensions: vec!["Service".into()],
    };
    let clock = clock();
    let p = pipeline(vec![], Some(budget), clock.clone());
    // 5,000 sessions over (a little less than) an hour, each sending 3 samples.
    for i in 0..5000 {
        clock.0.store(T0 + i as i64 * 700, Ordering::Relaxed);
        let at = T0 + i as i64 * 700;
        let dims = [("Service", "media".to_string()), ("session_id", format!("s{i}"))];
        let records = (0..3).map(|k| Ok(record("session_duration", 10.0 + k as f64, at, &dims)));
        assert_eq!(p.submit(Input::HTTP, &Context::default(), records).unwrap().accepted, 3);
    }
    let held = held(&p);
    assert_eq!(held.len(), 101, "100 sessions and AllOther");
    assert!(held.contains_key("session_duration:[(\"Service\", \"media\"), (\"session_id\", \"AllOther\")]"));
    let count: f64 = held.values().map(|h| h.0).sum();
    assert_eq!(count, 15_000.0);
    let report = p.series_report(20).unwrap();
    assert_eq!(report.active_series, 101);
    assert_eq!(report.top_metrics[0].series, 101);
}

#[test]
fn over_budget_with_refuse_a_record_is_turned_away_by_index_naming_the_bound() {
    let budget = BudgetSettings {
        max_series: 10_000,
        max_series_per_namespace: None,
        max_series_per_metric: 2,
        series_ttl_ms: 3_600_000,
        overflow: Overflow::Refuse,
        default_dimensions: vec![],
    };
    let p = pipeline(vec![], Some(budget), clock());
    let r = |user: &str| Ok(record("logins", 1.0, T0, &[("user_id", user.to_string())]));
    let bad = Err(crate::domain::error::ValidationError { reason: RejectReason::Name, message: "bad".into() });
    let answer = p.submit(Input::HTTP, &Context::default(), [r("a"), bad, r("b"), r("c"), r("a")]).unwrap();
    assert_eq!(answer.accepted, 3);
    let indices: Vec<usize> = answer.rejected.iter().map(|r| r.index).collect();
    assert_eq!(indices, vec![1, 3]);
    let e = &answer.rejected[1];
    assert_eq!(e.reason, RejectReason::SeriesBudget);
    assert!(e.error.contains("cardinality.max_series_per_metric = 2, 2 active"), "{}", e.error);
    assert!(e.error.contains("`logins`"), "{}", e.error);
}

#[test]
fn the_self_metrics_pass_both_stages_untouched_and_are_counted_apart() {
    let budget = BudgetSettings {
        max_series: 1,
        max_series_per_namespace: None,
        max_series_per_metric: 1,
        series_ttl_ms: 3_600_000,
        overflow: Overflow::Refuse,
        default_dimensions: vec![],
    };
    let drop_all = RuleSpec { matches: "*".into(), rollups: vec![vec![]], drop_original: true, ..Default::default() };
    let p = pipeline(vec![drop_all], Some(budget), clock());
    let context = Context { namespace: Some("CWSidecar"), dimensions: &[] };
    let own = (0..3)
        .map(|i| Ok(record(["Heartbeat", "RecordsAccepted", "BufferedDatums"][i], 1.0, T0, &[("Host", "h".into())])));
    assert_eq!(p.submit(Input::SELF_METRICS, &context, own).unwrap().accepted, 3);
    assert_eq!(held(&p).len(), 3);
    let report = p.series_report(20).unwrap();
    assert_eq!((report.active_series, report.self_metric_series), (0, 3));
}
