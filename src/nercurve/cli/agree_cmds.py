"""Commands: agree_cmds (filled in by its owner)."""
