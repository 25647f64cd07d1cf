################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of every resource (functions, roles, log groups, API, schedules, bucket prefix). Lower-case letters, digits and hyphens, starting with a letter, at most 32 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1-32 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

################################################################################
# Lambda functions
################################################################################

variable "lambda_zip" {
  description = "Path of the deployment package built by `bash infra/lambda/build.sh` (target/lambda/strata-lambda.zip, holding `bootstrap` at its root). One zip serves every function."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.lambda_zip))
    error_message = "lambda_zip must be the path of a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of the functions: x86_64 (default; the zip the project's machines build) or arm64 (about 20 % cheaper per GB-second, but the zip must then be built for aarch64-unknown-linux-gnu on a machine that has that Rust target)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory of the query, write and scrape functions, in MB (1769 MB = one vCPU). Strata gives half of it to its in-memory read cache."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number from 128 to 10240."
  }
}

variable "compact_memory_mb" {
  description = "Memory of the compaction function, in MB. Null means memory_mb."
  type        = number
  default     = 2048

  validation {
    condition     = var.compact_memory_mb == null || (try(var.compact_memory_mb >= 128 && var.compact_memory_mb <= 10240 && floor(var.compact_memory_mb) == var.compact_memory_mb, false))
    error_message = "compact_memory_mb must be null or a whole number from 128 to 10240."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp of the query, write, compaction and scrape functions, in MB. Strata keeps its on-disk read cache there (384 MiB by default; raise it with `--cache-disk-size` in strata_args when raising this)."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240 && floor(var.ephemeral_storage_mb) == var.ephemeral_storage_mb
    error_message = "ephemeral_storage_mb must be a whole number from 512 to 10240."
  }
}

variable "query_timeout_seconds" {
  description = "Strata's query timeout in the query function (STRATA_QUERY_TIMEOUT). Must stay below the HTTP API's 30 s integration timeout, and below the function's 29 s timeout."
  type        = number
  default     = 25

  validation {
    condition     = var.query_timeout_seconds >= 1 && var.query_timeout_seconds <= 28 && floor(var.query_timeout_seconds) == var.query_timeout_seconds
    error_message = "query_timeout_seconds must be a whole number from 1 to 28."
  }
}

variable "compact_timeout_seconds" {
  description = "Timeout of the compaction function, in seconds. Each invocation runs the due compaction jobs until this deadline less a margin."
  type        = number
  default     = 900

  validation {
    condition     = var.compact_timeout_seconds >= 60 && var.compact_timeout_seconds <= 900 && floor(var.compact_timeout_seconds) == var.compact_timeout_seconds
    error_message = "compact_timeout_seconds must be a whole number from 60 to 900."
  }
}

variable "compact_schedule" {
  description = "EventBridge Scheduler expression of the compaction runs. Only one compactor runs at a time (reserved concurrency 1); a run that would overlap the previous one is dropped."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.compact_schedule))
    error_message = "compact_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "log_filter" {
  description = "RUST_LOG of every function: Strata's tracing filter (JSON lines on stderr, since the functions' log format is JSON; collected into each function's log group)."
  type        = string
  default     = "warn,strata=info"
}

variable "strata_args" {
  description = "Extra command-line flags per role (STRATA_ARGS, split on whitespace and appended to Strata's Lambda defaults), e.g. { compact = \"--retention.raw 30d\" }. Keys: query, write, compact, scrape."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.strata_args) : contains(["query", "write", "compact", "scrape"], k)])
    error_message = "strata_args keys must be among query, write, compact and scrape."
  }
}

################################################################################
# Storage
################################################################################

variable "create_bucket" {
  description = "Create the S3 bucket (encrypted, private, TLS-only, aborting incomplete multipart uploads). When false, bucket_name names an existing bucket, whose settings the module leaves alone (it only adds the scrape configuration object)."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the bucket. Null (only with create_bucket) lets AWS generate a unique name starting with `<name>-`."
  type        = string
  default     = null
}

