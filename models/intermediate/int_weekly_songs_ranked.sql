with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

-- Songs rank by music streams; plays whose track could not be identified have no song to rank.
song_weeks as (

    select
        user_id,
        week_start,
        track_id,
        max(time_zone) as time_zone,
        max(track_name) as track_name,
        max(artist_name) as artist_name,
        count(*) as plays,
        {{ ms_to_minutes('sum(listened_ms)') }} as minutes_listened,
        {{ positivity_score(exact_avg('valence')) }} as positivity_score

    from plays
    where is_music_stream and track_id is not null
    group by user_id, week_start, track_id

),

-- Tie-break: plays, then minutes listened, then track_id, so ranks never depend on load order.
ranked as (

    select
        *,
        row_number() over (
            partition by user_id, week_start
            order by plays desc, minutes_listened desc, track_id asc
        ) as song_rank

    from song_weeks

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
