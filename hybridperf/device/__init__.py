"""Device: what a machine is. Owns the spec schema and loader (:mod:`.spec`, one YAML file per
device in ``hw_specs/``, rejecting unknown keys) and the one reader of this machine's ``/proc/cpuinfo``
(:mod:`.cpuinfo`). May import the foundation only; the probe
that measures a machine into a spec is a measurement (:mod:`hybridperf.measure.probe`).
"""
