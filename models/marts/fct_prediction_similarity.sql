with

comparisons as (

    select * from {{ ref('fct_predicted_vs_actual') }}

),

final as (

    select
        user_id,
        week_start,
        model_name,
        model_version,
        variant,
        top_song_index,
        max(track_id) as track_id,
        max(run_id) as run_id,
        count(abs_difference) as features_compared,
        {{ mean_absolute_difference('abs_difference') }} as mean_abs_difference,
        {{ mean_absolute_similarity('abs_difference') }} as similarity,
        {{ cosine_similarity('predicted_value', 'actual_value') }} as cosine_similarity,
        {{ euclidean_distance('difference') }} as euclidean_distance

    from comparisons
    group by user_id, week_start, model_name, model_version, variant, top_song_index

)

select * from final
