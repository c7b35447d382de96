with

source as (

    select * from {{ source('lake', 'coverage_gaps') }}

),

renamed as (

    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(gap_from as timestamp) as gap_from,
        cast(gap_to as timestamp) as gap_to,
        cast(detected_at as timestamp) as detected_at,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- Re-landing a capture repeats its gap: one row per (user, gap_from).
deduplicated as (

    {{ deduplicate('renamed', 'user_id, gap_from', 'gap_to desc, loaded_at desc') }}

),

final as (

    select
        user_id,
        gap_from,
        gap_to,
        detected_at,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
