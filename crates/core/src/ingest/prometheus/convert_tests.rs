use super::convert::{Converted, TargetState, convert};
use super::parse::{Kind, parse};
use super::rules::{self, Rules, glob};
use crate::domain::units::Unit;
use crate::reasons::ScrapeRefusal;

const T0: i64 = 1_700_000_000_000;

/// A published candidate, flattened: name, `k=v,...`, unit, (value, count) pairs.
#[derive(Debug, Clone, PartialEq)]
struct Out {
    name: String,
    dims: String,
    unit: String,
    pairs: Vec<(f64, f64)>,
}

fn flatten(c: &Converted<'_>) -> Vec<Out> {
    c.candidates
        .iter()
        .map(|c| {
            let v = &c.values;
            let pairs = match (&v.value, &v.values) {
                (Some(x), _) => vec![(*x, 1.0)],
                (_, Some(vs)) => vs.iter().copied().zip(v.counts.clone().unwrap_or_default()).collect(),
                _ => vec![],
            };
            Out {
                name: c.name.as_deref().unwrap_or("").to_string(),
                dims: c.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                unit: c.unit.as_deref().unwrap_or("").to_string(),
                pairs,
            }
        })
        .collect()
}

fn scrape(state: &mut TargetState, rules: &Rules, text: &str, at: i64) -> (Vec<Out>, Converted<'static>) {
    let text: &'static str = Box::leak(text.to_string().into_boxed_str());
    let exposition = Box::leak(Box::new(parse(text, false)));
    assert!(exposition.errors.is_empty(), "{:?}", exposition.errors);
    let c = convert(state, rules, exposition, at);
    (flatten(&c), c)
}

fn one(outs: &[Out], name: &str) -> Out {
    let found: Vec<&Out> = outs.iter().filter(|o| o.name == name).collect();
    assert_eq!(found.len(), 1, "{name} in {outs:?}");
    found[0].clone()
}

#[test]
fn counters_first_scrape_is_the_baseline_then_increases_and_resets() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let page = |v: f64| format!("# TYPE req_total counter\nreq_total{{code=\"200\"}} {v}\n");
    let (out, c) = scrape(&mut s, &r, &page(10.0), T0);
    assert!(out.is_empty(), "the first scrape only sets the baseline: {out:?}");
    assert_eq!(c.published, 1);
    let (out, _) = scrape(&mut s, &r, &page(14.0), T0 + 15_000);
    assert_eq!(
        out,
        vec![Out { name: "req_total".into(), dims: "code=200".into(), unit: "Count".into(), pairs: vec![(4.0, 1.0)] }]
    );
    // No change is a zero increase, still published (alarms see data).
    assert_eq!(one(&scrape(&mut s, &r, &page(14.0), T0 + 30_000).0, "req_total").pairs, [(0.0, 1.0)]);
    // A decrease is a reset: the new value is what was counted since.
    assert_eq!(one(&scrape(&mut s, &r, &page(3.0), T0 + 45_000).0, "req_total").pairs, [(3.0, 1.0)]);
}

#[test]
fn a_new_created_is_a_reset_and_a_new_series_created_since_the_last_scrape_counts_from_zero() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let page = |v: f64, created: f64, extra: &str| {
        format!("# TYPE req counter\nreq_total {v}\nreq_created {created}\n{extra}# EOF\n")
    };
    let om = |s: &mut TargetState, text: String, at: i64| {
        let text: &'static str = Box::leak(text.into_boxed_str());
        let e = Box::leak(Box::new(parse(text, true)));
        flatten(&convert(s, &r, e, at))
    };
    assert!(om(&mut s, page(5.0, 1_699_999_999.0, ""), T0).is_empty());
    assert_eq!(one(&om(&mut s, page(7.0, 1_699_999_999.0, ""), T0 + 15_000), "req_total").pairs, [(2.0, 1.0)]);
    // Restarted between scrapes and counted past the old value: `_created` tells.
    assert_eq!(one(&om(&mut s, page(9.0, 1_700_000_020.0, ""), T0 + 30_000), "req_total").pairs, [(9.0, 1.0)]);
    // A series born after the previous scrape counts from zero; one born before, from its baseline.
    let born = "# TYPE new counter\nnew_total 4\nnew_created 1700000040\n# TYPE old counter\nold_total 6\nold_created 1600000000\n";
    let out = om(&mut s, page(9.0, 1_700_000_020.0, born), T0 + 45_000);
    assert_eq!(one(&out, "new_total").pairs, [(4.0, 1.0)]);
    assert!(out.iter().all(|o| o.name != "old_total"), "{out:?}");
}

