with

accuracy as (

    select * from {{ ref('fct_recommendation_accuracy') }}

),

final as (

    select
        cast(generated_at as date) as generated_date,
        model_name,
        model_version,
        variant,
        count(distinct user_id) as users_served,
        {{ accuracy_rollup_columns() }}

    from accuracy
    where is_window_complete
    group by cast(generated_at as date), model_name, model_version, variant

)

select * from final
