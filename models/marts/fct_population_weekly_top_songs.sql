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

    {{ ranked_songs('plays', ['week_start'], ['count(distinct user_id) as listeners']) }}

),

final as (

    select
        week_start,
        song_rank,
        track_id,
        track_name,
        artist_name,
        listeners,
        plays,
        minutes_listened,
        positivity_score

    from ranked

)

select * from final
