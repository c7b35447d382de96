{#- Every day from the first Spotify stream (2006) to 2030: the semantic layer's time spine. -#}
with

days as (

    {{ dbt.date_spine('day', "cast('2006-01-01' as date)", "cast('2031-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
