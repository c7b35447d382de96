with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

-- Averages are over plays (a track played ten times weighs ten), as in the original workbook.
final as (

    {{ listening_summary('plays', 'week_start') }}

)

select * from final
