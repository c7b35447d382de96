with

lists as (

    select * from {{ ref('int_recommendations_positioned') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

user_tracks as (

    select * from {{ ref('int_user_tracks_aggregated') }}

),

plays as (

    select * from {{ ref('fct_plays') }}

),

top_k as (

    select * from lists
    where list_position <= {{ var('accuracy_k') }}

),

popularity as (

    select
        track_id,
        {{ popularity_percentile('popularity') }} as popularity_percentile

    from tracks
    where popularity is not null

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
        popularity.popularity_percentile,
        {{ is_new_to_user('user_tracks.first_played_at', 'top_k.generated_at') }}
            as is_new_to_user,
        tracks.{{ var('similarity_features') | join(', tracks.') }},
        {{ has_all_features('tracks') }} as has_all_features

    from top_k
    left join tracks
        on top_k.recommended_track_id = tracks.track_id
    left join popularity
        on top_k.recommended_track_id = popularity.track_id
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

-- What the user plays: the mean popularity percentile over their music streams.
user_popularity as (

    select
        plays.user_id,
        {{ exact_avg('popularity.popularity_percentile') }} as user_popularity_percentile

    from plays
    inner join popularity
        on plays.track_id = popularity.track_id
    where plays.is_music_stream
    group by plays.user_id

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
        coalesce(diversity.track_pairs, 0) as track_pairs,
        diversity.intra_list_diversity,
        list_summary.novelty,
        list_summary.recommended_popularity_percentile,
        user_popularity.user_popularity_percentile,
        {{ popularity_bias(
            'list_summary.recommended_popularity_percentile',
            'user_popularity.user_popularity_percentile'
        ) }} as popularity_bias

    from list_summary
    left join diversity
        on
            list_summary.run_id = diversity.run_id
            and list_summary.user_id = diversity.user_id
            and list_summary.seed_track_id = diversity.seed_track_id
    left join user_popularity
        on list_summary.user_id = user_popularity.user_id

)

select * from final
