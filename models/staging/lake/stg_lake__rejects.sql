with

source as (

    select * from {{ source('lake', 'rejects') }}

),

final as (

    select
        cast(load_id as varchar) as load_id,
        cast(source as varchar) as source,
        cast(source_file as varchar) as source_file,
        cast(source_line as bigint) as source_line,
        cast(reason as varchar) as reason,
        cast(raw_record as varchar) as raw_record,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from final
