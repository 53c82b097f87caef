"""``claude-poe-tui export``: team-gateway deployment files, checked precisely without a Docker engine.

The Compose file is parsed with PyYAML and checked service by service; the wheel the Dockerfile
installs is installed and run; the systemd unit passes ``systemd-analyze verify`` and its
``ExecStart``, run as written with its ``Environment=``, serves through a real Redis; the nginx
site passes ``nginx -t`` and carries a stream through a real nginx event by event.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from claude_poe_tui import __version__
from claude_poe_tui.cli import main
from claude_poe_tui.proxy.protocol import KEEP_ALIVE_SECONDS
from conftest import OFFLINE_POE, POE_KEY, PoeStandin, free_port

LONG_MASTER_KEY = "sk-team-" + "0123456789abcdef" * 3  # 56 characters
MEMBER_TOKEN = "alice-token-0123456789abcdef"
REDIS_NAME = "TEAM_REDIS"  # not REDIS_URL: the export must follow the config's own name
HEADERS = {"anthropic-version": "2023-06-01"}


def team_config(directory: Path, *, host: str = "0.0.0.0", port: int | None = None, master_key: str = LONG_MASTER_KEY,
                redis: str | None = f"env:{REDIS_NAME}", poe_base_url: str = OFFLINE_POE, proxy_extra: str = "",
                extra: str = "", dotenv: dict[str, str] | None = None) -> Path:
    """A team gateway's config: keys, a member token and a wrong Redis in the .env beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    redis_table = f'[redis]\nurl = "{redis}"\n' if redis is not None else ""
    text = (
        "# a team gateway\n"
        "[proxy]\n"
        f'host = "{host}"\n'
        f"port = {port or free_port()}\n"
        'master_key = "env:LITELLM_MASTER_KEY"\n'
        f"{proxy_extra}"
        "\n[poe]\n"
        'api_key = "env:POE_API_KEY"\n'
        f'base_url = "{poe_base_url}"\n'
        f"\n{redis_table}"
        "\n[[models]]\n"
        'name = "claude-sonnet-4-5"\n'
        'poe_model = "Claude-Sonnet-4.5"\n'
        "rpm = 100\n"
        'fallbacks = ["gpt-4o"]\n'
        "\n[[models]]\n"
        'name = "gpt-4o"\n'
        'poe_model = "GPT-4o"\n'
        "\n[[clients]]\n"
        'name = "alice"\n'
        'key = "env:ALICE_TOKEN"\n'
        f"{extra}"
    )
    path = directory / "config.toml"
    path.write_text(text)
    env = {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": master_key, "ALICE_TOKEN": MEMBER_TOKEN,
           # The gateway must use the Redis the export sets, not this one: nothing listens on port 1.
           REDIS_NAME: "redis://127.0.0.1:1/0"} if dotenv is None else dotenv
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    os.chmod(directory / ".env", 0o600)
    return path


