require "sidekiq/api"   # Sidekiq::Queue for /stats

# The queue instance (REDIS_URL, with the app's ACL user in it).
Sidekiq.configure_server { |config| config.redis = { url: ENV["REDIS_URL"] } }
Sidekiq.configure_client { |config| config.redis = { url: ENV["REDIS_URL"] } }
