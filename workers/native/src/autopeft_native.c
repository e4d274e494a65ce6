/*
 * AutoPEFT native kernels: single-precision matrix products through the system CBLAS and a few
 * row-wise float loops, operating in place on memory owned by the caller (the TensorFlow.js wasm
 * heap, or any ArrayBuffer).
 *
 * Every entry point takes the ArrayBuffer and byte offsets into it, and looks the buffer's data
 * pointer up again on each call: the wasm heap's buffer is replaced whenever the heap grows, so
 * no pointer is kept between calls. Every range is checked against the buffer's length before
 * anything is read or written; a bad range throws a RangeError in JavaScript.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 12

/* Throws a JS error (unless one is already pending) and returns NULL to the caller of a binding. */
static napi_value fail(napi_env env, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_range_error(env, NULL, message);
  return NULL;
}

/* The caller's arguments, count checked. */
static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    char message[96];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", want, argc);
    fail(env, message);
    return false;
  }
  return true;
}

/* A float memory region: the buffer's bytes as seen during this call. */
typedef struct {
  uint8_t *data;
  size_t length;
} heap_t;

static bool get_heap(napi_env env, napi_value value, heap_t *heap) {
  bool is_buffer = false;
  napi_is_arraybuffer(env, value, &is_buffer);
  if (!is_buffer) {
    fail(env, "the heap must be an ArrayBuffer");
    return false;
  }
  void *data = NULL;
  if (napi_get_arraybuffer_info(env, value, &data, &heap->length) != napi_ok) return false;
  heap->data = (uint8_t *)data;
  return true;
}

/* A non-negative integer below 2^53 (offsets and sizes). */
static bool get_size(napi_env env, napi_value value, const char *name, size_t *out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= 0) || number > 9007199254740991.0 ||
      floor(number) != number) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a non-negative integer", name);
    fail(env, message);
    return false;
  }
  *out = (size_t)number;
  return true;
}

static bool get_bool(napi_env env, napi_value value, bool *out) {
  return napi_get_value_bool(env, value, out) == napi_ok || (fail(env, "expected a boolean"), false);
}

static bool get_float(napi_env env, napi_value value, float *out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return fail(env, "expected a number"), false;
  *out = (float)number;
  return true;
}

/*
 * The float array of `count` elements at byte `offset`, or NULL (with an exception) if it does
 * not lie inside the heap or is misaligned. Only valid until control returns to JavaScript.
 */
static float *floats_at(napi_env env, const heap_t *heap, size_t offset, size_t count, const char *name) {
  if (offset % sizeof(float) != 0 || offset > heap->length || count > (heap->length - offset) / sizeof(float)) {
    char message[128];
    snprintf(message, sizeof message, "%s: %zu floats at byte %zu do not fit in a heap of %zu bytes", name, count, offset,
             heap->length);
    fail(env, message);
    return NULL;
  }
  return (float *)(heap->data + offset);
}

static napi_value undefined(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

/*
 * sgemm(heap, transA, transB, m, n, k, aOffset, bOffset, cOffset, pairs)
 *
 * For each batch i: C[i] = op(A[pairs[2i]]) * op(B[pairs[2i+1]]), row-major, where op(A) is
 * m x k, op(B) is k x n and C[i] is m x n; A's batches are m*k floats apart, B's k*n, C's m*n.
 * `pairs` is a Uint32Array of batch-index pairs (its length / 2 is the batch count), which is
 * how broadcasting over batch dimensions reaches this function.
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  heap_t heap;
  bool trans_a, trans_b;
  size_t m, n, k, a_off, b_off, c_off;
  if (!get_heap(env, argv[0], &heap) || !get_bool(env, argv[1], &trans_a) || !get_bool(env, argv[2], &trans_b) ||
      !get_size(env, argv[3], "m", &m) || !get_size(env, argv[4], "n", &n) || !get_size(env, argv[5], "k", &k) ||
      !get_size(env, argv[6], "aOffset", &a_off) || !get_size(env, argv[7], "bOffset", &b_off) ||
      !get_size(env, argv[8], "cOffset", &c_off))
    return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return fail(env, "matrix dimensions exceed the BLAS index range");

  napi_typedarray_type pair_type;
  size_t pair_len = 0;
  void *pair_data = NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[9], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[9], &pair_type, &pair_len, &pair_data, NULL, NULL) != napi_ok ||
      pair_type != napi_uint32_array || pair_len % 2 != 0)
    return fail(env, "pairs must be a Uint32Array of even length");
  const uint32_t *pairs = (const uint32_t *)pair_data;
  size_t batch = pair_len / 2;

  uint32_t a_batches = 0, b_batches = 0;
  for (size_t i = 0; i < batch; i++) {
    if (pairs[2 * i] + 1 > a_batches) a_batches = pairs[2 * i] + 1;
    if (pairs[2 * i + 1] + 1 > b_batches) b_batches = pairs[2 * i + 1] + 1;
  }
  const float *a = floats_at(env, &heap, a_off, (size_t)a_batches * m * k, "a");
  const float *b = a ? floats_at(env, &heap, b_off, (size_t)b_batches * k * n, "b") : NULL;
  float *c = b ? floats_at(env, &heap, c_off, batch * m * n, "c") : NULL;
  if (!c) return NULL;

  int lda = trans_a ? (int)m : (int)k;
  int ldb = trans_b ? (int)k : (int)n;
  for (size_t i = 0; i < batch; i++) {
    float *ci = c + i * m * n;
    if (k == 0) {
      /* BLAS leaves C untouched when k = 0 and beta = 0 on some implementations; the product is 0. */
      memset(ci, 0, m * n * sizeof(float));
      continue;
    }
    if (m == 0 || n == 0) continue;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + (size_t)pairs[2 * i] * m * k, lda, b + (size_t)pairs[2 * i + 1] * k * n, ldb, 0.0f, ci,
                (int)n);
  }
  return undefined(env);
}

/* Activation codes, in the order of the wasm backend's FusableActivation. */
enum { ACT_LINEAR = 0, ACT_RELU, ACT_RELU6, ACT_PRELU, ACT_LEAKYRELU, ACT_SIGMOID, ACT_ELU };

/*
 * biasActivation(heap, offset, rows, cols, biasOffset, biasLength, activation, alpha,
 *                preluOffset, preluLength)
 *
 * In place on the rows x cols matrix at `offset`: add the bias (biasLength 0: none, 1: a scalar,
 * cols: one per column), then apply the activation. For prelu the slopes are one scalar or one
 * per column, as for the bias; `alpha` is leakyrelu's slope.
 */
