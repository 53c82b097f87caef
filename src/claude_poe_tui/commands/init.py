"""``claude-poe-tui init``: first-run setup, from nothing to a config, keys and a checked Poe key.

1. The Poe API key: ``--poe-key``, else ``$POE_API_KEY``, else the one already in the ``.env``,
   else asked for (hidden input). Poe checks it (``/usage/current_balance``) unless ``--no-check``.
   At a terminal, when Poe does not answer, the way on is offered in place (try again, another
   base URL, or skip the check), so a key typed once is never asked for again.
2. A master key for the proxy, generated once (an existing one is kept).
3. The config, from the commented template (the repo's ``config.example.toml``), with mappings for
   the model names Claude Code asks for, on the Claude bots Poe has.
4. Both keys into the ``.env`` beside the config (mode 0600); the config only names them.

Nothing that exists is replaced without asking (or ``--force`` when there is no one to ask), and
nothing is written before the key is checked.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from importlib import resources

TEMPLATE_NAME = "config.example.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poe-key", metavar="KEY", help="the Poe API key (default: $POE_API_KEY, else asked for)")
    parser.add_argument("--port", type=int, metavar="PORT", help="the proxy's port (default 4000)")
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing: take the defaults (for scripts)")
    parser.add_argument("--force", action="store_true", help="replace an existing config or Poe key without asking")
    parser.add_argument("--no-check", action="store_true", help="do not ask Poe to check the key (offline)")
    parser.add_argument(
        "--poe-base-url", metavar="URL", help="Poe's API base URL, written to [poe] base_url (default https://api.poe.com/v1)"
    )


def template_text() -> str:
    """The commented config template shipped in the package (identical to config.example.toml)."""
    return resources.files("claude_poe_tui").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


# Prompts, one place (the tests drive them).
def _interactive(args: argparse.Namespace) -> bool:
    return not args.yes and sys.stdin.isatty()


def _ask_yes_no(question: str, default: bool = False) -> bool:
    hint = "[Y/n]" if default else "[y/N]"
    answer = input(f"{question} {hint} ").strip().lower()
    return default if not answer else answer in ("y", "yes")


def _ask_secret(prompt: str) -> str:
    return getpass.getpass(prompt)


def _say(message: str = "") -> None:
    print(message, flush=True)


def _ask_text(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


OFFLINE_CHOICES = {
    "r": ("retry", "try again (once the network, VPN or Poe is back)"),
    "u": ("url", "use another base URL (a gateway or proxy in front of Poe's API)"),
    "s": ("skip", "skip the check: save the key unchecked (`claude-poe-tui doctor` checks it later)"),
    "q": ("quit", "quit; nothing is written"),
}


def _offline_choice(problem: Exception) -> str:
    """Poe did not answer: what now? ``retry``, ``url``, ``skip`` or ``quit``."""
    _say(f"! {problem}")
    _say("  What now?")
    for letter, (_, what) in OFFLINE_CHOICES.items():
        _say(f"    {letter}  {what}")
    while True:
        answer = _ask_text(f"Choose [{'/'.join(OFFLINE_CHOICES)}]: ").strip().lower()[:1] or "q"
        if answer in OFFLINE_CHOICES:
            return OFFLINE_CHOICES[answer][0]


def _ask_base_url(current: str) -> str:
    """Another base URL for Poe's API (http or https); empty keeps ``current``."""
    while True:
        answer = _ask_text(f"Poe's API base URL (now {current}; empty keeps it): ").strip().rstrip("/")
        if not answer:
            return current
        if answer.startswith(("http://", "https://")) and len(answer) > len("https://"):
            return answer
        _say("  A base URL starts with http:// or https://, e.g. https://api.poe.com/v1")


def _seed_port(dotenv: dict[str, str]) -> int | None:
    """The seed recipe's ``LITELLM_PORT`` (environment, then .env), so a migrated setup keeps its port."""
    raw = os.environ.get("LITELLM_PORT") or dotenv.get("LITELLM_PORT")
    try:
        port = int(raw) if raw else None
    except ValueError:
        return None
    return port if port is not None and 1 <= port <= 65535 else None


