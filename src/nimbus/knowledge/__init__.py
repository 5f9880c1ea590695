"""Documents and videos: ingestion as jobs, hybrid retrieval, cited answers."""
