# The same catalog file drives the plan and the sidecar: run by tests/api/catalog_both_sides.rs
# (cargo test -- --include-ignored) in a copy of terraform/, after it wrote metrics.yaml beside
# this file: the demo's catalog with CartSize (and an alarm on it) added and JobFailed (its
# alarm and graph) removed. The same file is then enforced by a sidecar in strict mode.


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


run "the_plan_follows_the_catalog_file" {
  command = plan

  variables {
    name    = "cw"
    catalog = yamldecode(file("tests/catalog_file/metrics.yaml"))
  }

  assert {
    condition     = contains([for a in values(module.alarms.alarms) : a.metric_name], "CartSize")
    error_message = "The metric added to the catalog must have its alarm in the plan."
  }

  assert {
    condition = contains(flatten([
      for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : m[1]] if w.type == "metric"
    ]), "CartSize")
    error_message = "The metric added to the catalog must be graphed on the dashboard."
  }

  assert {
    condition = !contains(concat(
      [for a in values(module.alarms.alarms) : coalesce(a.metric_name, "-")],
      flatten([for a in values(module.alarms.alarms) : [for q in a.metric_queries : q.metric == null ? "-" : q.metric.metric_name]]),
      flatten([for w in jsondecode(output.dashboard_body).widgets : [for m in w.properties.metrics : m[1]] if w.type == "metric"]),
    ), "JobFailed")
    error_message = "The metric removed from the catalog must have no alarm and no graph left in the plan."
  }
}