variable "store_prefix" {
  description = "Key prefix of Strata's store in the bucket, without leading or trailing '/'. Empty means the whole bucket. The functions' S3 rights are limited to this prefix."
  type        = string
  default     = "strata"

  validation {
    condition     = can(regex("^([A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*)?$", var.store_prefix))
    error_message = "store_prefix must be empty or '/'-separated segments of A-Z, a-z, 0-9, '.', '_', '=', '-' (no leading, trailing or double '/')."
  }
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete the bucket with all its objects (all of Strata's data)."
  type        = bool
  default     = false
}

variable "bucket_versioning" {
  description = "Enable versioning on the created bucket. Compaction rewrites and deletes blocks, so old versions are expired after noncurrent_version_expiration_days."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted (with bucket_versioning)."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the created bucket's default encryption (SSE-KMS with an S3 Bucket Key). Null means SSE-S3 (AES256). With an existing bucket encrypted by a customer key, set it too, so the functions may use the key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

################################################################################
# HTTP API and authentication
################################################################################

variable "auth" {
  description = "How the HTTP API authenticates callers: \"bearer\" (a Lambda REQUEST authorizer accepting bearer_token), \"jwt\" (API Gateway's JWT authorizer with jwt_issuer and jwt_audience) or \"none\" (an open API: anyone on the internet may query and write)."
  type        = string
  default     = "bearer"

  validation {
    condition     = contains(["bearer", "jwt", "none"], var.auth)
    error_message = "auth must be \"bearer\", \"jwt\" or \"none\"."
  }
}

variable "bearer_token" {
  description = "The bearer token the API accepts with auth = \"bearer\" (e.g. `openssl rand -hex 32`). Only its SHA-256 reaches the authorizer function; the token itself is kept in the Terraform state."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.bearer_token == null || try(length(var.bearer_token) >= 32, false)
    error_message = "bearer_token must be at least 32 characters (its SHA-256 is stored in the authorizer's environment)."
  }
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches the bearer authorizer's answer per Authorization header (0 disables the cache)."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 3600
    error_message = "authorizer_cache_ttl_seconds must be from 0 to 3600."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL of the JSON Web Tokens accepted with auth = \"jwt\" (e.g. a Cognito user pool's `https://cognito-idp.<region>.amazonaws.com/<pool-id>`)."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted audiences (aud claim) of the JSON Web Tokens with auth = \"jwt\"."
  type        = list(string)
  default     = []
}

variable "api_throttling_burst_limit" {
  description = "Burst limit of every route of the HTTP API (requests)."
  type        = number
  default     = 200
}

variable "api_throttling_rate_limit" {
  description = "Steady-state request rate limit of every route of the HTTP API (requests per second)."
  type        = number
  default     = 100
}

################################################################################
# Scraping
################################################################################

variable "scrape_config" {
  description = "Prometheus configuration (YAML with scrape_configs) for the scrape functions; the module uploads it to the bucket at scrape_config_key. Null means no scraping: no scrape function and no scrape schedules. It is kept in the Terraform state: prefer targets that need no credentials."
  type        = string
  default     = null
}

variable "scrape_config_key" {
  description = "Object key of the uploaded scrape configuration. Keep it outside store_prefix so that only the scrape function can read it."
  type        = string
  default     = "config/prometheus.yml"

  validation {
    condition     = length(var.scrape_config_key) > 0 && !startswith(var.scrape_config_key, "/")
    error_message = "scrape_config_key must be a non-empty key without a leading '/'."
  }
}

variable "scrape_shards" {
  description = "Number of scrape schedules; each invokes the scrape function every minute for its shard (I of N) of the targets."
  type        = number
  default     = 1

  validation {
    condition     = var.scrape_shards >= 1 && var.scrape_shards <= 100 && floor(var.scrape_shards) == var.scrape_shards
    error_message = "scrape_shards must be a whole number from 1 to 100."
  }
}

variable "scrape_schedule" {
  description = "EventBridge Scheduler expression of each scrape shard. Each invocation scrapes for the longest scrape interval of the configuration, so keep it equal to that interval."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.scrape_schedule))
    error_message = "scrape_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "scrape_timeout_seconds" {
  description = "Timeout of the scrape function, in seconds: the scrape window (the longest scrape interval) plus about 15 s to finish and commit."
  type        = number
  default     = 90

  validation {
    condition     = var.scrape_timeout_seconds >= 30 && var.scrape_timeout_seconds <= 900 && floor(var.scrape_timeout_seconds) == var.scrape_timeout_seconds
    error_message = "scrape_timeout_seconds must be a whole number from 30 to 900."
  }
}

################################################################################
# Logs
################################################################################

variable "log_retention_days" {
  description = "Retention of the functions' and the API's log groups, in days (one of CloudWatch Logs' allowed values)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "cloudwatch_logs_kms_key_arn" {
  description = "KMS key encrypting the log groups. Null means CloudWatch Logs' default encryption. The key policy must allow the logs service of the region."
  type        = string
  default     = null
}
