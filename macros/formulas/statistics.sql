{#-
  Welch's two-sample t-test, written once (see fct_experiment_results). Variances are sample
  variances (n - 1); `a` is the treatment, `b` the control.
-#}

{#- Standard error of the difference of means: sqrt(s_a^2 / n_a + s_b^2 / n_b). -#}
{% macro welch_standard_error(variance_a, n_a, variance_b, n_b) -%}
    sqrt({{ variance_a }} / {{ n_a }} + {{ variance_b }} / {{ n_b }})
{%- endmacro %}

{#-
  Welch-Satterthwaite degrees of freedom:
  (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2 / (n_a - 1) + (s_b^2/n_b)^2 / (n_b - 1)).
-#}
{% macro welch_degrees_of_freedom(variance_a, n_a, variance_b, n_b) -%}
    power({{ variance_a }} / {{ n_a }} + {{ variance_b }} / {{ n_b }}, 2)
    / nullif(
        power({{ variance_a }} / {{ n_a }}, 2) / ({{ n_a }} - 1)
        + power({{ variance_b }} / {{ n_b }}, 2) / ({{ n_b }} - 1),
        0
    )
{%- endmacro %}

{#- ln Γ(x) for x > 0. -#}
{% macro log_gamma(x) -%}
    {{ return(adapter.dispatch('log_gamma', 'spotiflow')(x)) }}
{%- endmacro %}

{% macro duckdb__log_gamma(x) -%}
    lgamma({{ x }})
{%- endmacro %}

{#-
  Engines without lgamma: Stirling's series at x + 8 (error below 1e-13), brought back down with
  ln Γ(x) = ln Γ(x + 8) - ln(x (x + 1) ... (x + 7)). In doubles throughout: Spark reads a
  literal such as 0.5 as a decimal, and its decimal division keeps 6 places.
-#}
{% macro default__log_gamma(x) -%}
    {%- set x = 'cast(' ~ x ~ ' as ' ~ type_double() ~ ')' -%}
    {%- set z = '(' ~ x ~ ' + 8.0)' -%}
    (
        ({{ z }} - 0.5) * ln({{ z }}) - {{ z }} + 0.918938533204672742
        + 1.0 / (12.0 * {{ z }}) - 1.0 / (360.0 * power({{ z }}, 3))
        + 1.0 / (1260.0 * power({{ z }}, 5)) - 1.0 / (1680.0 * power({{ z }}, 7))
        + 1.0 / (1188.0 * power({{ z }}, 9))
        - ln(
            {%- for i in range(8) %}
            ({{ x }} + {{ i }}.0){{ ' *' if not loop.last }}
            {%- endfor %}
        )
    )
{%- endmacro %}

{#-
  Student's t with ν degrees of freedom, for any real ν >= 1, in portable SQL.
  With u = sqrt(ν) tan θ the central mass becomes a smooth integral over a finite range:
      P(|T| < t) = 2 / B(ν/2, 1/2) * ∫_0^θ cos(θ')^(ν - 1) dθ',  θ = atan(t / sqrt(ν)),
  computed by Simpson's rule on 2,000 steps (error below 1e-10; exact sums, so reruns agree to
  the last digit). Then:
      two-sided p-value = 1 - P(|T| < |t|);
      critical value q with P(|T| < q) = level: Newton's method on θ from θ = 0, which converges
      monotonically because the mass is concave in θ (10 steps reach 1e-10).

  Emits CTEs (inside a `with`): `<output>` holds every column of `<input>` plus p_value and
  critical_value, for its columns t_statistic and degrees_of_freedom; `keys` identify its rows.
-#}
{% macro student_t_ctes(input, keys, level, output) -%}
    {%- set steps = 2000 -%}
    {%- set newton_steps = 10 -%}
    {%- set key_list = keys | join(', ') -%}
{{ output }}__grid as (

    select
        generated_number - 1 as step,
        case
            when generated_number - 1 in (0, {{ steps }}) then 1.0
            when mod(generated_number - 1, 2) = 1 then 4.0
            else 2.0
        end as simpson_weight

    from ({{ numbers_up_to(steps + 1) }}) as series

),

{{ output }}__inputs as (

    select
        {{ key_list }},
        cast(degrees_of_freedom as {{ type_double() }}) as nu,
        atan(abs(t_statistic) / sqrt(degrees_of_freedom)) as theta,
        2.0 / exp(
            {{ log_gamma('degrees_of_freedom / 2.0') }}
            + {{ log_gamma('0.5') }}
            - {{ log_gamma('degrees_of_freedom / 2.0 + 0.5') }}
        ) as mass_scale

    from {{ input }}
    where t_statistic is not null and degrees_of_freedom >= 1

),

{{ output }}__central_mass as (

    select
        inputs.{{ keys | join(', inputs.') }},
        inputs.mass_scale * inputs.theta / {{ steps }} / 3.0 * {{ exact_sum(
            'grid.simpson_weight * power(cos(grid.step * inputs.theta / '
            ~ steps ~ '), inputs.nu - 1)'
        ) }} as central_mass

    from {{ output }}__inputs as inputs
    cross join {{ output }}__grid as grid
    group by inputs.{{ keys | join(', inputs.') }}, inputs.mass_scale, inputs.theta

),

{{ output }}__newton_0 as (

    select
        {{ key_list }},
        nu,
        mass_scale,
        cast(0.0 as {{ type_double() }}) as theta

    from {{ output }}__inputs

),
{% for step in range(1, newton_steps + 1) %}
{{ output }}__newton_{{ step }} as (

    select
        previous.{{ keys | join(', previous.') }},
        previous.nu,
        previous.mass_scale,
        previous.theta - (
            previous.mass_scale * previous.theta / {{ steps }} / 3.0 * {{ exact_sum(
                'grid.simpson_weight * power(cos(grid.step * previous.theta / '
                ~ steps ~ '), previous.nu - 1)'
            ) }}
            - {{ level }}
        ) / (previous.mass_scale * power(cos(previous.theta), previous.nu - 1)) as theta

    from {{ output }}__newton_{{ step - 1 }} as previous
    cross join {{ output }}__grid as grid
    group by
        previous.{{ keys | join(', previous.') }},
        previous.nu,
        previous.mass_scale,
        previous.theta

),
{% endfor %}
{{ output }} as (

    select
        tested.*,
        greatest(1.0 - central_mass.central_mass, 0.0) as p_value,
        sqrt(critical.nu) * tan(critical.theta) as critical_value

    from {{ input }} as tested
    left join {{ output }}__central_mass as central_mass
        on
            {%- for key in keys %}
            tested.{{ key }} = central_mass.{{ key }}{{ ' and' if not loop.last }}
            {%- endfor %}
    left join {{ output }}__newton_{{ newton_steps }} as critical
        on
            {%- for key in keys %}
            tested.{{ key }} = critical.{{ key }}{{ ' and' if not loop.last }}
            {%- endfor %}

)
{%- endmacro %}

{#-
  Holm's step-down adjusted p-value of the p_rank-th smallest of family_size p-values:
  max over j ≤ rank of (m − j + 1)·p_(j), at most 1. It controls the chance of any false
  "better" across the family at the test's level. A window over `partition_by` (the family).
-#}
{% macro holm_adjusted_p_value(p_value, p_rank, family_size, partition_by) -%}
    least(1.0, max(({{ family_size }} - {{ p_rank }} + 1) * {{ p_value }}) over (
        partition by {{ partition_by }} order by {{ p_rank }}
        rows between unbounded preceding and current row
    ))
{%- endmacro %}

{#-
  The verdict on a difference (candidate − reference) at a confidence level: 'better' or
  'worse' (in the metric's direction) when its adjusted p-value is below 1 − level, 'no
  difference' when it is not, 'not tested' without a test (no shared listeners, a model-level
  metric, no spread).
-#}
{% macro comparison_verdict(difference, adjusted_p_value, higher_is_better, level) -%}
    case
        when {{ adjusted_p_value }} is null then 'not tested'
        when {{ adjusted_p_value }} >= 1 - {{ level }} then 'no difference'
        when ({{ difference }} > 0) = {{ higher_is_better }} then 'better'
        else 'worse'
    end
{%- endmacro %}
