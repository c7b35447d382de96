with

plays as (

    select * from {{ ref('stg_lake__plays') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

-- Every play is kept: a play whose track has no features still counts in plays and minutes.
joined as (

    select
        plays.play_id,
        plays.user_id,
        plays.played_at,
        plays.played_at_precision,
        cast(plays.played_at as date) as listen_date,
        plays.track_id,
        coalesce(tracks.track_name, plays.track_name) as track_name,
        coalesce(tracks.artist_name, plays.artist_name) as artist_name,
        plays.ms_played,
        {{ listened_ms('plays.ms_played', 'tracks.duration_ms') }} as listened_ms,
        {{ ms_to_minutes(listened_ms('plays.ms_played', 'tracks.duration_ms')) }} as minutes_played,
        tracks.acousticness,
        tracks.danceability,
        tracks.energy,
        tracks.instrumentalness,
        tracks.liveness,
        tracks.speechiness,
        tracks.valence,
        coalesce(tracks.has_audio_features, false) as has_audio_features,
        plays.source,
        plays.load_id

    from plays
    left join tracks
        on plays.track_id = tracks.track_id

),

final as (

    select
        *,
        cast({{ dbt.date_trunc('week', 'listen_date') }} as date) as week_start

    from joined

)

select * from final
