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
    condition     = length(output.alarm_definitions) == 8 + 3
    error_message = "Expected 4 contract alarms per service and 3 sidecar alarms."
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
