{#- Text as a Spark SQL string literal. Spark escapes with a backslash: '' is two adjacent
    literals, concatenated, not a quote. (Seeds and the lake's file paths use it.) -#}
{% macro spark_string_literal(text) -%}
    {{ return("'" ~ (text | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") }}
{%- endmacro %}
