{#- A double-precision float, named as each engine names it. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}
