"""User-facing errors: one sentence that names the fix, printed by the CLI without a traceback."""


class FwError(Exception):
    """An error caused by the user's input (a config, a path, a name), with the fix in its message."""


class RegistryError(FwError, KeyError):
    """A name that a registry cannot resolve (miss, ambiguity) or cannot accept (clash).

    Subclasses ``KeyError`` so that code written against mmengine's ``Registry`` keeps working.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''
