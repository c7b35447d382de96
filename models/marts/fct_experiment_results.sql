{%- set level = var('experiment_confidence_level') -%}

with

arm_sums as (

    select * from {{ ref('fct_experiment_arms') }}

),

plan_metrics as (

    select * from {{ ref('experiment_metrics') }}

),

arms as (

    select
        experiment_id,
        metric,
        variant,
        n,
        sum_y,
        sum_x,
        sum_x2,
        sum_xy,
        sum_y / n as mean,
        {{ variance_from_sums('sum_y', 'sum_y2', 'n') }} as variance

    from arm_sums

),

-- CUPED's slope per experiment and metric, pooled over the arms.
slopes as (

    select
        experiment_id,
        metric,
        {{ cuped_slope(
            'sum(n)', exact_sum('sum_x'), exact_sum('sum_y'), exact_sum('sum_x2'),
            exact_sum('sum_xy')
        ) }} as cuped_theta

    from arm_sums
    group by experiment_id, metric

),

adjusted_arms as (

    select
        arms.*,
        slopes.cuped_theta,
        {{ cuped_variance(
            'arms.variance', 'slopes.cuped_theta', 'arms.n', 'arms.sum_x', 'arms.sum_y',
            'arms.sum_x2', 'arms.sum_xy'
        ) }} as cuped_variance

    from arms
    inner join slopes
        on
            arms.experiment_id = slopes.experiment_id
            and arms.metric = slopes.metric

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
        {{ welch_degrees_of_freedom(
            'treatment.variance', 'treatment.n', 'control.variance', 'control.n'
        ) }} as degrees_of_freedom,
        treatment.cuped_theta,
        {{ cuped_difference(
            'treatment.mean - control.mean', 'treatment.cuped_theta',
            'treatment.sum_x / treatment.n', 'control.sum_x / control.n'
        ) }} as cuped_difference,
        {{ welch_standard_error(
            'treatment.cuped_variance', 'treatment.n', 'control.cuped_variance', 'control.n'
        ) }} as cuped_standard_error,
        {{ variance_reduction_rate(
            'treatment.cuped_variance / treatment.n + control.cuped_variance / control.n',
            'treatment.variance / treatment.n + control.variance / control.n'
        ) }} as variance_reduction_rate

    from adjusted_arms as treatment
    inner join adjusted_arms as control
        on
            treatment.experiment_id = control.experiment_id
            and treatment.metric = control.metric
            and control.variant = '{{ var("experiment_control_variant") }}'
            and treatment.variant != control.variant

),

-- Welch's t: the difference over its standard error.
t_tests as (

    select
        *,
        difference / nullif(standard_error, 0) as t_statistic

    from compared

),

{{ student_t_ctes('t_tests', ['experiment_id', 'metric', 'variant'], level, 'tested') }},

{{ normal_critical_value_ctes(level, 'normal_quantile') }},

-- The plan's role for the metric; for guardrails, the difference it may not fall beyond:
-- the margin times the control's mean, on the side the metric is worse.
planned as (

    select
        tested.*,
        plan_metrics.role,
        plan_metrics.preferred_direction,
        plan_metrics.non_inferiority_margin,
        case plan_metrics.preferred_direction
            when 'increase' then -plan_metrics.non_inferiority_margin * tested.control_mean
            when 'decrease' then plan_metrics.non_inferiority_margin * tested.control_mean
        end as non_inferiority_threshold,
        tested.cuped_difference / nullif(tested.cuped_standard_error, 0) as cuped_z_statistic

    from tested
    left join plan_metrics
        on
            tested.experiment_id = plan_metrics.experiment_id
            and tested.metric = plan_metrics.metric

),

-- CUPED's two-sided p-value; and non-inferiority, one-sided: is the difference beyond the
-- threshold on the better side?
non_inferiority as (

    select
        *,
        case preferred_direction
            when 'increase' then 1 else -1
        end * (cuped_difference - non_inferiority_threshold)
        / nullif(cuped_standard_error, 0) as non_inferiority_z,
        {{ normal_two_sided_p_value('cuped_z_statistic') }} as cuped_p_value

    from planned

),

results as (

    select
        non_inferiority.experiment_id,
        non_inferiority.metric,
        non_inferiority.variant,
        non_inferiority.control_variant,
        non_inferiority.role,
        non_inferiority.preferred_direction,
        non_inferiority.n,
        non_inferiority.mean,
        non_inferiority.sd,
        non_inferiority.control_n,
        non_inferiority.control_mean,
        non_inferiority.control_sd,
        non_inferiority.difference,
        non_inferiority.difference / nullif(non_inferiority.control_mean, 0)
            as relative_difference,
        non_inferiority.standard_error,
        cast({{ level }} as {{ type_double() }}) as confidence_level,
        non_inferiority.difference
        - non_inferiority.critical_value * non_inferiority.standard_error as ci_lower,
        non_inferiority.difference
        + non_inferiority.critical_value * non_inferiority.standard_error as ci_upper,
        non_inferiority.t_statistic,
        non_inferiority.degrees_of_freedom,
        non_inferiority.p_value,
        non_inferiority.cuped_theta,
        non_inferiority.cuped_difference,
        non_inferiority.cuped_standard_error,
        non_inferiority.cuped_difference
        - normal_quantile.critical_value * non_inferiority.cuped_standard_error
            as cuped_ci_lower,
        non_inferiority.cuped_difference
        + normal_quantile.critical_value * non_inferiority.cuped_standard_error
            as cuped_ci_upper,
        non_inferiority.cuped_z_statistic,
        non_inferiority.cuped_p_value,
        non_inferiority.variance_reduction_rate,
        case
            when non_inferiority.preferred_direction is not null
                then {{ comparison_verdict(
                    'non_inferiority.cuped_difference',
                    'non_inferiority.cuped_p_value',
                    "(non_inferiority.preferred_direction = 'increase')",
                    level
                ) }}
        end as verdict,
        non_inferiority.non_inferiority_margin,
        non_inferiority.non_inferiority_threshold,
        {{ normal_upper_p_value('non_inferiority.non_inferiority_z') }}
            as non_inferiority_p_value

    from non_inferiority
    cross join normal_quantile

),

final as (

    select
        *,
        case
            when role = 'guardrail'
                then {{ guardrail_status(
                    'non_inferiority_p_value', 'cuped_ci_lower', 'cuped_ci_upper',
                    'non_inferiority_threshold', 'preferred_direction', level
                ) }}
        end as guardrail_status

    from results

)

select * from final
