"""A vector gather for the compiled kernels: numba / LLVM emit none for an indexed load in a loop, so the lanes'
forward pass (each lane reads its own parent's voltage) would run scalar.

`gather_lanes(dst, src, idx, off)` writes dst[off + l] = src[idx[off + l]] for l < GATHER_WIDTH as one masked
gather (`llvm.masked.gather`: AVX-512 `vgatherqpd` where the CPU has it, else what LLVM lowers it to). idx holds
unsigned element indexes; the caller keeps them, and off + GATHER_WIDTH, within the arrays (no bounds check).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

GATHER_WIDTH = 8  # doubles per gather (one AVX-512 register)


@intrinsic
def gather_lanes(typingctx, dst, src, idx, off):
    """dst[off:off + GATHER_WIDTH] = src[idx[off:off + GATHER_WIDTH]] (float64 arrays, uint64 idx, int off)."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array) and isinstance(idx, types.Array)
            and dst.dtype == types.float64 and src.dtype == types.float64 and idx.dtype == types.uint64
            and isinstance(off, types.Integer)):
        return None
    sig = types.void(dst, src, idx, off)

    def codegen(context, builder, signature, args):
        dst_v, src_v, idx_v, off_v = args
        dst_a = context.make_array(signature.args[0])(context, builder, dst_v)
        src_a = context.make_array(signature.args[1])(context, builder, src_v)
        idx_a = context.make_array(signature.args[2])(context, builder, idx_v)
        w = GATHER_WIDTH
        f64, i64, i32, i1 = ir.DoubleType(), ir.IntType(64), ir.IntType(32), ir.IntType(1)
        vec_i, vec_f = ir.VectorType(i64, w), ir.VectorType(f64, w)
        vec_p = ir.VectorType(ir.PointerType(f64), w)
        off64 = builder.sext(off_v, i64) if off_v.type.width < 64 else off_v
        index = builder.load(builder.bitcast(builder.gep(idx_a.data, [off64]), vec_i.as_pointer()), align=8)
        base = builder.insert_element(ir.Constant(vec_i, ir.Undefined), builder.ptrtoint(src_a.data, i64),
                                      ir.Constant(i32, 0))
        base = builder.shuffle_vector(base, ir.Constant(vec_i, ir.Undefined), ir.Constant(ir.VectorType(i32, w),
                                                                                          [0] * w))
        ptrs = builder.inttoptr(builder.add(base, builder.mul(index, ir.Constant(vec_i, [8] * w))), vec_p)
        fnty = ir.FunctionType(vec_f, [vec_p, i32, ir.VectorType(i1, w), vec_f])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.gather.v{w}f64.v{w}p0")
        got = builder.call(fn, [ptrs, ir.Constant(i32, 8), ir.Constant(ir.VectorType(i1, w), [1] * w),
                                ir.Constant(vec_f, ir.Undefined)])
        builder.store(got, builder.bitcast(builder.gep(dst_a.data, [off64]), vec_f.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen
