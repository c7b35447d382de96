{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={
            'after': ['fct_plays', 'int_recommendations_positioned'],
            'key': 'generated_at',
        },
    )
}}

-- depends_on: {{ ref('fct_plays') }}
{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

-- What a list is scored on is fixed once it is generated, but for the plays before it
-- (novelty): lists of the rebuilt runs, and lists generated after the earliest rebuilt play.
lists as (

    select * from {{ ref('int_recommendations_positioned') }}
    where {{ in_rebuild_window(rebuild, 'generated_at', 'generated_at') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

user_tracks as (

    select * from {{ ref('int_user_tracks_aggregated') }}

),

top_k as (

    select * from lists
    where list_position <= {{ var('accuracy_k') }}

),

recommended as (

    select
        top_k.run_id,
        top_k.user_id,
        top_k.seed_track_id,
        top_k.list_position,
        top_k.model_name,
        top_k.model_version,
        top_k.variant,
        top_k.generated_at,
        tracks.popularity_percentile,
        {{ is_new_to_user('user_tracks.first_played_at', 'top_k.generated_at') }}
            as is_new_to_user,
        tracks.{{ var('similarity_features') | join(', tracks.') }},
        {{ has_all_features('tracks') }} as has_all_features

    from top_k
    left join tracks
        on top_k.recommended_track_id = tracks.track_id
    left join user_tracks
        on
            top_k.user_id = user_tracks.user_id
            and top_k.recommended_track_id = user_tracks.track_id

),

-- Every pair of tracks within a list, both with all seven features.
track_pairs as (

    select
        first_track.run_id,
        first_track.user_id,
        first_track.seed_track_id,
        {{ feature_distance('first_track', 'second_track') }} as feature_distance

    from recommended as first_track
    inner join recommended as second_track
        on
            first_track.run_id = second_track.run_id
            and first_track.user_id = second_track.user_id
            and first_track.seed_track_id = second_track.seed_track_id
            and first_track.list_position < second_track.list_position
    where first_track.has_all_features and second_track.has_all_features

),

diversity as (

    select
        run_id,
        user_id,
        seed_track_id,
        count(*) as track_pairs,
        {{ exact_avg('feature_distance') }} as intra_list_diversity

    from track_pairs
    group by run_id, user_id, seed_track_id

),

list_summary as (

    select
        run_id,
        user_id,
        seed_track_id,
        max(model_name) as model_name,
        max(model_version) as model_version,
        max(variant) as variant,
        max(generated_at) as generated_at,
        count(*) as recommended_tracks,
        {{ share_of('is_new_to_user') }} as novelty,
        {{ exact_avg('popularity_percentile') }} as recommended_popularity_percentile

    from recommended
    group by run_id, user_id, seed_track_id

),

final as (

    select
        list_summary.run_id,
        list_summary.user_id,
        list_summary.seed_track_id,
        list_summary.model_name,
        list_summary.model_version,
        list_summary.variant,
        list_summary.generated_at,
        list_summary.recommended_tracks,
        diversity.intra_list_diversity,
        list_summary.novelty,
        list_summary.recommended_popularity_percentile,
        coalesce(diversity.track_pairs, 0) as track_pairs

    from list_summary
    left join diversity
        on
            list_summary.run_id = diversity.run_id
            and list_summary.user_id = diversity.user_id
            and list_summary.seed_track_id = diversity.seed_track_id

)

select * from final
