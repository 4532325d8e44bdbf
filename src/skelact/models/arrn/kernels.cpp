// Fused CPU kernels of ARRN-LSTM's recurrent relational network (eqs. 5-7), forward and backward.
//
// 1. The per-pair part of the message function (eqs. 5-6):
//
//      s_i = sum_{j != i} relu(W z_ij + b),   z_ij = relu(r_i + s_j)      (r, s: (B, J, H); W: (H, H))
//
//    In PyTorch each pass over the (B, J, J, H) pair tensors is a separate op (the first layer's
//    add + relu, the product, the relu, the mask, the sums; in the backward the mask, two products,
//    the relu's gradient, two sums). Here each receiver's J pair rows are built in L1, pass through
//    the products in registers (row tiles x vector columns) and leave as running sums: nothing per
//    pair is written to memory but the relu mask of the second layer, one bit per element.
//    Layout: every row of H floats is padded to HP = NV * L (L floats to a SIMD vector) with zeros;
//    the mask is (B, J_i, J_j, NV) words of L bits, receiver-major, the self-pairs' words 0.
// 2. The GRU update of eq. 7 from its two projections: one pass over the rows each way.
//
// setup.py compiles this file twice, for AVX-512F and for AVX2 + FMA (x86-64 only, optional like the
// NTU reader's C); skelact.models.arrn.native loads the build the CPU runs and calls it through
// ctypes. skelact.models.arrn.rrn keeps the same computations in PyTorch ops, for other CPUs, other
// dtypes, SKELACT_NO_C=1, and as the reference the tests compare against.
//
// Rows (node sets, GRU rows) are split between `threads` std::threads; the weight gradients are
// summed per receiver, node set, thread, then over the threads.

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

