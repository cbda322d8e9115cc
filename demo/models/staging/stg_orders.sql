-- One row per order. Duplicates are exact resends, so keeping the latest arrival is exact.
-- Late rows (order_date before their batch window) are kept and flagged: every model
-- downstream is rebuilt in full, so a late order lands in its own (past) period.
with ranked as (
    select
        *,
        row_number() over (
            partition by order_id
            order by _ingested_at desc, _batch_id desc
        ) as version_rank
    from {{ source('raw', 'orders') }}
)

select
    order_id,
    customer_id,
    status,
    total_amount,
    order_date,
    shipped_date,
    status in ('shipped', 'delivered') and shipped_date is null as shipped_date_missing,
    order_date < _window_start as is_late_arrival,
    _batch_id as batch_id,
    _ingested_at as ingested_at
from ranked
where version_rank = 1
