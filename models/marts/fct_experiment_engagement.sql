with

assignments as (

    select * from {{ ref('stg_lake__experiment_assignments') }}

),

plays as (

    select * from {{ ref('fct_plays') }}

),

accuracy as (

    select * from {{ ref('fct_recommendation_accuracy') }}

),

windows as (

    select
        experiment_id,
        user_id,
        variant,
        assigned_at,
        {{ experiment_window_end('assigned_at') }} as window_end

    from assignments

),

horizon as (

    select max(played_at) as latest_play from plays

),

-- Music streams in [assigned_at, window_end).
listening as (

    select
        windows.experiment_id,
        windows.user_id,
        count(*) as plays,
        sum(plays.listened_ms) as listened_ms

    from windows
    inner join plays
        on
            windows.user_id = plays.user_id
            and windows.assigned_at <= plays.played_at
            and windows.window_end > plays.played_at
    where plays.is_music_stream
    group by windows.experiment_id, windows.user_id

),

-- The lists the user's arm served them (runs carrying the arm's variant) in the window, whose
-- own judgement window is complete.
judged_lists as (

    select
        windows.experiment_id,
        windows.user_id,
        count(*) as lists,
        {{ share_of('accuracy.is_hit') }} as hit_rate

    from windows
    inner join accuracy
        on
            windows.user_id = accuracy.user_id
            and windows.variant = accuracy.variant
            and windows.assigned_at <= accuracy.generated_at
            and windows.window_end > accuracy.generated_at
    where accuracy.is_window_complete
    group by windows.experiment_id, windows.user_id

),

final as (

    select
        windows.experiment_id,
        windows.user_id,
        windows.variant,
        windows.assigned_at,
        windows.window_end,
        coalesce(windows.window_end <= horizon.latest_play, false) as is_window_complete,
        cast({{ var('experiment_window_days') }} as integer) as window_days,
        coalesce(listening.plays, 0) as plays,
        {{ ms_to_minutes('coalesce(listening.listened_ms, 0)') }} as minutes_listened,
        {{ per_day('coalesce(listening.plays, 0)', var('experiment_window_days')) }}
            as plays_per_day,
        {{ per_day(
            ms_to_minutes('coalesce(listening.listened_ms, 0)'), var('experiment_window_days')
        ) }} as minutes_per_day,
        coalesce(judged_lists.lists, 0) as lists,
        judged_lists.hit_rate

    from windows
    cross join horizon
    left join listening
        on
            windows.experiment_id = listening.experiment_id
            and windows.user_id = listening.user_id
    left join judged_lists
        on
            windows.experiment_id = judged_lists.experiment_id
            and windows.user_id = judged_lists.user_id

)

select * from final
