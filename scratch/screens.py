"""Print the dashboard's screens as text at a size (scratch tool, not a test)."""
import asyncio, sys, os, time, json, shutil
sys.path.insert(0, "tests")
from pathlib import Path
import test_dashboard_snapshots as snap
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.ui.app import PoeTuiApp

W, H = int(sys.argv[1]), int(sys.argv[2])
keys = sys.argv[3:]

class MP:
    def setenv(self, k, v): os.environ[k] = v
    def delenv(self, k): os.environ.pop(k, None)
    def setattr(self, target, value, raising=True):
        mod, _, attr = target.rpartition(".")
        import importlib; setattr(importlib.import_module(mod), attr, value)

async def main():
    gen = snap._snapshot_app(MP())
    make = next(gen)
    app = make()
    async with app.run_test(size=(W, H)) as pilot:
        await snap.settle(pilot)
        for k in keys:
            if k == "OUTPUT":
                from claude_poe_tui.ui.panes.output import OutputPane
                pane = app.query_one(OutputPane); pane.grouper.clock = lambda: snap.NOW; pane.add_lines(snap.PROXY_OUTPUT); continue
            if k == "CRASH":
                from claude_poe_tui.ui.screens.crash import CrashScreen
                app.push_screen(CrashScreen("the proxy exited with code 1: OSError: [Errno 98] address in use", snap.PROXY_OUTPUT)); continue
            if k.startswith("sleep"):
                await pilot.pause(float(k[5:])); continue
            await pilot.press(k)
            await pilot.pause(0.2)
        await pilot.pause(0.3)
        for strip in app.screen._compositor.render_strips():
            print(strip.text.rstrip())
asyncio.run(main())
