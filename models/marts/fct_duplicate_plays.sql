with

plays as (

    select * from {{ ref('int_plays_deduplicated') }}

),

final as (

    select
        play_id,
        user_id,
        track_id,
        played_at,
        source,
        duplicate_reason,
        duplicate_of_play_id,
        duplicate_of_source,
        duplicate_of_load_id,
        duplicate_seconds_apart,
        load_id

    from plays
    where is_duplicate

)

select * from final
