with

source as (

    select * from {{ source('spotify_export', 'account_plays') }}

),

renamed as (

    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(end_time as {{ dbt.type_timestamp() }}) as played_at,
        cast(ms_played as {{ dbt.type_bigint() }}) as ms_played,
        -- Podcast files name the episode and show instead of the track and artist.
        coalesce(nullif(trim(track_name), ''), nullif(trim(episode_name), '')) as track_name,
        coalesce(nullif(trim(artist_name), ''), nullif(trim(podcast_name), '')) as artist_name,
        case when file_kind = 'account-podcast' then 'podcast' else 'music' end as content_type,
        source_file,
        record_number,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

keyed as (

    select
        *,
        {{ dbt.concat([
            'content_type', "'|'", "coalesce(track_name, '')", "'|'",
            "coalesce(artist_name, '')"
        ]) }} as play_key

    from renamed

),

-- Minute precision: two short plays of one track can end in the same minute, so equal records
-- of one load stay plays of their own, numbered (int_plays_deduplicated never merges them).
identified as (

    {{ export_plays_identified('keyed', 'minute') }}

),

final as (

    select
        play_id,
        user_id,
        cast(null as {{ dbt.type_string() }}) as track_id,
        track_name,
        artist_name,
        played_at,
        'minute' as played_at_precision,
        cast(play_seq as integer) as play_seq,
        ms_played,
        content_type,
        cast(null as boolean) as is_skipped,
        cast(null as {{ dbt.type_string() }}) as reason_start,
        cast(null as {{ dbt.type_string() }}) as reason_end,
        cast(null as boolean) as is_shuffle,
        cast(null as {{ dbt.type_string() }}) as platform,
        cast(null as boolean) as is_offline,
        cast(null as boolean) as is_private_session,
        'spotify-export' as source,
        load_id,
        loaded_at

    from identified

)

select * from final
