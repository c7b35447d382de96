{#- Written after `as` of a CTE that several later CTEs read but that is cheaper to compute again
    than to store: DuckDB stores such a CTE whole (spilling what exceeds its memory limit) unless
    told not to; a scan of the lake's Parquet, which keeps only the columns each reader names,
    is not worth storing. PostgreSQL and Spark keep their own planners' choice. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}{%- endmacro %}

{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}

{#- The materialization of a view that one model reads many times over (int_plays_unioned, under
    int_plays_deduplicated's every search): Spark inlines views and CTEs and computes the whole
    staging of the lake's plays again at each reference (about twenty, six minutes on the demo),
    so there it is a table; DuckDB and PostgreSQL compute a CTE read twice once. -#}
{% macro view_read_many_times() -%}
    {{ return(adapter.dispatch('view_read_many_times', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__view_read_many_times() -%}
    {{ return('view') }}
{%- endmacro %}

{% macro spark__view_read_many_times() -%}
    {{ return('table') }}
{%- endmacro %}
