{#- Written after `as` of a CTE that several later CTEs read but that is cheaper to compute again
    than to store: DuckDB stores such a CTE whole (spilling what exceeds its memory limit) unless
    told not to; a scan of the lake's Parquet, which keeps only the columns each reader names,
    is not worth storing. PostgreSQL and Spark keep their own planners' choice. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}{%- endmacro %}

{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}