static napi_value bias_activation(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  heap_t heap;
  size_t off, rows, cols, bias_off, bias_len, activation, prelu_off, prelu_len;
  float alpha;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "offset", &off) || !get_size(env, argv[2], "rows", &rows) ||
      !get_size(env, argv[3], "cols", &cols) || !get_size(env, argv[4], "biasOffset", &bias_off) ||
      !get_size(env, argv[5], "biasLength", &bias_len) || !get_size(env, argv[6], "activation", &activation) ||
      !get_float(env, argv[7], &alpha) || !get_size(env, argv[8], "preluOffset", &prelu_off) ||
      !get_size(env, argv[9], "preluLength", &prelu_len))
    return NULL;
  if (activation > ACT_ELU) return fail(env, "unknown activation code");
  if ((bias_len != 0 && bias_len != 1 && bias_len != cols) || (prelu_len != 0 && prelu_len != 1 && prelu_len != cols))
    return fail(env, "bias and prelu weights must have length 0, 1 or cols");
  if (activation == ACT_PRELU && prelu_len == 0) return fail(env, "prelu needs its weights");
  float *x = floats_at(env, &heap, off, rows * cols, "x");
  if (!x) return NULL;
  const float *bias = NULL, *slopes = NULL;
  if (bias_len > 0 && !(bias = floats_at(env, &heap, bias_off, bias_len, "bias"))) return NULL;
  if (prelu_len > 0 && !(slopes = floats_at(env, &heap, prelu_off, prelu_len, "prelu"))) return NULL;

  for (size_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    if (bias) {
      if (bias_len == 1) {
        for (size_t j = 0; j < cols; j++) row[j] += bias[0];
      } else {
        for (size_t j = 0; j < cols; j++) row[j] += bias[j];
      }
    }
    switch (activation) {
      case ACT_RELU:
        for (size_t j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : 0;
        break;
      case ACT_RELU6:
        for (size_t j = 0; j < cols; j++) row[j] = row[j] < 0 ? 0 : (row[j] > 6 ? 6 : row[j]);
        break;
      case ACT_PRELU:
        for (size_t j = 0; j < cols; j++) {
          if (row[j] < 0) row[j] *= slopes[prelu_len == 1 ? 0 : j];
        }
        break;
      case ACT_LEAKYRELU:
        for (size_t j = 0; j < cols; j++) row[j] = row[j] < 0 ? alpha * row[j] : row[j];
        break;
      case ACT_SIGMOID:
        for (size_t j = 0; j < cols; j++) row[j] = 1.0f / (1.0f + expf(-row[j]));
        break;
      case ACT_ELU:
        for (size_t j = 0; j < cols; j++) row[j] = row[j] < 0 ? expm1f(row[j]) : row[j];
        break;
      default:
        break;
    }
  }
  return undefined(env);
}

/*
 * e^x in single precision without a library call, so that loops over it vectorise. Range
 * reduction x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a part exact in float and the rest),
 * then e^r from its Taylor series to r^7, whose remainder (< 6e-9 relative) is below float
 * rounding. Below -87.3 the result is exactly 0, as expf's is for a masked attention score.
 */
static inline __attribute__((always_inline)) float exp_approx(float x) {
  const float clamped = x > 88.8f ? 88.8f : (x < -87.3f ? -87.3f : x);
  const float t = clamped * 1.44269504088896341f;
  /* Rounds t to the nearest integer with two adds (1.5 * 2^23 pushes the fraction out of the
   * mantissa), which vectorises on every x86-64, where a float-to-int rounding does not. */
  const float fn = (t + 12582912.0f) - 12582912.0f;
  const float r = (clamped - fn * 0.693359375f) + fn * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = (p * r) * r + r + 1.0f;
  /* 2^n as float bits; n = 128 (x near 88.7, below expf's overflow) takes 2^127 twice. */
  const int32_t n = (int32_t)fn;
  const int32_t high = n > 127;
  const int32_t bits = (n - high + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  const float y = p * scale * (high ? 2.0f : 1.0f);
  return x < -87.3f ? 0.0f : y;
}

/*
 * The loops below are compiled twice, for x86-64-v3 (AVX2, FMA) and for the x86-64 baseline, and the
 * loader picks the version the CPU runs (GCC function multi-versioning). The addon is built on
 * the host that runs it, but an image built on one machine may run on another, so the fast path
 * is chosen at run time rather than with -march=native.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

static MULTIVERSION void softmax_rows(const float *x, float *y, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float max = -INFINITY;
    for (size_t j = 0; j < cols; j++) max = xr[j] > max ? xr[j] : max;
    for (size_t j = 0; j < cols; j++) yr[j] = exp_approx(xr[j] - max);
    float sum = 0;
    for (size_t j = 0; j < cols; j++) sum += yr[j];
    const float inv = 1.0f / sum;
    for (size_t j = 0; j < cols; j++) yr[j] *= inv;
  }
}

/* softmax(heap, inOffset, outOffset, rows, cols): softmax of each row (may be in place). */
static napi_value softmax(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  heap_t heap;
  size_t in_off, out_off, rows, cols;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "inOffset", &in_off) ||
      !get_size(env, argv[2], "outOffset", &out_off) || !get_size(env, argv[3], "rows", &rows) ||
      !get_size(env, argv[4], "cols", &cols))
    return NULL;
  const float *x = floats_at(env, &heap, in_off, rows * cols, "x");
  float *y = x ? floats_at(env, &heap, out_off, rows * cols, "y") : NULL;
  if (!y) return NULL;
  softmax_rows(x, y, rows, cols);
  return undefined(env);
}

/* Elementwise unary functions, by code. */
enum { UNARY_ERF = 0, UNARY_EXP, UNARY_TANH, UNARY_SIGMOID, UNARY_RSQRT, UNARY_COUNT };

static MULTIVERSION void unary_loop(size_t code, const float *x, float *y, size_t count) {
  switch (code) {
    case UNARY_ERF:
      for (size_t i = 0; i < count; i++) y[i] = erff(x[i]);
      break;
    case UNARY_EXP:
      for (size_t i = 0; i < count; i++) y[i] = exp_approx(x[i]);
      break;
    case UNARY_TANH:
      for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
      break;
    case UNARY_SIGMOID:
      for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
      break;
    case UNARY_RSQRT:
      for (size_t i = 0; i < count; i++) y[i] = 1.0f / sqrtf(x[i]);
      break;
    default:
      break;
  }
}

/* unary(heap, code, inOffset, outOffset, count): y = f(x) elementwise (may be in place). */
static napi_value unary(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  heap_t heap;
  size_t code, in_off, out_off, count;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "code", &code) ||
      !get_size(env, argv[2], "inOffset", &in_off) || !get_size(env, argv[3], "outOffset", &out_off) ||
      !get_size(env, argv[4], "count", &count))
    return NULL;
  if (code >= UNARY_COUNT) return fail(env, "unknown unary function code");
  const float *x = floats_at(env, &heap, in_off, count, "x");
  float *y = x ? floats_at(env, &heap, out_off, count, "y") : NULL;
  if (!y) return NULL;
  unary_loop(code, x, y, count);
  return undefined(env);
}

/*
 * Fused kernels of the encoder's training step. Composed from tfjs ops, layer normalisation,
 * GELU and dropout take 5 to 20 kernels each forward and backward, each a pass over memory plus
 * the engine's per-kernel cost; here each is one pass.
 */

/*
 * The Mulberry32 stream of workers/random.ts (`createRng`), bit for bit: dropout masks drawn
 * here are the masks the JavaScript path draws for the same seed, so a trial's numbers do not
 * depend on whether the native kernels are present.
 */
