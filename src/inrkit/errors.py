"""The exception types the command line turns into exit codes.

Library code raises :class:`InrkitError` with a message that fits on one line and
says what was wrong and what to do. The command line turns it into
``inrkit: error: <message>`` on stderr and exit code 2, with no traceback.
:class:`DivergedError` (exit code 3) says that training diverged: the run folder was
still written, with the last finite weights and ``"status": "diverged"``.
"""


def one_line(text: str) -> str:
    """``text`` with every line break and other control character written as an escape
    (``\\n``, ``\\x1b``...): a message quotes names from users' files, and a file name with a
    newline in it must not make the message two lines (or move a terminal's cursor)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class InrkitError(Exception):
    """Bad input from a user: a file, an option or a checkpoint that cannot be used.

    The message is kept on one line whatever it quotes (:func:`one_line`)."""

    exit_code = 2

    def __init__(self, message: str = "", *args):
        super().__init__(one_line(message), *args)


class DivergedError(InrkitError):
    """Training produced a non-finite loss or parameter; the last finite weights were kept and written."""

    exit_code = 3


class RunInterrupted(InrkitError):
    """Ctrl-C during training: what was learnt was written (``"status": "interrupted"``); exit code 130.

    ``resumable`` says that the training state was kept, so the same command can continue it
    (the command line adds how).
    """

    exit_code = 130

    def __init__(self, message: str, resumable: bool = False):
        super().__init__(message)
        self.resumable = resumable
