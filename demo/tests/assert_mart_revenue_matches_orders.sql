-- Every grain of mart_revenue adds up to the same order count and revenue as mart_orders.
select revenue.period_grain
from (
    select period_grain, sum(order_count) as orders, sum(gross_revenue) as revenue
    from {{ ref('mart_revenue') }}
    group by period_grain
) as revenue
cross join (
    select count(*) as orders, sum(total_amount) as revenue from {{ ref('mart_orders') }}
) as totals
where revenue.orders <> totals.orders or revenue.revenue <> totals.revenue
