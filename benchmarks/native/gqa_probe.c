/* A grouped-query attention kernel for the follow-up prefill, to measure what a hand kernel
 * gets on this CPU where onnxruntime's CPU GroupQueryAttention gets ~35 % of the fp32 peak.
 *
 * Why: the engine's follow-up (26 new tokens over ~1,000 cached) spends ~28 ms in attention.
 * onnxruntime runs one small GEMM pair per *query* head, so the 3 query heads that share a KV head
 * each re-read and re-pack it.  This kernel takes the query rows of a KV head together (units of
 * 16 rows: tokens x the 3 heads of the group) and computes the scores transposed (keys x rows,
 * the rows as vector lanes), so the cache is read in place with broadcast-FMA and only the 16
 * query rows are transposed.  It is flash-style: keys in blocks of 128 (K and V of a block stay
 * in L2) in the outer loop and the head's units in the inner one, with a running max and sum per
 * row, so each block comes from memory once for all 78 rows (a first version that ran each unit
 * over all keys re-read the 1.6 MB per layer five times and took ~10 % longer).
 * Units split evenly over the threads.  It is a benchmark probe (benchmarks/engine_gqa_probe.py
 * builds it with the system C compiler), not part of the runtime: whether to ship native kernels
 * is the decision this figure informs (docs/engine.md).
 *
 * Layout, as the engine's graph keeps it: the packed projection row of each new token is
 * [q heads][k heads][v heads] x head_dim; the caches are [kv_heads][max_len][head_dim] fp32 per
 * layer, the new keys/values go to rows past..past+S-1.  Rotary is not applied (the probe compares
 * against GroupQueryAttention with do_rotary=0).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define D 64  /* head_dim of SmolLM2; the probe refuses others */
#define MR 6  /* rows per micro-kernel: 12 accumulators + 2 loads + 1 broadcast of 16 ymm */

typedef struct {
    int layers, S, past, n_heads, kv_heads, max_len, threads;
    const float *const *qkv; /* [layers] -> [S][(n_heads + 2 kv_heads) D] */
    float *const *kcache, *const *vcache; /* [layers] -> [kv_heads][max_len][D] */
    float *const *out;                    /* [layers] -> [S][n_heads D] */
    pthread_barrier_t barrier;
} job_t;

typedef struct {
    job_t *job;
    int tid;
} arg_t;

/* e^x for x <= 0 (Cephes' polynomial after range reduction); ~1 ulp on the softmax range. */
static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#define RB 16 /* query rows of a work unit: two ymm lanes wide in the score tile */
#define SC 24 /* row stride of a unit's probability tile: RB rounded up to MR, the pad kept zero */

/* st[t][0..16] = K[t] . qt[.][0..16] for keys [t0, t1): six keys a step, the 16 rows as lanes.
 * K stays in the cache's row-major layout (a broadcast per key and d), so nothing is transposed
 * but the unit's 16 query rows. */
