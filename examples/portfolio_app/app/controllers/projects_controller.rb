class ProjectsController < ApplicationController
  def create
    @portfolio = Portfolio.find(params[:portfolio_id])
    @project = @portfolio.projects.build(project_params)
    if @project.save
      TallyProjectsJob.perform_later(@portfolio.id)
      redirect_to @portfolio, notice: "Project added."
    else
      render "portfolios/show", status: :unprocessable_entity
    end
  end

  def destroy
    project = Project.find(params[:id])
    project.destroy
    TallyProjectsJob.perform_later(project.portfolio_id)
    redirect_to portfolio_path(project.portfolio_id), notice: "Project removed."
  end

  private

  def project_params
    params.require(:project).permit(:title, :url, :image)
  end
end
