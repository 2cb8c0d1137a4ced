from backlog_mcp.cli import main

raise SystemExit(main())
