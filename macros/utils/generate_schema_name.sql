{#-
    Layers get exactly the schema they name (marts, staging, ...), not <target>_<name>.
    On PostgreSQL `spotiflow build` writes them prefixed (SPOTIFLOW_POSTGRES_SCHEMA_PREFIX,
    spotiflow_next_marts …) and publishes them by renaming (spotiflow/warehouse/publish.py); the lake's
    sources are never renamed. DuckDB and Spark build in their own places (or in place).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ schema_prefix() }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro schema_prefix() -%}
    {%- if target.type == 'postgres' -%}
        {{ env_var('SPOTIFLOW_POSTGRES_SCHEMA_PREFIX', '') | trim }}
    {%- endif -%}
{%- endmacro %}