static inline __attribute__((always_inline)) uint32_t mulberry32_hash(uint32_t t) {
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

/* The stream's step: its state after draw i is seed + i * MULBERRY32_STEP (mod 2^32). */
#define MULBERRY32_STEP 0x6d2b79f5u

/*
 * The drop test `draw / 2^32 < rate` in integers: for an integer draw, draw < rate * 2^32 exactly
 * when draw < ceil(rate * 2^32). Where that ceiling is 2^32 (rate within 2^-32 of 1) every draw
 * drops, which `all` says.
 */
typedef struct {
  uint32_t below;
  bool all;
} drop_threshold;


static drop_threshold drop_threshold_of(double rate) {
  const double t = ceil(rate * 4294967296.0);
  drop_threshold d = {t >= 4294967296.0 ? UINT32_MAX : (uint32_t)t, t >= 4294967296.0};
  return d;
}

/*
 * Draw i (i = 1, 2, ...) of the stream hashes the state seed + i * step on its own, so the loop
 * has no carried dependence and vectorises; the draws are those of the sequential stream.
 */
static MULTIVERSION void dropout_loop(const float *x, float *y, size_t count, uint32_t seed, double rate) {
  const float keep = (float)(1.0 / (1.0 - rate));
  const drop_threshold d = drop_threshold_of(rate);
  for (size_t i = 0; i < count; i++) {
    const uint32_t draw = mulberry32_hash(seed + (uint32_t)(i + 1) * MULBERRY32_STEP);
    y[i] = x[i] * ((draw < d.below || d.all) ? 0.0f : keep);
  }
}

/*
 * dropout(heap, inOffset, outOffset, count, seed, rate): inverted dropout with the mask of
 * `createRng(seed)`: element i is dropped when draw i / 2^32 < rate, and the rest are scaled by
 * 1 / (1 - rate) (rounded to float, as the JavaScript mask stores it). The same call applied to
 * the output gradient is the input gradient. May be in place.
 */
static napi_value dropout(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 6, argv)) return NULL;
  heap_t heap;
  size_t in_off, out_off, count, seed;
  double rate = 0;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "inOffset", &in_off) ||
      !get_size(env, argv[2], "outOffset", &out_off) || !get_size(env, argv[3], "count", &count) ||
      !get_size(env, argv[4], "seed", &seed))
    return NULL;
  if (seed > UINT32_MAX) return fail(env, "seed must be a 32-bit unsigned integer");
  if (napi_get_value_double(env, argv[5], &rate) != napi_ok || !(rate >= 0 && rate < 1))
    return fail(env, "rate must be in [0, 1)");
  const float *x = floats_at(env, &heap, in_off, count, "x");
  float *y = x ? floats_at(env, &heap, out_off, count, "y") : NULL;
  if (!y) return NULL;
  dropout_loop(x, y, count, (uint32_t)seed, rate);
  return undefined(env);
}

/*
 * erfc(z) with a relative error near 1.2e-7 over the whole line (a Chebyshev fit of
 * erfc(z) e^{z^2} in t = 1 / (1 + z/2), for z >= 0, and erfc(-z) = 2 - erfc(z)). A relative
 * bound matters for GELU: x * erfc(-x / sqrt 2) / 2 is tiny for negative x, and an absolute
 * bound would make its relative error grow there.
 */
static inline __attribute__((always_inline)) float erfc_approx(float x) {
  const float z = fabsf(x);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float r = t * exp_approx(p - z * z);
  return x >= 0 ? r : 2.0f - r;
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static MULTIVERSION void gelu_loop(const float *x, float *y, size_t count) {
  for (size_t i = 0; i < count; i++) y[i] = 0.5f * x[i] * erfc_approx(-x[i] * INV_SQRT2);
}

static MULTIVERSION void gelu_grad_loop(const float *dy, const float *x, float *dx, size_t count) {
  for (size_t i = 0; i < count; i++) {
    const float xi = x[i];
    const float cdf = 0.5f * erfc_approx(-xi * INV_SQRT2);
    const float pdf = INV_SQRT_2PI * exp_approx(-0.5f * xi * xi);
    dx[i] = dy[i] * (cdf + xi * pdf);
  }
}

/* gelu(heap, inOffset, outOffset, count): y = x Phi(x) = x erfc(-x / sqrt 2) / 2 (exact GELU). */
static napi_value gelu(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 4, argv)) return NULL;
  heap_t heap;
  size_t in_off, out_off, count;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "inOffset", &in_off) ||
      !get_size(env, argv[2], "outOffset", &out_off) || !get_size(env, argv[3], "count", &count))
    return NULL;
  const float *x = floats_at(env, &heap, in_off, count, "x");
  float *y = x ? floats_at(env, &heap, out_off, count, "y") : NULL;
  if (!y) return NULL;
  gelu_loop(x, y, count);
  return undefined(env);
}

/* geluGrad(heap, dyOffset, xOffset, dxOffset, count): dx = dy (Phi(x) + x phi(x)). */
static napi_value gelu_grad(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  heap_t heap;
  size_t dy_off, x_off, dx_off, count;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "dyOffset", &dy_off) ||
      !get_size(env, argv[2], "xOffset", &x_off) || !get_size(env, argv[3], "dxOffset", &dx_off) ||
      !get_size(env, argv[4], "count", &count))
    return NULL;
  const float *dy = floats_at(env, &heap, dy_off, count, "dy");
  const float *x = dy ? floats_at(env, &heap, x_off, count, "x") : NULL;
  float *dx = x ? floats_at(env, &heap, dx_off, count, "dx") : NULL;
  if (!dx) return NULL;
  gelu_grad_loop(dy, x, dx, count);
  return undefined(env);
}

/*
 * Row sums below keep PARTS interleaved partial sums: one running sum is a chain of dependent
 * adds (4 cycles each) that the compiler may not reorder, while PARTS independent ones fill
 * vector lanes. The summation order differs from a sequential sum only in rounding.
 */
#define PARTS 16

/* Sum of x[j], in double. */
static inline __attribute__((always_inline)) double sum_double(const float *x, size_t n) {
  double part[PARTS] = {0};
  size_t j = 0;
  for (; j + PARTS <= n; j += PARTS) {
    for (size_t l = 0; l < PARTS; l++) part[l] += x[j + l];
  }
  double sum = 0;
  for (; j < n; j++) sum += x[j];
  for (size_t l = 0; l < PARTS; l++) sum += part[l];
  return sum;
}

/* Sum of (x[j] - center)^2, in double. */
static inline __attribute__((always_inline)) double squares_about(const float *x, size_t n, double center) {
  double part[PARTS] = {0};
  size_t j = 0;
  for (; j + PARTS <= n; j += PARTS) {
    for (size_t l = 0; l < PARTS; l++) {
      const double d = x[j + l] - center;
      part[l] += d * d;
    }
  }
  double sum = 0;
  for (; j < n; j++) {
    const double d = x[j] - center;
    sum += d * d;
  }
  for (size_t l = 0; l < PARTS; l++) sum += part[l];
  return sum;
}

/* Sum of a[j] b[j] in float, or of a[j] when b is NULL. */
static inline __attribute__((always_inline)) float dot_floats(const float *a, const float *b, size_t n) {
  float part[PARTS] = {0};
  size_t j = 0;
  for (; j + PARTS <= n; j += PARTS) {
    for (size_t l = 0; l < PARTS; l++) part[l] += b ? a[j + l] * b[j + l] : a[j + l];
  }
  float sum = 0;
  for (; j < n; j++) sum += b ? a[j] * b[j] : a[j];
  for (size_t l = 0; l < PARTS; l++) sum += part[l];
  return sum;
}

/* The largest of n >= 1 floats (NaN-free input), in PARTS partial maxima. */
static inline __attribute__((always_inline)) float max_floats(const float *x, size_t n) {
  float part[PARTS];
  for (size_t l = 0; l < PARTS; l++) part[l] = -INFINITY;
  size_t j = 0;
  for (; j + PARTS <= n; j += PARTS) {
    for (size_t l = 0; l < PARTS; l++) part[l] = x[j + l] > part[l] ? x[j + l] : part[l];
  }
  float max = -INFINITY;
  for (; j < n; j++) max = x[j] > max ? x[j] : max;
  for (size_t l = 0; l < PARTS; l++) max = part[l] > max ? part[l] : max;
  return max;
}

