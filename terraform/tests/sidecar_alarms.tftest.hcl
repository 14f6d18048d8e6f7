# Plan-time assertions on the sidecar's own alarms (Heartbeat, DatumsDropped,
# PublishFailures, replicas) and its IAM policy, from the root module.

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
  name     = "cw"
  services = [{ name = "checkout", namespace = "Shop" }]
}

run "sidecar_alarm_defaults" {
  command = apply

  assert {
    condition     = keys(output.sidecar_alarm_names) == ["active_series", "datums_dropped", "heartbeat", "publish_failures"]
    error_message = "Without sidecar_expected_replicas there are four sidecar alarms."
  }

  assert {
    condition = (
      output.alarm_definitions["sidecar.heartbeat"].alarm_name == "cw-sidecar-heartbeat" &&
      output.alarm_definitions["sidecar.heartbeat"].namespace == "CWSidecar" &&
      output.alarm_definitions["sidecar.heartbeat"].metric_name == "Heartbeat" &&
      output.alarm_definitions["sidecar.heartbeat"].statistic == "SampleCount" &&
      output.alarm_definitions["sidecar.heartbeat"].comparison_operator == "LessThanThreshold" &&
      output.alarm_definitions["sidecar.heartbeat"].threshold == 1 &&
      output.alarm_definitions["sidecar.heartbeat"].treat_missing_data == "breaching" &&
      output.alarm_definitions["sidecar.heartbeat"].period == 60 &&
      output.alarm_definitions["sidecar.heartbeat"].evaluation_periods == 3 &&
      output.alarm_definitions["sidecar.heartbeat"].severity == "critical" &&
      output.alarm_definitions["sidecar.heartbeat"].alarm_actions == toset([output.topic_arns["critical"]])
    )
    error_message = "Heartbeat missing: SampleCount < 1 with missing data breaching, 3 minutes, critical."
  }

  assert {
    condition = (
      output.alarm_definitions["sidecar.datums_dropped"].metric_name == "DatumsDropped" &&
      output.alarm_definitions["sidecar.datums_dropped"].statistic == "Sum" &&
      output.alarm_definitions["sidecar.datums_dropped"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["sidecar.datums_dropped"].threshold == 0 &&
      output.alarm_definitions["sidecar.datums_dropped"].treat_missing_data == "notBreaching"
    )
    error_message = "DatumsDropped Sum > 0."
  }

  assert {
    condition = (
      output.alarm_definitions["sidecar.publish_failures"].metric_name == "PublishFailures" &&
      output.alarm_definitions["sidecar.publish_failures"].statistic == "Sum" &&
      output.alarm_definitions["sidecar.publish_failures"].threshold == 0 &&
      output.alarm_definitions["sidecar.publish_failures"].period * output.alarm_definitions["sidecar.publish_failures"].datapoints_to_alarm == 300 &&
      output.alarm_definitions["sidecar.publish_failures"].evaluation_periods == output.alarm_definitions["sidecar.publish_failures"].datapoints_to_alarm
    )
    error_message = "PublishFailures Sum > 0 for 5 minutes."
  }

  assert {
    condition     = alltrue([for k, a in output.alarm_definitions : length(a.dimensions) == 0 if startswith(k, "sidecar.")])
    error_message = "With no sidecar_dimensions the self metrics have no dimensions, and the alarms none either."
  }

  assert {
    condition     = output.sidecar_policy_namespaces == tolist(["Shop", "CWSidecar"])
    error_message = "The sidecar policy must cover the services' namespaces and the sidecar's own."
  }
}

run "sidecar_namespace_and_dimensions_are_exact" {
  command = apply

  variables {
    sidecar_namespace               = "Platform/Sidecar"
    sidecar_dimensions              = { Environment = "prod", Cluster = "eu-1" }
    sidecar_policy_extra_namespaces = ["Batch", "Shop"]
  }

  assert {
    condition = alltrue([
      for k, a in output.alarm_definitions : a.namespace == "Platform/Sidecar" && a.dimensions == tomap({ Environment = "prod", Cluster = "eu-1" }) if startswith(k, "sidecar.")
    ])
    error_message = "Sidecar alarms must use sidecar_namespace and exactly sidecar_dimensions."
  }

  assert {
    condition     = output.sidecar_policy_namespaces == tolist(["Shop", "Platform/Sidecar", "Batch"])
    error_message = "The policy namespaces must be the services', the sidecar's and the extra ones, once each."
  }
}

run "replica_heartbeat_alarm" {
  command = apply

  variables {
    sidecar_expected_replicas      = 3
    sidecar_flush_interval_seconds = 10
  }

  assert {
    condition = (
      output.alarm_definitions["sidecar.heartbeat_replicas"].alarm_name == "cw-sidecar-heartbeat-replicas" &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].statistic == "SampleCount" &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].comparison_operator == "LessThanThreshold" &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].period == 300 &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].threshold == 75 &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].evaluation_periods == 2 &&
      output.alarm_definitions["sidecar.heartbeat_replicas"].treat_missing_data == "breaching"
    )
    error_message = "3 replicas flushing every 10 s send 90 heartbeats per 300 s; below 2.5 replicas' worth (75) one has died."
  }
}

