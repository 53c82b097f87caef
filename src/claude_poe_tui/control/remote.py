"""The dashboard over a gateway on another machine: ``claude-poe-tui --attach URL``.

A remote gateway is reached with its master key, read here from the environment or the ``.env``
beside the config (:func:`attach_target`). The dashboard then shows

* its status, from the status page (:class:`~claude_poe_tui.control.status.StatusWatcher`);
* its requests, live: :class:`RequestStream` reads ``GET /claude-poe-tui/requests?tail=N&follow=1``
  (the gateway's request log as JSON lines: its tail, then every new record; blank lines keep
  the connection alive) on a thread of its own, reconnecting with backoff and saying when it is
  disconnected; :class:`RemoteFeed` hands what it read to the same statistics the local
  dashboard uses (it is a :class:`~claude_poe_tui.requestlog.feed.RequestFeed`).

* its mappings in full (:class:`RemoteMappings`, ``/claude-poe-tui/models``), edited through that
  endpoint with the master key: the gateway writes its config file and its ``serve`` applies it.

Nothing else here can change the gateway: its keys and process are managed on its machine.
``https://`` URLs work (httpx); TLS itself is a reverse proxy's job in front of the gateway.
Plain Python, no Textual.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claude_poe_tui.config.model import DEFAULT_MASTER_KEY_REF
from claude_poe_tui.errors import UserError
from claude_poe_tui.proxy.protocol import MODELS_PATH, POINTS_PATH, REQUESTS_PATH
from claude_poe_tui.requestlog.feed import BATCH, RECENT_KEPT, RequestFeed
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.secrets import SecretResolver, reference_name, valid_reference_name

DEFAULT_KEY_ENV = reference_name(DEFAULT_MASTER_KEY_REF) or "LITELLM_MASTER_KEY"
FIRST_RETRY, LAST_RETRY = 0.5, 30.0  # seconds: the reconnection backoff, doubled each failure
READ_TIMEOUT = 45.0  # the gateway writes a blank line every 15 s when quiet: 45 s of nothing is a dead link
QUEUED_MAX = 50_000  # records read but not taken yet; beyond, the oldest go (and are counted)
IDS_REMEMBERED = 20_000  # a reconnection sends the tail again: records already seen are skipped by id


@dataclass(frozen=True)
class RemoteTarget:
    url: str
    """The gateway's base URL, without ``/v1``: ``https://gateway.example:4000``."""
    key: str
    key_name: str
    """The variable the master key was read from."""
    key_origin: str
    """Where that variable was found, for people: ``the environment ($LITELLM_MASTER_KEY)``."""

    @property
    def key_words(self) -> str:
        return f"the master key ({self.key_origin})"


def normalise_url(url: str) -> str:
    """``https://host:4000/v1/`` -> ``https://host:4000``; :class:`UserError` for anything else than http(s)."""
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--attach {url!r}: give the gateway's URL, such as https://gateway.example:4000 "
                        "(http:// or https://)")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def attach_target(url: str, config_path: Path, key_env: str | None = None,
                  environ: Mapping[str, str] | None = None) -> RemoteTarget:
    """The gateway at ``url`` and its master key: ``key_env`` (``LITELLM_MASTER_KEY`` by default)
    from the environment, else from the ``.env`` beside ``config_path`` (which need not exist)."""
    name = (key_env or DEFAULT_KEY_ENV).strip()
    if not valid_reference_name(name):
        raise UserError(f"--key-env {key_env!r}: give the name of an environment variable, such as LITELLM_MASTER_KEY")
    base = normalise_url(url)
    dotenv = Path(config_path).parent / ".env"
    found = SecretResolver(dotenv, environ).lookup(name)
    if found is None:
        raise UserError(
            f"--attach {base} needs that gateway's master key: set {name} in the environment or in {dotenv} "
            f"(--key-env NAME reads another variable)")
    origin = f"the environment (${name})" if found.source == "environment" else f"{name} in {found.origin}"
    return RemoteTarget(base, found.value, name, origin)


