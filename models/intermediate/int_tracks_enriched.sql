with

tracks as (

    select * from {{ ref('int_tracks_merged') }}

),

audio_features as (

    select * from {{ ref('stg_lake__audio_features') }}

),

plays as (

    select * from {{ ref('int_plays_deduplicated') }}

),

-- Exports give no durations, but a play that ended because the track did (reason_end
-- 'trackdone') lasted about as long as the track: the median of those stands in. Read from
-- the deduplicated plays table: a play landed twice counts once, and a stored table scans in a
-- fraction of the time the staging view (deduplicating loads as it reads) takes.
observed_durations as (

    select
        track_id,
        cast(
            percentile_cont(0.5) within group (order by ms_played) as bigint
        ) as duration_ms

    from plays
    where
        not is_duplicate
        and reason_end = 'trackdone'
        and ms_played > 0
        and track_id is not null
    group by track_id

),

-- A track may be known only from its features (a catalog row) or only from metadata.
track_ids as (

    select track_id from tracks
    union
    select track_id from audio_features

),

final as (

    select
        track_ids.track_id,
        tracks.track_name,
        tracks.artist_name,
        tracks.album_name,
        tracks.popularity,
        -- Among the tracks whose popularity is known (a partition of their own).
        case
            when tracks.popularity is not null
                then {{ popularity_percentile('tracks.popularity', 'tracks.popularity is null') }}
        end as popularity_percentile,
        audio_features.acousticness,
        audio_features.danceability,
        audio_features.energy,
        audio_features.instrumentalness,
        audio_features.liveness,
        audio_features.speechiness,
        audio_features.valence,
        audio_features.tempo,
        audio_features.loudness,
        audio_features.musical_key,
        audio_features.musical_mode,
        audio_features.time_signature,
        coalesce(tracks.duration_ms, observed_durations.duration_ms) as duration_ms,
        case
            when tracks.duration_ms is not null then 'metadata'
            when observed_durations.duration_ms is not null then 'observed'
        end as duration_source,
        audio_features.track_id is not null as has_audio_features

    from track_ids
    left join tracks
        on track_ids.track_id = tracks.track_id
    left join audio_features
        on track_ids.track_id = audio_features.track_id
    left join observed_durations
        on track_ids.track_id = observed_durations.track_id

)

select * from final
