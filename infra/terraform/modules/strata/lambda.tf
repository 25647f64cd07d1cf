################################################################################
# The functions: one zip, the role picked by STRATA_LAMBDA_ROLE.
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:HTTP roles are invoked synchronously (no DLQ applies); a failed scheduled run is redone by the next schedule
  #checkov:skip=CKV_AWS_117:the functions reach only S3 and the API; a VPC would need NAT or endpoints and adds cold-start latency
  #checkov:skip=CKV_AWS_272:the zip is built from source by infra/lambda/build.sh; code signing needs an AWS Signer profile the user may add
  #checkov:skip=CKV_AWS_173:the environment holds no secret (bucket URL, role, a SHA-256 of the token) and is encrypted at rest with the AWS-managed key
  #checkov:skip=CKV_AWS_50:Strata emits no X-Ray segments; its logs carry per-invocation timings and request counts
  for_each = local.function_roles

  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn

  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]

  memory_size = each.value.memory
  timeout     = each.value.timeout
  # One compactor at a time: compaction jobs are also fenced in the store, but a second
  # compactor would only redo work.
  reserved_concurrent_executions = each.key == "compact" ? 1 : null

  ephemeral_storage {
    size = each.key == "authorizer" ? 512 : var.ephemeral_storage_mb
  }

  environment {
    variables = merge(
      {
        STRATA_LAMBDA_ROLE = each.key
        RUST_LOG           = var.log_filter
      },
      each.key == "authorizer" ? {} : { STRATA_STORE = local.store_url },
      each.key == "authorizer" ? { STRATA_BEARER_TOKEN_SHA256 = local.bearer_token_sha256 } : {},
      each.value.environment,
      lookup(var.strata_args, each.key, "") == "" ? {} : { STRATA_ARGS = var.strata_args[each.key] },
    )
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

# Scheduled invocations are asynchronous: Lambda would queue an invocation throttled by the
# compactor's reserved concurrency, and retry failed ones, for hours. A missed compaction or
# scrape round is simply the next schedule's work, so drop instead.
resource "aws_lambda_function_event_invoke_config" "scheduled" {
  for_each = toset(local.scheduled_roles)

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
