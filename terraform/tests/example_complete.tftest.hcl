# examples/complete at plan time, with the mocked provider: the alarms on the scraped
# chat service that the end-to-end test waits for, and their outputs.

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
  target = module.alerting.module.sns_alerts[0].data.aws_iam_policy_document.kms
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.alerting.module.sns_alerts[0].data.aws_iam_policy_document.topic
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.alerting.module.sidecar_iam[0].data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

run "complete_defaults" {
  command = plan

  module {
    source = "./examples/complete"
  }

  assert {
    condition = (
      output.db_errors_alarm_name == "cw-sidecar-complete-chat-db-errors" &&
      output.http_5xx_ratio_alarm_name == "cw-sidecar-complete-chat-5xx-ratio" &&
      output.nonzero_alarm_names == { chat-db-errors = "cw-sidecar-complete-chat-db-errors" } &&
      output.ratio_alarm_names == { chat-5xx-ratio = "cw-sidecar-complete-chat-5xx-ratio" }
    )
    error_message = "The example must name the chat service's alarms in its outputs."
  }

  assert {
    condition = (
      output.alarm_definitions["nonzero.chat-db-errors"].namespace == "Chat" &&
      output.alarm_definitions["nonzero.chat-db-errors"].metric_name == "db_errors_total" &&
      length(output.alarm_definitions["nonzero.chat-db-errors"].dimensions) == 0 &&
      output.alarm_definitions["nonzero.chat-db-errors"].statistic == "Sum" &&
      output.alarm_definitions["nonzero.chat-db-errors"].comparison_operator == "GreaterThanThreshold" &&
      output.alarm_definitions["nonzero.chat-db-errors"].threshold == 0 &&
      output.alarm_definitions["nonzero.chat-db-errors"].period == 60 &&
      output.alarm_definitions["nonzero.chat-db-errors"].evaluation_periods == 1 &&
      output.alarm_definitions["nonzero.chat-db-errors"].treat_missing_data == "notBreaching" &&
      output.alarm_definitions["nonzero.chat-db-errors"].severity == "critical"
    )
    error_message = "Any database error: Chat db_errors_total Sum > 0 in 60 s, on exactly the sidecar's (here no) dimensions, critical."
  }

  assert {
    condition = (
      length([for q in output.alarm_definitions["ratio.chat-5xx-ratio"].metric_queries : q if q.metric != null]) == 10 &&
      [for q in output.alarm_definitions["ratio.chat-5xx-ratio"].metric_queries : q.expression if q.return_data] == ["IF(requests >= 20, errors / requests, 0)"] &&
      output.alarm_definitions["ratio.chat-5xx-ratio"].threshold == 0.05 &&
      output.alarm_definitions["ratio.chat-5xx-ratio"].evaluation_periods == 5 &&
      output.alarm_definitions["ratio.chat-5xx-ratio"].datapoints_to_alarm == 3
    )
    error_message = "5xx ratio: 10 status series, > 5% with at least 20 requests, 3 of 5 minutes."
  }
}

run "complete_e2e_overrides" {
  command = plan

  module {
    source = "./examples/complete"
  }

  # What the end-to-end test passes with -var.
  variables {
    name                    = "e2e-run"
    instrumented_namespace  = "E2E-Scrape-run"
    sidecar_dimensions      = { Run = "run" }
    chat_db_errors_alarm    = { period = 10, high_resolution = true, evaluation_periods = 1, datapoints_to_alarm = 1 }
    instrumented_dimensions = null
  }

  assert {
    condition = (
      output.db_errors_alarm_name == "e2e-run-chat-db-errors" &&
      output.alarm_definitions["nonzero.chat-db-errors"].namespace == "E2E-Scrape-run" &&
      output.alarm_definitions["nonzero.chat-db-errors"].dimensions == tomap({ Run = "run" }) &&
      output.alarm_definitions["nonzero.chat-db-errors"].period == 10 &&
      output.alarm_definitions["nonzero.chat-db-errors"].high_resolution == true &&
      output.alarm_definitions["nonzero.chat-db-errors"].datapoints_to_alarm == 1
    )
    error_message = "The e2e overrides must give a 10 s alarm on the run's namespace with exactly the sidecar's dimensions."
  }
}
