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

-- Over plays, not users: the busiest listener weighs by their plays, as in the per-user marts.
final as (

    {{ listening_summary('plays', 'listen_date', per_user=false) }}

)

select * from final
