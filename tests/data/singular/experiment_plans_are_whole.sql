-- Each planned experiment has a split whose shares sum to 1 and exactly one primary metric.
with

plans as (

    select * from {{ ref('experiments') }}

),

arms as (

    select * from {{ ref('experiment_arms') }}

),

metrics as (

    select * from {{ ref('experiment_metrics') }}

),

-- A plan without arms sums to nothing, which is not 1.
splits as (

    select
        plans.experiment_id,
        'planned shares sum to '
        || coalesce(cast(sum(arms.planned_share) as {{ dbt.type_string() }}), 'nothing')
            as problem

    from plans
    left join arms
        on plans.experiment_id = arms.experiment_id
    group by plans.experiment_id
    having abs(coalesce(sum(arms.planned_share), 0) - 1) > 1e-9

),

primaries as (

    select
        plans.experiment_id,
        cast(count(metrics.metric) as {{ dbt.type_string() }}) || ' primary metrics' as problem

    from plans
    left join metrics
        on
            plans.experiment_id = metrics.experiment_id
            and metrics.role = 'primary'
    group by plans.experiment_id
    having count(metrics.metric) != 1

),

final as (

    select * from splits
    union all
    select * from primaries

)

select * from final
