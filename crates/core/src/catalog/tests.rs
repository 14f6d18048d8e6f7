use super::contract::{Contract, rules};
use super::*;
use crate::domain::units::Unit;
use crate::reasons::CatalogReason;

pub(crate) const CATALOG: &str = "\
namespaces: [Demo]
metrics:
  - name: RequestCount
    unit: Count
    kind: counter
    resolution: 1
    description: Requests served.
    dimensions: [Service, Route]
    dimension_sets: [[Service]]
  - name: Latency
    unit: Milliseconds
    kind: distribution
    description: Time to answer.
    dimensions: [Service]
alarms:
  - name: slow
    kind: threshold
    metric: Latency
    statistic: p99
    dimensions: {Service: checkout}
    threshold: 500
    period: 60
    topic: warning
dashboard:
  rows:
    - title: checkout
      widgets:
        - title: Requests
          metrics:
            - {metric: RequestCount, statistic: Sum, dimensions: {Service: checkout}}
";

fn errors(text: &str) -> Vec<String> {
    parse(text).err().unwrap_or_default().iter().map(ToString::to_string).collect()
}

#[test]
fn a_good_catalog_parses() {
    let c = parse(CATALOG).unwrap();
    assert_eq!(c.metrics.len(), 2);
    assert_eq!(c.metrics[1].resolution.value, 60, "the default resolution");
    assert_eq!(line_of(&c.metrics[1].name), 10);
}

#[test]
fn a_shape_error_names_its_line() {
    let text = CATALOG.replace("    kind: distribution", "    kind: histogram");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("line 12: "), "{e:?}");
    let text = CATALOG.replace("    description: Time to answer.", "    descripton: Time to answer.");
    let e = errors(&text);
    assert!(e[0].starts_with("line 13: ") && e[0].contains("descripton"), "{e:?}");
}

#[test]
fn an_alarm_on_an_undeclared_metric_names_the_line_and_the_closest_entry() {
    let e = errors(&CATALOG.replace("    metric: Latency", "    metric: Latncy"));
    assert_eq!(
        e,
        [
            "line 18: alarms[0]: metric `Latncy` of namespace `Demo`: the catalog does not declare it: the closest entry is `Latency`"
        ]
    );
}

#[test]
fn a_widget_on_a_series_that_is_not_published_is_an_error() {
    let e = errors(&CATALOG.replace("{Service: checkout}}", "{Service: checkout, Route: /pay}}"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("line 30: dashboard.rows[0].widgets[0].metrics[0].dimensions: "), "{e:?}");
    assert!(e[0].contains("[Route, Service] is none of them"), "{e:?}");
}

#[test]
fn semantic_errors_are_all_reported_each_with_its_line() {
    let text = CATALOG
        .replace("    unit: Milliseconds", "    unit: Milisecond")
        .replace("dimension_sets: [[Service]]", "dimension_sets: [[Servce]]")
        .replace("    period: 60", "    period: 45")
        .replace("topic: warning", "topic: pager");
    let e = errors(&text);
    assert_eq!(e.len(), 5, "{e:?}");
    assert!(
        e[0].starts_with("line 9: metrics[0].dimension_sets[0]: dimension `Servce`")
            && e[0].contains("closest: `Service`"),
        "{e:?}"
    );
    assert!(e[1].starts_with("line 11: metrics[1].unit: `Milisecond`") && e[1].contains("`Milliseconds`"), "{e:?}");
    assert!(e[2].starts_with("line 22: alarms[0].period"), "{e:?}");
    assert!(e[3].starts_with("line 23: alarms[0].topic"), "{e:?}");
    // The widget's series is no longer one of the published sets.
    assert!(e[4].starts_with("line 30: dashboard.rows[0].widgets[0].metrics[0].dimensions"), "{e:?}");
}

#[test]
fn a_catalog_too_large_or_not_yaml_is_an_error_not_a_crash() {
    let big = "#".repeat(MAX_CATALOG_BYTES + 1);
    assert!(errors(&big)[0].contains("at most"));
    assert!(!errors("namespaces: [Demo\n").is_empty());
    assert!(!errors("").is_empty());
    let bomb = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
    assert!(!errors(bomb).is_empty());
}

#[test]
fn the_contract_refuses_what_is_not_declared_naming_the_closest_entry() {
    let c = Contract::new(&parse(CATALOG).unwrap(), ["Environment".to_string()]);
    assert_eq!(c.len(), 2);
    let dims = [("Environment", "prod"), ("Service", "checkout")];
    assert_eq!(c.verdict("Demo", "Latency", Unit::Milliseconds, &dims), Ok(()));
    assert_eq!(c.verdict("Demo", "Latency", Unit::None, &dims), Ok(()), "no unit matches any");
    let e = c.verdict("Demo", "Latancy", Unit::Milliseconds, &dims).unwrap_err();
    assert_eq!(e.reason, CatalogReason::Metric);
    assert_eq!(
        e.message,
        "metric `Latancy` in namespace `Demo`: the catalog does not declare it; the closest entry is `Latency`"
    );
    let e = c.verdict("Other", "Latency", Unit::Milliseconds, &dims).unwrap_err();
    assert!(e.message.ends_with("the closest entry is `Latency` in namespace `Demo`"), "{e:?}");
    let e = c.verdict("Demo", "Latency", Unit::Milliseconds, &[("Servce", "x")]).unwrap_err();
    assert_eq!(e.reason, CatalogReason::Dimension);
    assert!(e.message.contains("dimension `Servce`") && e.message.ends_with("closest entry is `Service`"), "{e:?}");
    let e = c.verdict("Demo", "Latency", Unit::Seconds, &dims).unwrap_err();
    assert_eq!(e.reason, CatalogReason::Unit);
    assert!(e.message.contains("declares unit `Milliseconds`, not `Seconds`"), "{e:?}");
}

#[test]
fn dimension_sets_become_rules_that_publish_exactly_those_sets() {
    let r = rules(&parse(CATALOG).unwrap());
    assert_eq!(r.len(), 1, "only RequestCount declares sets");
    let (label, spec) = &r[0];
    assert_eq!(label, "catalog:Demo/RequestCount");
    assert_eq!(spec.matches, "RequestCount");
    assert_eq!(spec.rollups, vec![vec!["Service".to_string()]]);
    assert!(spec.drop_original);
}

#[test]
fn closest_is_by_edit_distance_ignoring_case() {
    assert_eq!(closest("http5xx", ["RequestCount", "Http5xx", "JobFailed"]), Some("Http5xx"));
    assert_eq!(closest("Jobfaild", ["RequestCount", "Http5xx", "JobFailed"]), Some("JobFailed"));
    assert_eq!(closest("x", std::iter::empty()), None);
}
