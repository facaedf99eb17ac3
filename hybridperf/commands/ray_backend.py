"""The Ray backend of ``predict-many``: models spread over a Ray cluster's actors.

Each actor (:class:`_Worker`) imports TVM once when it starts and keeps one
:class:`hybridperf.api.Session` (legalized PrimFuncs, device sheets, residual models) for every
model it is given. Results come back as they finish (:func:`predict_rows` yields them), so the
caller can show progress and write them incrementally.

Pointing it at a cluster: ``--address auto`` on a node of a running cluster (``ray start
--head`` / ``ray start --address HEAD:6379``), or ``--address ray://HEAD:10001`` through Ray
Client. Every node needs the same hybridperf (and TVM) installed, and the model paths must be
readable on every node (a shared file system). Without ``--address`` a local instance with
``--jobs`` CPUs (default: every usable core) is started and stopped again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from hybridperf.errors import InputError

#: tasks queued per actor beyond the one it runs, so no actor waits for the driver
_QUEUE_PER_WORKER = 2


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise InputError("--backend ray needs Ray: pip install 'hybridperf[ray]' (or pip install ray)") from exc
    return ray


class _Worker:
    """One Ray actor: TVM imported once, one Session for all its models."""

    def __init__(self) -> None:
        from hybridperf.api import Session
        from hybridperf.ir.tvm_compat import tvm_modules

        tvm_modules()
        self.session = Session(keep_analyses=0)

    def predict(self, path: str, spec: Any, call: dict[str, Any]) -> dict[str, Any]:
        from hybridperf.commands._sweep import predict_row

        return predict_row(path, spec, **call, session=self.session)


def predict_rows(models: Sequence[str], spec: Any, call: dict[str, Any], address: str | None = None,
                 workers: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, row)`` for every model as its prediction finishes on the cluster.

    Parameters
    ----------
    spec : DeviceSpec
        Sent to the workers as parsed (a spec file need not exist on the workers).
    call : dict
        The keywords of :func:`hybridperf.commands._sweep.predict_row` (batch, precision, fused, shapes,
        roofline_only, runtime).
    address : str, optional
        A running cluster; None starts a local instance for this call.
    workers : int, optional
        Actors to start (default: the cluster's CPUs, at most one per model).
    """
    from hybridperf.commands._sweep import died_row

    ray = _import_ray()
    started = False
    pool: list[Any] = []
    solos: list[Any] = []
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:  # until 2026-12-04 exit 3
                from hybridperf.errors import error_line

                raise InputError(f"--address {address}: cannot connect to a Ray cluster there ({error_line(exc, 160)}); "
                                 "start one (ray start --head) or check the address (auto, ray://HEAD:10001)") from None
        else:
            from hybridperf.commands._sweep import usable_cores

            ray.init(num_cpus=workers or usable_cores(), include_dashboard=False, log_to_driver=False)
        started = True
    try:
        n = workers or int(ray.cluster_resources().get("CPU", 1))
        n = max(1, min(n, len(models)))
        actor = ray.remote(num_cpus=1)(_Worker)
        # a suspect's second try, alone on an actor of its own (no CPU reserved: it never waits for the pool's)
        alone = ray.remote(num_cpus=0)(_Worker)
        pool = [actor.remote() for _ in range(n)]
        todo = list(models)[::-1]
        running: dict[Any, tuple[str, Any]] = {}
        died = _death_errors(ray)
        retried: set[str] = set()

        def submit(w: Any) -> None:
            path = todo.pop()
            running[w.predict.remote(path, spec, call)] = (path, w)

        for _ in range(_QUEUE_PER_WORKER):
            for w in pool:
                if todo:
                    submit(w)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            path, w = running.pop(ready[0])
            try:
                row = ray.get(ready[0])
            except died:  # the actor died (killed for memory, a crash in TVM): this model and those queued on it
                row = None
                if w in pool:  # a fresh actor takes the dead one's place for the models still to do
                    ray.kill(w, no_restart=True)  # dead, or (a task killed for memory) alive but out of its slot
                    pool[pool.index(w)] = w = actor.remote()
                    for _ in range(_QUEUE_PER_WORKER - 1):
                        if todo:
                            submit(w)
            if w in solos:  # a suspect's second try is done: its actor goes
                solos.remove(w)
                ray.kill(w, no_restart=True)
            if row is None and path not in retried:  # each suspect once more, alone: only a model that kills its
                # actor again fails (the others queued on the dead actor are predicted)
                retried.add(path)
                solo = alone.remote()
                solos.append(solo)
                running[solo.predict.remote(path, spec, call)] = (path, solo)
            elif row is None:
                row = died_row(path, call)
            if todo and w in pool:
                submit(w)
            if row is not None:
                yield path, row
    finally:
        for w in pool + solos:  # end the actors now, not when the handles are collected (Ray reports that as a death)
            ray.kill(w, no_restart=True)
        if started:
            ray.shutdown()


def _death_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """The exceptions ``ray.get`` raises when the actor running a task died (the names vary by Ray version): such a
    model gets the row of a dead worker, as the local pool gives it, and the sweep goes on (until 2026-12-04 one
    actor killed for memory ended the whole sweep with exit 3 and no table)."""
    exc = getattr(ray, "exceptions", None)
    return tuple(t for t in (getattr(exc, n, None) for n in ("RayActorError", "ActorDiedError", "WorkerCrashedError",
                                                             "OutOfMemoryError"))
                 if isinstance(t, type) and issubclass(t, BaseException))
