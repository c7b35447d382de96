{{ config(materialized='view') }}

with

lake_tracks as (

    select * from {{ ref('stg_lake__tracks') }}

),

extended_plays as (

    select * from {{ ref('stg_spotify_export__extended_plays') }}

),

library_tracks as (

    select * from {{ ref('stg_spotify_export__library_tracks') }}

),

-- Every track any source names with its id. Sources that describe tracks (the Web API,
-- catalogs) rank before exports, which only name them (reference_rank).
track_references as (

    select
        track_id,
        track_name,
        artist_name,
        album_name,
        duration_ms,
        popularity,
        streams,
        1 as reference_rank,
        loaded_at,
        load_id

    from lake_tracks

    -- Exports name tracks (id, name, artist, album) but describe none of them.
    {% for relation, rank in [('extended_plays', 2), ('library_tracks', 3)] %}
        union all

        select
            track_id,
            track_name,
            artist_name,
            album_name,
            cast(null as {{ dbt.type_bigint() }}) as duration_ms,
            cast(null as integer) as popularity,
            cast(null as {{ dbt.type_bigint() }}) as streams,
            {{ rank }} as reference_rank,
            loaded_at,
            load_id

        from {{ relation }}
        where track_id is not null
    {% endfor %}

),

-- Per attribute the best-ranked known value, the latest load first within a rank.
merged as (

    select
        track_id,
        {% for column in [
            'track_name', 'artist_name', 'album_name', 'duration_ms', 'popularity', 'streams'
        ] %}
            {{ latest_known(
                column, 'track_id', 'reference_rank, loaded_at desc, load_id desc'
            ) }} as {{ column }},
        {% endfor %}
        reference_rank,
        loaded_at,
        load_id

    from track_references

),

deduplicated as (

    {{ deduplicate('merged', 'track_id', 'reference_rank, loaded_at desc, load_id desc') }}

),

final as (

    select
        track_id,
        track_name,
        artist_name,
        album_name,
        duration_ms,
        popularity,
        streams

    from deduplicated

)

select * from final
