"""Editing the TOML config the way a careful person would: key by key, comments and order kept.

Edits work on a tomlkit document of the user's file. Every save is validated by the same loader
that reads the config (an edit that would make it invalid is refused and nothing is written), is
atomic, keeps the file's permissions, and refuses to overwrite changes made to the file on disk
since it was read.

Comments above a ``[[models]]`` header belong to that mapping: tomlkit stores them at the end of
the previous table, so the mappings are handled as blocks (leading comments + keys) that move and
disappear together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Comment, InlineTable, Item, Key, Table, Whitespace

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.config.load import MODELS_KEY, parse_config
from claude_poe_tui.config.model import MAPPING_LIMIT_KEYS, Config, ModelMapping, Route, Thinking
from claude_poe_tui.errors import ConfigError

BodyEntry = tuple[Key | None, Item]


def _is_trivia(entry: BodyEntry) -> bool:
    return entry[0] is None and isinstance(entry[1], (Comment, Whitespace))


def _split_trailing(table: Table) -> tuple[list[BodyEntry], list[BodyEntry]]:
    """A table's keys, and the comments/blank lines after them (which describe what follows)."""
    body = list(table.value.body)
    cut = len(body)
    while cut > 0 and _is_trivia(body[cut - 1]):
        cut -= 1
    return body[:cut], body[cut:]


def _build_table(content: Sequence[BodyEntry], trailing: Sequence[BodyEntry], like: Table | None = None) -> Table:
    """A table with these entries; ``like`` lends its header's comment and spacing."""
    table = tomlkit.table()
    if like is not None:
        for part in ("indent", "comment_ws", "comment", "trail"):
            setattr(table.trivia, part, getattr(like.trivia, part))
    table.value.parsing(True)  # as when tomlkit parses: no blank lines of its own
    for key, item in [*content, *trailing]:
        if key is None:
            table.add(item)
        else:
            table.add(key, item)
    table.value.parsing(False)
    return table


BLANK_LINE: BodyEntry = (None, Whitespace("\n"))


def _last_table(entry: BodyEntry) -> Table | None:
    """The table whose end holds the comments above what follows ``entry``: a ``[table]`` itself,
    or the last entry of a ``[[array]]`` (such as ``[[clients]]`` written before ``[[models]]``)."""
    key, item = entry
    if key is None:
        return None
    if isinstance(item, Table):
        return item
    if isinstance(item, AoT) and item.body:
        return item.body[-1]
    return None


def _with_last_table(entry: BodyEntry, table: Table) -> BodyEntry:
    key, item = entry
    if isinstance(item, AoT):
        return key, AoT([*item.body[:-1], table], parsed=True)
    return key, table


def _set_key(content: list[BodyEntry], key: str, value: Any) -> list[BodyEntry]:
    """``content`` with ``key`` set: replaced in place (its inline comment kept) or appended."""
    out = []
    found = False
    for entry_key, item in content:
        if entry_key is not None and entry_key.key == key:
            new_item = tomlkit.item(value)
            new_item.trivia.comment_ws = item.trivia.comment_ws
            new_item.trivia.comment = item.trivia.comment
            out.append((entry_key, new_item))
            found = True
        else:
            out.append((entry_key, item))
    if not found:
        out.append((tomlkit.key(key), tomlkit.item(value)))
    return out


def _drop_key(content: list[BodyEntry], key: str) -> list[BodyEntry]:
    return [(k, item) for k, item in content if k is None or k.key != key]


@dataclass
class _ModelBlock:
    leading: list[BodyEntry] = field(default_factory=list)  # comments above the [[models]] header
    content: list[BodyEntry] = field(default_factory=list)  # its keys (and comments between them)
    header: Table | None = None  # the parsed table, for its header line's comment


