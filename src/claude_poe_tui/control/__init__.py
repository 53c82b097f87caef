"""What the dashboard does, without the screen: plain-Python controllers the UI adapts.

Each one is either a plain object with methods a UI worker calls (mapping edits, key storage, the
Poe key check) or an object with a thread of its own that reports through callbacks (following
the request log, driving the proxy), the way toolong's ``Watcher`` does. None of them imports
Textual or Rich: the dashboard turns their results and callbacks into messages and text.
"""
