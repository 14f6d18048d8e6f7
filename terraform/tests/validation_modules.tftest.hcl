# Every input validation of the submodules (metric-alarms, sns-alerts, dashboard,
# sidecar-iam): a wrong input fails at plan time with a message that says what is allowed.

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

override_data {
  target = data.aws_iam_policy_document.kms
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.topic
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

# The one valid case among them: a 10 s period on a high-resolution metric.
run "metric_alarms_high_resolution_10s_is_valid" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, period = 10, high_resolution = true, evaluation_periods = 3 } }
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["a"].period == 10 && aws_cloudwatch_metric_alarm.this["a"].datapoints_to_alarm == 3
    error_message = "A high-resolution alarm may use a 10 s period; datapoints default to evaluation_periods."
  }
}

run "metric_alarms_name_prefix_at_most_200" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    name_prefix = join("", [for i in range(201) : "a"])
  }

  expect_failures = [var.name_prefix]
}

run "metric_alarms_at_most_5_actions" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    severity_actions = { critical = { alarm_actions = [for i in range(6) : "arn:aws:sns:us-east-1:123456789012:t${i}"] } }
  }

  expect_failures = [var.severity_actions]
}

run "metric_alarms_key_not_empty" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { "" = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_name_at_most_255" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, alarm_name = join("", [for i in range(256) : "a"]) } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_comparison_operator" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThan", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_treat_missing_data" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, treat_missing_data = "zero" } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_period_10_needs_high_resolution" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, period = 10 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_period_multiple_of_60" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, period = 45, high_resolution = true } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_evaluation_periods_at_least_1" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, evaluation_periods = 0 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_window_at_most_a_day" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, period = 60, evaluation_periods = 1441 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_window_at_most_a_week" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, period = 3600, evaluation_periods = 169 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_datapoints_at_most_evaluation_periods" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, evaluation_periods = 2, datapoints_to_alarm = 3 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_needs_a_statistic" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_only_one_statistic" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", extended_statistic = "p99", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_statistic_must_be_known" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Median", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_extended_statistic_must_be_a_percentile" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { extended_statistic = "p999x", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_needs_namespace" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_dimensions_at_most_30" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, dimensions = { for i in range(31) : "D${i}" => "v" } } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_dimension_name_not_colon" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, dimensions = { ":x" = "v" } } }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_math_exactly_one_return_data" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = {
      a = {
        comparison_operator = "GreaterThanThreshold"
        threshold           = 0.01
        metric_queries = [
          { id = "e", metric = { namespace = "Shop", metric_name = "Http5xx", stat = "Sum" }, return_data = true },
          { id = "r", expression = "e * 2", return_data = true },
        ]
      }
    }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_math_metric_stat_must_be_known" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = {
      a = {
        comparison_operator = "GreaterThanThreshold"
        threshold           = 0.01
        metric_queries = [
          { id = "e", metric = { namespace = "Shop", metric_name = "Http5xx", stat = "Total" } },
          { id = "r", expression = "e * 2", return_data = true },
        ]
      }
    }
  }

  expect_failures = [var.alarms]
}

run "metric_alarms_severity_must_have_actions" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01, severity = "critical" } }
  }

  expect_failures = [var.alarms]
}

run "composite_key_not_empty" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    composite_alarms = { "" = { alarm_rule = "ALARM(x)" } }
  }

  expect_failures = [var.composite_alarms]
}

run "composite_rule_or_alarms_not_both" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms           = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
    composite_alarms = { c = { alarm_rule = "ALARM(x)", alarms = ["a"] } }
  }

  expect_failures = [var.composite_alarms]
}

run "composite_alarms_must_be_keys" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms           = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
    composite_alarms = { c = { alarms = ["missing"] } }
  }

  expect_failures = [var.composite_alarms]
}

run "composite_operator_must_be_or_and" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    alarms           = { a = { statistic = "Average", namespace = "Shop", metric_name = "Http5xx", comparison_operator = "GreaterThanThreshold", threshold = 0.01 } }
    composite_alarms = { c = { alarms = ["a"], operator = "XOR" } }
  }

  expect_failures = [var.composite_alarms]
}

run "composite_rule_not_empty" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    composite_alarms = { c = { alarm_rule = "" } }
  }

  expect_failures = [var.composite_alarms]
}

run "composite_severity_must_have_actions" {
  command = plan

  module {
    source = "./modules/metric-alarms"
  }

  variables {
    composite_alarms = { c = { alarm_rule = "ALARM(x)", severity = "critical" } }
  }

  expect_failures = [var.composite_alarms]
}

run "sns_name_prefix_must_be_a_topic_name" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix = "ops alerts"
  }

  expect_failures = [var.name_prefix]
}

