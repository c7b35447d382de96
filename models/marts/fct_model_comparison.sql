{%- set metrics = [
    'hit_rate', 'mean_precision_at_k', 'mean_recall_at_k', 'mean_ndcg_at_k',
    'mean_graded_ndcg_at_k', 'mean_average_precision_at_k', 'mean_average_precision',
    'mean_r_precision', 'mean_reciprocal_rank', 'catalog_coverage', 'distributional_coverage',
    'mean_intra_list_diversity', 'mean_share_new_to_user', 'mean_novelty', 'mean_serendipity',
    'mean_popularity_bias', 'mean_abs_difference', 'mean_similarity', 'mean_cosine_similarity',
    'mean_euclidean_distance'
] -%}

with

performance as (

    select * from {{ ref('fct_model_performance') }}

),

metric_definitions as (

    select * from {{ ref('recommendation_metrics') }}

),

-- One row per model and metric.
metric_values as (

    {% for metric in metrics %}
        select
            model_key,
            model_name,
            model_version,
            variant,
            '{{ metric }}' as metric,
            cast({{ metric }} as {{ type_double() }}) as metric_value

        from performance
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- Every ordered pair of different models: read a pair with the reference you trust first.
paired as (

    select
        reference.model_key as reference_model_key,
        reference.model_name as reference_model_name,
        reference.model_version as reference_model_version,
        reference.variant as reference_variant,
        candidate.model_key as candidate_model_key,
        candidate.model_name as candidate_model_name,
        candidate.model_version as candidate_model_version,
        candidate.variant as candidate_variant,
        reference.metric,
        reference.metric_value as reference_value,
        candidate.metric_value as candidate_value

    from metric_values as reference
    inner join metric_values as candidate
        on
            reference.metric = candidate.metric
            and reference.model_key != candidate.model_key

),

final as (

    select
        paired.reference_model_key,
        paired.reference_model_name,
        paired.reference_model_version,
        paired.reference_variant,
        paired.candidate_model_key,
        paired.candidate_model_name,
        paired.candidate_model_version,
        paired.candidate_variant,
        paired.metric,
        metric_definitions.metric_family,
        metric_definitions.metric_order,
        metric_definitions.higher_is_better,
        paired.reference_value,
        paired.candidate_value,
        paired.candidate_value - paired.reference_value as difference,
        (paired.candidate_value - paired.reference_value)
        / nullif(abs(paired.reference_value), 0) as relative_difference,
        case
            when paired.candidate_value = paired.reference_value then null
            when metric_definitions.higher_is_better
                then paired.candidate_value > paired.reference_value
            else paired.candidate_value < paired.reference_value
        end as is_candidate_better

    from paired
    left join metric_definitions
        on paired.metric = metric_definitions.metric

)

select * from final
