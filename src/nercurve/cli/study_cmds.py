"""Commands: study_cmds (filled in by its owner)."""
