{%- set level = var('experiment_confidence_level') -%}
{%- set control = var('experiment_control_variant') -%}

with

engagement as (

    select * from {{ ref('fct_experiment_engagement') }}

),

results as (

    select * from {{ ref('fct_experiment_results') }}

),

plans as (

    select * from {{ ref('experiments') }}

),

planned_arms as (

    select * from {{ ref('experiment_arms') }}

),

plan_metrics as (

    select * from {{ ref('experiment_metrics') }}

),

assigned as (

    select
        experiment_id,
        variant,
        count(*) as assigned_listeners,
        max(observed_until) as observed_until

    from engagement
    group by experiment_id, variant

),

-- Each planned experiment's arms, as assigned and as planned (an arm may be only one).
srm_cells as (

    select
        planned_arms.planned_share,
        coalesce(assigned.experiment_id, planned_arms.experiment_id) as experiment_id,
        coalesce(assigned.variant, planned_arms.variant) as variant,
        coalesce(assigned.assigned_listeners, 0) as observed

    from assigned
    full outer join planned_arms
        on
            assigned.experiment_id = planned_arms.experiment_id
            and assigned.variant = planned_arms.variant

),

srm_totals as (

    select
        experiment_id,
        sum(observed) as listeners

    from srm_cells
    group by experiment_id

),

-- Pearson's chi-square of the assigned listeners against the planned split, arms − 1 degrees
-- of freedom; an arm outside the plan is a mismatch by itself.
srm_statistics as (

    select
        srm_cells.experiment_id,
        sum({{ pearson_chi_square_term(
            'srm_cells.observed', 'srm_totals.listeners * srm_cells.planned_share'
        ) }}) as chi_square,
        count(*) - 1 as degrees_of_freedom,
        count(*) - count(srm_cells.planned_share) as unplanned_arms

    from srm_cells
    inner join srm_totals
        on srm_cells.experiment_id = srm_totals.experiment_id
    inner join plans
        on srm_cells.experiment_id = plans.experiment_id
    group by srm_cells.experiment_id

),

{{ chi_square_p_value_ctes('srm_statistics', ['experiment_id'], 'srm_tested') }},

primary_results as (

    select
        experiment_id,
        variant,
        metric,
        cuped_difference,
        cuped_ci_lower,
        cuped_ci_upper,
        cuped_p_value,
        verdict

    from results
    where role = 'primary'

),

guardrail_results as (

    select
        experiment_id,
        variant,
        count(case when guardrail_status = 'non-inferior' then 1 end) as non_inferior_guardrails,
        count(case when guardrail_status = 'inferior' then 1 end) as inferior_guardrails

    from results
    where role = 'guardrail'
    group by experiment_id, variant

),

planned_guardrails as (

    select
        experiment_id,
        count(*) as guardrails

    from plan_metrics
    where role = 'guardrail'
    group by experiment_id

),

arms as (

    select
        assigned.experiment_id,
        assigned.variant,
        assigned.assigned_listeners,
        assigned.observed_until,
        control.assigned_listeners as control_assigned_listeners

    from assigned
    left join assigned as control
        on
            assigned.experiment_id = control.experiment_id
            and control.variant = '{{ control }}'
    where assigned.variant != '{{ control }}'

),

decided as (

    select
        arms.experiment_id,
        arms.variant,
        '{{ control }}' as control_variant,
        arms.assigned_listeners,
        coalesce(arms.control_assigned_listeners, 0) as control_assigned_listeners,
        plans.planned_end_date,
        arms.observed_until,
        arms.observed_until < cast(plans.planned_end_date as timestamp)
            as is_read_before_planned_end,
        srm_tested.chi_square as srm_chi_square,
        srm_tested.degrees_of_freedom as srm_degrees_of_freedom,
        srm_tested.p_value as srm_p_value,
        srm_tested.unplanned_arms > 0
        or srm_tested.p_value < {{ var('experiment_srm_alpha') }} as is_sample_ratio_mismatch,
        primary_results.metric as primary_metric,
        primary_results.cuped_difference as primary_difference,
        primary_results.cuped_ci_lower as primary_ci_lower,
        primary_results.cuped_ci_upper as primary_ci_upper,
        primary_results.cuped_p_value as primary_p_value,
        primary_results.verdict as primary_verdict,
        coalesce(planned_guardrails.guardrails, 0) as guardrails,
        coalesce(guardrail_results.non_inferior_guardrails, 0) as non_inferior_guardrails,
        coalesce(guardrail_results.inferior_guardrails, 0) as inferior_guardrails

    from arms
    left join plans
        on arms.experiment_id = plans.experiment_id
    left join srm_tested
        on arms.experiment_id = srm_tested.experiment_id
    left join primary_results
        on
            arms.experiment_id = primary_results.experiment_id
            and arms.variant = primary_results.variant
    left join guardrail_results
        on
            arms.experiment_id = guardrail_results.experiment_id
            and arms.variant = guardrail_results.variant
    left join planned_guardrails
        on arms.experiment_id = planned_guardrails.experiment_id

),

final as (

    select
        *,
        {{ experiment_decision(
            'is_sample_ratio_mismatch',
            'primary_verdict',
            'inferior_guardrails',
            'guardrails - non_inferior_guardrails'
        ) }} as decision

    from decided

)

select * from final
