with

top_songs as (

    select * from {{ ref('int_weekly_songs_ranked') }}

),

recommendations as (

    select * from {{ ref('stg_lake__recommendations') }}

),

seed_songs as (

    select
        user_id,
        week_start,
        song_rank as top_song_index,
        track_id as seed_track_id

    from top_songs
    where song_rank <= {{ var('predicted_vs_actual_top_n') }}

),

-- A list answers for a week when it was generated after the week began and by its end
-- (the baseline recommender stamps lists with the end of the week they were seeded from).
lists_in_week as (

    select
        seed_songs.user_id,
        seed_songs.week_start,
        seed_songs.top_song_index,
        seed_songs.seed_track_id,
        recommendations.model_name,
        recommendations.model_version,
        recommendations.run_id,
        recommendations.generated_at,
        recommendations.recommendation_rank,
        recommendations.recommended_track_id

    from seed_songs
    inner join recommendations
        on
            seed_songs.user_id = recommendations.user_id
            and seed_songs.seed_track_id = recommendations.seed_track_id
            and recommendations.generated_at > cast(seed_songs.week_start as timestamp)
            and recommendations.generated_at
            <= {{ dbt.dateadd('day', 7, 'cast(seed_songs.week_start as timestamp)') }}
    where recommendations.recommendation_rank <= {{ var('predicted_vs_actual_k') }}

),

-- Several runs of one model version for the same week: the latest run answers.
runs_ranked as (

    select
        *,
        dense_rank() over (
            partition by user_id, week_start, model_name, model_version, top_song_index
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
        top_song_index,
        seed_track_id,
        run_id,
        generated_at,
        recommendation_rank,
        recommended_track_id

    from runs_ranked
    where run_recency = 1

)

select * from final
