"""Compiler passes: model IR in, model IR out (flattening, external data, macro
expansion, stateful lowering), then the evaluation order, plus the checks that
read the IR (units, constant evaluation)."""
