{#- A double-precision float, named as each engine names it (the column_types var in
    dbt_project.yml, which contracts and seeds read too). -#}
{% macro type_double() -%}
    {{ var('column_types').double[target.type] }}
{%- endmacro %}
