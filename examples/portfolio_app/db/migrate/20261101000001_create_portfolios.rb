class CreatePortfolios < ActiveRecord::Migration[6.1]
  def change
    create_table :portfolios do |t|
      t.string :name, null: false
      t.string :owner, null: false
      t.text :description
      t.integer :projects_count, null: false, default: 0
      t.datetime :tallied_at
      t.timestamps
    end
  end
end
