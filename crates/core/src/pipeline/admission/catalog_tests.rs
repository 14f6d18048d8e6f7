//! The catalog stage in the pipeline, as every input meets it: strict rejects by index with
//! the closest entry named, lenient lets through; both count by reason; the catalog's
//! dimension sets are the rules.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{MEMO_SERIES, Mode};
use crate::catalog::contract::{Contract, rules};
use crate::catalog::parse;
use crate::clock::StillClock;
use crate::cost::rules::{MetricRule, MetricRules};
use crate::domain::dimensions::DefaultDimensions;
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::pipeline::aggregate::decode_series_key;
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::{Counters, Input, Pipeline, Settings};
use crate::reasons::{CatalogReason, RefuseReason, RejectReason};

const T0: i64 = 1_800_000_000_000;

const CATALOG: &str = "\
namespaces: [Demo]
metrics:
  - {name: RequestCount, unit: Count, kind: counter, description: Requests., dimensions: [Environment, Service, Route], dimension_sets: [[Environment, Service]]}
  - {name: Latency, unit: Milliseconds, kind: distribution, description: Time., dimensions: [Service]}
";

#[derive(Default)]
struct Counted {
    undeclared: Mutex<Vec<(CatalogReason, bool)>>,
    rejected: Mutex<Vec<RejectReason>>,
    accepted: Mutex<usize>,
}

impl Counters for Counted {
    fn received(&self, _: usize) {}
    fn rejected(&self, reason: RejectReason) {
        self.rejected.lock().unwrap().push(reason);
    }
    fn accepted(&self, n: usize) {
        *self.accepted.lock().unwrap() += n;
    }
    fn refused(&self, _: RefuseReason) {}
    fn catalog_undeclared(&self, reason: CatalogReason, refused: bool) {
        self.undeclared.lock().unwrap().push((reason, refused));
    }
}

fn record(name: &'static str, unit: &'static str, dims: &[(&'static str, &'static str)]) -> Candidate<'static> {
    Candidate {
        name: Some(Cow::Borrowed(name)),
        unit: Some(Cow::Borrowed(unit)),
        dimensions: dims.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect(),
        timestamp: Some(GivenTime::EpochMillis(T0)),
        values: GivenValues { value: Some(1.0), ..GivenValues::default() },
        ..Candidate::default()
    }
}

fn pipeline(mode: Mode) -> (Pipeline, Arc<Counted>) {
    let catalog = parse(CATALOG).unwrap();
    let defaults = BTreeMap::from([("Environment".to_string(), "prod".to_string())]);
    let mut settings = Settings::plain(Some("Demo"), 1_000_000);
    settings.defaults.dimensions = DefaultDimensions::new(&defaults).unwrap();
    let contract = Contract::new(&catalog, defaults.keys().cloned());
    settings.catalog = Some((Arc::new(contract), mode));
    let made = rules(&catalog).into_iter().enumerate().map(|(i, (label, spec))| {
        let mut rule = MetricRule::new(i, spec).unwrap();
        rule.label = label;
        rule
    });
    settings.rules = MetricRules::new(made.collect(), defaults.keys().cloned());
    let counted = Arc::new(Counted::default());
    (Pipeline::new(settings, counted.clone(), StillClock::shared(T0), None), counted)
}

fn held(p: &Pipeline) -> Vec<String> {
    let mut out: Vec<String> = p
        .drain(true)
        .iter()
        .map(|w| decode_series_key(&w.key))
        .map(|v| format!("{}{:?}", v.name, v.dimensions))
        .collect();
    out.sort();
    out
}

fn batch() -> Vec<Candidate<'static>> {
    vec![
        record("Latency", "Milliseconds", &[("Service", "checkout")]),
        record("Latancy", "Milliseconds", &[("Service", "checkout")]),
        record("RequestCount", "Count", &[("Service", "checkout"), ("Route", "/pay")]),
        record("Latency", "Milliseconds", &[("Servce", "checkout")]),
        record("Latency", "Seconds", &[("Service", "checkout")]),
    ]
}

#[test]
fn strict_rejects_each_undeclared_record_by_index_naming_the_closest_entry() {
    let (p, counted) = pipeline(Mode::Strict);
    assert_eq!(p.stages(), ["gate", "catalog", "rules", "aggregate"]);
    let answer = p.submit(Input::HTTP, &Context::default(), batch().into_iter().map(Ok)).unwrap();
    assert_eq!(answer.accepted, 2);
    let rejected: Vec<(usize, &str)> = answer.rejected.iter().map(|r| (r.index, r.error.as_str())).collect();
    assert_eq!(
        rejected,
        [
            (
                1,
                "metric `Latancy` in namespace `Demo`: the catalog does not declare it; the closest entry is `Latency`"
            ),
            (
                3,
                "metric `Latency` in namespace `Demo`: the catalog does not declare dimension `Servce` for it; the closest entry is `Service`"
            ),
            (4, "metric `Latency` in namespace `Demo`: the catalog declares unit `Milliseconds`, not `Seconds`"),
        ]
    );
    assert!(answer.rejected.iter().all(|r| r.reason == RejectReason::Catalog));
    assert_eq!(*counted.rejected.lock().unwrap(), [RejectReason::Catalog; 3]);
    assert_eq!(
        *counted.undeclared.lock().unwrap(),
        [(CatalogReason::Metric, true), (CatalogReason::Dimension, true), (CatalogReason::Unit, true)]
    );
    // RequestCount is published as its one dimension set; Latency as it came.
    assert_eq!(
        held(&p),
        [
            r#"Latency[("Environment", "prod"), ("Service", "checkout")]"#,
            r#"RequestCount[("Environment", "prod"), ("Service", "checkout")]"#,
        ]
    );
}

#[test]
fn lenient_publishes_what_is_undeclared_and_counts_it() {
    let (p, counted) = pipeline(Mode::Lenient);
    let answer = p.submit(Input::HTTP, &Context::default(), batch().into_iter().map(Ok)).unwrap();
    assert_eq!((answer.accepted, answer.rejected.len()), (5, 0));
    assert_eq!(
        *counted.undeclared.lock().unwrap(),
        [(CatalogReason::Metric, false), (CatalogReason::Dimension, false), (CatalogReason::Unit, false)]
    );
    assert_eq!(held(&p).len(), 5, "Latancy, Servce and Seconds published beside the declared two");
}

#[test]
fn the_self_metrics_are_exempt() {
    let (p, counted) = pipeline(Mode::Strict);
    let context = Context { namespace: Some("CWSidecar"), dimensions: &[] };
    let own = [record("Heartbeat", "Count", &[])];
    assert_eq!(p.submit(Input::SELF_METRICS, &context, own.into_iter().map(Ok)).unwrap().accepted, 1);
    assert!(counted.undeclared.lock().unwrap().is_empty());
}

#[test]
fn the_remembered_verdicts_are_bounded() {
    let contract = Arc::new(Contract::new(&parse(CATALOG).unwrap(), []));
    let stage = super::Catalog::new(contract, Mode::Strict, Arc::new(crate::pipeline::Uncounted));
    let mut memo = super::Memo::default();
    for i in 0..MEMO_SERIES * 2 + 7 {
        let mut key = Vec::new();
        let value = i.to_string();
        crate::pipeline::aggregate::encode_series_key(
            &mut key,
            "Demo",
            "Latency",
            [("Service", value.as_str())].into_iter(),
            crate::domain::units::Unit::Milliseconds,
            crate::domain::units::Resolution::Standard,
        );
        assert!(stage.verdict(&mut memo, &key).is_none());
        assert!(memo.len() <= MEMO_SERIES);
    }
}
