"""PyInstaller runtime hook: children (PostgreSQL's initdb, pg_ctl, postgres) get the machine's library path.

On Linux the bootloader puts the bundle's own folder first on LD_LIBRARY_PATH (the original is kept in
LD_LIBRARY_PATH_ORIG). The dynamic linker has already read it for this process, so restoring it here
changes only what child processes see: the embedded PostgreSQL then loads its libraries through its own
paths and the system's, never a same-named library that a Python wheel brought into the bundle.
"""

import os
import sys

if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original
