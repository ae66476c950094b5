"""Commands: corpus_cmds (filled in by its owner)."""