def export(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def secrets_in(text: str) -> list[str]:
    return [secret for secret in (LONG_MASTER_KEY, POE_KEY, MEMBER_TOKEN) if secret in text]


# --- Compose -------------------------------------------------------------------------------------


def test_compose_file_has_replicas_redis_and_nginx_with_the_config_mounted_read_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team", port=4123, proxy_extra="workers = 2\ndrain_seconds = 20\n")
    code, out, err = export(capsys, config, "compose", "--replicas", "3")
    assert code == 0, err
    compose = yaml.safe_load(out)
    services = compose["services"]
    assert set(services) == {"gateway", "redis", "lb"}

    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] == 3
    assert gateway["build"] == "."
    assert gateway["command"] == ["claude-poe-tui", "serve", "--config", "/config/config.toml"]
    # Only the Redis variable the config names, pointed at the compose service: no key, no port.
    assert gateway["environment"] == {REDIS_NAME: "redis://redis:6379/0"}
    env_file = config.parent / ".env"
    assert gateway["volumes"] == [
        {"type": "bind", "source": str(config), "target": "/config/config.toml", "read_only": True},
        {"type": "bind", "source": str(env_file), "target": "/config/.env", "read_only": True},
    ]
    assert gateway["user"] == f"{env_file.stat().st_uid}:{env_file.stat().st_gid}"
    assert "ports" not in gateway  # clients come through nginx only
    health = gateway["healthcheck"]
    assert health["test"][:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:4123/health/readiness" in health["test"][3]
    assert health["start_period"] == "120s"
    assert gateway["stop_grace_period"] == "35s"  # drain_seconds 20 + 15
    assert gateway["depends_on"] == {"redis": {"condition": "service_healthy"}}

    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    assert redis["command"] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "ports" not in redis and "volumes" not in redis

    lb = services["lb"]
    assert lb["image"].startswith("nginx:")
    assert lb["ports"] == ["4123:80"]
    assert lb["volumes"] == [{"type": "bind", "source": "./nginx.conf", "target": "/etc/nginx/conf.d/default.conf",
                              "read_only": True}]
    assert lb["depends_on"] == {"gateway": {"condition": "service_healthy", "restart": True}}

    assert "$" not in out, "compose reads $ as a variable"
    assert secrets_in(out) == []
    assert "workers = 2" in out and "at least 32 characters" in out  # the header says what the config needs
    assert "also needed: Dockerfile" in err


def test_compose_healthcheck_and_command_run_as_a_replica_would(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                poe: PoeStandin, redis_url: str) -> None:
    """The replica's own command and environment (the Redis service's address swapped for a local
    Redis) serve, use that Redis over the .env's, and the healthcheck says so."""
    port = free_port()
    config = team_config(tmp_path / "team", port=port, poe_base_url=poe.base_url)
    _, out, _ = export(capsys, config, "compose", "--replicas", "1")
    gateway = yaml.safe_load(out)["services"]["gateway"]
    health = [sys.executable, *gateway["healthcheck"]["test"][2:]]
    assert subprocess.run(health, capture_output=True, timeout=30).returncode != 0  # nothing serves yet

    command = [part.replace("/config/config.toml", str(config)) for part in gateway["command"]]
    environment = {name: value.replace("redis://redis:6379/0", redis_url)
                   for name, value in gateway["environment"].items()}
    # In the image pip put the command on the PATH; here it is beside this Python.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with running(command, environment, tmp_path) as log:
        wait_ready(port, log)
        assert subprocess.run(health, capture_output=True, timeout=30).returncode == 0
        assert_served_with_redis(port, redis_url)


# --- the image: Dockerfile, .dockerignore, the wheel ---------------------------------------------


def test_export_folder_writes_the_whole_build_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team")
    out_dir = tmp_path / "deploy"
    code, out, err = export(capsys, config, "compose", "-o", f"{out_dir}/")
    assert code == 0, err
    wheel = f"claude_poe_tui-{__version__}-py3-none-any.whl"
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [".dockerignore", "Dockerfile", "compose.yaml", "nginx.conf", wheel])
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in out_dir.iterdir())
    assert "Wrote" in out and "master key of 56 characters" in out

    dockerfile = (out_dir / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.replace("\\\n", " ").splitlines()
                    if line.strip() and not line.startswith("#")]
    assert instructions[0] == ["FROM", f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"]
    copies = [args for op, args in instructions if op == "COPY"]
    assert copies == [f"{wheel} /tmp/"]  # the wheel, and nothing else: no config, no .env
    run_lines = [args for op, args in instructions if op == "RUN"]
    assert any(f"pip install /tmp/{wheel}" in line for line in run_lines)
    assert ["USER", "nobody"] in instructions
    # Only the wheel may enter the build context, whatever else is in the folder.
    ignore = [line for line in (out_dir / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore == ["*", f"!{wheel}"]
    for path in out_dir.iterdir():
        assert secrets_in(path.read_bytes().decode("utf-8", "replace")) == [], path.name

    # Again into the same (existing) folder: replaced in place, no temporary files left behind.
    code, _, _ = export(capsys, config, "compose", "--replicas", "4", "-o", str(out_dir))
    assert code == 0
    assert len(list(out_dir.iterdir())) == 5
    assert yaml.safe_load((out_dir / "compose.yaml").read_text())["services"]["gateway"]["deploy"]["replicas"] == 4


def test_the_wheel_installs_and_runs_with_everything_the_package_ships(tmp_path: Path) -> None:
    from claude_poe_tui.deploy.wheel import SHIPPED_SUFFIXES, wheel_bytes, write_wheel

    path = write_wheel(tmp_path / "dist")
    assert path.read_bytes() == wheel_bytes()  # the same install gives the same bytes (layer cache)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        info = f"claude_poe_tui-{__version__}.dist-info"
        record = archive.read(f"{info}/RECORD").decode().splitlines()
        for line in record:  # every file's hash and size as pip checks them
            name, digest, size = line.rsplit(",", 2)
            if name == f"{info}/RECORD":
                continue
            data = archive.read(name)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
        assert "claude-poe-tui = claude_poe_tui.cli:main" in archive.read(f"{info}/entry_points.txt").decode()
    source = Path(__import__("claude_poe_tui").__file__).parent
    shipped = {f"claude_poe_tui/{p.relative_to(source).as_posix()}" for p in source.rglob("*")
               if p.suffix in SHIPPED_SUFFIXES and "__pycache__" not in p.parts}
    assert {"claude_poe_tui/ui/app.tcss", "claude_poe_tui/config.example.toml",
            "claude_poe_tui/deploy/compose.py"} <= shipped
    assert shipped <= names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--target",
                    str(target), str(path)], check=True, capture_output=True, timeout=120)
    assert (target / "bin" / "claude-poe-tui").is_file()  # the console script pip made from entry_points
    probe = ("import claude_poe_tui, sys; print(claude_poe_tui.__file__); "
             "from claude_poe_tui.cli import main; sys.argv = ['claude-poe-tui', '--version']; main()")
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.splitlines()[0].startswith(str(target))  # imported from the wheel, not this checkout
    assert f"claude-poe-tui {__version__}" in done.stdout


def test_dockerfile_and_single_file_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team")
    code, out, _ = export(capsys, config, "dockerfile")
    assert code == 0 and out.startswith("# claude-poe-tui gateway image")
    # -o with a file path writes that one file, atomically, and nothing beside it.
    target = tmp_path / "out" / "team-compose.yml"
    target.parent.mkdir()
    code, _, _ = export(capsys, config, "compose", "-o", str(target))
    assert code == 0
    assert [p.name for p in target.parent.iterdir()] == ["team-compose.yml"]
    assert yaml.safe_load(target.read_text())["services"]["gateway"]["deploy"]["replicas"] == 2


# --- what the config must say -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        ("compose", {"host": "127.0.0.1"}, 'config.toml:3: proxy.host: in a container the gateway must listen'),
        ("compose", {"host": "10.1.2.3"}, 'set host = "0.0.0.0"'),
        ("systemd", {"host": "localhost"}, "config.toml:3: proxy.host: a team gateway is reached from other machines"),
        ("compose", {"master_key": "sk-short-but-fine-for-loopback"},
         "config.toml:5: proxy.master_key: a gateway other machines reach needs a master key of at least 32 characters"),
        ("systemd", {"master_key": "x" * 31}, "this one has 31"),
        ("compose", {"redis": None}, 'redis.url: a team gateway shares its limits'),
        ("compose", {"redis": "redis://10.0.0.9:6379/0"}, 'redis.url: write url = "env:REDIS_URL"'),
    ],
)
def test_a_config_the_gateway_cannot_use_is_refused_with_file_line_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, changes: dict, expected: str) -> None:
    config = team_config(tmp_path / "team", **changes)
    out_dir = tmp_path / "deploy"
    code, out, err = export(capsys, config, kind, "-o", f"{out_dir}/")
    assert code == 2
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out_dir.exists()  # nothing written


