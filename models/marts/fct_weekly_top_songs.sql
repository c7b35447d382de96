{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'after': 'fct_plays', 'key': 'week_start'},
        partition_by=rebuild_partition('week_start'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

plays as (

    select * from {{ ref('fct_plays') }}
    where {{ in_rebuild_window(rebuild, 'week_start', 'week_start') }}

),

ranked as (

    {{ ranked_songs('plays', ['user_id', 'week_start'], ['max(time_zone) as time_zone']) }}

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
