"""What ``course-retrain`` and ``course-classify`` share: help layout, warnings, exit handling."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

__all__ = ["HelpFormatter", "UserError", "exit_status", "interactive", "warn"]


class UserError(RuntimeError):
    """A problem the user can fix (bad folder, bad option); printed without a traceback."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: ...)`` only where the help does not already explain the default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def warn(message: str) -> None:
    """Print ``WARNING: message`` to standard error at once."""
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def interactive() -> bool:
    """True in a terminal or a notebook (progress bars), False when output goes to a file."""
    return (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules


def exit_status(body: Callable[[], int], user_errors: tuple[type[BaseException], ...],
                interrupted: str | Callable[[], str] = "interrupted") -> int:
    """Run ``body``; a user error becomes ``error: ...`` and status 1, Ctrl-C status 130.

    ``interrupted`` is the message for Ctrl-C, or a function that says what happened at that
    moment. Anything else (a bug) keeps its traceback.
    """
    try:
        return body()
    except KeyboardInterrupt:
        print(f"\n{interrupted() if callable(interrupted) else interrupted}", file=sys.stderr)
        return 130
    except (UserError, *user_errors) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
