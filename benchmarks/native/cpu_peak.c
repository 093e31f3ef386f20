/* Peak multiply-accumulate rates of this x86-64 CPU's AVX2 units, for the engine's roofline.
 *
 * Why: the follow-up time-to-first-token target is an absolute figure (50 ms), so whether it is
 * reachable depends on what the cores can compute at all, not only on how fast a peer is.  These
 * loops keep every multiply unit busy with independent register-resident chains, which is the
 * ceiling any kernel (onnxruntime's MLAS, llama.cpp, a hand-written one) can approach.
 *
 * kind 0: fp32 FMA (vfmadd231ps ymm: 8 MACs an instruction) - what attention runs on;
 * kind 1: u8 x s8 dot products the way AVX2 int8 GEMMs do them without VNNI (vpmaddubsw, then
 *         vpmaddwd by ones to widen to int32, then vpaddd: 32 MACs a triple) - what the int8/int4
 *         weight matmuls run on.
 *
 * Built by benchmarks/engine_roofline.py with the system C compiler; benchmark-only, never a
 * runtime need.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    long iters;
    volatile float sink; /* keeps the compiler from dropping the loop */
} job_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHAINS 10 /* > FMA latency (4) x ports (2): the units never wait on a result */

static void *fp32_loop(void *arg) {
    job_t *job = arg;
    __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
           a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
           a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9);
    for (long n = 0; n < job->iters; n++) {
        a0 = _mm256_fmadd_ps(a0, x, y); a1 = _mm256_fmadd_ps(a1, x, y);
        a2 = _mm256_fmadd_ps(a2, x, y); a3 = _mm256_fmadd_ps(a3, x, y);
        a4 = _mm256_fmadd_ps(a4, x, y); a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y); a7 = _mm256_fmadd_ps(a7, x, y);
        a8 = _mm256_fmadd_ps(a8, x, y); a9 = _mm256_fmadd_ps(a9, x, y);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7), _mm256_add_ps(a8, a9))));
    float out[8];
    _mm256_storeu_ps(out, s);
    job->sink = out[0];
    return 0;
}

#define DOT(acc, w) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(act, w), ones))

static void *int8_loop(void *arg) {
    job_t *job = arg;
    __m256i act = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(1);
    __m256i w0 = _mm256_set1_epi8(-1), w1 = _mm256_set1_epi8(2), w2 = _mm256_set1_epi8(-3), w3 = _mm256_set1_epi8(4),
            w4 = _mm256_set1_epi8(-5), w5 = _mm256_set1_epi8(6), w6 = _mm256_set1_epi8(-7), w7 = _mm256_set1_epi8(8);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    for (long n = 0; n < job->iters; n++) {
        DOT(c0, w0); DOT(c1, w1); DOT(c2, w2); DOT(c3, w3);
        DOT(c4, w4); DOT(c5, w5); DOT(c6, w6); DOT(c7, w7);
        act = _mm256_xor_si256(act, flip); /* a new activation each round, as a GEMM streams them */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                 _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
    job->sink = (float)_mm256_extract_epi32(s, 0);
    return 0;
}

/* Multiply-accumulates per second (GMAC/s) over `threads` threads, each running `iters` rounds. */
double cpu_peak_gmacs(int kind, int threads, long iters) {
    pthread_t tid[64];
    job_t jobs[64];
    if (threads < 1 || threads > 64) return -1.0;
    void *(*loop)(void *) = kind == 0 ? fp32_loop : int8_loop;
    double macs_per_round = kind == 0 ? CHAINS * 8.0 : 8 * 32.0;
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        jobs[i].iters = iters;
        pthread_create(&tid[i], 0, loop, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(tid[i], 0);
    return threads * iters * macs_per_round / (now() - t0) / 1e9;
}
