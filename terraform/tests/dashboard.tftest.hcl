# The dashboard JSON: its widgets, the metric names and dimensions they graph, and the
# alarm-status widget; from the root module and from modules/dashboard directly.

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

run "root_dashboard_matches_the_contract" {
  command = plan

  variables {
    name               = "cw"
    sidecar_dimensions = { Environment = "prod" }
    services = [
      { name = "checkout", namespace = "Shop", latency_p99_threshold_ms = 800 },
      { name = "billing", namespace = "Billing" },
    ]
  }

  assert {
    condition     = output.dashboard_name == "cw"
    error_message = "The dashboard is named after name."
  }

  assert {
    # 1 alarm-status widget, a header + 4 graphs per service, a header + 4 graphs for the sidecar.
    condition     = length(jsondecode(output.dashboard_body).widgets) == 1 + 2 * 5 + 5
    error_message = "Expected the alarm widget, a row per service and the sidecar's row."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : m[1]] if w.type == "metric" && startswith(try(w.properties.title, ""), "checkout")
    ])) == toset(["RequestCount", "Http5xx", "JobFailed", "Latency", "QueueDepth"])
    error_message = "A service row must graph exactly the contract's metrics."
  }

  assert {
    condition = alltrue(flatten([
      for w in jsondecode(output.dashboard_body).widgets : [
        for m in w.properties.metrics : m[0] == "Shop" && slice(m, 2, 6) == ["Environment", "prod", "Service", "checkout"] && length(m) == 7
      ] if w.type == "metric" && startswith(try(w.properties.title, ""), "checkout")
    ]))
    error_message = "The checkout graphs must read namespace Shop with exactly the alarms' dimensions (Environment=prod, Service=checkout)."
  }

  assert {
    condition = [
      for m in one([for w in jsondecode(output.dashboard_body).widgets : w if w.type == "metric" && try(w.properties.title, "") == "checkout: latency"]).properties.metrics : m[6].stat
    ] == ["p50", "p90", "p99"]
    error_message = "The latency graph must show p50, p90 and p99."
  }

  assert {
    condition     = one([for w in jsondecode(output.dashboard_body).widgets : w if w.type == "metric" && try(w.properties.title, "") == "checkout: latency"]).properties.annotations.horizontal[0].value == 800
    error_message = "The latency graph must draw the p99 alarm threshold."
  }

  assert {
    condition = [
      for m in one([for w in jsondecode(output.dashboard_body).widgets : w if w.type == "metric" && try(w.properties.title, "") == "checkout: errors and error rate"]).properties.metrics : "${m[1]}/${m[6].stat}"
    ] == ["Http5xx/Sum", "Http5xx/Average", "JobFailed/Average"]
    error_message = "The errors graph must show 5xx count, 5xx rate and job failure rate."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : m[1]] if w.type == "metric" && startswith(try(w.properties.title, ""), "sidecar")
    ])) == toset(["Heartbeat", "RecordsAccepted", "RecordsRejected", "DatumsPublished", "DatumsDropped", "PublishFailures", "ThrottledRequests", "BufferedDatums"])
    error_message = "The sidecar row must graph all its self metrics."
  }

  assert {
    condition = alltrue(flatten([
      for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : m[0] == "CWSidecar" && slice(m, 2, 4) == ["Environment", "prod"] && length(m) == 5] if w.type == "metric" && startswith(try(w.properties.title, ""), "sidecar")
    ]))
    error_message = "The sidecar graphs must read CWSidecar with exactly the sidecar's dimensions."
  }

  assert {
    condition = toset(one([for w in jsondecode(output.dashboard_body).widgets : w if w.type == "alarm"]).properties.alarms) == toset([
      for n in values(output.alarm_names) : "arn:aws:cloudwatch:us-east-1:123456789012:alarm:${n}"
    ])
    error_message = "The alarm-status widget must show every alarm, by ARN."
  }

  assert {
    condition     = alltrue([for w in jsondecode(output.dashboard_body).widgets : w.x + w.width <= 24 && w.x >= 0 && w.y >= 0])
    error_message = "Widgets must fit the 24-column grid."
  }

  assert {
    condition     = alltrue([for w in jsondecode(output.dashboard_body).widgets : w.properties.region == "us-east-1" if w.type == "metric"])
    error_message = "Graphs read the provider's region."
  }
}

run "root_dashboard_disabled" {
  command = plan

  variables {
    name              = "cw"
    services          = [{ name = "checkout", namespace = "Shop" }]
    dashboard_enabled = false
  }

  assert {
    condition     = output.dashboard_name == null && output.dashboard_body == null
    error_message = "dashboard_enabled = false must create no dashboard."
  }
}

run "module_custom_metric_names_and_no_sidecar_row" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "custom"
    region         = "eu-west-1"
    period         = 300
    services = [{
      name       = "api"
      namespace  = "Legacy"
      dimensions = { App = "api" }
      metrics    = { request_count = "Requests", http_5xx = "Errors5xx" }
    }]
    sidecar = { enabled = false }
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 5
    error_message = "No alarms and no sidecar row: only the service's header and four graphs."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in w.properties.metrics : m[1]] if w.type == "metric"
    ])) == toset(["Requests", "Errors5xx", "JobFailed", "Latency", "QueueDepth"])
    error_message = "Renamed metrics must be graphed under their names."
  }

  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in w.properties.metrics : slice(m, 2, 4) == ["App", "api"] && length(m) == 5] if w.type == "metric"
    ]))
    error_message = "Explicit dimensions must be graphed exactly."
  }

  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.period == 300 && w.properties.region == "eu-west-1" if w.type == "metric"])
    error_message = "period and region must reach every graph."
  }
}

run "module_splits_alarm_widgets_by_100" {
  command = plan

  module {
    source = "./modules/dashboard"
  }

  variables {
    dashboard_name = "many"
    alarm_arns     = [for i in range(150) : "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a${i}"]
  }

  assert {
    condition     = [for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : length(w.properties.alarms) if w.type == "alarm"] == [100, 50]
    error_message = "An alarm-status widget holds at most 100 alarms."
  }
}
