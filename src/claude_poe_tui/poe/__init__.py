"""Poe's own API, seen from our side: the bot catalog, the points balance and the usage history.

Plain Python; :mod:`claude_poe_tui.poe.catalog` never touches the network and imports in
milliseconds, :mod:`claude_poe_tui.poe.client` imports httpx only when it makes a request.
"""
