-- One row per product: the latest arrival wins.
with ranked as (
    select
        *,
        row_number() over (
            partition by product_id
            order by _ingested_at desc, _batch_id desc
        ) as version_rank
    from {{ source('raw', 'products') }}
)

select
    product_id,
    name as product_name,
    category,
    price,
    created_at,
    _batch_id as batch_id,
    _ingested_at as ingested_at
from ranked
where version_rank = 1
