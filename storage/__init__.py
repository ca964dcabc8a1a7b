"""Everything newsarchiver keeps on disk: archive layout, manifest, WARC files, text files.

Imports nothing of crawler or pipelines (import-linter's contracts in pyproject.toml)."""
