with

rejects as (

    select * from {{ ref('stg_lake__rejects') }}

),

final as (

    select
        load_id,
        source as load_kind,
        source_file,
        source_line,
        reason,
        raw_record,
        loaded_at

    from rejects

)

select * from final
