with

tracks as (

    select * from {{ ref('stg_lake__tracks') }}

),

audio_features as (

    select * from {{ ref('stg_lake__audio_features') }}

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
        tracks.duration_ms,
        tracks.popularity,
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
        audio_features.track_id is not null as has_audio_features

    from track_ids
    left join tracks
        on track_ids.track_id = tracks.track_id
    left join audio_features
        on track_ids.track_id = audio_features.track_id

)

select * from final
