"""Process-level safety shared by every command: locks across processes and machines
(``locks``), Ctrl-C and SIGTERM as one exception (``interrupts``), passwords masked in
everything recorded (``redact``). Imports ``dse.api.errors`` only; cheap to import (the
``dse`` command loads ``interrupts`` before anything heavy)."""
