{#-
    on-run-end (dbt_project.yml): a role a model's `grants` config names (the marts' reader,
    SPOTIFLOW_POSTGRES_READER_ROLE) gets usage on that model's schema. dbt's grants cover the
    relation alone, and a role without usage on its schema reads none of its tables. Only the
    schemas of granted models: nothing on the lake's, staging's, intermediate's or reference's.
    PostgreSQL only (DuckDB and Spark have no roles to grant to; their grants are empty).
    Never on a build's own schemas (spotiflow_next_*, SPOTIFLOW_POSTGRES_SCHEMA_PREFIX): readers
    must not read a build before it passed; its publication grants usage on the marts it
    publishes and revokes it from those it retires (spotiflow/warehouse/publish.py).
-#}
{% macro grant_schema_usage() %}
    {{ return(adapter.dispatch('grant_schema_usage', 'spotiflow')()) }}
{% endmacro %}

{% macro default__grant_schema_usage() %}
    {{ return('') }}
{% endmacro %}

{% macro postgres__grant_schema_usage() %}
    {%- if not execute or flags.WHICH not in ('build', 'run') or (spotiflow.schema_prefix() | trim) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set grantees = {} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ('model', 'seed', 'snapshot') and node.config.grants -%}
        {%- for privilege, roles in node.config.grants.items() -%}
            {%- set known = grantees.setdefault(node.schema, []) -%}
            {%- for role in ([roles] if roles is string else roles) if role not in known -%}
                {%- do known.append(role) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for schema, roles in grantees.items()
        if adapter.check_schema_exists(target.database, schema) -%}
        {%- do statements.append(
            'grant usage on schema ' ~ adapter.quote(schema) ~ ' to ' ~ roles | join(', ')) -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}
