from chaosgate.cli import main

raise SystemExit(main())
