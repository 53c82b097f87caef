"""The Keys pane: masked keys with their source, reveal, check against Poe, replace and generate."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.secrets import read_dotenv
from claude_poe_tui.ui.app import PoeTuiApp
from conftest import MASTER_KEY, POE_KEY, PoeStandin, write_config
from test_dashboard_models import wait_for


def cells(app: PoeTuiApp, row: int) -> list[str]:
    return [str(cell) for cell in app.query_one("#keys-table").get_row_at(row)]


async def test_keys_are_masked_with_their_source_and_can_be_revealed(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        poe_row, master_row = cells(app, 0), cells(app, 1)
        assert POE_KEY not in " ".join(poe_row) and MASTER_KEY not in " ".join(master_row)
        assert poe_row[1].endswith(POE_KEY[-4:]) and "…" in poe_row[1]
        assert str(config_path.parent / ".env") in poe_row[2]
        assert poe_row[3] == "env:POE_API_KEY"
        await pilot.press("v")
        assert cells(app, 0)[1] == POE_KEY
        await pilot.press("v")
        assert POE_KEY not in cells(app, 0)[1]


async def test_checking_the_poe_key_shows_the_balance(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2", "k")
        detail = app.query_one("#keys-detail")
        await wait_for(pilot, lambda: "Asking" not in str(detail.render()), what="Poe's answer")
        assert "Poe accepts the key" in str(detail.render()) and "points" in str(detail.render())


async def test_a_rejected_poe_key_says_which_key(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url,
                               dotenv={"POE_API_KEY": "poe-wrong-key-999999", "LITELLM_MASTER_KEY": MASTER_KEY})
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2", "k")
        detail = app.query_one("#keys-detail")
        await wait_for(pilot, lambda: "Asking" not in str(detail.render()), what="Poe's answer")
        text = str(detail.render())
        assert "rejected the Poe API key" in text and "POE_API_KEY" in text


@pytest.mark.proxy
async def test_a_new_master_key_is_stored_in_dotenv_and_the_proxy_uses_it(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    config_before = config_path.read_text()
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.session and app.session.state is ProxyState.RUNNING, what="the proxy")
        pid = app.session.pid
        await pilot.press("2", "down", "g", "y")
        dotenv = config_path.parent / ".env"
        await wait_for(pilot, lambda: read_dotenv(dotenv)["LITELLM_MASTER_KEY"] != MASTER_KEY, what="the new key")
        new_key = read_dotenv(dotenv)["LITELLM_MASTER_KEY"]
        assert new_key.startswith("sk-") and len(new_key) == 67
        assert dotenv.stat().st_mode & 0o777 == 0o600
        assert read_dotenv(dotenv)["POE_API_KEY"] == POE_KEY  # the other key is untouched
        assert config_path.read_text() == config_before  # no key ever goes into the config
        await wait_for(pilot, lambda: app.session.pid != pid and app.session.state is ProxyState.RUNNING,
                       what="the restart")
        url = f"{app.session.url}/v1/messages"
        body = {"model": "gpt-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"anthropic-version": "2023-06-01"}
        assert httpx.post(url, json=body, headers={**headers, "x-api-key": MASTER_KEY}).status_code == 401
        assert httpx.post(url, json=body, headers={**headers, "x-api-key": new_key}).status_code == 200
        await pilot.press("ctrl+q")
