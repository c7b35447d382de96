{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={
            'after': 'fct_plays',
            'lists': 'int_recommendations_positioned',
            'key': 'generated_at',
        },
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

lists as (

    select * from {{ ref('int_recommendations_positioned') }}
    where {{ in_rebuild_window(rebuild, 'generated_at', 'generated_at') }}

),

-- A rebuilt list is judged by plays after it only, so the plays before the window are not read.
plays as (

    select * from {{ ref('fct_plays') }}
    where {{ in_rebuild_window(rebuild, 'played_at', 'generated_at') }}

),

user_tracks as (

    select * from {{ ref('int_user_tracks_aggregated') }}

),

list_windows as (

    select
        run_id,
        user_id,
        seed_track_id,
        max(model_name) as model_name,
        max(model_version) as model_version,
        max(variant) as variant,
        max(generated_at) as generated_at,
        {{ accuracy_window_end('max(generated_at)') }} as window_end,
        count(case when list_position <= {{ var('accuracy_k') }} then 1 end)
            as recommended_tracks

    from lists
    group by run_id, user_id, seed_track_id

),

-- How far the plays reach: a window that ends later is not over yet. (Any play at or after a
-- rebuilt window's end lies inside the plays read, so their latest is the latest of all.)
horizon as (

    select max(played_at) as latest_play from plays

),

-- The lists one run made for one listener share a judgement window: the plays are read once
-- per window, not once per list.
windows as (

    select distinct
        user_id,
        generated_at,
        window_end

    from list_windows

),

-- Streamed in a window: a track the user streamed in (generated_at, window_end], and how often
-- (its graded relevance).
streamed_in_window as (

    select
        windows.user_id,
        windows.generated_at,
        plays.track_id,
        count(*) as streams

    from windows
    inner join plays
        on
            windows.user_id = plays.user_id
            and windows.generated_at < plays.played_at
            and windows.window_end >= plays.played_at
    where
        plays.is_music_stream
        and plays.track_id is not null
    group by windows.user_id, windows.generated_at, plays.track_id

),

-- With var('accuracy_new_tracks_only'), a track the user had played before the window is not
-- relevant.
window_tracks as (

    select
        streamed_in_window.user_id,
        streamed_in_window.generated_at,
        streamed_in_window.track_id,
        streamed_in_window.streams

    from streamed_in_window
    left join user_tracks
        on
            streamed_in_window.user_id = user_tracks.user_id
            and streamed_in_window.track_id = user_tracks.track_id
    where
        not {{ var('accuracy_new_tracks_only') }}
        or {{ is_new_to_user('user_tracks.first_played_at', 'streamed_in_window.generated_at') }}

),

window_track_counts as (

    select
        user_id,
        generated_at,
        count(*) as window_tracks

    from window_tracks
    group by user_id, generated_at

),

-- The ideal ordering: a list's relevant tracks, most streamed first (for binary relevance any
-- order is ideal). A window's k + 1 most streamed tracks hold any list's top k, its seed left
-- out.
window_tracks_ranked as (

    select
        *,
        row_number() over (
            partition by user_id, generated_at order by streams desc, track_id asc
        ) as stream_rank

    from window_tracks

),

ideal_candidates as (

    select
        list_windows.run_id,
        list_windows.user_id,
        list_windows.seed_track_id,
        window_tracks_ranked.streams,
        row_number() over (
            partition by list_windows.run_id, list_windows.user_id, list_windows.seed_track_id
            order by window_tracks_ranked.stream_rank
        ) as ideal_position

    from list_windows
    inner join window_tracks_ranked
        on
            list_windows.user_id = window_tracks_ranked.user_id
            and list_windows.generated_at = window_tracks_ranked.generated_at
            and list_windows.seed_track_id != window_tracks_ranked.track_id
    where window_tracks_ranked.stream_rank <= {{ var('accuracy_k') }} + 1

),

ideal_dcgs as (

    select
        run_id,
        user_id,
        seed_track_id,
        {{ exact_sum(dcg_discount('ideal_position')) }} as ideal_dcg,
        {{ exact_sum(graded_gain('streams') ~ ' * ' ~ dcg_discount('ideal_position')) }}
            as graded_ideal_dcg

    from ideal_candidates
    where ideal_position <= {{ var('accuracy_k') }}
    group by run_id, user_id, seed_track_id

),

-- Relevant to a list: its window's tracks other than its seed.
list_relevance as (

    select
        list_windows.run_id,
        list_windows.user_id,
        list_windows.seed_track_id,
        list_windows.model_name,
        list_windows.model_version,
        list_windows.variant,
        list_windows.generated_at,
        list_windows.window_end,
        list_windows.recommended_tracks,
        ideal_dcgs.ideal_dcg,
        ideal_dcgs.graded_ideal_dcg,
        coalesce(window_track_counts.window_tracks, 0)
        - case when streamed_seed.track_id is not null then 1 else 0 end as relevant_tracks,
        coalesce(list_windows.window_end <= horizon.latest_play, false) as is_window_complete

    from list_windows
    cross join horizon
    left join window_track_counts
        on
            list_windows.user_id = window_track_counts.user_id
            and list_windows.generated_at = window_track_counts.generated_at
    left join window_tracks as streamed_seed
        on
            list_windows.user_id = streamed_seed.user_id
            and list_windows.generated_at = streamed_seed.generated_at
            and list_windows.seed_track_id = streamed_seed.track_id
    -- Joined here, with the horizon, where the planner sees a list's worth of rows, not at the
    -- end: PostgreSQL, misjudging how few rows the hits join yields, would otherwise recompute
    -- them once per list.
    left join ideal_dcgs
        on {{ same_list('list_windows', 'ideal_dcgs') }}

),

-- The whole list is judged (MAP and r-precision look past k), each position with its
-- relevance: streamed in the window, and how often.
judged as (

    select
        lists.run_id,
        lists.user_id,
        lists.seed_track_id,
        lists.list_position,
        list_relevance.relevant_tracks,
        window_tracks.track_id is not null
        and lists.recommended_track_id != lists.seed_track_id as is_relevant,
        coalesce(window_tracks.streams, 0) as streams

    from lists
    inner join list_relevance
        on {{ same_list('lists', 'list_relevance') }}
    left join window_tracks
        on
            list_relevance.user_id = window_tracks.user_id
            and list_relevance.generated_at = window_tracks.generated_at
            and lists.recommended_track_id = window_tracks.track_id

),

-- precision at each relevant position i: relevant tracks in positions 1 .. i, over i.
judged_with_precision as (

    select
        *,
        case when is_relevant then {{ precision_at_k(
            'sum(case when is_relevant then 1 else 0 end) over ('
            ~ 'partition by run_id, user_id, seed_track_id order by list_position '
            ~ 'rows between unbounded preceding and current row)',
            'list_position'
        ) }} end as precision_at_position

    from judged

),

list_hits as (

    {%- set in_top_k = 'is_relevant and list_position <= ' ~ var('accuracy_k') %}

    select
        run_id,
        user_id,
        seed_track_id,
        cast(sum(case when {{ in_top_k }} then 1 else 0 end) as bigint) as hits,
        {{ exact_sum(
            'case when ' ~ in_top_k ~ ' then ' ~ dcg_discount('list_position') ~ ' else 0 end'
        ) }} as dcg,
        {{ exact_sum(
            'case when ' ~ in_top_k ~ ' then '
            ~ graded_gain('streams') ~ ' * ' ~ dcg_discount('list_position') ~ ' else 0 end'
        ) }} as graded_dcg,
        min(case when {{ in_top_k }} then list_position end) as first_hit_position,
        {{ exact_sum('case when ' ~ in_top_k ~ ' then precision_at_position else 0 end') }}
            as precision_sum_at_k,
        {{ exact_sum('coalesce(precision_at_position, 0)') }} as precision_sum,
        cast(sum(
            case when is_relevant and list_position <= relevant_tracks then 1 else 0 end
        ) as bigint) as hits_in_top_r

    from judged_with_precision
    group by run_id, user_id, seed_track_id

),

final as (

    select
        list_relevance.run_id,
        list_relevance.user_id,
        list_relevance.seed_track_id,
        list_relevance.model_name,
        list_relevance.model_version,
        list_relevance.variant,
        list_relevance.generated_at,
        list_relevance.window_end,
        list_relevance.is_window_complete,
        cast({{ var('accuracy_k') }} as integer) as k,
        list_relevance.recommended_tracks,
        list_relevance.relevant_tracks,
        list_hits.hits,
        {{ is_hit('list_hits.hits') }} as is_hit,
        {{ precision_at_k('list_hits.hits', var('accuracy_k')) }} as precision_at_k,
        {{ recall_at_k('list_hits.hits', 'list_relevance.relevant_tracks') }} as recall_at_k,
        {{ ndcg_at_k('list_hits.dcg', 'list_relevance.ideal_dcg') }} as ndcg_at_k,
        {{ ndcg_at_k('list_hits.graded_dcg', 'list_relevance.graded_ideal_dcg') }}
            as graded_ndcg_at_k,
        {{ reciprocal_rank('list_hits.first_hit_position') }} as reciprocal_rank,
        {{ average_precision_at_k(
            'list_hits.precision_sum_at_k', 'list_relevance.relevant_tracks', var('accuracy_k')
        ) }} as average_precision_at_k,
        {{ average_precision('list_hits.precision_sum', 'list_relevance.relevant_tracks') }}
            as average_precision,
        {{ r_precision('list_hits.hits_in_top_r', 'list_relevance.relevant_tracks') }}
            as r_precision

    from list_relevance
    inner join list_hits
        on {{ same_list('list_relevance', 'list_hits') }}

)

select * from final
