variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "strata"
}

variable "lambda_zip" {
  description = "Path of the Lambda package. Null means target/lambda/strata-lambda.zip of this checkout (built by `bash infra/lambda/build.sh`)."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Name of the bucket to create. Null lets AWS generate one starting with `<name>-`."
  type        = string
  default     = null
}

variable "bearer_token" {
  description = "Bearer token accepted by the API (at least 32 characters, e.g. `openssl rand -hex 32`). Pass it as TF_VAR_bearer_token rather than in a file."
  type        = string
  sensitive   = true
}

variable "scrape_config_path" {
  description = "Path of a Prometheus configuration (scrape_configs) to scrape from Lambda. Null means no scraping."
  type        = string
  default     = null
}

variable "scrape_shards" {
  description = "Number of scrape shards (each a schedule invoking the scrape function every minute)."
  type        = number
  default     = 1
}
