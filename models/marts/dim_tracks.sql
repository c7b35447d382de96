with

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

final as (

    select
        track_id,
        track_name,
        artist_name,
        album_name,
        duration_ms,
        duration_source,
        popularity,
        acousticness,
        danceability,
        energy,
        instrumentalness,
        liveness,
        speechiness,
        valence,
        tempo,
        loudness,
        musical_key as key,
        musical_mode as mode,
        time_signature,
        has_audio_features

    from tracks

)

select * from final
