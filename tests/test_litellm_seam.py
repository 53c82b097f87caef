"""The one module that touches LiteLLM: its version check, and how it reads LiteLLM's failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from claude_poe_tui.proxy.child import litellm_seam


def test_any_other_litellm_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm_seam, "version", lambda name: "1.999.0")
    with pytest.raises(litellm_seam.WrongLiteLLM, match="needs LiteLLM 1.106.0 and found 1.999.0"):
        litellm_seam.check_version()


def test_the_installed_litellm_is_the_pinned_one() -> None:
    assert litellm_seam.check_version() == litellm_seam.PINNED_VERSION


def test_the_child_refuses_to_start_on_another_litellm(tmp_path) -> None:
    # The child checks before it imports LiteLLM: a wrong version is one line and exit code 2.
    code = (
        "import sys; from claude_poe_tui.proxy.child import litellm_seam; "
        "litellm_seam.version = lambda name: '0.1.0'; "
        "from claude_poe_tui.proxy.child.__main__ import main; "
        "sys.exit(main(['--fd', '0', '--router-config', sys.argv[1], '--gateway-config', sys.argv[2]]))"
    )
    router = tmp_path / "router.json"
    router.write_text('{"model_list": [], "router_settings": {}}')
    gateway = tmp_path / "gateway.json"
    gateway.write_text('{"models": [], "master_key_env": "SOME_KEY"}')
    # stdin stays open, as the parent holds it (the child leaves at once when it closes)
    child = subprocess.Popen([sys.executable, "-c", code, str(router), str(gateway)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={"SOME_KEY": "k", "PATH": "/usr/bin:/bin"})
    assert child.wait(60) == 2
    stderr = child.stderr.read()
    child.stdin.close()
    assert "needs LiteLLM 1.106.0 and found 0.1.0" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("text,expected", [
    ('event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "litellm.MidStreamFallbackError: '
     'litellm.APIConnectionError: APIConnectionError: OpenAIException - Response payload is not completed"}}\n\n',
     (502, "Poe's stream was cut")),
    ('event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "Expecting value: line 1 column 1"}}',
     (502, "Poe sent a stream event that is not valid JSON")),
    ('event: error\ndata: {"type":"error","error":{"message":"Poe\'s stream ended before its last chunk (no finish_reason)"}}',
     (502, "Poe's stream ended before its last chunk")),
])
def test_litellms_error_events_are_read_never_passed_on(text: str, expected: tuple[int, str]) -> None:
    before, error = litellm_seam.rewrite_error_event(b"event: ping\ndata: {}\n\n" + text.encode())
    assert before == b"event: ping\ndata: {}\n\n"
    assert error == expected
    assert "litellm" not in error[1]


def test_litellms_dollar_pricing_is_skipped_in_the_child() -> None:
    # A priced model (openai/gpt-4o is in LiteLLM's map) answered by LiteLLM's mock: a cost before
    # configure(), none after. The child runs configure() at start (the chat route's CPU, see seam).
    code = (
        "import litellm, json\n"
        "from claude_poe_tui.proxy.child import litellm_seam\n"
        "def cost():\n"
        "    r = litellm.completion(model='openai/gpt-4o', mock_response='hi', api_key='x',\n"
        "                           messages=[{'role': 'user', 'content': 'hello'}])\n"
        "    return r._hidden_params.get('response_cost')\n"
        "before = cost()\n"
        "litellm_seam.configure()\n"
        "print(json.dumps([before, cost()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert before and before > 0
    assert after is None