def render_config(port: int, base_url: str | None, mappings) -> str:
    """The template with this port, Poe URL and mappings; comments and layout kept."""
    import tomlkit

    doc = tomlkit.parse(template_text())
    doc["proxy"]["port"] = port  # type: ignore[index]
    if base_url:
        doc["poe"]["base_url"] = base_url  # type: ignore[index]
    tables = doc["models"]
    for table, mapping in zip(tables, mappings, strict=True):  # type: ignore[arg-type]
        table["name"] = mapping.name
        table["poe_model"] = mapping.poe_model
    return tomlkit.dumps(doc)


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.atomic import atomic_write_text
    from claude_poe_tui.claude_code.defaults import default_mappings
    from claude_poe_tui.config import load_config, parse_config
    from claude_poe_tui.config.model import DEFAULT_POE_BASE_URL, DEFAULT_PORT
    from claude_poe_tui.errors import UserError
    from claude_poe_tui.keys import KeyKind, describe_key, generate_master_key, mask, store_key
    from claude_poe_tui.paths import StatePaths, locate_config
    from claude_poe_tui.poe.client import PoeAuthError, PoeClient, PoeError, PoeUnreachable
    from claude_poe_tui.poe.catalog import save_cache
    from claude_poe_tui.secrets import read_dotenv, reference_name

    location = locate_config(getattr(args, "config", None))
    path = location.path
    interactive = _interactive(args)
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")

    # -- the config: fresh, or the one already there --
    write_config = True
    existing = None
    if path.exists():
        if args.force:
            _say(f"{path} exists: replacing it (--force); the keys in its .env are kept")
        elif interactive:
            write_config = _ask_yes_no(f"{path} exists. Replace it with a fresh config? (keys in .env are kept)")
        else:
            raise UserError(
                f"{path} already exists; pass --force to replace it (the keys in {path.parent / '.env'} "
                "are kept), or run `claude-poe-tui doctor` to check it"
            )
        if not write_config:
            existing = load_config(path)
            if args.port is not None and args.port != existing.proxy.port:
                raise UserError(f"--port {args.port} differs from the kept config's port {existing.proxy.port}; "
                                "edit [proxy] port there, or replace the config")
    default_base_url = (existing.poe.base_url if existing else DEFAULT_POE_BASE_URL).rstrip("/")
    base_url = (args.poe_base_url or default_base_url).rstrip("/")
    poe_name = reference_name(existing.poe.api_key) if existing else "POE_API_KEY"
    dotenv_path = path.parent / ".env"
    in_dotenv = read_dotenv(dotenv_path)
    port = existing.proxy.port if existing else (args.port or _seed_port(in_dotenv) or DEFAULT_PORT)

    # -- the Poe key --
    poe_key: str | None = None
    replace_poe_key = False
    if poe_name is None:
        _say(f"[poe] api_key is written literally in {path}: kept as it is")
        poe_key, origin = existing.poe.api_key, str(path)  # checked below, never stored elsewhere
    else:
        stored = in_dotenv.get(poe_name)
        given = (args.poe_key or "").strip() or os.environ.get(poe_name, "").strip() or None
        origin = "--poe-key" if args.poe_key else f"${poe_name}"
        if given and stored and given != stored:
            if args.force:
                replace_poe_key = True
            elif interactive:
                replace_poe_key = _ask_yes_no(
                    f"{dotenv_path} already holds a Poe key ({mask(stored)}). Replace it with {mask(given)} ({origin})?"
                )
            else:
                raise UserError(
                    f"{dotenv_path} already holds a different {poe_name} ({mask(stored)}); pass --force to "
                    f"replace it with the one from {origin}"
                )
            poe_key = given if replace_poe_key else stored
            origin = origin if replace_poe_key else str(dotenv_path)
        elif given:
            poe_key = given
            replace_poe_key = given != stored
        elif stored:
            poe_key, origin = stored, str(dotenv_path)
            _say(f"Using the Poe key already in {dotenv_path} ({mask(stored)})")
        elif interactive:
            _say("Your Poe API key is at https://poe.com/api_key (the input stays hidden).")
            poe_key = _ask_secret("Poe API key: ").strip()
            origin = "what you typed"
            replace_poe_key = True
        if not poe_key:
            raise UserError(
                f"no Poe API key: pass --poe-key KEY or set {poe_name} (get one at https://poe.com/api_key)"
            )

    # -- ask Poe: the key, and the bots it has --
    catalog = None
    state = StatePaths.default()
    checked = False
    if args.no_check:
        _say("Not checking the key with Poe (--no-check)")
    elif poe_key:
        client = PoeClient(base_url, poe_key, key_origin=origin)
        rejected = 0
        while True:
            try:
                balance = client.balance()
            except PoeUnreachable as exc:
                if not interactive:
                    raise UserError(f"{exc}. Nothing was written. Offline or behind a gateway? "
                                    "`claude-poe-tui init --no-check` saves the key without asking Poe, "
                                    "and --poe-base-url URL sets where Poe's API is") from None
                # At a terminal the way on is offered here: the key typed stays typed.
                choice = _offline_choice(exc)
                if choice == "retry":
                    continue
                if choice == "url":
                    base_url = _ask_base_url(base_url)
                    client = PoeClient(base_url, poe_key, key_origin=origin)
                    continue
                if choice == "skip":
                    _say("Not checking the key with Poe: `claude-poe-tui doctor` checks it once Poe answers.")
                    break
                raise UserError("nothing was written: run `claude-poe-tui init` again once Poe answers, or "
                                "`claude-poe-tui init --no-check` to save the key unchecked") from None
            except PoeAuthError:
                rejected += 1
                if not (interactive and origin == "what you typed" and rejected < 3):
                    raise
                _say("Poe rejected that key; try again (https://poe.com/api_key).")
                poe_key = _ask_secret("Poe API key: ").strip()
                client = PoeClient(base_url, poe_key, key_origin=origin)
                continue
            checked = True
            _say(f"✓ Poe accepted the key: {balance:,} points left")
            break
    if checked:
        try:
            entries = PoeClient(base_url).model_entries()
            catalog = save_cache(state.catalog_cache, entries, base_url)
            _say(f"✓ Poe lists {len(catalog)} bots (cached for `claude-poe-tui models`)")
        except PoeError as exc:
            _say(f"! could not read Poe's bot list, using the default bot names: {exc}")

    # -- write: config, then keys --
    chosen_base_url = base_url if (args.poe_base_url or base_url != default_base_url) else None
    if write_config:
        mappings = default_mappings(catalog)
        text = render_config(port, chosen_base_url, mappings)
        parse_config(text, path, environ={})  # the template and our edits must make a valid config
        atomic_write_text(path, text)
        _say(f"Wrote {path}")
        for mapping in mappings:
            note = "" if mapping.exact else "  (Poe has no bot for Claude Code's default; newest of the family)"
            _say(f"  {mapping.name} -> Poe {mapping.poe_model}{note}")
    else:
        _say(f"Kept {path}")
        if existing is not None and base_url != existing.poe.base_url.rstrip("/"):
            from claude_poe_tui.config.edit import ConfigEditor

            editor = ConfigEditor.open(path)
            editor.set_value("poe", "base_url", base_url)
            editor.save()
            _say(f"  [poe] base_url = \"{base_url}\" in {path}")
    config = load_config(path, environ={})

    if poe_key and replace_poe_key:
        _say("  " + store_key(config, KeyKind.POE, poe_key).message())
    master = describe_key(config, KeyKind.MASTER)
    if master.source == "config":
        _say(f"[proxy] master_key is written literally in {path}: kept as it is")
    elif master.env_name and master.env_name in read_dotenv(dotenv_path):
        _say(f"  master key kept: {master.env_name} in {dotenv_path} ({master.masked})")
    elif master.source == "environment" and master.value:
        # The proxy would use it anyway (the environment wins); keep it beside the config too.
        _say(f"  master key from ${master.env_name}: " + store_key(config, KeyKind.MASTER, master.value).message())
    else:
        _say("  new " + store_key(config, KeyKind.MASTER, generate_master_key()).message())

    if os.name == "posix" and dotenv_path.exists() and dotenv_path.stat().st_mode & 0o077:
        os.chmod(dotenv_path, 0o600)  # it holds keys: readable by you only
        _say(f"  {dotenv_path} is now readable by you only (mode 0600)")

    # -- what next --
    flag = f" --config {path.absolute()}" if location.source == "--config" else ""
    _say("")
    _say("Ready. Next:")
    _say(f"  claude-poe-tui{flag} claude          # Claude Code on Poe (starts the background proxy if none runs)")
    _say(f"  claude-poe-tui{flag}                 # the dashboard: mappings, keys, live requests, points")
    _say(f"  claude-poe-tui{flag} doctor          # check the whole chain")
    _say(f"  eval \"$(claude-poe-tui{flag} env)\" && claude   # or: plain claude on a running proxy")
    return 0
