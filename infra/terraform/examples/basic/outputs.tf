output "query_url" {
  description = "Prometheus HTTP API base URL (Grafana data source URL)."
  value       = module.strata.query_url
}

output "remote_write_url" {
  description = "Prometheus remote_write URL."
  value       = module.strata.remote_write_url
}

output "bucket" {
  description = "Bucket holding the store."
  value       = module.strata.bucket
}

output "store_url" {
  description = "Strata store URL, for `strata --store` from a workstation."
  value       = module.strata.store_url
}

output "function_names" {
  description = "Function name per role."
  value       = module.strata.function_names
}
