"""The one base class of every error that is the user's input, not a bug.

The CLI reports these as one clear line (exit status 2); anything else is a bug and keeps
its traceback.
"""


class PromptismError(ValueError):
    """Bad input or an impossible request, with a message that says what to do."""
