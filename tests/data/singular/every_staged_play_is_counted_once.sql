-- Every play staged from the lake is counted once: in fct_plays, or in fct_duplicate_plays as
-- the repeat of one that is. So is every copy of it that a load landed: the copies a later load
-- landed again are repeats too (repeated_load), none is dropped unseen. One row per source where
-- the counts differ. A refresh counts the plays from the earliest its new loads or fct_plays'
-- rebuilds reach, on both sides alike (macros/incremental/new_data_tests.sql).
{%- set tested = new_data_tested('plays', ref('fct_plays')) %}
{%- set tested_plays = 'where ' ~ tested if tested else '' %}

with

landed as (

    select
        source,
        count(*) as plays_landed
    from {{ ref('int_plays_unioned') }}
    {{ tested_plays }}
    group by source

),

counted as (

    select
        source,
        count(*) as plays
    from {{ ref('fct_plays') }}
    {{ tested_plays }}
    group by source

    union all

    select
        source,
        count(*) as plays
    from {{ ref('fct_duplicate_plays') }}
    {{ tested_plays }}
    group by source

),

counted_per_source as (

    select
        source,
        sum(plays) as plays_in_marts
    from counted
    group by source

),

final as (

    select
        coalesce(landed.source, counted_per_source.source) as source,
        coalesce(landed.plays_landed, 0) as plays_landed,
        coalesce(counted_per_source.plays_in_marts, 0) as plays_in_marts
    from landed
    full outer join counted_per_source
        on landed.source = counted_per_source.source

)

select * from final
where plays_landed != plays_in_marts
