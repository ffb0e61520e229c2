"""Station runtime: config, sources, the pipeline, evidence and the `station` command."""
