"""Commands: synth_cmds (filled in by its owner)."""
