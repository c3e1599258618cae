"""What the commands share: the command-line error, reading the params file, the MMRec column options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searec.errors import SearecError

if TYPE_CHECKING:
    from searec.data.mmrec import InterColumns


class CliError(SearecError):
    """A wrong command-line argument."""


def read_params_file(path: Path | None) -> dict[str, Any]:
    """The validated params file, or ``{}`` without one."""
    from searec.params import read_params

    return {} if path is None else read_params(path)


def inter_columns(args: argparse.Namespace) -> InterColumns:
    """The .inter column names given by ``--user-column`` / ``--item-column`` / ``--label-column``."""
    from searec.data.mmrec import InterColumns

    return InterColumns(user=args.user_column, item=args.item_column, label=args.label_column)