#if defined(__AVX512F__)
typedef __m512 vf;
constexpr int L = 16;
constexpr int REGS = 32;
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vset1(float x) { return _mm512_set1_ps(x); }
inline vf vload(const float* p) { return _mm512_load_ps(p); }
inline void vstore(float* p, vf v) { _mm512_store_ps(p, v); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vmax0(vf a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline uint16_t vpositive(vf a) { return _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ); }
inline vf vkeep(uint16_t bits, vf a) { return _mm512_maskz_mov_ps(bits, a); }
inline __mmask16 first(int count) { return static_cast<__mmask16>(count >= L ? 0xFFFF : (1u << count) - 1); }
inline vf vload_n(const float* p, int count) { return _mm512_maskz_loadu_ps(first(count), p); }
inline void vstore_n(float* p, vf v, int count) { _mm512_mask_storeu_ps(p, first(count), v); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf vround(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vscale2(vf a, vf n) { return _mm512_scalef_ps(a, n); }  // a 2^n, n integral
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vf;
constexpr int L = 8;
constexpr int REGS = 16;
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vset1(float x) { return _mm256_set1_ps(x); }
inline vf vload(const float* p) { return _mm256_load_ps(p); }
inline void vstore(float* p, vf v) { _mm256_store_ps(p, v); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vmax0(vf a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline uint16_t vpositive(vf a) {
    return static_cast<uint16_t>(_mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ)));
}
inline vf vkeep(uint16_t bits, vf a) {
    const __m256i lanes = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i on = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits), lanes), lanes);
    return _mm256_and_ps(a, _mm256_castsi256_ps(on));
}
inline __m256i first(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf vload_n(const float* p, int count) { return _mm256_maskload_ps(p, first(count)); }
inline void vstore_n(float* p, vf v, int count) { _mm256_maskstore_ps(p, first(count), v); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vscale2(vf a, vf n) {  // a 2^n, n integral in [-126, 127]
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(a, _mm256_castsi256_ps(e));
}
#else
#error "kernels.cpp needs AVX2 and FMA, or AVX-512F (setup.py builds one library for each)"
#endif

constexpr int ALIGN = 64;  // bytes; at least one vector

// exp(x) to about 2 ulp (Cephes' expf): x = k ln 2 + r, |r| <= ln 2 / 2, a degree-7 polynomial in r,
// times 2^k; x is clamped to [-87.3, 88.3] (exp(-87.3) is still a normal float).
inline vf vexp(vf x) {
    x = vmax(vmin(x, vset1(88.3762626647949f)), vset1(-87.3365478515625f));
    vf k = vround(vmul(x, vset1(1.44269504088896341f)));
    vf r = vfma(k, vset1(-0.693359375f), x);
    r = vfma(k, vset1(2.12194440e-4f), r);
    vf p = vset1(1.9875691500e-4f);
    p = vfma(p, r, vset1(1.3981999507e-3f));
    p = vfma(p, r, vset1(8.3334519073e-3f));
    p = vfma(p, r, vset1(4.1665795894e-2f));
    p = vfma(p, r, vset1(1.6666665459e-1f));
    p = vfma(p, r, vset1(5.0000001201e-1f));
    p = vfma(p, vmul(r, r), vadd(r, vset1(1.0f)));
    return vscale2(p, k);
}

inline vf vsigmoid(vf x) { return vdiv(vset1(1.0f), vadd(vset1(1.0f), vexp(vsub(vzero(), x)))); }

// tanh(x) = 1 - 2 / (1 + exp(2x)): absolute error about 1e-7 near 0 (relative error grows there).
inline vf vtanh(vf x) {
    return vsub(vset1(1.0f), vdiv(vset1(2.0f), vadd(vset1(1.0f), vexp(vadd(x, x)))));
}

// A buffer of floats aligned for vload / vstore, zero-filled.
struct Buffer {
    float* data = nullptr;
    explicit Buffer(size_t n) {
        size_t bytes = (n * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
        data = static_cast<float*>(std::aligned_alloc(ALIGN, bytes > 0 ? bytes : ALIGN));
        std::memset(data, 0, bytes > 0 ? bytes : ALIGN);
    }
    ~Buffer() { std::free(data); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};

struct Shape {
    int nodes;      // J
    int hidden;     // H
    int nv;         // vectors per padded row
    int hp;         // padded row, nv * L floats
};

// Rows of a (rows, H) matrix into a (rows, HP) buffer whose padding stays zero.
inline void pad_rows(const float* src, int rows, const Shape& s, float* dst) {
    for (int r = 0; r < rows; ++r) std::memcpy(dst + r * s.hp, src + r * s.hidden, s.hidden * sizeof(float));
}

// z_j = relu(r_i + s_j) for the J senders of receiver i: the first layer, split per node.
inline void first_layer(const float* recv_i, const float* send, const Shape& s, float* z) {
    for (int j = 0; j < s.nodes; ++j)
        for (int c = 0; c < s.nv; ++c)
            vstore(z + j * s.hp + c * L, vmax0(vadd(vload(recv_i + c * L), vload(send + j * s.hp + c * L))));
}

// The largest row tile R such that R x CB accumulators, R broadcasts and one loaded vector fit the
// vector registers, then evened out over `rows` (AVX-512, 25 rows: at most 6 a tile, so 5 tiles of 5).
inline int row_tile(int rows, int cb) {
    int most = std::max(1, std::min(8, (REGS - 1) / (cb + 1)));
    int tiles = (rows + most - 1) / most;
    return (rows + tiles - 1) / tiles;
}

inline int col_block(int nv) { return std::min(nv, 4); }

// acc[r][c] (+)= sum_k a[r * HP + k] * b[k * HP + c * L] for k < K: R rows of A times CB vectors
// of B's columns; the product every kernel below is made of.
template <int R, int CB>
inline void tile_product(const float* a, const float* b, int K, int hp, vf (&acc)[R][CB]) {
    for (int k = 0; k < K; ++k) {
        vf av[R];
        for (int r = 0; r < R; ++r) av[r] = vset1(a[r * hp + k]);
        for (int c = 0; c < CB; ++c) {
            vf bv = vload(b + k * hp + c * L);
            for (int r = 0; r < R; ++r) acc[r][c] = vfma(av[r], bv, acc[r][c]);
        }
    }
}

// Forward, one receiver i, sender rows j0 .. j0 + R - 1, vector columns c0 .. c0 + CB - 1:
// z2 = relu(W z + b) (wt: W transposed and padded), out_i += z2 (j != i), mask bits of z2 > 0.
template <int R, int CB>
void forward_tile(const float* z, const float* wt, const float* bias, const Shape& s, int i, int j0, int c0,
                  float* out_i, uint16_t* mask_i) {
    vf acc[R][CB];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < CB; ++c) acc[r][c] = vload(bias + (c0 + c) * L);
    tile_product<R, CB>(z + j0 * s.hp, wt + c0 * L, s.hidden, s.hp, acc);
    vf sum[CB];
    for (int c = 0; c < CB; ++c) sum[c] = vload(out_i + (c0 + c) * L);
    for (int r = 0; r < R; ++r) {
        if (j0 + r == i) {  // no message from a node to itself (eq. 6)
            if (mask_i)
                for (int c = 0; c < CB; ++c) mask_i[(j0 + r) * s.nv + c0 + c] = 0;
            continue;
        }
        for (int c = 0; c < CB; ++c) {
            uint16_t bits = vpositive(acc[r][c]);
            sum[c] = vadd(sum[c], vkeep(bits, acc[r][c]));  // relu
            if (mask_i) mask_i[(j0 + r) * s.nv + c0 + c] = bits;
        }
    }
    for (int c = 0; c < CB; ++c) vstore(out_i + (c0 + c) * L, sum[c]);
}

// Backward through layer 2 and the first layer's relu, one receiver i, rows j0 .. j0 + R - 1:
// gz = (W^T g2_ij) [z_ij > 0] (w: W padded), d r_i += gz, d s_j += gz.
template <int R, int CB>
void backward_tile(const float* g2, const float* z, const float* w, const Shape& s, int j0, int c0,
                   float* grad_recv_i, float* grad_send) {
    vf acc[R][CB];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < CB; ++c) acc[r][c] = vzero();
    tile_product<R, CB>(g2 + j0 * s.hp, w + c0 * L, s.hidden, s.hp, acc);
    vf sum[CB];
    for (int c = 0; c < CB; ++c) sum[c] = vload(grad_recv_i + (c0 + c) * L);
    for (int r = 0; r < R; ++r) {
        float* gs = grad_send + (j0 + r) * s.hp;
        for (int c = 0; c < CB; ++c) {
            vf gz = vkeep(vpositive(vload(z + (j0 + r) * s.hp + (c0 + c) * L)), acc[r][c]);
            sum[c] = vadd(sum[c], gz);
            vstore(gs + (c0 + c) * L, vadd(vload(gs + (c0 + c) * L), gz));
        }
    }
    for (int c = 0; c < CB; ++c) vstore(grad_recv_i + (c0 + c) * L, sum[c]);
}

// dW[n][m] += sum_j g2_ij[n] z_ij[m] for W's rows n0 .. n0 + R - 1 and vector columns c0 ..:
// the J rows of one receiver, the (transposed) product g2^T z, summed in registers, then added.
template <int R, int CB>
void weight_tile(const float* g2, const float* z, const Shape& s, int n0, int c0, float* grad_w) {
    vf acc[R][CB];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < CB; ++c) acc[r][c] = vzero();
    for (int j = 0; j < s.nodes; ++j) {
        vf av[R];
        for (int r = 0; r < R; ++r) av[r] = vset1(g2[j * s.hp + n0 + r]);
        for (int c = 0; c < CB; ++c) {
            vf bv = vload(z + j * s.hp + (c0 + c) * L);
            for (int r = 0; r < R; ++r) acc[r][c] = vfma(av[r], bv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < CB; ++c) {
            float* at = grad_w + (n0 + r) * s.hp + (c0 + c) * L;
            vstore(at, vadd(vload(at), acc[r][c]));
        }
}

// total += part, n floats (a multiple of L), then part = 0.
inline void add_and_clear(float* total, float* part, size_t n) {
    for (size_t k = 0; k < n; k += L) {
        vstore(total + k, vadd(vload(total + k), vload(part + k)));
        vstore(part + k, vzero());
    }
}

// Runs F<R, CB>(args...) for runtime R in 1..8 and CB in 1..4.
template <template <int, int> class F, int CB, typename... A>
void with_rows(int rows, A&&... args) {
    switch (rows) {
        case 1: F<1, CB>::run(args...); break;
        case 2: F<2, CB>::run(args...); break;
        case 3: F<3, CB>::run(args...); break;
        case 4: F<4, CB>::run(args...); break;
        case 5: F<5, CB>::run(args...); break;
        case 6: F<6, CB>::run(args...); break;
        case 7: F<7, CB>::run(args...); break;
        default: F<8, CB>::run(args...); break;
    }
}

template <template <int, int> class F, typename... A>
void dispatch(int rows, int cb, A&&... args) {
    switch (cb) {
        case 1: with_rows<F, 1>(rows, args...); break;
        case 2: with_rows<F, 2>(rows, args...); break;
        case 3: with_rows<F, 3>(rows, args...); break;
        default: with_rows<F, 4>(rows, args...); break;
    }
}

template <int R, int CB> struct Forward {
    template <typename... A> static void run(A&&... a) { forward_tile<R, CB>(a...); }
};
template <int R, int CB> struct Backward {
    template <typename... A> static void run(A&&... a) { backward_tile<R, CB>(a...); }
};
template <int R, int CB> struct Weight {
    template <typename... A> static void run(A&&... a) { weight_tile<R, CB>(a...); }
};

// The threads that parallel() runs for `count` items: at most one an item, at least one.
inline int threads_used(int64_t count, int threads) {
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, count)));
}

