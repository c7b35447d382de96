{%- set metrics = [
    'hit_rate', 'mean_precision_at_k', 'mean_recall_at_k', 'mean_ndcg_at_k',
    'mean_graded_ndcg_at_k', 'mean_average_precision_at_k', 'mean_average_precision',
    'mean_r_precision', 'mean_reciprocal_rank', 'catalog_coverage', 'distributional_coverage',
    'mean_intra_list_diversity', 'mean_share_new_to_user', 'mean_novelty', 'mean_serendipity',
    'mean_popularity_bias', 'mean_abs_difference', 'mean_similarity', 'mean_cosine_similarity',
    'mean_euclidean_distance'
] -%}

{#- Metrics measured per listener (each listener's mean over their lists): tested paired. -#}
{%- set accuracy_metrics = [
    'hit_rate', 'mean_precision_at_k', 'mean_recall_at_k', 'mean_ndcg_at_k',
    'mean_graded_ndcg_at_k', 'mean_average_precision_at_k', 'mean_average_precision',
    'mean_r_precision', 'mean_reciprocal_rank'
] -%}
{%- set quality_metrics = {
    'mean_intra_list_diversity': 'intra_list_diversity',
    'mean_share_new_to_user': 'share_new_to_user',
    'mean_novelty': 'novelty',
    'mean_serendipity': 'serendipity',
    'mean_popularity_bias': 'popularity_bias',
} -%}
{%- set similarity_metrics = {
    'mean_abs_difference': 'mean_abs_difference',
    'mean_similarity': 'similarity',
    'mean_cosine_similarity': 'cosine_similarity',
    'mean_euclidean_distance': 'euclidean_distance',
} -%}
{#- Where each per-listener metric is read from (a CTE below). -#}
{%- set listener_sources = {} -%}
{%- for metric in accuracy_metrics -%}
    {%- do listener_sources.update({metric: 'accuracy_by_listener'}) -%}
{%- endfor -%}
{%- for metric in quality_metrics -%}
    {%- do listener_sources.update({metric: 'quality_by_user'}) -%}
{%- endfor -%}
{%- for metric in similarity_metrics -%}
    {%- do listener_sources.update({metric: 'similarity_by_user'}) -%}
{%- endfor -%}
{%- set level = var('model_comparison_confidence_level') -%}

with

performance as (

    select * from {{ ref('fct_model_performance') }}

),

metric_definitions as (

    select * from {{ ref('recommendation_metrics') }}

),

accuracy_by_user as (

    select * from {{ ref('fct_recommendation_accuracy_by_user') }}

),

list_quality as (

    select * from {{ ref('fct_recommendation_list_quality') }}

),

similarity as (

    select * from {{ ref('fct_prediction_similarity') }}

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

quality_by_user as (

    select
        user_id,
        {{ model_key('model_name', 'model_version', 'variant') }} as model_key,
        {% for metric, column in quality_metrics.items() %}
            {{ exact_avg(column) }} as {{ metric }},
        {% endfor %}
        count(*) as lists

    from list_quality
    group by user_id, model_name, model_version, variant

),

similarity_by_user as (

    select
        user_id,
        {{ model_key('model_name', 'model_version', 'variant') }} as model_key,
        {% for metric, column in similarity_metrics.items() %}
            {{ exact_avg(column) }} as {{ metric }},
        {% endfor %}
        count(*) as lists

    from similarity
    group by user_id, model_name, model_version, variant

),

accuracy_by_listener as (

    select
        user_id,
        {{ model_key('model_name', 'model_version', 'variant') }} as model_key,
        {{ accuracy_metrics | join(',\n        ') }}

    from accuracy_by_user

),

-- Each listener's value of each metric under each model that served them.
listener_values as (

    {% for metric, source in listener_sources.items() %}
        select
            user_id,
            model_key,
            '{{ metric }}' as metric,
            cast({{ metric }} as {{ type_double() }}) as listener_value
        from {{ source }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- The listeners both models served, each with the candidate's value less the reference's.
listener_differences as (

    select
        reference.model_key as reference_model_key,
        candidate.model_key as candidate_model_key,
        reference.metric,
        candidate.listener_value - reference.listener_value as listener_difference

    from listener_values as reference
    inner join listener_values as candidate
        on
            reference.user_id = candidate.user_id
            and reference.metric = candidate.metric
            and reference.model_key != candidate.model_key
    where reference.listener_value is not null and candidate.listener_value is not null

),

paired_means as (

    select
        reference_model_key,
        candidate_model_key,
        metric,
        count(*) as shared_listeners,
        {{ exact_avg('listener_difference') }} as mean_paired_difference

    from listener_differences
    group by reference_model_key, candidate_model_key, metric

),

-- Paired t-test: the differences' mean over its standard error, n − 1 degrees of freedom.
paired as (

    select
        paired_means.reference_model_key,
        paired_means.candidate_model_key,
        paired_means.metric,
        paired_means.shared_listeners,
        paired_means.mean_paired_difference,
        sqrt({{ sample_variance(
            exact_sum(
                'power(listener_differences.listener_difference'
                ~ ' - paired_means.mean_paired_difference, 2)'
            ),
            'paired_means.shared_listeners'
        ) }} / paired_means.shared_listeners) as standard_error

    from paired_means
    inner join listener_differences
        on
            paired_means.reference_model_key = listener_differences.reference_model_key
            and paired_means.candidate_model_key = listener_differences.candidate_model_key
            and paired_means.metric = listener_differences.metric
    group by
        paired_means.reference_model_key,
        paired_means.candidate_model_key,
        paired_means.metric,
        paired_means.shared_listeners,
        paired_means.mean_paired_difference

),

paired_tests as (

    select
        *,
        mean_paired_difference / nullif(standard_error, 0) as t_statistic,
        shared_listeners - 1 as degrees_of_freedom

    from paired

),

{{ student_t_ctes(
    'paired_tests', ['reference_model_key', 'candidate_model_key', 'metric'], level, 'tested'
) }},

-- Holm's step-down correction within each pair and metric family: the i-th smallest of m
-- p-values times (m − i + 1), never below the one before it, at most 1.
family_ranked as (

    select
        tested.reference_model_key,
        tested.candidate_model_key,
        tested.metric,
        tested.p_value,
        metric_definitions.metric_family,
        row_number() over (
            partition by
                tested.reference_model_key,
                tested.candidate_model_key,
                metric_definitions.metric_family
            order by tested.p_value asc, tested.metric asc
        ) as p_rank,
        count(*) over (
            partition by
                tested.reference_model_key,
                tested.candidate_model_key,
                metric_definitions.metric_family
        ) as family_size

    from tested
    inner join metric_definitions
        on tested.metric = metric_definitions.metric
    where tested.p_value is not null

),

holm_adjusted as (

    select
        reference_model_key,
        candidate_model_key,
        metric,
        {{ holm_adjusted_p_value(
            'p_value', 'p_rank', 'family_size',
            'reference_model_key, candidate_model_key, metric_family'
        ) }} as p_value_holm

    from family_ranked

),

pairs as (

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

compared as (

    select
        pairs.*,
        metric_definitions.metric_family,
        metric_definitions.metric_order,
        metric_definitions.higher_is_better,
        tested.mean_paired_difference,
        tested.standard_error,
        tested.t_statistic,
        tested.degrees_of_freedom,
        tested.p_value,
        holm_adjusted.p_value_holm,
        coalesce(tested.shared_listeners, 0) as shared_listeners,
        tested.mean_paired_difference - tested.critical_value * tested.standard_error
            as ci_lower,
        tested.mean_paired_difference + tested.critical_value * tested.standard_error
            as ci_upper

    from pairs
    inner join metric_definitions
        on pairs.metric = metric_definitions.metric
    left join tested
        on
            pairs.reference_model_key = tested.reference_model_key
            and pairs.candidate_model_key = tested.candidate_model_key
            and pairs.metric = tested.metric
    left join holm_adjusted
        on
            pairs.reference_model_key = holm_adjusted.reference_model_key
            and pairs.candidate_model_key = holm_adjusted.candidate_model_key
            and pairs.metric = holm_adjusted.metric

),

verdicts as (

    select
        reference_model_key,
        reference_model_name,
        reference_model_version,
        reference_variant,
        candidate_model_key,
        candidate_model_name,
        candidate_model_version,
        candidate_variant,
        metric,
        metric_family,
        metric_order,
        higher_is_better,
        reference_value,
        candidate_value,
        candidate_value - reference_value as difference,
        (candidate_value - reference_value) / nullif(abs(reference_value), 0)
            as relative_difference,
        shared_listeners,
        mean_paired_difference,
        standard_error,
        cast({{ level }} as {{ type_double() }}) as confidence_level,
        ci_lower,
        ci_upper,
        t_statistic,
        degrees_of_freedom,
        p_value,
        p_value_holm,
        {{ comparison_verdict(
            'mean_paired_difference', 'p_value_holm', 'higher_is_better', level
        ) }} as verdict

    from compared

),

final as (

    select
        *,
        case verdict when 'better' then true when 'worse' then false end as is_candidate_better

    from verdicts

)

select * from final