run "sidecar_overrides_and_switches" {
  command = apply

  variables {
    sidecar_alarm_overrides = {
      heartbeat      = { period = 10, evaluation_periods = 3, high_resolution = true }
      datums_dropped = { enabled = false }
    }
  }

  assert {
    condition     = output.alarm_definitions["sidecar.heartbeat"].period == 10 && output.alarm_definitions["sidecar.heartbeat"].high_resolution && output.alarm_definitions["sidecar.heartbeat"].datapoints_to_alarm == 3
    error_message = "sidecar_alarm_overrides must apply."
  }

  assert {
    condition     = !contains(keys(output.alarm_definitions), "sidecar.datums_dropped")
    error_message = "enabled = false must drop the alarm."
  }
}

run "sidecar_alarms_off" {
  command = plan

  variables {
    sidecar_alarms_enabled = false
  }

  assert {
    condition     = length([for k in keys(output.alarm_definitions) : k if startswith(k, "sidecar.")]) == 0 && output.sidecar_alarm_names == {}
    error_message = "sidecar_alarms_enabled = false must create no sidecar alarm."
  }
}

run "active_series_warns_near_the_series_budget" {
  command = apply

  variables {
    sidecar_max_series          = 5000
    sidecar_active_series_share = 0.8
  }

  assert {
    condition = (
      output.alarm_definitions["sidecar.active_series"].metric_name == "ActiveSeries" &&
      output.alarm_definitions["sidecar.active_series"].namespace == "CWSidecar" &&
      output.alarm_definitions["sidecar.active_series"].statistic == "Maximum" &&
      output.alarm_definitions["sidecar.active_series"].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      output.alarm_definitions["sidecar.active_series"].threshold == 4000 &&
      output.alarm_definitions["sidecar.active_series"].severity == "warning" &&
      output.alarm_definitions["sidecar.active_series"].treat_missing_data == "notBreaching"
    )
    error_message = "ActiveSeries must alarm (warning) at 80% of a 5,000-series budget: Maximum >= 4000."
  }
}

run "active_series_default_threshold_is_nine_tenths_of_10000" {
  command = apply

  assert {
    condition     = output.alarm_definitions["sidecar.active_series"].threshold == 9000
    error_message = "With the sidecar's default max_series (10000), ActiveSeries alarms at 9000."
  }
}

# The chat service's rule: keep_dimensions = ["path", "status"] and
# rollups = [["Service", "status"]]; the ratio alarm names the rollup's series
# (Service and status only) while the per-path series are published beside it.
run "ratio_alarm_on_a_rollup_names_exactly_the_rollups_dimensions" {
  command = apply

  variables {
    sidecar_dimensions = { Service = "chat" }
    ratio_alarms = {
      chat-5xx = {
        namespace      = "Chat"
        metric_name    = "http_requests_total"
        error_statuses = ["5xx"]
        other_statuses = ["2xx", "4xx"]
        threshold      = 0.05
      }
    }
  }

  assert {
    condition = [
      for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.metric.dimensions if q.metric != null
      ] == [
      tomap({ Service = "chat", status = "5xx" }),
      tomap({ Service = "chat", status = "2xx" }),
      tomap({ Service = "chat", status = "4xx" }),
    ]
    error_message = "The ratio alarm must name the rollup (Service, status) series, one per status, and nothing per path."
  }

  assert {
    condition     = [for q in output.alarm_definitions["ratio.chat-5xx"].metric_queries : q.expression if q.return_data] == ["IF(requests >= 20, errors / requests, 0)"]
    error_message = "The ratio alarm returns the 5xx share over all requests."
  }
}
