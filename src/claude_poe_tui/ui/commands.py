"""The command palette (ctrl+p): every action, spoken as "category: action"."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action string run on the App)
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Proxy: start or stop", "Start the proxy, or stop it if it runs", "toggle_proxy"),
    ("Proxy: restart", "Restart the proxy; its port stays open so clients wait", "restart_proxy"),
    ("Proxy: show its output", "LiteLLM's own log lines", "pane('output')"),
    ("Models: show mappings", "Which Poe bot answers each Claude Code model name", "pane('models')"),
    ("Models: add a mapping", "Map another model name to a Poe bot", "models_action('add')"),
    ("Models: edit the selected mapping", "Change its bot, route, thinking or fallbacks", "models_action('edit')"),
    ("Models: delete the selected mapping", "Asks first", "models_action('delete')"),
    ("Models: refresh Poe's catalog", "Fetch Poe's bot list again", "refresh_catalog"),
    ("Keys: show keys", "Poe key and master key, masked", "pane('keys')"),
    ("Keys: check the Poe key against Poe", "Shows the points balance", "keys_action('check')"),
    ("Keys: generate a new master key", "Asks first; Claude Code must then use the new one", "keys_action('generate')"),
    ("Logs: show the request log", "Every request, live", "pane('logs')"),
    ("Logs: filter", "By model, status or text", "logs_action('filter')"),
    ("Logs: follow new requests", "Jump to the newest and keep following", "logs_action('follow')"),
    ("Latency: show per-model figures", "p50/p95/p99, time to first token, errors, points", "pane('latency')"),
    ("Sessions: show Claude Code sessions", "Requests, bots, points, first and last time; budgets", "pane('sessions')"),
    ("Sessions: edit the budgets", "Points per session, per day, balance to keep ([budget])", "sessions_action('budgets')"),
    ("Sessions: edit the selected session's member's budgets", "daily_points, session_points of their [[clients]] entry",
     "sessions_action('member_budgets')"),
    ("Help: keys", "Every key binding", "help"),
    ("App: quit", "Stops the proxy this dashboard started", "quit"),
)


class DashboardCommands(Provider):
    async def discover(self) -> Hits:
        for title, help_text, action in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
