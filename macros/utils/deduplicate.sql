{#- Keep one row per key: the first in `order_by` order. Portable (no qualify). -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    select deduplicated.*
    from (
        select
            ranked.*,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as dedupe_row_number
        from {{ relation }} as ranked
    ) as deduplicated
    where deduplicated.dedupe_row_number = 1
{%- endmacro %}
