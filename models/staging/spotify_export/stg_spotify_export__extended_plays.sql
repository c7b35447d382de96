with

source as (

    select * from {{ source('spotify_export', 'extended_plays') }}

),

renamed as (

    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(ts as {{ dbt.type_timestamp() }}) as played_at,
        cast(ms_played as {{ dbt.type_bigint() }}) as ms_played,
        nullif(trim(spotify_track_uri), '') as track_uri,
        nullif(trim(master_metadata_track_name), '') as music_track_name,
        nullif(trim(master_metadata_album_artist_name), '') as music_artist_name,
        nullif(trim(master_metadata_album_album_name), '') as album_name,
        nullif(trim(spotify_episode_uri), '') as episode_uri,
        nullif(trim(episode_name), '') as episode_name,
        nullif(trim(episode_show_name), '') as show_name,
        nullif(trim(audiobook_uri), '') as audiobook_uri,
        nullif(trim(audiobook_chapter_uri), '') as audiobook_chapter_uri,
        nullif(trim(audiobook_chapter_title), '') as audiobook_chapter_title,
        nullif(trim(audiobook_title), '') as audiobook_title,
        nullif(trim(reason_start), '') as reason_start,
        nullif(trim(reason_end), '') as reason_end,
        skipped,
        shuffle as is_shuffle,
        offline as is_offline,
        incognito_mode as is_private_session,
        platform_family as platform,
        file_kind,
        source_file,
        record_number,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

-- What was played: a video file holds video (video podcasts and clips alike); a track uri is
-- music (a local file too, without an id); the 2020 vintage has no uri key at all, so a named
-- track without one is music as well.
classified as (

    select
        *,
        case
            when track_uri like 'spotify:track:%' and length(track_uri) = 36
                then substr(track_uri, 15, 22)
        end as track_id,
        case
            when file_kind = 'extended-video' then 'video'
            when track_uri like 'spotify:track:%' or track_uri like 'spotify:local:%' then 'music'
            when track_uri is not null then 'unknown'
            when episode_uri is not null or episode_name is not null then 'podcast'
            when audiobook_uri is not null or audiobook_chapter_uri is not null then 'audiobook'
            when music_track_name is not null then 'music'
            else 'unknown'
        end as content_type

    from renamed

),

-- Real exports leave `skipped` false for years: these endings are skips too (var skip_reasons).
described as (

    select
        *,
        case
            when content_type in ('podcast', 'video') and episode_name is not null
                then episode_name
            when content_type = 'audiobook' then audiobook_chapter_title
            else music_track_name
        end as track_name,
        case
            when content_type in ('podcast', 'video') and episode_name is not null
                then show_name
            when content_type = 'audiobook' then audiobook_title
            else music_artist_name
        end as artist_name,
        case
            {%- set skip_reasons = "'" ~ var("skip_reasons") | join("', '") ~ "'" %}
            when reason_end in ({{ skip_reasons }}) then true
            when skipped is null and reason_end is not null then false
            else skipped
        end as is_skipped

    from classified

),

keyed as (

    select
        *,
        coalesce(
            track_id,
            track_uri,
            episode_uri,
            audiobook_chapter_uri,
            {{ dbt.concat([
                'content_type', "'|'", "coalesce(track_name, '')", "'|'",
                "coalesce(artist_name, '')"
            ]) }}
        ) as play_key

    from described

),

-- Equal records of one load (an offline play reported twice) are numbered, the longest first:
-- the first is the play, the rest its repeats (int_plays_deduplicated).
identified as (

    {{ export_plays_identified('keyed', 'second') }}

),

final as (

    select
        play_id,
        user_id,
        track_id,
        track_name,
        artist_name,
        album_name,
        played_at,
        'second' as played_at_precision,
        cast(play_seq as integer) as play_seq,
        ms_played,
        content_type,
        is_skipped,
        reason_start,
        reason_end,
        is_shuffle,
        platform,
        is_offline,
        is_private_session,
        'spotify-export' as source,
        load_id,
        loaded_at

    from identified

)

select * from final
