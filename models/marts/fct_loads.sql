with

loads as (

    select * from {{ ref('stg_lake__loads') }}

),

plays as (

    select * from {{ ref('int_plays_deduplicated') }}

),

-- A load's plays that a later load landed again (a re-export): counted there, listed in
-- fct_duplicate_plays as repeated_load.
plays_landed_again as (

    select
        load_id,
        count(*) as plays_landed_again

    from plays
    where duplicate_reason = 'repeated_load'
    group by load_id

),

final as (

    select
        loads.load_id,
        loads.load_kind,
        loads.source_file,
        loads.input_checksum,
        loads.load_options,
        loads.rows_in,
        loads.rows_landed,
        loads.rows_rejected,
        loads.started_at,
        loads.finished_at,
        loads.notes,
        coalesce(plays_landed_again.plays_landed_again, 0) as plays_landed_again

    from loads
    left join plays_landed_again
        on loads.load_id = plays_landed_again.load_id

)

select * from final