#[test]
fn created_gauges_of_the_0_0_4_format_belong_to_their_counter() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let page = |v: f64| {
        format!(
            "# TYPE req_total counter\nreq_total 1{v}\n# TYPE req_created gauge\nreq_created 1.6e9\n# TYPE g gauge\ng 2\n"
        )
    };
    let (out, _) = scrape(&mut s, &r, &page(0.0), T0);
    assert_eq!(out.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["g"], "req_created is not a gauge here");
}

const HIST: &str = "# TYPE lat_seconds histogram\n\
    lat_seconds_bucket{path=\"/\",le=\"0.1\"} {a}\nlat_seconds_bucket{path=\"/\",le=\"0.5\"} {b}\n\
    lat_seconds_bucket{path=\"/\",le=\"+Inf\"} {c}\nlat_seconds_sum{path=\"/\"} {sum}\nlat_seconds_count{path=\"/\"} {c}\n";

fn hist(a: u32, b: u32, c: u32, sum: f64) -> String {
    HIST.replace("{a}", &a.to_string())
        .replace("{b}", &b.to_string())
        .replace("{c}", &c.to_string())
        .replace("{sum}", &sum.to_string())
}

#[test]
fn histograms_become_per_bucket_increases_with_exact_count_and_sum() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    assert!(scrape(&mut s, &r, &hist(1, 2, 3, 1.0), T0).0.is_empty());
    // Since: 2 more in (0, 0.1], 3 in (0.1, 0.5], 1 above 0.5; sum 0.1 + 1.2 + 0.9 = 2.2.
    let (out, _) = scrape(&mut s, &r, &hist(3, 7, 9, 3.2), T0 + 15_000);
    let h = one(&out, "lat_seconds");
    assert_eq!((h.dims.as_str(), h.unit.as_str()), ("path=/", "Seconds"));
    let count: f64 = h.pairs.iter().map(|p| p.1).sum();
    let sum: f64 = h.pairs.iter().map(|p| p.0 * p.1).sum();
    assert_eq!(count, 6.0);
    assert!((sum - 2.2).abs() < 1e-9, "{sum}");
    let counts: Vec<f64> = h.pairs.iter().map(|p| p.1).collect();
    assert_eq!(counts, [2.0, 3.0, 1.0]);
    assert!(h.pairs[0].0 <= 0.1 && h.pairs[1].0 > 0.1 && h.pairs[1].0 <= 0.5 && h.pairs[2].0 > 0.5, "{h:?}");
    // Nothing observed since: nothing to publish.
    assert!(scrape(&mut s, &r, &hist(3, 7, 9, 3.2), T0 + 30_000).0.is_empty());
    // Buckets that are not cumulative are refused.
    let (out, c) = scrape(&mut s, &r, &hist(5, 4, 9, 3.2), T0 + 45_000);
    assert!(out.is_empty());
    assert_eq!(c.refused(ScrapeRefusal::Malformed), 1);
    // (Its state went with the refused reading: this one is a baseline again.)
    assert!(scrape(&mut s, &r, &hist(3, 7, 9, 3.2), T0 + 50_000).0.is_empty());
    // A `_count` read apart from the buckets: the `+Inf` bucket is the count.
    let apart = hist(4, 8, 10, 3.5).replace("lat_seconds_count{path=\"/\"} 10", "lat_seconds_count{path=\"/\"} 11");
    let (out, c) = scrape(&mut s, &r, &apart, T0 + 60_000);
    assert_eq!(c.refused(ScrapeRefusal::Malformed), 0);
    assert_eq!(one(&out, "lat_seconds").pairs.iter().map(|p| p.1).sum::<f64>(), 1.0);
    // Without `+Inf` bucket, `_count` gives it; without either, or without `_sum`, refused.
    let no_inf = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 9\nh_count 3\n";
    let (mut s2, r2) = (TargetState::default(), Rules::default());
    scrape(&mut s2, &r2, no_inf, T0);
    let (out, _) =
        scrape(&mut s2, &r2, &no_inf.replace("h_count 3", "h_count 5").replace("h_sum 9", "h_sum 19"), T0 + 15_000);
    assert_eq!(one(&out, "h").pairs.iter().map(|p| p.1).sum::<f64>(), 2.0);
    let no_sum = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n";
    assert_eq!(scrape(&mut TargetState::default(), &r2, no_sum, T0).1.refused(ScrapeRefusal::Malformed), 1);
}

