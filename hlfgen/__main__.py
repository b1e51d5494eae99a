from hlfgen.cli import main

raise SystemExit(main())
