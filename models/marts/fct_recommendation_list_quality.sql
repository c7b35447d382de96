with

lists as (

    select * from {{ ref('int_recommendation_lists_scored') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

plays as (

    select * from {{ ref('fct_plays') }}

),

-- What the user plays: the mean popularity percentile over their music streams (all of them,
-- so it moves with every play: the lists themselves are scored incrementally, this is not).
user_popularity as (

    select
        plays.user_id,
        {{ exact_avg('tracks.popularity_percentile') }} as user_popularity_percentile

    from plays
    inner join tracks
        on plays.track_id = tracks.track_id
    where plays.is_music_stream and tracks.popularity_percentile is not null
    group by plays.user_id

),

final as (

    select
        lists.run_id,
        lists.user_id,
        lists.seed_track_id,
        lists.model_name,
        lists.model_version,
        lists.variant,
        lists.generated_at,
        lists.recommended_tracks,
        lists.track_pairs,
        lists.intra_list_diversity,
        lists.share_new_to_user,
        lists.novelty,
        lists.tracks_with_popularity,
        lists.serendipity,
        lists.recommended_popularity_percentile,
        user_popularity.user_popularity_percentile,
        {{ popularity_bias(
            'lists.recommended_popularity_percentile',
            'user_popularity.user_popularity_percentile'
        ) }} as popularity_bias

    from lists
    left join user_popularity
        on lists.user_id = user_popularity.user_id

)

select * from final