#[test]
fn summaries_publish_count_and_sum_increases_and_no_quantiles() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let page = |n: u32, sum: f64| {
        format!(
            "# TYPE rpc_seconds summary\nrpc_seconds{{quantile=\"0.5\"}} 0.2\nrpc_seconds_sum {sum}\nrpc_seconds_count {n}\n"
        )
    };
    scrape(&mut s, &r, &page(10, 2.0), T0);
    let (out, c) = scrape(&mut s, &r, &page(14, 3.5), T0 + 15_000);
    assert_eq!(one(&out, "rpc_seconds_count").pairs, [(4.0, 1.0)]);
    assert_eq!(one(&out, "rpc_seconds_count").unit, "Count");
    assert_eq!(one(&out, "rpc_seconds_sum").pairs, [(1.5, 1.0)]);
    assert_eq!(one(&out, "rpc_seconds_sum").unit, "Seconds");
    assert_eq!(out.len(), 2);
    assert_eq!(c.published, 2, "two series: _count and _sum");
}

#[test]
fn a_series_that_disappears_stops_being_published_and_its_state_goes() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let both = "# TYPE c counter\nc_total{k=\"a\"} 1\nc_total{k=\"b\"} 1\n# TYPE g gauge\ng 1\n";
    let only_a = "# TYPE c counter\nc_total{k=\"a\"} 2\n";
    scrape(&mut s, &r, both, T0);
    assert_eq!(s.streams(), 2);
    let (out, c) = scrape(&mut s, &r, only_a, T0 + 15_000);
    assert_eq!(out.iter().map(|o| o.dims.as_str()).collect::<Vec<_>>(), ["k=a"]);
    assert_eq!((c.published, s.streams()), (1, 1));
    // It comes back: a first reading again, the baseline.
    let (out, _) = scrape(&mut s, &r, &both.replace("{k=\"b\"} 1", "{k=\"b\"} 50"), T0 + 30_000);
    assert_eq!(out.iter().filter(|o| o.name == "c_total").count(), 1, "{out:?}");
}

#[test]
fn gauges_and_untyped_are_samples_and_non_finite_ones_are_refused() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let (out, c) = scrape(&mut s, &r, "# TYPE mem_bytes gauge\nmem_bytes 1024\nratio NaN\nup +Inf\nplain 3\n", T0);
    assert_eq!(
        one(&out, "mem_bytes"),
        Out { name: "mem_bytes".into(), dims: "".into(), unit: "Bytes".into(), pairs: vec![(1024.0, 1.0)] }
    );
    assert_eq!(one(&out, "plain").unit, "None");
    assert_eq!(c.refused(ScrapeRefusal::Value), 2);
}

#[test]
fn units_come_from_unit_lines_or_name_suffixes() {
    let cases = [
        ("req_total", None, Kind::Counter, Unit::Count),
        ("req", None, Kind::Counter, Unit::Count),
        ("cpu_seconds_total", None, Kind::Counter, Unit::Seconds),
        ("sent_bytes_total", None, Kind::Counter, Unit::Bytes),
        ("lat_seconds", None, Kind::Histogram, Unit::Seconds),
        ("lat_milliseconds", None, Kind::Histogram, Unit::Milliseconds),
        ("lat_microseconds", None, Kind::Summary, Unit::Microseconds),
        ("rx_bits", None, Kind::Gauge, Unit::Bits),
        ("disk_percent", None, Kind::Gauge, Unit::Percent),
        ("tx_bytes_per_second", None, Kind::Gauge, Unit::BytesPerSecond),
        ("temperature_celsius", None, Kind::Gauge, Unit::None),
        ("seconds", None, Kind::Gauge, Unit::None),
        ("duration", Some("seconds"), Kind::Histogram, Unit::Seconds),
        ("size", Some("bytes"), Kind::Gauge, Unit::Bytes),
        ("weird", Some("parsecs"), Kind::Gauge, Unit::None),
    ];
    for (name, declared, kind, unit) in cases {
        assert_eq!(rules::unit(name, declared, kind), unit, "{name} {declared:?}");
    }
}

