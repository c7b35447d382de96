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

-- Averages are over plays (a track played ten times weighs ten), as in the original workbook.
final as (

    {{ listening_summary('plays', 'week_start') }}

)

select * from final
