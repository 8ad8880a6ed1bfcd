"""Search and autocomplete over OpenSearch, behind the two-tier cache."""
