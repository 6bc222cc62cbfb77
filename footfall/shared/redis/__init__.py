"""Redis adapters of the shared-state ports, for several ``serve`` processes.

Every key is under ``FOOTFALL_REDIS_PREFIX``. While Redis is unreachable each adapter
falls back to what one process can do alone (see each module) and logs a warning; none
of them ever fails a request. Needs the optional ``redis`` client.
"""
