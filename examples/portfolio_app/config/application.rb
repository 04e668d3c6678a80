require_relative "boot"

require "rails"
require "active_model/railtie"
require "active_job/railtie"
require "active_record/railtie"
require "active_storage/engine"
require "action_controller/railtie"
require "action_view/railtie"

Bundler.require(*Rails.groups)

require_relative "../lib/malformed_request_guard"

module PortfolioApp
  class Application < Rails::Application
    config.load_defaults 6.1
    config.active_job.queue_adapter = :sidekiq
    config.active_storage.service = :local

    # Host authorization: only the public names (APP_HOSTS, comma-separated),
    # except the health check, which kamal-proxy sends to the container's address.
    config.hosts.concat(ENV.fetch("APP_HOSTS", "").split(",").map(&:strip).reject(&:empty?))
    config.host_authorization = { exclude: ->(request) { request.path == "/up" } }

    # Malformed input (a NUL byte, a CSRF token sent as a file) is the client's
    # error: 400, not the 500 Rails would answer (lib/malformed_request_guard.rb).
    config.middleware.use MalformedRequestGuard
  end
end