def error_message(response: Any) -> str | None:
    """The gateway's own words in an error answer (Anthropic's shape), or None."""
    try:
        return response.json().get("error", {}).get("message")
    except (ValueError, AttributeError):
        return None


ALREADY_KEPT = object()  # what :meth:`FollowedStream._parse` says of a line it took before


class FollowedStream:
    """JSON lines the gateway keeps sending (``GET path?tail=N&follow=1``), read on a thread of its
    own, reconnecting with backoff; each line goes to :meth:`_keep`, :meth:`take` hands them out.

    ``on_state(connected, detail)`` is called when the link comes up or goes down (with the reason
    and when the next try is). A reconnection asks for the tail again, so nothing written while
    the link was down is missed unless more than ``tail`` lines came meanwhile.
    """

    path = ""
    thread_name = "remote-stream"

    def __init__(self, target: RemoteTarget, *, on_state: Callable[[bool, str], None] | None = None,
                 tail: int = RECENT_KEPT, first_retry: float = FIRST_RETRY, last_retry: float = LAST_RETRY,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.target = target
        self.on_state = on_state
        self.tail = tail
        self.first_retry, self.last_retry = first_retry, last_retry
        self.read_timeout = read_timeout
        self.connected = False
        self.detail = "connecting"
        self.connections = 0  # successful ones, since the start
        self.dropped = 0  # lines lost because nobody took them in time
        self.skipped = 0  # lines that were not ours
        self.absent: str | None = None
        """Why the gateway has no such stream (404: its points are off, say); it is not asked again."""
        self._items: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: Any = None

    @property
    def url(self) -> str:
        return self.target.url + self.path

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            try:
                response.close()  # wakes the reader out of a read that may wait up to READ_TIMEOUT
            except Exception:
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def take(self, limit: int = BATCH) -> list[Any]:
        with self._lock:
            count = min(limit, len(self._items))
            return [self._items.popleft() for _ in range(count)]

    def _state(self, connected: bool, detail: str) -> None:
        changed = (connected, detail) != (self.connected, self.detail)
        self.connected, self.detail = connected, detail
        if changed and self.on_state is not None and not self._closed.is_set():
            self.on_state(connected, detail)

    def _parse(self, line: bytes) -> Any:
        """The item a line holds, or None when it is not one of ours."""
        raise NotImplementedError

    def _keep(self, line: bytes) -> None:
        if not line.strip():
            return  # a keep-alive
        item = self._parse(line)
        if item is None:
            self.skipped += 1
            return
        if item is ALREADY_KEPT:
            return
        with self._lock:
            self._items.append(item)
            if len(self._items) > QUEUED_MAX:
                self._items.popleft()
                self.dropped += 1

    def _run(self) -> None:
        import httpx

        delay = self.first_retry
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        with httpx.Client(timeout=timeout) as client:
            while not self._closed.is_set():
                reason = ""
                try:
                    with client.stream("GET", self.url, params={"tail": str(self.tail), "follow": "1"},
                                       headers={"x-api-key": self.target.key}) as response:
                        self._response = response
                        if response.status_code == 404:
                            response.read()
                            self.absent = self._refusal(response)
                            self._state(False, self.absent)
                            return
                        if response.status_code != 200:
                            response.read()
                            reason = self._refusal(response)
                        else:
                            self.connections += 1
                            self._state(True, "connected")
                            delay = self.first_retry
                            for line in response.iter_lines():
                                if self._closed.is_set():
                                    break
                                self._keep(line.encode("utf-8") if isinstance(line, str) else line)
                            reason = "the gateway ended the stream (stopped or restarting)"
                except (httpx.HTTPError, OSError) as exc:
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                finally:
                    self._response = None
                if self._closed.is_set():
                    return
                self._state(False, f"{reason}; trying again in {delay:g} s")
                self._closed.wait(delay)
                delay = min(delay * 2, self.last_retry)

    def _refusal(self, response: Any) -> str:
        if response.status_code == 401:
            return f"the gateway refused {self.target.key_words} (401)"
        message = error_message(response)
        return f"{self.url} answered {response.status_code}" + (f": {message}" if message else "")


class RequestStream(FollowedStream):
    """The gateway's request log as it grows (:class:`RequestRecord` items, each once)."""

    path = REQUESTS_PATH
    thread_name = "remote-requests"

    def __init__(self, target: RemoteTarget, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()

    def _parse(self, line: bytes) -> Any:
        record = RequestRecord.from_json(line)
        if record is None or not record.id:
            return record
        if record.id in self._seen:  # a reconnection sends the tail again
            return ALREADY_KEPT
        self._seen[record.id] = None
        if len(self._seen) > IDS_REMEMBERED:
            self._seen.popitem(last=False)
        return record


class PointsStream(FollowedStream):
    """The gateway's points, line by line (:class:`~claude_poe_tui.points.model.PointsLine`); a line
    sent again (a reconnection, a compaction there) replaces the same request's line, so it is kept."""

    path = POINTS_PATH
    thread_name = "remote-points"

    def __init__(self, target: RemoteTarget, **kwargs: Any) -> None:
        # A request has a line per change of its figure (an estimate, then Poe's): ask for enough
        # lines to cover the requests the Logs tail shows (the gateway sends at most 20,000).
        kwargs.setdefault("tail", 4 * RECENT_KEPT)
        super().__init__(target, **kwargs)

    def _parse(self, line: bytes) -> Any:
        from claude_poe_tui.points.model import PointsLine

        return PointsLine.from_json(line)

    def read(self, max_bytes: int | None = None) -> tuple[bool, list[Any]]:
        """As :class:`~claude_poe_tui.points.ledger.StoreTail` reads a local store: never "replaced"."""
        self.start()
        return False, self.take(QUEUED_MAX)


class RemoteFeed(RequestFeed):
    """The statistics the local dashboard keeps, fed from a :class:`RequestStream` instead of a file."""

    def __init__(self, stream: RequestStream, *, clock: Callable[[], float] = time.time, recent: int = RECENT_KEPT,
                 observe: Callable[[list[RequestRecord]], None] | None = None) -> None:
        super().__init__(Path(stream.url), clock=clock, recent=recent, observe=observe)
        self.stream = stream

    def load_history(self, cancelled: Callable[[], bool] = lambda: False) -> list[RequestRecord]:
        """Nothing yet: the gateway's tail comes through :meth:`poll` like any new request."""
        self.stream.start()
        return []

    def poll(self, limit: int = BATCH) -> list[RequestRecord]:
        batch = self.stream.take(limit)
        self._feed(batch)
        self._observe(batch)
        return batch

    def close(self) -> None:
        self.stream.close()


class RemoteGateway:
    """What the dashboard knows of a remote gateway, from its status page and its request stream.

    It is reachable when the status page answers; disconnected when it does not, or when the request
    stream is down (not merely still connecting). Its mapping names come from the status page and
    the bot that last answered each from the requests seen.
    """

    def __init__(self, target: RemoteTarget) -> None:
        self.target = target
        self.report: Any = None  # the last StatusReport
        self.connected = False
        self.link_detail = "connecting"
        self.bots: dict[str, str] = {}

    def take_status(self, report: Any) -> None:
        self.report = report

    def take_link(self, connected: bool, detail: str) -> None:
        self.connected, self.link_detail = connected, detail

    def take_records(self, records: list[RequestRecord]) -> bool:
        """Learn which bot answered each mapping name; True when that changed anything."""
        changed = False
        for record in records:
            if record.model and record.poe_model and self.bots.get(record.model) != record.poe_model:
                self.bots[record.model] = record.poe_model
                changed = True
        return changed

    @property
    def answering(self) -> bool:
        return self.report is not None and self.report.ok

    @property
    def disconnected(self) -> str:
        """Why the gateway cannot be followed now, or ``""``."""
        if self.report is not None and not self.report.ok:
            return self.report.error or "the status page does not answer"
        if self.report is not None and not self.connected and self.link_detail != "connecting":
            return f"requests: {self.link_detail}"
        return ""

    @property
    def names(self) -> list[str]:
        return self.report.models if self.answering else []

    @property
    def started_at(self) -> float | None:
        return self.report.started_at if self.answering else None


# -- a remote gateway's mappings: read in full, edited through its authenticated endpoint --


@dataclass(frozen=True)
class RemoteMappingList:
    """A remote gateway's ``[[models]]``, as its config file says."""

    mappings: list[Any]  # ModelMapping
    config: str
    """The gateway's config file, on its machine."""
    why_not: str | None = None
    """Why it cannot be edited from here, or None."""
    what: str = ""
    """After an edit: what was done (``added gpt-5 → GPT-5``)."""
    row: int | None = None
    """After an edit: the row of the mapping edited."""

    @property
    def editable(self) -> bool:
        return self.why_not is None


class RemoteMappings:
    """``GET``/``PUT /claude-poe-tui/models`` on the gateway, with its master key.

    :meth:`edit` applies an edit of the Models pane to the list it shows and sends the whole list;
    the gateway checks it by the config's own rules, writes its config file (comments kept) and the
    ``serve`` running it applies the file. Failures are :class:`UserError` with the gateway's own
    words (plain text, to be shown as such).
    """

    def __init__(self, target: RemoteTarget, *, timeout: float = 15.0) -> None:
        self.target = target
        self.timeout = timeout

    @property
    def url(self) -> str:
        return self.target.url + MODELS_PATH

    def _call(self, method: str, body: Any = None) -> Any:
        import httpx

        try:
            response = httpx.request(method, self.url, json=body, timeout=self.timeout,
                                     headers={"x-api-key": self.target.key})
        except httpx.HTTPError as exc:
            raise UserError(f"the gateway at {self.target.url} does not answer: {type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError:
                raise UserError(f"{self.url} answered something that is not JSON") from None
        message = error_message(response)
        if response.status_code == 401:
            raise UserError(f"the gateway refused {self.target.key_words} (401)")
        if response.status_code == 404 and not message:
            raise UserError(f"the gateway at {self.target.url} has no mapping endpoint (an older version)")
        raise UserError(f"the gateway answered {response.status_code}: {message or response.text[:300]}")

    def fetch(self) -> RemoteMappingList:
        from claude_poe_tui.config.load import MappingListError, mappings_from_json

        data = self._call("GET")
        try:
            mappings = list(mappings_from_json(data.get("models") if isinstance(data, dict) else None))
        except MappingListError as exc:
            raise UserError(f"{self.url} sent mappings this dashboard cannot read: {exc}") from None
        why_not = None if data.get("editable") else str(data.get("why_not") or "the gateway does not allow edits")
        return RemoteMappingList(mappings, str(data.get("config") or ""), why_not)

    def save(self, mappings: list[Any]) -> list[str]:
        """Send the whole list; the mapping names the gateway wrote."""
        from claude_poe_tui.config.load import mapping_to_json

        data = self._call("PUT", {"models": [mapping_to_json(m) for m in mappings]})
        return list(data.get("models") or []) if isinstance(data, dict) else []

    def edit(self, shown: list[Any], edit: Any) -> RemoteMappingList:
        """Apply ``edit`` (a :class:`~claude_poe_tui.control.mappings.MappingEdit`) to ``shown``,
        send it, and read back what the gateway's file now says."""
        from claude_poe_tui.control.mappings import edit_mapping_list

        try:
            edited = edit_mapping_list(shown, edit)
        except IndexError:
            raise UserError("that row is gone: the list changed meanwhile") from None
        self.save(edited.mappings)
        fresh = self.fetch()
        row = edited.row
        if row is not None and fresh.mappings:
            row = min(row, len(fresh.mappings) - 1)
        return RemoteMappingList(fresh.mappings, fresh.config, fresh.why_not, edited.what, row)
