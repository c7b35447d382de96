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
        {{ experiment_window_end('assigned_at') }} as window_end,
        {{ experiment_pre_period_start('assigned_at') }} as pre_period_start

    from assignments

),

horizon as (

    select max(played_at) as latest_play from plays

),

-- Music streams in [pre_period_start, window_end), each marked as before or after assignment.
streams as (

    select
        windows.experiment_id,
        windows.user_id,
        plays.listened_ms,
        plays.is_skipped,
        plays.played_at >= windows.assigned_at as is_in_window

    from windows
    inner join plays
        on
            windows.user_id = plays.user_id
            and windows.pre_period_start <= plays.played_at
            and windows.window_end > plays.played_at
    where plays.is_music_stream

),

listening as (

    select
        experiment_id,
        user_id,
        is_in_window,
        count(*) as plays,
        sum(listened_ms) as listened_ms,
        {{ skip_rate('is_skipped') }} as skip_rate

    from streams
    group by experiment_id, user_id, is_in_window

),

-- The lists the user's arm served them (runs carrying the arm's variant) in the window whose
-- own judgement window is complete; and, for the pre-period, the lists of any arm (runs with a
-- variant) generated in it and judged before assignment, so no play the experiment could
-- change counts.
judged_lists as (

    select
        windows.experiment_id,
        windows.user_id,
        accuracy.generated_at >= windows.assigned_at as is_in_window,
        count(*) as lists,
        {{ share_of('accuracy.is_hit') }} as hit_rate

    from windows
    inner join accuracy
        on
            windows.user_id = accuracy.user_id
            and windows.pre_period_start <= accuracy.generated_at
            and windows.window_end > accuracy.generated_at
    where
        accuracy.is_window_complete
        and (
            (accuracy.generated_at >= windows.assigned_at and windows.variant = accuracy.variant)
            or (accuracy.variant is not null and accuracy.window_end <= windows.assigned_at)
        )
    group by
        windows.experiment_id,
        windows.user_id,
        accuracy.generated_at >= windows.assigned_at

),

final as (

    select
        windows.experiment_id,
        windows.user_id,
        windows.variant,
        windows.assigned_at,
        windows.window_end,
        coalesce(windows.window_end <= horizon.latest_play, false) as is_window_complete,
        horizon.latest_play as observed_until,
        cast({{ var('experiment_window_days') }} as integer) as window_days,
        coalesce(listening.plays, 0) as plays,
        {{ ms_to_minutes('coalesce(listening.listened_ms, 0)') }} as minutes_listened,
        {{ per_day('coalesce(listening.plays, 0)', var('experiment_window_days')) }}
            as plays_per_day,
        {{ per_day(
            ms_to_minutes('coalesce(listening.listened_ms, 0)'), var('experiment_window_days')
        ) }} as minutes_per_day,
        listening.skip_rate,
        coalesce(judged_lists.lists, 0) as lists,
        judged_lists.hit_rate,
        windows.pre_period_start,
        cast({{ var('experiment_pre_period_days') }} as integer) as pre_period_days,
        {{ per_day('coalesce(pre_listening.plays, 0)', var('experiment_pre_period_days')) }}
            as pre_plays_per_day,
        {{ per_day(
            ms_to_minutes('coalesce(pre_listening.listened_ms, 0)'),
            var('experiment_pre_period_days')
        ) }} as pre_minutes_per_day,
        pre_listening.skip_rate as pre_skip_rate,
        pre_judged_lists.hit_rate as pre_hit_rate

    from windows
    cross join horizon
    left join listening
        on
            windows.experiment_id = listening.experiment_id
            and windows.user_id = listening.user_id
            and listening.is_in_window
    left join listening as pre_listening
        on
            windows.experiment_id = pre_listening.experiment_id
            and windows.user_id = pre_listening.user_id
            and not pre_listening.is_in_window
    left join judged_lists
        on
            windows.experiment_id = judged_lists.experiment_id
            and windows.user_id = judged_lists.user_id
            and judged_lists.is_in_window
    left join judged_lists as pre_judged_lists
        on
            windows.experiment_id = pre_judged_lists.experiment_id
            and windows.user_id = pre_judged_lists.user_id
            and not pre_judged_lists.is_in_window

)

select * from final
