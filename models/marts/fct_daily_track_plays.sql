{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'after': 'fct_plays', 'key': 'listen_date'},
        partition_by=rebuild_partition('listen_date'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

plays as (

    select * from {{ ref('fct_plays') }}
    where {{ in_rebuild_window(rebuild, 'listen_date', 'listen_date') }}

),

final as (

    select
        user_id,
        listen_date,
        track_id,
        max(track_name) as track_name,
        max(artist_name) as artist_name,
        count(*) as plays,
        {{ ms_to_minutes('sum(listened_ms)') }} as minutes_listened

    from plays
    where is_music_stream and track_id is not null
    group by user_id, listen_date, track_id

)

select * from final
