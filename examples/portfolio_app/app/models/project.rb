class Project < ApplicationRecord
  belongs_to :portfolio
  has_one_attached :image
  validates :title, presence: true
end
