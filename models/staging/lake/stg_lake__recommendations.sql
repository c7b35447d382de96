with

source as (

    select * from {{ source('lake', 'recommendations') }}

),

renamed as (

    select
        cast(run_id as varchar) as run_id,
        cast(model_name as varchar) as model_name,
        cast(model_version as varchar) as model_version,
        cast(variant as varchar) as variant,
        cast(generated_at as timestamp) as generated_at,
        cast(user_id as varchar) as user_id,
        cast(seed_track_id as varchar) as seed_track_id,
        cast(rank as integer) as recommendation_rank,
        cast(recommended_track_id as varchar) as recommended_track_id,
        cast(score as {{ type_double() }}) as score,
        cast(source as varchar) as source,
        cast(load_id as varchar) as load_id,
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
