"""Batches, conveyors and queues. DELAY BATCH's state is a few numbers (a backlog, the
batch in process, its completion time and the batch being released): discrete stocks
that change once per TIME STEP, as Vensim's discrete delays do. DELAY CONVEYOR, DELAY
PROFILE, QUEUE FIFO and QUEUE FIFO ATTRIB keep parcels of material, each with its own
entry, as many as the run has steps: each call stays, the whole equation of its own
hidden auxiliary, and the kernel keeps its parcels in its buffer
(backend/kernel_queues.py); a QUEUE AGE or QUEUE ATTRIB call becomes a hidden auxiliary
too, so that it is computed with the step's auxiliaries, where the buffer is at hand."""
from __future__ import annotations

from ... import ir
from ...errors import ModelError
from ...ir.builtins import LOOKUP_ARGS
from .base import DT, BinOp, Call, Lowering, Num, Ref, add, div, mul, sub


def _sel(c, x, y, pos):
    return Call("IF THEN ELSE", (c, x, y), pos)


def delay_batch(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAY BATCH(input, bsize, btime, inibatch, initime, inibacklog), Vensim's help
    "DELAY BATCH": input (a rate) accumulates into a backlog (starting at inibacklog);
    when the backlog holds at least bsize and no batch is in process, a batch of bsize
    starts, and is returned btime later (btime as it was when the batch started), as one
    pulse of bsize / TIME STEP; every other time the output is 0. The initial batch
    (inibatch, a rate: bsize / TIME STEP's units) is returned at initime, at the start if
    initime <= INITIAL TIME.

    The help leaves open how big a batch is when more than bsize has accumulated, and
    whether a batch may start at the step the previous one is returned. Here a batch is
    exactly bsize ("collected into batches of size bsize"; the rest waits for the next),
    and a batch returned at a step frees the process for a batch starting at that same
    step (one process, each batch in it for btime). A bsize <= 0 never starts a batch.
    Batches start at a TIME STEP; a btime under one TIME STEP takes one."""
    pos = node.pos
    inp, bsize, btime, inibatch, initime, backlog0 = (lw.shared(owner, x, pos) for x in node.args)
    now = Ref(ir.TIME, (), pos)
    t0 = Ref("initial time", (), pos)
    later = add(now, DT)                       # the time the stocks' next values are for
    first = mul(Call("MAX", (inibatch, Num(0.0)), pos), DT)
    at_start = BinOp("<=", initime, add(t0, mul(DT, Num(0.5))))
    names = {k: lw.fresh(owner, k) for k in ("batchbacklog", "batchinprocess", "batchdue", "batchreleased")}
    backlog, inproc, due, released = (Ref(n, (), pos) for n in names.values())
    accumulated = lw.aux(owner, "batchaccumulated", add(backlog, mul(inp, DT)), pos)
    # the batch in process is returned at `later` when its completion time is reached by then
    completes = lw.aux(owner, "batchcompletes", BinOp("and", BinOp(">", inproc, Num(0.0)),
                       BinOp("<=", due, add(later, mul(DT, Num(0.5))))), pos)
    free = BinOp("or", BinOp("<=", inproc, Num(0.0)), completes)
    starts = lw.aux(owner, "batchstarts", BinOp("and", BinOp("and", free, BinOp(">", bsize, Num(0.0))),
                    BinOp(">=", accumulated, bsize)), pos)
    nexts = {
        "batchbacklog": (_sel(starts, sub(accumulated, bsize), accumulated, pos), backlog0),
        "batchinprocess": (_sel(starts, bsize, _sel(completes, Num(0.0), inproc, pos), pos),
                           _sel(at_start, Num(0.0), first, pos)),
        "batchdue": (_sel(starts, add(later, btime), due, pos), initime),
        "batchreleased": (_sel(completes, inproc, Num(0.0), pos), _sel(at_start, first, Num(0.0), pos)),
    }
    for what, name in names.items():
        expr, initial = nexts[what]
        lw.new[name] = ir.Variable(name, lw.shown(owner, pos), ir.Kind.STOCK, expr=expr, initial=initial,
                                   pos=pos, hidden=True, discrete=True)
    return div(released, DT)


def parcels(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAY CONVEYOR, QUEUE FIFO, DELAY PROFILE: the call stays, as its own hidden auxiliary.
    A queue is its variable's whole equation (Vensim's restriction: the QUEUE AGE functions
    read the variable as the queue)."""
    var = lw.model.variables[owner]
    whole = isinstance(var.expr, Call) and var.expr.func == node.func and var.expr.pos == node.pos
    if node.func.startswith("QUEUE") and not whole:
        raise ModelError(f"{node.pos}: {node.func} must be the whole equation of its variable "
                         f"('{var.display} = {node.func}(...)')")
    for k in LOOKUP_ARGS[node.func]:
        arg = node.args[k]
        target = lw.model.variables.get(arg.name) if isinstance(arg, Ref) else None
        if target is None or target.kind is not ir.Kind.LOOKUP:
            raise ModelError(f"{node.pos}: {node.func}'s argument {k + 1} must be the name of a lookup "
                             "(its profile)")
    return lw.aux(owner, node.func.lower().replace(" ", ""), node, node.pos)


def queue_age(lw: Lowering, owner, node: Call) -> ir.Expr:
    """QUEUE AGE AVERAGE/IN RANGE/OLDEST: the call, as its own hidden auxiliary. Its first
    argument must name a queue (Vensim would return :NA: all run long: refused instead)."""
    q = node.args[0]
    queue = lw.model.variables.get(q.name) if isinstance(q, Ref) else None
    kinds = ("QUEUE FIFO ATTRIB",) if "ATTRIB" in node.func else ("QUEUE FIFO", "QUEUE FIFO ATTRIB")
    if queue is None or not (isinstance(queue.expr, Call) and queue.expr.func in kinds):
        raise ModelError(f"{node.pos}: {node.func}'s first argument must be the name of a variable "
                         f"defined by {' or '.join(kinds)}")
    return lw.aux(owner, "queueage", node, node.pos)


LOWERINGS = {
    "DELAY BATCH": delay_batch,
    "DELAY CONVEYOR": parcels,
    "QUEUE FIFO": parcels,
    "QUEUE FIFO ATTRIB": parcels,
    "DELAY PROFILE": parcels,
    "QUEUE AGE AVERAGE": queue_age,
    "QUEUE AGE IN RANGE": queue_age,
    "QUEUE AGE OLDEST": queue_age,
    "QUEUE ATTRIB AVERAGE": queue_age,
    "QUEUE ATTRIB QUANTITY": queue_age,
}
