with

source as {{ not_materialized() }} (

    select * from {{ source('lake', 'plays') }}

),

renamed as {{ not_materialized() }} (

    select
        cast(play_id as {{ dbt.type_string() }}) as play_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(track_name as {{ dbt.type_string() }}) as track_name,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        cast(played_at as timestamp) as played_at,
        cast(played_at_precision as {{ dbt.type_string() }}) as played_at_precision,
        cast(play_seq as integer) as play_seq,
        cast(ms_played as bigint) as ms_played,
        -- Older loads predate content_type: every one of them was music.
        cast(coalesce(content_type, 'music') as {{ dbt.type_string() }}) as content_type,
        cast(skipped as boolean) as is_skipped,
        cast(reason_start as {{ dbt.type_string() }}) as reason_start,
        cast(reason_end as {{ dbt.type_string() }}) as reason_end,
        cast(shuffle as boolean) as is_shuffle,
        cast(platform as {{ dbt.type_string() }}) as platform,
        cast(offline as boolean) as is_offline,
        cast(private_session as boolean) as is_private_session,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- The same play may arrive in several loads (overlapping files): the latest load wins. Only the
-- few plays landed more than once are ranked, on their keys alone, and a losing load's copy is
-- named by play and load (a load lands a play once: the quality checkpoint's load_id, play_id;
-- were it to land one twice, both rows would stay, for the tests to see). A play's id is
-- derived from its user and time, so keying by them too changes nothing but lets a filter on
-- played_at (an incremental build's window) reach every scan of the lake.
landed_more_than_once as (

    select
        play_id,
        user_id,
        played_at

    from renamed
    group by play_id, user_id, played_at
    having count(*) > 1

),

superseded as (

    select
        ranked.play_id,
        ranked.user_id,
        ranked.played_at,
        ranked.load_id

    from (
        select
            renamed.play_id,
            renamed.user_id,
            renamed.played_at,
            renamed.load_id,
            dense_rank() over (
                partition by renamed.user_id, renamed.played_at, renamed.play_id
                order by renamed.loaded_at desc, renamed.load_id desc
            ) as landing_rank

        from renamed
        inner join landed_more_than_once
            on
                renamed.play_id = landed_more_than_once.play_id
                and renamed.user_id = landed_more_than_once.user_id
                and renamed.played_at = landed_more_than_once.played_at
    ) as ranked
    where ranked.landing_rank > 1

),

deduplicated as (

    select renamed.*

    from renamed
    left join superseded
        on
            renamed.play_id = superseded.play_id
            and renamed.user_id = superseded.user_id
            and renamed.played_at = superseded.played_at
            and renamed.load_id = superseded.load_id
    where superseded.play_id is null

),

final as (

    select
        play_id,
        user_id,
        track_id,
        track_name,
        artist_name,
        played_at,
        played_at_precision,
        play_seq,
        ms_played,
        content_type,
        is_skipped,
        reason_start,
        reason_end,
        is_shuffle,
        platform,
        is_offline,
        is_private_session,
        source,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
