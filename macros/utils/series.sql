{#-
  One row per day (date_day) from `first_day` to `last_day` of each row of `relation`, both
  ends included; no rows where either is null. Each engine spells a series its own way.
-#}
{% macro days_between(relation, first_day, last_day) -%}
    {{ return(adapter.dispatch('days_between', 'spotiflow')(relation, first_day, last_day)) }}
{%- endmacro %}

{% macro default__days_between(relation, first_day, last_day) -%}
    {%- do exceptions.raise_compiler_error(
        "days_between has no spelling for " ~ target.type ~ " (macros/utils/days_between.sql)"
    ) -%}
{%- endmacro %}

{% macro duckdb__days_between(relation, first_day, last_day) -%}
    select cast(unnest(generate_series({{ first_day }}, {{ last_day }}, interval 1 day)) as date)
        as date_day
    from {{ relation }}
{%- endmacro %}

{% macro postgres__days_between(relation, first_day, last_day) -%}
    select cast(series.day as date) as date_day
    from {{ relation }}
    cross join lateral generate_series(
        cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day'
    ) as series (day)
{%- endmacro %}

{% macro spark__days_between(relation, first_day, last_day) -%}
    select explode(sequence({{ first_day }}, {{ last_day }}, interval 1 day)) as date_day
    from {{ relation }}
{%- endmacro %}

{#- Whole seconds from `earlier` to `later` (negative when later is earlier), a bigint on every
    engine: dbt's datediff gives PostgreSQL a float. -#}
{% macro seconds_between(earlier, later) -%}
    cast({{ dbt.datediff(earlier, later, 'second') }} as bigint)
{%- endmacro %}

{#- The integers 1 .. upper_bound as `generated_number`, a bigint on every engine (dbt's
    generate_series multiplies by powers of two, which PostgreSQL makes doubles). -#}
{% macro numbers_up_to(upper_bound) -%}
    select cast(series.generated_number as bigint) as generated_number
    from ({{ dbt.generate_series(upper_bound) }}) as series
{%- endmacro %}