class ConfigEditor:
    """Comment-preserving edits to one config file; nothing is written until :meth:`save`."""

    def __init__(self, path: Path, text: str):
        self.path = Path(path)
        self._disk_text = text
        try:
            self._doc = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=self.path) from None
        self._read_models()

    @classmethod
    def open(cls, path: Path) -> ConfigEditor:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        return cls(path, text)

    # -- the [[models]] list, as blocks --

    def _read_models(self) -> None:
        """Split the document into: what comes before the list, the mapping blocks, what follows.

        The comments right above the first ``[[models]]`` are stored by tomlkit at the end of the
        preceding table (or as top-level comments); they are taken out as the first block's own.
        """
        body = list(self._doc.body)
        position = next((i for i, (key, _) in enumerate(body) if key is not None and key.key == MODELS_KEY), None)
        self._blocks: list[_ModelBlock] = []
        self._trailer: list[BodyEntry] = []
        if position is None:
            self._before, self._after = body, []
            return
        before, raw, self._after = body[:position], body[position][1], body[position + 1 :]
        first_leading: list[BodyEntry] = []
        last = _last_table(before[-1]) if before else None
        if last is not None:
            content, first_leading = _split_trailing(last)
            before[-1] = _with_last_table(before[-1], _build_table(content, [], last))
        else:
            while before and _is_trivia(before[-1]):
                first_leading.insert(0, before.pop())
        self._before = before
        if not isinstance(raw, AoT):
            # `models = [{...}, ...]` inline: edited as [[models]] tables from now on.
            items = [[(tomlkit.key(k), tomlkit.item(v)) for k, v in dict(t).items()] for t in raw]
            self._blocks = [_ModelBlock(first_leading if i == 0 else [], c) for i, c in enumerate(items)]
            return
        previous_trailing = first_leading
        for table in raw:
            content, trailing = _split_trailing(table)
            self._blocks.append(_ModelBlock(leading=previous_trailing, content=content, header=table))
            previous_trailing = trailing
        self._trailer = previous_trailing

    def _write_models(self) -> None:
        """Rebuild the document from its parts, the blocks in their current order."""
        doc = tomlkit.document()
        doc.parsing(True)
        before = list(self._before)
        first_leading = self._blocks[0].leading if self._blocks else []
        if before and not first_leading:
            first_leading = [BLANK_LINE]
        last = _last_table(before[-1]) if before else None
        if last is not None:
            content, _ = _split_trailing(last)
            trailing = first_leading if self._blocks else self._trailer
            before[-1] = _with_last_table(before[-1], _build_table(content, trailing, last))
            first_leading = []
        for key, item in before:
            doc.add(item) if key is None else doc.add(key, item)
        if self._blocks:
            for entry in first_leading:
                doc.add(entry[1])
            aot = AoT([], parsed=True)
            for index, block in enumerate(self._blocks):
                if index + 1 < len(self._blocks):
                    following = self._blocks[index + 1].leading or [BLANK_LINE]
                else:
                    following = self._trailer or ([BLANK_LINE] if self._after else [])
                aot.append(_build_table(block.content, following, block.header))
            doc.add(MODELS_KEY, aot)
        for key, item in self._after:
            doc.add(item) if key is None else doc.add(key, item)
        doc.parsing(False)
        self._doc = doc
        self._read_models()

    def models(self) -> list[ModelMapping]:
        return list(self.validate().models)

    @staticmethod
    def _mapping_content(content: list[BodyEntry], mapping: ModelMapping) -> list[BodyEntry]:
        content = _set_key(content, "name", mapping.name)
        content = _set_key(content, "poe_model", mapping.poe_model)
        if mapping.route is Route.AUTO:
            content = _drop_key(content, "route")
        else:
            content = _set_key(content, "route", mapping.route.value)
        if mapping.thinking is Thinking.AUTO:
            content = _drop_key(content, "thinking")
        else:
            content = _set_key(content, "thinking", mapping.thinking.value)
        # Keys the editor does not show (context_window, rpm, ...) are kept as the user wrote them.
        if mapping.fallbacks:
            content = _set_key(content, "fallbacks", list(mapping.fallbacks))
        else:
            content = _drop_key(content, "fallbacks")
        return content

    def add_model(self, mapping: ModelMapping, index: int | None = None) -> None:
        block = _ModelBlock(content=self._mapping_content([], mapping))
        self._blocks.insert(len(self._blocks) if index is None else index, block)
        self._write_models()

    def update_model(self, index: int, mapping: ModelMapping) -> None:
        block = self._blocks[index]
        block.content = self._mapping_content(block.content, mapping)
        self._write_models()

    def replace_models(self, mappings: Sequence[ModelMapping]) -> None:
        """Make the list exactly ``mappings``, in that order, every field as given.

        A mapping keeps the block (its comments, its keys' inline comments) of the mapping of the
        same name, else of the one on the same row when that row's name is gone (a rename); the
        blocks of mappings not in the list go, with the comments above them.
        """
        by_name: dict[str, int] = {}
        for index, block in enumerate(self._blocks):
            name = next((item for key, item in block.content if key is not None and key.key == "name"), None)
            if name is not None:
                by_name.setdefault(str(name), index)
        used: set[int] = set()
        chosen: list[int | None] = []
        for mapping in mappings:
            index = by_name.get(mapping.name)
            if index is not None and index in used:
                index = None
            chosen.append(index)
            if index is not None:
                used.add(index)
        names = {m.name for m in mappings}
        for position, index in enumerate(chosen):
            if index is None and position < len(self._blocks) and position not in used:
                old = next((item for key, item in self._blocks[position].content if key is not None and key.key == "name"),
                           None)
                if old is None or str(old) not in names:  # renamed, not moved
                    chosen[position] = position
                    used.add(position)
        blocks: list[_ModelBlock] = []
        for mapping, index in zip(mappings, chosen):
            block = self._blocks[index] if index is not None else _ModelBlock()
            content = self._mapping_content(block.content, mapping)
            for key in MAPPING_LIMIT_KEYS:
                value = getattr(mapping, key)
                content = _drop_key(content, key) if value is None else _set_key(content, key, value)
            blocks.append(_ModelBlock(leading=block.leading, content=content, header=block.header))
        self._blocks = blocks
        self._write_models()

    def delete_model(self, index: int) -> None:
        """Remove a mapping with the comments written above it."""
        self._blocks.pop(index)
        self._write_models()

    def move_model(self, index: int, to: int) -> None:
        to = max(0, min(to, len(self._blocks) - 1))
        block = self._blocks.pop(index)
        self._blocks.insert(to, block)
        self._write_models()

    # -- scalar settings --

    def set_value(self, section: str, key: str, value: Any) -> None:
        """Set ``[section] key = value``, keeping the rest of the section and its comments."""
        for index, (entry_key, item) in enumerate(self._before):
            if entry_key is not None and entry_key.key == section:
                if not isinstance(item, Table):
                    raise ConfigError(f"[{section}] is not a table", path=self.path)
                content, trailing = _split_trailing(item)
                self._before[index] = (entry_key, _build_table(_set_key(content, key, value), trailing, item))
                self._write_models()
                return
        for index, (entry_key, item) in enumerate(self._after):
            if entry_key is not None and entry_key.key == section and isinstance(item, Table):
                content, trailing = _split_trailing(item)
                self._after[index] = (entry_key, _build_table(_set_key(content, key, value), trailing, item))
                self._write_models()
                return
        # A new section goes before the [[models]] list, where a person would write it.
        if self._before and not _is_trivia(self._before[-1]):
            self._before.append(BLANK_LINE)
        self._before.append((tomlkit.key(section), _build_table([(tomlkit.key(key), tomlkit.item(value))], [])))
        self._write_models()

    def remove_value(self, section: str, key: str) -> bool:
        """Remove ``[section] key`` (the rest of the section and its comments stay); False when absent."""
        for parts in (self._before, self._after):
            for index, (entry_key, item) in enumerate(parts):
                if entry_key is not None and entry_key.key == section and isinstance(item, Table):
                    content, trailing = _split_trailing(item)
                    kept = _drop_key(content, key)
                    if len(kept) == len(content):
                        return False
                    parts[index] = (entry_key, _build_table(kept, trailing, item))
                    self._write_models()
                    return True
        return False

    # -- one entry of an array of tables ([[clients]]) --

    def set_entry_values(self, array: str, name: str, values: Mapping[str, Any | None]) -> None:
        """In the ``[[array]]`` entry whose ``name`` is ``name``, set each key (``None``: remove
        it); its other keys, its comments and its place stay. :class:`ConfigError` when there is no
        such entry."""
        for parts in (self._before, self._after):
            for entry_key, item in parts:
                if entry_key is None or entry_key.key != array:
                    continue
                if isinstance(item, AoT):
                    for position, table in enumerate(item.body):
                        if str(table.get("name")) == name:
                            content, trailing = _split_trailing(table)
                            for key, value in values.items():
                                content = _drop_key(content, key) if value is None else _set_key(content, key, value)
                            item.body[position] = _build_table(content, trailing, table)
                            self._write_models()
                            return
                elif isinstance(item, Array):  # `clients = [{ name = ... }]`, edited where it is
                    for table in item:
                        if isinstance(table, InlineTable) and str(table.get("name")) == name:
                            for key, value in values.items():
                                if value is None:
                                    table.pop(key, None)
                                else:
                                    table[key] = value
                            self._write_models()
                            return
        raise ConfigError(f"there is no [[{array}]] entry named {name!r} (any more)", path=self.path)

    # -- result --

    def text(self) -> str:
        return tomlkit.dumps(self._doc)

    def validate(self) -> Config:
        """The config as it would be saved; :class:`ConfigError` if the edits made it invalid."""
        return parse_config(self.text(), self.path)

    def save(self) -> Config:
        config = self.validate()
        try:
            on_disk = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            on_disk = ""
        if on_disk != self._disk_text:
            raise ConfigError("the file changed on disk since it was read; reload it before saving", path=self.path)
        text = self.text()
        atomic_write_text(self.path, text)
        self._disk_text = text
        return config
