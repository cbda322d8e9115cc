-- One row per order item, for Cube's OrderItems cube (a table, so a dbt run never makes
-- it disappear while Cube reads it).
select * from {{ ref('int_order_items_enriched') }}