/* Mean and 1 / sqrt(variance + eps) of a row (biased variance, accumulated in double). */
static inline __attribute__((always_inline)) void row_moments(const float *x, size_t cols, double eps, float *mean_out, float *rstd_out) {
  const double mean = sum_double(x, cols) / (double)cols;
  const double squares = squares_about(x, cols, mean);
  *mean_out = (float)mean;
  *rstd_out = (float)(1.0 / sqrt(squares / (double)cols + eps));
}

static MULTIVERSION void layer_norm_rows(const float *x, const float *gamma, const float *beta, float *y, size_t rows,
                                        size_t cols, double eps) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float mean, rstd;
    row_moments(xr, cols, eps, &mean, &rstd);
    for (size_t j = 0; j < cols; j++) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

/*
 * The sums over rows of dgamma and dbeta are kept in double (`acc`, 2 * cols, zeroed): a float
 * sum over tens of thousands of rows loses digits that the per-row terms still have.
 */
static MULTIVERSION void layer_norm_grad_rows(const float *dy, const float *x, const float *gamma, float *dx, float *dgamma,
                                             float *dbeta, double *acc, size_t rows, size_t cols, double eps) {
  double *acc_gamma = acc;
  double *acc_beta = acc + cols;
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    const float *dyr = dy + r * cols;
    float *dxr = dx + r * cols;
    float mean, rstd;
    row_moments(xr, cols, eps, &mean, &rstd);
    float part_g[PARTS] = {0}, part_gx[PARTS] = {0};
    size_t j = 0;
    for (; j + PARTS <= cols; j += PARTS) {
      for (size_t l = 0; l < PARTS; l++) {
        const float xhat = (xr[j + l] - mean) * rstd;
        const float g = dyr[j + l] * gamma[j + l];
        part_g[l] += g;
        part_gx[l] += g * xhat;
      }
    }
    float sum_g = 0, sum_gx = 0;
    for (; j < cols; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      const float g = dyr[j] * gamma[j];
      sum_g += g;
      sum_gx += g * xhat;
    }
    for (size_t l = 0; l < PARTS; l++) {
      sum_g += part_g[l];
      sum_gx += part_gx[l];
    }
    for (size_t c = 0; c < cols; c++) {
      acc_gamma[c] += (double)(dyr[c] * ((xr[c] - mean) * rstd));
      acc_beta[c] += (double)dyr[c];
    }
    const float mean_g = sum_g / (float)cols;
    const float mean_gx = sum_gx / (float)cols;
    for (size_t j = 0; j < cols; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      dxr[j] = rstd * (dyr[j] * gamma[j] - mean_g - xhat * mean_gx);
    }
  }
  for (size_t j = 0; j < cols; j++) {
    dgamma[j] = (float)acc_gamma[j];
    dbeta[j] = (float)acc_beta[j];
  }
}

/*
 * layerNorm(heap, xOffset, gammaOffset, betaOffset, yOffset, rows, cols, eps):
 * y = (x - mean) / sqrt(var + eps) * gamma + beta over each row of a rows x cols matrix.
 */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 8, argv)) return NULL;
  heap_t heap;
  size_t x_off, gamma_off, beta_off, y_off, rows, cols;
  double eps = 0;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "xOffset", &x_off) ||
      !get_size(env, argv[2], "gammaOffset", &gamma_off) || !get_size(env, argv[3], "betaOffset", &beta_off) ||
      !get_size(env, argv[4], "yOffset", &y_off) || !get_size(env, argv[5], "rows", &rows) ||
      !get_size(env, argv[6], "cols", &cols))
    return NULL;
  if (napi_get_value_double(env, argv[7], &eps) != napi_ok || !(eps >= 0)) return fail(env, "eps must be a non-negative number");
  if (cols == 0) return fail(env, "layerNorm needs at least one column");
  const float *x = floats_at(env, &heap, x_off, rows * cols, "x");
  const float *gamma = x ? floats_at(env, &heap, gamma_off, cols, "gamma") : NULL;
  const float *beta = gamma ? floats_at(env, &heap, beta_off, cols, "beta") : NULL;
  float *y = beta ? floats_at(env, &heap, y_off, rows * cols, "y") : NULL;
  if (!y) return NULL;
  layer_norm_rows(x, gamma, beta, y, rows, cols, eps);
  return undefined(env);
}

/*
 * layerNormGrad(heap, dyOffset, xOffset, gammaOffset, dxOffset, dgammaOffset, dbetaOffset,
 *               rows, cols, eps): the gradients of layerNorm for output gradient dy. With
 * xhat the normalised row and g = dy * gamma: dx = rstd (g - mean(g) - xhat mean(g xhat)),
 * dgamma = sum over rows of dy xhat, dbeta = sum over rows of dy.
 */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  heap_t heap;
  size_t dy_off, x_off, gamma_off, dx_off, dgamma_off, dbeta_off, rows, cols;
  double eps = 0;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "dyOffset", &dy_off) ||
      !get_size(env, argv[2], "xOffset", &x_off) || !get_size(env, argv[3], "gammaOffset", &gamma_off) ||
      !get_size(env, argv[4], "dxOffset", &dx_off) || !get_size(env, argv[5], "dgammaOffset", &dgamma_off) ||
      !get_size(env, argv[6], "dbetaOffset", &dbeta_off) || !get_size(env, argv[7], "rows", &rows) ||
      !get_size(env, argv[8], "cols", &cols))
    return NULL;
  if (napi_get_value_double(env, argv[9], &eps) != napi_ok || !(eps >= 0)) return fail(env, "eps must be a non-negative number");
  if (cols == 0) return fail(env, "layerNorm needs at least one column");
  const float *dy = floats_at(env, &heap, dy_off, rows * cols, "dy");
  const float *x = dy ? floats_at(env, &heap, x_off, rows * cols, "x") : NULL;
  const float *gamma = x ? floats_at(env, &heap, gamma_off, cols, "gamma") : NULL;
  float *dx = gamma ? floats_at(env, &heap, dx_off, rows * cols, "dx") : NULL;
  float *dgamma = dx ? floats_at(env, &heap, dgamma_off, cols, "dgamma") : NULL;
  float *dbeta = dgamma ? floats_at(env, &heap, dbeta_off, cols, "dbeta") : NULL;
  if (!dbeta) return NULL;
  double *acc = calloc(2 * cols, sizeof(double));
  if (!acc) return fail(env, "layerNormGrad: out of memory");
  layer_norm_grad_rows(dy, x, gamma, dx, dgamma, dbeta, acc, rows, cols, eps);
  free(acc);
  return undefined(env);
}

static MULTIVERSION void adamw_loop(const float *p, const float *g, const float *m, const float *v, float scale, float *p_out,
                                   float *m_out, float *v_out, size_t count, float lr, float beta1, float beta2, float eps,
                                   float keep, float correction1, float correction2) {
  for (size_t i = 0; i < count; i++) {
    const float gi = g[i] * scale;
    const float mi = m[i] * beta1 + gi * (1.0f - beta1);
    const float vi = v[i] * beta2 + gi * gi * (1.0f - beta2);
    const float update = (mi / correction1) / (sqrtf(vi / correction2) + eps);
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[i] * keep - update * lr;
  }
}

