{#- Each metric of fct_experiment_engagement, with its pre-period value as CUPED's covariate. -#}
{%- set metrics = {
    'plays_per_day': 'pre_plays_per_day',
    'minutes_per_day': 'pre_minutes_per_day',
    'skip_rate': 'pre_skip_rate',
    'hit_rate': 'pre_hit_rate',
} -%}

with

engagement as (

    select * from {{ ref('fct_experiment_engagement') }}

),

-- One value per user and metric over complete windows (skip and hit rate: users with one),
-- and its covariate: the user's value in the pre-period, 0 where they have none there.
measures as (

    {% for metric, covariate in metrics.items() %}
        select
            experiment_id,
            variant,
            '{{ metric }}' as metric,
            cast({{ metric }} as {{ type_double() }}) as metric_value,
            cast(coalesce({{ covariate }}, 0) as {{ type_double() }}) as covariate_value

        from engagement
        where is_window_complete and {{ metric }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        experiment_id,
        variant,
        metric,
        count(*) as n,
        {{ exact_sum('metric_value') }} as sum_y,
        {{ exact_sum('metric_value * metric_value') }} as sum_y2,
        {{ exact_sum('covariate_value') }} as sum_x,
        {{ exact_sum('covariate_value * covariate_value') }} as sum_x2,
        {{ exact_sum('covariate_value * metric_value') }} as sum_xy

    from measures
    group by experiment_id, variant, metric

)

select * from final
