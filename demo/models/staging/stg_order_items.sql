-- One row per order item. A null discount is recovered from the invariant
-- subtotal = quantity * unit_price - discount (subtotal is never null).
with ranked as (
    select
        *,
        row_number() over (
            partition by order_item_id
            order by _ingested_at desc, _batch_id desc
        ) as version_rank
    from {{ source('raw', 'order_items') }}
)

select
    order_item_id,
    order_id,
    product_id,
    quantity,
    unit_price,
    coalesce(discount, quantity * unit_price - subtotal) as discount,
    discount is null as discount_missing,
    subtotal,
    _batch_id as batch_id,
    _ingested_at as ingested_at
from ranked
where version_rank = 1
