{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'kind': 'listening', 'key': 'played_at'},
        partition_by=rebuild_partition('played_on'),
    )
}}

-- depends_on: {{ ref('stg_lake__loads') }}, {{ ref('int_plays_unioned') }}
{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

plays as (

    select * from {{ ref('int_plays_deduplicated') }}
    where {{ in_rebuild_window(rebuild, 'played_at', 'played_at') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

user_profiles as (

    select * from {{ ref('stg_lake__user_profiles') }}

),

-- A play that repeats a better source's play is counted there, once.
distinct_plays as (

    select * from plays
    where not is_duplicate

),

-- Every play is kept: a play whose track has no features still counts in plays and minutes.
joined as (

    select
        distinct_plays.play_id,
        distinct_plays.user_id,
        distinct_plays.played_at,
        distinct_plays.played_at_precision,
        coalesce(user_profiles.time_zone, '{{ var("default_time_zone") }}') as time_zone,
        distinct_plays.track_id,
        coalesce(tracks.track_name, distinct_plays.track_name) as track_name,
        coalesce(tracks.artist_name, distinct_plays.artist_name) as artist_name,
        distinct_plays.content_type,
        distinct_plays.ms_played,
        tracks.duration_ms,
        {{ listened_ms('distinct_plays.ms_played', 'tracks.duration_ms') }} as listened_ms,
        {{ ms_to_minutes(listened_ms('distinct_plays.ms_played', 'tracks.duration_ms')) }}
            as minutes_played,
        {{ completion_ratio('distinct_plays.ms_played', 'tracks.duration_ms') }}
            as completion_ratio,
        {{ is_stream('distinct_plays.ms_played') }} as is_stream,
        distinct_plays.is_skipped,
        distinct_plays.reason_start,
        distinct_plays.reason_end,
        distinct_plays.is_shuffle,
        distinct_plays.platform,
        distinct_plays.is_offline,
        distinct_plays.is_private_session,
        tracks.acousticness,
        tracks.danceability,
        tracks.energy,
        tracks.instrumentalness,
        tracks.liveness,
        tracks.speechiness,
        tracks.valence,
        coalesce(tracks.has_audio_features, false) as has_audio_features,
        distinct_plays.source,
        distinct_plays.load_id

    from distinct_plays
    left join tracks
        on distinct_plays.track_id = tracks.track_id
    left join user_profiles
        on distinct_plays.user_id = user_profiles.user_id

),

-- Days follow the listener's clock: an evening play in New York is not tomorrow's. A source
-- that gives only the date already gives the listener's own day.
localized as (

    select
        *,
        case
            when played_at_precision = 'day' then cast(played_at as date)
            else cast({{ to_local_timestamp('played_at', 'time_zone') }} as date)
        end as listen_date,
        content_type = 'music' and is_stream as is_music_stream

    from joined

),

final as (

    select
        play_id,
        user_id,
        played_at,
        played_at_precision,
        time_zone,
        listen_date,
        cast({{ dbt.date_trunc('week', 'listen_date') }} as date) as week_start,
        -- The UTC day: the partition Spark overwrites (macro rebuild_partition).
        cast(played_at as date) as played_on,
        content_type,
        track_id,
        track_name,
        artist_name,
        ms_played,
        duration_ms,
        listened_ms,
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
        has_audio_features,
        source,
        load_id

    from localized

)

select * from final
