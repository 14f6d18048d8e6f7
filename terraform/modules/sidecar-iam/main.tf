data "aws_iam_policy_document" "this" {
  # PutMetricData has no resource-level permissions: the namespace condition is the
  # only way to narrow it.
  #checkov:skip=CKV_AWS_356:cloudwatch:PutMetricData supports no resource ARN, so Resource is "*"; the cloudwatch:namespace condition narrows it to the given namespaces.
  #checkov:skip=CKV_AWS_111:cloudwatch:PutMetricData supports no resource ARN, so Resource is "*"; the cloudwatch:namespace condition narrows it to the given namespaces.
  statement {
    sid       = "PublishToSidecarNamespacesOnly"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = distinct(var.namespaces)
    }
  }
}

resource "aws_iam_policy" "this" {
  name        = var.name
  path        = var.path
  description = var.description
  policy      = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = var.role_names

  role       = each.value
  policy_arn = aws_iam_policy.this.arn
}
