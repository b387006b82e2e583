"""The commands ``slinky-pr`` (the post-renderer) and ``slinky`` (the tool)."""
