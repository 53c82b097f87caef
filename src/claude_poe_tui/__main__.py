from claude_poe_tui.cli import main

raise SystemExit(main())
