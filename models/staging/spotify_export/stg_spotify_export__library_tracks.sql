with

source as (

    select * from {{ source('spotify_export', 'library_tracks') }}

),

renamed as (

    select
        substr(track_uri, 15, 22) as track_id,
        nullif(trim(track_name), '') as track_name,
        nullif(trim(artist_name), '') as artist_name,
        nullif(trim(album_name), '') as album_name,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source
    where track_uri like 'spotify:track:%' and length(track_uri) = 36

),

-- A track in the library and in several playlists is one reference: the latest load's names.
deduplicated as (

    {{ deduplicate(
        'renamed',
        'track_id',
        'loaded_at desc, load_id desc, track_name, artist_name, album_name'
    ) }}

),

final as (

    select
        track_id,
        track_name,
        artist_name,
        album_name,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
