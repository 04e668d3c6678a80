# /up: the app booted and answers (what kamal-proxy waits for before it sends
# traffic). Rails 6.1 has no built-in /up. Not subject to host authorization
# or the HTTPS redirect (config/application.rb, production.rb).
class HealthController < ActionController::Base
  def show
    response.set_header("X-App-Version", Rails.configuration.x.version)
    if ENV["PAAS_DEMO_BROKEN"] == "1"   # the deliberately broken release (Dockerfile BROKEN)
      render json: { status: "broken", version: Rails.configuration.x.version }, status: :internal_server_error
    else
      render json: { status: "up", version: Rails.configuration.x.version }
    end
  end
end
