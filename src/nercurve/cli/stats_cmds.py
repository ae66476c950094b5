"""Commands: stats_cmds (filled in by its owner)."""