static void scores_tile(const float *qt, const float *k, int t0, int t1, float *st) {
    int t = t0;
    for (; t + MR <= t1; t += MR) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
               a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        const float *kr = k + (size_t)t * D;
        for (int d = 0; d < D; d++) {
            __m256 q0 = _mm256_load_ps(qt + d * RB), q1 = _mm256_load_ps(qt + d * RB + 8), b;
            b = _mm256_broadcast_ss(kr + 0 * D + d); a00 = _mm256_fmadd_ps(b, q0, a00); a01 = _mm256_fmadd_ps(b, q1, a01);
            b = _mm256_broadcast_ss(kr + 1 * D + d); a10 = _mm256_fmadd_ps(b, q0, a10); a11 = _mm256_fmadd_ps(b, q1, a11);
            b = _mm256_broadcast_ss(kr + 2 * D + d); a20 = _mm256_fmadd_ps(b, q0, a20); a21 = _mm256_fmadd_ps(b, q1, a21);
            b = _mm256_broadcast_ss(kr + 3 * D + d); a30 = _mm256_fmadd_ps(b, q0, a30); a31 = _mm256_fmadd_ps(b, q1, a31);
            b = _mm256_broadcast_ss(kr + 4 * D + d); a40 = _mm256_fmadd_ps(b, q0, a40); a41 = _mm256_fmadd_ps(b, q1, a41);
            b = _mm256_broadcast_ss(kr + 5 * D + d); a50 = _mm256_fmadd_ps(b, q0, a50); a51 = _mm256_fmadd_ps(b, q1, a51);
        }
        float *s = st + (size_t)t * SC;
        _mm256_store_ps(s + 0 * SC, a00); _mm256_store_ps(s + 0 * SC + 8, a01);
        _mm256_store_ps(s + 1 * SC, a10); _mm256_store_ps(s + 1 * SC + 8, a11);
        _mm256_store_ps(s + 2 * SC, a20); _mm256_store_ps(s + 2 * SC + 8, a21);
        _mm256_store_ps(s + 3 * SC, a30); _mm256_store_ps(s + 3 * SC + 8, a31);
        _mm256_store_ps(s + 4 * SC, a40); _mm256_store_ps(s + 4 * SC + 8, a41);
        _mm256_store_ps(s + 5 * SC, a50); _mm256_store_ps(s + 5 * SC + 8, a51);
    }
    for (; t < t1; t++) { /* the last few keys */
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        const float *kr = k + (size_t)t * D;
        for (int d = 0; d < D; d++) {
            __m256 b = _mm256_broadcast_ss(kr + d);
            a0 = _mm256_fmadd_ps(b, _mm256_load_ps(qt + d * RB), a0);
            a1 = _mm256_fmadd_ps(b, _mm256_load_ps(qt + d * RB + 8), a1);
        }
        _mm256_store_ps(st + (size_t)t * SC, a0);
        _mm256_store_ps(st + (size_t)t * SC + 8, a1);
    }
}

/* acc[r][0..16] = sum_t pt[t][r0 + r] V[t][d0..d0+16] for MR rows, keys [0, tlim). */
static void pv_block(const float *pt, int r0, const float *v, int tlim, int d0, float acc[MR][16]) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
           a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    const float *vr = v + d0, *p = pt + r0;
    for (int t = 0; t < tlim; t++, vr += D, p += SC) {
        __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8), b;
        b = _mm256_broadcast_ss(p + 0); a00 = _mm256_fmadd_ps(b, v0, a00); a01 = _mm256_fmadd_ps(b, v1, a01);
        b = _mm256_broadcast_ss(p + 1); a10 = _mm256_fmadd_ps(b, v0, a10); a11 = _mm256_fmadd_ps(b, v1, a11);
        b = _mm256_broadcast_ss(p + 2); a20 = _mm256_fmadd_ps(b, v0, a20); a21 = _mm256_fmadd_ps(b, v1, a21);
        b = _mm256_broadcast_ss(p + 3); a30 = _mm256_fmadd_ps(b, v0, a30); a31 = _mm256_fmadd_ps(b, v1, a31);
        b = _mm256_broadcast_ss(p + 4); a40 = _mm256_fmadd_ps(b, v0, a40); a41 = _mm256_fmadd_ps(b, v1, a41);
        b = _mm256_broadcast_ss(p + 5); a50 = _mm256_fmadd_ps(b, v0, a50); a51 = _mm256_fmadd_ps(b, v1, a51);
    }
    _mm256_storeu_ps(acc[0], a00); _mm256_storeu_ps(acc[0] + 8, a01);
    _mm256_storeu_ps(acc[1], a10); _mm256_storeu_ps(acc[1] + 8, a11);
    _mm256_storeu_ps(acc[2], a20); _mm256_storeu_ps(acc[2] + 8, a21);
    _mm256_storeu_ps(acc[3], a30); _mm256_storeu_ps(acc[3] + 8, a31);
    _mm256_storeu_ps(acc[4], a40); _mm256_storeu_ps(acc[4] + 8, a41);
    _mm256_storeu_ps(acc[5], a50); _mm256_storeu_ps(acc[5] + 8, a51);
}

#define KB 128   /* keys a block: the block's K and V (2 x 32 KB) stay in L2 while every unit of the KV head uses them */
#define MAXU 8   /* units of one KV head a thread holds state for (SmolLM2: 5) */

