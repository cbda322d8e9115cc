-- An order's total_amount is the sum of its items' subtotals.
select orders.order_id
from {{ ref('mart_orders') }} as orders
left join (
    select order_id, sum(subtotal) as items_total
    from {{ ref('stg_order_items') }}
    group by order_id
) as items on orders.order_id = items.order_id
where items.items_total is null or orders.total_amount <> items.items_total
