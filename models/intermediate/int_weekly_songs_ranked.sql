with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

ranked as (

    {{ ranked_songs('plays', ['user_id', 'week_start'], ['max(time_zone) as time_zone']) }}

),

final as (

    select
        user_id,
        week_start,
        song_rank,
        track_id,
        time_zone,
        track_name,
        artist_name,
        plays,
        minutes_listened,
        positivity_score

    from ranked

)

select * from final
