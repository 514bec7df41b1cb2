"""Batch and schedule functions whose state is a few numbers: DELAY BATCH (a backlog,
the batch in process, its completion time and the batch being released), as discrete
stocks that change once per TIME STEP, as Vensim's discrete delays do."""
from __future__ import annotations

from ... import ir
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


LOWERINGS = {
    "DELAY BATCH": delay_batch,
}
