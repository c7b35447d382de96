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

-- What a list is scored on is fixed once it is generated, but for the plays before it (what is
-- new to the user, their history, the tracks' popularity): lists of the rebuilt runs, and lists
-- generated after the earliest rebuilt play.
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

-- Popularity when a list was made: the listeners who had played each track by the end of the
-- day before (a listener counts once, however often they played it).
generation_days as (

    select distinct cast(generated_at as date) as generated_date
    from top_k

),

first_listens as (

    select
        track_id,
        cast(first_played_at as date) as first_played_date,
        count(*) as new_listeners

    from user_tracks
    group by track_id, cast(first_played_at as date)

),

track_listeners as (

    select
        generation_days.generated_date,
        first_listens.track_id,
        sum(first_listens.new_listeners) as listeners

    from generation_days
    inner join first_listens
        on generation_days.generated_date > first_listens.first_played_date
    group by generation_days.generated_date, first_listens.track_id

),

listener_totals as (

    select
        generated_date,
        sum(listeners) as track_listeners

    from track_listeners
    group by generated_date

),

-- A listener's history when a list was made: the tracks they had played before it, each as its
-- audio-feature direction (the unit vector), averaged.
histories as (

    select distinct
        user_id,
        generated_at

    from top_k

),

history_directions as (

    select
        histories.user_id,
        histories.generated_at,
        {% for feature in var('similarity_features') %}
            {{ exact_avg('tracks.' ~ feature ~ ' / ' ~ feature_norm('tracks')) }}
                as mean_{{ feature }}_direction,
        {% endfor %}
        count(*) as history_tracks

    from histories
    inner join user_tracks
        on
            histories.user_id = user_tracks.user_id
            and not {{ is_new_to_user('user_tracks.first_played_at', 'histories.generated_at') }}
    inner join tracks
        on user_tracks.track_id = tracks.track_id
    where {{ has_feature_direction('tracks') }}
    group by histories.user_id, histories.generated_at

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
        {{ self_information('track_listeners.listeners', 'listener_totals.track_listeners') }}
            as self_information,
        case when {{ has_feature_direction('tracks') }} then
            {{ unexpectedness(
                'tracks', 'history_directions', 'mean_{feature}_direction'
            ) }}
        end as serendipity,
        tracks.{{ var('similarity_features') | join(', tracks.') }},
        {{ has_all_features('tracks') }} as has_all_features

    from top_k
    left join tracks
        on top_k.recommended_track_id = tracks.track_id
    left join user_tracks
        on
            top_k.user_id = user_tracks.user_id
            and top_k.recommended_track_id = user_tracks.track_id
    left join track_listeners
        on
            cast(top_k.generated_at as date) = track_listeners.generated_date
            and top_k.recommended_track_id = track_listeners.track_id
    left join listener_totals
        on cast(top_k.generated_at as date) = listener_totals.generated_date
    left join history_directions
        on
            top_k.user_id = history_directions.user_id
            and top_k.generated_at = history_directions.generated_at

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
            {{ same_list('first_track', 'second_track') }}
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
        {{ share_of('is_new_to_user') }} as share_new_to_user,
        {{ exact_avg('self_information') }} as novelty,
        count(self_information) as tracks_with_popularity,
        {{ exact_avg('serendipity') }} as serendipity,
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
        list_summary.share_new_to_user,
        list_summary.novelty,
        list_summary.tracks_with_popularity,
        list_summary.serendipity,
        list_summary.recommended_popularity_percentile,
        coalesce(diversity.track_pairs, 0) as track_pairs

    from list_summary
    left join diversity
        on {{ same_list('list_summary', 'diversity') }}

)

select * from final
