# modules/sns-alerts and modules/sidecar-iam on their own: topics, KMS key and topic
# policies, subscriptions with their SQS queue policy and Lambda permissions, and the
# sidecar's least-privilege policy. Policy documents are asserted on their statements;
# their rendered JSON is overridden, since a mocked data source returns random text.

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
  mock_data "aws_sqs_queue" {
    defaults = { url = "https://sqs.us-east-1.amazonaws.com/123456789012/alerts" }
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
  target = data.aws_iam_policy_document.queue
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"cloudwatch:PutMetricData\",\"Resource\":\"*\"}]}" }
}

override_resource {
  target = aws_sns_topic.this["critical"]
  values = { arn = "arn:aws:sns:us-east-1:123456789012:ops-critical" }
}

override_resource {
  target = aws_sns_topic.this["warning"]
  values = { arn = "arn:aws:sns:us-east-1:123456789012:ops-warning" }
}

override_resource {
  target = aws_kms_key.this
  values = { arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555", key_id = "11111111-2222-3333-4444-555555555555" }
}

override_resource {
  target = aws_iam_policy.this
  values = { arn = "arn:aws:iam::123456789012:policy/sidecar" }
}

run "sns_topics_encrypted_with_a_key_cloudwatch_can_use" {
  command = apply

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix = "ops"
  }

  assert {
    condition     = aws_sns_topic.this["critical"].name == "ops-critical" && aws_sns_topic.this["warning"].name == "ops-warning" && length(aws_sns_topic.this) == 2
    error_message = "One topic per severity, named <prefix>-<severity>."
  }

  assert {
    condition     = alltrue([for t in aws_sns_topic.this : t.kms_master_key_id == aws_kms_key.this[0].arn])
    error_message = "Both topics must be encrypted with the created customer-managed key."
  }

  assert {
    condition     = aws_kms_key.this[0].enable_key_rotation && aws_kms_alias.this[0].name == "alias/ops-alerts"
    error_message = "The key rotates and has an alias."
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.kms[0].statement : s if s.sid == "AllowAlarmPublishersToUseKey"]).actions == toset(["kms:Decrypt", "kms:GenerateDataKey*"]) &&
      one([for s in data.aws_iam_policy_document.kms[0].statement : s if s.sid == "AllowAlarmPublishersToUseKey"]).effect == "Allow" &&
      one(one([for s in data.aws_iam_policy_document.kms[0].statement : s if s.sid == "AllowAlarmPublishersToUseKey"]).principals).type == "Service" &&
      one(one([for s in data.aws_iam_policy_document.kms[0].statement : s if s.sid == "AllowAlarmPublishersToUseKey"]).principals).identifiers == toset(["cloudwatch.amazonaws.com"])
    )
    error_message = "The key policy must grant cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*."
  }

  assert {
    condition = alltrue([
      for severity in ["critical", "warning"] : (
        one([for s in data.aws_iam_policy_document.topic[severity].statement : s if s.sid == "AllowCloudWatchAlarmsOfThisAccount"]).actions == toset(["sns:Publish"]) &&
        toset([for c in one([for s in data.aws_iam_policy_document.topic[severity].statement : s if s.sid == "AllowCloudWatchAlarmsOfThisAccount"]).condition : "${c.test} ${c.variable} ${join(",", c.values)}"]) == toset([
          "StringEquals aws:SourceAccount 123456789012",
          "ArnLike aws:SourceArn arn:aws:cloudwatch:us-east-1:123456789012:alarm:*",
        ])
      )
    ])
    error_message = "The topic policy must let cloudwatch.amazonaws.com publish only for alarms of the caller's account."
  }

  assert {
    condition     = aws_sns_topic_policy.this["critical"].arn == "arn:aws:sns:us-east-1:123456789012:ops-critical"
    error_message = "Each topic gets its policy."
  }

  assert {
    condition     = output.severity_actions["critical"].alarm_actions == ["arn:aws:sns:us-east-1:123456789012:ops-critical"]
    error_message = "severity_actions must map a severity to its topic."
  }
}

