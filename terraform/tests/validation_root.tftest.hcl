# Every input validation of the root module: a wrong input fails at plan time.
# Each run breaks one rule; expect_failures names the variable that must reject it.

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

# A wrong input still lets the plan go on; the policy resources then need real JSON.
override_data {
  target = module.sns_alerts[0].data.aws_iam_policy_document.kms
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.sns_alerts[0].data.aws_iam_policy_document.topic
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.sidecar_iam[0].data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

variables {
  name = "cw"
}

run "name_must_be_a_resource_name" {
  command = plan

  variables {
    name = "bad name!"
  }

  expect_failures = [var.name]
}

run "name_must_not_be_empty" {
  command = plan

  variables {
    name = ""
  }

  expect_failures = [var.name]
}

run "service_name_must_be_a_dimension_value" {
  command = plan

  variables {
    services = [{ name = "check out", namespace = "Shop" }]
  }

  expect_failures = [var.services]
}

run "service_names_must_be_unique" {
  command = plan

  variables {
    services = [{ name = "a", namespace = "Shop" }, { name = "a", namespace = "Shop" }]
  }

  expect_failures = [var.services]
}

run "service_namespace_must_not_be_reserved" {
  command = plan

  variables {
    services = [{ name = "a", namespace = "AWS/EC2" }]
  }

  expect_failures = [var.services]
}

run "service_namespace_must_not_be_empty" {
  command = plan

  variables {
    services = [{ name = "a", namespace = " " }]
  }

  expect_failures = [var.services]
}

run "service_dimension_names_must_not_start_with_colon" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", dimensions = { ":Service" = "checkout" } }]
  }

  expect_failures = [var.services]
}

run "service_dimensions_at_most_30" {
  command = plan

  variables {
    services = [{ name = "a", namespace = "Shop", dimensions = { for i in range(31) : "D${i}" => "v" } }]
  }

  expect_failures = [var.services]
}

run "latency_threshold_must_be_positive" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", latency_p99_threshold_ms = 0 }]
  }

  expect_failures = [var.services]
}

run "http_5xx_alarm_form_must_be_known" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", http_5xx_alarm_form = "sum" }]
  }

  expect_failures = [var.services]
}

run "service_override_key_must_be_a_contract_alarm" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { latency_p50 = {} } }]
  }

  expect_failures = [var.services]
}

run "service_override_short_period_needs_high_resolution" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { http_5xx_rate = { period = 10 } } }]
  }

  expect_failures = [var.services]
}

run "service_override_window_at_most_a_day" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { http_5xx_rate = { period = 120, evaluation_periods = 721 } } }]
  }

  expect_failures = [var.services]
}

run "service_override_datapoints_at_most_evaluation_periods" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { http_5xx_rate = { evaluation_periods = 2, datapoints_to_alarm = 3 } } }]
  }

  expect_failures = [var.services]
}

run "service_override_rate_threshold_below_one" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { http_5xx_rate = { threshold = 1.5 } } }]
  }

  expect_failures = [var.services]
}

run "service_override_severity_must_be_known" {
  command = plan

  variables {
    services = [{ name = "checkout", namespace = "Shop", alarm_overrides = { queue_depth = { severity = "page" } } }]
  }

  expect_failures = [var.services]
}

