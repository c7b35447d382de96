with

source as (

    select * from {{ source('lake', 'user_profiles') }}

),

renamed as (

    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(time_zone as {{ dbt.type_string() }}) as time_zone,
        cast(set_at as timestamp) as set_at,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- A user's settings change over time: the latest one holds.
deduplicated as (

    {{ deduplicate('renamed', 'user_id', 'set_at desc, loaded_at desc, load_id desc') }}

),

final as (

    select
        user_id,
        time_zone,
        set_at,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