def test_a_key_only_in_the_exporting_shell_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway reads the .env beside the config, not the shell that ran the export."""
    config = team_config(tmp_path / "team", dotenv={"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": LONG_MASTER_KEY})
    monkeypatch.setenv("ALICE_TOKEN", MEMBER_TOKEN)
    code, _, err = export(capsys, config, "compose")
    assert code == 2
    assert "config.toml:26: clients[0].key:" in err and f"ALICE_TOKEN is not in {config.parent / '.env'}" in err


def test_a_systemd_deployment_may_keep_a_literal_redis_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team", redis="redis://10.0.0.9:6379/0")
    code, out, err = export(capsys, config, "systemd", "--user", "gateway")
    assert code == 0, err
    assert "Environment=REDIS_URL" not in out and "redis://10.0.0.9:6379/0" in out
    assert "User=gateway\n" in out and "Group=" not in out


# --- nginx -----------------------------------------------------------------------------------------


def nginx_directives(text: str) -> list[list[str]]:
    return [line.strip().rstrip(";").split() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#") and line.strip().endswith(";")]


@pytest.mark.parametrize("target", ["compose", "systemd"])
def test_nginx_site_passes_streams_through_unbuffered_with_long_read_timeouts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    config = team_config(tmp_path / "team", port=4321, proxy_extra="request_timeout = 300\nmax_request_mb = 8\n")
    code, out, err = export(capsys, config, "nginx", "--for", target, "--listen", "8088")
    assert code == 0, err
    directives = nginx_directives(out)
    assert ["proxy_buffering", "off"] in directives
    assert ["proxy_request_buffering", "off"] in directives
    assert ["proxy_http_version", "1.1"] in directives
    assert ["proxy_set_header", "Connection", '""'] in directives
    assert ["proxy_pass", "http://claude_poe_tui"] in directives
    # 300 s for Poe, twice (a fallback), plus a margin: the gateway's own timeout answers first.
    assert ["proxy_read_timeout", "630s"] in directives
    assert ["client_max_body_size", "9m"] in directives
    # nginx lets idle connections to the gateway go before the gateway does (test_engine shows how
    # long the gateway keeps them): no request is sent on a connection being closed.
    (keepalive_timeout,) = [d[1] for d in directives if d[0] == "keepalive_timeout"]
    assert int(keepalive_timeout.removesuffix("s")) < KEEP_ALIVE_SECONDS
    servers = [d[1] for d in directives if d[0] == "server"]
    if target == "compose":
        assert servers == ["gateway:4321"] and ["listen", "80"] in directives and ["least_conn"] in directives
    else:
        assert servers == ["127.0.0.1:4321"] and ["listen", "8088"] in directives


needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt install nginx-light)")


def nginx_main_conf(directory: Path, site: str, http_extra: str = "") -> Path:
    """A minimal nginx.conf that includes ``site``, with every path of nginx's own in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "site.conf").write_text(site)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"pid {directory}/nginx.pid;\n"
        "error_log stderr;\n"
        "daemon off;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    access_log off;\n"
        f"    {http_extra}\n"
        f"    client_body_temp_path {directory}/body;\n"
        f"    proxy_temp_path {directory}/proxy;\n"
        f"    fastcgi_temp_path {directory}/fastcgi;\n"
        f"    uwsgi_temp_path {directory}/uwsgi;\n"
        f"    scgi_temp_path {directory}/scgi;\n"
        f"    include {directory}/site.conf;\n"
        "}\n"
    )
    return conf


