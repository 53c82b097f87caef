"""Modal screens: mapping editor, confirmations, help, request details."""
