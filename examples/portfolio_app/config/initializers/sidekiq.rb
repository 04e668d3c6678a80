require "sidekiq/api"   # Sidekiq::Queue for /stats

# The queue instance (REDIS_URL, with the app's ACL user in it). Over TLS
# (rediss://) the instance's certificate is verified against REDIS_CA_FILE,
# the internal CA's certificate mounted into the container.
redis = { url: ENV["REDIS_URL"] }
redis[:ssl_params] = { ca_file: ENV["REDIS_CA_FILE"] } if ENV["REDIS_CA_FILE"].present?
Sidekiq.configure_server { |config| config.redis = redis }
Sidekiq.configure_client { |config| config.redis = redis }
