"""Pointing Claude Code at our proxy: its variables, its settings files, its binary."""
