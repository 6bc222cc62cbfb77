"""The event store on ClickHouse (``store.py``): its transports (``transport.py``: HTTP
via clickhouse-connect, or chdb in process), parameter binding (``params.py``), schema
migrations (``schema.py``) and the replayable batch writes (``write.py``)."""
