"""User-facing error type: the core's ``FwError`` when the core is installed, else a local stand-in."""
try:  # pragma: no cover - depends on the core being installed
    from framework.errors import FwError
except Exception:  # noqa: BLE001
    class FwError(Exception):
        """Raised for user errors; the fw CLI prints the message in one line."""
