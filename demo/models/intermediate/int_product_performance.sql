-- Per product: units, revenue and discounts over all (deduplicated) order items.
select
    product_id,
    count(*) as item_count,
    count(distinct order_id) as order_count,
    sum(quantity) as units_sold,
    sum(subtotal) as revenue,
    sum(discount) as discount_total
from {{ ref('int_order_items_enriched') }}
group by product_id
