"""The one exception type for bad input.

Library code raises :class:`InrkitError` with a message that fits on one line and
says what was wrong and what to do. The command line turns it into
``inrkit: error: <message>`` on stderr and exit code 2, with no traceback.
"""


class InrkitError(Exception):
    """Bad input from a user: a file, an option or a checkpoint that cannot be used."""
