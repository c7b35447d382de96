{%- set metrics = ['minutes_per_day', 'plays_per_day', 'hit_rate'] -%}

with

engagement as (

    select * from {{ ref('fct_experiment_engagement') }}

),

-- One value per user and metric, over users whose window is complete (hit rate: users with
-- at least one judged list).
measures as (

    {% for metric in metrics %}
        select
            experiment_id,
            variant,
            user_id,
            '{{ metric }}' as metric,
            cast({{ metric }} as {{ type_double() }}) as metric_value

        from engagement
        where is_window_complete and {{ metric }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

arm_means as (

    select
        experiment_id,
        metric,
        variant,
        count(*) as n,
        {{ exact_avg('metric_value') }} as mean

    from measures
    group by experiment_id, metric, variant

),

-- Two passes (mean, then squared deviations): exact sums, so reruns agree to the last digit.
arms as (

    select
        arm_means.experiment_id,
        arm_means.metric,
        arm_means.variant,
        arm_means.n,
        arm_means.mean,
        {{ sample_variance(
            exact_sum('power(measures.metric_value - arm_means.mean, 2)'), 'arm_means.n'
        ) }} as variance

    from arm_means
    inner join measures
        on
            arm_means.experiment_id = measures.experiment_id
            and arm_means.metric = measures.metric
            and arm_means.variant = measures.variant
    group by
        arm_means.experiment_id,
        arm_means.metric,
        arm_means.variant,
        arm_means.n,
        arm_means.mean

),

-- Each arm against the control arm (var experiment_control_variant).
compared as (

    select
        treatment.experiment_id,
        treatment.metric,
        treatment.variant,
        control.variant as control_variant,
        control.n as control_n,
        control.mean as control_mean,
        sqrt(control.variance) as control_sd,
        treatment.n,
        treatment.mean,
        sqrt(treatment.variance) as sd,
        treatment.mean - control.mean as difference,
        {{ welch_standard_error(
            'treatment.variance', 'treatment.n', 'control.variance', 'control.n'
        ) }} as standard_error,
        (treatment.mean - control.mean) / nullif({{ welch_standard_error(
            'treatment.variance', 'treatment.n', 'control.variance', 'control.n'
        ) }}, 0) as t_statistic,
        {{ welch_degrees_of_freedom(
            'treatment.variance', 'treatment.n', 'control.variance', 'control.n'
        ) }} as degrees_of_freedom

    from arms as treatment
    inner join arms as control
        on
            treatment.experiment_id = control.experiment_id
            and treatment.metric = control.metric
            and control.variant = '{{ var("experiment_control_variant") }}'
            and treatment.variant != control.variant

),

{{ student_t_ctes(
    'compared', ['experiment_id', 'metric', 'variant'], var('experiment_confidence_level'), 'tested'
) }},

final as (

    select
        experiment_id,
        metric,
        variant,
        control_variant,
        n,
        mean,
        sd,
        control_n,
        control_mean,
        control_sd,
        difference,
        difference / nullif(control_mean, 0) as relative_difference,
        standard_error,
        cast({{ var('experiment_confidence_level') }} as {{ type_double() }}) as confidence_level,
        difference - critical_value * standard_error as ci_lower,
        difference + critical_value * standard_error as ci_upper,
        t_statistic,
        degrees_of_freedom,
        p_value

    from tested

)

select * from final
