"""``footfall worker``: drains the Redis queue's partition streams into the event store.

``lease`` decides which worker reads which partition, ``partition`` reads, checks,
acknowledges and trims one partition's batches, ``dlq`` keeps the dead-letter stream,
``loop`` runs the rounds, and ``command`` is the command line.
"""
