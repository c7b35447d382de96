{#-
  The latest non-null value of a column within a partition: sources describe the same thing
  with different gaps (an export knows no track duration, an API poll does), and a newer row's
  null must not erase an older row's value. Portable (no `ignore nulls`).
-#}
{% macro latest_known(column, partition_by, order_by) -%}
    first_value({{ column }}) over (
        partition by {{ partition_by }}
        order by case when {{ column }} is null then 1 else 0 end, {{ order_by }}
        rows between unbounded preceding and unbounded following
    )
{%- endmacro %}
