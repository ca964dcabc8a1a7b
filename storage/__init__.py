"""Everything newsarchiver keeps on disk: archive layout, manifest, WARC files, text files."""
