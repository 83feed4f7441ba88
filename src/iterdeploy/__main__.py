"""Allow `python -m iterdeploy`."""

from iterdeploy.cli import main

raise SystemExit(main())
