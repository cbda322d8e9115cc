-- The day spine MetricFlow needs for the semantic models' time dimensions.
with days as (
    {{ dbt.date_spine('day', "cast('2024-01-01' as date)", "cast('2029-01-01' as date)") }}
)

select cast(date_day as date) as date_day from days