/*
 * adamw(heap, pOffset, gOffset, mOffset, vOffset, scaleOffset, pOutOffset, mOutOffset,
 *       vOutOffset, count, [lr, beta1, beta2, eps, keep, correction1, correction2]):
 * one AdamW step of `count` parameters, as workers/train/adamw.ts composes it: the gradient
 * times the clip factor at scaleOffset (one float), the moment updates, the bias-corrected step,
 * and decoupled decay as the factor `keep` = 1 - lr * weightDecay (1 for no decay). The last
 * argument is an array of the seven numbers.
 */
static napi_value adamw(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 11, argv)) return NULL;
  heap_t heap;
  size_t p_off, g_off, m_off, v_off, scale_off, p_out_off, m_out_off, v_out_off, count;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "pOffset", &p_off) ||
      !get_size(env, argv[2], "gOffset", &g_off) || !get_size(env, argv[3], "mOffset", &m_off) ||
      !get_size(env, argv[4], "vOffset", &v_off) || !get_size(env, argv[5], "scaleOffset", &scale_off) ||
      !get_size(env, argv[6], "pOutOffset", &p_out_off) || !get_size(env, argv[7], "mOutOffset", &m_out_off) ||
      !get_size(env, argv[8], "vOutOffset", &v_out_off) || !get_size(env, argv[9], "count", &count))
    return NULL;
  float settings[7];
  for (uint32_t i = 0; i < 7; i++) {
    napi_value element;
    if (napi_get_element(env, argv[10], i, &element) != napi_ok || !get_float(env, element, &settings[i])) {
      return fail(env, "adamw: settings must be 7 numbers [lr, beta1, beta2, eps, keep, correction1, correction2]");
    }
  }
  const float *p = floats_at(env, &heap, p_off, count, "p");
  const float *g = p ? floats_at(env, &heap, g_off, count, "g") : NULL;
  const float *m = g ? floats_at(env, &heap, m_off, count, "m") : NULL;
  const float *v = m ? floats_at(env, &heap, v_off, count, "v") : NULL;
  const float *scale = v ? floats_at(env, &heap, scale_off, 1, "scale") : NULL;
  float *p_out = scale ? floats_at(env, &heap, p_out_off, count, "pOut") : NULL;
  float *m_out = p_out ? floats_at(env, &heap, m_out_off, count, "mOut") : NULL;
  float *v_out = m_out ? floats_at(env, &heap, v_out_off, count, "vOut") : NULL;
  if (!v_out) return NULL;
  adamw_loop(p, g, m, v, *scale, p_out, m_out, v_out, count, settings[0], settings[1], settings[2], settings[3], settings[4],
             settings[5], settings[6]);
  return undefined(env);
}

/*
 * Fused self-attention over all heads of a batch, forward and backward. Queries, keys and
 * values stay in their projection layout, [batch * length, heads * headSize] row-major: head h
 * of example b is the column block h of rows b * length ..., reached with a leading dimension of
 * heads * headSize, so no head is ever transposed or copied. Per (example, head), in this order
 * (the order of the probabilities tensor [batch, heads, seqQ, seqK], which is the order in which
 * the dropout stream is drawn, matching the composed ops bit for bit):
 *   P = softmax(scale Q K^T + mask[b]),  context = dropout(P) V.
 * The backward pass recomputes P (one small product per head) instead of keeping it.
 */

/* Adds the example's key mask to each row of scores and takes the row softmax, in place. */
static MULTIVERSION void masked_softmax_rows(float *s, const float *mask, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    float *row = s + r * cols;
    for (size_t j = 0; j < cols; j++) row[j] += mask[j];
    const float max = max_floats(row, cols);
    for (size_t j = 0; j < cols; j++) row[j] = exp_approx(row[j] - max);
    const float inv = 1.0f / dot_floats(row, NULL, cols);
    for (size_t j = 0; j < cols; j++) row[j] *= inv;
  }
}

/* The next `count` dropout factors of the stream (0 or keep), into `factors`; advances `state`. */
static MULTIVERSION void dropout_factors(float *factors, size_t count, uint32_t *state, double rate) {
  const float keep = (float)(1.0 / (1.0 - rate));
  const drop_threshold d = drop_threshold_of(rate);
  const uint32_t base = *state;
  for (size_t i = 0; i < count; i++) {
    const uint32_t draw = mulberry32_hash(base + (uint32_t)(i + 1) * MULBERRY32_STEP);
    factors[i] = (draw < d.below || d.all) ? 0.0f : keep;
  }
  *state = base + (uint32_t)count * MULBERRY32_STEP;
}

/* dS = P * (G - rowsum(G * P)) in place in G: the softmax gradient of each row. */
static MULTIVERSION void softmax_grad_rows(const float *p, float *g, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *pr = p + r * cols;
    float *gr = g + r * cols;
    const float dot = dot_floats(gr, pr, cols);
    for (size_t j = 0; j < cols; j++) gr[j] = pr[j] * (gr[j] - dot);
  }
}

static MULTIVERSION void multiply_into(const float *a, const float *b, float *out, size_t count) {
  for (size_t i = 0; i < count; i++) out[i] = a[i] * b[i];
}

/* The sizes and settings of an attention call (arguments 5.. of both entry points). */
typedef struct {
  size_t batch, heads, seq_q, seq_k, head_size;
  float scale;
  double rate;
  uint32_t seed;
} attention_dims;

static bool get_attention_dims(napi_env env, napi_value *argv, attention_dims *a) {
  size_t seed;
  double scale = 0;
  if (!get_size(env, argv[0], "batch", &a->batch) || !get_size(env, argv[1], "heads", &a->heads) ||
      !get_size(env, argv[2], "seqQ", &a->seq_q) || !get_size(env, argv[3], "seqK", &a->seq_k) ||
      !get_size(env, argv[4], "headSize", &a->head_size) || !get_size(env, argv[7], "seed", &seed))
    return false;
  if (napi_get_value_double(env, argv[5], &scale) != napi_ok || !isfinite(scale)) return fail(env, "scale must be a finite number"), false;
  if (napi_get_value_double(env, argv[6], &a->rate) != napi_ok || !(a->rate >= 0 && a->rate < 1))
    return fail(env, "rate must be in [0, 1)"), false;
  if (seed > UINT32_MAX) return fail(env, "seed must be a 32-bit unsigned integer"), false;
  if (a->heads == 0 || a->head_size == 0 || a->seq_k == 0) return fail(env, "attention needs heads, a head size and keys"), false;
  if (a->seq_q > INT32_MAX || a->seq_k > INT32_MAX || a->heads * a->head_size > INT32_MAX)
    return fail(env, "attention dimensions exceed the BLAS index range"), false;
  a->scale = (float)scale;
  a->seed = (uint32_t)seed;
  return true;
}

/* P = softmax(scale Q_bh K_bh^T + mask_b) into `p` (seq_q x seq_k). */
static void attention_probs(const attention_dims *a, const float *q, const float *k, const float *mask, size_t b, size_t h,
                            float *p) {
  const size_t d = a->heads * a->head_size;
  const float *qbh = q + b * a->seq_q * d + h * a->head_size;
  const float *kbh = k + b * a->seq_k * d + h * a->head_size;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->seq_q, (int)a->seq_k, (int)a->head_size, a->scale, qbh, (int)d,
              kbh, (int)d, 0.0f, p, (int)a->seq_k);
  masked_softmax_rows(p, mask + b * a->seq_k, a->seq_q, a->seq_k);
}

