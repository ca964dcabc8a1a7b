"""Item pipelines: HTML to clean text (extract), clean text to NNN_HASH files (store_text)."""
