-- One row per customer: the latest version (updated_at, then arrival) wins.
with ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by updated_at desc, _ingested_at desc, _batch_id desc
        ) as version_rank
    from {{ source('raw', 'customers') }}
)

select
    customer_id,
    coalesce(lower(email), 'unknown@example.invalid') as email,
    email is null as email_missing,
    name as customer_name,
    region,
    created_at,
    updated_at,
    _batch_id as batch_id,
    _ingested_at as ingested_at
from ranked
where version_rank = 1
