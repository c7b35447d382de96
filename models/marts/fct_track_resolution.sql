with

plays as (

    select * from {{ ref('int_plays_deduplicated') }}

),

final as (

    select
        user_id,
        source,
        played_at_precision,
        count(*) as plays,
        count(case when track_resolution = 'track_id' then 1 end) as plays_with_track_id,
        count(case when track_resolution = 'name' then 1 end) as plays_resolved_by_name,
        count(case when track_resolution = 'ambiguous' then 1 end) as plays_ambiguous,
        count(case when track_resolution = 'unresolved' then 1 end) as plays_unresolved,
        count(case when track_resolution = 'not_music' then 1 end) as plays_not_music,
        count(case when is_duplicate then 1 end) as duplicate_plays

    from plays
    group by user_id, source, played_at_precision

)

select * from final
