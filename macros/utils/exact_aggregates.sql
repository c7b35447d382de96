{#-
  Order-independent aggregates. A float sum depends on the order rows arrive in, which depends
  on thread scheduling, so two builds of the same data could differ in the last digits. Summing
  exact decimals makes every rebuild bit-identical; the result is returned as a double.
-#}
{% macro exact_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 18))) as {{ type_double() }})
{%- endmacro %}

{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 18))) as {{ type_double() }})
{%- endmacro %}

{#- The share (0..1) of rows where a condition holds, exactly. -#}
{% macro share_of(condition) -%}
    {{ exact_avg('case when ' ~ condition ~ ' then 1 else 0 end') }}
{%- endmacro %}
