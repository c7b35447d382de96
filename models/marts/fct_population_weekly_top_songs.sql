with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

ranked as (

    {{ ranked_songs('plays', ['week_start'], ['count(distinct user_id) as listeners']) }}

),

final as (

    select
        week_start,
        song_rank,
        track_id,
        track_name,
        artist_name,
        listeners,
        plays,
        minutes_listened,
        positivity_score

    from ranked

)

select * from final
