"""fedblog benchmarks: fan-out, inbox flood, thread pages and a soak, against the real server.

`python -m bench` runs them all; `python -m bench fanout|inbox|thread|soak [--quick]` one.
See docs/benchmarks.md for what each measures and the latest results.
"""
