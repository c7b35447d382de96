with

plays as (

    select * from {{ ref('fct_plays') }}

),

final as (

    select
        user_id,
        max(time_zone) as time_zone,
        min(listen_date) as first_listen_date,
        max(listen_date) as last_listen_date,
        count(*) as plays,
        count(case when is_music_stream then 1 end) as music_streams,
        count(distinct source) as sources

    from plays
    group by user_id

)

select * from final
