# A Redis-backed page: a cache round trip on the cache instance and the queue's
# size on the queue instance.
class StatsController < ApplicationController
  def show
    token = SecureRandom.hex(8)
    Rails.cache.write("stats:probe", token, expires_in: 1.minute)
    cache_ok = Rails.cache.read("stats:probe") == token
    queue = Sidekiq::Queue.new("default").size
    render json: { cache: cache_ok ? "ok" : "failed", queue: queue, portfolios: Portfolio.count,
                   version: Rails.configuration.x.version }, status: cache_ok ? :ok : :service_unavailable
  end
end