/*
 * attention(heap, qOffset, kOffset, vOffset, maskOffset, outOffset, batch, heads, seqQ, seqK,
 *           headSize, scale, rate, seed): context [batch * seqQ, heads * headSize] of queries
 * [batch * seqQ, d], keys and values [batch * seqK, d] and an additive key mask [batch, seqK].
 */
static napi_value attention(napi_env env, napi_callback_info info) {
  napi_value argv[16];
  size_t argc = 16;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 14) return fail(env, "attention: expected 14 arguments");
  heap_t heap;
  size_t q_off, k_off, v_off, mask_off, out_off;
  attention_dims a;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "qOffset", &q_off) || !get_size(env, argv[2], "kOffset", &k_off) ||
      !get_size(env, argv[3], "vOffset", &v_off) || !get_size(env, argv[4], "maskOffset", &mask_off) ||
      !get_size(env, argv[5], "outOffset", &out_off) || !get_attention_dims(env, argv + 6, &a))
    return NULL;
  const size_t d = a.heads * a.head_size;
  const float *q = floats_at(env, &heap, q_off, a.batch * a.seq_q * d, "q");
  const float *k = q ? floats_at(env, &heap, k_off, a.batch * a.seq_k * d, "k") : NULL;
  const float *v = k ? floats_at(env, &heap, v_off, a.batch * a.seq_k * d, "v") : NULL;
  const float *mask = v ? floats_at(env, &heap, mask_off, a.batch * a.seq_k, "mask") : NULL;
  float *out = mask ? floats_at(env, &heap, out_off, a.batch * a.seq_q * d, "out") : NULL;
  if (!out) return NULL;
  const size_t block = a.seq_q * a.seq_k;
  if (block == 0) return undefined(env);
  float *p = malloc(2 * block * sizeof(float));
  if (!p) return fail(env, "attention: out of memory");
  float *factors = p + block;
  uint32_t state = a.seed;
  for (size_t b = 0; b < a.batch; b++) {
    for (size_t h = 0; h < a.heads; h++) {
      attention_probs(&a, q, k, mask, b, h, p);
      if (a.rate > 0) {
        dropout_factors(factors, block, &state, a.rate);
        multiply_into(p, factors, p, block);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a.seq_q, (int)a.head_size, (int)a.seq_k, 1.0f, p, (int)a.seq_k,
                  v + b * a.seq_k * d + h * a.head_size, (int)d, 0.0f, out + b * a.seq_q * d + h * a.head_size, (int)d);
    }
  }
  free(p);
  return undefined(env);
}

/*
 * attentionGrad(heap, dyOffset, qOffset, kOffset, vOffset, maskOffset, dqOffset, dkOffset,
 *               dvOffset, batch, heads, seqQ, seqK, headSize, scale, rate, seed): the
 * gradients of attention's context dy for its queries, keys and values (same layouts). With
 * D = dropout(P) and G = dropout'(dy_bh V_bh^T) (the same mask): dV = D^T dy_bh,
 * dS = P * (G - rowsum(G * P)), dQ = scale dS K, dK = scale dS^T Q.
 */
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  napi_value argv[20];
  size_t argc = 20;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 17) return fail(env, "attentionGrad: expected 17 arguments");
  heap_t heap;
  size_t dy_off, q_off, k_off, v_off, mask_off, dq_off, dk_off, dv_off;
  attention_dims a;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "dyOffset", &dy_off) || !get_size(env, argv[2], "qOffset", &q_off) ||
      !get_size(env, argv[3], "kOffset", &k_off) || !get_size(env, argv[4], "vOffset", &v_off) ||
      !get_size(env, argv[5], "maskOffset", &mask_off) || !get_size(env, argv[6], "dqOffset", &dq_off) ||
      !get_size(env, argv[7], "dkOffset", &dk_off) || !get_size(env, argv[8], "dvOffset", &dv_off) ||
      !get_attention_dims(env, argv + 9, &a))
    return NULL;
  const size_t d = a.heads * a.head_size;
  const size_t nq = a.batch * a.seq_q * d, nk = a.batch * a.seq_k * d;
  const float *dy = floats_at(env, &heap, dy_off, nq, "dy");
  const float *q = dy ? floats_at(env, &heap, q_off, nq, "q") : NULL;
  const float *k = q ? floats_at(env, &heap, k_off, nk, "k") : NULL;
  const float *v = k ? floats_at(env, &heap, v_off, nk, "v") : NULL;
  const float *mask = v ? floats_at(env, &heap, mask_off, a.batch * a.seq_k, "mask") : NULL;
  float *dq = mask ? floats_at(env, &heap, dq_off, nq, "dq") : NULL;
  float *dk = dq ? floats_at(env, &heap, dk_off, nk, "dk") : NULL;
  float *dv = dk ? floats_at(env, &heap, dv_off, nk, "dv") : NULL;
  if (!dv) return NULL;
  const size_t block = a.seq_q * a.seq_k;
  if (block == 0) {
    memset(dk, 0, nk * sizeof(float));
    memset(dv, 0, nk * sizeof(float));
    return undefined(env);
  }
  float *p = malloc(3 * block * sizeof(float));
  if (!p) return fail(env, "attentionGrad: out of memory");
  float *g = p + block;
  float *dropped = g + block;
  uint32_t state = a.seed;
  const int ld = (int)d, sq = (int)a.seq_q, sk = (int)a.seq_k, hs = (int)a.head_size;
  for (size_t b = 0; b < a.batch; b++) {
    for (size_t h = 0; h < a.heads; h++) {
      const size_t q_at = b * a.seq_q * d + h * a.head_size, k_at = b * a.seq_k * d + h * a.head_size;
      attention_probs(&a, q, k, mask, b, h, p);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sq, sk, hs, 1.0f, dy + q_at, ld, v + k_at, ld, 0.0f, g, sk);
      const float *d_probs = p;
      if (a.rate > 0) {
        dropout_factors(dropped, block, &state, a.rate);
        multiply_into(g, dropped, g, block);
        multiply_into(p, dropped, dropped, block);
        d_probs = dropped;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, sk, hs, sq, 1.0f, d_probs, sk, dy + q_at, ld, 0.0f, dv + k_at, ld);
      softmax_grad_rows(p, g, a.seq_q, a.seq_k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sq, hs, sk, a.scale, g, sk, k + k_at, ld, 0.0f, dq + q_at, ld);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, sk, hs, sq, a.scale, g, sk, q + q_at, ld, 0.0f, dk + k_at, ld);
    }
  }
  free(p);
  return undefined(env);
}

static MULTIVERSION double sum_squares_loop(const float *x, size_t count) {
  /* Four partial sums in double: vectorises, and a float sum over a large gradient would lose digits. */
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    s0 += (double)x[i] * x[i];
    s1 += (double)x[i + 1] * x[i + 1];
    s2 += (double)x[i + 2] * x[i + 2];
    s3 += (double)x[i + 3] * x[i + 3];
  }
  for (; i < count; i++) s0 += (double)x[i] * x[i];
  return (s0 + s1) + (s2 + s3);
}

