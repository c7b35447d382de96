with

source as (

    select * from {{ source('lake', 'artists') }}

),

renamed as (

    select
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        cast(genres as {{ dbt.type_string() }}) as genres,
        cast(popularity as integer) as popularity,
        cast(followers as bigint) as followers,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

deduplicated as (

    {{ deduplicate('renamed', 'artist_id', 'loaded_at desc, load_id desc') }}

),

final as (

    select
        artist_id,
        artist_name,
        genres,
        popularity,
        followers,
        source,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
