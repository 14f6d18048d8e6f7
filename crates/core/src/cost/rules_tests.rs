use super::*;

fn rule(spec: RuleSpec) -> MetricRule {
    MetricRule::new(0, spec).unwrap()
}

fn rules(specs: Vec<RuleSpec>) -> MetricRules {
    let rules = specs.into_iter().enumerate().map(|(i, s)| MetricRule::new(i, s).unwrap()).collect();
    MetricRules::new(rules, ["Service".to_string()])
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

const CHAT: [(&str, &str); 4] = [("Service", "chat"), ("method", "GET"), ("path", "/rooms"), ("status", "500")];

fn sets(outcome: Outcome<'_>) -> Vec<Vec<(&str, &str)>> {
    match outcome {
        Outcome::Unchanged => panic!("unchanged"),
        Outcome::Sets { sets, .. } => sets.into_iter().map(|s| s.into_vec()).collect(),
    }
}

#[test]
fn a_rule_matches_by_name_and_namespace_globs() {
    let r = rule(RuleSpec { matches: "http_*".into(), namespace: Some("Chat*".into()), ..Default::default() });
    assert!(r.matches("ChatService", "http_requests_total"));
    assert!(!r.matches("Media", "http_requests_total"));
    assert!(!r.matches("ChatService", "ws_frames"));
    let any_ns = rule(RuleSpec { matches: "session_?uration".into(), ..Default::default() });
    assert!(any_ns.matches("Anything", "session_duration"));
}

#[test]
fn a_series_no_rule_matches_or_changes_is_left_alone() {
    let r =
        rules(vec![RuleSpec { matches: "other".into(), drop_dimensions: strings(&["path"]), ..Default::default() }]);
    assert_eq!(r.apply("App", "http_requests_total", &CHAT, |_| {}), Outcome::Unchanged);
    let r = rules(vec![RuleSpec { matches: "*".into(), drop_dimensions: strings(&["absent"]), ..Default::default() }]);
    assert_eq!(r.apply("App", "http_requests_total", &CHAT, |_| {}), Outcome::Unchanged);
}

#[test]
fn drop_and_keep_apply_in_file_order_and_keep_the_default_dimensions() {
    let r = rules(vec![
        RuleSpec { matches: "*".into(), keep_dimensions: Some(strings(&["path", "status"])), ..Default::default() },
        RuleSpec { matches: "http_*".into(), drop_dimensions: strings(&["path"]), ..Default::default() },
    ]);
    assert_eq!(
        sets(r.apply("App", "http_requests_total", &CHAT, |_| {})),
        vec![vec![("Service", "chat"), ("status", "500")]]
    );
    // A default dimension goes only when dropped by name.
    let r = rules(vec![RuleSpec { matches: "*".into(), drop_dimensions: strings(&["Service"]), ..Default::default() }]);
    assert_eq!(sets(r.apply("App", "m", &CHAT, |_| {})), vec![CHAT[1..].to_vec()]);
}

#[test]
fn rollups_publish_exactly_their_dimensions_once_each_beside_the_series() {
    let r = rules(vec![
        RuleSpec {
            matches: "http_*".into(),
            rollups: vec![strings(&["status", "Service"]), vec![]],
            ..Default::default()
        },
        // The same set again, and one equal to the series itself: each published once.
        RuleSpec {
            matches: "*".into(),
            rollups: vec![strings(&["Service", "status"]), strings(&["Service", "method", "path", "status"])],
            ..Default::default()
        },
    ]);
    assert_eq!(
        sets(r.apply("App", "http_requests_total", &CHAT, |_| {})),
        vec![CHAT.to_vec(), vec![("Service", "chat"), ("status", "500")], vec![]]
    );
}

#[test]
fn drop_original_publishes_the_rollups_only_and_a_missing_dimension_is_counted_per_rule() {
    let r = rules(vec![RuleSpec {
        matches: "*".into(),
        rollups: vec![strings(&["Service"]), strings(&["Service", "device_id"])],
        drop_original: true,
        ..Default::default()
    }]);
    let mut skipped = Vec::new();
    let out = sets(r.apply("App", "m", &CHAT, |rule| skipped.push(rule.label.clone())));
    assert_eq!(out, vec![vec![("Service", "chat")]]);
    assert_eq!(skipped, vec!["metrics[0]".to_string()]);
}

#[test]
fn rules_that_cannot_be_satisfied_are_errors_naming_the_key() {
    let both = RuleSpec {
        matches: "*".into(),
        drop_dimensions: strings(&["path"]),
        keep_dimensions: Some(strings(&["path"])),
        ..Default::default()
    };
    assert_eq!(MetricRule::new(0, both).unwrap_err().key, "keep_dimensions");
    let wide = RuleSpec {
        matches: "*".into(),
        rollups: vec![(0..31).map(|i| format!("d{i}")).collect()],
        ..Default::default()
    };
    let e = MetricRule::new(0, wide).unwrap_err();
    assert_eq!(e.key, "rollups");
    assert!(e.message.contains("31 dimensions"), "{}", e.message);
    assert_eq!(MetricRule::new(0, RuleSpec::default()).unwrap_err().key, "match");
    assert_eq!(MetricRule::new(0, RuleSpec { matches: "[".into(), ..Default::default() }).unwrap_err().key, "match");
    let nothing = RuleSpec { matches: "*".into(), drop_original: true, ..Default::default() };
    assert_eq!(MetricRule::new(0, nothing).unwrap_err().key, "drop_original");
}