run "sns_severities_distinct" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix = "ops"
    severities  = ["critical", "critical"]
  }

  expect_failures = [var.severities]
}

run "sns_severities_not_empty" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix = "ops"
    severities  = []
  }

  expect_failures = [var.severities]
}

run "sns_kms_encryption_must_be_known" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    kms_encryption = "aws/sns"
  }

  expect_failures = [var.kms_encryption]
}

run "sns_kms_key_arn_must_be_an_arn" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    kms_encryption = "existing"
    kms_key_arn    = "my-key"
  }

  expect_failures = [var.kms_key_arn]
}

run "sns_kms_key_arn_required_for_existing" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    kms_encryption = "existing"
  }

  expect_failures = [var.kms_key_arn]
}

run "sns_kms_aws_managed_key_rejected" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    kms_encryption = "existing"
    kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"
  }

  expect_failures = [var.kms_key_arn]
}

run "sns_kms_deletion_window_7_to_30" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix                     = "ops"
    kms_key_deletion_window_in_days = 3
  }

  expect_failures = [var.kms_key_deletion_window_in_days]
}

run "sns_kms_publishers_are_service_principals" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix                      = "ops"
    kms_publisher_service_principals = ["cloudwatch"]
  }

  expect_failures = [var.kms_publisher_service_principals]
}

run "sns_subscription_key_is_a_name" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { "a.b" = { protocol = "email", endpoint = "a@example.com" } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_protocol_must_be_supported" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { sms = { protocol = "sms", endpoint = "+15555550100" } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_endpoint_not_empty" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { mail = { protocol = "email", endpoint = " " } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_sqs_endpoint_is_a_queue_arn" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { q = { protocol = "sqs", endpoint = "https://sqs.us-east-1.amazonaws.com/123456789012/q" } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_raw_delivery_not_for_email" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { mail = { protocol = "email", endpoint = "a@example.com", raw_message_delivery = true } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_filter_policy_is_json" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { mail = { protocol = "email", endpoint = "a@example.com", filter_policy = "severity=critical" } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_filter_scope_must_be_known" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { mail = { protocol = "email", endpoint = "a@example.com", filter_policy_scope = "Body" } }
  }

  expect_failures = [var.subscriptions]
}

run "sns_subscription_severities_subset" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix   = "ops"
    subscriptions = { mail = { protocol = "email", endpoint = "a@example.com", severities = ["info"] } }
  }

  expect_failures = [var.subscriptions]
}

run "dashboard_name_must_be_valid" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "my dashboard"
  }

  expect_failures = [var.dashboard_name]
}

run "dashboard_service_name_not_empty" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    services       = [{ name = "", namespace = "Shop" }]
  }

  expect_failures = [var.services]
}

run "dashboard_service_names_unique" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    services       = [{ name = "a", namespace = "Shop" }, { name = "a", namespace = "Shop" }]
  }

  expect_failures = [var.services]
}

run "dashboard_metric_names_not_empty" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    services       = [{ name = "a", namespace = "Shop", metrics = { latency = "" } }]
  }

  expect_failures = [var.services]
}

run "dashboard_dimensions_at_most_30" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    services       = [{ name = "a", namespace = "Shop", dimensions = { for i in range(31) : "D${i}" => "v" } }]
  }

  expect_failures = [var.services]
}

run "dashboard_sidecar_namespace_not_empty" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    sidecar        = { namespace = "" }
  }

  expect_failures = [var.sidecar]
}

run "dashboard_period_must_be_valid" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "d"
    period         = 45
  }

  expect_failures = [var.period]
}

run "dashboard_time_range_is_a_negative_duration" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name   = "d"
    time_range_start = "3 hours"
  }

  expect_failures = [var.time_range_start]
}

run "iam_policy_name_must_be_valid" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "side car"
    namespaces = ["Shop"]
  }

  expect_failures = [var.name]
}

run "iam_path_must_be_slashed" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = ["Shop"]
    path       = "sidecars"
  }

  expect_failures = [var.path]
}

run "iam_namespaces_not_empty" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = []
  }

  expect_failures = [var.namespaces]
}

run "iam_namespaces_valid_characters" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = ["Shop Front"]
  }

  expect_failures = [var.namespaces]
}

run "iam_namespaces_not_reserved" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = ["AWS/EC2"]
  }

  expect_failures = [var.namespaces]
}

run "iam_role_names_not_arns" {
  command = plan

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = ["Shop"]
    role_names = { task = "arn:aws:iam::123456789012:role/task" }
  }

  expect_failures = [var.role_names]
}
