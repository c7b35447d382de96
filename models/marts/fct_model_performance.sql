with

accuracy as (

    select * from {{ ref('fct_recommendation_accuracy') }}

),

list_quality as (

    select * from {{ ref('fct_recommendation_list_quality') }}

),

similarity as (

    select * from {{ ref('fct_prediction_similarity') }}

),

lists as (

    select * from {{ ref('int_recommendations_positioned') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

models as (

    select
        model_name,
        model_version,
        variant,
        count(distinct user_id) as users_served,
        count(distinct run_id) as runs,
        min(generated_at) as first_generated_at,
        max(generated_at) as last_generated_at

    from accuracy
    group by model_name, model_version, variant

),

accuracy_summary as (

    select
        model_name,
        model_version,
        variant,
        {{ accuracy_rollup_columns() }}

    from accuracy
    where is_window_complete
    group by model_name, model_version, variant

),

quality_summary as (

    select
        model_name,
        model_version,
        variant,
        {{ exact_avg('intra_list_diversity') }} as mean_intra_list_diversity,
        {{ exact_avg('share_new_to_user') }} as mean_share_new_to_user,
        {{ exact_avg('novelty') }} as mean_novelty,
        {{ exact_avg('serendipity') }} as mean_serendipity,
        {{ exact_avg('recommended_popularity_percentile') }}
            as mean_recommended_popularity_percentile,
        {{ exact_avg('popularity_bias') }} as mean_popularity_bias

    from list_quality
    group by model_name, model_version, variant

),

catalog as (

    select count(*) as catalog_tracks from tracks

),

-- How often each model recommended each track in a top k.
recommended_counts as (

    select
        model_name,
        model_version,
        variant,
        recommended_track_id,
        count(*) as times_recommended

    from lists
    where list_position <= {{ var('accuracy_k') }}
    group by model_name, model_version, variant, recommended_track_id

),

recommended_shares as (

    select
        *,
        sum(times_recommended) over (
            partition by model_name, model_version, variant
        ) as all_recommendations

    from recommended_counts

),

coverage as (

    select
        recommended_shares.model_name,
        recommended_shares.model_version,
        recommended_shares.variant,
        count(*) as distinct_recommended_tracks,
        {{ catalog_coverage('count(*)', 'max(catalog.catalog_tracks)') }} as catalog_coverage,
        {{ distributional_coverage(
            'recommended_shares.times_recommended', 'recommended_shares.all_recommendations'
        ) }} as distributional_coverage

    from recommended_shares
    cross join catalog
    group by
        recommended_shares.model_name,
        recommended_shares.model_version,
        recommended_shares.variant

),

similarity_summary as (

    select
        model_name,
        model_version,
        variant,
        count(*) as lists_compared,
        {{ exact_avg('mean_abs_difference') }} as mean_abs_difference,
        {{ exact_avg('similarity') }} as mean_similarity,
        {{ exact_avg('cosine_similarity') }} as mean_cosine_similarity,
        {{ exact_avg('euclidean_distance') }} as mean_euclidean_distance

    from similarity
    group by model_name, model_version, variant

),

final as (

    select
        {{ model_key('models.model_name', 'models.model_version', 'models.variant') }}
            as model_key,
        models.model_name,
        models.model_version,
        models.variant,
        models.users_served,
        models.runs,
        models.first_generated_at,
        models.last_generated_at,
        coalesce(accuracy_summary.lists, 0) as lists,
        accuracy_summary.hit_rate,
        accuracy_summary.mean_precision_at_k,
        accuracy_summary.mean_recall_at_k,
        accuracy_summary.mean_ndcg_at_k,
        accuracy_summary.mean_graded_ndcg_at_k,
        accuracy_summary.mean_average_precision_at_k,
        accuracy_summary.mean_average_precision,
        accuracy_summary.mean_r_precision,
        accuracy_summary.mean_reciprocal_rank,
        coverage.distinct_recommended_tracks,
        coverage.catalog_coverage,
        coverage.distributional_coverage,
        quality_summary.mean_intra_list_diversity,
        quality_summary.mean_share_new_to_user,
        quality_summary.mean_novelty,
        quality_summary.mean_serendipity,
        quality_summary.mean_recommended_popularity_percentile,
        quality_summary.mean_popularity_bias,
        coalesce(similarity_summary.lists_compared, 0) as lists_compared,
        similarity_summary.mean_abs_difference,
        similarity_summary.mean_similarity,
        similarity_summary.mean_cosine_similarity,
        similarity_summary.mean_euclidean_distance

    from models
    left join accuracy_summary
        on {{ same_model('models', 'accuracy_summary') }}
    left join quality_summary
        on {{ same_model('models', 'quality_summary') }}
    left join coverage
        on {{ same_model('models', 'coverage') }}
    left join similarity_summary
        on {{ same_model('models', 'similarity_summary') }}

)

select * from final
