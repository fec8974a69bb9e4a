/* moe.h v0.1.0 - MIT or public domain - Mixture-of-Experts layers on the CPU, one header.

   Runs one sparse MoE feed-forward block (router, top-k, expert FFNs, weighted combine) as in
   Mixtral, Qwen-MoE, DeepSeek, OLMoE, gpt-oss and Llama 4, for one token or a batch, from
   weights the caller owns (zero-copy: a pointer into an mmap'ed file is fine).

USAGE
   In exactly one C or C++ file:
       #define MOE_IMPLEMENTATION
       #include "moe.h"
   Elsewhere just #include "moe.h". Minimal program (examples/minimal.c is this, runnable):

       moe_config cfg = moe_config_default();          // Mixtral semantics: softmax, top-2, renorm
       cfg.d_model = 64; cfg.d_ff = 96; cfg.n_experts = 8;
       moe_weights w = {0};                             // row-major [out][in], experts stacked
       w.router.data = router; w.gate.data = gate; w.up.data = up; w.down.data = down;
       moe_layer layer;
       if (moe_layer_init(&layer, &cfg, &w) != MOE_OK) return 1;
       size_t n = moe_workspace_size(&layer, n_tokens);  // 0 means: bad layer or n_tokens
       void *work = malloc(n);                           // or a static arena: moe.h never allocates
       moe_status s = moe_forward(&layer, x, n_tokens, y, work, n);
       if (s != MOE_OK) fprintf(stderr, "moe: %s\n", moe_status_string(s));

WHAT IT COMPUTES (PyTorch notation, per token x of shape [d_model])
       logits  = x @ Wr.T (+ router_bias)                                  # [E]
       scores  = softmax(logits) | sigmoid(logits)                         # cfg.score
       ids     = topk(scores (+ selection_bias), k)   ties: lower expert index wins
       w       = scores[ids]; if norm_topk: w /= sum(w) (skipped when sum <= 0); w *= routed_scale
       y       = sum_{j=0..k-1} w[j] * FFN_{ids[j]}(x)      summed in slot order j = 0, 1, ..., k-1
       FFN_e(x): SWIGLU  down(silu(gate x) * up x)       GEGLU  down(gelu(gate x) * up x)
                 GELU    down(gelu(up x))                RELU   down(relu(up x))
                 SWIGLU_OAI (gpt-oss) g = min(gate x, L), u = clamp(up x, -L, L),
                                      down((u + 1) * g * sigmoid(alpha g))
   MOE_SCORE_SOFTMAX_TOPK selects on logits and takes the softmax over the k selected logits
   (gpt-oss, Granite): the same weights as SOFTMAX with norm_topk = 1.
   Group-limited routing (n_group > 1, DeepSeek): experts form n_group equal groups, each group
   scored by its best score (MOE_GROUP_MAX) or the sum of its best two (MOE_GROUP_TOP2_SUM),
   only the topk_group best groups may be selected from. Shared experts (n_shared > 0) run on
   every token and are added after the routed slots, each scaled by sigmoid(x . shared_gate_w)
   when that vector is given (Qwen2-MoE), else by 1.

   Non-finite input: a token whose x holds NaN or Inf still gets k distinct, valid expert ids
   (NaN scores rank lowest) and its y is non-finite; other tokens of the batch are unaffected.

OPTIONS (#define before including)
   MOE_IMPLEMENTATION   compile the implementation in this translation unit
   MOE_STATIC           make every function static (private to one translation unit)
   MOE_ASSERT(x)        your assert; default assert() from <assert.h>. Only internal invariants
                        are asserted: bad input is reported through moe_status, never asserted.
   MOE_SIMD_SCALAR      portable C kernels
   MOE_SIMD_AVX2        AVX2 + FMA (+ F16C) kernels  (needs -mavx2 -mfma -mf16c or /arch:AVX2)
   MOE_SIMD_AVX512      AVX-512F kernels             (needs -mavx512f -mavx512bw -mf16c ...)
   MOE_SIMD_NEON        ARM NEON kernels (AArch64, or ARMv7 with -mfpu=neon-vfpv4)
                        With none defined the compiler's macros choose: __AVX512F__, then
                        __AVX2__ and __FMA__, then __ARM_NEON, else scalar. Asking for a path the
                        compiler cannot build is an #error. moe_simd_name() says what was built.
   Threads: compiled with OpenMP (-fopenmp), moe_forward runs on cfg.n_threads threads; without
   it, pass your own thread pool through moe_forward_ex (moe_run_opts.parallel_for).

THREAD SAFETY AND MEMORY
   No globals, no allocation, no stdio: moe_forward uses only the caller's workspace. A
   moe_layer is read-only after moe_layer_init, so many threads may run forward passes on one
   layer at once, each with its own workspace. Results are bitwise identical for any thread count.

VERSION HISTORY
   0.1.0 (2026-11-23)  first release: f32/f16/bf16/q8_0/q4_0 weights, scalar/AVX2/AVX-512/NEON
                       kernels, softmax/sigmoid routing, groups, biases, shared experts
*/
#ifndef MOE_H_INCLUDED
#define MOE_H_INCLUDED

