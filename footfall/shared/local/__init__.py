"""In-process adapters of the shared-state ports: right for one ``serve`` process."""