#[test]
fn more_than_30_labels_is_refused_never_truncated() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let labels = |n: usize| (0..n).map(|i| format!("l{i}=\"v\"")).collect::<Vec<_>>().join(",");
    let text = format!("g{{{}}} 1\nh{{{}}} 2\n", labels(30), labels(31));
    let (out, c) = scrape(&mut s, &r, &text, T0);
    assert_eq!(out.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["g"]);
    assert_eq!(c.refused(ScrapeRefusal::TooManyDimensions), 1);
    assert!(c.problems[0].contains("31 labels"), "{:?}", c.problems);
    // Dropping labels first brings it within the limit.
    let r = Rules { drop_labels: vec!["l0".into()], ..Rules::default() };
    assert_eq!(scrape(&mut TargetState::default(), &r, &text, T0).0.len(), 2);
}

#[test]
fn the_cap_refuses_new_series_logs_each_once_and_frees_places_of_gone_ones() {
    let r = Rules { max_series: 2, ..Rules::default() };
    let mut s = TargetState::default();
    let page = |ids: &[&str]| ids.iter().map(|i| format!("g{{id=\"{i}\"}} 1\n")).collect::<String>();
    let (out, c) = scrape(&mut s, &r, &page(&["a", "b", "c"]), T0);
    assert_eq!(out.len(), 2);
    assert_eq!((c.published, c.capped, c.refused(ScrapeRefusal::Capped)), (2, 1, 1));
    assert_eq!((c.newly_capped, c.capped_examples.clone()), (1, vec!["g{id=\"c\"}".to_string()]));
    let (_, c) = scrape(&mut s, &r, &page(&["a", "b", "c"]), T0 + 15_000);
    assert_eq!((c.capped, c.newly_capped), (1, 0), "counted every scrape, logged once");
    // `a` is gone: its place is free from the next scrape on, and `c` takes it.
    let (out, c) = scrape(&mut s, &r, &page(&["b", "c"]), T0 + 30_000);
    assert_eq!((out.len(), c.capped, c.published), (1, 1, 1));
    let (out, c) = scrape(&mut s, &r, &page(&["b", "c"]), T0 + 45_000);
    assert_eq!((out.len(), c.capped, c.published), (2, 0, 2));
}

#[test]
fn a_family_over_the_warning_is_reported_once_with_its_widest_label() {
    let r = Rules { family_series_warning: 3, ..Rules::default() };
    let mut s = TargetState::default();
    let page: String = (0..5).map(|i| format!("sess{{device_id=\"d{i}\",app=\"x\"}} 1\n")).collect();
    let (_, c) = scrape(&mut s, &r, &page, T0);
    assert_eq!(c.warnings.len(), 1);
    assert_eq!((c.warnings[0].family.as_str(), c.warnings[0].series), ("sess", 5));
    assert_eq!(c.warnings[0].widest_label, Some(("device_id".to_string(), 5)));
    assert!(scrape(&mut s, &r, &page, T0 + 15_000).1.warnings.is_empty());
    // With the label dropped, the family is one series: no warning.
    let r = Rules { drop_labels: vec!["device_id".into()], ..r };
    assert!(scrape(&mut TargetState::default(), &r, &page, T0).1.warnings.is_empty());
}

#[test]
fn dropped_labels_merge_series_and_their_increases_add_up() {
    let r = Rules { drop_labels: vec!["device_id".into()], ..Rules::default() };
    let mut s = TargetState::default();
    let page = |a: u32, b: u32| {
        format!(
            "# TYPE s counter\ns_total{{device_id=\"1\",app=\"x\"}} {a}\ns_total{{device_id=\"2\",app=\"x\"}} {b}\n"
        )
    };
    scrape(&mut s, &r, &page(1, 1), T0);
    let (out, c) = scrape(&mut s, &r, &page(3, 6), T0 + 15_000);
    assert_eq!(
        out,
        vec![Out { name: "s_total".into(), dims: "app=x".into(), unit: "Count".into(), pairs: vec![(7.0, 1.0)] }]
    );
    assert_eq!(c.published, 1);
    // keep_labels keeps only those named; empty label values are no dimension.
    let r = Rules { keep_labels: vec!["app".into()], ..Rules::default() };
    let (out, _) = scrape(&mut TargetState::default(), &r, "g{app=\"x\",host=\"h\"} 1\ng2{app=\"\"} 1\n", T0);
    assert_eq!(out.iter().map(|o| o.dims.as_str()).collect::<Vec<_>>(), ["app=x", ""]);
}

