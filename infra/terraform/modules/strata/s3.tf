################################################################################
# The bucket: Strata's only state. Created here unless create_bucket = false.
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:server access logs need a second bucket and log every block GET; use CloudTrail data events where auditing is required
  #checkov:skip=CKV_AWS_144:cross-region replication doubles storage and needs a second bucket and versioning; a deployment choice, not a default
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; Strata reads its own manifest
  count = var.create_bucket ? 1 : 0

  bucket        = var.bucket_name
  bucket_prefix = var.bucket_name == null ? "${var.name}-" : null
  force_destroy = var.bucket_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "this" {
  count = var.create_bucket && var.bucket_versioning ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    id     = "strata"
    status = "Enabled"

    # Every object.
    filter {}

    # A writer that dies mid-upload (a Lambda timeout) leaves parts behind: they are billed
    # but invisible to listings.
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }

    # With versioning: compaction replaces and deletes blocks, keep their old versions a while.
    dynamic "noncurrent_version_expiration" {
      for_each = var.bucket_versioning ? [var.noncurrent_version_expiration_days] : []

      content {
        noncurrent_days = noncurrent_version_expiration.value
      }
    }

    dynamic "expiration" {
      for_each = var.bucket_versioning ? [1] : []

      content {
        expired_object_delete_marker = true
      }
    }
  }

  # Versioning must be set before rules about noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  count = var.create_bucket ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[0].arn,
      "${aws_s3_bucket.this[0].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = data.aws_iam_policy_document.bucket[0].json

  # A bucket policy put before the public access block is in place can be refused.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

################################################################################
# The scrape configuration, read by the scrape function at each invocation.
################################################################################

resource "aws_s3_object" "scrape_config" {
  count = local.scrape_enabled ? 1 : 0

  bucket       = local.bucket
  key          = var.scrape_config_key
  content      = var.scrape_config
  content_type = "application/yaml"

  tags = var.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}