run "sns_subscriptions_with_queue_policy_and_lambda_permission" {
  command = apply

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    kms_encryption = "none"
    subscriptions = {
      queue   = { protocol = "sqs", endpoint = "arn:aws:sqs:us-east-1:123456789012:alerts", raw_message_delivery = true }
      pager   = { protocol = "lambda", endpoint = "arn:aws:lambda:us-east-1:123456789012:function:pager", severities = ["critical"] }
      oncall  = { protocol = "email", endpoint = "oncall@example.com", severities = ["critical"] }
      webhook = { protocol = "https", endpoint = "https://hooks.example.com/alerts", severities = ["warning"] }
    }
  }

  assert {
    condition     = keys(aws_sns_topic_subscription.this) == ["oncall.critical", "pager.critical", "queue.critical", "queue.warning", "webhook.warning"]
    error_message = "A subscription per (subscription, severity) pair, limited by severities."
  }

  assert {
    condition = (
      aws_sns_topic_subscription.this["queue.warning"].protocol == "sqs" &&
      aws_sns_topic_subscription.this["queue.warning"].endpoint == "arn:aws:sqs:us-east-1:123456789012:alerts" &&
      aws_sns_topic_subscription.this["queue.warning"].topic_arn == "arn:aws:sns:us-east-1:123456789012:ops-warning" &&
      aws_sns_topic_subscription.this["queue.warning"].raw_message_delivery == true
    )
    error_message = "The SQS subscription must point the warning topic at the queue."
  }

  assert {
    condition     = length(aws_sqs_queue_policy.this) == 1 && data.aws_sqs_queue.this["queue"].name == "alerts" && aws_sqs_queue_policy.this["queue"].queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/alerts"
    error_message = "One queue policy for the subscribed queue, found by the name in its ARN."
  }

  assert {
    condition = (
      data.aws_iam_policy_document.queue["queue"].statement[0].actions == toset(["sqs:SendMessage"]) &&
      data.aws_iam_policy_document.queue["queue"].statement[0].resources == toset(["arn:aws:sqs:us-east-1:123456789012:alerts"]) &&
      one(data.aws_iam_policy_document.queue["queue"].statement[0].principals).identifiers == toset(["sns.amazonaws.com"]) &&
      one(data.aws_iam_policy_document.queue["queue"].statement[0].condition).variable == "aws:SourceArn" &&
      toset(one(data.aws_iam_policy_document.queue["queue"].statement[0].condition).values) == toset(["arn:aws:sns:us-east-1:123456789012:ops-critical", "arn:aws:sns:us-east-1:123456789012:ops-warning"])
    )
    error_message = "The queue policy must let exactly the subscribed topics send to the queue."
  }

  assert {
    condition = (
      keys(aws_lambda_permission.this) == ["pager.critical"] &&
      aws_lambda_permission.this["pager.critical"].function_name == "arn:aws:lambda:us-east-1:123456789012:function:pager" &&
      aws_lambda_permission.this["pager.critical"].principal == "sns.amazonaws.com" &&
      aws_lambda_permission.this["pager.critical"].action == "lambda:InvokeFunction" &&
      aws_lambda_permission.this["pager.critical"].source_arn == "arn:aws:sns:us-east-1:123456789012:ops-critical"
    )
    error_message = "The Lambda subscription needs a permission for SNS, limited to the critical topic."
  }

  assert {
    condition     = alltrue([for t in aws_sns_topic.this : t.kms_master_key_id == null]) && length(aws_kms_key.this) == 0
    error_message = "kms_encryption = none creates no key and leaves topics unencrypted."
  }
}

run "sns_existing_key_and_unmanaged_queue_policy" {
  command = plan

  module {
    source = "./modules/sns-alerts"
  }

  variables {
    name_prefix    = "ops"
    severities     = ["critical"]
    kms_encryption = "existing"
    kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/abcd"
    subscriptions = {
      queue = { protocol = "sqs", endpoint = "arn:aws:sqs:us-east-1:123456789012:shared", manage_queue_policy = false }
    }
  }

  assert {
    condition     = aws_sns_topic.this["critical"].kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/abcd" && length(aws_kms_key.this) == 0
    error_message = "kms_encryption = existing must use the given key."
  }

  assert {
    condition     = length(aws_sqs_queue_policy.this) == 0 && length(aws_sns_topic.this) == 1
    error_message = "manage_queue_policy = false must leave the queue's policy alone."
  }
}

run "sidecar_iam_policy_is_least_privilege" {
  command = apply

  module {
    source = "./modules/sidecar-iam"
  }

  variables {
    name       = "sidecar"
    namespaces = ["Shop", "CWSidecar", "Shop"]
    role_names = { ecs_task = "orders-task", irsa = "orders-irsa" }
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.this.statement) == 1 &&
      data.aws_iam_policy_document.this.statement[0].effect == "Allow" &&
      data.aws_iam_policy_document.this.statement[0].actions == toset(["cloudwatch:PutMetricData"]) &&
      data.aws_iam_policy_document.this.statement[0].resources == toset(["*"])
    )
    error_message = "The policy must allow cloudwatch:PutMetricData and nothing else."
  }

  assert {
    condition = (
      one(data.aws_iam_policy_document.this.statement[0].condition).test == "StringEquals" &&
      one(data.aws_iam_policy_document.this.statement[0].condition).variable == "cloudwatch:namespace" &&
      one(data.aws_iam_policy_document.this.statement[0].condition).values == tolist(["Shop", "CWSidecar"])
    )
    error_message = "PutMetricData must be limited by cloudwatch:namespace to the given namespaces (once each)."
  }

  assert {
    condition     = aws_iam_policy.this.name == "sidecar" && aws_iam_policy.this.policy == data.aws_iam_policy_document.this.json
    error_message = "The IAM policy carries the document."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.this["ecs_task"].role == "orders-task" && aws_iam_role_policy_attachment.this["irsa"].role == "orders-irsa" && aws_iam_role_policy_attachment.this["irsa"].policy_arn == "arn:aws:iam::123456789012:policy/sidecar"
    error_message = "The policy must be attached to each given role."
  }
}
