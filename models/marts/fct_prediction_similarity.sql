{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'after': 'fct_predicted_vs_actual', 'key': 'week_start'},
        partition_by=rebuild_partition('week_start'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

comparisons as (

    select * from {{ ref('fct_predicted_vs_actual') }}
    where {{ in_rebuild_window(rebuild, 'week_start', 'week_start') }}

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
