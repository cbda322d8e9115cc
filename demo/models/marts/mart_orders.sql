-- One row per order, with the customer's region: the table behind Cube's Orders cube.
with items as (
    select order_id, count(*) as item_count, sum(quantity) as units
    from {{ ref('stg_order_items') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    customers.region,
    orders.status,
    orders.order_date,
    cast({{ dbt.date_trunc('day', 'orders.order_date') }} as date) as order_day,
    orders.shipped_date,
    orders.total_amount,
    coalesce(items.item_count, 0) as item_count,
    coalesce(items.units, 0) as units,
    orders.is_late_arrival,
    orders.batch_id,
    orders.ingested_at as updated_at
from {{ ref('stg_orders') }} as orders
left join {{ ref('stg_customers') }} as customers on orders.customer_id = customers.customer_id
left join items on orders.order_id = items.order_id
