#!/usr/bin/env python3
# Golden data for kernels/nf4 (tests/kernels/test_nf4.c): NF4 quantization against bitsandbytes.
#
#   /work/venv-ref/bin/python tests/ref/nf4_golden.py [OUT_DIR]     (default tests/data/nf4)
#
# Committed output produced with bitsandbytes 0.50.2, torch 2.15.0 (CPU), numpy 2.4.6.
#
# bitsandbytes' bit-identity reference is its CUDA kernel (reference.md 5.2-5.6). This machine
# has no GPU, so each case records three things:
#   cuda_*  : a numpy replica of the CUDA arithmetic, written from csrc/kernels.cu
#             (kQuantizeBlockwise/kQuantizeBlockwiseSmall, dQuantizeNF4, dQuantize<0>) and
#             bitsandbytes/functional.py (quantize_4bit: offset = absmax.mean(), blocksize 256)
#   bnb_*   : what bitsandbytes itself returns on CPU (quantize_4bit runs the pure-torch default
#             backend, backends/default/ops.py; the nested 8-bit step runs the native CPU kernel,
#             csrc/cpu_ops.cpp::quantize_cpu_impl, a 65536-entry lookup table)
#   deq_*   : bitsandbytes' own dequantize_4bit (CPU) applied to the cuda_* arrays
# and the script asserts, before writing, how the replica relates to bitsandbytes on CPU:
#   - absmax identical, except an all-zero partial last block (the default backend stores 1e-38);
#   - 4-bit codes identical except (a) all-zero blocks (CUDA: 1/0 -> NaN -> code 0; default
#     backend clamps absmax to 1e-38 -> code 7) and (b) the last partial block, which the default
#     backend divides (x / am) instead of multiplying by the reciprocal, (c) blocks with a
#     subnormal absmax (the default backend clamps absmax to 1e-38 first), (d) values exactly on
#     the 4 thresholds where the CUDA literal is 1 ulp off the float32 midpoint that the default
#     backend uses (the "ties" case); the script replays these;
#   - nested codes: identical to a replay of the CPU lookup table (its approximation is counted).
# The C test then requires the kernel to equal cuda_* bit for bit, and bitsandbytes' dequantized
# values (deq_*) bit for bit.
import os
import struct
import sys

import numpy as np
import torch
import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.functional import QuantState

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "nf4")
os.makedirs(OUT, exist_ok=True)

CODE = F.get_4bit_type("nf4", device="cpu").float().numpy()
DMAP = F.create_dynamic_map(signed=True).float().numpy()
# The literals of dQuantizeNF4 (csrc/kernels.cu). nvcc rounds each decimal literal straight to
# float32 (checked: nvcc -ptx prints 0fBF591CD9 for the first one), so they are converted here
# with exact rational rounding, not through a double (which would round 4 of them differently).
THR_LITERALS = [
    "-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
    "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476", "0.03979014977812767",
    "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
    "0.5016634166240692", "0.6427869200706482", "0.8614784181118011"]


def decimal_to_f32(s):
    from fractions import Fraction
    exact = Fraction(s)
    c = np.float32(float(s))
    cands = [np.nextafter(c, np.float32(-2)), c, np.nextafter(c, np.float32(2))]
    d = [abs(Fraction(float(v)) - exact) for v in cands]
    best = min(d)
    pick = [v for v, dv in zip(cands, d) if dv == best]
    if len(pick) > 1:  # an exact tie: round to even
        pick = [v for v in pick if int(np.array(v).view(np.uint32)) % 2 == 0]
    return pick[0]


THR = np.array([decimal_to_f32(s) for s in THR_LITERALS], dtype=np.float32)
# The default (pure torch) backend buckets on the float32 midpoints instead.
MID = ((CODE[:-1] + CODE[1:]) * np.float32(0.5)).astype(np.float32)
THR_DIFFER = [k for k in range(15) if THR[k] != MID[k]]
assert THR_DIFFER == [0, 8, 12, 14], THR_DIFFER  # each 1 ulp away from the midpoint
f32 = np.float32


def nf4_codes(xs, thr=THR):
    # dQuantizeNF4: number of thresholds strictly below x; NaN compares false everywhere -> 0.
    return (xs[..., None] > thr).sum(-1).astype(np.uint8)


