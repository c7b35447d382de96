with

source as (

    select * from {{ source('lake', 'tracks') }}

),

renamed as (

    select
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(track_name as {{ dbt.type_string() }}) as track_name,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        cast(album_name as {{ dbt.type_string() }}) as album_name,
        cast(duration_ms as bigint) as duration_ms,
        cast(popularity as integer) as popularity,
        cast(streams as bigint) as streams,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- A track described by several loads keeps, per attribute, its latest known value.
merged as (

    select
        track_id,
        source,
        load_id,
        loaded_at,
        {{ latest_known('track_name', 'track_id', 'loaded_at desc, load_id desc') }}
            as track_name,
        {{ latest_known('artist_name', 'track_id', 'loaded_at desc, load_id desc') }}
            as artist_name,
        {{ latest_known('album_name', 'track_id', 'loaded_at desc, load_id desc') }}
            as album_name,
        {{ latest_known('duration_ms', 'track_id', 'loaded_at desc, load_id desc') }}
            as duration_ms,
        {{ latest_known('popularity', 'track_id', 'loaded_at desc, load_id desc') }}
            as popularity,
        {{ latest_known('streams', 'track_id', 'loaded_at desc, load_id desc') }}
            as streams

    from renamed

),

deduplicated as (

    {{ deduplicate('merged', 'track_id', 'loaded_at desc, load_id desc') }}

),

final as (

    select
        track_id,
        track_name,
        artist_name,
        album_name,
        duration_ms,
        popularity,
        streams,
        source,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
