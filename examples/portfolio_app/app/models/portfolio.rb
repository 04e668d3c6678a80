class Portfolio < ApplicationRecord
  has_many :projects, dependent: :destroy
  validates :name, presence: true, length: { maximum: 100 }
  validates :owner, presence: true
end
