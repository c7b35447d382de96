{#-
  post-hook of every model (dbt_project.yml): refresh the planner's statistics of a table just
  built, where the engine needs it. PostgreSQL plans queries over a fresh table from guesses
  until autovacuum analyzes it, a minute or more later: a model built on a table the previous
  model wrote could take minutes instead of seconds, depending on that timing.
-#}
{% macro analyze_built_table() -%}
    {{ return(adapter.dispatch('analyze_built_table', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__analyze_built_table() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__analyze_built_table() -%}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
