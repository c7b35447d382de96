with

loads as (

    select * from {{ ref('stg_lake__loads') }}

),

final as (

    select
        load_id,
        load_kind,
        source_file,
        input_checksum,
        load_options,
        rows_in,
        rows_landed,
        rows_rejected,
        started_at,
        finished_at,
        notes

    from loads

)

select * from final