/*
 * sumSquares(heap, ranges, outOffset): the sum of the squares of every float in the ranges
 * (a Uint32Array of [byte offset, count] pairs), written as one float at outOffset: the
 * squared global norm of a set of gradients in one call.
 */
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 3, argv)) return NULL;
  heap_t heap;
  size_t out_off;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[2], "outOffset", &out_off)) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || length % 2 != 0)
    return fail(env, "ranges must be a Uint32Array of [offset, count] pairs");
  const uint32_t *ranges = (const uint32_t *)data;
  float *out = floats_at(env, &heap, out_off, 1, "out");
  if (!out) return NULL;
  double total = 0;
  for (size_t i = 0; i < length / 2; i++) {
    const float *x = floats_at(env, &heap, ranges[2 * i], ranges[2 * i + 1], "x");
    if (!x) return NULL;
    total += sum_squares_loop(x, ranges[2 * i + 1]);
  }
  *out = (float)total;
  return undefined(env);
}

/*
 * gatherRows(heap, tableOffset, tableRows, cols, indicesOffset, count, outOffset): copies row
 * indices[i] (int32) of a tableRows x cols table to row i of the output. Returns -1, or the
 * position of the first index outside [0, tableRows) (then nothing is written).
 */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 7, argv)) return NULL;
  heap_t heap;
  size_t table_off, table_rows, cols, idx_off, count, out_off;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "tableOffset", &table_off) ||
      !get_size(env, argv[2], "tableRows", &table_rows) || !get_size(env, argv[3], "cols", &cols) ||
      !get_size(env, argv[4], "indicesOffset", &idx_off) || !get_size(env, argv[5], "count", &count) ||
      !get_size(env, argv[6], "outOffset", &out_off))
    return NULL;
  const float *table = floats_at(env, &heap, table_off, table_rows * cols, "table");
  /* int32 and float32 have the same size and alignment: the range check is the same. */
  const int32_t *indices = table ? (const int32_t *)floats_at(env, &heap, idx_off, count, "indices") : NULL;
  float *out = indices ? floats_at(env, &heap, out_off, count * cols, "out") : NULL;
  if (!out) return NULL;
  napi_value result;
  for (size_t i = 0; i < count; i++) {
    if (indices[i] < 0 || (size_t)indices[i] >= table_rows) {
      napi_create_double(env, (double)i, &result);
      return result;
    }
  }
  for (size_t i = 0; i < count; i++) memcpy(out + i * cols, table + (size_t)indices[i] * cols, cols * sizeof(float));
  napi_create_double(env, -1, &result);
  return result;
}

/* Binary operation codes of {@link binary}. */
enum { BIN_ADD = 0, BIN_SUB, BIN_MUL };

/* out[r, c] = a[r, c] op b[r, c], b[c] or b[0] (b_len = rows * cols, cols or 1). */
static MULTIVERSION void binary_rows(size_t op, const float *a, const float *b, float *out, size_t rows, size_t cols, size_t b_len) {
  const size_t count = rows * cols;
  if (b_len == count) {
    if (op == BIN_ADD) for (size_t i = 0; i < count; i++) out[i] = a[i] + b[i];
    else if (op == BIN_SUB) for (size_t i = 0; i < count; i++) out[i] = a[i] - b[i];
    else for (size_t i = 0; i < count; i++) out[i] = a[i] * b[i];
  } else if (b_len == 1) {
    const float v = b[0];
    if (op == BIN_ADD) for (size_t i = 0; i < count; i++) out[i] = a[i] + v;
    else if (op == BIN_SUB) for (size_t i = 0; i < count; i++) out[i] = a[i] - v;
    else for (size_t i = 0; i < count; i++) out[i] = a[i] * v;
  } else {
    for (size_t r = 0; r < rows; r++) {
      const float *ar = a + r * cols;
      float *o = out + r * cols;
      if (op == BIN_ADD) for (size_t j = 0; j < cols; j++) o[j] = ar[j] + b[j];
      else if (op == BIN_SUB) for (size_t j = 0; j < cols; j++) o[j] = ar[j] - b[j];
      else for (size_t j = 0; j < cols; j++) o[j] = ar[j] * b[j];
    }
  }
}

/*
 * binary(heap, op, aOffset, bOffset, outOffset, rows, cols, bLength): out = a op b elementwise
 * for a rows x cols matrix a and b of the same size, one row (bLength = cols, repeated down the
 * rows: a bias) or one scalar (bLength = 1); op 0 add, 1 subtract, 2 multiply. May be in place.
 */
static napi_value binary(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 8, argv)) return NULL;
  heap_t heap;
  static const char *const names[] = {"op", "aOffset", "bOffset", "outOffset", "rows", "cols", "bLength"};
  size_t v[7];
  if (!get_heap(env, argv[0], &heap)) return NULL;
  for (size_t i = 0; i < 7; i++) {
    if (!get_size(env, argv[i + 1], names[i], &v[i])) return NULL;
  }
  const size_t op = v[0], rows = v[4], cols = v[5], b_len = v[6];
  if (op > BIN_MUL) return fail(env, "binary: unknown operation code");
  if (b_len != rows * cols && b_len != cols && b_len != 1) return fail(env, "binary: b must have a's size, one row's or one element");
  const float *a = floats_at(env, &heap, v[1], rows * cols, "a");
  const float *b = a ? floats_at(env, &heap, v[2], b_len, "b") : NULL;
  float *out = b ? floats_at(env, &heap, v[3], rows * cols, "out") : NULL;
  if (!out) return NULL;
  binary_rows(op, a, b, out, rows, cols, b_len);
  return undefined(env);
}

/* columnSums(heap, xOffset, outOffset, rows, cols): out[c] = sum over rows of x[r, c]. */
static MULTIVERSION void column_sums(const float *x, float *out, size_t rows, size_t cols) {
  memset(out, 0, cols * sizeof(float));
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    for (size_t j = 0; j < cols; j++) out[j] += xr[j];
  }
}

static napi_value column_sums_binding(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  heap_t heap;
  size_t x_off, out_off, rows, cols;
  if (!get_heap(env, argv[0], &heap) || !get_size(env, argv[1], "xOffset", &x_off) || !get_size(env, argv[2], "outOffset", &out_off) ||
      !get_size(env, argv[3], "rows", &rows) || !get_size(env, argv[4], "cols", &cols))
    return NULL;
  const float *x = floats_at(env, &heap, x_off, rows * cols, "x");
  float *out = x ? floats_at(env, &heap, out_off, cols, "out") : NULL;
  if (!out) return NULL;
  column_sums(x, out, rows, cols);
  return undefined(env);
}

/* Reads `count` sizes from argv into out, each named for its error message. */
static bool get_sizes(napi_env env, napi_value *argv, size_t count, const char *const *names, size_t *out) {
  for (size_t i = 0; i < count; i++) {
    if (!get_size(env, argv[i], names[i], &out[i])) return false;
  }
  return true;
}

/*
 * The arguments of projection and loraGrad: the heap, seven byte offsets, then rows, dIn, dOut,
 * rank (into v[0..10]) and the scale; false with an exception pending when one is wrong.
 */
static bool get_projection_args(napi_env env, napi_callback_info info, const char *kernel, const char *const *names, heap_t *heap,
                                size_t *v, float *scale) {
  napi_value argv[16];
  size_t argc = 16;
  char message[96];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < 13) {
    snprintf(message, sizeof message, "%s: expected 13 arguments", kernel);
    return fail(env, message), false;
  }
  if (!get_heap(env, argv[0], heap) || !get_sizes(env, argv + 1, 11, names, v) || !get_float(env, argv[12], scale)) return false;
  for (size_t i = 7; i < 11; i++) {
    if (v[i] > INT32_MAX) {
      snprintf(message, sizeof message, "%s: dimensions exceed the BLAS index range", kernel);
      return fail(env, message), false;
    }
  }
  return true;
}

