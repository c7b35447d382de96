{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'after': 'int_plays_enriched', 'key': 'listen_date'},
        partition_by=rebuild_partition('listen_date'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

plays as (

    select * from {{ ref('int_plays_enriched') }}
    where {{ in_rebuild_window(rebuild, 'listen_date', 'listen_date') }}

),

final as (

    select
        play_id,
        user_id,
        played_at,
        played_at_precision,
        time_zone,
        listen_date,
        week_start,
        content_type,
        track_id,
        track_name,
        artist_name,
        ms_played,
        minutes_played,
        is_stream,
        is_music_stream,
        completion_ratio,
        is_skipped,
        reason_start,
        reason_end,
        is_shuffle,
        platform,
        is_offline,
        is_private_session,
        acousticness,
        danceability,
        energy,
        instrumentalness,
        liveness,
        speechiness,
        valence,
        source,
        load_id

    from plays

)

select * from final
