class ApplicationController < ActionController::Base
  after_action { response.set_header("X-App-Version", Rails.configuration.x.version) }
end
