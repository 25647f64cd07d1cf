################################################################################
# Log groups, created before the functions so that Lambda never creates them
# (a group Lambda creates keeps its logs forever and outlives `terraform destroy`).
################################################################################

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:retention is the log_retention_days variable (default 30 days), a cost choice left to the user
  for_each = local.function_roles

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_logs_kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:retention is the log_retention_days variable (default 30 days), a cost choice left to the user
  name              = "/aws/apigateway/${var.name}-http-api"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_logs_kms_key_arn

  tags = var.tags
}