typedef struct {
    float qt[D * RB] __attribute__((aligned(32))); /* the unit's 16 query rows, scaled, transposed */
    float o[RB][D] __attribute__((aligned(32)));   /* running P.V */
    float m[RB] __attribute__((aligned(32)));      /* running max of each row's scores */
    float l[RB] __attribute__((aligned(32)));      /* running sum of exp(score - m) */
    int lim[RB], maxlim, r0, nr;
} unit_t;

static void *worker(void *argp) {
    arg_t *arg = argp;
    job_t *job = arg->job;
    const int S = job->S, past = job->past, T = past + S, group = job->n_heads / job->kv_heads;
    const int rows_per_kv = S * group, width = (job->n_heads + 2 * job->kv_heads) * D;
    const int units_per_kv = (rows_per_kv + RB - 1) / RB, nunits = units_per_kv * job->kv_heads;
    const float scale = 1.0f / sqrtf((float)D);
    float *st = aligned_alloc(32, sizeof(float) * SC * (size_t)T);
    unit_t *units = aligned_alloc(32, sizeof(unit_t) * MAXU);
    float acc[MR][16] __attribute__((aligned(32)));
    for (size_t j = 0; j < (size_t)SC * T; j++) st[j] = 0.0f; /* the pad columns stay zero */
    for (int layer = 0; layer < job->layers; layer++) {
        const float *qkv = job->qkv[layer];
        float *kc = job->kcache[layer], *vc = job->vcache[layer], *out = job->out[layer];
        /* 1. the new rows into the caches (each thread its KV heads), then everyone reads them. */
        for (int h = arg->tid; h < job->kv_heads; h += job->threads)
            for (int i = 0; i < S; i++) {
                memcpy(kc + ((size_t)h * job->max_len + past + i) * D, qkv + (size_t)i * width + (job->n_heads + h) * D,
                       D * sizeof(float));
                memcpy(vc + ((size_t)h * job->max_len + past + i) * D,
                       qkv + (size_t)i * width + (job->n_heads + job->kv_heads + h) * D, D * sizeof(float));
            }
        pthread_barrier_wait(&job->barrier);
        /* 2. this thread's units (16 rows of one KV head; rows are (token i, head g of the group),
         * i-major), taken a KV head at a time: key blocks outside, units inside, so each block of
         * K and V comes from memory once and serves every unit of the head (online softmax). */
        int u0 = nunits * arg->tid / job->threads, u1 = nunits * (arg->tid + 1) / job->threads;
        while (u0 < u1) {
            int h = u0 / units_per_kv, ue = (h + 1) * units_per_kv < u1 ? (h + 1) * units_per_kv : u1;
            if (ue - u0 > MAXU) ue = u0 + MAXU; /* more units than state slots: this head in turns */
            const int nu = ue - u0;
            int headlim = 0;
            for (int k = 0; k < nu; k++) {
                unit_t *un = &units[k];
                un->r0 = ((u0 + k) % units_per_kv) * RB;
                un->nr = rows_per_kv - un->r0 < RB ? rows_per_kv - un->r0 : RB;
                un->maxlim = 0;
                for (int r = 0; r < RB; r++) {
                    int row = un->r0 + (r < un->nr ? r : un->nr - 1), i = row / group, head = h * group + row % group;
                    const float *src = qkv + (size_t)i * width + head * D;
                    for (int d = 0; d < D; d++) un->qt[d * RB + r] = src[d] * scale;
                    un->lim[r] = past + i + 1;
                    if (un->lim[r] > un->maxlim) un->maxlim = un->lim[r];
                    un->m[r] = -INFINITY;
                    un->l[r] = 0.0f;
                    for (int d = 0; d < D; d++) un->o[r][d] = 0.0f;
                }
                if (un->maxlim > headlim) headlim = un->maxlim;
            }
            const float *k = kc + (size_t)h * job->max_len * D, *v = vc + (size_t)h * job->max_len * D;
            for (int kb = 0; kb < headlim; kb += KB) {
                for (int uu = 0; uu < nu; uu++) {
                    unit_t *un = &units[uu];
                    if (kb >= un->maxlim) continue;
                    int t1 = kb + KB < un->maxlim ? kb + KB : un->maxlim;
                    scores_tile(un->qt, k, kb, t1, st);
                    if (t1 > past)
                        for (int t = kb > past ? kb : past; t < t1; t++) /* causal: only new keys are masked */
                            for (int r = 0; r < RB; r++)
                                if (t >= un->lim[r]) st[(size_t)t * SC + r] = -INFINITY;
                    for (int c = 0; c < RB; c += 8) {
                        __m256 bm = _mm256_set1_ps(-INFINITY), sum = _mm256_setzero_ps();
                        for (int t = kb; t < t1; t++) bm = _mm256_max_ps(bm, _mm256_load_ps(st + (size_t)t * SC + c));
                        __m256 mold = _mm256_load_ps(un->m + c), mnew = _mm256_max_ps(mold, bm);
                        /* a row whose keys are all masked in this block keeps m = -inf: guard the exp */
                        __m256 safe = _mm256_blendv_ps(mnew, _mm256_setzero_ps(),
                                                       _mm256_cmp_ps(mnew, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
                        __m256 alpha = _mm256_and_ps(exp256(_mm256_sub_ps(mold, safe)),
                                                     _mm256_cmp_ps(mold, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
                        for (int t = kb; t < t1; t++) {
                            __m256 x = _mm256_load_ps(st + (size_t)t * SC + c);
                            __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(x, safe)),
                                                     _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
                            _mm256_store_ps(st + (size_t)t * SC + c, e);
                            sum = _mm256_add_ps(sum, e);
                        }
                        _mm256_store_ps(un->l + c, _mm256_fmadd_ps(_mm256_load_ps(un->l + c), alpha, sum));
                        _mm256_store_ps(un->m + c, mnew);
                        float al[8];
                        _mm256_storeu_ps(al, alpha);
                        for (int r = 0; r < 8; r++) {
                            __m256 a = _mm256_set1_ps(al[r]);
                            for (int d = 0; d < D; d += 8)
                                _mm256_store_ps(un->o[c + r] + d, _mm256_mul_ps(_mm256_load_ps(un->o[c + r] + d), a));
                        }
                    }
                    for (int rr = 0; rr < un->nr; rr += MR)
                        for (int d0 = 0; d0 < D; d0 += 16) {
                            pv_block(st + (size_t)kb * SC, rr, v + (size_t)kb * D, t1 - kb, d0, acc);
                            for (int r = rr; r < rr + MR && r < RB; r++)
                                for (int d = 0; d < 16; d++) un->o[r][d0 + d] += acc[r - rr][d];
                        }
                }
            }
            for (int uu = 0; uu < nu; uu++) {
                unit_t *un = &units[uu];
                for (int r = 0; r < un->nr; r++) {
                    int row = un->r0 + r, i = row / group, head = h * group + row % group;
                    float *dst = out + (size_t)i * job->n_heads * D + head * D, inv = 1.0f / un->l[r];
                    for (int d = 0; d < D; d++) dst[d] = un->o[r][d] * inv;
                }
            }
            u0 = ue;
        }
        pthread_barrier_wait(&job->barrier);
    }
    free(units);
    free(st);
    return 0;
}

/* Runs `layers` layers of follow-up attention; returns 0, or -1 on shapes the probe does not take. */
int gqa_followup(int layers, int S, int past, int n_heads, int kv_heads, int head_dim, int max_len, int threads,
                 const float *const *qkv, float *const *kcache, float *const *vcache, float *const *out) {
    if (head_dim != D || n_heads % kv_heads || threads < 1 || threads > 16 || past + S > max_len) return -1;
    job_t job = {.layers = layers, .S = S, .past = past, .n_heads = n_heads, .kv_heads = kv_heads, .max_len = max_len,
                 .threads = threads, .qkv = qkv, .kcache = kcache, .vcache = vcache, .out = out};
    pthread_barrier_init(&job.barrier, 0, threads);
    pthread_t tid[16];
    arg_t args[16];
    for (int t = 0; t < threads; t++) {
        args[t].job = &job;
        args[t].tid = t;
        if (t) pthread_create(&tid[t], 0, worker, &args[t]);
    }
    worker(&args[0]);
    for (int t = 1; t < threads; t++) pthread_join(tid[t], 0);
    pthread_barrier_destroy(&job.barrier);
    return 0;
}
