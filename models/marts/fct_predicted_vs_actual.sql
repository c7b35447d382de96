{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'after': 'int_recommendation_lists_matched', 'key': 'week_start'},
        partition_by=rebuild_partition('week_start'),
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

lists as (

    select * from {{ ref('int_recommendation_lists_matched') }}
    where {{ in_rebuild_window(rebuild, 'week_start', 'week_start') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

feature_dictionary as (

    select * from {{ ref('audio_feature_dictionary') }}

),

-- One row per (list, audio feature): the recommended tracks' mean against the seed's own value.
compared as (

    {% for feature in var('similarity_features') %}
        select
            lists.user_id,
            lists.week_start,
            lists.model_name,
            lists.model_version,
            lists.variant,
            lists.top_song_index,
            lists.seed_track_id as track_id,
            max(lists.run_id) as run_id,
            '{{ feature }}' as audio_feature,
            count(recommended.{{ feature }}) as recommended_tracks,
            {{ exact_avg('recommended.' ~ feature) }} as predicted_value,
            max(seed.{{ feature }}) as actual_value

        from lists
        left join tracks as recommended
            on lists.recommended_track_id = recommended.track_id
        left join tracks as seed
            on lists.seed_track_id = seed.track_id
        group by
            lists.user_id,
            lists.week_start,
            lists.model_name,
            lists.model_version,
            lists.variant,
            lists.top_song_index,
            lists.seed_track_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        compared.user_id,
        compared.week_start,
        compared.model_name,
        compared.model_version,
        compared.variant,
        compared.top_song_index,
        compared.track_id,
        compared.run_id,
        compared.audio_feature,
        feature_dictionary.feature_label,
        compared.recommended_tracks,
        compared.predicted_value,
        compared.actual_value,
        compared.predicted_value - compared.actual_value as difference,
        abs(compared.predicted_value - compared.actual_value) as abs_difference

    from compared
    left join feature_dictionary
        on compared.audio_feature = feature_dictionary.audio_feature

)

select * from final
