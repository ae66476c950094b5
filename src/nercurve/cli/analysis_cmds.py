"""Commands: analysis_cmds (filled in by its owner)."""
