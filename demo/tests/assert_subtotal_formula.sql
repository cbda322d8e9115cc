-- subtotal = quantity * unit_price - discount holds for every staged item.
select order_item_id
from {{ ref('stg_order_items') }}
where subtotal <> quantity * unit_price - discount
