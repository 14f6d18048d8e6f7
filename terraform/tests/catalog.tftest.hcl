
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


# The metric catalog rendered: every alarm and every widget of the demo's catalog
# (examples/complete/metrics.yaml, the file the sidecar enforces) is in the plan, each
# with exactly the catalog's metric, statistic and dimensions.
run "catalog_alarms_and_widgets_are_in_the_plan" {
  command = plan

  variables {
    name    = "cw"
    catalog = yamldecode(file("examples/complete/metrics.yaml"))
  }

  assert {
    condition     = toset(keys(output.catalog_alarm_names)) == toset([for a in var.catalog.alarms : a.name])
    error_message = "Every catalog alarm must be rendered, and no other."
  }

  assert {
    condition = alltrue([
      for a in var.catalog.alarms : a.kind == "ratio" || (
        jsonencode(module.alarms.alarms["catalog.${a.name}"].dimensions) == jsonencode(a.dimensions) &&
        module.alarms.alarms["catalog.${a.name}"].metric_name == a.metric &&
        module.alarms.alarms["catalog.${a.name}"].namespace == "Demo" &&
        module.alarms.alarms["catalog.${a.name}"].period == a.period &&
        module.alarms.alarms["catalog.${a.name}"].alarm_name == "cw-${a.name}"
      )
    ])
    error_message = "A threshold or nonzero alarm must watch exactly its metric, namespace, period and dimensions."
  }

  assert {
    condition     = module.alarms.alarms["catalog.checkout-p99-latency"].extended_statistic == "p99" && module.alarms.alarms["catalog.checkout-5xx-rate"].statistic == "Average"
    error_message = "A percentile is an extended statistic; Average a statistic."
  }

  assert {
    # The queries are a set in the provider's schema: compared as one.
    condition = toset([
      for q in module.alarms.alarms["catalog.checkout-http-5xx-ratio"].metric_queries : q.metric == null ? q.expression : "${q.metric.metric_name}/${q.metric.stat}/${jsonencode(q.metric.dimensions)}"
    ]) == toset(["Http5xx/Sum/{\"Environment\":\"demo\",\"Service\":\"checkout\"}", "RequestCount/Sum/{\"Environment\":\"demo\",\"Service\":\"checkout\"}", "IF(denominator > 0, numerator / denominator, 0)"])
    error_message = "A ratio alarm is its metric's Sum over its denominator's, with the catalog's dimensions."
  }

  assert {
    condition = [
      for w in jsondecode(output.dashboard_body).widgets : try(w.properties.title, "") if w.type == "metric" && !startswith(try(w.properties.title, "sidecar"), "sidecar")
    ] == flatten([for r in var.catalog.dashboard.rows : [for w in r.widgets : w.title]])
    error_message = "Every catalog widget must be on the dashboard, in the catalog's order (and no service rows without services)."
  }

  assert {
    condition = flatten([
      for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : jsonencode(m)] if w.type == "metric" && !startswith(try(w.properties.title, "sidecar"), "sidecar")
      ]) == flatten([for r in var.catalog.dashboard.rows : [for w in r.widgets : [
        for m in w.metrics : jsonencode(concat(["Demo", m.metric], flatten([for k in sort(keys(m.dimensions)) : [k, m.dimensions[k]]]), [{ stat = m.statistic, label = try(m.label, "${m.metric} ${m.statistic}") }]))
    ]]])
    error_message = "Each widget must graph exactly its catalog series: namespace, metric, exact dimensions, statistic."
  }

}

run "without_a_catalog_nothing_of_it_is_rendered" {
  command = plan

  variables {
    name = "cw"
  }

  assert {
    condition     = length(output.catalog_alarm_names) == 0 && length([for k in keys(module.alarms.alarms) : k if startswith(k, "catalog.")]) == 0
    error_message = "No catalog, no catalog alarms."
  }
}

run "an_alarm_on_an_undeclared_metric_is_refused" {
  command = plan

  variables {
    name    = "cw"
    catalog = merge(yamldecode(file("examples/complete/metrics.yaml")), { alarms = [merge(yamldecode(file("examples/complete/metrics.yaml")).alarms[0], { metric = "Http5xxx" })] })
  }

  expect_failures = [var.catalog]
}
