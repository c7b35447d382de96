{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'kind': 'runs', 'key': 'run_id'},
    )
}}

-- depends_on: {{ ref('stg_lake__loads') }}
{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

recommendations as (

    select * from {{ ref('stg_lake__recommendations') }}
    where {{ in_rebuild_window(rebuild, 'run_id', 'run_id') }}

),

-- A list's positions follow its ranks; equal ranks are broken by track id, and a track a list
-- names twice keeps its first position only, so positions run 1, 2, 3, ... without gaps.
first_mentions as (

    select
        *,
        row_number() over (
            partition by run_id, user_id, seed_track_id, recommended_track_id
            order by recommendation_rank asc, score desc
        ) as mention

    from recommendations

),

positioned as (

    select
        *,
        row_number() over (
            partition by run_id, user_id, seed_track_id
            order by recommendation_rank, recommended_track_id
        ) as list_position

    from first_mentions
    where mention = 1

),

final as (

    select
        run_id,
        user_id,
        seed_track_id,
        list_position,
        model_name,
        model_version,
        variant,
        generated_at,
        recommendation_rank,
        recommended_track_id,
        score

    from positioned

)

select * from final
