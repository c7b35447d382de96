with

ranked_songs as (

    select * from {{ ref('int_weekly_songs_ranked') }}

),

final as (

    select
        user_id,
        week_start,
        song_rank,
        track_id,
        track_name,
        artist_name,
        plays,
        minutes_listened,
        positivity_score

    from ranked_songs

)

select * from final