/*
 * projection(heap, xOffset, wOffset, biasOffset, loraInOffset, aOffset, bOffset, outOffset,
 *            rows, dIn, dOut, rank, scale): a linear layer with its low-rank update in one call,
 * out = x W + bias + scale (xl A) B, for x and xl [rows, dIn], W [dIn, dOut], bias [dOut],
 * A [dIn, rank], B [rank, dOut]. With rank 0 there is no update (xl, A and B are not read).
 * The bias is written first and both products accumulate onto it (beta = 1), so no pass of its
 * own adds it; (xl A) B costs rows * rank * (dIn + dOut), forming A B would cost dIn * dOut more.
 */
static napi_value projection(napi_env env, napi_callback_info info) {
  static const char *const names[] = {"xOffset", "wOffset", "biasOffset", "loraInOffset", "aOffset", "bOffset", "outOffset",
                                      "rows", "dIn", "dOut", "rank"};
  heap_t heap;
  size_t v[11];
  float scale;
  if (!get_projection_args(env, info, "projection", names, &heap, v, &scale)) return NULL;
  const size_t rows = v[7], d_in = v[8], d_out = v[9], rank = v[10];
  const float *x = floats_at(env, &heap, v[0], rows * d_in, "x");
  const float *w = x ? floats_at(env, &heap, v[1], d_in * d_out, "w") : NULL;
  const float *bias = w ? floats_at(env, &heap, v[2], d_out, "bias") : NULL;
  float *out = bias ? floats_at(env, &heap, v[6], rows * d_out, "out") : NULL;
  if (!out) return NULL;
  const float *xl = NULL, *a = NULL, *b = NULL;
  if (rank > 0) {
    xl = floats_at(env, &heap, v[3], rows * d_in, "loraIn");
    a = xl ? floats_at(env, &heap, v[4], d_in * rank, "a") : NULL;
    b = a ? floats_at(env, &heap, v[5], rank * d_out, "b") : NULL;
    if (!b) return NULL;
  }
  if (rows == 0 || d_out == 0) return undefined(env);
  for (size_t r = 0; r < rows; r++) memcpy(out + r * d_out, bias, d_out * sizeof(float));
  if (d_in > 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d_out, (int)d_in, 1.0f, x, (int)d_in, w, (int)d_out,
                1.0f, out, (int)d_out);
  }
  if (rank > 0 && d_in > 0) {
    float *u = malloc(rows * rank * sizeof(float));
    if (!u) return fail(env, "projection: out of memory");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)rank, (int)d_in, 1.0f, xl, (int)d_in, a, (int)rank,
                0.0f, u, (int)rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d_out, (int)rank, scale, u, (int)rank, b, (int)d_out,
                1.0f, out, (int)d_out);
    free(u);
  }
  return undefined(env);
}

/*
 * loraGrad(heap, dyOffset, loraInOffset, aOffset, bOffset, dInOffset, dAOffset, dBOffset, rows,
 *          dIn, dOut, rank, scale): the gradients of the update scale (xl A) B of
 * {@link projection} for the output gradient dy [rows, dOut]: with t = dy B^T and u = xl A
 * (recomputed: rows * dIn * rank, cheaper than keeping it), d xl = scale t A^T,
 * dA = scale xl^T t and dB = scale u^T dy.
 */
static napi_value lora_grad(napi_env env, napi_callback_info info) {
  static const char *const names[] = {"dyOffset", "loraInOffset", "aOffset", "bOffset", "dInOffset", "dAOffset", "dBOffset",
                                      "rows", "dIn", "dOut", "rank"};
  heap_t heap;
  size_t v[11];
  float scale;
  if (!get_projection_args(env, info, "loraGrad", names, &heap, v, &scale)) return NULL;
  const size_t rows = v[7], d_in = v[8], d_out = v[9], rank = v[10];
  const float *dy = floats_at(env, &heap, v[0], rows * d_out, "dy");
  const float *xl = dy ? floats_at(env, &heap, v[1], rows * d_in, "loraIn") : NULL;
  const float *a = xl ? floats_at(env, &heap, v[2], d_in * rank, "a") : NULL;
  const float *b = a ? floats_at(env, &heap, v[3], rank * d_out, "b") : NULL;
  float *dxl = b ? floats_at(env, &heap, v[4], rows * d_in, "dLoraIn") : NULL;
  float *da = dxl ? floats_at(env, &heap, v[5], d_in * rank, "dA") : NULL;
  float *db = da ? floats_at(env, &heap, v[6], rank * d_out, "dB") : NULL;
  if (!db) return NULL;
  if (rows == 0 || rank == 0 || d_in == 0 || d_out == 0) {
    /* An empty product: every gradient is 0 (BLAS may leave C untouched when k = 0). */
    memset(dxl, 0, rows * d_in * sizeof(float));
    memset(da, 0, d_in * rank * sizeof(float));
    memset(db, 0, rank * d_out * sizeof(float));
    return undefined(env);
  }
  float *t = malloc(2 * rows * rank * sizeof(float));
  if (!t) return fail(env, "loraGrad: out of memory");
  float *u = t + rows * rank;
  const int m = (int)rows, ni = (int)d_in, no = (int)d_out, r = (int)rank;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r, no, 1.0f, dy, no, b, no, 0.0f, t, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, r, ni, 1.0f, xl, ni, a, r, 0.0f, u, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, ni, r, scale, t, r, a, r, 0.0f, dxl, ni);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ni, r, m, scale, xl, ni, t, r, 0.0f, da, r);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, no, m, scale, u, r, dy, no, 0.0f, db, no);
  free(t);
  return undefined(env);
}

/* The OpenBLAS extensions, looked up at run time so that any CBLAS links. */
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

/*
 * blasInfo(): { library, core, threads }: the library's self-description, the kernel set it
 * runs (OpenBLAS's core name; "" when the library cannot say) and its thread count (-1 when it
 * cannot say).
 */
static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  get_threads_fn get_threads = (get_threads_fn)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  get_config_fn get_config = (get_config_fn)dlsym(RTLD_DEFAULT, "openblas_get_config");
  get_config_fn get_core = (get_config_fn)dlsym(RTLD_DEFAULT, "openblas_get_corename");
  napi_value result, library, core, threads;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, get_config ? get_config() : "CBLAS", NAPI_AUTO_LENGTH, &library);
  napi_create_string_utf8(env, get_core ? get_core() : "", NAPI_AUTO_LENGTH, &core);
  napi_create_int32(env, get_threads ? get_threads() : -1, &threads);
  napi_set_named_property(env, result, "library", library);
  napi_set_named_property(env, result, "core", core);
  napi_set_named_property(env, result, "threads", threads);
  return result;
}

/* setBlasThreads(n): true if the library took the setting (OpenBLAS), false otherwise. */
static napi_value set_blas_threads(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  size_t threads;
  if (!get_size(env, argv[0], "threads", &threads)) return NULL;
  if (threads < 1 || threads > 1024) return fail(env, "threads must be in 1..1024");
  set_threads_fn set_threads = (set_threads_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (set_threads) set_threads((int)threads);
  napi_value result;
  napi_get_boolean(env, set_threads != NULL, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor properties[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"biasActivation", NULL, bias_activation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmax", NULL, softmax, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropout", NULL, dropout, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"projection", NULL, projection, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, binary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"columnSums", NULL, column_sums_binding, NULL, NULL, NULL, napi_enumerable, NULL},
      {"loraGrad", NULL, lora_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setBlasThreads", NULL, set_blas_threads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
