"""irforge passes: one module per pass, and the named pipelines."""
