-- mart_revenue has one row per (period_grain, period_start, region).
select period_grain, period_start, region
from {{ ref('mart_revenue') }}
group by period_grain, period_start, region
having count(*) > 1
