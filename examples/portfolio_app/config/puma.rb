# puma on 3000 (Kamal's app_port). On SIGTERM (docker stop) it stops accepting,
# finishes the requests in flight and exits.
threads_count = ENV.fetch("RAILS_MAX_THREADS", 5).to_i
threads threads_count, threads_count
port ENV.fetch("PORT", 3000)
environment ENV.fetch("RAILS_ENV", "production")
workers ENV.fetch("WEB_CONCURRENCY", 0).to_i
preload_app! if ENV.fetch("WEB_CONCURRENCY", 0).to_i > 0
pidfile ENV.fetch("PIDFILE", "tmp/pids/server.pid")
