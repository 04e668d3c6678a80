# The version Kamal deployed (KAMAL_VERSION), shown by /up and in a response header.
Rails.application.config.x.version = ENV.fetch("KAMAL_VERSION", ENV.fetch("APP_VERSION", "dev"))
