"""Allow ``python -m qt``."""

from qt.cli import main

raise SystemExit(main())
