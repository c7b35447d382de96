{#- The grain: no two rows share the combination of these columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as duplicate_rows

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where duplicate_rows > 1

{% endtest %}
