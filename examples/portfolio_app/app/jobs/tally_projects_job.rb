# Runs on the job role (Sidekiq): keeps a portfolio's project count, so the
# portfolio page shows that the queue is worked.
class TallyProjectsJob < ApplicationJob
  queue_as :default

  def perform(portfolio_id)
    portfolio = Portfolio.find_by(id: portfolio_id) or return
    portfolio.update!(projects_count: portfolio.projects.count, tallied_at: Time.current)
  end
end
