# Plan-time assertions on the metric contract's alarms: what the root module asks
# CloudWatch for, from given inputs. No AWS account: the provider is mocked.

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
  name = "cw"
  services = [
    { name = "checkout", namespace = "Shop", latency_p99_threshold_ms = 800 },
    { name = "billing", namespace = "Shop" },
  ]
}

run "contract_defaults" {
  command = apply

  assert {
    condition     = length(output.alarm_definitions) == 8 + 4
    error_message = "Expected 4 contract alarms per service and 4 sidecar alarms (heartbeat, drops, publish errors, active series)."
  }

  assert {
    condition = (
      output.alarm_definitions["checkout.http_5xx_rate"].alarm_name == "cw-checkout-http-5xx-rate" &&
      output.alarm_definitions["checkout.http_5xx_rate"].namespace == "Shop" &&
      output.alarm_definitions["checkout.http_5xx_rate"].metric_name == "Http5xx" &&
      output.alarm_definitions["checkout.http_5xx_rate"].dimensions == tomap({ Service = "checkout" }) &&
      output.alarm_definitions["checkout.http_5xx_rate"].statistic == "Average" &&
      output.alarm_definitions["checkout.http_5xx_rate"].extended_statistic == null &&
      output.alarm_definitions["checkout.http_5xx_rate"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["checkout.http_5xx_rate"].threshold == 0.01 &&
      output.alarm_definitions["checkout.http_5xx_rate"].period == 60 &&
      output.alarm_definitions["checkout.http_5xx_rate"].evaluation_periods == 5 &&
      output.alarm_definitions["checkout.http_5xx_rate"].datapoints_to_alarm == 5 &&
      output.alarm_definitions["checkout.http_5xx_rate"].treat_missing_data == "notBreaching" &&
      output.alarm_definitions["checkout.http_5xx_rate"].severity == "critical"
    )
    error_message = "Http5xx alarm must be Average > 0.01 for 5 of 5 minutes on exactly {Service = checkout}, critical."
  }

  assert {
    condition = (
      output.alarm_definitions["checkout.latency_p99"].extended_statistic == "p99" &&
      output.alarm_definitions["checkout.latency_p99"].statistic == null &&
      output.alarm_definitions["checkout.latency_p99"].metric_name == "Latency" &&
      output.alarm_definitions["checkout.latency_p99"].threshold == 800 &&
      output.alarm_definitions["checkout.latency_p99"].datapoints_to_alarm == 3 &&
      output.alarm_definitions["checkout.latency_p99"].severity == "warning"
    )
    error_message = "Latency alarm must be p99 > the service's threshold (800 ms), 3 of 5, warning."
  }

  assert {
    condition     = output.alarm_definitions["billing.latency_p99"].threshold == 1000
    error_message = "latency_p99_threshold_ms defaults to 1000."
  }

  assert {
    condition = (
      output.alarm_definitions["billing.job_failed_rate"].metric_name == "JobFailed" &&
      output.alarm_definitions["billing.job_failed_rate"].statistic == "Average" &&
      output.alarm_definitions["billing.job_failed_rate"].threshold == 0.05 &&
      output.alarm_definitions["billing.job_failed_rate"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["billing.job_failed_rate"].severity == "critical"
    )
    error_message = "JobFailed alarm must be Average > 0.05, critical."
  }

  assert {
    condition = (
      output.alarm_definitions["billing.queue_depth"].metric_name == "QueueDepth" &&
      output.alarm_definitions["billing.queue_depth"].statistic == "Maximum" &&
      output.alarm_definitions["billing.queue_depth"].threshold == 1000 &&
      output.alarm_definitions["billing.queue_depth"].severity == "warning"
    )
    error_message = "QueueDepth alarm must be Maximum > 1000, warning."
  }

  assert {
    condition     = alltrue([for k, a in output.alarm_definitions : a.dimensions == tomap({ Service = split(".", k)[0] }) if !startswith(k, "sidecar.")])
    error_message = "Every contract alarm's dimensions must be exactly { Service = <service> }."
  }

  assert {
    condition = alltrue([
      for k, a in output.alarm_definitions : (
        a.alarm_actions == toset([output.topic_arns[a.severity]]) && a.ok_actions == toset([output.topic_arns[a.severity]])
      )
    ])
    error_message = "Alarm and OK actions must be the topic of the alarm's severity."
  }

  assert {
    condition     = output.topic_arns["critical"] != output.topic_arns["warning"]
    error_message = "Critical and warning alarms must notify different topics."
  }

  assert {
    condition     = output.service_alarm_names["checkout"] == { http_5xx_rate = "cw-checkout-http-5xx-rate", latency_p99 = "cw-checkout-latency-p99", job_failed_rate = "cw-checkout-job-failed-rate", queue_depth = "cw-checkout-queue-depth" }
    error_message = "service_alarm_names must name the four contract alarms of each service."
  }
}

run "overrides_win_in_order" {
  command = apply

  variables {
    # e2e-style: the 5xx alarm on high-resolution data, 10 s periods.
    contract_alarm_overrides = {
      http_5xx_rate   = { period = 10, evaluation_periods = 3, datapoints_to_alarm = 2, high_resolution = true }
      job_failed_rate = { severity = "warning", treat_missing_data = "ignore" }
    }
    services = [
      {
        name            = "checkout"
        namespace       = "Shop"
        alarm_overrides = { http_5xx_rate = { threshold = 0.02, evaluation_periods = 2 } }
      },
      {
        name            = "billing"
        namespace       = "Shop"
        alarm_overrides = { queue_depth = { enabled = false }, latency_p99 = { evaluation_periods = 2 } }
      },
    ]
  }

  assert {
    condition = (
      output.alarm_definitions["billing.http_5xx_rate"].period == 10 &&
      output.alarm_definitions["billing.http_5xx_rate"].high_resolution == true &&
      output.alarm_definitions["billing.http_5xx_rate"].evaluation_periods == 3 &&
      output.alarm_definitions["billing.http_5xx_rate"].datapoints_to_alarm == 2 &&
      output.alarm_definitions["billing.http_5xx_rate"].threshold == 0.01
    )
    error_message = "contract_alarm_overrides must set period 10 (high-resolution), 2 of 3, and keep the contract threshold."
  }

  assert {
    condition = (
      output.alarm_definitions["checkout.http_5xx_rate"].threshold == 0.02 &&
      output.alarm_definitions["checkout.http_5xx_rate"].evaluation_periods == 2 &&
      output.alarm_definitions["checkout.http_5xx_rate"].datapoints_to_alarm == 2 &&
      output.alarm_definitions["checkout.http_5xx_rate"].period == 10
    )
    error_message = "A service's alarm_overrides must win over contract_alarm_overrides field by field."
  }

  assert {
    condition     = output.alarm_definitions["checkout.job_failed_rate"].severity == "warning" && output.alarm_definitions["checkout.job_failed_rate"].alarm_actions == toset([output.topic_arns["warning"]])
    error_message = "A severity override must route the alarm to the warning topic."
  }

  assert {
    condition     = output.alarm_definitions["checkout.job_failed_rate"].treat_missing_data == "ignore"
    error_message = "treat_missing_data override must apply."
  }

  assert {
    condition     = !contains(keys(output.alarm_definitions), "billing.queue_depth") && contains(keys(output.alarm_definitions), "checkout.queue_depth")
    error_message = "enabled = false must drop only that service's alarm."
  }

  assert {
    condition     = output.service_alarm_names["billing"] == { http_5xx_rate = "cw-billing-http-5xx-rate", latency_p99 = "cw-billing-latency-p99", job_failed_rate = "cw-billing-job-failed-rate" }
    error_message = "service_alarm_names must list only the enabled alarms."
  }

  assert {
    condition     = output.alarm_definitions["billing.latency_p99"].evaluation_periods == 2 && output.alarm_definitions["billing.latency_p99"].datapoints_to_alarm == 2
    error_message = "With fewer evaluation periods, the default M of N must be capped at N."
  }
}

run "ratio_form_uses_metric_math" {
  command = apply

  variables {
    services = [{ name = "billing", namespace = "Billing", http_5xx_alarm_form = "ratio" }]
  }

  assert {
    condition = (
      output.alarm_definitions["billing.http_5xx_rate"].statistic == null &&
      output.alarm_definitions["billing.http_5xx_rate"].metric_name == null &&
      length(output.alarm_definitions["billing.http_5xx_rate"].metric_queries) == 3
    )
    error_message = "The ratio form must be a metric-math alarm with three queries."
  }

  assert {
    condition     = [for q in output.alarm_definitions["billing.http_5xx_rate"].metric_queries : q.expression if q.return_data] == ["errors / requests"]
    error_message = "The ratio alarm must return errors / requests."
  }

  assert {
    condition = alltrue([
      for q in output.alarm_definitions["billing.http_5xx_rate"].metric_queries : q.metric == null ? true : (
        q.metric.namespace == "Billing" && q.metric.stat == "Sum" && q.metric.period == 60 &&
        q.metric.dimensions == tomap({ Service = "billing" }) && contains(["Http5xx", "RequestCount"], q.metric.metric_name)
      )
    ])
    error_message = "The ratio alarm's metrics must be Http5xx and RequestCount Sums on exactly { Service = billing }, at the alarm's period."
  }

  assert {
    condition     = output.alarm_definitions["billing.http_5xx_rate"].threshold == 0.01 && output.alarm_definitions["billing.http_5xx_rate"].comparison_operator == "GreaterThanThreshold"
    error_message = "The ratio alarm keeps the contract threshold."
  }
}

run "service_dimensions_include_sidecar_default_dimensions" {
  command = plan

  variables {
    sidecar_dimensions = { Environment = "prod" }
    services = [
      { name = "checkout", namespace = "Shop" },
      { name = "legacy", namespace = "Shop", dimensions = { Service = "legacy", Host = "a" } },
    ]
  }

  assert {
    condition     = alltrue([for k, a in output.alarm_definitions : a.dimensions == tomap({ Environment = "prod", Service = "checkout" }) if startswith(k, "checkout.")])
    error_message = "The sidecar adds its default dimensions to every record: the service's alarms must carry them."
  }

  assert {
    condition     = alltrue([for k, a in output.alarm_definitions : a.dimensions == tomap({ Service = "legacy", Host = "a" }) if startswith(k, "legacy.")])
    error_message = "A service's explicit dimensions must be used exactly."
  }
}

run "composites_and_extra_alarms" {
  command = apply

  variables {
    service_composite_alarms = true
    extra_alarms = {
      orders-p999 = {
        namespace           = "Shop"
        metric_name         = "Latency"
        dimensions          = { Service = "checkout" }
        extended_statistic  = "p99.9"
        comparison_operator = "GreaterThanThreshold"
        threshold           = 2000
        severity            = "warning"
      }
    }
    composite_alarms = {
      shop-down = { alarms = ["checkout.http_5xx_rate", "billing.http_5xx_rate"], operator = "AND", severity = "critical" }
    }
  }

  assert {
    condition     = output.composite_alarms["checkout.health"].alarm_rule == "ALARM(\"cw-checkout-http-5xx-rate\") OR ALARM(\"cw-checkout-job-failed-rate\") OR ALARM(\"cw-checkout-latency-p99\") OR ALARM(\"cw-checkout-queue-depth\")"
    error_message = "The service health composite must be any of the service's contract alarms."
  }

  assert {
    condition     = output.composite_alarms["checkout.health"].alarm_actions == toset([output.topic_arns["critical"]])
    error_message = "The health composite is critical."
  }

  assert {
    condition     = output.composite_alarms["shop-down"].alarm_rule == "ALARM(\"cw-checkout-http-5xx-rate\") AND ALARM(\"cw-billing-http-5xx-rate\")" && output.composite_alarm_names["shop-down"] == "cw-shop-down"
    error_message = "A composite over alarm keys must join their names with the operator."
  }

  assert {
    condition     = output.alarm_definitions["orders-p999"].alarm_name == "cw-orders-p999" && output.alarm_definitions["orders-p999"].extended_statistic == "p99.9" && output.alarm_definitions["orders-p999"].alarm_actions == toset([output.topic_arns["warning"]])
    error_message = "extra_alarms must be created with the name prefix and their severity's actions."
  }
}

run "no_ok_notifications" {
  command = apply

  variables {
    notify_on_ok = false
  }

  assert {
    condition     = alltrue([for a in values(output.alarm_definitions) : length(a.ok_actions) == 0 && length(a.alarm_actions) == 1])
    error_message = "notify_on_ok = false must leave OK actions empty."
  }
}

run "existing_topics" {
  command = apply

  variables {
    create_topics = false
    existing_topic_arns = {
      critical = "arn:aws:sns:us-east-1:123456789012:pager"
      warning  = "arn:aws:sns:us-east-1:123456789012:chat"
    }
  }

  assert {
    condition     = output.alarm_definitions["checkout.http_5xx_rate"].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:pager"]) && output.alarm_definitions["checkout.queue_depth"].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:chat"])
    error_message = "With create_topics = false, alarms must notify the existing topics by severity."
  }

  assert {
    condition     = output.topic_names == {} && output.kms_key_arn == null
    error_message = "No topic or key may be created with create_topics = false."
  }
}
