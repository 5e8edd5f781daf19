"""The bottom layer: rows and their Arrow schema, atomic I/O, errors, gates, text, language
identification, the bootstrap and upstream checks. Imports nothing of `factory` above it."""
