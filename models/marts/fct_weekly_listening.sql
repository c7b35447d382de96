with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

-- Averages are over plays (a track played ten times weighs ten), as in the original workbook.
aggregated as (

    select
        user_id,
        week_start,
        count(*) as plays,
        sum(minutes_played) as minutes_listened,
        count(case when has_audio_features then 1 end) as plays_with_features,
        avg(acousticness) as avg_acousticness,
        avg(danceability) as avg_danceability,
        avg(energy) as avg_energy,
        avg(instrumentalness) as avg_instrumentalness,
        avg(liveness) as avg_liveness,
        avg(speechiness) as avg_speechiness,
        avg(valence) as avg_valence

    from plays
    group by user_id, week_start

),

final as (

    select
        user_id,
        week_start,
        plays,
        minutes_listened,
        plays_with_features,
        {{ energy_score('avg_danceability', 'avg_energy', 'avg_liveness') }} as energy_score,
        {{ musicality_score('avg_acousticness', 'avg_instrumentalness') }} as musicality_score,
        {{ positivity_score('avg_valence') }} as positivity_score,
        {{ listening_vibe('avg_valence') }} as listening_vibe,
        avg_acousticness,
        avg_danceability,
        avg_energy,
        avg_instrumentalness,
        avg_liveness,
        avg_speechiness,
        avg_valence

    from aggregated

)

select * from final
