-- Each order item with its order, product and customer attributes.
select
    items.order_item_id,
    items.order_id,
    items.product_id,
    orders.customer_id,
    customers.region,
    products.category,
    products.product_name,
    orders.status,
    orders.order_date,
    cast({{ dbt.date_trunc('day', 'orders.order_date') }} as date) as order_day,
    orders.is_late_arrival,
    items.quantity,
    items.unit_price,
    items.discount,
    items.subtotal
from {{ ref('stg_order_items') }} as items
inner join {{ ref('stg_orders') }} as orders on items.order_id = orders.order_id
left join {{ ref('stg_products') }} as products on items.product_id = products.product_id
left join {{ ref('stg_customers') }} as customers on orders.customer_id = customers.customer_id
