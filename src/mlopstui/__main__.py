"""`python -m mlopstui`."""

from mlopstui.cli import main

raise SystemExit(main())
