"""Operations: counters kept on the hot path, the Prometheus export, health, the status page.

- ``counters``: plain integers and arrays the pipeline updates (no lock, no label
  lookup, no prometheus_client object per observation);
- ``export``: a custom collector that turns them into metric families when
  scraped, and ``render_metrics`` (the text format);
- ``health``: the ``/health`` document, a pure function of a snapshot;
- ``sampler``: the daemon's periodic task (heartbeats and uptime kept in the
  database, queue and outbox counts);
- ``http``: the daemon's endpoint (h11 over trio streams);
- ``page`` and ``table``: the status page and the terminal table.

The API process can mount ``render_metrics`` and ``build_health`` on its own routes.
"""
