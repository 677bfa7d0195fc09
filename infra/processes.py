"""Child processes of the local host (emulator, LocalStack, the OpenAPI build) that must not outlive it."""

import signal


def die_with_parent(signal_number: int = signal.SIGTERM) -> None:
    """For children forked by the main thread: they get `signal_number` when the host ends, however it ends
    (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal_number)  # PR_SET_PDEATHSIG
    except OSError:
        pass
