# Plan-time assertions on the alarms on scraped and OTLP metrics: ratio_alarms (error
# statuses over all listed statuses, metric math) and nonzero_alarms (counter > 0), and the
# validations that reject what CloudWatch would reject or silently misread.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/test", user_id = "AIDATEST" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

# A mocked aws_iam_policy_document returns random text as `json`, which the policy
# resources reject; give them a real (minimal) document.
override_data {
  target = module.sns_alerts[0].data.aws_iam_policy_document.kms
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.sns_alerts[0].data.aws_iam_policy_document.topic
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

# Mocked ARNs are random text, which ARN-typed arguments reject.
override_resource {
  target = module.sns_alerts[0].aws_sns_topic.this["critical"]
  values = { arn = "arn:aws:sns:us-east-1:123456789012:cw-critical" }
}

override_resource {
  target = module.sns_alerts[0].aws_sns_topic.this["warning"]
  values = { arn = "arn:aws:sns:us-east-1:123456789012:cw-warning" }
}

override_data {
  target = module.sidecar_iam[0].data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

variables {
  name               = "cw"
  sidecar_dimensions = { Environment = "prod" }
  ratio_alarms = {
    chat-5xx = {
      namespace      = "Chat"
      metric_name    = "http_requests_total"
      error_statuses = ["500", "503"]
      other_statuses = ["200", "404"]
      threshold      = 0.05
      min_requests   = 20
    }
  }
  nonzero_alarms = {
    chat-db-errors = {
      namespace   = "Chat"
      metric_name = "db_errors_total"
    }
  }
}

run "ratio_alarm_metric_math" {
  command = apply

  assert {
    condition = (
      output.alarm_definitions["ratio.chat-5xx"].alarm_name == "cw-chat-5xx" &&
      output.ratio_alarm_names == { chat-5xx = "cw-chat-5xx" } &&
      output.alarm_definitions["ratio.chat-5xx"].namespace == null &&
      output.alarm_definitions["ratio.chat-5xx"].metric_name == null &&
      output.alarm_definitions["ratio.chat-5xx"].statistic == null &&
      length(output.alarm_definitions["ratio.chat-5xx"].dimensions) == 0
    )
    error_message = "The ratio alarm must be a metric-math alarm named <name>-<key>, with no metric of its own."
  }

  assert {
    condition     = sort([for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.id]) == sort(["e0", "e1", "o0", "o1", "errors", "requests", "ratio"])
    error_message = "Queries must be e0, e1 (error statuses), o0, o1 (other statuses), errors, requests, ratio."
  }

  assert {
    condition     = [for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.id if q.return_data] == ["ratio"]
    error_message = "Exactly one query, ratio, must return data."
  }

  assert {
    condition = (
      [for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.expression if q.id == "errors"] == ["SUM(FILL([e0, e1], 0))"] &&
      [for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.expression if q.id == "requests"] == ["SUM(FILL([e0, e1, o0, o1], 0))"] &&
      [for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.expression if q.id == "ratio"] == ["IF(requests >= 20, errors / requests, 0)"]
    )
    error_message = "errors must add the error statuses, requests every listed status, and ratio must read 0 under 20 requests."
  }

  assert {
    condition = {
      for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.id => q.metric.dimensions if q.metric != null
      } == {
      e0 = tomap({ Environment = "prod", status = "500" }), e1 = tomap({ Environment = "prod", status = "503" }),
      o0 = tomap({ Environment = "prod", status = "200" }), o1 = tomap({ Environment = "prod", status = "404" }),
    }
    error_message = "Each metric must carry exactly the sidecar's default dimensions plus its status."
  }

  assert {
    condition = alltrue([
      for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.metric == null ? q.expression != null : (
        q.metric.namespace == "Chat" && q.metric.metric_name == "http_requests_total" && q.metric.stat == "Sum" && q.metric.period == 60 && q.expression == null
      )
    ])
    error_message = "Every metric must be the Sum of Chat http_requests_total at the alarm's period; the other queries are expressions."
  }

  assert {
    condition = (
      output.alarm_definitions["ratio.chat-5xx"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["ratio.chat-5xx"].threshold == 0.05 &&
      output.alarm_definitions["ratio.chat-5xx"].evaluation_periods == 5 &&
      output.alarm_definitions["ratio.chat-5xx"].datapoints_to_alarm == 5 &&
      output.alarm_definitions["ratio.chat-5xx"].treat_missing_data == "notBreaching" &&
      output.alarm_definitions["ratio.chat-5xx"].severity == "critical" &&
      output.alarm_definitions["ratio.chat-5xx"].alarm_actions == toset([output.topic_arns["critical"]])
    )
    error_message = "The ratio alarm must be > 0.05 for 5 of 5 periods, missing data not breaching, critical."
  }

  assert {
    condition     = contains(output.sidecar_policy_namespaces, "Chat")
    error_message = "The sidecar's policy must allow the namespace its scraped metrics are published to."
  }
}

run "ratio_alarm_label_sets_and_dimensions" {
  command = plan

  variables {
    ratio_alarms = {
      rooms-5xx = {
        namespace        = "Chat"
        metric_name      = "http_requests_total"
        dimensions       = { service_name = "chat" }
        label_sets       = [{ method = "GET", path = "/rooms" }, { method = "POST", path = "/messages" }]
        status_dimension = "code"
        error_statuses   = ["500"]
        other_statuses   = ["200", "201"]
        threshold        = 0.1
        min_requests     = 5
        period           = 10
        high_resolution  = true
        severity         = "warning"
        alarm_name       = "chat-rooms-5xx"
      }
    }
  }

  assert {
    condition = {
      for q in output.alarm_definitions["ratio.rooms-5xx"].metric_queries : q.id => q.metric.dimensions if q.metric != null
      } == {
      e0 = tomap({ service_name = "chat", method = "GET", path = "/rooms", code = "500" }),
      e1 = tomap({ service_name = "chat", method = "POST", path = "/messages", code = "500" }),
      o0 = tomap({ service_name = "chat", method = "GET", path = "/rooms", code = "200" }),
      o1 = tomap({ service_name = "chat", method = "GET", path = "/rooms", code = "201" }),
      o2 = tomap({ service_name = "chat", method = "POST", path = "/messages", code = "200" }),
      o3 = tomap({ service_name = "chat", method = "POST", path = "/messages", code = "201" }),
    }
    error_message = "Given dimensions replace the sidecar's; each label set is crossed with each status."
  }

  assert {
    condition = (
      [for q in output.alarm_definitions["ratio.rooms-5xx"].metric_queries : q.expression if q.id == "errors"] == ["SUM(FILL([e0, e1], 0))"] &&
      [for q in output.alarm_definitions["ratio.rooms-5xx"].metric_queries : q.expression if q.id == "requests"] == ["SUM(FILL([e0, e1, o0, o1, o2, o3], 0))"] &&
      [for q in output.alarm_definitions["ratio.rooms-5xx"].metric_queries : q.expression if q.id == "ratio"] == ["IF(requests >= 5, errors / requests, 0)"]
    )
    error_message = "errors and requests must add every label set's series."
  }

  assert {
    condition = (
      output.alarm_definitions["ratio.rooms-5xx"].alarm_name == "chat-rooms-5xx" &&
      output.alarm_definitions["ratio.rooms-5xx"].period == null &&
      alltrue([for q in output.alarm_definitions["ratio.rooms-5xx"].metric_queries : q.metric == null ? true : q.metric.period == 10]) &&
      output.alarm_definitions["ratio.rooms-5xx"].high_resolution == true &&
      output.alarm_definitions["ratio.rooms-5xx"].severity == "warning"
    )
    error_message = "alarm_name, a 10 s high-resolution period on every metric, and the severity must apply."
  }
}

run "nonzero_alarm" {
  command = apply

  assert {
    condition = (
      output.alarm_definitions["nonzero.chat-db-errors"].alarm_name == "cw-chat-db-errors" &&
      output.nonzero_alarm_names == { chat-db-errors = "cw-chat-db-errors" } &&
      output.alarm_definitions["nonzero.chat-db-errors"].namespace == "Chat" &&
      output.alarm_definitions["nonzero.chat-db-errors"].metric_name == "db_errors_total" &&
      output.alarm_definitions["nonzero.chat-db-errors"].dimensions == tomap({ Environment = "prod" }) &&
      output.alarm_definitions["nonzero.chat-db-errors"].statistic == "Sum" &&
      output.alarm_definitions["nonzero.chat-db-errors"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["nonzero.chat-db-errors"].threshold == 0 &&
      output.alarm_definitions["nonzero.chat-db-errors"].period == 60 &&
      output.alarm_definitions["nonzero.chat-db-errors"].evaluation_periods == 1 &&
      output.alarm_definitions["nonzero.chat-db-errors"].datapoints_to_alarm == 1 &&
      output.alarm_definitions["nonzero.chat-db-errors"].treat_missing_data == "notBreaching" &&
      output.alarm_definitions["nonzero.chat-db-errors"].metric_queries == [] &&
      output.alarm_definitions["nonzero.chat-db-errors"].severity == "critical" &&
      output.alarm_definitions["nonzero.chat-db-errors"].alarm_actions == toset([output.topic_arns["critical"]])
    )
    error_message = "The db errors alarm must be Sum of db_errors_total > 0 in 60 s on exactly the sidecar's dimensions, missing data not breaching, critical."
  }
}

run "nonzero_alarm_settings" {
  command = plan

  variables {
    nonzero_alarms = {
      chat-db-errors = {
        namespace           = "Chat"
        metric_name         = "db_errors_total"
        dimensions          = {}
        threshold           = 2
        period              = 10
        high_resolution     = true
        evaluation_periods  = 3
        datapoints_to_alarm = 2
        treat_missing_data  = "missing"
        severity            = "warning"
      }
    }
  }

  assert {
    condition = (
      length(output.alarm_definitions["nonzero.chat-db-errors"].dimensions) == 0 &&
      output.alarm_definitions["nonzero.chat-db-errors"].threshold == 2 &&
      output.alarm_definitions["nonzero.chat-db-errors"].period == 10 &&
      output.alarm_definitions["nonzero.chat-db-errors"].evaluation_periods == 3 &&
      output.alarm_definitions["nonzero.chat-db-errors"].datapoints_to_alarm == 2 &&
      output.alarm_definitions["nonzero.chat-db-errors"].treat_missing_data == "missing" &&
      output.alarm_definitions["nonzero.chat-db-errors"].severity == "warning"
    )
    error_message = "Explicit empty dimensions, threshold, 10 s high-resolution period, 2 of 3 and missing-data treatment must apply."
  }
}

run "composite_over_instrumented_alarms" {
  command = apply

  variables {
    composite_alarms = {
      chat-health = { alarms = ["ratio.chat-5xx", "nonzero.chat-db-errors"], severity = "critical" }
    }
  }

  assert {
    condition     = output.composite_alarms["chat-health"].alarm_rule == "ALARM(\"cw-chat-5xx\") OR ALARM(\"cw-chat-db-errors\")"
    error_message = "Composite alarms must refer to ratio.<key> and nonzero.<key>."
  }
}

# Validation failures: each run breaks one rule.

run "ratio_too_many_series" {
  command = plan

  variables {
    ratio_alarms = {
      x = {
        namespace      = "Chat", metric_name = "http_requests_total", threshold = 0.05
        label_sets     = [{ path = "/a" }, { path = "/b" }, { path = "/c" }]
        error_statuses = ["500", "503"], other_statuses = ["200", "404"]
      }
    }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_status_in_both_lists" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, error_statuses = ["500"], other_statuses = ["200", "500"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_needs_other_statuses" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, error_statuses = ["500"], other_statuses = [] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_threshold_is_a_share" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 5, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_min_requests_at_least_one" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, min_requests = 0, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_status_dimension_not_in_dimensions" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, dimensions = { status = "500" }, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_label_set_not_repeating_dimensions" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, dimensions = { method = "GET" }, label_sets = [{ method = "POST" }], error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_short_period_needs_high_resolution" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, period = 10, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_key_not_a_contract_alarm" {
  command = plan

  variables {
    ratio_alarms = { http_5xx_rate = { namespace = "Chat", metric_name = "http_requests_total", threshold = 0.05, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "ratio_namespace_not_aws" {
  command = plan

  variables {
    ratio_alarms = { x = { namespace = "AWS/ApplicationELB", metric_name = "http_requests_total", threshold = 0.05, error_statuses = ["500"], other_statuses = ["200"] } }
  }

  expect_failures = [var.ratio_alarms]
}

run "nonzero_statistic_must_count" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", statistic = "Average" } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_threshold_not_negative" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", threshold = -1 } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_short_period_needs_high_resolution" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", period = 10 } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_datapoints_within_evaluation_periods" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", evaluation_periods = 1, datapoints_to_alarm = 2 } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_missing_data_treatment_known" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", treat_missing_data = "zero" } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_dimension_value_not_blank" {
  command = plan

  variables {
    nonzero_alarms = { x = { namespace = "Chat", metric_name = "db_errors_total", dimensions = { service_name = " " } } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "nonzero_key_is_a_name" {
  command = plan

  variables {
    nonzero_alarms = { "db.errors" = { namespace = "Chat", metric_name = "db_errors_total" } }
  }

  expect_failures = [var.nonzero_alarms]
}

run "metric_alarms_at_most_10_metrics" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = {
      a = {
        comparison_operator = "GreaterThanThreshold"
        threshold           = 1
        metric_queries = concat(
          [for i in range(11) : { id = "m${i}", metric = { namespace = "Chat", metric_name = "x", dimensions = { status = tostring(i) }, stat = "Sum" } }],
          [{ id = "total", expression = "SUM([${join(", ", [for i in range(11) : "m${i}"])}])", return_data = true }],
        )
      }
    }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_query_ids_unique" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = {
      a = {
        comparison_operator = "GreaterThanThreshold"
        threshold           = 1
        metric_queries = [
          { id = "m", metric = { namespace = "Chat", metric_name = "x", stat = "Sum" } },
          { id = "m", expression = "m * 2", return_data = true },
        ]
      }
    }
  }

  expect_failures = [var.alarms]
}
