"""The dashboard over a gateway elsewhere (``--attach URL``) and the Keys pane of a team gateway, with
Textual's Pilot against real proxy children: the status, live Logs and Latency from the gateway's
request stream, read-only Models, start/stop refused, disconnection and reconnection; a Poe key
pool with a key Poe refuses, and members."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.widgets._toast import Toast

from claude_poe_tui.control.remote import RemoteTarget, attach_target, normalise_url
from claude_poe_tui.errors import UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.status_bar import format_points
from conftest import MASTER_KEY, POE_KEY, PoeStandin, start_proxy, start_standin, write_config
from test_dashboard_models import wait_for
from test_dashboard_points import POINTS_COLUMN
from test_untrusted_text import plain

SECOND_KEY = "poe-second-key-0123456789"
REVOKED_KEY = "poe-revoked-key-0123456789"
ALICE = "alice-token-0123456789abcdef"


def ask(url: str, model: str, key: str = MASTER_KEY, session: str | None = None) -> httpx.Response:
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    if session:
        headers["x-claude-code-session-id"] = session
    return httpx.post(f"{url}/v1/messages", headers=headers, timeout=30,
                      json={"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})


def remote(proxy_url: str, key: str = MASTER_KEY) -> RemoteTarget:
    return RemoteTarget(proxy_url, key, "LITELLM_MASTER_KEY", "the environment ($LITELLM_MASTER_KEY)")


def toasts(app: PoeTuiApp) -> list[str]:
    return [plain(t) for t in app.screen.query(Toast)]


# -- the target: URL and key --

def test_the_url_and_the_master_key_for_attach(tmp_path: Path) -> None:
    assert normalise_url("https://gw.example:4000/v1/") == "https://gw.example:4000"
    assert normalise_url("http://10.0.0.5:4000") == "http://10.0.0.5:4000"
    with pytest.raises(UserError, match="http:// or https://"):
        normalise_url("gw.example:4000")
    config = tmp_path / "config.toml"  # need not exist: only the .env beside it is read
    with pytest.raises(UserError, match=r"set LITELLM_MASTER_KEY in the environment or in .*\.env \(--key-env NAME"):
        attach_target("https://gw:4000", config, environ={})
    (tmp_path / ".env").write_text("TEAM_GATEWAY_KEY=sk-team-0123\n")
    target = attach_target("https://gw:4000", config, "TEAM_GATEWAY_KEY", environ={})
    assert (target.key, target.key_name) == ("sk-team-0123", "TEAM_GATEWAY_KEY")
    assert target.key_origin == f"TEAM_GATEWAY_KEY in {tmp_path / '.env'}"
    target = attach_target("https://gw:4000", config, environ={"LITELLM_MASTER_KEY": "sk-env"})
    assert target.key == "sk-env" and target.key_origin == "the environment ($LITELLM_MASTER_KEY)"


def test_what_is_known_of_a_remote_gateway() -> None:
    from claude_poe_tui.control.remote import RemoteGateway
    from claude_poe_tui.control.status import StatusReport
    from claude_poe_tui.requestlog.record import RequestRecord

    gateway = RemoteGateway(remote("https://gw:4000"))
    assert gateway.disconnected == "" and not gateway.answering  # nothing known yet: not "disconnected"
    gateway.take_status(StatusReport(True, {"models": ["gpt-5", "sonnet"], "started_at": 100.0}))
    assert gateway.answering and gateway.names == ["gpt-5", "sonnet"] and gateway.started_at == 100.0
    assert gateway.disconnected == ""  # the stream is still connecting
    gateway.take_link(False, "ConnectError: refused; trying again in 2 s")
    assert gateway.disconnected == "requests: ConnectError: refused; trying again in 2 s"
    gateway.take_link(True, "connected")
    assert gateway.disconnected == ""
    record = RequestRecord(ts=1.0, id="r", session=None, method="POST", path="/v1/messages", model="gpt-5",
                           poe_model="GPT-5", route="chat", stream=True, status=200, error_type=None,
                           error_message=None, latency_ms=1.0, ttft_ms=None, input_tokens=1, output_tokens=1)
    assert gateway.take_records([record]) and not gateway.take_records([record])
    assert gateway.bots == {"gpt-5": "GPT-5"}
    gateway.take_status(StatusReport(False, error="no answer (ConnectError)"))
    assert gateway.disconnected == "no answer (ConnectError)" and gateway.names == []


@pytest.mark.parametrize("head", [[], ["dashboard"]], ids=["top", "dashboard"])
def test_attach_without_a_key_is_one_line_and_no_traceback(tmp_path: Path, head: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_MASTER_KEY"}
    result = subprocess.run([sys.executable, "-m", "claude_poe_tui", "--config", str(tmp_path / "config.toml"), *head,
                             "--attach", "https://gw.example:4000/v1"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"claude-poe-tui: error: --attach https://gw.example:4000 needs that gateway's master key: set "
        f"LITELLM_MASTER_KEY in the environment or in {tmp_path / '.env'} (--key-env NAME reads another variable)"]


# -- a remote gateway --

@pytest.mark.proxy
async def test_a_remote_gateways_balance_budgets_and_alerts_show_in_the_attached_dashboard(
        tmp_path: Path, poe: PoeStandin) -> None:
    gateway = start_proxy(tmp_path / "gateway", poe, extra="\n[budget]\ndaily_points = 5000000\nmin_balance = 100000000\n")
    try:
        balance = httpx.get(f"{poe.url}/usage/current_balance", headers={"authorization": f"Bearer {POE_KEY}"},
                            timeout=10).json()["current_point_balance"]
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(gateway.url))
        async with app.run_test(size=(140, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: (app.points_summary or {}).get("balance", {}).get("points") is not None,
                           timeout=30, what="the gateway's points summary")
            assert app.points_summary["balance"]["points"] == balance  # what Poe told the gateway
            assert format_points(balance) in str(app.status.render())
            await pilot.press("6")
            budgets = plain(app.query_one("#sessions-budgets"))
            assert "today 0/5,000,000" in budgets and "keep 100.0M: balance" in budgets
            assert "under it: requests are refused" in budgets and "under [budget] min_balance" in budgets
            await wait_for(pilot, lambda: any("under [budget] min_balance (100,000,000)" in t for t in toasts(app)),
                           timeout=10, what="the low-balance notice")
    finally:
        gateway.process.stop()


@pytest.mark.proxy
async def test_a_remote_gateways_points_per_request_reach_logs_latency_and_sessions(
        tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "gateway" / "state"
    state.mkdir(parents=True)
    # The gateway's cached catalog: it estimates each request from the prices until Poe's history says.
    save_cache(state / "poe-models.json", parse_models_response(httpx.get(f"{poe.base_url}/models").json()),
               source=poe.base_url)
    gateway = start_proxy(tmp_path / "gateway", poe, models=(("gpt-4o", "GPT-4o"),))
    try:
        assert ask(gateway.url, "gpt-4o", session="sess-points").status_code == 200  # before: comes with the tail
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(gateway.url))
        async with app.run_test(size=(160, 44), notifications=True) as pilot:
            await pilot.press("3")
            table = app.query_one("#logs-table")
            await wait_for(pilot, lambda: table.row_count == 1, timeout=20, what="the gateway's tail")
            assert ask(gateway.url, "gpt-4o", session="sess-points").status_code == 200  # live
            await wait_for(pilot, lambda: table.row_count == 2, timeout=15, what="a live request")
            await wait_for(pilot, lambda: all(str(table.get_row_at(i)[POINTS_COLUMN]) not in ("-", "~?")
                                              for i in range(2)), timeout=30, what="the gateway's points")
            shown = [float(str(table.get_row_at(i)[POINTS_COLUMN]).lstrip("~≈").replace(",", "")) for i in range(2)]
            assert all(points > 0 for points in shown)

            # Latency: points per request of the model; Sessions: the session's points.
            await pilot.press("4")
            latency = app.query_one("#latency-table")
            await wait_for(pilot, lambda: latency.row_count == 1
                           and str(latency.cells_at(0)["per_request"]).lstrip("~") not in ("-", ""),
                           timeout=15, what="points per request in Latency")
            await pilot.press("6")
            sessions = app.query_one("#sessions-table")
            await wait_for(pilot, lambda: any(str(sessions.cells_at(i)["session"]) == "sess-points"
                                              and str(sessions.cells_at(i)["points"]).lstrip("~≈") not in ("-", "")
                                              for i in range(sessions.row_count)), timeout=15,
                           what="the session's points")
    finally:
        gateway.process.stop()


@pytest.mark.proxy
async def test_a_remote_gateway_shows_its_status_requests_and_latency(tmp_path: Path, poe: PoeStandin) -> None:
    gateway = start_proxy(tmp_path / "gateway", poe)
    try:
        assert ask(gateway.url, "gpt-5", session="sess-remote").status_code == 200  # before the dashboard: the tail
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(gateway.url))
        async with app.run_test(size=(140, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: app.status.state is ProxyState.RUNNING and not app.status.disconnected,
                           timeout=20, what="the gateway's status")
            status = str(app.status.render())
            assert gateway.url in status and "remote gateway (key: LITELLM_MASTER_KEY)" in status

            # Models: the gateway's mapping names, read-only.
            models = app.query_one("#models-table")
            await wait_for(pilot, lambda: models.row_count == 5, timeout=10, what="the gateway's mappings")
            assert "Read-only" in plain(app.query_one("#models-hint"))
            entries = {entry.plain.strip(): key for entry, key in app.query_one("#keys-bar")._entries()}
            assert entries["a Add"] is None and entries["d Delete"] is None  # shown disabled
            assert entries["s Start/stop"] == "s"  # pressed, it says where the gateway is managed
            await pilot.press("a", "e")  # disabled: no editor opens
            await pilot.press("enter")  # on a row: says why
            assert any("Edit them on its machine" in t for t in toasts(app))
            assert not app.query("MappingEditorScreen")

            # Logs: the tail, then requests as they are served.
            await pilot.press("3")
            table = app.query_one("#logs-table")
            await wait_for(pilot, lambda: table.row_count == 1, timeout=15, what="the gateway's tail")
            assert ask(gateway.url, "claude-sonnet-4-5-20250929").status_code == 200
            assert ask(gateway.url, "no-such-model").status_code == 404
            await wait_for(pilot, lambda: table.row_count == 3, timeout=15, what="live requests")
            assert [str(table.get_row_at(i)[2]) for i in range(3)] == ["gpt-5", "claude-sonnet-4-5-20250929",
                                                                        "no-such-model"]
            assert [str(table.get_row_at(i)[1]) for i in range(3)] == ["200", "200", "404"]
            await wait_for(pilot, lambda: "3 requests" in str(app.status.render()), timeout=5, what="the counts")
            await pilot.press("end")

            # Latency from the same statistics.
            await pilot.press("4")
            latency = app.query_one("#latency-table")
            await wait_for(pilot, lambda: latency.row_count == 3, timeout=10, what="Latency")
            assert str(latency.cells_at(latency.get_row_index("gpt-5"))["requests"]) == "1"
            assert str(latency.cells_at(latency.get_row_index("no-such-model"))["errors"]) == "1"

            # Sessions from the requests (points stay on the gateway's machine).
            await pilot.press("6")
            await wait_for(pilot, lambda: app.query_one("#sessions-table").row_count == 2, timeout=10, what="sessions")
            assert "No budgets on" in plain(app.query_one("#sessions-budgets"))

            # Start, stop and restart belong to the gateway's machine.
            pid = gateway.process.pid
            await pilot.press("s")
            await pilot.press("r")
            await pilot.pause()
            assert sum("start or stop it on its machine" in t or "restart it on its machine" in t
                       for t in toasts(app)) == 2
            assert gateway.process.pid == pid and gateway.process.state is ProxyState.RUNNING

            # The gateway goes away: disconnected, and why. It comes back: the stream picks up again.
            gateway.process.stop()
            await wait_for(pilot, lambda: "disconnected" in str(app.status.render()), timeout=20,
                           what="disconnected")
            gateway.process.start()
            gateway.process.wait_ready(120)
            await wait_for(pilot, lambda: not app.status.disconnected, timeout=60, what="reconnected")
            await pilot.press("3")
            assert ask(gateway.url, "gpt-5").status_code == 200
            await wait_for(pilot, lambda: table.row_count == 4, timeout=30, what="a request after reconnecting")
            assert str(table.get_row_at(3)[2]) == "gpt-5"
    finally:
        gateway.process.stop()


@pytest.mark.proxy
async def test_a_wrong_master_key_is_said_not_shown_as_an_empty_gateway(tmp_path: Path, poe: PoeStandin) -> None:
    gateway = start_proxy(tmp_path / "gateway", poe, host="0.0.0.0")  # beyond loopback: status needs the key
    try:
        url = gateway.url.replace("0.0.0.0", "127.0.0.1")
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(url, key="sk-wrong"))
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: "refused the master key" in app.status.disconnected, timeout=20,
                           what="the refusal")
            assert "($LITELLM_MASTER_KEY)" in app.status.disconnected
            assert app.query_one("#logs-table").row_count == 0
    finally:
        gateway.process.stop()


# -- a team gateway's keys: a pool and members --

@pytest.fixture(scope="module")
def two_key_poe() -> Iterator[PoeStandin]:
    standin = start_standin("--key", SECOND_KEY)
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


def pool_config(tmp_path: Path, poe: PoeStandin) -> Path:
    dotenv = {"LITELLM_MASTER_KEY": MASTER_KEY, "POE_KEY_A": POE_KEY, "POE_KEY_B": REVOKED_KEY,
              "POE_KEY_C": SECOND_KEY, "ALICE_TOKEN": ALICE}
    path = write_config(tmp_path / "config", poe_base_url=poe.base_url, models=(("gpt-4o", "GPT-4o"),), dotenv=dotenv,
                        extra='\n[[clients]]\nname = "alice"\nkey = "env:ALICE_TOKEN"\n')
    text = path.read_text().replace('api_key = "env:POE_API_KEY"',
                                    'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B", "env:POE_KEY_C"]')
    path.write_text(text)
    return path


@pytest.mark.proxy
async def test_keys_shows_each_pool_key_and_which_poe_refused(tmp_path: Path, two_key_poe: PoeStandin) -> None:
    config_path = pool_config(tmp_path, two_key_poe)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.session.state is ProxyState.RUNNING,
                       what="the proxy")
        await pilot.press("2")
        table = app.query_one("#keys-table")
        labels = [str(table.cells_at(i)["key"]) for i in range(table.row_count)]
        assert labels == ["Poe key 1 of the pool", "Poe key 2 of the pool", "Poe key 3 of the pool", "master key",
                          "member alice"]
        shown = " ".join(str(c) for i in range(table.row_count) for c in table.cells_at(i).values())
        assert POE_KEY not in shown and REVOKED_KEY not in shown and ALICE not in shown
        assert str(table.cells_at(1)["config"]) == "env:POE_KEY_B"
        assert str(table.cells_at(4)["config"]) == "env:ALICE_TOKEN" and str(table.cells_at(4)["value"]) == "-"
        await wait_for(pilot, lambda: str(table.cells_at(0)["pool"]) == "in use", timeout=15, what="the status page")

        for _ in range(6):  # the pool is used in turn: key B meets Poe's 401 and leaves the pool
            assert ask(app.session.url, "gpt-4o").status_code == 200
        await wait_for(pilot, lambda: str(table.cells_at(1)["pool"]).startswith("out: "), timeout=15,
                       what="key B out of the pool")
        assert "401" in str(table.cells_at(1)["pool"])
        assert [str(table.cells_at(i)["pool"]) for i in (0, 2)] == ["in use", "in use"]
        table.move_cursor(row=1)
        await pilot.pause()
        selected = plain(app.query_one("#keys-selected"))
        assert "Poe key 2 of the pool" in selected and "[poe] api_keys[1] = env:POE_KEY_B" in selected
        assert "out: " in selected and "401" in selected
        await pilot.press("v")  # revealed: the key itself, for the one who has the config
        assert str(table.cells_at(1)["value"]) == REVOKED_KEY

        # The same gateway from elsewhere: the key out and the members from its status page.
        viewer = PoeTuiApp(tmp_path / "elsewhere" / "config.toml", start_proxy=False, remote=remote(app.session.url))
        async with viewer.run_test(size=(160, 44)) as viewer_pilot:
            await viewer_pilot.press("2")
            far = viewer.query_one("#keys-table")
            await wait_for(viewer_pilot, lambda: far.row_count == 3, timeout=15, what="the remote keys")
            rows = {str(far.cells_at(i)["key"]): far.cells_at(i) for i in range(3)}
            assert set(rows) == {"master key", "Poe key POE_KEY_B", "member alice"}
            assert str(rows["Poe key POE_KEY_B"]["pool"]).startswith("out: ") and "401" in str(rows["Poe key POE_KEY_B"]["pool"])
            await viewer_pilot.press("g")
            await viewer_pilot.pause()
            assert not viewer.query("ConfirmScreen")  # no key of a remote gateway is changed from here
        await pilot.press("ctrl+q")


# -- https: TLS done by a reverse proxy in front of the gateway --

def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority (as a private CA's would be trusted)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsFront:
    """A TLS-terminating TCP proxy in front of the gateway, as nginx or haproxy would be."""

    def __init__(self, upstream_port: int, cert: Path, key: Path) -> None:
        import asyncio
        import ssl
        import threading

        from conftest import free_port

        self.port = free_port()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def pipe(reader, writer) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer) -> None:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
            await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

        async def serve() -> None:
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.port, ssl=context)
            ready.set()
            try:
                await self.server.serve_forever()
            except asyncio.CancelledError:
                pass  # closed

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(serve()), daemon=True)
        self.thread.start()
        ready.wait(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


@pytest.mark.proxy
async def test_a_gateway_behind_tls_is_attached_with_https(tmp_path: Path, poe: PoeStandin, monkeypatch) -> None:
    gateway = start_proxy(tmp_path / "gateway", poe)
    cert, key = self_signed(tmp_path)
    front = TlsFront(gateway.process.config.proxy.port, cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # a private authority, trusted the way httpx reads it
    try:
        url = f"https://127.0.0.1:{front.port}"
        assert ask(gateway.url, "gpt-5").status_code == 200
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(url))
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_for(pilot, lambda: app.status.state is ProxyState.RUNNING and not app.status.disconnected,
                           timeout=20, what="the gateway's status over https")
            await pilot.press("3")
            table = app.query_one("#logs-table")
            await wait_for(pilot, lambda: table.row_count == 1, timeout=15, what="the tail over https")
            assert ask(gateway.url, "claude-sonnet-4-5-20250929").status_code == 200
            await wait_for(pilot, lambda: table.row_count == 2, timeout=15, what="a live request over https")
        # Without trusting that authority, the certificate is refused, and the top line says so.
        monkeypatch.delenv("SSL_CERT_FILE")
        app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(url))
        async with app.run_test(size=(200, 40)) as pilot:
            await wait_for(pilot, lambda: "CERTIFICATE_VERIFY_FAILED" in app.status.disconnected, timeout=20,
                           what="the refused certificate")
    finally:
        front.close()
        gateway.process.stop()
