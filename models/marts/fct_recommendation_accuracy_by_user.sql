with

accuracy as (

    select * from {{ ref('fct_recommendation_accuracy') }}

),

final as (

    select
        user_id,
        model_name,
        model_version,
        variant,
        min(generated_at) as first_generated_at,
        max(generated_at) as last_generated_at,
        {{ accuracy_rollup_columns() }}

    from accuracy
    where is_window_complete
    group by user_id, model_name, model_version, variant

)

select * from final
