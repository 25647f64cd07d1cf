data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # A given name is known at plan time; a generated one only after the bucket exists.
  bucket     = var.bucket_name != null ? var.bucket_name : aws_s3_bucket.this[0].id
  bucket_arn = var.create_bucket ? aws_s3_bucket.this[0].arn : "arn:${local.partition}:s3:::${var.bucket_name}"

  # Strata's store: s3://<bucket>/<prefix>, or the whole bucket.
  store_url = var.store_prefix == "" ? "s3://${local.bucket}" : "s3://${local.bucket}/${var.store_prefix}"
  # ARN pattern of the store's objects, and the ListBucket prefixes that reach them.
  store_objects_arn = var.store_prefix == "" ? "${local.bucket_arn}/*" : "${local.bucket_arn}/${var.store_prefix}/*"
  store_list_prefix = var.store_prefix == "" ? ["*"] : ["${var.store_prefix}/*"]

  scrape_enabled = var.scrape_config != null
  config_url     = "s3://${local.bucket}/${var.scrape_config_key}"
  config_arn     = "${local.bucket_arn}/${var.scrape_config_key}"

  # One zip, one function per role. The S3 actions of each role on the store's objects:
  # query reads, write and scrape add blocks and manifest records, compact also deletes
  # what it replaced. The authorizer touches no S3.
  function_roles = merge(
    {
      query = {
        description = "Strata query: the Prometheus HTTP API behind the HTTP API's $default route"
        memory      = var.memory_mb
        timeout     = 29
        s3_actions  = ["s3:GetObject"]
        environment = { STRATA_QUERY_TIMEOUT = "${var.query_timeout_seconds}s" }
      }
      write = {
        description = "Strata write: Prometheus remote write (POST /api/v1/write), committed inside each request"
        memory      = var.memory_mb
        timeout     = 29
        s3_actions  = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        environment = {}
      }
      compact = {
        description = "Strata compact: scheduled compaction, one run at a time"
        memory      = coalesce(var.compact_memory_mb, var.memory_mb)
        timeout     = var.compact_timeout_seconds
        s3_actions  = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
        environment = {}
      }
    },
    local.scrape_enabled ? {
      scrape = {
        description = "Strata scrape: one shard of the scrape targets per scheduled invocation"
        memory      = var.memory_mb
        timeout     = var.scrape_timeout_seconds
        s3_actions  = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        environment = { STRATA_CONFIG = local.config_url }
      }
    } : {},
    var.auth == "bearer" ? {
      authorizer = {
        description = "Strata authorizer: accepts the bearer token whose SHA-256 it holds"
        memory      = 128
        timeout     = 10
        s3_actions  = []
        environment = {} # STRATA_BEARER_TOKEN_SHA256 is added in lambda.tf (sensitive)
      }
    } : {},
  )

  # Kept out of function_roles: a sensitive value there would make the whole map sensitive,
  # and for_each refuses sensitive maps.
  bearer_token_sha256 = var.auth == "bearer" ? sha256(coalesce(var.bearer_token, "unset")) : null

  function_names = { for role, _ in local.function_roles : role => "${var.name}-${role}" }
  # Functions invoked by EventBridge Scheduler.
  scheduled_roles = local.scrape_enabled ? ["compact", "scrape"] : ["compact"]
}
