{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={
            'after': ['fct_weekly_top_songs', 'int_recommendations_positioned'],
            'key': 'week_start',
        },
        partition_by=rebuild_partition('week_start'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

top_songs as (

    select * from {{ ref('fct_weekly_top_songs') }}
    where {{ in_rebuild_window(rebuild, 'week_start', 'week_start') }}

),

lists as (

    select * from {{ ref('int_recommendations_positioned') }}

),

seed_songs as (

    select
        user_id,
        week_start,
        time_zone,
        song_rank as top_song_index,
        track_id as seed_track_id

    from top_songs
    where song_rank <= {{ var('predicted_vs_actual_top_n') }}

),

-- A list answers for a week when it was generated after the week began and by its end, on the
-- listener's clock (recommenders stamp lists with the end of the week they were seeded from).
lists_in_week as (

    select
        seed_songs.user_id,
        seed_songs.week_start,
        seed_songs.top_song_index,
        seed_songs.seed_track_id,
        lists.model_name,
        lists.model_version,
        lists.variant,
        lists.run_id,
        lists.generated_at,
        lists.list_position,
        lists.recommended_track_id

    from seed_songs
    inner join lists
        on
            seed_songs.user_id = lists.user_id
            and seed_songs.seed_track_id = lists.seed_track_id
            and {{ to_local_timestamp('lists.generated_at', 'seed_songs.time_zone') }}
            > cast(seed_songs.week_start as timestamp)
            and {{ to_local_timestamp('lists.generated_at', 'seed_songs.time_zone') }}
            <= {{ dbt.dateadd('day', 7, 'cast(seed_songs.week_start as timestamp)') }}
    where lists.list_position <= {{ var('predicted_vs_actual_k') }}

),

-- Several runs of one model version and variant for the same week: the latest run answers.
runs_ranked as (

    select
        *,
        dense_rank() over (
            partition by
                user_id, week_start, model_name, model_version, variant, top_song_index
            order by generated_at desc, run_id desc
        ) as run_recency

    from lists_in_week

),

final as (

    select
        user_id,
        week_start,
        model_name,
        model_version,
        variant,
        top_song_index,
        seed_track_id,
        run_id,
        generated_at,
        list_position,
        recommended_track_id

    from runs_ranked
    where run_recency = 1

)

select * from final
