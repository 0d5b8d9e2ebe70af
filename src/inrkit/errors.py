"""The exception types the command line turns into exit codes.

Library code raises :class:`InrkitError` with a message that fits on one line and
says what was wrong and what to do. The command line turns it into
``inrkit: error: <message>`` on stderr and exit code 2, with no traceback.
:class:`DivergedError` (exit code 3) says that training diverged: the run folder was
still written, with the last finite weights and ``"status": "diverged"``.
"""


class InrkitError(Exception):
    """Bad input from a user: a file, an option or a checkpoint that cannot be used."""

    exit_code = 2


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
