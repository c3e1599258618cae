"""``python -m searec`` is the same as the ``searec`` console script."""

from searec.cli import main

raise SystemExit(main())
