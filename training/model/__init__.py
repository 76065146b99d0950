"""The promise model's room (see ``training/README.md``).

One setting of the process, made here because every module of the room imports LightGBM
and this file runs before any of them: LightGBM's OpenMP threads wait *passively*
between parallel regions unless the operator chose otherwise (``OMP_WAIT_POLICY`` set in
the environment wins). By default GNU OpenMP threads spin while they wait; on a machine
whose cores other jobs also use, a spinning thread holds a core the other thread needs,
and a 2-thread boosting round on 54,000 rows took 35 ms instead of 13 ms (measured with 4
other jobs on 2 cores; issue 10). Passive waiting costs little on an idle machine. The
variable must be set before libgomp loads, which LightGBM's import does. Only this
environment variable is touched; nothing is read or written.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
