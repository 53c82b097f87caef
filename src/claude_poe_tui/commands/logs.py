"""``claude-poe-tui logs``: the request log as readable lines or raw JSON; ``-f`` follows it."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new requests until Ctrl-C")
    parser.add_argument("--json", action="store_true", help="one JSON record per line, as stored")
    parser.add_argument("-n", "--lines", type=int, default=None, metavar="N",
                        help="only the last N requests (with -f, default 20)")
    parser.add_argument("-q", "--query", default="", metavar="QUERY",
                        help="filter like the dashboard's /: model:sonnet bot:GPT status:5xx route:chat error:rate "
                             "session:ID agent:ID member:NAME words")


def run(args: argparse.Namespace) -> int:
    import collections
    import sys
    import time

    from claude_poe_tui.commands._common import request_log_from_args
    from claude_poe_tui.requestlog.describe import describe
    from claude_poe_tui.requestlog.query import parse_query
    from claude_poe_tui.requestlog.reader import LogFollower, log_files, read_file

    path = request_log_from_args(args)
    query = parse_query(args.query)

    def show(record) -> None:
        print(record.to_json() if args.json else describe(record), flush=args.follow)

    limit = args.lines if args.lines is not None else (20 if args.follow else None)
    if not args.follow and not log_files(path):
        print(f"No requests recorded yet. Request log: {path}", file=sys.stderr)
        return 0
    # History: the rotated files, then the current one through the follower that -f keeps reading.
    follower = LogFollower(path)
    history = (r for f in log_files(path) if f != path for r in read_file(f))
    matching = (r for r in _chain(history, follower) if query.matches(r))
    for record in (collections.deque(matching, maxlen=limit) if limit is not None else matching):
        show(record)
    if not args.follow:
        follower.close()
        return 0
    try:
        while True:
            for record in follower.read():
                if query.matches(record):
                    show(record)
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    finally:
        follower.close()


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable
