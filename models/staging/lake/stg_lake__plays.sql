with

source as (

    select * from {{ source('lake', 'plays') }}

),

renamed as (

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

-- The same play may arrive in several loads (overlapping files): the latest load wins. A play's
-- id is derived from its user and time, so partitioning by them too changes nothing but lets a
-- filter on played_at (an incremental build's window) reach the Parquet scan.
deduplicated as (

    {{ deduplicate('renamed', 'user_id, played_at, play_id', 'loaded_at desc, load_id desc') }}

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
