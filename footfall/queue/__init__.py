"""Event queues behind one port (``base.py``): the embedded on-disk spool (``spool/``);
``open_queue`` picks one from ``FOOTFALL_QUEUE_URL``."""

from footfall.queue.factory import QueueURLError, open_queue

__all__ = ["QueueURLError", "open_queue"]
