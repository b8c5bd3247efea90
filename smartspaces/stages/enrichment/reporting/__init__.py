"""The PostgreSQL reporting store: the star schema the enrichment writes one window at a time for Power BI."""
