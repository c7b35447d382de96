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

-- Every music play of a known track, short ones included (a skip is usually short), summed per
-- track and local day: the parts of the engagement rates, which later sums keep exact.
final as (

    select
        listen_date,
        track_id,
        count(*) as plays,
        count(case when is_music_stream then 1 end) as streams,
        cast(
            sum(case when is_music_stream then listened_ms end) as {{ dbt.type_bigint() }}
        ) as stream_listened_ms,
        {{ completion_ratio_sum('completion_ratio') }} as completion_ratio_sum,
        count(completion_ratio) as plays_with_completion_data,
        {{ skipped_plays('is_skipped') }} as skipped_plays,
        count(is_skipped) as plays_with_skip_data

    from plays
    where content_type = 'music' and track_id is not null
    group by listen_date, track_id

)

select * from final
