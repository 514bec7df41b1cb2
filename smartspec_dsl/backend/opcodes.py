"""The interpreter's opcodes (backend/tape.py builds them, backend/interpreter.py runs them).

An instruction is [opcode, destination, operands...]; `OPS` gives each opcode's operands:
`a` an address of the memory vector, `i` an immediate integer (a table index, a watch slot,
a random call site, a slot block). The opcode is the position in `OPS` (the interpreter's
constants are generated from it)."""
from __future__ import annotations

# opcode name -> operand kinds; the opcode is the position in this table (the
# interpreter's constants are generated from it, see interpreter.py)
OPS: dict[str, str] = {
    "MOV": "a", "ADD": "aa", "SUB": "aa", "MUL": "aa", "DIV": "aa", "NEG": "a",
    "LOOKUP": "aii", "SEL": "aaa", "LT": "aa", "GT": "aa", "LE": "aa", "GE": "aa", "EQ": "aa",
    "NE": "aa", "MIN": "aa", "MAX": "aa", "POW": "aa", "AND": "aa", "OR": "aa", "NOT": "a",
    "XIDZ": "aaa", "ZIDZ": "aa", "STEP": "aaa", "WATCH": "ia", "VSUM": "iii", "LDP": "i",
    "ABS": "a", "EXP": "a", "LN": "a", "SQRT": "a", "SIN": "a", "COS": "a", "TAN": "a",
    "ASIN": "a", "ACOS": "a", "ATAN": "a", "SINH": "a", "COSH": "a", "TANH": "a", "LOG10": "a",
    "INTEGER": "a", "MODULO": "aa", "QUANTUM": "aa", "LOG2": "aa", "GAMMA_LN": "a",
    "RAMP": "aaaa", "PULSE": "aaaa", "PULSE_TRAIN": "aaaaaa",
    "LOOKUP_EXTRAPOLATE": "aii", "LOOKUP_FORWARD": "aii", "LOOKUP_BACKWARD": "aii",
    "LOOKUP_INVERT": "aii", "LOOKUP_AREA": "aai",
    "BUFREAD": "i", "BUFWRITE": "ia", "MATERIAL_OUT": "ia", "MATERIAL_IN": "iaaaa",
    "INFORMATION_OUT": "iaaa", "MATERIAL_SIZE": "aaa", "LOOKUP_SLOPE": "aai", "ALLOC_P": "aaaa",
    # parcels (kernel_queues): the buffer region j, the values, the profiles' tables
    "PARCELS_SIZE": "aaaa", "CONVEYOR_OUT": "iaaai", "CONVEYOR_IN": "iaaaaaai", "QUEUE_OUT": "iaaai",
    "QUEUE_IN": "iaaaaaai", "PROFILE_OUT": "iaaaai", "PROFILE_IN": "iaaaaai", "QUEUE_ATTRIB_OUT": "iaaaii",
    "QUEUE_ATTRIB_IN": "iaaaaaaaaaii", "QUEUE_AGE": "iaaaaaaaaaii",
    "VECTOR_RANK": "iia", "VECTOR_SORT_ORDER": "iia", "INVERT_MATRIX": "ii",
    "ALLOCATE_AVAILABLE": "iia", "ALLOCATE_BY_PRIORITY": "iiaa", "FIND_MARKET_PRICE": "iia",
    "DEMAND_AT_PRICE": "iia", "SUPPLY_AT_PRICE": "iia", "MARKETP": "iiaa", "VECTOR_AT": "iia",
    "VECTOR_SELECT": "iiaa", "VECTOR_LOOKUP": "iiaaaa",
    # random draws: call site, step (STEP_NOW: the current step), run seed, then the arguments
    "RANDOM_UNIFORM": "iiaaaa", "RANDOM_NORMAL": "iiaaaaaa", "RANDOM_EXPONENTIAL": "iiaaaaaa",
    "RANDOM_LOGNORMAL": "iiaaaaaa", "RANDOM_TRIANGULAR": "iiaaaaaaa", "RANDOM_POISSON": "iiaaaaaaa",
    "RANDOM_GAMMA": "iiaaaaaaa", "RANDOM_BETA": "iiaaaaaaaa", "RANDOM_WEIBULL": "iiaaaaaaa",
    "RANDOM_BINOMIAL": "iiaaaaaaaa", "RANDOM_NEGATIVE_BINOMIAL": "iiaaaaaaaa",
    "RANDOM_LOOKUP": "iiiaaaaaa",
    # a loop solved within the step (kernel_solve): `while solve_more(v, B, k)` is SOLVE (the
    # block's state at B, k unknowns, where to go once solved), its body, JUMP back to SOLVE
    "SOLVE": "iii", "JUMP": "i",
    # INTERNAL RATE OF RETURN (kernel_finance): the buffer region j, then the values
    "IRR_OUT": "iaaaaa", "IRR_IN": "iaaa",
    # a loop kept as a loop (`_Builder.kept_loop`): LOOP's destination word counts the iterations
    # done; then the iterations n, the body's length, and the number of (word, step) pairs that
    # follow it, the body's words that advance by step each iteration (relative to the body's
    # start). ENDLOOP, after the body, goes back (its operand: how far back LOOP is).
    "LOOP": "iii", "ENDLOOP": "i",
    # the loop counter of the innermost kept loop as a number (its operand advances with it)
    "INDEX": "i",
    # a kept loop whose iterations are independent (`_Builder.vectorized`), run one instruction
    # over all iterations at a time: the iterations n, the body's length, a step per body word
    # (how far it advances each iteration), then the body
    "VLOOP": "ii",
}
# what a vectorized loop may hold: instructions that read and write only their operands
# (and the watches, in element order); no jump, loop, buffer or random draw
VECTOR_OPS = {"MOV", "ADD", "SUB", "MUL", "DIV", "NEG", "LOOKUP", "SEL", "LT", "GT", "LE", "GE", "EQ", "NE",
              "MIN", "MAX", "POW", "AND", "OR", "NOT", "XIDZ", "ZIDZ", "STEP", "LDP", "ABS", "EXP", "LN",
              "SQRT", "SIN", "COS", "TAN", "ASIN", "ACOS", "ATAN", "SINH", "COSH", "TANH", "LOG10", "INTEGER",
              "MODULO", "QUANTUM", "LOG2", "GAMMA_LN", "LOOKUP_EXTRAPOLATE", "LOOKUP_FORWARD",
              "LOOKUP_BACKWARD", "LOOKUP_INVERT", "INDEX"}
OPCODE = {name: k for k, name in enumerate(OPS)}
NAMES = list(OPS)   # opcode -> name
STEP_NOW = -2          # a random draw's step operand: the step being computed
