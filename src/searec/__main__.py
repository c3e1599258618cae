"""``python -m searec`` is the same as the ``searec`` console script."""

from searec.cli import console_main

console_main()