@needs_nginx
@pytest.mark.parametrize("target", ["compose", "systemd"])
def test_nginx_accepts_the_generated_site(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    config = team_config(tmp_path / "team")
    _, site, _ = export(capsys, config, "nginx", "--for", target, "--listen", str(free_port()))
    # compose's upstream is a service name only Docker's DNS knows: point it at this machine.
    site = site.replace("server gateway:", "server 127.0.0.1:")
    conf = nginx_main_conf(tmp_path / "nginx", site)
    done = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(conf.parent), "-e", "stderr"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    # And the check is real: a directive nginx does not know fails it.
    (conf.parent / "site.conf").write_text(site.replace("proxy_buffering off;", "proxy_bufering off;"))
    broken = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(conf.parent), "-e", "stderr"],
                            capture_output=True, text=True, timeout=30)
    assert broken.returncode != 0 and "proxy_bufering" in broken.stderr


# --- systemd: the unit, verified and run as written, behind the generated nginx -----------------


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for each line of a unit file."""
    entries, section = [], ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


def test_systemd_unit_runs_serve_as_the_config_owner_and_drains_on_stop(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team", proxy_extra="workers = 2\n")
    code, out, err = export(capsys, config, "systemd", "--redis-url", "redis://127.0.0.1:6390/2")
    assert code == 0, err
    entries = unit_entries(out)
    service = {key: value for section, key, value in entries if section == "Service" and key != "Environment"}
    environment = [value for section, key, value in entries if key == "Environment"]
    assert shlex.split(service["ExecStart"])[-3:] == ["serve", "--config", str(config)]
    assert Path(shlex.split(service["ExecStart"])[0]).is_file()
    assert f"{REDIS_NAME}=redis://127.0.0.1:6390/2" in environment
    assert "CLAUDE_POE_TUI_STATE_DIR=/var/lib/claude-poe-tui" in environment
    assert service["StateDirectory"] == "claude-poe-tui"
    import pwd
    assert service["User"] == pwd.getpwuid(config.stat().st_uid).pw_name
    assert service["KillMode"] == "mixed" and service["TimeoutStopSec"] == "45"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "read-only"
    assert "PrivateTmp" not in service  # the config is under /tmp here: a private /tmp would hide it
    assert ("Install", "WantedBy", "multi-user.target") in entries
    assert "workers = 2" in out and secrets_in(out) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_config(tmp_path / "team")
    out_dir = tmp_path / "deploy"
    code, _, err = export(capsys, config, "systemd", "-o", f"{out_dir}/")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["claude-poe-tui.nginx.conf", "claude-poe-tui.service"]
    unit = out_dir / "claude-poe-tui.service"
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "claude-poe-tui.service" not in done.stderr, done.stderr  # no complaint about our unit
    # And the check is real: a misspelt directive is reported.
    unit.write_text(unit.read_text().replace("KillMode=mixed", "KillMode=mixd"))
    bad = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "claude-poe-tui.service:" in bad.stderr and "mixd" in bad.stderr


@dataclass
class VmGateway:
    port: int
    nginx_port: int
    redis_url: str
    poe: PoeStandin
    site: str
    directory: Path


@pytest.fixture(scope="module")
def vm_gateway(tmp_path_factory: pytest.TempPathFactory, poe: PoeStandin) -> Iterator[VmGateway]:
    """The systemd deployment on this machine: the unit's ExecStart with its Environment= (the
    state folder in a temporary one instead of /var/lib), a local Redis, nginx with the generated site."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt install nginx-light)")
    directory = tmp_path_factory.mktemp("vm")
    with RedisServer(directory) as redis_url:
        port, nginx_port = free_port(), free_port()
        config = team_config(directory / "team", port=port, poe_base_url=poe.base_url)
        out_dir = directory / "deploy"
        assert main(["--config", str(config), "export", "systemd", "--redis-url", redis_url, "--listen",
                     str(nginx_port), "-o", f"{out_dir}/"]) == 0
        entries = unit_entries((out_dir / "claude-poe-tui.service").read_text())
        command = shlex.split(next(v for s, k, v in entries if k == "ExecStart"))
        environment = dict(v.split("=", 1) for s, k, v in entries if k == "Environment")
        environment["CLAUDE_POE_TUI_STATE_DIR"] = str(directory / "state")
        site = (out_dir / "claude-poe-tui.nginx.conf").read_text()
        with running(command, environment, directory) as log:
            wait_ready(port, log)
            with running_nginx(directory / "nginx", site, nginx_port):
                yield VmGateway(port, nginx_port, redis_url, poe, site, directory)


