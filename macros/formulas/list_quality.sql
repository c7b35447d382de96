{#- List quality, written once (see fct_recommendation_list_quality). -#}

{#-
  Euclidean distance between two tracks over the seven audio features of
  var('similarity_features'); `left` and `right` are table aliases.
-#}
{% macro feature_distance(left, right) -%}
    sqrt(
        {%- for feature in var('similarity_features') %}
        power({{ left }}.{{ feature }} - {{ right }}.{{ feature }}, 2){{ ' +' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The length of a track's audio-feature vector (the seven features of var('similarity_features')). -#}
{% macro feature_norm(alias) -%}
    sqrt(
        {%- for feature in var('similarity_features') %}
        power({{ alias }}.{{ feature }}, 2){{ ' +' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#-
  Self-information of a recommended track, in bits: −log2 p, p = the track's listeners / the
  listeners of all tracks summed (each a (listener, track) pair, the interactions Recommenders'
  novelty counts). Null for a track nobody had played: its information is unbounded.
-#}
{% macro self_information(listeners, all_listeners) -%}
    ln(cast({{ all_listeners }} as {{ type_double() }}) / {{ listeners }}) / ln(2.0)
{%- endmacro %}

{#-
  Unexpectedness of a recommended track to a listener = 1 − the mean cosine similarity of its
  feature vector to those of the tracks in their history (Recommenders' user_item_serendipity,
  item_feature_vector, relevance 1). The mean of cosines is the cosine with the mean of the
  history's unit vectors, so the history is read once per listener and moment:
  `history_columns` names each feature's mean direction, '{feature}' standing for the feature.
-#}
{% macro unexpectedness(track, history, history_columns) -%}
    1 - (
        {%- for feature in var('similarity_features') %}
        {{ track }}.{{ feature }} / {{ feature_norm(track) }}
        * {{ history }}.{{ history_columns | replace('{feature}', feature) }}
        {{- ' +' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#-
  Distributional coverage = −Σ_i p_i log2 p_i, p_i = the times track i was recommended / all
  recommendations (the entropy, in bits, of what a model recommends; Recommenders'
  distributional_coverage). An aggregate over one row per track, summed exactly (a sum of
  doubles in another order would differ in the last bit from run to run).
-#}
{% macro distributional_coverage(times_recommended, all_recommendations) -%}
    {%- set share = 'cast(' ~ times_recommended ~ ' as ' ~ type_double() ~ ') / '
        ~ all_recommendations -%}
    -1 * {{ exact_sum(share ~ ' * ln(' ~ share ~ ') / ln(2.0)') }}
{%- endmacro %}

{#- A track has a direction in feature space: every feature known, not all zero. -#}
{% macro has_feature_direction(alias) -%}
    ({{ has_all_features(alias) }} and {{ feature_norm(alias) }} > 0)
{%- endmacro %}

{#- Every feature of var('similarity_features') known on a table alias. -#}
{% macro has_all_features(alias) -%}
    (
        {%- for feature in var('similarity_features') %}
        {{ alias }}.{{ feature }} is not null{{ ' and' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Catalog coverage = distinct recommended tracks / tracks in the catalog. -#}
{% macro catalog_coverage(distinct_recommended, catalog_size) -%}
    cast({{ distinct_recommended }} as {{ type_double() }}) / nullif({{ catalog_size }}, 0)
{%- endmacro %}

{#-
  A track's popularity percentile in the catalog: the share of other known-popularity tracks
  that are less popular (percent_rank: ties share the lowest rank; 0 = least, 1 = most popular).
-#}
{% macro popularity_percentile(popularity, partition_by=none) -%}
    percent_rank() over (
        {% if partition_by %}partition by {{ partition_by }} {% endif %}order by {{ popularity }}
    )
{%- endmacro %}

{#- Popularity bias = mean popularity percentile of the recommendations - of the user's plays. -#}
{% macro popularity_bias(recommended_percentile, user_percentile) -%}
    {{ recommended_percentile }} - {{ user_percentile }}
{%- endmacro %}
