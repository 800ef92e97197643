from videokit.cli import main

raise SystemExit(main())
