-- Every product with what it sold; rank 1 = highest revenue (ties share a rank).
select
    products.product_id,
    products.product_name,
    products.category,
    products.price,
    coalesce(perf.item_count, 0) as item_count,
    coalesce(perf.order_count, 0) as order_count,
    coalesce(perf.units_sold, 0) as units_sold,
    coalesce(perf.revenue, 0) as revenue,
    coalesce(perf.discount_total, 0) as discount_total,
    rank() over (order by coalesce(perf.revenue, 0) desc) as revenue_rank
from {{ ref('stg_products') }} as products
left join {{ ref('int_product_performance') }} as perf on products.product_id = perf.product_id
