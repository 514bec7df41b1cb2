"""The Numba compiler pipeline of the generated kernels (`pipeline_class` in driver.HEADER).

Numba's default pipeline serves any Python function; a generated kernel is a narrow
kind of one: straight-line statements and counted loops over float64 slots, calls of
the kernel library's helpers, no closures, `with` blocks, literal unrolling, string
keys, array expressions or parallel loops (those are the batch entry's, compiled by
Numba's own pipeline). What the default pipeline does for those kinds of code costs a
kernel's cold compile time and changes nothing in its machine code, so this pipeline
leaves it out: with-lifting, closure inlining and conversion, semantic-constant rewrites,
dead-branch pruning (on constants our code does not branch on), `literally` and
`literal_unroll`, the literal-propagation sub-pipeline and the rewrites after typing
(array expressions, constant arrays, string-literal indices). Nor does it rename variables
into SSA form (and strip the phis again before lowering): a generated function assigns
each of its locals values of one type (a float64 slot value, an int64 counter), which is
all SSA is needed for in typing, and without it there are fewer variables and stores to
type and lower (World3's cold compile: about 0.1 s of CPU less). What
remains are the passes every function needs, in Numba's order: bytecode to IR, the
rewrites before typing, typing, inlining of `inline="always"` overloads, legalisation and
lowering. A generated function that used a feature left out fails to compile (Numba
reports it: a local given an int and an array, say, is a typing error); it never
compiles to something else.

Two changes after typing, neither of which changes a number (no fast-math flag is set:
LLVM keeps each floating-point operation as written):

* no C-callable wrapper (`no_cfunc_wrapper`): kernels are called from Python and from
  each other, never through a C function pointer;
* a function that runs once per run (the Euler driver's initialisation, `euler_setup`:
  `OncePipeline`) is optimised once, at LLVM's O1, where Numba optimises each function
  at O3 when it is added to its library and the library again at O3 once its callees
  are linked in. A time loop keeps both (its run is a few percent slower with one).

Nor does the compile keep Numba's type annotation (`NoAnnotation`), and Python's cyclic
collector waits while it runs (`no_cyclic_collection`).
"""
from __future__ import annotations


from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import CompilerBase
from numba.core.compiler_machinery import AnalysisPass, PassManager, register_pass
from numba.core.typed_passes import (InlineOverloads, IRLegalization, NativeLowering,
                                     NopythonTypeInference, NoPythonBackend, NoPythonSupportedFeatureValidation)
from numba.core.untyped_passes import FixupArgs, GenericRewrites, IRProcessing, RewriteDynamicRaises, TranslateByteCode
from .collector import no_cyclic_collection


class OnceLibrary(JITCodeLibrary):
    """The code library of a function that runs once per run: its module optimised once,
    at LLVM's O1, when it is finalised (see the module's docstring)."""

    def _optimize_functions(self, ll_module):
        # the module passes at finalisation optimise these functions with their callees
        ll_module.data_layout = self._codegen._data_layout

    def _optimize_final_module(self):
        cheap, cheap_builder = self._codegen._module_pass_manager(
            loop_vectorize=False, slp_vectorize=False, opt=0, cost="cheap")
        cheap.run(self._final_module, cheap_builder)
        full, full_builder = self._codegen._module_pass_manager(opt=1, loop_vectorize=False, slp_vectorize=False)
        full.run(self._final_module, full_builder)


@register_pass(mutates_CFG=True, analysis_only=False)
class OnceLowering(NativeLowering):
    """Numba's lowering into an `OnceLibrary`."""
    _name = "smartspec_once_lowering"

    def run_pass(self, state):
        if state.library is None:
            state.library = OnceLibrary(state.targetctx.codegen(), state.func_id.func_qualname)
            state.library.enable_object_caching()     # as NativeLowering does: the kernel is cached
        return super().run_pass(state)


# What a compiled kernel function keeps for Numba's `inspect_types` in place of its typed IR
# annotated with its source lines (see `NoAnnotation`)
NO_ANNOTATION = "(a generated kernel function: its typed IR is not kept)"


@register_pass(mutates_CFG=False, analysis_only=True)
class NoAnnotation(AnalysisPass):
    """In place of Numba's `AnnotateTypes`: the compile result's type annotation is a short
    text, as a function loaded from Numba's cache has. Numba's annotation copies the typed
    IR, and is written into the cache as the IR's text beside the source lines of the
    function (read again with `inspect`: World3's time loop tokenised whole): a twentieth of
    a cold compile, for a text that is never read."""
    _name = "smartspec_no_annotation"

    def __init__(self):
        AnalysisPass.__init__(self)

    def run_pass(self, state):
        state.type_annotation = NO_ANNOTATION
        return False


def _pipeline(state, lowering) -> PassManager:
    pm = PassManager("smartspec kernel")
    if state.func_ir is None:
        pm.add_pass(TranslateByteCode, "analyzing bytecode")
        pm.add_pass(FixupArgs, "fix up args")
    pm.add_pass(IRProcessing, "processing IR")
    pm.add_pass(GenericRewrites, "rewrites before typing")
    pm.add_pass(RewriteDynamicRaises, "rewrite dynamic raises")
    pm.add_pass(NopythonTypeInference, "nopython frontend")
    pm.add_pass(InlineOverloads, "inline overloaded functions")
    pm.add_pass(NoPythonSupportedFeatureValidation, "ensure features that are in use are in a valid form")
    pm.add_pass(IRLegalization, "ensure IR is legal prior to lowering")
    pm.add_pass(NoAnnotation, "no type annotation")
    pm.add_pass(lowering, "native lowering")
    pm.add_pass(NoPythonBackend, "nopython mode backend")
    pm.finalize()
    return pm


class KernelPipeline(CompilerBase):
    """Numba's compiler for a generated kernel function (`njit(pipeline_class=...)`)."""
    LOWERING = NativeLowering

    def __init__(self, *args, **kwargs):
        # Numba refreshes its typing and target registries here (the first compile of a
        # process installs all of them)
        with no_cyclic_collection():
            super().__init__(*args, **kwargs)

    def compile_extra(self, func):
        with no_cyclic_collection():
            return super().compile_extra(func)

    def define_pipelines(self):
        self.state.flags.no_cfunc_wrapper = True
        self.state.flags.enable_ssa = False
        return [_pipeline(self.state, self.LOWERING)]


class OncePipeline(KernelPipeline):
    """Numba's compiler for a kernel function that runs once per run (`euler_setup`)."""
    LOWERING = OnceLowering
