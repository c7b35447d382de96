with

gaps as (

    select * from {{ ref('stg_lake__coverage_gaps') }}

),

final as (

    select
        user_id,
        gap_from,
        gap_to,
        {{ seconds_between('gap_from', 'gap_to') }}
            as gap_seconds,
        detected_at,
        load_id

    from gaps

)

select * from final
