"""IR: the one place that touches TVM APIs (:mod:`.tvm_compat`) and the Relax lowering / fusion
passes (:mod:`.lowering`). May import the foundation (:mod:`hybridperf.errors`,
:mod:`hybridperf.units`) only; everything that reads Relax goes through here.
"""
