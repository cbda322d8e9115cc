-- RFM segmentation of every customer. Recency is measured against the latest order in the
-- data (not the clock), so the same raw data always gives the same segments.
{% set r = var('rfm_recency_days') %}
{% set f = var('rfm_frequency_orders') %}
{% set m = var('rfm_monetary_value') %}
with reference as (
    select max(order_date) as reference_at from {{ ref('stg_orders') }}
),

scored as (
    select
        customers.customer_id,
        customers.email,
        customers.customer_name,
        customers.region,
        customers.created_at,
        coalesce(orders.order_count, 0) as order_count,
        coalesce(orders.lifetime_value, 0) as lifetime_value,
        orders.first_order_at,
        orders.last_order_at,
        {{ dbt.datediff('orders.last_order_at', 'reference.reference_at', 'day') }} as recency_days
    from {{ ref('stg_customers') }} as customers
    left join {{ ref('int_customer_orders') }} as orders
        on customers.customer_id = orders.customer_id
    cross join reference
),

rfm as (
    select
        *,
        case
            when order_count = 0 then 0
            when recency_days <= {{ r[0] }} then 5
            when recency_days <= {{ r[1] }} then 4
            when recency_days <= {{ r[2] }} then 3
            when recency_days <= {{ r[3] }} then 2
            else 1
        end as recency_score,
        case
            when order_count = 0 then 0
            when order_count >= {{ f[0] }} then 5
            when order_count >= {{ f[1] }} then 4
            when order_count >= {{ f[2] }} then 3
            when order_count >= {{ f[3] }} then 2
            else 1
        end as frequency_score,
        case
            when order_count = 0 then 0
            when lifetime_value >= {{ m[0] }} then 5
            when lifetime_value >= {{ m[1] }} then 4
            when lifetime_value >= {{ m[2] }} then 3
            when lifetime_value >= {{ m[3] }} then 2
            else 1
        end as monetary_score
    from scored
)

select
    *,
    case
        when order_count = 0 then 'prospect'
        when recency_score >= 4 and frequency_score >= 4 then 'champion'
        when recency_score >= 3 and frequency_score >= 3 then 'loyal'
        when recency_score >= 4 then 'new'
        when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
        else 'hibernating'
    end as segment
from rfm
