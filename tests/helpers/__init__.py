"""What the tests share: fixtures (small networks, data), hand-written
references (losses, gradients), the generic layer check, the scripts run
in subprocesses, and the programs the tests start in processes of their
own (backend_smoke, distributed_*, faults).

Import them as `from helpers.gan_fixtures import ...`.
"""
