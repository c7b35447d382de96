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

{#-
  e^x, or 0 where it would underflow a double (below e^−700, far under any sum it joins):
  PostgreSQL raises an error on underflow where other engines return 0.
-#}
{% macro exp_or_zero(x) -%}
    case when {{ x }} < -700 then 0.0 else exp({{ x }}) end
{%- endmacro %}

{#- cos(angle)^exponent for an angle in [0, π/2), through exp_or_zero. -#}
{% macro cosine_power(angle, exponent) -%}
    {{ exp_or_zero('(' ~ exponent ~ ') * ln(cos(' ~ angle ~ '))') }}
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
            'grid.simpson_weight * '
            ~ cosine_power('grid.step * inputs.theta / ' ~ steps, 'inputs.nu - 1')
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
                'grid.simpson_weight * '
                ~ cosine_power('grid.step * previous.theta / ' ~ steps, 'previous.nu - 1')
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
        -- (greatest and least skip nulls: no t, no p-value.)
        case
            when central_mass.central_mass is not null
                then greatest(1.0 - central_mass.central_mass, 0.0)
        end as p_value,
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

{#-
  The standard normal upper tail Q(z) = 1 − Φ(z) for z ≥ 0, to double precision in absolute
  terms (Hart's algorithm 5666 as G. West gives it, "Better approximations to cumulative normal
  functions", 2005): a rational function times exp(−z²/2) below 7.07, a continued fraction up to
  37, 0 beyond. None of DuckDB, Spark or PostgreSQL 15 has erf. `z` is a column or expression
  read several times: pass a column.
-#}
{% macro normal_upper_tail(z) -%}
    cast(case
        when {{ z }} > 37 then 0.0
        when {{ z }} < 7.07106781186547 then
            exp(-{{ z }} * {{ z }} / 2.0)
            * ((((((0.0352624965998911 * {{ z }} + 0.700383064443688) * {{ z }}
                + 6.37396220353165) * {{ z }} + 33.912866078383) * {{ z }}
                + 112.079291497871) * {{ z }} + 221.213596169931) * {{ z }}
                + 220.206867912376)
            / (((((((0.0883883476483184 * {{ z }} + 1.75566716318264) * {{ z }}
                + 16.064177579207) * {{ z }} + 86.7807322029461) * {{ z }}
                + 296.564248779674) * {{ z }} + 637.333633378831) * {{ z }}
                + 793.826512519948) * {{ z }} + 440.413735824752)
        else
            exp(-{{ z }} * {{ z }} / 2.0)
            / ({{ z }} + 1.0 / ({{ z }} + 2.0 / ({{ z }} + 3.0 / ({{ z }} + 4.0 / ({{ z }} + 0.65)))))
            / 2.506628274631
    end as {{ type_double() }})
{%- endmacro %}

{#- Two-sided p-value of a z statistic: 2·Q(|z|); null without one (least skips nulls). -#}
{% macro normal_two_sided_p_value(z) -%}
    case
        when {{ z }} is not null
            then least(
                cast(1.0 as {{ type_double() }}), 2.0 * {{ normal_upper_tail('abs(' ~ z ~ ')') }}
            )
    end
{%- endmacro %}

{#-
  Two CTEs ending in `output` (one row, column critical_value): the (1 + level)/2 quantile of
  the standard normal, for a confidence level known when the project compiles. P. J. Acklam's
  rational approximation (relative error 1.2e-9), then one Halley step on Hart's tail, which
  brings it to double precision.
-#}
{% macro normal_critical_value_ctes(level, output) -%}
    {%- set p = (1 + level) / 2 -%}
    {#- A double from the start: Spark would keep literal arithmetic in decimals. -#}
    {%- set p_sql = 'cast(' ~ p ~ ' as ' ~ type_double() ~ ')' -%}
    {%- set a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
                 -30.66479806614716, 2.506628277459239] -%}
    {%- set b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
                 -13.28068155288572] -%}
    {%- set c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838,
                 -2.549732539343734, 4.374664141464968, 2.938163982698783] -%}
    {%- set d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996,
                 3.754408661907416] -%}
{{ output }}__initial as (

    {% if p <= 1 - 0.02425 %}
    select
        ((((({{ a[0] }} * r + {{ a[1] }}) * r + {{ a[2] }}) * r + {{ a[3] }}) * r + {{ a[4] }}) * r
            + {{ a[5] }}) * q
        / ((((({{ b[0] }} * r + {{ b[1] }}) * r + {{ b[2] }}) * r + {{ b[3] }}) * r + {{ b[4] }}) * r
            + 1.0) as z
    from (select {{ p_sql }} - 0.5 as q, ({{ p_sql }} - 0.5) * ({{ p_sql }} - 0.5) as r) as central
    {% else %}
    select
        -((((({{ c[0] }} * q + {{ c[1] }}) * q + {{ c[2] }}) * q + {{ c[3] }}) * q + {{ c[4] }}) * q
            + {{ c[5] }})
        / (((({{ d[0] }} * q + {{ d[1] }}) * q + {{ d[2] }}) * q + {{ d[3] }}) * q + 1.0) as z
    from (select sqrt(-2.0 * ln(1.0 - {{ p_sql }})) as q) as upper_tail
    {% endif %}

),

{{ output }} as (

    select
        z - halley_u / (1.0 + z * halley_u / 2.0) as critical_value

    from (
        select
            z,
            ((1.0 - {{ normal_upper_tail('z') }}) - {{ p_sql }}) * 2.506628274631000502
            * exp(z * z / 2.0) as halley_u
        from {{ output }}__initial
    ) as refined

)
{%- endmacro %}

{#-
  CTEs ending in `output`: every column of `input` (keys, chi_square, degrees_of_freedom, an
  integer of at least 1, and any others) plus p_value = P(χ²_df ≥ chi_square), in closed form for integer df (no gamma
  function): with r = (df mod 2)/2, sf = [df odd]·2Q(√x) + Σ_{i < ⌊df/2⌋} exp(−x/2 + (r + i)
  ln(x/2) − lnΓ(r + i + 1)), lnΓ(r + i + 1) = lnΓ(r + 1) + Σ_{b ≤ i} ln(r + b), lnΓ(3/2) =
  ln(√π / 2). Up to 200 degrees of freedom.
-#}
{% macro chi_square_p_value_ctes(input, keys, output) -%}
    {%- set key_list = keys | join(', ') -%}
{{ output }}__terms_index as (

    select generated_number - 1 as term
    from ({{ numbers_up_to(100) }}) as series

),

{{ output }}__inputs as (

    select
        {{ key_list }},
        cast(chi_square as {{ type_double() }}) as chi_square,
        degrees_of_freedom,
        mod(degrees_of_freedom, 2) / 2.0 as half_odd,
        sqrt(cast(chi_square as {{ type_double() }})) as root

    from {{ input }}
    where chi_square is not null and degrees_of_freedom >= 1

),

{{ output }}__log_terms as (

    select
        inputs.{{ keys | join(', inputs.') }},
        -inputs.chi_square / 2.0
        + (inputs.half_odd + terms.term) * ln(inputs.chi_square / 2.0)
        - case when inputs.half_odd > 0 then -0.12078223763524522 else 0.0 end
        - coalesce(sum(ln(inputs.half_odd + terms.term + 1.0)) over (
            partition by inputs.{{ keys | join(', inputs.') }}
            order by terms.term
            rows between unbounded preceding and 1 preceding
        ), 0.0) as log_term,
        terms.term

    from {{ output }}__inputs as inputs
    inner join {{ output }}__terms_index as terms
        on terms.term < floor(inputs.degrees_of_freedom / 2.0)
    where inputs.chi_square > 0

),

{{ output }}__series as (

    select
        {{ key_list }},
        sum({{ exp_or_zero('log_term') }}) as tail_sum

    from {{ output }}__log_terms
    group by {{ key_list }}

),

{{ output }}__p_values as (

    select
        inputs.{{ keys | join(', inputs.') }},
        case
            when inputs.chi_square <= 0 then cast(1.0 as {{ type_double() }})
            else least(
                cast(1.0 as {{ type_double() }}),
                case
                    when inputs.half_odd > 0 then 2.0 * {{ normal_upper_tail('inputs.root') }}
                    else 0.0
                end
                + coalesce(series.tail_sum, 0.0)
            )
        end as p_value

    from {{ output }}__inputs as inputs
    left join {{ output }}__series as series
        on
            {%- for key in keys %}
            inputs.{{ key }} = series.{{ key }}{{ ' and' if not loop.last }}
            {%- endfor %}

),

{{ output }} as (

    select
        tested.*,
        p_values.p_value

    from {{ input }} as tested
    left join {{ output }}__p_values as p_values
        on
            {%- for key in keys %}
            tested.{{ key }} = p_values.{{ key }}{{ ' and' if not loop.last }}
            {%- endfor %}

)
{%- endmacro %}

{#- One cell's term of Pearson's chi-square, (observed − expected)² / expected. -#}
{% macro pearson_chi_square_term(observed, expected) -%}
    power({{ observed }} - {{ expected }}, 2) / nullif({{ expected }}, 0)
{%- endmacro %}

{#-
  CUPED as Spotify's Confidence computes it from sufficient statistics (ZTestLinreg): one slope
  θ for the metric y on the pre-period covariate x, pooled over the arms with a common
  intercept, θ = (N·Σxy − Σx·Σy) / (N·Σx² − (Σx)²), 0 when x does not vary.
-#}
{% macro cuped_slope(n, sum_x, sum_y, sum_x2, sum_xy) -%}
    coalesce(
        ({{ n }} * {{ sum_xy }} - {{ sum_x }} * {{ sum_y }})
        / nullif({{ n }} * {{ sum_x2 }} - {{ sum_x }} * {{ sum_x }}, 0),
        0
    )
{%- endmacro %}

{#-
  An arm's variance of y − θ·x from its sums: s²_y + θ²·v_x − 2θ·c_xy, with s²_y the sample
  variance (n − 1) and v_x, c_xy the arm's population (÷ n) variance and covariance, as
  ZTestLinreg has it (which raises on a negative one; only rounding can make it so: 0 here).
-#}
{% macro cuped_variance(variance_y, theta, n, sum_x, sum_y, sum_x2, sum_xy) -%}
    greatest(
        {{ variance_y }}
        + {{ theta }} * {{ theta }}
        * ({{ sum_x2 }} / {{ n }} - ({{ sum_x }} / {{ n }}) * ({{ sum_x }} / {{ n }}))
        - 2 * {{ theta }}
        * ({{ sum_xy }} / {{ n }} - ({{ sum_x }} / {{ n }}) * ({{ sum_y }} / {{ n }})),
        0
    )
{%- endmacro %}

{#-
  CUPED's adjusted difference of an arm from the control: the plain difference of the means
  less θ times the difference of the covariate's means (a common intercept, as ZTestLinreg).
-#}
{% macro cuped_difference(difference, theta, mean_x, control_mean_x) -%}
    {{ difference }} - {{ theta }} * ({{ mean_x }} - {{ control_mean_x }})
{%- endmacro %}

{#-
  The share of the difference's variance that an adjustment removes: 1 − adjusted / plain, each
  the sum of the arms' variance / n (Confidence's variance_reduction_rate).
-#}
{% macro variance_reduction_rate(adjusted_variance_of_difference, variance_of_difference) -%}
    1 - ({{ adjusted_variance_of_difference }}) / nullif({{ variance_of_difference }}, 0)
{%- endmacro %}

{#-
  The sample variance from an arm's sums: (Σy² − (Σy)²/n) / (n − 1), never below 0 (when every
  value is equal, rounding can leave the difference a hair below zero).
-#}
{% macro variance_from_sums(sum_y, sum_y2, n) -%}
    greatest({{ sample_variance(
        '(' ~ sum_y2 ~ ' - ' ~ sum_y ~ ' * ' ~ sum_y ~ ' / ' ~ n ~ ')', n
    ) }}, 0)
{%- endmacro %}

{#- One-sided normal p-value P(Z ≥ z), for z of either sign (a column: it is read often). -#}
{% macro normal_upper_p_value(z) -%}
    case
        when {{ z }} >= 0 then {{ normal_upper_tail(z) }}
        else 1.0 - {{ normal_upper_tail('(-' ~ z ~ ')') }}
    end
{%- endmacro %}

{#-
  A guardrail's status: 'non-inferior' when the one-sided test rejects a harm as large as the
  margin (non-inferiority p-value below 1 − level); 'inferior' when the whole interval lies
  beyond the margin on the worse side; 'unclear' otherwise.
-#}
{% macro guardrail_status(
    non_inferiority_p_value, ci_lower, ci_upper, threshold, preferred_direction, level
) -%}
    case
        when {{ non_inferiority_p_value }} < 1 - {{ level }} then 'non-inferior'
        when {{ preferred_direction }} = 'increase' and {{ ci_upper }} < {{ threshold }}
            then 'inferior'
        when {{ preferred_direction }} = 'decrease' and {{ ci_lower }} > {{ threshold }}
            then 'inferior'
        else 'unclear'
    end
{%- endmacro %}

{#-
  An experiment arm's decision, in this order: 'invalid' when the sample ratio mismatch test
  fails; 'do not ship' when the primary metric is significantly worse or a guardrail is
  inferior; 'ship' when the primary metric is significantly better and every guardrail is
  non-inferior; 'inconclusive' otherwise (no plan, no primary result, a guardrail unclear).
-#}
{% macro experiment_decision(
    is_sample_ratio_mismatch, primary_verdict, inferior_guardrails, unproven_guardrails
) -%}
    case
        when {{ is_sample_ratio_mismatch }} then 'invalid'
        when {{ primary_verdict }} = 'worse' or {{ inferior_guardrails }} > 0 then 'do not ship'
        when {{ primary_verdict }} = 'better' and {{ unproven_guardrails }} = 0 then 'ship'
        else 'inconclusive'
    end
{%- endmacro %}
