{#- Engagement over an experiment window, written once (see fct_experiment_engagement). -#}

{#- A total per day of the window: total / window days. -#}
{% macro per_day(total, days) -%}
    cast({{ total }} as {{ type_double() }}) / {{ days }}
{%- endmacro %}

{#- The end of a user's experiment window: assigned_at + var('experiment_window_days') days. -#}
{% macro experiment_window_end(assigned_at) -%}
    {{ dbt.dateadd('day', var('experiment_window_days'), assigned_at) }}
{%- endmacro %}

{#- Sample variance from the sum of squared deviations from the mean: Σ(x - x̄)² / (n - 1). -#}
{% macro sample_variance(sum_of_squared_deviations, n) -%}
    {{ sum_of_squared_deviations }} / nullif({{ n }} - 1, 0)
{%- endmacro %}

{#-
  The start of a user's pre-period, whose behaviour is the covariate that CUPED adjusts the
  experiment's metrics by: assigned_at − var('experiment_pre_period_days') days.
-#}
{% macro experiment_pre_period_start(assigned_at) -%}
    {{ dbt.dateadd('day', -var('experiment_pre_period_days'), assigned_at) }}
{%- endmacro %}
