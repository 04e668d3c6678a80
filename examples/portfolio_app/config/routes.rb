Rails.application.routes.draw do
  get "up" => "health#show"
  get "stats" => "stats#show"
  resources :portfolios do
    resources :projects, only: %i[create destroy]
  end
  root "portfolios#index"
end
