"""The request log: records, the writer in the proxy, the reader and statistics."""
