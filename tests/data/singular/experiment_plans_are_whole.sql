-- Each planned split sums to 1, and each planned experiment has exactly one primary metric.
with

arms as (

    select * from {{ ref('experiment_arms') }}

),

metrics as (

    select * from {{ ref('experiment_metrics') }}

),

splits as (

    select
        experiment_id,
        'planned shares sum to ' || cast(sum(planned_share) as {{ dbt.type_string() }}) as problem

    from arms
    group by experiment_id
    having abs(sum(planned_share) - 1) > 1e-9

),

primaries as (

    select
        experiment_id,
        cast(count(*) as {{ dbt.type_string() }}) || ' primary metrics' as problem

    from metrics
    where role = 'primary'
    group by experiment_id
    having count(*) != 1

),

final as (

    select * from splits
    union all
    select * from primaries

)

select * from final