#[test]
fn runtime_families_are_excluded_by_default_and_globs_choose_the_rest() {
    let page = "go_goroutines 5\nprocess_cpu_seconds_total 1\npython_gc_objects_collected_total 3\npython_info{v=\"3\"} 1\n\
                promhttp_metric_handler_requests_total 2\napp_requests 1\ndebug_x 1\n";
    let names = |r: &Rules| -> Vec<String> {
        scrape(&mut TargetState::default(), r, page, T0).0.into_iter().map(|o| o.name).collect()
    };
    assert_eq!(names(&Rules::default()), ["app_requests", "debug_x"]);
    let r = Rules { exclude: vec!["debug_*".into()], ..Rules::default() };
    assert_eq!(
        names(&r),
        [
            "go_goroutines",
            "process_cpu_seconds_total",
            "python_gc_objects_collected_total",
            "python_info",
            "promhttp_metric_handler_requests_total",
            "app_requests"
        ]
    );
    let r = Rules { include: vec!["app_*".into()], ..Rules::default() };
    assert_eq!(names(&r), ["app_requests"]);
    // A counter family is matched by its name with `_total` too.
    assert!(Rules { include: vec!["req_total".into()], ..Rules::default() }.wants("req", Kind::Counter));
    assert!(
        glob("a*b?c", "axxbyc") && !glob("a*b?c", "axxbc") && glob("*", "") && glob("**x", "x") && !glob("x", "xy")
    );
}

/// Issue 25, finding 11: a duplicate series was silently reduced to one (the last value won).
/// As Prometheus does: the first is kept, and the duplicate is counted.
#[test]
fn a_duplicate_series_keeps_the_first_sample_and_is_counted() {
    let (mut s, r) = (TargetState::default(), Rules::default());
    let text = "# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n# TYPE c counter\nc_total 5\nc_total 9\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_sum 7\nh_count 2\n";
    let (out, c) = scrape(&mut s, &r, text, T0);
    assert_eq!(one(&out, "g").pairs, vec![(1.0, 1.0)], "the first sample is kept");
    assert_eq!(c.refused(ScrapeRefusal::Duplicate), 4);
    assert_eq!(c.refused(ScrapeRefusal::Malformed), 0, "a duplicate is not a broken histogram");
    assert!(c.problems.iter().any(|p| p.contains("g{a=\"1\"}") && p.contains("duplicate")), "{:?}", c.problems);
    let (out, _) = scrape(&mut s, &r, &text.replace("c_total 5", "c_total 6"), T0 + 15_000);
    assert_eq!(one(&out, "c_total").pairs, vec![(1.0, 1.0)], "the increase of the first: 5 -> 6");
}

/// Issue 25, finding 9: the state held every key as text (a series' labels, twice); it is now
/// a fixed size per series, whatever the labels, and bounded in bytes.
#[test]
fn the_state_is_bounded_in_bytes_whatever_the_labels() {
    let long = "x".repeat(10_000);
    let page = |n: usize| (0..n).map(|i| format!("c_total{{id=\"{i}\",pad=\"{long}\"}} {i}\n")).collect::<String>();
    let mut s = TargetState::default();
    let (_, c) = scrape(&mut s, &Rules::default(), &format!("# TYPE c counter\n{}", page(1000)), T0);
    assert_eq!((c.published, s.streams()), (1000, 1000));
    assert!(s.bytes() <= 1000 * 300, "{} bytes for 10 MB of labels", s.bytes());
    // Under a budget of 50 kB, the series past it are refused and counted.
    let r = Rules { max_state_bytes: 50_000, ..Rules::default() };
    let mut s = TargetState::default();
    let (_, c) = scrape(&mut s, &r, &format!("# TYPE c counter\n{}", page(1000)), T0);
    assert!(s.bytes() <= 50_000, "{}", s.bytes());
    assert!(c.refused(ScrapeRefusal::StateBytes) > 700, "{:?}", c.refused);
    assert!(c.published < 300 && c.published > 100, "{}", c.published);
}

/// Issue 25, finding 9: the first scrape of a target over its cap logged a line per refused
/// series (10,000 lines, 2.2 MB); what it keeps for its one summary line is a few examples.
#[test]
fn capped_series_come_with_a_count_and_a_few_examples() {
    let page: String = (0..20_000).map(|i| format!("g{{id=\"{i}\"}} 1\n")).collect();
    let mut s = TargetState::default();
    let (_, c) = scrape(&mut s, &Rules::default(), &page, T0);
    assert_eq!((c.published, c.capped, c.newly_capped), (1000, 19_000, 10_000));
    assert_eq!(c.capped_examples.len(), super::converted::EXAMPLES);
    assert!(c.problems.len() <= super::converted::EXAMPLES);
}
