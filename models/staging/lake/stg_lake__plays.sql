with

source as {{ not_materialized() }} (

    select * from {{ source('lake', 'plays') }}

),

renamed as {{ not_materialized() }} (

    select
        cast(play_id as {{ dbt.type_string() }}) as play_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(track_name as {{ dbt.type_string() }}) as track_name,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        cast(played_at as timestamp) as played_at,
        cast(played_at_precision as {{ dbt.type_string() }}) as played_at_precision,
        cast(play_seq as integer) as play_seq,
        cast(ms_played as bigint) as ms_played,
        -- Older loads predate content_type: every one of them was music.
        cast(coalesce(content_type, 'music') as {{ dbt.type_string() }}) as content_type,
        cast(skipped as boolean) as is_skipped,
        cast(reason_start as {{ dbt.type_string() }}) as reason_start,
        cast(reason_end as {{ dbt.type_string() }}) as reason_end,
        cast(shuffle as boolean) as is_shuffle,
        cast(platform as {{ dbt.type_string() }}) as platform,
        cast(offline as boolean) as is_offline,
        cast(private_session as boolean) as is_private_session,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- Day precision (legacy files): a row says only the day, so a load numbers its equal rows
-- (listener, track, day) 1, 2, … (play_seq), and two loads' equal rows of one day are either
-- more listening (a history split into files) or the same listening exported again. A load is
-- a re-export on a day when an earlier load of the listener has rows that day and, on every
-- day the two share, one's rows are all among the other's (for each track, as many or fewer):
-- its rows are copies of the plays kept before it, first those of the load it repeats, and
-- only rows beyond every play kept before it are new. Any other load's rows are more listening
-- and continue after the plays kept before it. A play's id hashes its ordinal among the day's
-- plays of the track (macro day_play_id, as the reader hashed play_seq), so a load's plays keep
-- the ids they landed with unless they continue an earlier load's (README, "What a play, a
-- stream, a duplicate and a resolved track are").
day_loads as (

    select
        user_id,
        played_at,
        track_id,
        load_id,
        loaded_at,
        count(*) as equal_rows

    from renamed
    where played_at_precision = 'day' and track_id is not null
    group by user_id, played_at, track_id, load_id, loaded_at

),

load_days as (

    select distinct
        user_id,
        played_at,
        load_id,
        loaded_at

    from day_loads

),

-- Each load with every earlier load (by landing) of the listener, on each day both have.
load_pairs as (

    select
        later.user_id,
        later.played_at,
        later.load_id as later_load_id,
        earlier.load_id as earlier_load_id,
        earlier.loaded_at as earlier_loaded_at

    from load_days as later
    inner join load_days as earlier
        on
            later.user_id = earlier.user_id
            and later.played_at = earlier.played_at
            and (
                later.loaded_at > earlier.loaded_at
                or (later.loaded_at = earlier.loaded_at and later.load_id > earlier.load_id)
            )

),

-- Both loads' equal rows per shared day and track (0 where one has none).
pair_tracks as (

    select
        load_pairs.user_id,
        load_pairs.later_load_id,
        load_pairs.earlier_load_id,
        load_pairs.played_at,
        day_loads.track_id,
        sum(
            case
                when day_loads.load_id = load_pairs.later_load_id then day_loads.equal_rows
                else 0
            end
        ) as later_rows,
        sum(
            case
                when day_loads.load_id = load_pairs.earlier_load_id then day_loads.equal_rows
                else 0
            end
        ) as earlier_rows

    from load_pairs
    inner join day_loads
        on
            load_pairs.user_id = day_loads.user_id
            and load_pairs.played_at = day_loads.played_at
            and (
                load_pairs.later_load_id = day_loads.load_id
                or load_pairs.earlier_load_id = day_loads.load_id
            )
    group by
        load_pairs.user_id,
        load_pairs.later_load_id,
        load_pairs.earlier_load_id,
        load_pairs.played_at,
        day_loads.track_id

),

-- One load's rows all among the other's on every shared day: the same listening, exported
-- again (whole, in part, or with more).
repeating_pairs as (

    select
        user_id,
        later_load_id,
        earlier_load_id

    from pair_tracks
    group by user_id, later_load_id, earlier_load_id
    having
        min(case when later_rows >= earlier_rows then 1 else 0 end) = 1
        or min(case when later_rows <= earlier_rows then 1 else 0 end) = 1

),

re_exported_days as (

    select distinct
        load_pairs.user_id,
        load_pairs.played_at,
        load_pairs.later_load_id as load_id

    from load_pairs
    inner join repeating_pairs
        on
            load_pairs.user_id = repeating_pairs.user_id
            and load_pairs.later_load_id = repeating_pairs.later_load_id
            and load_pairs.earlier_load_id = repeating_pairs.earlier_load_id

),

-- Per listener, day and track, in landing order: the rows a load adds as more listening, and
-- (summed over the loads before) the rows of more listening landed before it.
day_loads_classified as (

    select
        day_loads.*,
        re_exported_days.load_id is not null as is_re_export,
        case
            when re_exported_days.load_id is null then day_loads.equal_rows else 0
        end as more_listening_rows

    from day_loads
    left join re_exported_days
        on
            day_loads.user_id = re_exported_days.user_id
            and day_loads.played_at = re_exported_days.played_at
            and day_loads.load_id = re_exported_days.load_id

),

day_loads_accumulated as (

    select
        *,
        coalesce(
            sum(more_listening_rows) over (
                partition by user_id, played_at, track_id
                order by loaded_at, load_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as more_listening_before

    from day_loads_classified

),

-- What a re-export holds beyond the more listening landed before it: new plays.
day_loads_with_excess as (

    select
        *,
        case
            when is_re_export and equal_rows > more_listening_before
                then equal_rows - more_listening_before
            else 0
        end as re_export_excess

    from day_loads_accumulated

),

-- The plays kept before a load (their ordinals are 1 to this): the more listening landed
-- before it, and the most any re-export before it held beyond the more listening landed
-- before that re-export. (A load of more listening adds its rows; a re-export raises the
-- count to its own rows where it has more: this sum and maximum is that, step by step.)
day_loads_ordered as (

    select
        *,
        more_listening_before + coalesce(
            max(re_export_excess) over (
                partition by user_id, played_at, track_id
                order by loaded_at, load_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as plays_kept_before

    from day_loads_with_excess

),

-- The load a re-export repeats on a day: of the earlier loads it repeats, the first landed
-- that brought more listening that day (none: the re-export is numbered from 1).
reference_candidates as (

    select
        load_pairs.user_id,
        load_pairs.played_at,
        load_pairs.later_load_id as load_id,
        load_pairs.earlier_load_id as reference_load_id,
        load_pairs.earlier_loaded_at as reference_loaded_at

    from load_pairs
    inner join repeating_pairs
        on
            load_pairs.user_id = repeating_pairs.user_id
            and load_pairs.later_load_id = repeating_pairs.later_load_id
            and load_pairs.earlier_load_id = repeating_pairs.earlier_load_id
    left join re_exported_days as earlier_re_exported
        on
            load_pairs.user_id = earlier_re_exported.user_id
            and load_pairs.played_at = earlier_re_exported.played_at
            and load_pairs.earlier_load_id = earlier_re_exported.load_id
    where earlier_re_exported.load_id is null

),

reference_loads as (

    {{ deduplicate(
        'reference_candidates',
        'user_id, played_at, load_id',
        'reference_loaded_at, reference_load_id'
    ) }}

),

-- The block of ordinals a load's equal rows start with: a load of more listening its own
-- (after the plays kept before it); a re-export that of the load it repeats, so its copies
-- are that load's plays, followed by the ordinals before that block, then its own numbers.
day_loads_numbered as (

    select
        day_loads_ordered.user_id,
        day_loads_ordered.played_at,
        day_loads_ordered.track_id,
        day_loads_ordered.load_id,
        case
            when not day_loads_ordered.is_re_export then day_loads_ordered.plays_kept_before
            else coalesce(reference.plays_kept_before, 0)
        end as block_offset,
        case
            when not day_loads_ordered.is_re_export
                then day_loads_ordered.plays_kept_before + day_loads_ordered.equal_rows
            else coalesce(reference.plays_kept_before + reference.equal_rows, 0)
        end as block_end

    from day_loads_ordered
    left join reference_loads
        on
            day_loads_ordered.user_id = reference_loads.user_id
            and day_loads_ordered.played_at = reference_loads.played_at
            and day_loads_ordered.load_id = reference_loads.load_id
    left join day_loads_ordered as reference
        on
            day_loads_ordered.user_id = reference.user_id
            and day_loads_ordered.played_at = reference.played_at
            and day_loads_ordered.track_id = reference.track_id
            and reference_loads.reference_load_id = reference.load_id

),

-- Each day-precision row's ordinal: rows 1 to block_end - block_offset take the block
-- (block_offset + 1 to block_end), the next block_offset rows the ordinals before it (1 on),
-- any further row its own number. A load of more listening thus continues after the plays
-- kept before it; a re-export's rows beyond the plays kept before it are new plays.
day_rows as (

    select
        renamed.*,
        case
            when renamed.play_seq <= day_loads_numbered.block_end
                then 1 + mod(
                        renamed.play_seq - 1 + day_loads_numbered.block_offset,
                        nullif(day_loads_numbered.block_end, 0)
                    )
            else renamed.play_seq
        end as play_ordinal

    from renamed
    inner join day_loads_numbered
        on
            renamed.user_id = day_loads_numbered.user_id
            and renamed.played_at = day_loads_numbered.played_at
            and renamed.track_id = day_loads_numbered.track_id
            and renamed.load_id = day_loads_numbered.load_id
    where renamed.played_at_precision = 'day'

),

-- Every landed row with its play's id: a day-precision row by its ordinal, every other row as
-- it landed.
identified as {{ not_materialized() }} (

    select * from renamed
    where played_at_precision <> 'day' or track_id is null

    union all

    select
        {{ day_play_id('user_id', 'track_id', 'played_at', 'play_ordinal') }} as play_id,
        user_id,
        track_id,
        track_name,
        artist_name,
        played_at,
        played_at_precision,
        play_seq,
        ms_played,
        content_type,
        is_skipped,
        reason_start,
        reason_end,
        is_shuffle,
        platform,
        is_offline,
        is_private_session,
        source,
        load_id,
        loaded_at

    from day_rows

),

-- The same play may arrive in several loads (overlapping files, a re-export): the latest
-- load's copy is the play, and each earlier copy names that load and its source, to count as a
-- repeat (int_plays_deduplicated: repeated_load). Only the few plays landed more than once are
-- ranked, on their keys alone (a load lands a play once: the quality checkpoint's load_id,
-- play_id; were it to land one twice, both rows would stay, for the tests to see). A play's id
-- is derived from its user and time, so keying by them too changes nothing but lets a filter
-- on played_at (an incremental build's window) reach every scan of the lake.
landed_more_than_once as (

    select
        play_id,
        user_id,
        played_at

    from identified
    group by play_id, user_id, played_at
    having count(*) > 1

),

landings_ranked as (

    select
        identified.play_id,
        identified.user_id,
        identified.played_at,
        identified.load_id,
        dense_rank() over (
            partition by identified.user_id, identified.played_at, identified.play_id
            order by identified.loaded_at desc, identified.load_id desc
        ) as landing_rank,
        first_value(identified.load_id) over (
            partition by identified.user_id, identified.played_at, identified.play_id
            order by identified.loaded_at desc, identified.load_id desc
            rows between unbounded preceding and unbounded following
        ) as latest_load_id,
        first_value(identified.source) over (
            partition by identified.user_id, identified.played_at, identified.play_id
            order by identified.loaded_at desc, identified.load_id desc
            rows between unbounded preceding and unbounded following
        ) as latest_source

    from identified
    inner join landed_more_than_once
        on
            identified.play_id = landed_more_than_once.play_id
            and identified.user_id = landed_more_than_once.user_id
            and identified.played_at = landed_more_than_once.played_at

),

superseded as (

    select distinct
        play_id,
        user_id,
        played_at,
        load_id,
        latest_load_id,
        latest_source

    from landings_ranked
    where landing_rank > 1

),

final as (

    select
        identified.play_id,
        identified.user_id,
        identified.track_id,
        identified.track_name,
        identified.artist_name,
        identified.played_at,
        identified.played_at_precision,
        identified.play_seq,
        identified.ms_played,
        identified.content_type,
        identified.is_skipped,
        identified.reason_start,
        identified.reason_end,
        identified.is_shuffle,
        identified.platform,
        identified.is_offline,
        identified.is_private_session,
        identified.source,
        identified.load_id,
        identified.loaded_at,
        superseded.latest_load_id as superseded_by_load_id,
        superseded.latest_source as superseded_by_source

    from identified
    left join superseded
        on
            identified.play_id = superseded.play_id
            and identified.user_id = superseded.user_id
            and identified.played_at = superseded.played_at
            and identified.load_id = superseded.load_id

)

select * from final
