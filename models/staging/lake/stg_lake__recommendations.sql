with

source as (

    select * from {{ source('lake', 'recommendations') }}

),

renamed as (

    select
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast(generated_at as timestamp) as generated_at,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(seed_track_id as {{ dbt.type_string() }}) as seed_track_id,
        cast(rank as integer) as recommendation_rank,
        cast(recommended_track_id as {{ dbt.type_string() }}) as recommended_track_id,
        cast(score as {{ type_double() }}) as score,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

deduplicated as (

    {{ deduplicate(
        'renamed',
        'run_id, user_id, seed_track_id, recommendation_rank, recommended_track_id',
        'loaded_at desc, load_id desc'
    ) }}

),

final as (

    select
        run_id,
        model_name,
        model_version,
        variant,
        generated_at,
        user_id,
        seed_track_id,
        recommendation_rank,
        recommended_track_id,
        score,
        source,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
