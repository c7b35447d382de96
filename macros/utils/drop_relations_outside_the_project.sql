{#-
    A model or seed the project no longer defines (removed, renamed, or left by an earlier
    release) would stay in its schema, stale, where readers still find it. After a run, every
    relation in the project's own schemas (staging, intermediate, marts, reference) that no
    node of the project names is dropped. The target's own schema, which holds the build logs,
    and the lake's are left alone.
-#}
{% macro drop_relations_outside_the_project() %}
    {% if execute and flags.WHICH in ('build', 'run', 'seed') %}
        {% set known = {} %}
        {% for node in graph.nodes.values()
            if node.resource_type in ('model', 'seed', 'snapshot')
            and node.schema != target.schema %}
            {% do known.setdefault(node.schema, []).append((node.alias or node.name) | lower) %}
        {% endfor %}
        {% for schema, names in known.items() %}
            {% for name in spotiflow.relation_names_in(schema) if name | lower not in names %}
                {% set relation = adapter.get_relation(
                    database=target.database, schema=schema, identifier=name) %}
                {% if relation is not none %}
                    {{ log("dropping " ~ relation ~ ": no model or seed of the project", info=true) }}
                    {% do adapter.drop_relation(relation) %}
                {% endif %}
            {% endfor %}
        {% endfor %}
    {% endif %}
{% endmacro %}


{% macro relation_names_in(schema) %}
    {{ return(adapter.dispatch('relation_names_in', 'spotiflow')(schema)) }}
{% endmacro %}


{% macro default__relation_names_in(schema) %}
    {% set found = run_query(
        "select table_name from information_schema.tables where table_catalog = '"
        ~ target.database ~ "' and table_schema = '" ~ schema ~ "'") %}
    {{ return(found.columns[0].values() | list) }}
{% endmacro %}


{% macro spark__relation_names_in(schema) %}
    {% if not adapter.check_schema_exists(target.database, schema) %}
        {{ return([]) }}
    {% endif %}
    {% set found = run_query("show tables in " ~ schema) %}
    {{ return(found.columns['tableName'].values() | list) }}
{% endmacro %}
