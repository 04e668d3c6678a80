Rails.application.configure do
  config.cache_classes = true
  config.eager_load = true
  config.consider_all_requests_local = false
  config.action_controller.perform_caching = true
  config.public_file_server.enabled = ENV["RAILS_SERVE_STATIC_FILES"].present?

  # TLS ends at the load balancer; it sends X-Forwarded-Proto: https, which
  # kamal-proxy passes on (forward_headers). The health check comes over plain
  # HTTP from kamal-proxy and must not be redirected.
  config.force_ssl = ENV.fetch("FORCE_SSL", "1") == "1"
  config.ssl_options = { redirect: { exclude: ->(request) { request.path == "/up" } }, hsts: false }

  config.log_level = :info
  config.log_tags = [:request_id]
  config.logger = ActiveSupport::TaggedLogging.new(ActiveSupport::Logger.new($stdout))

  # Over TLS (rediss://) the cache instance's certificate is verified against REDIS_CA_FILE.
  cache_redis = { url: ENV["REDIS_CACHE_URL"] }
  cache_redis[:ssl_params] = { ca_file: ENV["REDIS_CA_FILE"] } if ENV["REDIS_CA_FILE"].present?
  config.cache_store = :redis_cache_store, cache_redis.merge(expires_in: 1.hour,
                                                             error_handler: ->(method:, returning:, exception:) {
                                                               Rails.logger.warn("cache #{method} failed: #{exception.class}") })
  config.i18n.fallbacks = true
  config.active_support.deprecation = :notify
  config.active_record.dump_schema_after_migration = false
end
