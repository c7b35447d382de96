with

plays as (

    select * from {{ ref('fct_plays') }}

),

-- Any music play counts as having heard a track, a skip included.
final as (

    select
        user_id,
        track_id,
        min(played_at) as first_played_at,
        count(*) as plays

    from plays
    where content_type = 'music' and track_id is not null
    group by user_id, track_id

)

select * from final