@needs_nginx
def test_the_unit_serves_through_nginx_with_limits_in_the_redis_it_names(vm_gateway: VmGateway) -> None:
    assert_served_with_redis(vm_gateway.nginx_port, vm_gateway.redis_url)
    # The status page stays behind the master key: the gateway knows it is reached from elsewhere.
    status = f"http://127.0.0.1:{vm_gateway.nginx_port}/claude-poe-tui/status"
    assert httpx.get(status, timeout=10).status_code == 401
    assert httpx.get(status, headers={"x-api-key": LONG_MASTER_KEY}, timeout=10).status_code == 200


def events_before_stall(port: int, poe: PoeStandin, stall: float) -> int:
    """How many of a stream's events reach the client while Poe, having sent four (the gateway
    answers once text has come), sends nothing for ``stall`` seconds."""
    poe.fault(kind="stall", after=4, delay=stall)
    began = time.monotonic()
    arrived: list[float] = []
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/messages", json=body, timeout=60,
                      headers={**HEADERS, "x-api-key": LONG_MASTER_KEY}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrived.append(time.monotonic() - began)
    assert len(arrived) > 4  # the whole stream came, after the stall
    return sum(1 for at in arrived if at < stall - 1.0)


def listening_on(site: str, port: int) -> str:
    return re.sub(r"listen \d+;", f"listen {port};", site)


