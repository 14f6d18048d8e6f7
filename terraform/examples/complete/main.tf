# Everything on: encrypted critical/warning topics with an SQS queue subscribed (plus
# email, HTTPS and Lambda when given), the metric contract's alarms for two services
# (one in the metric-math form), the sidecar's own alarms, composite health alarms,
# an extra metric-math alarm, alarms on a scraped or OTLP-instrumented service (a 5xx
# ratio over http_requests_total and "any database error" on db_errors_total), the
# dashboard, and the sidecar's IAM policy attached to a role.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_partition" "current" {}

# Where alerts land for machines: subscribe anything that reads SQS.
resource "aws_sqs_queue" "alerts" {
  name                      = "${var.name}-alerts"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 345600
}

# The role the sidecar runs as (here assumable by ECS tasks; see examples/ecs-sidecar).
resource "aws_iam_role" "sidecar" {
  name = "${var.name}-sidecar"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksAssumeRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.${data.aws_partition.current.dns_suffix}" }
    }]
  })
}

module "alerting" {
  source = "../../"

  name = var.name
  tags = var.tags

  # The metric catalog the demo's sidecar enforces: its alarms and dashboard rows.
  catalog = yamldecode(file(coalesce(var.catalog_file, "${path.module}/metrics.yaml")))

  services                 = var.services
  contract_alarm_overrides = var.contract_alarm_overrides
  service_composite_alarms = true

  sidecar_namespace              = var.sidecar_namespace
  sidecar_dimensions             = var.sidecar_dimensions
  sidecar_expected_replicas      = var.sidecar_expected_replicas
  sidecar_flush_interval_seconds = var.sidecar_flush_interval_seconds
  sidecar_alarm_overrides        = var.sidecar_alarm_overrides

  kms_encryption                  = "create"
  kms_key_deletion_window_in_days = var.kms_key_deletion_window_in_days

  subscriptions = merge(
    {
      alerts_queue = {
        protocol = "sqs"
        endpoint = aws_sqs_queue.alerts.arn
      }
    },
    var.alert_email == null ? {} : {
      oncall_email = { protocol = "email", endpoint = var.alert_email, severities = ["critical"] }
    },
    var.https_endpoint == null ? {} : {
      webhook = { protocol = "https", endpoint = var.https_endpoint }
    },
    var.lambda_function_arn == null ? {} : {
      pager_lambda = { protocol = "lambda", endpoint = var.lambda_function_arn, severities = ["critical"] }
    },
  )

  # Alarms on a service the sidecar scrapes (Prometheus) or receives over OTLP, as a chat
  # service alerts: "5xx above 5% of requests" and "any database error". The metric names
  # are the Prometheus family / OTLP metric names; the namespace is the one the sidecar's
  # scrape or OTLP config publishes them to.
  ratio_alarms = {
    chat-5xx-ratio = {
      description         = "chat: 5xx responses above a share of ${var.chat_5xx_ratio_alarm.threshold} of requests (http_requests_total by status), with at least ${var.chat_5xx_ratio_alarm.min_requests} requests per period."
      severity            = "critical"
      namespace           = var.instrumented_namespace
      metric_name         = "http_requests_total"
      dimensions          = var.instrumented_dimensions
      status_dimension    = "status"
      error_statuses      = var.chat_5xx_ratio_alarm.error_statuses
      other_statuses      = var.chat_5xx_ratio_alarm.other_statuses
      threshold           = var.chat_5xx_ratio_alarm.threshold
      min_requests        = var.chat_5xx_ratio_alarm.min_requests
      period              = var.chat_5xx_ratio_alarm.period
      high_resolution     = var.chat_5xx_ratio_alarm.high_resolution
      evaluation_periods  = var.chat_5xx_ratio_alarm.evaluation_periods
      datapoints_to_alarm = var.chat_5xx_ratio_alarm.datapoints_to_alarm
    }
  }

  nonzero_alarms = {
    chat-db-errors = {
      description         = "chat: any database error (db_errors_total increased)."
      severity            = "critical"
      namespace           = var.instrumented_namespace
      metric_name         = "db_errors_total"
      dimensions          = var.instrumented_dimensions
      statistic           = "Sum"
      threshold           = 0
      period              = var.chat_db_errors_alarm.period
      high_resolution     = var.chat_db_errors_alarm.high_resolution
      evaluation_periods  = var.chat_db_errors_alarm.evaluation_periods
      datapoints_to_alarm = var.chat_db_errors_alarm.datapoints_to_alarm
      treat_missing_data  = "notBreaching"
    }
  }

  # A custom alarm in the metric-math form: the share of records the sidecar rejects.
  extra_alarms = {
    sidecar-rejected-ratio = {
      description         = "cw-sidecar rejects more than 5% of the records it receives: a client sends invalid records."
      severity            = "warning"
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0.05
      period              = 300
      evaluation_periods  = 1
      treat_missing_data  = "notBreaching"
      metric_queries = [
        { id = "rejected", metric = { namespace = var.sidecar_namespace, metric_name = "RecordsRejected", dimensions = var.sidecar_dimensions, stat = "Sum" } },
        { id = "accepted", metric = { namespace = var.sidecar_namespace, metric_name = "RecordsAccepted", dimensions = var.sidecar_dimensions, stat = "Sum" } },
        { id = "ratio", expression = "rejected / (rejected + accepted)", label = "rejected share", return_data = true },
      ]
    }
  }

  sidecar_policy_role_names = { sidecar = aws_iam_role.sidecar.name }
}