run "contract_override_key_must_be_a_contract_alarm" {
  command = plan

  variables {
    contract_alarm_overrides = { latency_p50 = {} }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_period_10_needs_high_resolution" {
  command = plan

  variables {
    contract_alarm_overrides = { http_5xx_rate = { period = 10 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_period_must_be_multiple_of_60" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { period = 90 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_period_45_not_allowed_even_high_resolution" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { period = 45, high_resolution = true } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_window_at_most_a_day_under_an_hour" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { period = 60, evaluation_periods = 1441 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_window_at_most_a_week_from_an_hour" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { period = 3600, evaluation_periods = 169 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_evaluation_periods_at_least_one" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { evaluation_periods = 0 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_datapoints_at_most_evaluation_periods" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { evaluation_periods = 3, datapoints_to_alarm = 4 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_treat_missing_data_must_be_known" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { treat_missing_data = "zero" } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_severity_must_be_known" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { severity = "page" } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_rate_threshold_must_be_a_fraction" {
  command = plan

  variables {
    contract_alarm_overrides = { job_failed_rate = { threshold = 5 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_rate_threshold_must_be_above_zero" {
  command = plan

  variables {
    contract_alarm_overrides = { http_5xx_rate = { threshold = 0 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "contract_queue_depth_threshold_not_negative" {
  command = plan

  variables {
    contract_alarm_overrides = { queue_depth = { threshold = -1 } }
  }

  expect_failures = [var.contract_alarm_overrides]
}

run "sidecar_namespace_must_not_be_empty" {
  command = plan

  variables {
    sidecar_namespace = ""
  }

  expect_failures = [var.sidecar_namespace]
}

run "sidecar_namespace_must_not_be_reserved" {
  command = plan

  variables {
    sidecar_namespace = "AWS/Sidecar"
  }

  expect_failures = [var.sidecar_namespace]
}

run "sidecar_dimension_values_must_not_be_blank" {
  command = plan

  variables {
    sidecar_dimensions = { Environment = " " }
  }

  expect_failures = [var.sidecar_dimensions]
}

run "sidecar_expected_replicas_at_least_one" {
  command = plan

  variables {
    sidecar_expected_replicas = 0
  }

  expect_failures = [var.sidecar_expected_replicas]
}

run "sidecar_expected_replicas_whole" {
  command = plan

  variables {
    sidecar_expected_replicas = 1.5
  }

  expect_failures = [var.sidecar_expected_replicas]
}

run "sidecar_flush_interval_in_range" {
  command = plan

  variables {
    sidecar_flush_interval_seconds = 0
  }

  expect_failures = [var.sidecar_flush_interval_seconds]
}

run "sidecar_override_key_must_be_a_sidecar_alarm" {
  command = plan

  variables {
    sidecar_alarm_overrides = { uptime = {} }
  }

  expect_failures = [var.sidecar_alarm_overrides]
}

run "sidecar_override_period_30_needs_high_resolution" {
  command = plan

  variables {
    sidecar_alarm_overrides = { heartbeat = { period = 30 } }
  }

  expect_failures = [var.sidecar_alarm_overrides]
}

run "sidecar_override_datapoints_at_most_evaluation_periods" {
  command = plan

  variables {
    sidecar_alarm_overrides = { heartbeat = { evaluation_periods = 1, datapoints_to_alarm = 2 } }
  }

  expect_failures = [var.sidecar_alarm_overrides]
}

run "existing_topic_arns_must_be_topic_arns" {
  command = plan

  variables {
    existing_topic_arns = { critical = "pager" }
  }

  expect_failures = [var.existing_topic_arns]
}

run "existing_topics_need_both_severities" {
  command = plan

  variables {
    create_topics       = false
    existing_topic_arns = { critical = "arn:aws:sns:us-east-1:123456789012:pager" }
  }

  expect_failures = [var.existing_topic_arns]
}

run "kms_encryption_must_be_known" {
  command = plan

  variables {
    kms_encryption = "aws-managed"
  }

  expect_failures = [var.kms_encryption]
}

run "extra_alarm_keys_must_not_contain_dots" {
  command = plan

  variables {
    extra_alarms = { "a.b" = { namespace = "Shop", metric_name = "M", statistic = "Sum", comparison_operator = "GreaterThanThreshold", threshold = 1 } }
  }

  expect_failures = [var.extra_alarms]
}

run "composite_alarm_keys_must_be_names" {
  command = plan

  variables {
    composite_alarms = { "a b" = { alarm_rule = "ALARM(x)" } }
  }

  expect_failures = [var.composite_alarms]
}
