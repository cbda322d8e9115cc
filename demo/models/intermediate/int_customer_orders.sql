-- Per customer: how often, how much and when they ordered (every status counts).
select
    customer_id,
    count(*) as order_count,
    sum(total_amount) as lifetime_value,
    min(order_date) as first_order_at,
    max(order_date) as last_order_at
from {{ ref('stg_orders') }}
group by customer_id
