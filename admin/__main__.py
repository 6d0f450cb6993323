"""`python -m admin <command>`: see `python -m admin --help`."""

from admin.cli import main

raise SystemExit(main())
