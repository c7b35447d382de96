with

plays as (

    select * from {{ ref('int_plays_enriched') }}

),

-- Over plays, not users: the busiest listener weighs by their plays, as in the per-user marts.
final as (

    {{ listening_summary('plays', 'listen_date', per_user=false) }}

)

select * from final
