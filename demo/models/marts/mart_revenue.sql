-- Revenue by period (day, week starting Monday, month) and customer region.
-- gross_revenue counts every order; net_revenue leaves out cancelled ones.
{% set grains = ['day', 'week', 'month'] %}
{% for grain in grains %}
select
    '{{ grain }}' as period_grain,
    cast({{ dbt.date_trunc(grain, 'order_date') }} as date) as period_start,
    region,
    count(*) as order_count,
    count(distinct customer_id) as customer_count,
    sum(total_amount) as gross_revenue,
    sum(case when status = 'cancelled' then 0 else total_amount end) as net_revenue,
    sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_orders,
    sum(case when is_late_arrival then 1 else 0 end) as late_orders,
    sum(units) as units_sold
from {{ ref('mart_orders') }}
group by 1, 2, 3
{% if not loop.last %}union all{% endif %}
{% endfor %}
