################################################################################
# One execution role per function, each with only what its role needs.
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.function_roles

  name               = "${var.name}-${each.key}"
  description        = "Execution role of the ${var.name}-${each.key} function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.function_roles

  # Its own log group only (not AWSLambdaBasicExecutionRole, which may create and write any).
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = length(each.value.s3_actions) > 0 ? [each.value.s3_actions] : []

    content {
      sid       = "StoreObjects"
      actions   = statement.value
      resources = [local.store_objects_arn]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_actions) > 0 ? [1] : []

    content {
      sid       = "ListStore"
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arn]

      dynamic "condition" {
        for_each = var.store_prefix == "" ? [] : [local.store_list_prefix]

        content {
          test     = "StringLike"
          variable = "s3:prefix"
          values   = condition.value
        }
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "scrape" ? [local.config_arn] : []

    content {
      sid       = "ReadScrapeConfig"
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null && length(each.value.s3_actions) > 0 ? [var.kms_key_arn] : []

    content {
      sid = "BucketKey"
      actions = contains(each.value.s3_actions, "s3:PutObject") ? [
        "kms:Decrypt", "kms:GenerateDataKey"
      ] : ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_roles

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

################################################################################
# EventBridge Scheduler: may invoke the compaction and scrape functions, nothing else.
################################################################################

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "Lets EventBridge Scheduler invoke the ${var.name} compaction and scrape functions"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeScheduledFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = [for role in local.scheduled_roles : aws_lambda_function.this[role].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