# What a surrounding nginx.conf may hold: event streams compressed, and the gateway's own
# X-Accel-Buffering: no (which switches buffering off per stream) ignored. Compressing holds
# events until a block fills, unless the site's `proxy_buffering off` makes nginx flush each one.
HOSTILE_HTTP = ("gzip on; gzip_types text/event-stream; gzip_min_length 1; "
                "proxy_ignore_headers X-Accel-Buffering;")


@needs_nginx
def test_streams_pass_through_nginx_event_by_event(vm_gateway: VmGateway) -> None:
    stall = 3.0
    assert events_before_stall(vm_gateway.nginx_port, vm_gateway.poe, stall) == 4

    port = free_port()
    with running_nginx(vm_gateway.directory / "nginx-hostile", listening_on(vm_gateway.site, port), port,
                       http_extra=HOSTILE_HTTP):
        assert events_before_stall(port, vm_gateway.poe, stall) == 4
    # Without the site's `proxy_buffering off`, the same nginx holds them: the test sees a front that buffers.
    port = free_port()
    buffered = listening_on(vm_gateway.site, port).replace("proxy_buffering off;", "")
    with running_nginx(vm_gateway.directory / "nginx-buffered", buffered, port, http_extra=HOSTILE_HTTP):
        assert events_before_stall(port, vm_gateway.poe, stall) == 0


# --- helpers: processes this module starts -------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(tmp_path) as url:
        yield url


class RedisServer:
    """Debian's redis-server on a free loopback port, without persistence."""

    def __init__(self, directory: Path):
        self.directory = directory

    def __enter__(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (.ci/run installs Debian's)")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return f"redis://127.0.0.1:{self.port}/0"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class running:
    """A command run with ``environment`` added to ours, its output in a file; stopped with SIGTERM."""

    def __init__(self, command: list[str], environment: dict[str, str], directory: Path):
        self.command, self.environment, self.log = command, environment, directory / f"output-{free_port()}.log"

    def __enter__(self) -> Path:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command, env={**os.environ, **self.environment}, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self.log

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class running_nginx(running):
    def __init__(self, directory: Path, site: str, port: int, http_extra: str = ""):
        conf = nginx_main_conf(directory, site, http_extra)
        super().__init__(["nginx", "-c", str(conf), "-p", str(directory), "-e", "stderr"], {}, directory)
        self.port = port

    def __enter__(self) -> Path:
        log = super().__enter__()
        try:
            wait_port(self.port)
        except TimeoutError:
            self.__exit__()
            raise AssertionError(f"nginx did not start: {log.read_text()[-2000:]}") from None
        return log


def wait_ready(port: int, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/readiness", timeout=1).json().get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not get ready: {log.read_text()[-3000:]}")


def redis_keys(url: str) -> int:
    """DBSIZE of the database ``url`` names, over Redis's own protocol."""
    host_port, _, db = url.removeprefix("redis://").partition("/")
    host, _, port = host_port.partition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"SELECT {db or 0}\r\nDBSIZE\r\n".encode())
        data = b""
        while data.count(b"\r\n") < 2:
            data += sock.recv(1024)
    return int(data.split(b"\r\n")[1].lstrip(b":"))


def assert_served_with_redis(port: int, redis_url: str) -> None:
    """A request through ``port`` is answered, and its rpm limit is counted in the Redis at ``redis_url``."""
    before = redis_keys(redis_url)
    response = httpx.post(f"http://127.0.0.1:{port}/v1/messages", timeout=30,
                          headers={**HEADERS, "x-api-key": MEMBER_TOKEN},
                          json={"model": "claude-sonnet-4-5", "max_tokens": 10,
                                "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 5
    while redis_keys(redis_url) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert redis_keys(redis_url) > before, "the gateway counted nothing in the Redis the export named"


def test_export_modules_import_nothing_heavy() -> None:
    probe = ("import sys, json\n"
             "import claude_poe_tui.commands.export, claude_poe_tui.deploy.plan, claude_poe_tui.deploy.compose\n"
             "import claude_poe_tui.deploy.nginx, claude_poe_tui.deploy.systemd, claude_poe_tui.deploy.wheel\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not loaded & {"textual", "rich", "litellm", "httpx", "yaml"}