#include <stddef.h>

#define MOE_VERSION_MAJOR 0
#define MOE_VERSION_MINOR 1
#define MOE_VERSION_PATCH 0

#ifndef MOEDEF
#ifdef MOE_STATIC
#define MOEDEF static
#else
#define MOEDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ---------------------------------------------------------------------------- */
typedef enum moe_status {
    MOE_OK = 0,
    MOE_ERR_NULL,       /* a required pointer is NULL                                         */
    MOE_ERR_CONFIG,     /* a config field is out of range or inconsistent                     */
    MOE_ERR_WEIGHTS,    /* a weight tensor is missing, or its type or shape is not supported */
    MOE_ERR_OVERFLOW,   /* a size in bytes or elements overflows                              */
    MOE_ERR_ARG,        /* a bad argument: n_tokens < 1, capacity < 0, ...                    */
    MOE_ERR_WORKSPACE,  /* the workspace is smaller than moe_workspace_size() asks for        */
    MOE_ERR_LAYER,      /* the layer was not initialised by moe_layer_init                    */
    MOE_ERR_THREADS     /* more threads asked for than the layer was sized for                */
} moe_status;
MOEDEF const char *moe_status_string(moe_status s);      /* never NULL */

/* ---- types ------------------------------------------------------------------------------ */
typedef enum moe_type {
    MOE_TYPE_F32,   /* float                                                               */
    MOE_TYPE_F16,   /* IEEE binary16                                                       */
    MOE_TYPE_BF16,  /* bfloat16                                                            */
    MOE_TYPE_Q8_0,  /* ggml block: { half d; int8 q[32]; } 34 bytes, value = q*d            */
    MOE_TYPE_Q4_0,  /* ggml block: { half d; uint8 q[16]; } 18 bytes, value = (nibble-8)*d;
                       element i<16 in the low nibble of q[i], i>=16 in the high of q[i-16] */
    MOE_TYPE_COUNT
} moe_type;

typedef enum moe_act {
    MOE_ACT_SWIGLU, MOE_ACT_GEGLU, MOE_ACT_GELU, MOE_ACT_RELU, MOE_ACT_SWIGLU_OAI
} moe_act;
typedef enum moe_score { MOE_SCORE_SOFTMAX, MOE_SCORE_SIGMOID, MOE_SCORE_SOFTMAX_TOPK } moe_score;
typedef enum moe_group_score { MOE_GROUP_MAX, MOE_GROUP_TOP2_SUM } moe_group_score;
typedef enum moe_gate_up_layout {
    MOE_GATE_UP_HALVES,       /* fused [2*d_ff][d_model]: rows 0..d_ff-1 gate, then up      */
    MOE_GATE_UP_INTERLEAVED   /* fused [2*d_ff][d_model]: even rows gate, odd rows up (gpt-oss) */
} moe_gate_up_layout;

typedef struct moe_config {
    int d_model, d_ff, n_experts, top_k;
    moe_act act;            /* expert FFN form                                         */
    moe_score score;        /* router score function                                   */
    int norm_topk;          /* 1: the k selected weights are rescaled to sum to 1      */
    float routed_scale;     /* multiplies the routed weights (DeepSeek-V2 16, V3 2.5)  */
    int n_group;            /* >1: group-limited routing over n_group equal groups     */
    int topk_group;         /* groups kept when n_group > 1                            */
    moe_group_score group_score;
    int weight_on_input;    /* 1: the expert sees w*x and its output is added unscaled (Llama 4) */
    int gelu_tanh;          /* GELU/GEGLU: 0 erf form, 1 tanh approximation            */
    float oai_alpha;        /* SWIGLU_OAI alpha, 1.702                                 */
    float oai_limit;        /* SWIGLU_OAI clamp limit, 7                               */
    int n_shared;           /* always-on shared experts                                */
    int d_ff_shared;        /* their hidden width (each)                               */
    int n_threads;          /* threads (and workspace slots) to size for; 0: all OpenMP gives, or 1 */
} moe_config;
MOEDEF moe_config moe_config_default(void);   /* every field set: Mixtral (softmax, top-2, renorm) */

typedef struct moe_tensor {
    moe_type type;
    const void *data;                 /* all experts stacked on the first axis, or ...      */
    const void *const *expert_data;   /* ... one pointer per expert (NULL when data is set)  */
} moe_tensor;

