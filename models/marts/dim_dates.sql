{#- Every day from the first day with data to the last (or today, if later): the semantic
    layer's time spine. Bounded by the data, not by a guess: nothing landed can fall outside. -#}
with

plays as (

    select listen_date from {{ ref('fct_plays') }}

),

lists as (

    select cast(generated_at as date) as list_date
    from {{ ref('int_recommendations_positioned') }}

),

play_bounds as (

    select
        min(listen_date) as first_day,
        max(listen_date) as last_day
    from plays

),

list_bounds as (

    select
        min(list_date) as first_day,
        max(list_date) as last_day
    from lists

),

-- least and greatest skip nulls: either kind of data may be absent.
bounds as (

    select
        least(play_bounds.first_day, list_bounds.first_day) as first_day,
        greatest(play_bounds.last_day, list_bounds.last_day, current_date) as last_day
    from play_bounds
    cross join list_bounds

),

days as (

    {{ days_between('bounds', 'bounds.first_day', 'bounds.last_day') }}

),

final as (

    select date_day
    from days

)

select * from final
