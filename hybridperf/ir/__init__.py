"""IR: the one place that touches TVM APIs (:mod:`.tvm_compat`), the Relax lowering / fusion
passes (:mod:`.lowering`) and what TVM's memory planner sees of a lowered module
(:mod:`.call_stream`). May import the foundation (:mod:`hybridperf.errors`,
:mod:`hybridperf.units`) only; everything that reads Relax goes through here.
"""
