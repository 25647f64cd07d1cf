provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "strata"
    }
  }
}

module "strata" {
  source = "../../modules/strata"

  name        = var.name
  bucket_name = var.bucket_name
  lambda_zip  = coalesce(var.lambda_zip, "${path.root}/../../../../target/lambda/strata-lambda.zip")

  auth         = "bearer"
  bearer_token = var.bearer_token

  scrape_config = var.scrape_config_path == null ? null : file(var.scrape_config_path)
  scrape_shards = var.scrape_shards
}
