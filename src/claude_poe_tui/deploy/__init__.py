"""Deployment files for a team gateway: Docker Compose, a systemd unit, nginx in front.

Plain Python text templates (no Textual, no LiteLLM, no YAML library), rendered from what
:mod:`claude_poe_tui.deploy.plan` checked in the user's config. ``claude-poe-tui export`` writes them.
"""