// Calls body(t, first, last) on threads_used(count, threads) contiguous ranges of [0, count), on as
// many threads, t = 0 on the calling one.
template <typename Body>
void parallel(int64_t count, int threads, Body body) {
    threads = threads_used(count, threads);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
        pool.emplace_back(body, t, count * t / threads, count * (t + 1) / threads);
    body(0, 0, count / threads);
    for (auto& th : pool) th.join();
}

// Over a row range [0, rows): tiles of row_tile() rows, the last one shorter, each over all vector
// columns in blocks of col_block(): calls F<R, CB> with (..., row0, col0, ...) spliced in by `call`.
template <typename Call>
void tiles(int rows, int nv, Call call) {
    int cb = col_block(nv);
    int rt = row_tile(rows, cb);
    for (int r0 = 0; r0 < rows; r0 += rt)
        for (int c0 = 0; c0 < nv; c0 += cb) call(std::min(rt, rows - r0), std::min(cb, nv - c0), r0, c0);
}

}  // namespace

extern "C" {

// Only these functions are meant to be called from outside (setup.py builds with -fvisibility=hidden,
// and links with -Bsymbolic so that each build binds its own C++ library instantiations: the AVX-512
// build's can never stand in for the AVX2 build's in one process).
#define SKELACT_EXPORT __attribute__((visibility("default")))

// Floats to a SIMD vector on this build: rows are padded to a multiple of it, and each mask word
// holds this many bits.
SKELACT_EXPORT int skelact_pair_lanes() { return L; }

// out (B, J, H) = sum_{j != i} relu(W relu(recv_i + send_j) + b); mask (B, J, J, NV) words of
// z2 > 0 unless null. All arrays are dense, row-major float32 (mask: uint16).
SKELACT_EXPORT void skelact_pair_forward(const float* recv, const float* send, const float* weight, const float* bias,
                          int64_t batch, int nodes, int hidden, float* out, uint16_t* mask, int threads) {
    const int nv = (hidden + L - 1) / L;
    const Shape s{nodes, hidden, nv, nv * L};
    Buffer wt(static_cast<size_t>(hidden) * s.hp), b(s.hp);
    for (int n = 0; n < hidden; ++n) {
        b.data[n] = bias[n];
        for (int k = 0; k < hidden; ++k) wt.data[k * s.hp + n] = weight[n * hidden + k];
    }
    parallel(batch, threads, [&](int, int64_t first, int64_t last) {
        Buffer r(static_cast<size_t>(nodes) * s.hp), sd(static_cast<size_t>(nodes) * s.hp),
            z(static_cast<size_t>(nodes) * s.hp), o(s.hp);
        for (int64_t set = first; set < last; ++set) {
            pad_rows(recv + set * nodes * hidden, nodes, s, r.data);
            pad_rows(send + set * nodes * hidden, nodes, s, sd.data);
            for (int i = 0; i < nodes; ++i) {
                first_layer(r.data + i * s.hp, sd.data, s, z.data);
                std::memset(o.data, 0, s.hp * sizeof(float));
                uint16_t* mask_i = mask ? mask + (set * nodes + i) * nodes * nv : nullptr;
                tiles(nodes, nv, [&](int rows, int cb, int j0, int c0) {
                    dispatch<Forward>(rows, cb, z.data, wt.data, b.data, s, i, j0, c0, o.data, mask_i);
                });
                std::memcpy(out + (set * nodes + i) * hidden, o.data, hidden * sizeof(float));
            }
        }
    });
}

// The gradients of skelact_pair_forward's out: grad (B, J, H) in; grad_recv, grad_send (B, J, H),
// grad_weight (H, H), grad_bias (H) out (overwritten). mask: what the forward wrote.
SKELACT_EXPORT void skelact_pair_backward(const float* grad, const float* recv, const float* send, const float* weight,
                           const uint16_t* mask, int64_t batch, int nodes, int hidden, float* grad_recv,
                           float* grad_send, float* grad_weight, float* grad_bias, int threads) {
    const int nv = (hidden + L - 1) / L;
    const Shape s{nodes, hidden, nv, nv * L};
    Buffer w(static_cast<size_t>(hidden) * s.hp);
    pad_rows(weight, hidden, s, w.data);
    int used = threads_used(batch, threads);
    std::vector<std::vector<float>> partial_w(used), partial_b(used);
    parallel(batch, used, [&](int t, int64_t first, int64_t last) {
        const size_t rows = static_cast<size_t>(nodes) * s.hp;
        const size_t wsize = static_cast<size_t>(hidden) * s.hp;
        // the weight and bias gradients are summed per receiver (J pairs), then per node set, then
        // per thread, then over the threads: float32 sums of at most a few thousand terms each
        Buffer r(rows), sd(rows), g(rows), z(rows), g2(rows), gs(rows), gr(s.hp), dw(wsize), db(s.hp),
            dw_set(wsize), db_set(s.hp), db_i(s.hp);
        for (int64_t set = first; set < last; ++set) {
            pad_rows(recv + set * nodes * hidden, nodes, s, r.data);
            pad_rows(send + set * nodes * hidden, nodes, s, sd.data);
            pad_rows(grad + set * nodes * hidden, nodes, s, g.data);
            std::memset(gs.data, 0, rows * sizeof(float));
            for (int i = 0; i < nodes; ++i) {
                first_layer(r.data + i * s.hp, sd.data, s, z.data);
                const uint16_t* mask_i = mask + (set * nodes + i) * nodes * nv;
                for (int j = 0; j < nodes; ++j)  // g2_ij = g_i [z2_ij > 0]; 0 for j = i
                    for (int c = 0; c < nv; ++c) {
                        vf g2v = vkeep(mask_i[j * nv + c], vload(g.data + i * s.hp + c * L));
                        vstore(g2.data + j * s.hp + c * L, g2v);
                        vstore(db_i.data + c * L, vadd(vload(db_i.data + c * L), g2v));
                    }
                std::memset(gr.data, 0, s.hp * sizeof(float));
                tiles(nodes, nv, [&](int rows, int cb, int j0, int c0) {
                    dispatch<Backward>(rows, cb, g2.data, z.data, w.data, s, j0, c0, gr.data, gs.data);
                });
                tiles(hidden, nv, [&](int rows, int cb, int n0, int c0) {
                    dispatch<Weight>(rows, cb, g2.data, z.data, s, n0, c0, dw_set.data);
                });
                add_and_clear(db_set.data, db_i.data, s.hp);
                std::memcpy(grad_recv + (set * nodes + i) * hidden, gr.data, hidden * sizeof(float));
            }
            for (int j = 0; j < nodes; ++j)
                std::memcpy(grad_send + (set * nodes + j) * hidden, gs.data + j * s.hp, hidden * sizeof(float));
            add_and_clear(dw.data, dw_set.data, wsize);
            add_and_clear(db.data, db_set.data, s.hp);
        }
        partial_w[t].assign(dw.data, dw.data + hidden * s.hp);
        partial_b[t].assign(db.data, db.data + s.hp);
    });
    for (int n = 0; n < hidden; ++n) {
        grad_bias[n] = 0.0f;
        for (int m = 0; m < hidden; ++m) grad_weight[n * hidden + m] = 0.0f;
    }
    for (int t = 0; t < used; ++t)
        for (int n = 0; n < hidden; ++n) {
            grad_bias[n] += partial_b[t][n];
            for (int m = 0; m < hidden; ++m) grad_weight[n * hidden + m] += partial_w[t][n * s.hp + m];
        }
}

// One GRU step (eq. 7) from its projections, row by row:
//   a = v + m (the input projection's two parts),  b = g + c (the state's projection and its bias),
//   r = sigmoid(a_r + b_r),  z = sigmoid(a_z + b_z),  n = tanh(a_n + r b_n),  h' = n + z (h - n)
// gates_v, gates_m, gates_h: (rows, 3M) in the order r, z, n; bias_h: (3M); h, out: (rows, M).
// rz (rows, 2M) and n (rows, M) receive what the backward needs, unless null.
SKELACT_EXPORT void skelact_gru_forward(const float* gates_v, const float* gates_m, const float* gates_h, const float* bias_h,
                         const float* h, int64_t rows, int dim, float* out, float* rz, float* n_out,
                         int threads) {
    parallel(rows, threads, [&](int, int64_t first, int64_t last) {
        for (int64_t row = first; row < last; ++row) {
            const float* v = gates_v + row * 3 * dim;
            const float* m = gates_m + row * 3 * dim;
            const float* g = gates_h + row * 3 * dim;
            for (int c = 0; c < dim; c += L) {
                int k = std::min(L, dim - c);
                auto a = [&](int gate) {
                    return vadd(vload_n(v + gate * dim + c, k), vload_n(m + gate * dim + c, k));
                };
                auto b = [&](int gate) {
                    return vadd(vload_n(g + gate * dim + c, k), vload_n(bias_h + gate * dim + c, k));
                };
                vf r = vsigmoid(vadd(a(0), b(0)));
                vf z = vsigmoid(vadd(a(1), b(1)));
                vf n = vtanh(vfma(r, b(2), a(2)));
                vf hv = vload_n(h + row * dim + c, k);
                vstore_n(out + row * dim + c, vfma(z, vsub(hv, n), n), k);
                if (rz) {
                    vstore_n(rz + row * 2 * dim + c, r, k);
                    vstore_n(rz + row * 2 * dim + dim + c, z, k);
                    vstore_n(n_out + row * dim + c, n, k);
                }
            }
        }
    });
}

// The backward of skelact_gru_forward, from grad = dL/dh' (rows, M):
//   dh = g z,  da_n = g (1 - z)(1 - n^2),  da_z = g (h - n) z (1 - z),  da_r = da_n b_n r (1 - r);
//   grad_in = [da_r, da_z, da_n] (of v and of m alike),  grad_gates_h = [da_r, da_z, da_n r]  (rows, 3M);
//   grad_bias_h = the column sums of grad_gates_h (3M), summed in blocks of 64 rows;  grad_h (rows, M).
SKELACT_EXPORT void skelact_gru_backward(const float* grad, const float* rz, const float* n_in, const float* gates_h,
                          const float* bias_h, const float* h, int64_t rows, int dim, float* grad_in,
                          float* grad_gates_h, float* grad_bias_h, float* grad_h, int threads) {
    int used = threads_used(rows, threads);
    std::vector<std::vector<float>> partial(used, std::vector<float>(3 * dim, 0.0f));
    parallel(rows, used, [&](int t, int64_t first, int64_t last) {
        const vf one = vset1(1.0f);
        std::vector<float> block(3 * dim, 0.0f);
        for (int64_t row = first; row < last; ++row) {
            const float* g_n = gates_h + row * 3 * dim + 2 * dim;
            float* gi = grad_in + row * 3 * dim;
            float* gh = grad_gates_h + row * 3 * dim;
            for (int c = 0; c < dim; c += L) {
                int k = std::min(L, dim - c);
                vf g = vload_n(grad + row * dim + c, k);
                vf r = vload_n(rz + row * 2 * dim + c, k);
                vf z = vload_n(rz + row * 2 * dim + dim + c, k);
                vf n = vload_n(n_in + row * dim + c, k);
                vf hv = vload_n(h + row * dim + c, k);
                vf b_n = vadd(vload_n(g_n + c, k), vload_n(bias_h + 2 * dim + c, k));
                vstore_n(grad_h + row * dim + c, vmul(g, z), k);
                vf da_n = vmul(vsub(g, vmul(g, z)), vsub(one, vmul(n, n)));
                vf da_z = vmul(vmul(g, vsub(hv, n)), vmul(z, vsub(one, z)));
                vf da_r = vmul(vmul(da_n, b_n), vmul(r, vsub(one, r)));
                vf dh_n = vmul(da_n, r);
                vstore_n(gi + c, da_r, k);
                vstore_n(gi + dim + c, da_z, k);
                vstore_n(gi + 2 * dim + c, da_n, k);
                vstore_n(gh + c, da_r, k);
                vstore_n(gh + dim + c, da_z, k);
                vstore_n(gh + 2 * dim + c, dh_n, k);
                float* s = block.data();
                vstore_n(s + c, vadd(vload_n(s + c, k), da_r), k);
                vstore_n(s + dim + c, vadd(vload_n(s + dim + c, k), da_z), k);
                vstore_n(s + 2 * dim + c, vadd(vload_n(s + 2 * dim + c, k), dh_n), k);
            }
            if ((row - first) % 64 == 63 || row + 1 == last)
                for (int c = 0; c < 3 * dim; ++c) {
                    partial[t][c] += block[c];
                    block[c] = 0.0f;
                }
        }
    });
    for (int c = 0; c < 3 * dim; ++c) {
        grad_bias_h[c] = 0.0f;
        for (int t = 0; t < used; ++t) grad_bias_h[c] += partial[t][c];
    }
}

}  // extern "C"
