with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

final as (

    select
        play_id,
        user_id,
        played_at,
        played_at_precision,
        listen_date,
        week_start,
        track_id,
        track_name,
        artist_name,
        ms_played,
        minutes_played,
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