typedef struct moe_weights {
    moe_tensor router;        /* [n_experts][d_model]                                     */
    moe_tensor gate, up;      /* [n_experts][d_ff][d_model]  (gate unused for GELU/RELU)  */
    moe_tensor down;          /* [n_experts][d_model][d_ff]                               */
    /* optional (NULL data = absent) */
    moe_tensor gate_up;       /* fused [n_experts][2*d_ff][d_model], used when gate and up are absent */
    moe_gate_up_layout gate_up_layout;
    const float *router_bias;      /* [n_experts]  added to the logits (gpt-oss)          */
    const float *selection_bias;   /* [n_experts]  added to scores for selection only (DeepSeek-V3) */
    const float *gate_bias;        /* [n_experts][d_ff]                                   */
    const float *up_bias;          /* [n_experts][d_ff]                                   */
    const float *gate_up_bias;     /* [n_experts][2*d_ff] in gate_up_layout order (instead of the two) */
    const float *down_bias;        /* [n_experts][d_model]                                */
    moe_tensor shared_gate, shared_up; /* [n_shared][d_ff_shared][d_model]                */
    moe_tensor shared_down;        /* [n_shared][d_model][d_ff_shared]                    */
    const float *shared_gate_w;    /* [n_shared][d_model]: scale each shared output by sigmoid(x.g) */
} moe_weights;

/* The layer: public so it can live on the stack or in a struct; its fields are private. */
typedef struct moe__matrix {
    moe_type type;
    const unsigned char *data;              /* expert 0, row 0                               */
    const void *const *expert_data;         /* or per-expert bases                           */
    size_t expert_stride;                   /* bytes between experts (stacked)               */
    size_t row_stride;                      /* bytes between rows                            */
    size_t row_offset;                      /* bytes from an expert's base to its row 0      */
    int rows, cols;
} moe__matrix;
typedef struct moe__bias { const float *p; size_t expert_stride, stride; } moe__bias;
typedef struct moe_layer {
    unsigned magic;
    moe_config cfg;
    moe__matrix router, gate, up, down, sgate, sup, sdown;
    moe__bias gate_bias, up_bias, down_bias;
    const float *router_bias, *selection_bias, *shared_gate_w;
    int n_threads;
    int any_quant;                  /* some matrix needs decoding to f32 panels          */
} moe_layer;

MOEDEF moe_status moe_layer_init(moe_layer *layer, const moe_config *cfg, const moe_weights *w);
/* Bytes of workspace moe_forward needs for n_tokens; 0 for a bad layer, n_tokens < 1 or overflow. */
MOEDEF size_t     moe_workspace_size(const moe_layer *layer, int n_tokens);
/* y = MoE(x). x, y: [n_tokens][d_model]. y may be x itself (in place), but no other overlap. */
MOEDEF moe_status moe_forward(const moe_layer *layer, const float *x, int n_tokens, float *y,
                              void *work, size_t work_size);

/* Bring-your-own thread pool: run task(task_ctx, i, worker) for every i in [0, n_tasks),
   in any order and on any threads, and return when all are done. worker must be in
   [0, n_threads) and no two tasks running at the same time may share a worker number. */
typedef void (*moe_task_fn)(void *task_ctx, int index, int worker);
typedef void (*moe_parallel_for_fn)(void *pool, moe_task_fn task, void *task_ctx, int n_tasks);

typedef struct moe_run_opts {
    int n_threads;                   /* 0: the layer's n_threads; at most that many        */
    moe_parallel_for_fn parallel_for;/* NULL: OpenMP when compiled with it, else serial    */
    void *pool;                      /* passed to parallel_for                              */
    int capacity;                    /* >0: each routed expert takes at most this many tokens,
                                        first come in token order; the others get no routed
                                        output from that slot (Switch). 0: unlimited       */
    int *ids_out;                    /* optional [n_tokens][top_k]: chosen experts          */
    float *weights_out;              /* optional [n_tokens][top_k]: their weights           */
} moe_run_opts;
MOEDEF moe_status moe_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y,
                                 void *work, size_t work_size, const moe_run_opts *opts);
/* Routing only: ids[n_tokens][top_k] and weights[n_tokens][top_k] (either may be NULL), in
   slot order. Needs the same workspace as moe_forward. */
MOEDEF moe_status moe_route(const moe_layer *layer, const float *x, int n_tokens, int *ids,
                            float *weights, void *work, size_t work_size);

/* Weight formats. Bytes of one row of n values (0 if n is not a whole number of blocks). */
MOEDEF size_t     moe_type_row_size(moe_type t, size_t n);
MOEDEF const char *moe_type_name(moe_type t);
/* f32 rows -> type, round to nearest (quantised blocks scale from the block's absolute max). */
MOEDEF moe_status moe_quantize(moe_type t, const float *src, void *dst, size_t n_rows, size_t n_cols);
MOEDEF moe_status moe_dequantize(moe_type t, const void *src, float *dst, size_t n_rows, size_t n_cols);

MOEDEF const char *moe_simd_name(void);       /* "scalar", "avx2", "avx512" or "neon" */

#ifdef __cplusplus
}
#endif
#endif /* MOE_H_INCLUDED */