def cuda_quant4(x, bs):
    n = x.size
    nb = -(-n // bs)
    pad = np.zeros(nb * bs, np.float32)
    pad[:n] = x
    blk = pad.reshape(nb, bs)
    absmax = np.abs(blk).max(1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (f32(1.0) / absmax).astype(np.float32)
        xs = (blk * inv[:, None]).astype(np.float32).reshape(-1)
    q = nf4_codes(xs)[: n + (n & 1)]  # odd n: the padding lane (0 * inv) is kept
    return ((q[0::2] << 4) | q[1::2]).astype(np.uint8), absmax


def dquantize(x):
    # dQuantize<0> of csrc/kernels.cu, literally.
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = f32(-1.0), f32(1.0)
    val = DMAP[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = DMAP[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = DMAP[upper_pivot]
    if lower_pivot == 0:
        lower = DMAP[lower_pivot]
    if x > val:
        return upper_pivot if x > f32((upper + val) * f32(0.5)) else pivot
    return lower_pivot if x < f32((lower + val) * f32(0.5)) else pivot


def cuda_quant8(absmax, offset):
    v = (absmax - f32(offset)).astype(np.float32)
    nb = v.size
    ng = -(-nb // 256)
    q = np.zeros(nb, np.uint8)
    nabs = np.zeros(ng, np.float32)
    for g in range(ng):
        seg = v[g * 256:(g + 1) * 256]
        m = np.abs(seg).max().astype(np.float32)
        nabs[g] = m
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = f32(1.0) / m
            xs = (seg * inv).astype(np.float32)
        q[g * 256:g * 256 + seg.size] = [dquantize(t) for t in xs]
    return q, nabs


def cpu_lut_quant8(absmax, offset):
    # csrc/cpu_ops.cpp build_quantize_lut + norm_to_lut_index, replayed to explain bnb's CPU codes.
    mids = (f32(0.5) * (DMAP[:-1] + DMAP[1:])).astype(np.float32)
    vals = (f32(-1.0) + (f32(2.0) * np.arange(65536, dtype=np.float32)) / f32(65535)).astype(np.float32)
    lut = np.searchsorted(mids, vals, side="left").astype(np.uint8)
    v = (absmax - f32(offset)).astype(np.float32)
    q = np.zeros(v.size, np.uint8)
    for g in range(0, v.size, 256):
        seg = v[g:g + 256]
        m = np.abs(seg).max().astype(np.float32)
        if m == 0:
            continue
        xs = np.clip((seg * (f32(1.0) / m)).astype(np.float32), -1, 1)
        idx = ((xs + f32(1)) * f32(0.5) * f32(65535) + f32(0.5)).astype(np.float32).astype(np.uint16)
        q[g:g + seg.size] = lut[idx]
    return q


def unpack(p, n):
    q = np.empty(p.size * 2, np.uint8)
    q[0::2] = p >> 4
    q[1::2] = p & 15
    return q[:n]


def bnb_dequant(p, st, name):
    # bitsandbytes' dequantize_4bit. On an AVX-512 CPU its native kernel
    # (csrc/cpu_ops.cpp::dequantizeBlockwise4bitCpu, AVX-512 branch) indexes absmax per row
    # (row * (cols / blocksize) + col / blocksize), which is wrong when cols % blocksize != 0 and
    # cols % 16 == 0 (blocks spanning rows). So the recorded values come from bitsandbytes'
    # pure-torch kernel (backends/default/ops.py::_dequantize_4bit_compute), fed with the absmax
    # that bitsandbytes itself rebuilds (dequantize_blockwise + offset); where the native kernel
    # agrees, both are required to be identical.
    from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
    A = torch.from_numpy(p.copy()).reshape(-1, 1)
    absmax = st.absmax
    if st.nested:
        absmax = F.dequantize_blockwise(st.absmax, st.state2) + st.offset
    ref = _dequantize_4bit_compute(A.reshape(-1), absmax.float(), st.code, st.blocksize, st.shape, st.dtype)
    pub = F.dequantize_4bit(A, st)
    if not torch.equal(ref.view(torch.int16 if ref.dtype != torch.float32 else torch.int32),
                       pub.view(torch.int16 if pub.dtype != torch.float32 else torch.int32)):
        cols = st.shape[-1]
        assert cols % st.blocksize != 0 and cols % 16 == 0, name
        stats["native_deq_bug"] += 1
    return ref


stats = {"native_deq_bug": 0, "codes": 0, "codes_bnb_equal": 0, "absmax": 0, "absmax_clamped": 0, "midpoint_ties": 0, "tiny_blocks": 0, "q8": 0, "q8_bnb_equal": 0, "deq": 0}


def case(name, x, bs=64, dtype=torch.float32):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(dtype)
    x32 = t.float().numpy().reshape(-1)
    n = x32.size
    nb = -(-n // bs)
    shape = list(t.shape)
    # bitsandbytes on CPU, with and without double quantization.
    p_b, s_b = F.quantize_4bit(t, blocksize=bs, quant_type="nf4", compress_statistics=False)
    p_b2, s_b2 = F.quantize_4bit(t, blocksize=bs, quant_type="nf4", compress_statistics=True)
    p_b = p_b.numpy().reshape(-1)
    am_b = s_b.absmax.numpy()
    assert np.array_equal(p_b, p_b2.numpy().reshape(-1))
    offset = f32(s_b2.offset.item())
    q8_b = s_b2.absmax.numpy()
    nabs_b = s_b2.state2.absmax.numpy()
    # The CUDA replica.
    p_c, am_c = cuda_quant4(x32, bs)
    q8_c, nabs_c = cuda_quant8(am_c, offset)
    # 1. absmax identical, except that the default backend stores its clamp (1e-38) as the absmax
    #    of an all-zero partial last block.
    am_exp = am_c.copy()
    if n % bs and am_exp[-1] == 0:
        am_exp[-1] = max(am_exp[-1], f32(1e-38))
        stats["absmax_clamped"] += 1
    assert am_exp.tobytes() == am_b.tobytes(), name
    # 2. codes identical up to the two documented backend differences.
    qc, qb = unpack(p_c, n + (n & 1)), unpack(p_b, n + (n & 1))
    # (d) the default backend's bounds are the float32 midpoints (MID), 1 ulp away from CUDA's
    #     literals at 4 thresholds: a scaled value exactly on one of those midpoints differs.
    exp = qc.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        blk_full = (n // bs) * bs
        xs = (x32[:blk_full].reshape(-1, bs) * (f32(1.0) / am_c[: n // bs])[:, None]).astype(np.float32)
        exp[:blk_full] = nf4_codes(xs.reshape(-1), MID)
    stats["midpoint_ties"] += int((exp[:blk_full] != qc[:blk_full]).sum())
    blk = np.arange(n + (n & 1)) // bs
    zero = am_c[np.minimum(blk, nb - 1)] == 0
    exp[zero] = 7
    # (c) blocks whose absmax is below 1e-38 (subnormal): the default backend clamps absmax to
    #     1e-38 before the reciprocal; CUDA's IEEE 1/absmax is inf there. Replayed as well.
    tiny = (am_c > 0) & (am_c < f32(1e-38))
    for b in np.nonzero(tiny)[0]:
        if (b + 1) * bs <= n:
            seg = x32[b * bs:(b + 1) * bs]
            exp[b * bs:(b + 1) * bs] = nf4_codes(np.clip((seg * (f32(1.0) / f32(1e-38))).astype(np.float32), -1, 1))
        stats["tiny_blocks"] += 1
    if n % bs:
        full = n - n % bs
        am = max(am_c[-1], f32(1e-38))
        exp[full:n] = nf4_codes(np.clip((x32[full:] / am).astype(np.float32), -1, 1))
    assert np.array_equal(exp, qb), (name, np.nonzero(exp != qb))
    stats["codes"] += n
    stats["codes_bnb_equal"] += int((qc[:n] == qb[:n]).sum())
    stats["absmax"] += nb
    # 3. nested codes: bnb CPU equals the lookup-table replay; nested absmax equal to CUDA's.
    if am_exp.tobytes() == am_c.tobytes():
        assert np.array_equal(cpu_lut_quant8(am_c, offset), q8_b), name
        assert nabs_c.tobytes() == nabs_b.tobytes(), name
    stats["q8"] += nb
    stats["q8_bnb_equal"] += int((q8_c == q8_b).sum())
    # bitsandbytes' dequantization of the CUDA-layout arrays, in float32 and the input dtype.
    code_t = torch.from_numpy(CODE.copy())
    st = QuantState(absmax=torch.from_numpy(am_c.copy()), shape=t.shape, code=code_t, blocksize=bs,
                    quant_type="nf4", dtype=torch.float32)
    deq = bnb_dequant(p_c, st, name).numpy().reshape(-1)
    st2 = QuantState(absmax=torch.from_numpy(q8_c.copy()), shape=t.shape, code=code_t, blocksize=bs,
                     quant_type="nf4", dtype=torch.float32, offset=torch.tensor(offset),
                     state2=QuantState(absmax=torch.from_numpy(nabs_c.copy()),
                                       code=torch.from_numpy(DMAP.copy()), blocksize=256,
                                       dtype=torch.float32))
    deq2 = bnb_dequant(p_c, st2, name).numpy().reshape(-1)
    stats["deq"] += 2 * n
    dt = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}[dtype]
    rows = shape[0] if len(shape) == 2 else 1
    cols = shape[1] if len(shape) == 2 else n
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"QTNF4GLD")
        f.write(struct.pack("<7I", 1, n, bs, dt, rows, cols, nb))
        f.write(struct.pack("<f", offset))
        for a in (x32, p_c, am_c, q8_c, nabs_c, p_b, q8_b, deq, deq2):
            f.write(np.ascontiguousarray(a).tobytes())
        # the input dtype's rounding of deq2, as bitsandbytes returns it for a bf16/f16 weight
        if dtype != torch.float32:
            st2.dtype = dtype
            d = bnb_dequant(p_c, st2, name)
            f.write(d.reshape(-1).view(torch.int16).numpy().tobytes())


rng = np.random.default_rng(20240601)

# Awkward shapes, normal weights.
case("randn_37x61", rng.standard_normal((37, 61)))
case("randn_64x576_bf16", rng.standard_normal((64, 576)) * 0.02, dtype=torch.bfloat16)
case("randn_96x200_f16", rng.standard_normal((96, 200)) * 0.05, dtype=torch.float16)
case("randn_300x65", rng.standard_normal((300, 65)))  # 305 blocks: two nested groups, one partial
case("randn_n1", rng.standard_normal((1, 1)))
case("randn_n3", rng.standard_normal((1, 3)))
case("randn_n63", rng.standard_normal((1, 63)))
case("randn_n65", rng.standard_normal((1, 65)))
for bs in (32, 128, 256, 1024):
    case("randn_bs%d_45x77" % bs, rng.standard_normal((45, 77)), bs=bs)

# Exact code values and exact thresholds (ties go to the lower code), absmax 1 and powers of 2.
vals = []
for scale in (1.0, 2.0 ** -3, 2.0 ** 7):
    blk = np.concatenate([CODE, THR, [np.nextafter(t, np.float32(2)) for t in THR],
                          [np.nextafter(t, np.float32(-2)) for t in THR], [1.0, -1.0, 0.0]])
    vals.append((blk[:64] * scale).astype(np.float32))
case("ties_3x64", np.stack(vals))

# Zeros: all-zero blocks, an all-zero partial last block with odd n, signed zeros.
z = rng.standard_normal(64 * 7 + 33).astype(np.float32)
z[64:128] = 0
z[256:320] = -0.0
z[64 * 7:] = 0
case("zeros_1x481", z.reshape(1, -1))
case("allzero_4x64", np.zeros((4, 64)))

# Magnitudes: huge, tiny, subnormal, mixed inside one block.
m = rng.standard_normal((8, 96)).astype(np.float32)
m[0] *= 1e30
m[1] *= 1e-30
m[2] *= 1e-39  # subnormal
m[3, ::7] *= 1e20
m[4] = np.float32(3.4e38) * np.sign(m[4])
m[5, 10] = 1e-45
case("magnitudes_8x96", m)

# Identical block maxima: a nested group whose values all equal the offset (nested absmax 0).
e = rng.uniform(-1, 1, (20, 64)).astype(np.float32)
e[:, 5] = 1.0
case("equal_absmax_20x64", e)

# A larger weight with several nested groups (SmolLM2-like row length).
case("randn_24x1536_bf16", rng.standard_normal((24, 1536)) * 0.03, dtype=torch.bfloat16)

print("bitsandbytes %s torch %s numpy %s" % (bnb.__version__, torch.__version__, np.__version__))
print("codes: %d values; bnb CPU equal on %d (rest: all-zero blocks / partial-block division)"
      % (stats["codes"], stats["codes_bnb_equal"]))
print("absmax: %d blocks, identical except %d all-zero partial last block(s) (bnb CPU stores 1e-38)"
      % (stats["absmax"], stats["absmax_clamped"]))
print("scaled values exactly on a midpoint that CUDA's literal moves by 1 ulp: %d" % stats["midpoint_ties"])
print("blocks with a subnormal absmax (bnb CPU clamps to 1e-38): %d" % stats["tiny_blocks"])
print("nested codes: %d; bnb CPU (lookup table) equal to CUDA rule on %d" % (stats["q8"], stats["q8_bnb_equal"]))
print("dequantize_4bit calls hitting the AVX-512 absmax-indexing bug (cols %% blocksize != 0): %d"
      % stats["native_deq_bug"])
print("dequantized values recorded: %d" % stats["deq"])
