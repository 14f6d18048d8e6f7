data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  create_kms_key = var.kms_encryption == "create"
  kms_key_id     = var.kms_encryption == "create" ? aws_kms_key.this[0].arn : var.kms_encryption == "existing" ? var.kms_key_arn : null

  # One subscription per (subscription, severity) pair; keys are "<subscription>.<severity>".
  subscription_pairs = merge([
    for key, s in var.subscriptions : {
      for severity in coalesce(s.severities, var.severities) : "${key}.${severity}" => merge(s, {
        subscription = key
        severity     = severity
      })
    }
  ]...)

  sqs_queue_policies = {
    for key, s in var.subscriptions : key => s if s.protocol == "sqs" && s.manage_queue_policy
  }

  lambda_permissions = {
    for key, p in local.subscription_pairs : key => p if p.protocol == "lambda"
  }
}

################################################################################
# KMS key (optional)
################################################################################

data "aws_iam_policy_document" "kms" {
  count = local.create_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:In a key policy, "*" as Resource means this key only; the account root statement is the standard one that lets IAM policies govern the key.
  #checkov:skip=CKV_AWS_111:In a key policy, "*" as Resource means this key only.
  #checkov:skip=CKV_AWS_356:In a key policy, "*" as Resource means this key only.
  statement {
    sid       = "AccountAdministersKeyThroughIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch must be able to encrypt the notification it publishes; without this
  # statement alarms fail to notify an encrypted topic (and aws/sns cannot be edited).
  statement {
    sid       = "AllowAlarmPublishersToUseKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = var.kms_publisher_service_principals
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the ${var.name_prefix} alert topics; usable by CloudWatch alarms."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name_prefix}-alerts"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Topics and their policies
################################################################################

resource "aws_sns_topic" "this" {
  for_each = toset(var.severities)

  name              = "${var.name_prefix}-${each.key}"
  kms_master_key_id = local.kms_key_id

  tags = merge(var.tags, { Severity = each.key })
}

data "aws_iam_policy_document" "topic" {
  for_each = toset(var.severities)

  statement {
    sid    = "AccountOwnerManagesTopic"
    effect = "Allow"
    actions = [
      "sns:GetTopicAttributes",
      "sns:SetTopicAttributes",
      "sns:AddPermission",
      "sns:RemovePermission",
      "sns:DeleteTopic",
      "sns:Subscribe",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
    ]
    resources = [aws_sns_topic.this[each.key].arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch may publish only for alarms of this account (confused-deputy guard).
  statement {
    sid       = "AllowCloudWatchAlarmsOfThisAccount"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = toset(var.severities)

  arn    = aws_sns_topic.this[each.key].arn
  policy = data.aws_iam_policy_document.topic[each.key].json
}

################################################################################
# Subscriptions
################################################################################

resource "aws_sns_topic_subscription" "this" {
  for_each = local.subscription_pairs

  topic_arn                       = aws_sns_topic.this[each.value.severity].arn
  protocol                        = each.value.protocol
  endpoint                        = each.value.endpoint
  raw_message_delivery            = contains(["sqs", "https", "http"], each.value.protocol) ? each.value.raw_message_delivery : null
  filter_policy                   = each.value.filter_policy
  filter_policy_scope             = each.value.filter_policy_scope
  endpoint_auto_confirms          = contains(["https", "http"], each.value.protocol) ? each.value.endpoint_auto_confirms : null
  confirmation_timeout_in_minutes = contains(["https", "http"], each.value.protocol) ? each.value.confirmation_timeout_in_minutes : null

  # The queue must accept the topic's messages before SNS delivers the first one.
  depends_on = [aws_sqs_queue_policy.this]
}

# SQS: a queue only accepts messages from a topic its policy names. The queue is
# looked up by the name in its ARN (same account and region as the caller).
data "aws_sqs_queue" "this" {
  for_each = local.sqs_queue_policies

  name = element(split(":", each.value.endpoint), 5)
}

data "aws_iam_policy_document" "queue" {
  for_each = local.sqs_queue_policies

  statement {
    sid       = "AllowAlertTopicsToSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.endpoint]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for severity in coalesce(each.value.severities, var.severities) : aws_sns_topic.this[severity].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = local.sqs_queue_policies

  queue_url = data.aws_sqs_queue.this[each.key].url
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

# Lambda: the function must allow SNS to invoke it, per topic.
resource "aws_lambda_permission" "this" {
  for_each = local.lambda_permissions

  statement_id  = substr(replace("AllowSNS-${var.name_prefix}-${each.key}", "/[^A-Za-z0-9_-]/", "-"), 0, 100)
  action        = "lambda:InvokeFunction"
  function_name = each.value.endpoint
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.this[each.value.severity].arn
}
