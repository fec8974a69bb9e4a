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
       moe_weights w = moe_weights_default();           // row-major [out][in], experts stacked
       w.router.data = router; w.gate.data = gate; w.up.data = up; w.down.data = down;
       moe_layer layer;
       if (moe_layer_init(&layer, &cfg, &w) != MOE_OK) { puts(moe_layer_error(&layer)); return 1; }
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
   (NaN scores rank lowest) and its y is non-finite; other tokens of the batch keep finite
   outputs, equal to what they get without the bad token up to f32 rounding (see below).

OPTIONS (#define before including)
   MOE_IMPLEMENTATION   compile the implementation in this translation unit
   MOE_STATIC           make every function static (private to one translation unit)
   MOE_ASSERT(x)        your assert; default assert() from <assert.h>. Only internal invariants
                        are asserted: bad input is reported through moe_status, never asserted.
   MOE_SIMD_SCALAR      portable C kernels
   MOE_SIMD_AVX2        AVX2 kernels, + FMA and F16C where enabled (-mavx2 -mfma -mf16c, /arch:AVX2);
                        -mavx2 alone works (a multiply and an add instead of each FMA)
   MOE_SIMD_AVX512      AVX-512F kernels             (needs -mavx512f -mavx512bw -mf16c ...)
   MOE_SIMD_NEON        ARM NEON kernels (AArch64, or ARMv7 with -mfpu=neon-vfpv4)
                        With none defined the compiler's macros choose: __AVX512F__, then
                        __AVX2__ (with FMA when -mfma), then __ARM_NEON, else scalar. Asking for a path the
                        compiler cannot build is an #error. moe_simd_name() says what was built.
   MOE_AMX              AMX tiles for batches (cfg.batch_amx): see AMX; MOE_AMX_EMULATE tests them
   MOE_DISPATCH         one binary for every CPU: every path of the target in this one translation
                        unit (x86-64: scalar, avx2, avx2-vnni, avx512, avx512-vnni; AArch64: neon,
                        neon-dotprod), each compiled under its own target pragma, so no -m flags;
                        moe_layer_init picks the best the running CPU supports (cpuid + xgetbv;
                        getauxval on Linux, sysctl on macOS) and the layer keeps it. Force one with
                        moe_config.path; moe_layer_path() says which runs. Each path's output equals
                        the plain build with that path's flags (README: SIMD paths) bit for bit. Needs
                        GCC 8+, clang or MSVC; elsewhere it builds the one default path. The header
                        includes itself once per path as MOE_DISPATCH_SELF (default "moe.h": define
                        it if you renamed the file).
   Threads: compiled with OpenMP (-fopenmp), moe_forward runs on cfg.n_threads threads; without
   it, pass your own thread pool through moe_forward_ex (moe_run_opts.parallel_for).

THREAD SAFETY AND MEMORY
   No globals, no allocation, no stdio: moe_forward uses only the caller's workspace. A
   moe_layer is read-only after moe_layer_init, so many threads may run forward passes on one
   layer at once, each with its own workspace. Results are bitwise identical for any thread count.
   They are not bitwise independent of the batch: an expert that receives at least one vector
   of tokens (16 with AVX-512, 8 AVX2, 4 NEON, 2 scalar) runs the batched kernel, one with fewer
   the dot-product kernel, and the two round differently (both within f32 tolerance).

QUANTISED WEIGHTS (Q8_0, Q4_0, Q2_K..Q6_K, MXFP4)
   An expert with at most 8 tokens in the call runs its Q8_0/Q4_0 matrices as integer dot
   products: each token's input (and hidden) row is quantised once to 8-bit blocks of 32 with an
   f32 scale. Q4_0 uses those 8 bits, as ggml does (the layer's output moves by about 1 % of
   its magnitude against exact activations); Q8_0 adds a second byte of residual (about 3e-5).
   K-quant and MXFP4 matrices do the same on 8-bit activations in blocks of 256 with per-16
   sums (ggml's Q8_K; about 2 % of the output's magnitude). FP8 E4M3 keeps f32 activations:
   one token decodes its rows in registers. Experts with more tokens: with cfg.batch_quant =
   MOE_BATCH_INT (the default) an expert whose matrices are all Q8_0, Q4_0, Q2_K..Q6_K or MXFP4
   (mixed freely) runs them as integer GEMMs on the per-32 quantised activations (Q8_0 as
   16-bit, 256 q1 + q2; the K-quants and MXFP4 on 8-bit q1, so more accurately than their
   few-token Q8_K path), so every expert of such a layer quantises, whatever its token count
   (tests, max |y - ref| / max |ref| against float64: Q4_0 1.2e-2, Q8_0 4.3e-5, Q4_K/Q5_K/Q3_K/
   Q2_K 1.1e-2, Q6_K/MXFP4 1.3e-2; bounds 3e-2, 5e-4, 3e-2), on AVX-512 (VNNI vpdpbusd/vpdpwssd,
   or BW), AVX2 (AVX-VNNI where enabled; not Q6_K/Q3_K, EXACT there, faster), NEON (not
   Q6_K/Q3_K either: byte tiles, sdot by lane with dotprod, smmla with i8mm, else widening
   multiplies; Q8_0 as 256 (w . q1) + w . q2, the same int32 sums) and the scalar path.
   MOE_BATCH_INT8 runs Q8_0 batches on the 8-bit q1 alone (as ggml does: the error of Q4_0's
   class, ~1e-2, for twice the rate) where the path has VNNI; elsewhere it is MOE_BATCH_INT. With
   MOE_BATCH_EXACT, or FP8 (or Q6_K/Q3_K on AVX2 and NEON), they decode the weights to f32 and stay exact to the
   dequantised weights (5e-7). The same rule and quantiser run on every kernel path. VNNI (-mavx512vnni with
   -mavx512bw -mavx512vl, or -mavxvnni) and the AArch64 dotprod extension are used when the
   compiler enables them, and so is i8mm (smmla, e.g. -march=armv8.6-a) for the AArch64
   integer-batch tiles in builds without MOE_DISPATCH (no dispatch pass has it; moe_simd_name()
   still says "neon-dotprod").

BF16 BATCHES
   BF16 matrices are exact by default (f32 activations, rows widened to f32). With
   cfg.batch_bf16 = MOE_BF16_DOT an expert with 2 tokens or more rounds its input and hidden
   rows to bf16 (nearest-even) and runs vdpbf16ps on the rows in place, as ggml does for bf16
   (more than 8 tokens: once per expert, in the batched tiles; 2..16: per unit, two rows x four
   tokens a pass; one token stays exact): tests measure 3.5e-3 of the output's magnitude
   against float64 (bound 1e-2). Only a
   static AVX-512 build with AVX512-BF16 enabled has the kernel (-march=native on Zen 4,
   Sapphire Rapids, Cooper Lake, or -mavx512bf16); elsewhere (MOE_DISPATCH builds too) the
   flag runs EXACT. Rows must be whole blocks of 32 values (d_model, d_ff), or EXACT.

AMX
   With MOE_AMX defined, a static AVX-512 build (with BW) compiled with -mamx-tile -mamx-int8
   -mamx-bf16 (or -march=sapphirerapids and later) has a second batch kernel on AMX tiles, used by
   layers with cfg.batch_amx = 1: the integer batches of Q4_0, Q4_K, Q5_K, Q2_K and MXFP4 (tdpbusd:
   u8 codes x the activations' q1 bytes) and Q8_0 (tdpbsud on the low bytes and tdpbssd on the
   high bytes of its 16-bit activations: the same 256 q1 + q2; MOE_BATCH_INT8's Q8_0 byte tiles:
   tdpbusd), one block of 32 at a time into
   int32 tiles, scaled as the vpdpbusd kernel does: the same int32 sums and the same float steps,
   so the output equals the non-AMX layer's bit for bit (and moe_prepack's tiles are laid out for
   it). MOE_BF16_DOT batches run tdpbf16ps on the bf16 rows in place (another summation order than
   vdpbf16ps: same class of error, not the same bits). Q6_K and Q3_K keep vpdpwssd. The tiles are
   configured and released per call of the kernel (8 rows x 32 tokens). moe_layer_init refuses
   batch_amx = 1 (MOE_ERR_UNSUPPORTED, naming the reason) where the build lacks MOE_AMX (MOE_DISPATCH
   builds never have it), the CPU lacks AMX-TILE/INT8/BF16 or the OS has not enabled the tile
   state for the process: call moe_amx_enable() first. MOE_AMX_EMULATE (with MOE_AMX, no -mamx
   flags) replaces the tile instructions by a portable C model of them (tile config, loads,
   stores, the dot products; slow): how the tests check the AMX path on CPUs without AMX.

MODEL FILES
   moe_gguf_open / moe_st_open parse a GGUF (v2, v3) file or a safetensors checkpoint from
   memory (an mmap: moe.h does no I/O), checking every offset, size and count; moe_gguf_layer /
   moe_st_layer (with config.json's text) fill a moe_config and moe_weights for layer N of
   Mixtral, Qwen2/3-MoE, OLMoE, DeepSeek-V2/V3, gpt-oss, Llama 4, DBRX, Grok, Granite and
   Phi-MoE that point into the file's bytes; pointer tables go into caller memory sized by
   *_layer_mem. Errors name the tensor, key or file offset in the reader's `error` field.

VERSION HISTORY
   0.2.0 (unreleased)  hardening: moe_layer_error() names what init refused; moe_weights_default();
                       MOE_ERR_ALIGN, MOE_ERR_RANGE; sizes above MOE_MAX_DIM / MOE_MAX_EXPERTS and
                       routed_scale 0 refused; ambiguous weights refused; unused fields ignored;
                       routing exact under -ffast-math; AVX2 path without FMA; a traits table row
                       per weight type; external block scales in moe_tensor (scale, scale_rows/cols)
                       MOE_DISPATCH (every path in one binary, chosen per layer), moe_config.path,
                       moe_layer_path(), moe_path_name(), moe_path_supported()
                       integer GEMMs for Q8_0/Q4_0 batches (moe_config.batch_quant, MOE_BATCH_INT
                       by default; MOE_BATCH_EXACT keeps f32 activations), for Q2_K..Q6_K and
                       MXFP4 on x86 and scalar (NEON: not Q6_K/Q3_K; AArch64 i8mm: smmla
                       tiles); vdpbf16ps for BF16 batches (moe_config.batch_bf16)
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
#if defined(__GNUC__) || defined(__clang__)
#define MOEDEF static __attribute__((unused))
#else
#define MOEDEF static
#endif
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
    MOE_ERR_THREADS,    /* more threads asked for than the layer was sized for                */
    MOE_ERR_ALIGN,      /* a float array (x, y, ids/weights out, a bias) is not 4-byte aligned */
    MOE_ERR_RANGE,      /* moe_quantize: a value the type cannot hold (NaN, Inf, overflow)    */
    MOE_ERR_FORMAT,     /* a file is malformed: truncated, bad header, JSON or offsets       */
    MOE_ERR_MISSING,    /* a tensor or metadata key the layer needs is missing               */
    MOE_ERR_DENSE,      /* the layer is a dense FFN, not a MoE block                         */
    MOE_ERR_UNSUPPORTED /* an architecture, tensor type or layout moe.h cannot run           */
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
    MOE_TYPE_Q4_K,  /* ggml K-quant super-blocks of 256 values: 144 bytes                      */
    MOE_TYPE_Q5_K,  /*   176 bytes                                                              */
    MOE_TYPE_Q6_K,  /*   210 bytes                                                              */
    MOE_TYPE_Q2_K,  /*   84 bytes                                                               */
    MOE_TYPE_Q3_K,  /*   110 bytes                                                              */
    MOE_TYPE_MXFP4, /* OCP MX FP4 (E2M1) with an E8M0 scale per 32 values: ggml's block_mxfp4
                       (17 bytes), or split nibbles + scales (moe_tensor.scale, gpt-oss)     */
    MOE_TYPE_F8_E4M3, /* OCP FP8 e4m3fn bytes; f32 scales per block in moe_tensor.scale       */
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

/* Kernel paths (moe_config.path). A plain build has one, picked by MOE_SIMD_* or the compiler's
   flags; a MOE_DISPATCH build has every path of its target and each layer runs one. Each CPU's
   paths are listed worst to best. */
typedef enum moe_path {
    MOE_PATH_AUTO = 0,        /* the best path built in that this CPU runs                     */
    MOE_PATH_SCALAR,          /* portable C                                                     */
    MOE_PATH_AVX2,            /* AVX2 + FMA + F16C                                              */
    MOE_PATH_AVX2_VNNI,       /*   + AVX-VNNI                                                   */
    MOE_PATH_AVX512,          /* AVX-512 F/BW/VL/DQ (+ AVX2, FMA, F16C)                         */
    MOE_PATH_AVX512_VNNI,     /*   + AVX512-VNNI                                                */
    MOE_PATH_NEON,            /* ARM NEON                                                       */
    MOE_PATH_NEON_DOTPROD,    /*   + the dot-product extension (ARMv8.2 dotprod)                */
    MOE_PATH_COUNT
} moe_path;

/* How an expert with more than 8 tokens in a call (a batch) runs its Q8_0, Q4_0, Q2_K..Q6_K and
   MXFP4 matrices. Experts with 1..8 tokens always quantise their activations (see QUANTISED WEIGHTS). */
typedef enum moe_batch_quant {
    MOE_BATCH_INT,    /* integer GEMM: each token's input and hidden rows quantised once per expert
                         with the few-token quantiser (blocks of 32; Q8_0 keeps the residual byte,
                         as 16-bit activations, or on NEON a second byte plane), weights repacked a
                         tile at a time, int32 sums per block. Used when all of the expert's
                         matrices are Q8_0, Q4_0, Q2_K..Q6_K or MXFP4 and the kernel path has an
                         integer GEMM for them (AVX-512 with BW and scalar: all of them; AVX2: not
                         Q6_K/Q3_K; NEON: not Q6_K/Q3_K either); else EXACT (and FP8 always) */
    MOE_BATCH_EXACT,  /* weights decoded to f32, f32 activations: exact to the dequantised weights */
    MOE_BATCH_INT8    /* MOE_BATCH_INT, but Q8_0 batches drop the residual byte: Q8_0 on the
                         8-bit q1 alone, as ggml does and as Q4_0 always is (vpdpbusd on its
                         codes + 128: twice vpdpwssd's rate; the error of Q4_0's INT class, ~1 %
                         of the output, instead of ~4e-5). On paths with VNNI (AVX-512 VNNI,
                         AVX-VNNI); elsewhere as MOE_BATCH_INT. Other types: as MOE_BATCH_INT */
} moe_batch_quant;

/* How an expert with 2 tokens or more runs its BF16 matrices (see BF16 BATCHES). */
typedef enum moe_batch_bf16 {
    MOE_BF16_EXACT,   /* (default) f32 activations, the rows widened to f32: exact to the weights */
    MOE_BF16_DOT      /* activations rounded to bf16 (nearest-even) once per expert, vdpbf16ps on
                         the rows in place (pairs of bf16 products summed in f32; the instruction
                         treats subnormal inputs and results as zero). See BF16 BATCHES.
                         Used where the kernel path has it: a static AVX-512 build with
                         AVX512-BF16 enabled (-march=native on Zen 4, Sapphire Rapids, Cooper
                         Lake; MOE_DISPATCH builds do not) and rows of a multiple of 32 values;
                         elsewhere EXACT. Mixes with MOE_BATCH_INT matrices in one expert. */
} moe_batch_bf16;

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
    moe_path path;          /* kernel path: AUTO (0), or one to force (MOE_ERR_UNSUPPORTED when
                               the build lacks it or the CPU cannot run it)                   */
    moe_batch_quant batch_quant;  /* experts with more than 8 tokens, all of their matrices Q8_0, Q4_0,
                               Q2_K..Q6_K or MXFP4:
                               MOE_BATCH_INT (default) integer GEMM on quantised activations,
                               MOE_BATCH_EXACT f32 activations on dequantised weights */
    moe_batch_bf16 batch_bf16;    /* experts with 2 tokens or more, BF16 matrices: MOE_BF16_EXACT
                               (default) or MOE_BF16_DOT (bf16 activations, vdpbf16ps) */
    int batch_amx;          /* 1: the integer batches of Q8_0, Q4_0, Q4_K, Q5_K, Q2_K, MXFP4 and
                               the MOE_BF16_DOT batches run on AMX tiles (see AMX); 0 (default)
                               never. MOE_ERR_UNSUPPORTED where the build, CPU or OS has no AMX */
} moe_config;
MOEDEF moe_config moe_config_default(void);   /* every field set: Mixtral (softmax, top-2, renorm) */

typedef struct moe_tensor {
    moe_type type;
    const void *data;                 /* all experts stacked on the first axis, or ...      */
    const void *const *expert_data;   /* ... one pointer per expert (NULL when data is set).
                                         The layer keeps the table's address and reads it at
                                         every call: entries may be repointed between calls
                                         (an expert cache), never to NULL, and the table must
                                         outlive the layer */
    /* Block scales stored apart from the values (all zero: none). Stacked (scale) when data is,
       per expert (expert_scale) when expert_data is. Rows count in the tensor as stored (a fused
       gate_up has 2*d_ff rows).
       F8_E4M3: f32 scales, weight = e4m3 * scale, one scale per block of scale_rows x
       scale_cols weights, [n_experts][ceil(rows/scale_rows)][ceil(cols/scale_cols)]: 128 x 128
       (DeepSeek-V3 weight_scale_inv), 1 x cols (per row), rows x cols (per tensor). No scale:
       the bytes are the weights.
       MXFP4: the split layout of gpt-oss's safetensors: data holds 16 bytes of nibbles per 32
       values, scale one E8M0 byte per 32 values, [n_experts][rows][cols/32]; scale_rows and
       scale_cols 0 (or 1 and 32). No scale: ggml's block_mxfp4 (17 bytes per 32 values). */
    const void *scale;
    const void *const *expert_scale;
    int scale_rows, scale_cols;
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
/* Every tensor absent, every bias NULL: start here, then set what the layer has. Valid in C and
   C++ alike (`moe_weights w = {0};` is not valid C++). */
MOEDEF moe_weights moe_weights_default(void);

/* Largest d_model, d_ff and d_ff_shared, and most experts (n_experts + n_shared), that
   moe_layer_init accepts: beyond them some count inside a forward pass would not fit an int. */
#define MOE_MAX_DIM     (1 << 26)
#define MOE_MAX_EXPERTS (1 << 16)

/* The layer: public so it can live on the stack or in a struct; its fields are private. */
typedef struct moe__matrix {
    moe_type type;
    const unsigned char *data;              /* expert 0, row 0                               */
    const void *const *expert_data;         /* or per-expert bases                           */
    size_t expert_stride;                   /* bytes between experts (stacked)               */
    size_t row_stride;                      /* bytes between rows                            */
    size_t row_offset;                      /* bytes from an expert's base to its row 0      */
    int rows, cols;
    /* external block scales (moe_tensor.scale): row n of the matrix is row n*row_mul + row_add
       of the tensor as stored, whose scales start at scale row (that row / scale_rows) */
    int scale_kind;                         /* 0 none, else the type's ext_scale              */
    const unsigned char *scale;             /* stacked scales, expert 0                       */
    const void *const *expert_scale;        /* or per-expert                                  */
    size_t scale_expert_stride, scale_row_stride;   /* bytes                                  */
    int scale_rows, scale_cols, row_mul, row_add;
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
    int path;                       /* the moe_path it runs                              */
    int amx;                        /* batches on AMX tiles (cfg.batch_amx, checked)     */
    const unsigned char *pk;        /* moe_prepack's tiles (NULL: none, batches repack)  */
    size_t pk_off[6], pk_es[6];     /* per matrix (gate, up, down, shared gate, up, down): offset in
                                       pk and bytes per expert (0: not pre-packed)        */
    char error[128];                /* why moe_layer_init failed: see moe_layer_error     */
} moe_layer;

MOEDEF moe_status moe_layer_init(moe_layer *layer, const moe_config *cfg, const moe_weights *w);
/* After moe_layer_init failed: a short message that names the culprit (a config field or a
   tensor, and why), e.g. "weights.up: q4_0 rows are blocks of 32 values; columns: 100". "" after
   a successful init; never NULL. It lives in the layer: no globals, nothing allocated. After
   moe_prepack failed, why (the layer stays usable); "" after it succeeded. */
MOEDEF const char *moe_layer_error(const moe_layer *layer);
/* Bytes of workspace moe_forward needs for n_tokens; 0 for a bad layer, n_tokens < 1 or overflow. */
MOEDEF size_t     moe_workspace_size(const moe_layer *layer, int n_tokens);
/* y = MoE(x). x, y: [n_tokens][d_model]. y may be x itself (in place), but no other overlap. */
MOEDEF moe_status moe_forward(const moe_layer *layer, const float *x, int n_tokens, float *y,
                              void *work, size_t work_size);

/* Optional, for batches (prefill): the weights of the experts that run integer batches
   (cfg.batch_quant = MOE_BATCH_INT: Q8_0, Q4_0, Q2_K..Q6_K, MXFP4 on the paths listed there)
   repacked once into caller memory, in the tiles the integer GEMM reads. Without it each call
   repacks an expert's rows into the workspace for every 32 rows it runs (measured: about a
   quarter of a Qwen3-shaped layer's time at 512 tokens). The output is bit for bit the same
   either way; one token and experts with 1..8 tokens read the weights in place as before.
   Cost: the tiles hold one byte per 4-bit code and a float scale per block, about 2x the
   weights' bytes for Q4_0/Q8_0/Q4_K/MXFP4, up to ~5x for Q2_K/Q3_K (README, Performance).
   moe_prepack_size: bytes moe_prepack needs (0: nothing in this layer runs integer batches, or
   a bad layer or overflow). moe_prepack(layer, buf, size): fills buf (any alignment) and
   attaches it: later calls read the tiles from it. buf must outlive its use and not change;
   the tiles are a copy of the weights as they are now: after repointing expert_data entries
   (an expert cache) call moe_prepack again or detach. moe_prepack(layer, NULL, 0) detaches
   (batches repack again). Runs on cfg.n_threads threads with OpenMP. Not concurrently with
   calls that use the layer. Errors: MOE_ERR_NULL, MOE_ERR_LAYER, MOE_ERR_OVERFLOW,
   MOE_ERR_WORKSPACE (size too small; moe_layer_error says by how much); after an error the
   layer is detached. */
MOEDEF size_t     moe_prepack_size(const moe_layer *layer);
MOEDEF moe_status moe_prepack(moe_layer *layer, void *buf, size_t size);

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
    /* Routing from elsewhere, and shards of the experts (all zero: the whole layer, routed
       here). See ROUTED AND SHARDED RUNS above moe_combine. */
    const int *route_ids;            /* optional [n_tokens][top_k]: use this routing ...    */
    const float *route_weights;      /* ... with these weights (as moe_route gives them)    */
    int expert_begin, expert_end;    /* run the routed experts in [begin, end) only; 0, 0: all */
    int skip_shared;                 /* 1: run no shared expert                             */
    float *slot_out;                 /* optional [n_tokens][top_k + n_shared][d_model]: the
                                        output of each slot this call runs, unweighted      */
    float *slot_coef;                /* optional [n_tokens][top_k + n_shared]: every slot's
                                        combine coefficient                                 */
    int *slot_expert;                /* optional [n_tokens][top_k + n_shared]: every slot's
                                        expert (shared ones n_experts + i), -1 if capacity
                                        dropped it                                          */
} moe_run_opts;
MOEDEF moe_status moe_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y,
                                 void *work, size_t work_size, const moe_run_opts *opts);
/* Routing only: ids[n_tokens][top_k] and weights[n_tokens][top_k] (either may be NULL), in
   slot order. Needs the same workspace as moe_forward. */
MOEDEF moe_status moe_route(const moe_layer *layer, const float *x, int n_tokens, int *ids,
                            float *weights, void *work, size_t work_size);

/* ROUTED AND SHARDED RUNS (expert parallelism, experts on other machines or streamed in).
   A token has top_k + n_shared slots: its routed experts in routing order, then the shared
   ones. moe_forward computes every slot's expert output and sums them in slot order, each
   times its coefficient (the routing weight; 1 under weight_on_input, which scales the
   expert's input instead; the shared gate's sigmoid, or 1, for shared slots). moe_run_opts
   splits that up:
   - route_ids / route_weights: the routing (as moe_route returns it, e.g. computed on another
     machine): the router is not run. ids must be in [0, n_experts) (MOE_ERR_ARG if not).
   - expert_begin / expert_end, skip_shared: run only the slots of the routed experts in
     [begin, end) (and the shared experts unless skip_shared). y, if given, is the sum over
     those slots, in slot order.
   - slot_out / slot_coef / slot_expert: each run slot's output (slots not run are left as
     they are), every slot's coefficient and expert. Experts see their tokens in token order,
     and capacity drops by token order, exactly as in moe_forward.
   A token's routing (ids, weights, coefficients) does not depend on the other tokens in the
   call, so each machine may route its own tokens. An expert's output for a token depends only
   on the tokens that expert gets in the call (its kernels change with their number), so when every expert's shard gets all of that expert's
   tokens, in token order, gathering the shards' slot_out into one array and calling
   moe_combine gives moe_forward's y bit for bit. y may be NULL when slot_out is given. */
/* y[t] = sum over slots j of t in order, skipping slots whose slot_expert is < 0, of
   slot_coef[t][j] * slot_out[t][j][:], as moe_forward sums them. slot_expert may be NULL (no
   slot dropped). */
MOEDEF moe_status moe_combine(const moe_layer *layer, int n_tokens, const float *slot_out, const float *slot_coef,
                              const int *slot_expert, float *y);

/* Weight formats. Bytes of one row of n values (0 if n is not a whole number of blocks). */
MOEDEF size_t     moe_type_row_size(moe_type t, size_t n);
MOEDEF const char *moe_type_name(moe_type t);
/* f32 rows -> type, round to nearest (quantised blocks scale from the block's absolute max). */
MOEDEF moe_status moe_quantize(moe_type t, const float *src, void *dst, size_t n_rows, size_t n_cols);
MOEDEF moe_status moe_dequantize(moe_type t, const void *src, float *dst, size_t n_rows, size_t n_cols);

MOEDEF const char *moe_simd_name(void);       /* "scalar", "avx2", "avx512" or "neon": the path built
                                                 (MOE_DISPATCH: the family of the one AUTO picks here) */
MOEDEF const char *moe_path_name(moe_path p);  /* "auto", "scalar", "avx2", "avx2-vnni", "avx512",
                                                 "avx512-vnni", "neon", "neon-dotprod"; "unknown" */
MOEDEF int moe_path_supported(moe_path p);     /* 1: built in, and this CPU runs it (AUTO: 1);
                                                 a plain build answers for its one path without
                                                 asking the CPU (it was built to run there) */
MOEDEF moe_path moe_layer_path(const moe_layer *layer);   /* the path it runs; AUTO for a bad layer */
/* AMX (see AMX at the top): 1 when this build has the AMX path and this process may run it now,
   else 0. On Linux it first asks the kernel for the tile data state (arch_prctl
   ARCH_REQ_XCOMP_PERM, once per process; Linux 5.16+). Call it before moe_layer_init with
   cfg.batch_amx = 1. Builds without MOE_AMX return 0; MOE_AMX_EMULATE builds 1. */
MOEDEF int moe_amx_enable(void);

/* <<<< file readers: declarations >>>> */
/* ---- file readers: a model's MoE layer straight from its GGUF or safetensors bytes --------- */
/* moe.h does no I/O: pass the file's bytes (typically an mmap). Nothing is allocated: the
   safetensors index and each layer's pointer tables / converted vectors live in caller memory
   whose size a query function returns. Every failure returns a moe_status and leaves a message
   that names the culprit (tensor, key or file offset) in the reader's `error` field.
   Hostile input gives an error, never a crash or a read outside the buffers given.
 */

/* One tensor of a file. shape is slowest-first (PyTorch order): GGUF's ne[] reversed, so
   ffn_gate_exps (ne = [d_model, d_ff, n_expert]) reads shape = {n_expert, d_ff, d_model}. */
typedef struct moe_file_tensor {
    const char *name;          /* NOT NUL-terminated in GGUF files: use name_len             */
    size_t name_len;
    int n_dims;                /* 0..8 (GGUF: 1..4); shape[n_dims..7] are 1                  */
    unsigned long long shape[8];
    const char *type_name;     /* "q4_K", "BF16", ... as the file names it                   */
    int file_type;             /* GGUF: ggml type id; safetensors: MOE_ST_DTYPE_*            */
    int runnable;              /* 1: `type` is the moe_type of these bytes as stored         */
    moe_type type;
    const void *data;          /* the tensor's bytes inside the caller's buffer              */
    size_t size;               /* their count                                                */
    size_t offset;             /* of data from the start of its file                         */
    int file;                  /* safetensors: which of the buffers (0 for GGUF)             */
} moe_file_tensor;

/* ---- GGUF (v2, v3; little-endian) ---------------------------------------------------------- */
typedef struct moe_gguf {
    const unsigned char *data;
    size_t size;
    unsigned version;          /* 2 or 3                                                      */
    size_t alignment;          /* general.alignment, default 32                               */
    size_t n_kv, n_tensors;
    size_t kv_at, ti_at, data_at;   /* file offsets: first key, first tensor info, tensor data */
    char arch[32];             /* general.architecture ("" if absent)                         */
    char error[160];           /* why the last call failed; "" after success                  */
} moe_gguf;
/* Checks the whole structure: header, every key/value (all 13 value types, nested arrays),
   general.alignment, every tensor info (dims, type, size, offset aligned, inside the data,
   after the previous tensor). Duplicate keys and tensor names are reported by the lookups
   that meet them. data must stay valid while g is used. */
MOEDEF moe_status moe_gguf_open(moe_gguf *g, const void *data, size_t size);
/* Metadata. get_int takes any integer type or bool; get_float f32/f64 or an integer.
   MOE_ERR_MISSING when absent, MOE_ERR_FORMAT for another type or a duplicate key. */
MOEDEF moe_status moe_gguf_get_int(moe_gguf *g, const char *key, long long *v);
MOEDEF moe_status moe_gguf_get_float(moe_gguf *g, const char *key, double *v);
MOEDEF moe_status moe_gguf_get_str(moe_gguf *g, const char *key, const char **s, size_t *len);
MOEDEF moe_status moe_gguf_tensor(moe_gguf *g, size_t i, moe_file_tensor *t);      /* i < n_tensors */
MOEDEF moe_status moe_gguf_find(moe_gguf *g, const char *name, moe_file_tensor *t);

/* ---- safetensors (one file or the shards of a split checkpoint) ---------------------------- */
enum {   /* moe_file_tensor.file_type of safetensors tensors */
    MOE_ST_DTYPE_BOOL, MOE_ST_DTYPE_U8, MOE_ST_DTYPE_I8, MOE_ST_DTYPE_F8_E4M3, MOE_ST_DTYPE_F8_E5M2,
    MOE_ST_DTYPE_F8_E8M0, MOE_ST_DTYPE_I16, MOE_ST_DTYPE_U16, MOE_ST_DTYPE_F16, MOE_ST_DTYPE_BF16,
    MOE_ST_DTYPE_I32, MOE_ST_DTYPE_U32, MOE_ST_DTYPE_F32, MOE_ST_DTYPE_I64, MOE_ST_DTYPE_U64,
    MOE_ST_DTYPE_F64, MOE_ST_DTYPE_COUNT
};
typedef struct moe_st {
    void *index;               /* inside the caller's memory (moe_st_open)                    */
    size_t n_tensors;          /* over all files                                              */
    int n_files;
    char error[160];
} moe_st;
/* Bytes of memory moe_st_open needs for these files (an index of every tensor and its name).
   Validates each header as moe_st_open does. */
MOEDEF moe_status moe_st_mem_size(moe_st *st, const void *const *files, const size_t *sizes, int n_files,
                                  size_t *bytes);
/* Each file: 8-byte little-endian header length N, N bytes of JSON (strict: UTF-8, escapes,
   depth <= 64, exact integers), then the data. Checks every dtype, shape x dtype size against
   data_offsets, offsets inside the data and not overlapping, names unique across all files,
   __metadata__ a map of strings. The files and mem must stay valid while st is used. */
MOEDEF moe_status moe_st_open(moe_st *st, const void *const *files, const size_t *sizes, int n_files,
                              void *mem, size_t mem_size);
MOEDEF moe_status moe_st_tensor(moe_st *st, size_t i, moe_file_tensor *t);         /* by name order */
MOEDEF moe_status moe_st_find(moe_st *st, const char *name, moe_file_tensor *t);
/* __metadata__[key] of file `file`, unescaped and NUL-terminated into out[cap]. */
MOEDEF moe_status moe_st_metadata(moe_st *st, int file, const char *key, char *out, size_t cap);
/* The distinct shard file names of a model.safetensors.index.json (its weight_map values), in
   order of first appearance, each NUL-terminated, one after another in names[cap] (cap = len
   always suffices). Errors go to st->error (st is not otherwise used). */
MOEDEF moe_status moe_st_index_shards(moe_st *st, const char *json, size_t len, char *names, size_t cap,
                                      int *n_shards);

/* ---- one MoE layer of a model ----------------------------------------------------------------
   Fills cfg (from moe_config_default(): n_threads 0) and w so that they point into the file's
   buffers, ready for moe_layer_init. Per-expert pointer tables, f32 copies of vectors stored
   in f16/bf16 (or misaligned), and transposed copies (MOE_LOAD_TRANSPOSE) go into mem, whose
   size *_layer_mem returns for the same arguments; mem must then outlive the moe_layer.
   Errors: MOE_ERR_ARG (layer out of range), MOE_ERR_DENSE (a dense FFN layer: DeepSeek's
   leading blocks, Llama 4's interleaved ones), MOE_ERR_MISSING (a tensor or key), MOE_ERR_UNSUPPORTED
   (architecture, tensor type or layout), MOE_ERR_FORMAT (shapes that disagree),
   MOE_ERR_ALIGN (an f32 matrix or scale off 4 bytes), MOE_ERR_WORKSPACE (mem too small).
   GGUF: llama.cpp's names and keys; safetensors: Hugging Face names plus the model's
   config.json text (config, config_len). */
#define MOE_LOAD_TRANSPOSE 1u   /* experts stored [in][out] (Llama 4, gpt-oss bf16): copy them,
                                   transposed, into mem (E x d_ff x d_model x 3 elements);
                                   without it such a layer is MOE_ERR_UNSUPPORTED */
MOEDEF moe_status moe_gguf_layer_mem(moe_gguf *g, int layer, size_t *bytes);
MOEDEF moe_status moe_gguf_layer(moe_gguf *g, int layer, moe_config *cfg, moe_weights *w,
                                 void *mem, size_t mem_size);
MOEDEF moe_status moe_st_layer_mem(moe_st *st, const char *config, size_t config_len, int layer,
                                   unsigned flags, size_t *bytes);
MOEDEF moe_status moe_st_layer(moe_st *st, const char *config, size_t config_len, int layer, unsigned flags,
                               moe_config *cfg, moe_weights *w, void *mem, size_t mem_size);
/* <<<< end of file readers: declarations >>>> */

#ifdef __cplusplus
}
#endif
#endif /* MOE_H_INCLUDED */

/* ========================================================================================= */
/*                                     IMPLEMENTATION                                        */
/* ========================================================================================= */
#if defined(MOE_IMPLEMENTATION) && !defined(MOE__PASS_NOW)
#ifndef MOE_IMPLEMENTATION_DONE
#define MOE_IMPLEMENTATION_DONE
#define MOE__IMPL_NOW

/* g++ 12 reports -W(maybe-)uninitialized inside its own AVX-512 intrinsics (the `__Y = __Y`
   idiom of _mm512_undefined_ps) once they are inlined; the warning is about GCC's headers, not this
   code, so it is silenced for the implementation only and restored at its end. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__cplusplus)
#define MOE__GCC_CXX_DIAG 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <string.h>
#include <stdarg.h>
#include <math.h>
#include <limits.h>
#include <stdint.h>
#ifndef MOE_ASSERT
#include <assert.h>
#define MOE_ASSERT(x) assert(x)
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- byte order ---------------------------------------------------------------------------
   Weights, biases and scales are little-endian bytes on every host, as GGUF and safetensors
   store them; inputs and outputs (x, y, weights_out) are native floats. MOE__BE: a big-endian
   host (from the compiler's macros, or MOE_BIG_ENDIAN defined by the user): f32 weights are
   then decoded like the other types instead of being read in place, biases are read byte by
   byte, and only the scalar path exists (the SIMD paths are little-endian machines).
   moe_layer_init checks the guess against the running host. */
#if defined(MOE_BIG_ENDIAN) || (defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) \
    || defined(__BIG_ENDIAN__) || defined(__ARMEB__) || defined(__AARCH64EB__) || defined(__MIPSEB__) || defined(__s390__)
#define MOE__BE 1
#if (defined(MOE_SIMD_AVX2) || defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_NEON))
#error "moe.h: the SIMD paths are little-endian only; a big-endian host builds MOE_SIMD_SCALAR"
#endif
#define MOE_SIMD_SCALAR
#else
#define MOE__BE 0
#endif

/* ---- kernel path selection ---------------------------------------------------------------- */
/* MOE_DISPATCH: every path of the target in this translation unit, each compiled under its own
   target attributes (x86-64 with GCC, clang or MSVC; AArch64 with GCC or clang), the layer
   choosing at moe_layer_init. Elsewhere (a big-endian host, another CPU or compiler) it builds
   the one path a plain build would. MOE__DISPATCHING: 1 x86-64, 2 AArch64. */
#if defined(MOE_DISPATCH) && !MOE__BE && !defined(__TINYC__) && \
    ((defined(__GNUC__) && (__GNUC__ >= 8 || defined(__clang__))) || defined(_MSC_VER))
#if defined(__x86_64__) || defined(_M_X64)
#define MOE__DISPATCHING 1
#elif (defined(__aarch64__) || defined(_M_ARM64)) && !defined(_MSC_VER)
#define MOE__DISPATCHING 2
#endif
#endif
#ifdef MOE__DISPATCHING
#if defined(MOE_SIMD_SCALAR) || defined(MOE_SIMD_AVX2) || defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_NEON)
#error "moe.h: MOE_DISPATCH builds every path; define no MOE_SIMD_* with it (and no -m flags are needed)"
#endif
#ifndef MOE_DISPATCH_SELF
#define MOE_DISPATCH_SELF "moe.h"   /* this file, included once per path: rename it, define this */
#endif
#if MOE__DISPATCHING == 1
#include <immintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
/* AVX-VNNI (256-bit vpdpbusd without AVX-512) needs GCC 11, clang 12, MSVC 2022 */
#if (defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11) \
    || (defined(_MSC_VER) && _MSC_VER >= 1930)
#define MOE__PASS_AVXVNNI 1
#else
#define MOE__PASS_AVXVNNI 0
#endif
#else
#include <arm_neon.h>
#if defined(__linux__) || defined(__ANDROID__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif
/* the dotprod pass (target "arch=armv8.2-a+dotprod", as arm_neon.h declares vdotq_s32): GCC, clang 16 */
#if (defined(__clang__) && __clang_major__ >= 16) || (!defined(__clang__) && defined(__GNUC__))
#define MOE__PASS_DOTPROD 1
#else
#define MOE__PASS_DOTPROD 0
#endif
#endif
#else
#if (defined(MOE_SIMD_SCALAR) + defined(MOE_SIMD_AVX2) + defined(MOE_SIMD_AVX512) + defined(MOE_SIMD_NEON)) > 1
#error "moe.h: define at most one of MOE_SIMD_SCALAR, MOE_SIMD_AVX2, MOE_SIMD_AVX512, MOE_SIMD_NEON"
#endif
#if !defined(MOE_SIMD_SCALAR) && !defined(MOE_SIMD_AVX2) && !defined(MOE_SIMD_AVX512) && !defined(MOE_SIMD_NEON)
#if defined(__AVX512F__)
#define MOE_SIMD_AVX512
#elif defined(__AVX2__)
#define MOE_SIMD_AVX2
#elif defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(__aarch64__) || defined(_M_ARM64)
#define MOE_SIMD_NEON
#else
#define MOE_SIMD_SCALAR
#endif
#endif
#if defined(MOE_SIMD_AVX512) && !defined(__AVX512F__)
#error "moe.h: MOE_SIMD_AVX512 needs AVX-512F enabled in the compiler (-mavx512f, /arch:AVX512)"
#endif
#if defined(MOE_SIMD_AVX2) && !defined(__AVX2__)
#error "moe.h: MOE_SIMD_AVX2 needs AVX2 enabled in the compiler (-mavx2 -mfma, /arch:AVX2)"
#endif
#if defined(MOE_SIMD_NEON) && !(defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(__aarch64__) || defined(_M_ARM64))
#error "moe.h: MOE_SIMD_NEON needs an ARM target with NEON (AArch64, or -mfpu=neon-vfpv4 on ARMv7)"
#endif
#endif
/* cpuid and xgetbv: the x86-64 dispatcher's CPU check, and MOE_AMX's (MOE__AMXCPU) */
#if defined(MOE_AMX) && !defined(MOE__DISPATCHING) && !defined(MOE_AMX_EMULATE) && (defined(__x86_64__) || defined(_M_X64))
#define MOE__AMXCPU 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#endif
#if (defined(MOE__DISPATCHING) && MOE__DISPATCHING == 1) || defined(MOE__AMXCPU)
static void moe__cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int a[4];
    __cpuidex(a, (int)leaf, (int)sub);
    r[0] = (unsigned)a[0]; r[1] = (unsigned)a[1]; r[2] = (unsigned)a[2]; r[3] = (unsigned)a[3];
#else
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
#endif
}
static unsigned long long moe__xcr0(void)   /* the register state the OS saves (XGETBV 0) */
{
#if defined(_MSC_VER) && !defined(__clang__)
    return (unsigned long long)_xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));   /* xgetbv */
    return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif
#if defined(MOE__AMXCPU) && defined(__linux__) && !defined(_MSC_VER)
/* arch_prctl(op, arg) (x86-64 Linux system call 158) without <unistd.h>'s syscall(), which strict
   C99 does not declare: 0 or -errno */
static long moe__arch_prctl(long op, unsigned long arg)
{
    long r;
    __asm__ __volatile__("syscall" : "=a"(r) : "0"(158L), "D"(op), "S"(arg) : "rcx", "r11", "memory");
    return r;
}
#endif
#if defined(MOE_AMX) && !defined(MOE__DISPATCHING)
/* 1: AMX-TILE, AMX-INT8 and AMX-BF16 (cpuid 7.0 edx 24, 25, 22), the OS saving the tile state
   (XCR0 bits 17, 18) and, on Linux 5.16+, this process allowed the tile data
   (ARCH_GET_XCOMP_PERM 0x1022 has bit 18; older kernels without the call: XCR0 says it). The
   emulated tiles run anywhere. */
static int moe__amx_usable(void)
{
#ifdef MOE__AMXCPU
    unsigned r[4];
    moe__cpuid(0, 0, r);
    if (r[0] < 7) return 0;
    moe__cpuid(1, 0, r);
    if (!(r[2] & (1u << 27))) return 0;                            /* no OSXSAVE: no xgetbv */
    moe__cpuid(7, 0, r);
    if ((r[3] & 0x03400000u) != 0x03400000u || (moe__xcr0() & 0x60000ull) != 0x60000ull) return 0;
#if defined(__linux__) && !defined(_MSC_VER)
    {
        unsigned long long perm = 0;
        if (moe__arch_prctl(0x1022, (unsigned long)&perm) == 0) return (int)(perm >> 18 & 1u);
    }
#endif
    return 1;
#else
    return 1;                                                       /* MOE_AMX_EMULATE */
#endif
}
#endif
MOEDEF int moe_amx_enable(void)
{
#if defined(MOE_AMX) && !defined(MOE__DISPATCHING)
#if defined(MOE__AMXCPU) && defined(__linux__) && !defined(_MSC_VER)
    (void)moe__arch_prctl(0x1023, 18);      /* ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA: granted or not, */
#endif                                      /* moe__amx_usable asks                                      */
    return moe__amx_usable();
#else
    return 0;
#endif
}
#define MOE__MAGIC 0x4d4f4531u   /* "MOE1" */
#define MOE__ALIGN 64
#define MOE__MC    64            /* tokens per chunk inside one work unit                    */
#define MOE__NBMAX 96            /* most matrix rows in one work unit                        */
#define MOE__TS    8             /* tokens per task in the routing and combine phases        */

/* ============================== status, names, config ==================================== */
MOEDEF const char *moe_status_string(moe_status s)
{
    switch (s) {
    case MOE_OK:            return "ok";
    case MOE_ERR_NULL:      return "a required pointer is NULL";
    case MOE_ERR_CONFIG:    return "invalid config: a field is out of range or inconsistent";
    case MOE_ERR_WEIGHTS:   return "invalid weights: a tensor is missing, ambiguous, misaligned, or its type/shape is unsupported";
    case MOE_ERR_OVERFLOW:  return "a size overflows: the layer, batch or array is too large";
    case MOE_ERR_ARG:       return "invalid argument: a count, type or option is out of range for this function";
    case MOE_ERR_WORKSPACE: return "workspace too small: see moe_workspace_size()";
    case MOE_ERR_LAYER:     return "layer not initialised by moe_layer_init()";
    case MOE_ERR_THREADS:   return "more threads than the layer was sized for, or a worker number out of range";
    case MOE_ERR_ALIGN:     return "a float array is not 4-byte aligned";
    case MOE_ERR_RANGE:     return "a value is out of range for the weight type (NaN, Inf, or too large to encode)";
    case MOE_ERR_FORMAT:    return "malformed file: truncated, bad header, JSON or offsets (see the reader's error)";
    case MOE_ERR_MISSING:   return "a tensor or metadata key the layer needs is missing";
    case MOE_ERR_DENSE:     return "the layer is a dense FFN, not a MoE block";
    case MOE_ERR_UNSUPPORTED: return "an architecture, tensor type or layout moe.h cannot run";
    }
    return "unknown moe_status";
}

MOEDEF moe_weights moe_weights_default(void)
{
    moe_weights w;
    memset(&w, 0, sizeof w);           /* NULL pointers: every platform moe.h targets has all-zero NULL */
    w.router.type = w.gate.type = w.up.type = w.down.type = w.gate_up.type = MOE_TYPE_F32;
    w.shared_gate.type = w.shared_up.type = w.shared_down.type = MOE_TYPE_F32;
    w.gate_up_layout = MOE_GATE_UP_HALVES;
    return w;
}

MOEDEF moe_config moe_config_default(void)
{
    moe_config c;
    memset(&c, 0, sizeof c);
    c.d_model = 4096; c.d_ff = 14336; c.n_experts = 8; c.top_k = 2;   /* Mixtral 8x7B */
    c.act = MOE_ACT_SWIGLU;
    c.score = MOE_SCORE_SOFTMAX;
    c.norm_topk = 1;
    c.routed_scale = 1.0f;
    c.n_group = 0; c.topk_group = 0; c.group_score = MOE_GROUP_MAX;
    c.weight_on_input = 0;
    c.gelu_tanh = 0;
    c.oai_alpha = 1.702f; c.oai_limit = 7.0f;
    c.n_shared = 0; c.d_ff_shared = 0;
    c.n_threads = 0;
    c.batch_quant = MOE_BATCH_INT;
    c.batch_bf16 = MOE_BF16_EXACT;
    c.batch_amx = 0;
    return c;
}

/* ================================ checked size arithmetic ================================ */
static int moe__mul(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *r = a * b;
    return 1;
}
static int moe__add(size_t a, size_t b, size_t *r)
{
    if (b > (size_t)-1 - a) return 0;
    *r = a + b;
    return 1;
}
/* 0 <= v <= last, for enums read from caller memory; as unsigned, so it stays meaningful (and
   warning-free) where enums are unsigned or short (-fshort-enums on arm-none-eabi) */
static int moe__enum_ok(int v, int last) { return (unsigned)v <= (unsigned)last; }

/* ================================= error messages ======================================== */
/* Messages into a caller-owned buffer, cut to fit; no stdio, so a tiny formatter that knows
   %s (const char *), %d (int), %ld (long) and %zu (size_t). */
static size_t moe__cat(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap) buf[at++] = *s++;
    buf[at] = 0;
    return at;
}
static size_t moe__catu(char *buf, size_t at, size_t cap, unsigned long long u, int neg)
{
    char d[24];
    size_t n = sizeof d - 1;
    d[n] = 0;
    do { d[--n] = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
    if (neg) d[--n] = '-';
    return moe__cat(buf, at, cap, d + n);
}
static void moe__vfmt(char *buf, size_t cap, const char *f, va_list ap)
{
    size_t at = 0;
    char one[2] = { 0, 0 };
    buf[0] = 0;
    for (; *f; f++) {
        long v;
        if (*f != '%') { one[0] = *f; at = moe__cat(buf, at, cap, one); continue; }
        f++;
        if (*f == 's') at = moe__cat(buf, at, cap, va_arg(ap, const char *));
        else if (*f == 'd' || (*f == 'l' && f[1] == 'd')) {
            v = *f == 'd' ? (long)va_arg(ap, int) : va_arg(ap, long);
            if (*f == 'l') f++;
            at = moe__catu(buf, at, cap, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
        } else if (*f == 'z' && f[1] == 'u') { f++; at = moe__catu(buf, at, cap, (unsigned long long)va_arg(ap, size_t), 0); }
        else { MOE_ASSERT(0 && "moe__vfmt: unknown conversion"); return; }
    }
}
/* the layer failed: keep why, and leave it unusable */
static moe_status moe__failf(moe_layer *L, moe_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    moe__vfmt(L->error, sizeof L->error, fmt, ap);
    va_end(ap);
    L->magic = 0;
    return st;
}
/* a call on a valid layer failed (moe_prepack): keep why, the layer stays usable */
static moe_status moe__notef(moe_layer *L, moe_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    moe__vfmt(L->error, sizeof L->error, fmt, ap);
    va_end(ap);
    return st;
}
#define MOE__FAIL(st, who, what) moe__failf(L, st, "%s: %s", who, what)
#define MOE__FAILN(st, who, what, num) moe__failf(L, st, "%s: %s %d", who, what, (int)(num))

MOEDEF const char *moe_layer_error(const moe_layer *L)
{
    if (!L) return "layer: NULL";
    return L->error[0] ? L->error : "";
}

/* ============================ half / bfloat16 conversions ================================ */
static float moe__bits_f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t moe__f_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint16_t moe__rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void moe__wr16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v & 0xff); p[1] = (unsigned char)(v >> 8); }
/* the f32 in 4 little-endian bytes (external block scales) */
static float moe__rdf32(const unsigned char *p)
{
    return moe__bits_f((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}
/* a little-endian f32 (a bias, a weight of an f32 tensor): a plain load on little-endian hosts */
#if MOE__BE
static float moe__ldf_le(const float *f) { return moe__rdf32((const unsigned char *)(const void *)f); }
static void moe__stf_le(float *f, float v)
{
    unsigned char *p = (unsigned char *)(void *)f;
    uint32_t u = moe__f_bits(v);
    p[0] = (unsigned char)u; p[1] = (unsigned char)(u >> 8); p[2] = (unsigned char)(u >> 16); p[3] = (unsigned char)(u >> 24);
}
#define MOE__LDF(p) moe__ldf_le(p)
#else
#define MOE__LDF(p) (*(p))
#endif

static float moe__h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {                                      /* zero or subnormal: m * 2^-24 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (e == 31) return moe__bits_f(sign | 0x7f800000u | (m << 13));
    return moe__bits_f(sign | ((e + 112u) << 23) | (m << 13));
}

static uint16_t moe__f2h(float f)                     /* round to nearest even */
{
    uint32_t x = moe__f_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    uint32_t e, m, h, rem, q, shift, half;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  /* NaN */
    if (ax >= 0x47800000u) return (uint16_t)(sign | 0x7c00u);                          /* inf */
    if (ax >= 0x38800000u) {                                                            /* normal */
        e = (ax >> 23) - 112u; m = ax & 0x7fffffu;
        h = (e << 10) | (m >> 13); rem = m & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    e = ax >> 23;                                       /* subnormal half: q = value / 2^-24 */
    if (e < 102u) return (uint16_t)sign;
    m = (ax & 0x7fffffu) | 0x800000u; shift = 126u - e;
    q = m >> shift; rem = m & ((1u << shift) - 1u); half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

static float moe__bf2f(uint16_t b) { return moe__bits_f((uint32_t)b << 16); }
static uint16_t moe__f2bf(float f)
{
    uint32_t x = moe__f_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);        /* NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* ================================== weight formats ======================================= */
#define MOE__QK 32
#define MOE__Q8_BYTES 34
#define MOE__Q4_BYTES 18

/* Block quantisers, round to nearest as ggml does: Q8_0 d = amax/127, q = round(x/d);
   Q4_0 d = m/-8 with m the value of largest magnitude, q = min(15, trunc(x/d + 8.5)).
   The callers have checked that d fits f16 (moe__quant_range). */
static int moe__finite(float f) { return (moe__f_bits(f) & 0x7f800000u) != 0x7f800000u; }  /* bits: -ffast-math proof */
static float moe__amax(const float *x, int n)
{
    float amax = 0.0f;
    int i;
    for (i = 0; i < n; i++) { float a = fabsf(x[i]); if (a > amax) amax = a; }
    return amax;
}
static void moe__quant_q8_0(const float *x, unsigned char *blk)
{
    float amax = moe__amax(x, MOE__QK), d, id;
    int i;
    d = amax / 127.0f; id = d != 0.0f ? 1.0f / d : 0.0f;
    moe__wr16(blk, moe__f2h(d));
    for (i = 0; i < MOE__QK; i++) {
        float v = roundf(x[i] * id);
        /* for amax near FLT_MIN, 1/d is Inf: x * id is +-Inf or 0 * Inf = NaN, which no int can
           hold; both become 0 (the byte ggml's conversion leaves on x86), tested on the bits.
           The block's f16 scale is 0 then, so it decodes to zeros either way. */
        if (!moe__finite(v)) v = 0.0f;
        if (v > 127.0f) v = 127.0f;
        if (v < -127.0f) v = -127.0f;
        blk[2 + i] = (unsigned char)(signed char)(int)v;
    }
}
static void moe__quant_q4_0(const float *x, unsigned char *blk)
{
    float amax = 0.0f, mx = 0.0f, d, id;
    int i;
    for (i = 0; i < MOE__QK; i++) { float a = fabsf(x[i]); if (a > amax) { amax = a; mx = x[i]; } }
    /* ggml's arithmetic, bytes and all: for amax near FLT_MIN, 1/d is Inf and x * id is +-Inf or
       NaN (0 * Inf), which the tests below turn into nibble 0 or 15 without undefined behaviour
       (the block's f16 scale is 0 then: it decodes to zeros either way) */
    d = mx / -8.0f; id = d != 0.0f ? 1.0f / d : 0.0f;
    moe__wr16(blk, moe__f2h(d));
    for (i = 0; i < 16; i++) {
        float v0 = x[i] * id + 8.5f, v1 = x[16 + i] * id + 8.5f;
        int q0, q1;
        if (!(v0 >= 0.0f)) v0 = 0.0f;
        if (!(v1 >= 0.0f)) v1 = 0.0f;
        q0 = v0 >= 15.0f ? 15 : (int)v0;
        q1 = v1 >= 15.0f ? 15 : (int)v1;
        blk[2 + i] = (unsigned char)(q0 | (q1 << 4));
    }
}

/* ---- K-quants, MXFP4, FP8 E4M3 ---------------------------------------------------------
   Byte layouts are ggml's (ggml-common.h block_q*_K, block_mxfp4); all multi-byte fields are
   little-endian f16. Decoders reproduce ggml's dequantize_row_* bit for bit: the same f32
   operations in the same order. An f16 scale (11 significant bits) times the small integer
   codes is exact in f32, so at most one rounding happens per value and FMA contraction cannot
   change a finite result (only which NaN payload a block with a NaN or Inf f16 scale gives,
   where the compiler fuses d*q - m). Needs moe__bits_f, moe__f_bits, moe__rd16, moe__wr16, moe__h2f, moe__f2h. */
#define MOE__QK_K 256
#define MOE__Q2K_BYTES 84    /* u8 scales[16] (lo 4 bits scale, hi 4 min), u8 qs[64], f16 d, f16 dmin */
#define MOE__Q3K_BYTES 110   /* u8 hmask[32], u8 qs[64], u8 scales[12] (16 x 6 bits), f16 d         */
#define MOE__Q4K_BYTES 144   /* f16 d, f16 dmin, u8 scales[12] (8 x 6-bit scale, 8 x 6-bit min), u8 qs[128] */
#define MOE__Q5K_BYTES 176   /* f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]              */
#define MOE__Q6K_BYTES 210   /* u8 ql[128], u8 qh[64], i8 scales[16], f16 d                        */
#define MOE__MXFP4_BYTES 17  /* u8 e (E8M0), u8 qs[16]: value j in the low nibble of qs[j], 16+j high */

/* round to nearest, ties to even, as ggml's nearest_int; v is clamped to [lo, hi] first; NaN
   (only from out-of-range input) gives 0 like ggml's for the default NaN */
static int moe__nint(float v, int lo, int hi)
{
    if (v != v) return 0;
    if (v < (float)lo) v = (float)lo;
    if (v > (float)hi) v = (float)hi;
    v += 12582912.0f;                                   /* 1.5 * 2^23: the integer lands in the low bits */
    return (int)(moe__f_bits(v) & 0x7fffffu) - 0x400000;
}

/* Q4_K / Q5_K 6-bit scale and min of sub-block j (0..7) in the 12 scale bytes:
   j < 4: s[j] & 63, s[j+4] & 63; j >= 4: low 4 bits in s[j+4] (scale lo, min hi nibble), high 2
   bits in the top bits of s[j-4] (scale) and s[j] (min). */
static void moe__k4_get(const unsigned char *s, int j, int *sc, int *m)
{
    if (j < 4) { *sc = s[j] & 63; *m = s[j + 4] & 63; return; }
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m  = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
}
static void moe__k4_put(unsigned char *s, int j, int sc, int m)   /* s zeroed first */
{
    if (j < 4) { s[j] = (unsigned char)(s[j] | sc); s[j + 4] = (unsigned char)(s[j + 4] | m); return; }
    s[j + 4] = (unsigned char)((sc & 15) | ((m & 15) << 4));
    s[j - 4] = (unsigned char)(s[j - 4] | ((sc >> 4) << 6));
    s[j]     = (unsigned char)(s[j] | ((m >> 4) << 6));
}
/* Q3_K 6-bit scale j (0..15), stored +32: low 4 bits in s[j] (j<8) or s[j-8] >> 4, high 2 bits
   at bit 2*(j/4) of s[8 + j%4] */
static int moe__k3_get(const unsigned char *s, int j)
{
    int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* Q2_K: x = d*sc*q - dmin*m, 16 sub-blocks of 16; value i: 2 bits at shift 2*((i%128)/32) of
   qs[32*(i/128) + i%32], sc/m = scales[i/16] low/high nibble */
static void moe__dec_q2_k(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j, l;
    for (b = 0; b < nb; b++, s += MOE__Q2K_BYTES, y += MOE__QK_K) {
        float d = moe__h2f(moe__rd16(s + 80)), dmin = moe__h2f(moe__rd16(s + 82));
        for (j = 0; j < 16; j++) {                      /* sub-block j: values 16j .. 16j+15 */
            const unsigned char *q = s + 16 + 32 * (j / 8) + 16 * (j & 1);
            int sh = 2 * ((j % 8) / 2);
            float dl = d * (float)(s[j] & 15), ml = dmin * (float)(s[j] >> 4);
            for (l = 0; l < 16; l++) { float v = dl * (float)((q[l] >> sh) & 3); y[16 * j + l] = v - ml; }
        }
    }
}
/* Q3_K: x = d*(sc-32)*(q-4), 16 sub-blocks of 16; q low 2 bits as Q2_K's (qs at 32), high bit
   (set: +4) at bit i/32 of hmask[i%32] */
static void moe__dec_q3_k(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j, l;
    for (b = 0; b < nb; b++, s += MOE__Q3K_BYTES, y += MOE__QK_K) {
        float d = moe__h2f(moe__rd16(s + 108));
        for (j = 0; j < 16; j++) {
            const unsigned char *q = s + 32 + 32 * (j / 8) + 16 * (j & 1), *hm = s + 16 * (j & 1);
            int sh = 2 * ((j % 8) / 2), hb = j / 2;
            float dl = d * (float)moe__k3_get(s + 96, j);
            for (l = 0; l < 16; l++) y[16 * j + l] = dl * (float)(((q[l] >> sh) & 3) - ((hm[l] >> hb) & 1 ? 0 : 4));
        }
    }
}
/* Q4_K: x = d*sc*q - dmin*m, 8 sub-blocks of 32; value i: nibble (i/32)%2 of qs[32*(i/64) + i%32] */
static void moe__dec_q4_k(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j, l, sc, m;
    for (b = 0; b < nb; b++, s += MOE__Q4K_BYTES, y += MOE__QK_K) {
        float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
        for (j = 0; j < 8; j++) {
            const unsigned char *q = s + 16 + 32 * (j / 2);
            int sh = 4 * (j & 1);
            float dl, ml;
            moe__k4_get(s + 4, j, &sc, &m);
            dl = d * (float)sc; ml = dmin * (float)m;
            for (l = 0; l < 32; l++) { float v = dl * (float)((q[l] >> sh) & 15); y[32 * j + l] = v - ml; }
        }
    }
}
/* Q5_K: as Q4_K (qs at 48) plus a fifth bit (+16) at bit i/32 of qh[i%32] */
static void moe__dec_q5_k(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j, l, sc, m;
    for (b = 0; b < nb; b++, s += MOE__Q5K_BYTES, y += MOE__QK_K) {
        float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
        for (j = 0; j < 8; j++) {
            const unsigned char *q = s + 48 + 32 * (j / 2), *qh = s + 16;
            int sh = 4 * (j & 1);
            float dl, ml;
            moe__k4_get(s + 4, j, &sc, &m);
            dl = d * (float)sc; ml = dmin * (float)m;
            for (l = 0; l < 32; l++) {
                float v = dl * (float)(((q[l] >> sh) & 15) | (((qh[l] >> j) & 1) << 4));
                y[32 * j + l] = v - ml;
            }
        }
    }
}
/* Q6_K: x = d*sc*(q-32), 16 sub-blocks of 16, sc int8; value i, h = i/128, k = (i%128)/32,
   l = i%32: low 4 bits nibble k/2 of ql[64h + 32*(k&1) + l], high 2 bits at 2k of qh[32h + l] */
static void moe__dec_q6_k(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j, l;
    for (b = 0; b < nb; b++, s += MOE__Q6K_BYTES, y += MOE__QK_K) {
        float d = moe__h2f(moe__rd16(s + 208));
        for (j = 0; j < 16; j++) {
            int h = j / 8, k = (j % 8) / 2, o = 16 * (j & 1);
            const unsigned char *ql = s + 64 * h + 32 * (k & 1) + o, *qh = s + 128 + 32 * h + o;
            float dl = d * (float)(signed char)s[192 + j];
            for (l = 0; l < 16; l++)
                y[16 * j + l] = dl * (float)((((ql[l] >> (4 * (k >> 1))) & 15) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32);
        }
    }
}

/* MXFP4: E2M1 codes, doubled (ggml's kvalues_mxfp4), times 2^(e-128) = E8M0 scale / 2. Like
   ggml (and HF's ldexp(v, e-127)) E8M0 0xFF is not NaN: it scales by 2^127 (x2 doubling), so the
   block decodes to 0, +-2^127 and +-Inf. e = 0 gives 2^-128 (f32 subnormal, exact). */
static const signed char moe__fp4x2[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };
static float moe__e8m0_half(unsigned e)
{
    return moe__bits_f(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}
static void moe__dec_mxfp4(const unsigned char *s, size_t nb, float *y)
{
    size_t b;
    int j;
    for (b = 0; b < nb; b++, s += MOE__MXFP4_BYTES, y += 32) {
        float d = moe__e8m0_half(s[0]);
        for (j = 0; j < 16; j++) {
            y[j]      = (float)moe__fp4x2[s[1 + j] & 15] * d;
            y[16 + j] = (float)moe__fp4x2[s[1 + j] >> 4] * d;
        }
    }
}
/* gpt-oss safetensors (*_blocks, *_scales): 16 bytes per block of 32 in nib, value 2j in the
   low nibble of byte j and 2j+1 in the high one (interleaved); one E8M0 byte per block in e */
static void moe__dec_mxfp4_split(const unsigned char *nib, const unsigned char *e, size_t nb, float *y)
{
    size_t b;
    int j;
    for (b = 0; b < nb; b++, nib += 16, y += 32) {
        float d = moe__e8m0_half(e[b]);
        for (j = 0; j < 16; j++) {
            y[2 * j]     = (float)moe__fp4x2[nib[j] & 15] * d;
            y[2 * j + 1] = (float)moe__fp4x2[nib[j] >> 4] * d;
        }
    }
}

/* FP8 E4M3 (OCP e4m3fn): s.eeee.mmm, bias 7, no Inf, S.1111.111 NaN, e = 0 subnormal m*2^-9;
   0x7e = 448, 0x01 = 2^-9. One byte per value; block scales are applied by the caller. */
static float moe__e4m3_to_f32(unsigned char b)
{
    uint32_t sign = (uint32_t)(b & 0x80u) << 24, e = (b >> 3) & 15u, m = b & 7u;
    if (e == 0) return moe__bits_f(moe__f_bits((float)m * 0.001953125f) | sign);   /* m * 2^-9 */
    if (e == 15 && m == 7) return moe__bits_f(sign | 0x7fc00000u);
    return moe__bits_f(sign | ((e + 120u) << 23) | (m << 20));
}
/* round to nearest even; NaN -> 0x7f/0xff; magnitudes >= 448 (Inf included) saturate to +-448
   (0x7e: OCP's saturating mode; torch and ml_dtypes give NaN for > 464 and for Inf) */
static unsigned char moe__f32_to_e4m3(float f)
{
    uint32_t x = moe__f_bits(f), ax = x & 0x7fffffffu;
    unsigned s = (x >> 24) & 0x80u;
    if (ax > 0x7f800000u) return (unsigned char)(s | 0x7fu);
    if (ax >= 0x43e00000u) return (unsigned char)(s | 0x7eu);
    if (ax >= 0x3c800000u) {                              /* >= 2^-6: normal, round at bit 20 */
        uint32_t r = ax + 0x7ffffu + ((ax >> 20) & 1u);
        return (unsigned char)(s | ((r >> 20) - (120u << 3)));
    }
    return (unsigned char)(s | (unsigned)moe__nint(moe__bits_f(ax) * 512.0f, 0, 8));  /* m * 2^-9 */
}
static void moe__dec_f8_e4m3(const unsigned char *s, size_t nb, float *y)
{
    size_t i;
    for (i = 0; i < nb; i++) y[i] = moe__e4m3_to_f32(s[i]);
}
static void moe__enc_f8_e4m3(const float *x, size_t nb, unsigned char *o)
{
    size_t i;
    for (i = 0; i < nb; i++) o[i] = moe__f32_to_e4m3(x[i]);
}

/* ---- encoders (callers have checked max_abs; NaN/Inf never reach the block encoders) -------
   MXFP4 and Q6_K reproduce ggml's quantize_row_*_ref bit for bit. Q2_K, Q3_K, Q4_K, Q5_K use
   a simpler scheme than ggml's scale search, with the same or lower RMS error on Gaussian data:
   Q2_K, Q4_K, Q5_K (x = d*sc*q - dmin*m): per sub-block scale = (max - lo)/qmax, min = -lo,
   lo = min(0, min x), then two least-squares refits of (scale, min) to the rounded levels
   (never past those bounds); d, dmin = largest scale, min / 63 (Q2_K: 15) as f16; each
   sub-block takes the codes nearest scale/d, min/dmin or one of their +-1 neighbours, whichever
   gives the least squared error; values round to the nearest level. Q3_K: see moe__enc_q3_k. */

/* MXFP4, as ggml: e = floor(log2f(amax)) - 2 + 127 (log2f as ggml: a float log2 that rounds up
   to 2^k for amax a few ulps below 2^k, then e is one more than the exponent), each value the
   nearest of +-{0,.5,1,1.5,2,3,4,6} * 2^(e-127), ties to the smaller magnitude. Values past
   6 * 2^(e-127) (amax in (1.5, 2) * 2^k) clip, as in OCP's reference. */
static void moe__enc_mxfp4(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, k;
    for (b = 0; b < nb; b++, x += 32, o += MOE__MXFP4_BYTES) {
        float amax = 0.0f, d;
        int e = 0;
        for (i = 0; i < 32; i++) if (amax < fabsf(x[i])) amax = fabsf(x[i]);
        if (amax > 0.0f) {          /* e < 0 (amax < 2^-125): 0, where ggml's cast is undefined */
            float f = floorf(log2f(amax)) + 125.0f;
            e = f < 0.0f ? 0 : f > 254.0f ? 254 : (int)f;
        }
        o[0] = (unsigned char)e;
        d = moe__e8m0_half((unsigned)e);
        memset(o + 1, 0, 16);
        for (i = 0; i < 32; i++) {
            float a = fabsf(x[i]), best = a;
            int q = 0;
            for (k = 1; k < 8; k++) {
                float v = (float)moe__fp4x2[k] * d, err;
                if (!(v <= 3.402823466e38f)) break;             /* level overflows (amax near FLT_MAX) */
                err = fabsf(v - a);
                if (err < best) { best = err; q = k; }
            }
            if (q && x[i] < 0.0f) q |= 8;
            o[1 + i % 16] = (unsigned char)(o[1 + i % 16] | (q << (4 * (i / 16))));
        }
    }
}

/* Q6_K sub-block of 16, as ggml's make_qx_quants(nmax 32, weights x^2): round x*iscale with
   iscale = -(32 + is/10)/max, is = 0, -9..9, keep the least-squares scale of the best try.
   L gets q + 32 in 0..63; returns the scale. */
static float moe__q6k_sub(const float *x, int *L)
{
    float amax = 0.0f, mx = 0.0f, scale = 0.0f, best = 0.0f;
    int i, t;
    for (i = 0; i < 16; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); mx = x[i]; }
    for (i = 0; i < 16; i++) L[i] = 0;
    if (amax < 1e-15f) return 0.0f;
    for (t = 0; t < 19; t++) {
        int is = t == 0 ? 0 : t <= 9 ? t - 10 : t - 9;
        float iscale = -(32.0f + 0.1f * (float)is) / mx, sumlx = 0.0f, suml2 = 0.0f;
        for (i = 0; i < 16; i++) {
            float l = (float)moe__nint(iscale * x[i], -32, 31), w = x[i] * x[i], p = w * x[i] * l, p2 = w * l * l;
            sumlx += p; suml2 += p2;
        }
        if (t == 0 || (suml2 > 0.0f && sumlx * sumlx > best * suml2)) {
            scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
            best = scale * sumlx;
            for (i = 0; i < 16; i++) L[i] = 32 + moe__nint(iscale * x[i], -32, 31);
        }
    }
    return scale;
}
static void moe__enc_q6_k(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, j, L[MOE__QK_K];
    for (b = 0; b < nb; b++, x += MOE__QK_K, o += MOE__Q6K_BYTES) {
        float sc[16], amax = 0.0f, mx = 0.0f, iscale, d;
        for (j = 0; j < 16; j++) {
            sc[j] = moe__q6k_sub(x + 16 * j, L + 16 * j);
            if (fabsf(sc[j]) > amax) { amax = fabsf(sc[j]); mx = sc[j]; }
        }
        memset(o, 0, MOE__Q6K_BYTES);
        if (amax < 1e-15f) continue;
        iscale = -128.0f / mx;
        moe__wr16(o + 208, moe__f2h(1.0f / iscale));
        d = moe__h2f(moe__rd16(o + 208));
        for (j = 0; j < 16; j++) {
            int s = moe__nint(iscale * sc[j], -128, 127);
            float dl = d * (float)s;
            o[192 + j] = (unsigned char)(signed char)s;
            if (dl != 0.0f) for (i = 0; i < 16; i++) L[16 * j + i] = 32 + moe__nint(x[16 * j + i] / dl, -32, 31);
        }
        for (i = 0; i < MOE__QK_K; i++) {
            int h = i / 128, k = (i % 128) / 32, l = i % 32;
            o[64 * h + 32 * (k & 1) + l] = (unsigned char)(o[64 * h + 32 * (k & 1) + l] | ((L[i] & 15) << (4 * (k >> 1))));
            o[128 + 32 * h + l] = (unsigned char)(o[128 + 32 * h + l] | ((L[i] >> 4) << (2 * k)));
        }
    }
}

/* affine K-quants (Q2_K, Q4_K, Q5_K): n sub-blocks of len values, levels 0..qmax, scale and min
   codes 0..smax. Writes f16 d, dmin to dd, the codes to sc[], m[], the levels to L. */
static void moe__kq_affine(const float *x, int n, int len, int qmax, int smax,
                           unsigned char *dd, int *sc, int *m, int *L)
{
    float scale[16], mn[16], smx = 0.0f, mmx = 0.0f, d, dmin;
    int i, j, it;
    for (j = 0; j < n; j++) {
        float lo = 0.0f, hi = x[j * len], s0;
        for (i = 0; i < len; i++) {
            if (x[j * len + i] < lo) lo = x[j * len + i];
            if (x[j * len + i] > hi) hi = x[j * len + i];
        }
        s0 = scale[j] = (hi - lo) / (float)qmax; mn[j] = -lo;
        for (it = 0; it < 2 && scale[j] > 0.0f; it++) {   /* 2 least-squares refits of scale and min */
            float sx = 0.0f, sxl = 0.0f, det, p, q, a, c;
            int sl = 0, sl2 = 0;
            for (i = 0; i < len; i++) {
                int l = moe__nint((x[j * len + i] + mn[j]) / scale[j], 0, qmax);
                float t = x[j * len + i] * (float)l;
                sl += l; sl2 += l * l; sx += x[j * len + i]; sxl += t;
            }
            if (len * sl2 - sl * sl <= 0) break;
            det = (float)(len * sl2 - sl * sl);
            p = (float)len * sxl; q = sx * (float)sl; a = (p - q) / det;
            p = (float)sl2 * sx;  q = (float)sl * sxl; c = (p - q) / det;
            if (c > 0.0f) { c = 0.0f; a = sxl / (float)sl2; }
            if (c < lo) c = lo;              /* min in [0, -lo], scale in (0, (hi-lo)/qmax]: */
            if (!(a > 0.0f && a <= s0)) break;   /* the bounds max_abs rests on */
            scale[j] = a; mn[j] = -c;
        }
        if (scale[j] > smx) smx = scale[j];
        if (mn[j] > mmx) mmx = mn[j];
    }
    moe__wr16(dd, moe__f2h(smx / (float)smax));
    moe__wr16(dd + 2, moe__f2h(mmx / (float)smax));
    d = moe__h2f(moe__rd16(dd)); dmin = moe__h2f(moe__rd16(dd + 2));
    for (j = 0; j < n; j++) {       /* codes against the f16-rounded d, dmin; then the best of +-1 */
        int s0 = d > 0.0f ? moe__nint(scale[j] / d, 0, smax) : 0, ds, dm;
        int m0 = dmin > 0.0f ? moe__nint(mn[j] / dmin, 0, smax) : 0;
        float best = -1.0f;
        for (ds = -1; ds <= 1; ds++)
            for (dm = -1; dm <= 1; dm++) {
                int cs = s0 + ds, cm = m0 + dm;
                float dl = d * (float)cs, ml = dmin * (float)cm, err = 0.0f;
                if (cs < 0 || cs > smax || cm < 0 || cm > smax) continue;
                for (i = 0; i < len; i++) {
                    int q = dl > 0.0f ? moe__nint((x[j * len + i] + ml) / dl, 0, qmax) : 0;
                    float v = dl * (float)q, r = v - ml, e = r - x[j * len + i], e2 = e * e;
                    err += e2;
                }
                if (best < 0.0f || err < best) { best = err; sc[j] = cs; m[j] = cm; }
            }
        {
            float dl = d * (float)sc[j], ml = dmin * (float)m[j];
            for (i = 0; i < len; i++) L[j * len + i] = dl > 0.0f ? moe__nint((x[j * len + i] + ml) / dl, 0, qmax) : 0;
        }
    }
}
static void moe__enc_q2_k(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, sc[16], m[16], L[MOE__QK_K];
    unsigned char dd[4];
    for (b = 0; b < nb; b++, x += MOE__QK_K, o += MOE__Q2K_BYTES) {
        moe__kq_affine(x, 16, 16, 3, 15, dd, sc, m, L);
        memset(o, 0, MOE__Q2K_BYTES);
        for (i = 0; i < 16; i++) o[i] = (unsigned char)(sc[i] | (m[i] << 4));
        for (i = 0; i < MOE__QK_K; i++) o[16 + 32 * (i / 128) + i % 32] |= (unsigned char)(L[i] << (2 * ((i % 128) / 32)));
        memcpy(o + 80, dd, 4);
    }
}
static void moe__enc_q4_k(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, sc[16], m[16], L[MOE__QK_K];
    for (b = 0; b < nb; b++, x += MOE__QK_K, o += MOE__Q4K_BYTES) {
        memset(o, 0, MOE__Q4K_BYTES);
        moe__kq_affine(x, 8, 32, 15, 63, o, sc, m, L);
        for (i = 0; i < 8; i++) moe__k4_put(o + 4, i, sc[i], m[i]);
        for (i = 0; i < MOE__QK_K; i++) o[16 + 32 * (i / 64) + i % 32] |= (unsigned char)(L[i] << (4 * ((i / 32) & 1)));
    }
}
static void moe__enc_q5_k(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, sc[16], m[16], L[MOE__QK_K];
    for (b = 0; b < nb; b++, x += MOE__QK_K, o += MOE__Q5K_BYTES) {
        memset(o, 0, MOE__Q5K_BYTES);
        moe__kq_affine(x, 8, 32, 31, 63, o, sc, m, L);
        for (i = 0; i < 8; i++) moe__k4_put(o + 4, i, sc[i], m[i]);
        for (i = 0; i < MOE__QK_K; i++) {
            o[48 + 32 * (i / 64) + i % 32] |= (unsigned char)((L[i] & 15) << (4 * ((i / 32) & 1)));
            o[16 + i % 32] |= (unsigned char)((L[i] >> 4) << (i / 32));
        }
    }
}
/* Q3_K (x = d*(sc-32)*(q-4)): sub-block scale = (value of largest |x|) / -4, so that value lands
   on level -4, then one least-squares refit that may only shrink it; the 16 scales coded as
   6-bit signed against the largest (-32), d = that scale / -32 as f16 (as ggml) */
static void moe__enc_q3_k(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    int i, j, L[MOE__QK_K];
    for (b = 0; b < nb; b++, x += MOE__QK_K, o += MOE__Q3K_BYTES) {
        float scale[16], amax = 0.0f, mx = 0.0f, d;
        for (j = 0; j < 16; j++) {
            float a = 0.0f, v = 0.0f;
            for (i = 0; i < 16; i++) if (fabsf(x[16 * j + i]) > a) { a = fabsf(x[16 * j + i]); v = x[16 * j + i]; }
            scale[j] = v / -4.0f;
            if (a > 0.0f) {                  /* least-squares refit, only ever shrinking the scale */
                float sxl = 0.0f, r;
                int sl2 = 0;
                for (i = 0; i < 16; i++) {
                    int l = moe__nint(x[16 * j + i] / scale[j], -4, 3);
                    float t = x[16 * j + i] * (float)l;
                    sxl += t; sl2 += l * l;
                }
                r = sxl / (float)sl2;
                if (fabsf(r) < fabsf(scale[j]) && r * scale[j] > 0.0f) scale[j] = r;
            }
            if (fabsf(scale[j]) > amax) { amax = fabsf(scale[j]); mx = scale[j]; }
        }
        memset(o, 0, MOE__Q3K_BYTES);
        if (amax > 0.0f) {
            float iscale = -32.0f / mx;
            moe__wr16(o + 108, moe__f2h(mx / -32.0f));
            for (j = 0; j < 16; j++) {
                int l = moe__nint(iscale * scale[j], -32, 31) + 32;
                o[96 + j % 8] |= (unsigned char)((l & 15) << (4 * (j / 8)));
                o[96 + 8 + j % 4] |= (unsigned char)((l >> 4) << (2 * (j / 4)));
            }
        }
        d = moe__h2f(moe__rd16(o + 108));
        for (j = 0; j < 16; j++) {
            float dl = d * (float)moe__k3_get(o + 96, j);
            for (i = 0; i < 16; i++) L[16 * j + i] = dl != 0.0f ? moe__nint(x[16 * j + i] / dl, -4, 3) + 4 : 4;
        }
        for (i = 0; i < MOE__QK_K; i++) {
            o[32 + 32 * (i / 128) + i % 32] |= (unsigned char)((L[i] & 3) << (2 * ((i % 128) / 32)));
            o[i % 32] |= (unsigned char)((L[i] >> 2) << (i / 32));
        }
    }
}

/* Scalar decoders and encoders of nb blocks (for f32/f16/bf16 a block is one value). The
   scalar decoders are the reference every SIMD decoder matches, and the tail and fallback of
   moe__decode_row. */
#if MOE__BE
static void moe__dec_f32(const unsigned char *s, size_t nb, float *d)
{
    size_t i;
    for (i = 0; i < nb; i++) d[i] = moe__ldf_le((const float *)(const void *)(s + 4 * i));
}
#else
static void moe__dec_f32(const unsigned char *s, size_t nb, float *d) { memcpy(d, s, 4 * nb); }
#endif
static void moe__dec_f16(const unsigned char *s, size_t nb, float *d)
{
    size_t i;
    for (i = 0; i < nb; i++) d[i] = moe__h2f(moe__rd16(s + 2 * i));
}
static void moe__dec_bf16(const unsigned char *s, size_t nb, float *d)
{
    size_t i;
    for (i = 0; i < nb; i++) d[i] = moe__bf2f(moe__rd16(s + 2 * i));
}
static void moe__dec_q8_0(const unsigned char *s, size_t nb, float *d)
{
    size_t b, i;
    for (b = 0; b < nb; b++, s += MOE__Q8_BYTES, d += MOE__QK) {
        float sc = moe__h2f(moe__rd16(s));
        for (i = 0; i < MOE__QK; i++) d[i] = (float)(signed char)s[2 + i] * sc;
    }
}
static void moe__dec_q4_0(const unsigned char *s, size_t nb, float *d)
{
    size_t b, i;
    for (b = 0; b < nb; b++, s += MOE__Q4_BYTES, d += MOE__QK) {
        float sc = moe__h2f(moe__rd16(s));
        for (i = 0; i < 16; i++) {
            d[i]      = (float)((int)(s[2 + i] & 0x0f) - 8) * sc;
            d[16 + i] = (float)((int)(s[2 + i] >> 4) - 8) * sc;
        }
    }
}
#if MOE__BE
static void moe__enc_f32(const float *x, size_t nb, unsigned char *o)
{
    size_t i;
    for (i = 0; i < nb; i++) moe__stf_le((float *)(void *)(o + 4 * i), x[i]);
}
#else
static void moe__enc_f32(const float *x, size_t nb, unsigned char *o) { memcpy(o, x, 4 * nb); }
#endif
static void moe__enc_f16(const float *x, size_t nb, unsigned char *o)
{
    size_t i;
    for (i = 0; i < nb; i++) moe__wr16(o + 2 * i, moe__f2h(x[i]));
}
static void moe__enc_bf16(const float *x, size_t nb, unsigned char *o)
{
    size_t i;
    for (i = 0; i < nb; i++) moe__wr16(o + 2 * i, moe__f2bf(x[i]));
}
static void moe__enc_q8_0(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    for (b = 0; b < nb; b++) moe__quant_q8_0(x + b * MOE__QK, o + b * MOE__Q8_BYTES);
}
static void moe__enc_q4_0(const float *x, size_t nb, unsigned char *o)
{
    size_t b;
    for (b = 0; b < nb; b++) moe__quant_q4_0(x + b * MOE__QK, o + b * MOE__Q4_BYTES);
}

/* ---- the type table: a weight type is one row ---------------------------------------------
   Everything generic about a type lives here (ggml's type_traits pattern): moe_type_name,
   moe_type_row_size, moe_quantize, moe_dequantize and the scalar decoder read it. What is
   type-specific beyond it: the SIMD decoders (moe__decode_row; optional, the scalar decoder
   covers a missing one), the one-token GEMV (moe__gemv_ok says which types have one), and for
   a type with an integer-dot family the integer kernels (moe__qtile for Q8_0/Q4_0, moe__kdot
   for the Q8_K family; each asserts the types it handles). A new type is a row here plus its kernels. */
typedef enum moe__idot {
    MOE__IDOT_NONE,   /* f32 kernels on f32 (decoded) weights                                 */
    MOE__IDOT_Q8_0,   /* int8 weights . 8-bit activations + a residual byte, blocks of 32     */
    MOE__IDOT_Q4_0,   /* 4-bit weights (nibble - 8) . 8-bit activations, blocks of 32         */
    MOE__IDOT_Q8_K    /* K-quant / MXFP4 weights . 8-bit activations in blocks of 256 (Q8_K)  */
} moe__idot;
typedef enum moe__xscale {   /* block scales a tensor of the type may keep apart (moe_tensor.scale) */
    MOE__XS_NONE,
    MOE__XS_F32_BLOCK,        /* f32, one per scale_rows x scale_cols block, multiplied in          */
    MOE__XS_E8M0_32           /* one E8M0 byte per 32 values; the values then take blck/2 bytes      */
} moe__xscale;
typedef struct moe__type_traits {
    const char *name;
    size_t blck, bytes;          /* values and bytes per block (1 and the size for plain types) */
    float max_abs;               /* moe_quantize refuses finite values of larger magnitude      */
    int finite_only;             /* blocks cannot hold NaN or Inf                               */
    moe__idot idot;
    void (*to_float)(const unsigned char *src, size_t n_blocks, float *dst);
    void (*from_float)(const float *src, size_t n_blocks, unsigned char *dst);
    moe__xscale xscale;
    /* MOE__XS_E8M0_32: n_blocks blocks of nibbles (blck/2 bytes each) and their scale bytes */
    void (*to_float_split)(const unsigned char *vals, const unsigned char *scales, size_t n_blocks, float *dst);
} moe__type_traits;
/* max_abs. f16: 65520 and above round to Inf; bf16: above 0x7f7f7fff (3.3961773e38) round to
   Inf. Q8_0, Q4_0: the block's f16 scale, amax/127 or amax/8, must stay finite (at most 65504);
   likewise the K-quants' f16 d and dmin (Q2_K dmin <= amax/15, Q4_K/Q5_K <= amax/63, Q3_K
   d <= amax/128, Q6_K d <= amax/20.7: 2560 leaves margin). MXFP4: every finite amax has an
   E8M0 exponent. F8_E4M3: 464 and above would round past 448, the largest finite code. */
static const moe__type_traits moe__traits[MOE_TYPE_COUNT] = {
    /* MOE_TYPE_F32  */ { "f32",  1, 4, 3.402823466e38f, 0, MOE__IDOT_NONE, moe__dec_f32, moe__enc_f32, MOE__XS_NONE, NULL },
    /* MOE_TYPE_F16  */ { "f16",  1, 2, 65519.996f, 0, MOE__IDOT_NONE, moe__dec_f16, moe__enc_f16, MOE__XS_NONE, NULL },
    /* MOE_TYPE_BF16 */ { "bf16", 1, 2, 3.39617733e38f, 0, MOE__IDOT_NONE, moe__dec_bf16, moe__enc_bf16, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q8_0 */ { "q8_0", MOE__QK, MOE__Q8_BYTES, 65504.0f * 127.0f, 1, MOE__IDOT_Q8_0, moe__dec_q8_0, moe__enc_q8_0, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q4_0 */ { "q4_0", MOE__QK, MOE__Q4_BYTES, 65504.0f * 8.0f, 1, MOE__IDOT_Q4_0, moe__dec_q4_0, moe__enc_q4_0, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q4_K */ { "q4_K", MOE__QK_K, MOE__Q4K_BYTES, 65504.0f * 63.0f, 1, MOE__IDOT_Q8_K, moe__dec_q4_k, moe__enc_q4_k, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q5_K */ { "q5_K", MOE__QK_K, MOE__Q5K_BYTES, 65504.0f * 63.0f, 1, MOE__IDOT_Q8_K, moe__dec_q5_k, moe__enc_q5_k, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q6_K */ { "q6_K", MOE__QK_K, MOE__Q6K_BYTES, 65504.0f * 2560.0f, 1, MOE__IDOT_Q8_K, moe__dec_q6_k, moe__enc_q6_k, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q2_K */ { "q2_K", MOE__QK_K, MOE__Q2K_BYTES, 65504.0f * 15.0f, 1, MOE__IDOT_Q8_K, moe__dec_q2_k, moe__enc_q2_k, MOE__XS_NONE, NULL },
    /* MOE_TYPE_Q3_K */ { "q3_K", MOE__QK_K, MOE__Q3K_BYTES, 65504.0f * 128.0f, 1, MOE__IDOT_Q8_K, moe__dec_q3_k, moe__enc_q3_k, MOE__XS_NONE, NULL },
    /* MOE_TYPE_MXFP4 */ { "mxfp4", MOE__QK, MOE__MXFP4_BYTES, 3.402823466e38f, 1, MOE__IDOT_Q8_K, moe__dec_mxfp4, moe__enc_mxfp4, MOE__XS_E8M0_32, moe__dec_mxfp4_split },
    /* MOE_TYPE_F8_E4M3 */ { "f8_e4m3", 1, 1, 464.0f, 1, MOE__IDOT_NONE, moe__dec_f8_e4m3, moe__enc_f8_e4m3, MOE__XS_F32_BLOCK, NULL }
};
/* a row for every type, or this does not compile */
typedef char moe__traits_rows[(sizeof moe__traits / sizeof moe__traits[0] == MOE_TYPE_COUNT) ? 1 : -1];

static int moe__type_ok(moe_type t) { return moe__enum_ok((int)t, MOE_TYPE_COUNT - 1); }
MOEDEF const char *moe_type_name(moe_type t) { return moe__type_ok(t) ? moe__traits[t].name : "unknown"; }

MOEDEF size_t moe_type_row_size(moe_type t, size_t n)
{
    size_t r;
    if (n == 0 || !moe__type_ok(t) || n % moe__traits[t].blck) return 0;
    return moe__mul(n / moe__traits[t].blck, moe__traits[t].bytes, &r) ? r : 0;
}

/* values i0 .. i0+n of a row of type t, scalar; i0 and n whole blocks */
static void moe__decode_scalar(moe_type t, const unsigned char *src, size_t i0, size_t n, float *dst)
{
    const moe__type_traits *tr = &moe__traits[t];
    tr->to_float(src + i0 / tr->blck * tr->bytes, n / tr->blck, dst);
}
static int moe__isq(moe_type t) { return moe__traits[t].idot != MOE__IDOT_NONE; }

/* Can type t hold these n values? (the row's max_abs and finite_only) */
static int moe__quant_range(moe_type t, const float *x, size_t n)
{
    const moe__type_traits *tr = &moe__traits[t];
    size_t i;
    for (i = 0; i < n; i++) {
        if (!moe__finite(x[i])) { if (tr->finite_only) return 0; }
        else if (fabsf(x[i]) > tr->max_abs) return 0;
    }
    return 1;
}

MOEDEF moe_status moe_quantize(moe_type t, const float *src, void *dst, size_t n_rows, size_t n_cols)
{
    size_t rb, r, total, fb;
    unsigned char *out = (unsigned char *)dst;
    if (!src || !dst) return MOE_ERR_NULL;
    if (!moe__type_ok(t) || n_rows == 0 || n_cols == 0 || n_cols % moe__traits[t].blck) return MOE_ERR_ARG;
    if ((rb = moe_type_row_size(t, n_cols)) == 0) return MOE_ERR_OVERFLOW;
    if (!moe__mul(rb, n_rows, &total) || !moe__mul(n_rows, n_cols, &total) || !moe__mul(total, sizeof(float), &fb))
        return MOE_ERR_OVERFLOW;
    if (!moe__quant_range(t, src, total)) return MOE_ERR_RANGE;
    for (r = 0; r < n_rows; r++)
        moe__traits[t].from_float(src + r * n_cols, n_cols / moe__traits[t].blck, out + r * rb);
    return MOE_OK;
}

MOEDEF moe_status moe_dequantize(moe_type t, const void *src, float *dst, size_t n_rows, size_t n_cols)
{
    size_t rb, r, total, fb;
    if (!src || !dst) return MOE_ERR_NULL;
    if (!moe__type_ok(t) || n_rows == 0 || n_cols == 0 || n_cols % moe__traits[t].blck) return MOE_ERR_ARG;
    if ((rb = moe_type_row_size(t, n_cols)) == 0) return MOE_ERR_OVERFLOW;
    if (!moe__mul(rb, n_rows, &total) || !moe__mul(n_rows, n_cols, &total) || !moe__mul(total, sizeof(float), &fb))
        return MOE_ERR_OVERFLOW;
    for (r = 0; r < n_rows; r++)
        moe__decode_scalar(t, (const unsigned char *)src + r * rb, 0, n_cols, dst + r * n_cols);
    return MOE_OK;
}

enum { MOE__PH_ROUTER, MOE__PH_SCORE, MOE__PH_PACK, MOE__PH_GATEUP, MOE__PH_DOWN, MOE__PH_COMBINE };
/* the public functions of the kernels-to-forward part: static, one per path, in a MOE_DISPATCH build */
#ifdef MOE__DISPATCHING
#define MOE__API static

/* ---- MOE_DISPATCH: the passes --------------------------------------------------------------
   The kernels, the layer setup and the forward pass (everything from "kernels" to "forward
   pass" below) are read once per path: this file includes itself with MOE__PASS_NOW set, the
   pass sets that path's MOE_SIMD_* and feature macros (MOE__X_*) and a target pragma for every
   function in it, and every file-scope name of that part is renamed with the path's suffix
   (moe__gemv -> moe__gemv_avx2). The public entry points after the passes call the layer's
   path. A name of that part missing from the list below is a redefinition error at compile
   time, never a silent mix of paths. */
#define MOE__PN(n) MOE__PN2(n, MOE__SFX)
#define MOE__PN2(n, s) MOE__PN3(n, s)
#define MOE__PN3(n, s) n##_##s
#define moe__act MOE__PN(moe__act)
#define moe__act_row MOE__PN(moe__act_row)
#define moe__amx_bf MOE__PN(moe__amx_bf)
#define moe__amx_bftile MOE__PN(moe__amx_bftile)
#define moe__amx_cfg MOE__PN(moe__amx_cfg)
#define moe__amx_dp MOE__PN(moe__amx_dp)
#define moe__amx_dpbf MOE__PN(moe__amx_dpbf)
#define moe__amx_ftz MOE__PN(moe__amx_ftz)
#define moe__amx_ld MOE__PN(moe__amx_ld)
#define moe__amx_rows MOE__PN(moe__amx_rows)
#define moe__amx_st MOE__PN(moe__amx_st)
#define moe__amx_tc MOE__PN(moe__amx_tc)
#define moe__amx_tile MOE__PN(moe__amx_tile)
#define moe__amxs MOE__PN(moe__amxs)
#define moe__axpy MOE__PN(moe__axpy)
#define moe__base MOE__PN(moe__base)
#define moe__bf_panel MOE__PN(moe__bf_panel)
#define moe__bf_round MOE__PN(moe__bf_round)
#define moe__bf_split MOE__PN(moe__bf_split)
#define moe__bf_tile MOE__PN(moe__bf_tile)
#define moe__bvi MOE__PN(moe__bvi)
#define moe__cap MOE__PN(moe__cap)
#define moe__capf MOE__PN(moe__capf)
#define moe__ceil_div MOE__PN(moe__ceil_div)
#define moe__coefs MOE__PN(moe__coefs)
#define moe__config_check MOE__PN(moe__config_check)
#define moe__ctx MOE__PN(moe__ctx)
#define moe__decode_row MOE__PN(moe__decode_row)
#define moe__decode_scaled MOE__PN(moe__decode_scaled)
#define moe__dim_ok MOE__PN(moe__dim_ok)
#define moe__dispatch MOE__PN(moe__dispatch)
#define moe__do MOE__PN(moe__do)
#define moe__expert_q MOE__PN(moe__expert_q)
#define moe__f8_cvt MOE__PN(moe__f8_cvt)
#define moe__f8_decode_row MOE__PN(moe__f8_decode_row)
#define moe__f8_gemv MOE__PN(moe__f8_gemv)
#define moe__f8_row MOE__PN(moe__f8_row)
#define moe__f8_vec MOE__PN(moe__f8_vec)
#define moe__f8acc MOE__PN(moe__f8acc)
#define moe__few4 MOE__PN(moe__few4)
#define moe__few4d MOE__PN(moe__few4d)
#define moe__fp4_dot MOE__PN(moe__fp4_dot)
#define moe__fp4_vecs MOE__PN(moe__fp4_vecs)
#define moe__gated MOE__PN(moe__gated)
#define moe__gelu MOE__PN(moe__gelu)
#define moe__gemm MOE__PN(moe__gemm)
#define moe__gemv MOE__PN(moe__gemv)
#define moe__gemv_bf16s MOE__PN(moe__gemv_bf16s)
#define moe__gemv_ok MOE__PN(moe__gemv_ok)
#define moe__gemv_row MOE__PN(moe__gemv_row)
#define moe__gemvm MOE__PN(moe__gemvm)
#define moe__gemvm_down MOE__PN(moe__gemvm_down)
#define moe__has MOE__PN(moe__has)
#define moe__hsum256 MOE__PN(moe__hsum256)
#define moe__hsum_neon MOE__PN(moe__hsum_neon)
#define moe__hsum_s32 MOE__PN(moe__hsum_s32)
#define moe__ib_deck MOE__PN(moe__ib_deck)
#define moe__ib_down MOE__PN(moe__ib_down)
#define moe__ib_e MOE__PN(moe__ib_e)
#define moe__ib_gateup MOE__PN(moe__ib_gateup)
#define moe__ib_kind MOE__PN(moe__ib_kind)
#define moe__ib_lanes MOE__PN(moe__ib_lanes)
#define moe__ib_mpack MOE__PN(moe__ib_mpack)
#define moe__ib_mtile MOE__PN(moe__ib_mtile)
#define moe__ib_pack MOE__PN(moe__ib_pack)
#define moe__ib_pack0 MOE__PN(moe__ib_pack0)
#define moe__ib_pack4 MOE__PN(moe__ib_pack4)
#define moe__ib_packk MOE__PN(moe__ib_packk)
#define moe__ib_packk4 MOE__PN(moe__ib_packk4)
#define moe__ib_panel MOE__PN(moe__ib_panel)
#define moe__ib_qpanel MOE__PN(moe__ib_qpanel)
#define moe__ib_qtok MOE__PN(moe__ib_qtok)
#define moe__ib_tile MOE__PN(moe__ib_tile)
#define moe__ib_tilebytes MOE__PN(moe__ib_tilebytes)
#define moe__ib_tokbytes MOE__PN(moe__ib_tokbytes)
#define moe__ibt MOE__PN(moe__ibt)
#define moe__in_shard MOE__PN(moe__in_shard)
#define moe__inplace MOE__PN(moe__inplace)
#define moe__k3_sc MOE__PN(moe__k3_sc)
#define moe__k4_dlml MOE__PN(moe__k4_dlml)
#define moe__k4_msum MOE__PN(moe__k4_msum)
#define moe__k4_scm MOE__PN(moe__k4_scm)
#define moe__kdot MOE__PN(moe__kdot)
#define moe__kdot_mxfp4 MOE__PN(moe__kdot_mxfp4)
#define moe__kdot_mxfp4_ref MOE__PN(moe__kdot_mxfp4_ref)
#define moe__kdot_q2_k MOE__PN(moe__kdot_q2_k)
#define moe__kdot_q2_k_ref MOE__PN(moe__kdot_q2_k_ref)
#define moe__kdot_q3_k MOE__PN(moe__kdot_q3_k)
#define moe__kdot_q3_k_ref MOE__PN(moe__kdot_q3_k_ref)
#define moe__kdot_q45_ref MOE__PN(moe__kdot_q45_ref)
#define moe__kdot_q4_k MOE__PN(moe__kdot_q4_k)
#define moe__kdot_q5_k MOE__PN(moe__kdot_q5_k)
#define moe__kdot_q6_k MOE__PN(moe__kdot_q6_k)
#define moe__kdot_q6_k_ref MOE__PN(moe__kdot_q6_k_ref)
#define moe__kfin1 MOE__PN(moe__kfin1)
#define moe__kfin2 MOE__PN(moe__kfin2)
#define moe__kgemm MOE__PN(moe__kgemm)
#define moe__kh8 MOE__PN(moe__kh8)
#define moe__khsum128 MOE__PN(moe__khsum128)
#define moe__kmask MOE__PN(moe__kmask)
#define moe__kr32 MOE__PN(moe__kr32)
#define moe__kred1 MOE__PN(moe__kred1)
#define moe__kred2 MOE__PN(moe__kred2)
#define moe__make_plan MOE__PN(moe__make_plan)
#define moe__matrix_init MOE__PN(moe__matrix_init)
#define moe__misaligned MOE__PN(moe__misaligned)
#define moe__mxfp4_neon MOE__PN(moe__mxfp4_neon)
#define moe__nbk MOE__PN(moe__nbk)
#define moe__nbo MOE__PN(moe__nbo)
#define moe__neon_mul16 MOE__PN(moe__neon_mul16)
#define moe__neon_mulsub16 MOE__PN(moe__neon_mulsub16)
#define moe__neon_s8_vecs MOE__PN(moe__neon_s8_vecs)
#define moe__okey MOE__PN(moe__okey)
#define moe__omin MOE__PN(moe__omin)
#define moe__otile MOE__PN(moe__otile)
#define moe__panel_rows MOE__PN(moe__panel_rows)
#define moe__ph_combine MOE__PN(moe__ph_combine)
#define moe__ph_down MOE__PN(moe__ph_down)
#define moe__ph_gateup MOE__PN(moe__ph_gateup)
#define moe__ph_pack MOE__PN(moe__ph_pack)
#define moe__ph_router MOE__PN(moe__ph_router)
#define moe__ph_score MOE__PN(moe__ph_score)
#define moe__phase MOE__PN(moe__phase)
#define moe__pipeline MOE__PN(moe__pipeline)
#define moe__pk_mat MOE__PN(moe__pk_mat)
#define moe__pk_plan MOE__PN(moe__pk_plan)
#define moe__pk_tiles MOE__PN(moe__pk_tiles)
#define moe__plan MOE__PN(moe__plan)
#define moe__q2k_dlml MOE__PN(moe__q2k_dlml)
#define moe__q2k_neon MOE__PN(moe__q2k_neon)
#define moe__q2k_x86 MOE__PN(moe__q2k_x86)
#define moe__q3k_dl MOE__PN(moe__q3k_dl)
#define moe__q3k_neon MOE__PN(moe__q3k_neon)
#define moe__q3k_x86 MOE__PN(moe__q3k_x86)
#define moe__q4_vecs MOE__PN(moe__q4_vecs)
#define moe__q4k_neon MOE__PN(moe__q4k_neon)
#define moe__q4k_x86 MOE__PN(moe__q4k_x86)
#define moe__q5k_neon MOE__PN(moe__q5k_neon)
#define moe__q5k_x86 MOE__PN(moe__q5k_x86)
#define moe__q6k_dl MOE__PN(moe__q6k_dl)
#define moe__q6k_neon MOE__PN(moe__q6k_neon)
#define moe__q6k_x86 MOE__PN(moe__q6k_x86)
#define moe__q8_vecs MOE__PN(moe__q8_vecs)
#define moe__qgemm MOE__PN(moe__qgemm)
#define moe__qmat MOE__PN(moe__qmat)
#define moe__qtile MOE__PN(moe__qtile)
#define moe__qx_block MOE__PN(moe__qx_block)
#define moe__qx_get MOE__PN(moe__qx_get)
#define moe__qx_make MOE__PN(moe__qx_make)
#define moe__qx_pack MOE__PN(moe__qx_pack)
#define moe__qx_scalar MOE__PN(moe__qx_scalar)
#define moe__qxk_block MOE__PN(moe__qxk_block)
#define moe__qxk_bsum MOE__PN(moe__qxk_bsum)
#define moe__qxk_d MOE__PN(moe__qxk_d)
#define moe__qxk_make MOE__PN(moe__qxk_make)
#define moe__rdi32 MOE__PN(moe__rdi32)
#define moe__row_scale MOE__PN(moe__row_scale)
#define moe__rows MOE__PN(moe__rows)
#define moe__run MOE__PN(moe__run)
#define moe__scale_init MOE__PN(moe__scale_init)
#define moe__sdot MOE__PN(moe__sdot)
#define moe__sdot16 MOE__PN(moe__sdot16)
#define moe__seg MOE__PN(moe__seg)
#define moe__sigmoid MOE__PN(moe__sigmoid)
#define moe__task MOE__PN(moe__task)
#define moe__tbl16 MOE__PN(moe__tbl16)
#define moe__tile1 MOE__PN(moe__tile1)
#define moe__tile4 MOE__PN(moe__tile4)
#define moe__tile_rows MOE__PN(moe__tile_rows)
#define moe__unit MOE__PN(moe__unit)
#define moe__unit_expert MOE__PN(moe__unit_expert)
#define moe__unit_of MOE__PN(moe__unit_of)
#define moe__units MOE__PN(moe__units)
#define moe__vec MOE__PN(moe__vec)
#define moe__vexp MOE__PN(moe__vexp)
#define moe__vsigmoid MOE__PN(moe__vsigmoid)
#define moe_combine MOE__PN(moe_combine)
#define moe_forward MOE__PN(moe_forward)
#define moe_forward_ex MOE__PN(moe_forward_ex)
#define moe_layer_init MOE__PN(moe_layer_init)
#define moe_prepack MOE__PN(moe_prepack)
#define moe_prepack_size MOE__PN(moe_prepack_size)
#define moe_route MOE__PN(moe_route)
#define moe_simd_name MOE__PN(moe_simd_name)
#define moe_workspace_size MOE__PN(moe_workspace_size)
#define MOE__PASS_NOW 1
#include MOE_DISPATCH_SELF
#undef MOE__PASS_NOW
#define MOE__PASS_NOW 2
#include MOE_DISPATCH_SELF
#undef MOE__PASS_NOW
#if MOE__DISPATCHING == 1
#if MOE__PASS_AVXVNNI
#define MOE__PASS_NOW 3
#include MOE_DISPATCH_SELF
#undef MOE__PASS_NOW
#endif
#define MOE__PASS_NOW 4
#include MOE_DISPATCH_SELF
#undef MOE__PASS_NOW
#define MOE__PASS_NOW 5
#include MOE_DISPATCH_SELF
#undef MOE__PASS_NOW
#endif
#undef moe__act
#undef moe__act_row
#undef moe__amx_bf
#undef moe__amx_bftile
#undef moe__amx_cfg
#undef moe__amx_dp
#undef moe__amx_dpbf
#undef moe__amx_ftz
#undef moe__amx_ld
#undef moe__amx_rows
#undef moe__amx_st
#undef moe__amx_tc
#undef moe__amx_tile
#undef moe__amxs
#undef moe__axpy
#undef moe__base
#undef moe__bf_panel
#undef moe__bf_round
#undef moe__bf_split
#undef moe__bf_tile
#undef moe__bvi
#undef moe__cap
#undef moe__capf
#undef moe__ceil_div
#undef moe__coefs
#undef moe__config_check
#undef moe__ctx
#undef moe__decode_row
#undef moe__decode_scaled
#undef moe__dim_ok
#undef moe__dispatch
#undef moe__do
#undef moe__expert_q
#undef moe__f8_cvt
#undef moe__f8_decode_row
#undef moe__f8_gemv
#undef moe__f8_row
#undef moe__f8_vec
#undef moe__f8acc
#undef moe__few4
#undef moe__few4d
#undef moe__fp4_dot
#undef moe__fp4_vecs
#undef moe__gated
#undef moe__gelu
#undef moe__gemm
#undef moe__gemv
#undef moe__gemv_bf16s
#undef moe__gemv_ok
#undef moe__gemv_row
#undef moe__gemvm
#undef moe__gemvm_down
#undef moe__has
#undef moe__hsum256
#undef moe__hsum_neon
#undef moe__hsum_s32
#undef moe__ib_deck
#undef moe__ib_down
#undef moe__ib_e
#undef moe__ib_gateup
#undef moe__ib_kind
#undef moe__ib_lanes
#undef moe__ib_mpack
#undef moe__ib_mtile
#undef moe__ib_pack
#undef moe__ib_pack0
#undef moe__ib_pack4
#undef moe__ib_packk
#undef moe__ib_packk4
#undef moe__ib_panel
#undef moe__ib_qpanel
#undef moe__ib_qtok
#undef moe__ib_tile
#undef moe__ib_tilebytes
#undef moe__ib_tokbytes
#undef moe__ibt
#undef moe__in_shard
#undef moe__inplace
#undef moe__k3_sc
#undef moe__k4_dlml
#undef moe__k4_msum
#undef moe__k4_scm
#undef moe__kdot
#undef moe__kdot_mxfp4
#undef moe__kdot_mxfp4_ref
#undef moe__kdot_q2_k
#undef moe__kdot_q2_k_ref
#undef moe__kdot_q3_k
#undef moe__kdot_q3_k_ref
#undef moe__kdot_q45_ref
#undef moe__kdot_q4_k
#undef moe__kdot_q5_k
#undef moe__kdot_q6_k
#undef moe__kdot_q6_k_ref
#undef moe__kfin1
#undef moe__kfin2
#undef moe__kgemm
#undef moe__kh8
#undef moe__khsum128
#undef moe__kmask
#undef moe__kr32
#undef moe__kred1
#undef moe__kred2
#undef moe__make_plan
#undef moe__matrix_init
#undef moe__misaligned
#undef moe__mxfp4_neon
#undef moe__nbk
#undef moe__nbo
#undef moe__neon_mul16
#undef moe__neon_mulsub16
#undef moe__neon_s8_vecs
#undef moe__okey
#undef moe__omin
#undef moe__otile
#undef moe__panel_rows
#undef moe__ph_combine
#undef moe__ph_down
#undef moe__ph_gateup
#undef moe__ph_pack
#undef moe__ph_router
#undef moe__ph_score
#undef moe__phase
#undef moe__pipeline
#undef moe__pk_mat
#undef moe__pk_plan
#undef moe__pk_tiles
#undef moe__plan
#undef moe__q2k_dlml
#undef moe__q2k_neon
#undef moe__q2k_x86
#undef moe__q3k_dl
#undef moe__q3k_neon
#undef moe__q3k_x86
#undef moe__q4_vecs
#undef moe__q4k_neon
#undef moe__q4k_x86
#undef moe__q5k_neon
#undef moe__q5k_x86
#undef moe__q6k_dl
#undef moe__q6k_neon
#undef moe__q6k_x86
#undef moe__q8_vecs
#undef moe__qgemm
#undef moe__qmat
#undef moe__qtile
#undef moe__qx_block
#undef moe__qx_get
#undef moe__qx_make
#undef moe__qx_pack
#undef moe__qx_scalar
#undef moe__qxk_block
#undef moe__qxk_bsum
#undef moe__qxk_d
#undef moe__qxk_make
#undef moe__rdi32
#undef moe__row_scale
#undef moe__rows
#undef moe__run
#undef moe__scale_init
#undef moe__sdot
#undef moe__sdot16
#undef moe__seg
#undef moe__sigmoid
#undef moe__task
#undef moe__tbl16
#undef moe__tile1
#undef moe__tile4
#undef moe__tile_rows
#undef moe__unit
#undef moe__unit_expert
#undef moe__unit_of
#undef moe__units
#undef moe__vec
#undef moe__vexp
#undef moe__vsigmoid
#undef moe_combine
#undef moe_forward
#undef moe_forward_ex
#undef moe_layer_init
#undef moe_prepack
#undef moe_prepack_size
#undef moe_route
#undef moe_simd_name
#undef moe_workspace_size
#undef MOE__PN
#undef MOE__PN2
#undef MOE__PN3
#else
#define MOE__API MOEDEF
#endif
#endif /* MOE_IMPLEMENTATION_DONE */
#endif

/* ---- the part read once per path (once in a plain build) ----------------------------------- */
#if defined(MOE_IMPLEMENTATION) && (defined(MOE__PASS_NOW) || (defined(MOE__IMPL_NOW) && !defined(MOE__DISPATCHING)))
#ifdef MOE__PASS_NOW   /* one pass of a MOE_DISPATCH build: its path, features and target */
#if MOE__DISPATCHING == 1 && MOE__PASS_NOW == 1
#define MOE_SIMD_SCALAR
#define MOE__SFX scalar
#define MOE__PATH_THIS MOE_PATH_SCALAR
#elif MOE__DISPATCHING == 1 && MOE__PASS_NOW == 2      /* = -mavx2 -mfma -mf16c */
#define MOE_SIMD_AVX2
#define MOE__SFX avx2
#define MOE__PATH_THIS MOE_PATH_AVX2
#define MOE__X_FMA 1
#define MOE__X_F16C 1
#define MOE__TARGET "avx2,fma,f16c"
#elif MOE__DISPATCHING == 1 && MOE__PASS_NOW == 3      /* = -mavx2 -mfma -mf16c -mavxvnni */
#define MOE_SIMD_AVX2
#define MOE__SFX avx2vnni
#define MOE__PATH_THIS MOE_PATH_AVX2_VNNI
#define MOE__X_FMA 1
#define MOE__X_F16C 1
#define MOE__X_AVXVNNI 1
#define MOE__TARGET "avx2,fma,f16c,avxvnni"
#elif MOE__DISPATCHING == 1 && MOE__PASS_NOW == 4      /* = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c */
#define MOE_SIMD_AVX512
#define MOE__SFX avx512
#define MOE__PATH_THIS MOE_PATH_AVX512
#define MOE__X_FMA 1
#define MOE__X_F16C 1
#define MOE__X_AVX512VL 1
#define MOE__X_AVX512BW 1
#define MOE__TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"
#elif MOE__DISPATCHING == 1 && MOE__PASS_NOW == 5      /* = the above and -mavx512vnni */
#define MOE_SIMD_AVX512
#define MOE__SFX avx512vnni
#define MOE__PATH_THIS MOE_PATH_AVX512_VNNI
#define MOE__X_FMA 1
#define MOE__X_F16C 1
#define MOE__X_AVX512VL 1
#define MOE__X_AVX512BW 1
#define MOE__X_VNNI512 1
#define MOE__X_VNNI512BW 1
#define MOE__TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,avx512vnni"
#elif MOE__DISPATCHING == 2 && MOE__PASS_NOW == 1      /* the compiler's AArch64 baseline */
#define MOE_SIMD_NEON
#define MOE__SFX neon
#define MOE__PATH_THIS MOE_PATH_NEON
#elif MOE__DISPATCHING == 2 && MOE__PASS_NOW == 2      /* = -march=armv8.2-a+dotprod */
#define MOE_SIMD_NEON
#define MOE__SFX neondot
#define MOE__PATH_THIS MOE_PATH_NEON_DOTPROD
#define MOE__X_DOTPROD 1
#define MOE__TARGET "arch=armv8.2-a+dotprod"
#endif
#ifdef MOE__TARGET
#define MOE__PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define MOE__TARGET_PUSH(t) MOE__PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
MOE__TARGET_PUSH(MOE__TARGET)
#elif defined(__GNUC__)
#define MOE__TARGET_PUSH(t) MOE__PRAGMA(GCC target(t))
#pragma GCC push_options
MOE__TARGET_PUSH(MOE__TARGET)
#endif                                     /* MSVC: every intrinsic compiles anywhere */
#endif
#else                  /* one path: the compiler's macros say what it may use */
#if defined(__FMA__) || defined(_MSC_VER) || defined(MOE_SIMD_AVX512)
#define MOE__X_FMA 1
#endif
#if defined(__F16C__) || defined(_MSC_VER)
#define MOE__X_F16C 1
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define MOE__X_VNNI512 1
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define MOE__X_VNNI512BW 1
#endif
#if defined(__AVXVNNI__)
#define MOE__X_AVXVNNI 1
#endif
#if defined(__AVX512VL__)
#define MOE__X_AVX512VL 1
#endif
#if defined(__AVX512BW__)
#define MOE__X_AVX512BW 1
#endif
#if defined(__GFNI__) && defined(__AVX__)
#define MOE__X_GFNI 1
#endif
#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define MOE__X_BF16 1                      /* vdpbf16ps (static builds only: no dispatch pass has it) */
#endif
#if defined(__ARM_FEATURE_DOTPROD)
#define MOE__X_DOTPROD 1
#endif
#if defined(__ARM_FEATURE_MATMUL_INT8) && (defined(__aarch64__) || defined(_M_ARM64))
#define MOE__X_I8MM 1                      /* smmla (static builds only: no dispatch pass has it) */
#endif
#if defined(MOE_SIMD_AVX512)
#define MOE__PATH_THIS (MOE__X_VNNI512 ? MOE_PATH_AVX512_VNNI : MOE_PATH_AVX512)
#elif defined(MOE_SIMD_AVX2)
#define MOE__PATH_THIS (MOE__X_AVXVNNI ? MOE_PATH_AVX2_VNNI : MOE_PATH_AVX2)
#elif defined(MOE_SIMD_NEON)
#define MOE__PATH_THIS (MOE__X_DOTPROD ? MOE_PATH_NEON_DOTPROD : MOE_PATH_NEON)
#else
#define MOE__PATH_THIS MOE_PATH_SCALAR
#endif
#endif
/* MOE__X_*: what the path may use beyond its base ISA (1), else 0 */
#ifndef MOE__X_FMA
#define MOE__X_FMA 0
#endif
#ifndef MOE__X_F16C
#define MOE__X_F16C 0
#endif
#ifndef MOE__X_VNNI512
#define MOE__X_VNNI512 0
#endif
#ifndef MOE__X_VNNI512BW
#define MOE__X_VNNI512BW 0
#endif
#ifndef MOE__X_AVXVNNI
#define MOE__X_AVXVNNI 0
#endif
#ifndef MOE__X_AVX512VL
#define MOE__X_AVX512VL 0
#endif
#ifndef MOE__X_AVX512BW
#define MOE__X_AVX512BW 0
#endif
#ifndef MOE__X_GFNI
#define MOE__X_GFNI 0
#endif
#ifndef MOE__X_BF16
#define MOE__X_BF16 0
#endif
#ifndef MOE__X_DOTPROD
#define MOE__X_DOTPROD 0
#endif
#ifndef MOE__X_I8MM
#define MOE__X_I8MM 0
#endif

#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
#include <immintrin.h>
/* a*b + c on 8 floats: one FMA where the compiler may emit it (-mfma; MSVC's /arch:AVX2 implies
   it), else a multiply and an add: -mavx2 alone still builds the AVX2 path, rounding twice */
#if MOE__X_FMA
#define MOE__FMA256(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
#define MOE__FMA256(a, b, c) _mm256_add_ps(_mm256_mul_ps(a, b), c)
#endif
#elif defined(MOE_SIMD_NEON)
#include <arm_neon.h>
#endif

/* a hint that never faults, so it may point past the end of a row */
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
#define MOE__PREFETCH(p) _mm_prefetch((const char *)(const void *)(p), _MM_HINT_T0)
#define MOE__PREFETCH2(p) _mm_prefetch((const char *)(const void *)(p), _MM_HINT_T1)
#elif defined(__GNUC__) || defined(__clang__)
#define MOE__PREFETCH(p) __builtin_prefetch(p)
#define MOE__PREFETCH2(p) __builtin_prefetch(p, 0, 2)
#else
#define MOE__PREFETCH(p) ((void)(p))
#define MOE__PREFETCH2(p) ((void)(p))
#endif
/* PREFETCH2: to L2 only, for lines needed a whole tile later (measured on the batched kernel:
   about +10 % on 2 threads; a far-ahead stream of T0 prefetches holds the L1's miss buffers) */
/* block scales: hardware conversion where the path has it */
#if (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)) && MOE__X_F16C
#define MOE__H2F_FAST(h) _cvtsh_ss(h)
#else
#define MOE__H2F_FAST(h) moe__h2f(h)
#endif

/* ======================================= kernels ========================================= */
/* Each path defines a vector type and five operations on it, the tile shape (MOE__NR rows of
   W against 4 tokens, chosen to fit the register file), and moe__decode_row. The tile kernels
   below are written once on top of these. */
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
static float moe__hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif
#if defined(MOE_SIMD_AVX512)
#define MOE__SIMD_NAME "avx512"
typedef __m512 moe__vec;
#define MOE__VL 16
#define MOE__VZERO() _mm512_setzero_ps()
#define MOE__VLOAD(p) _mm512_loadu_ps(p)
#define MOE__VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MOE__VSUM(v) _mm512_reduce_add_ps(v)
#define MOE__VBCAST(p) _mm512_set1_ps(*(p))
#define MOE__VSET1(f) _mm512_set1_ps(f)
#define MOE__VADD(a, b) _mm512_add_ps(a, b)
#define MOE__VMUL(a, b) _mm512_mul_ps(a, b)
#define MOE__VDIV(a, b) _mm512_div_ps(a, b)
#define MOE__VMIN(a, b) _mm512_min_ps(a, b)
#define MOE__VMAX(a, b) _mm512_max_ps(a, b)
#define MOE__VEXP2I(n) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define MOE__VROUND(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define MOE__HAVE_VEXP 1
#define MOE__VSTORE(p, v) _mm512_storeu_ps(p, v)
#define MOE__NRO 12
#define MOE__EACH_RO(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define MOE__NR 6
#define MOE__EACH_N(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define MOE__EACH_IN(M, i) M(i, 0) M(i, 1) M(i, 2) M(i, 3) M(i, 4) M(i, 5)

/* Decoders: one vector of W from 16 f16 / bf16 values, and the 2 vectors of one 32-value
   block of quants, unscaled (q, or nibble - 8). */
#define MOE__WF16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define MOE__WBF16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define MOE__EACH_QV(M) M(0) M(1)
static void moe__q8_vecs(const unsigned char *q, moe__vec *v)
{
    v[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)q)));
    v[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(q + 16))));
}
static void moe__q4_vecs(const unsigned char *q, moe__vec *v)   /* nibble - 8: a 16-entry table */
{
    const __m512 lut = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)q));
    v[0] = _mm512_permutexvar_ps(b, lut);                       /* uses the low 4 bits */
    v[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), lut);
}
#define MOE__HAVE_FP4V 1
static void moe__fp4_vecs(const unsigned char *q, moe__vec *v)  /* MXFP4 nibbles: E2M1 x 2 (ggml's table) */
{
    const __m512 lut = _mm512_setr_ps(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)q));
    v[0] = _mm512_permutexvar_ps(b, lut);
    v[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), lut);
}
/* 16 FP8 E4M3 bytes: normal codes by moving the bits into place and rebiasing the exponent
   (120 = 127 - 7), subnormal codes (exponent 0) as m * 2^-9, 0x7f/0xff NaN: the scalar
   decoder's values, without an f32 subnormal on the way (DAZ/FTZ-proof) */
#if !MOE__X_F16C   /* else moe__f8_decode_row */
#define MOE__WF8(p) moe__f8_vec(p)
static __m512 moe__f8_vec(const unsigned char *p)
{
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    __m512i a = _mm512_and_si512(b, _mm512_set1_epi32(0x7f));
    __m512i sign = _mm512_slli_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x80)), 24);
    __m512i v = _mm512_add_epi32(_mm512_slli_epi32(a, 20), _mm512_set1_epi32(120 << 23));
    __m512 sub = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(b, _mm512_set1_epi32(7))), _mm512_set1_ps(0.001953125f));
    v = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(a, _mm512_set1_epi32(8)), v, _mm512_castps_si512(sub));
    v = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(0x7f)), v, _mm512_set1_epi32(0x7fc00000));
    return _mm512_castsi512_ps(_mm512_or_si512(v, sign));
}
#endif

#elif defined(MOE_SIMD_AVX2)
#define MOE__SIMD_NAME "avx2"
typedef __m256 moe__vec;
#define MOE__VL 8
#define MOE__VZERO() _mm256_setzero_ps()
#define MOE__VLOAD(p) _mm256_loadu_ps(p)
#define MOE__VFMA(a, b, c) MOE__FMA256(a, b, c)
#define MOE__VSUM(v) moe__hsum256(v)
#define MOE__VBCAST(p) _mm256_broadcast_ss(p)
#define MOE__VSET1(f) _mm256_set1_ps(f)
#define MOE__VADD(a, b) _mm256_add_ps(a, b)
#define MOE__VMUL(a, b) _mm256_mul_ps(a, b)
#define MOE__VDIV(a, b) _mm256_div_ps(a, b)
#define MOE__VMIN(a, b) _mm256_min_ps(a, b)
#define MOE__VMAX(a, b) _mm256_max_ps(a, b)
#define MOE__VEXP2I(n) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define MOE__VROUND(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define MOE__HAVE_VEXP 1
#define MOE__VSTORE(p, v) _mm256_storeu_ps(p, v)
#define MOE__NRO 6
#define MOE__EACH_RO(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define MOE__NR 3
#define MOE__EACH_N(M) M(0) M(1) M(2)
#define MOE__EACH_IN(M, i) M(i, 0) M(i, 1) M(i, 2)

/* Decoders: one vector of W from 8 f16 (F16C only) / bf16 values, and the 4 vectors of one
   32-value block of quants, unscaled (q, or nibble - 8). */
#if MOE__X_F16C
#define MOE__WF16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#endif
#define MOE__WBF16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define MOE__EACH_QV(M) M(0) M(1) M(2) M(3)
#define MOE__Q8V(j) v[j] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q + 8 * j))));
static void moe__q8_vecs(const unsigned char *q, moe__vec *v) { MOE__EACH_QV(MOE__Q8V) }
static void moe__q4_vecs(const unsigned char *q, moe__vec *v)
{
    const __m128i m = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i lo = _mm_sub_epi8(_mm_and_si128(b, m), eight), hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m), eight);
    v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(lo, lo)));
    v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(hi, hi)));
}
#define MOE__HAVE_FP4V 1
static void moe__fp4_vecs(const unsigned char *q, moe__vec *v)  /* MXFP4 nibbles: E2M1 x 2 (ggml's table) */
{
    const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12), m = _mm_set1_epi8(15);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(b, m)), hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(b, 4), m));
    v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(lo, lo)));
    v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(hi, hi)));
}
/* 8 FP8 E4M3 bytes, as the AVX-512 decoder */
#if !MOE__X_F16C   /* else moe__f8_decode_row */
#define MOE__WF8(p) moe__f8_vec(p)
static __m256 moe__f8_vec(const unsigned char *p)
{
    __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
    __m256i a = _mm256_and_si256(b, _mm256_set1_epi32(0x7f));
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x80)), 24);
    __m256i v = _mm256_add_epi32(_mm256_slli_epi32(a, 20), _mm256_set1_epi32(120 << 23));
    __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(b, _mm256_set1_epi32(7))), _mm256_set1_ps(0.001953125f));
    v = _mm256_blendv_epi8(v, _mm256_castps_si256(sub), _mm256_cmpgt_epi32(_mm256_set1_epi32(8), a));
    v = _mm256_blendv_epi8(v, _mm256_set1_epi32(0x7fc00000), _mm256_cmpeq_epi32(a, _mm256_set1_epi32(0x7f)));
    return _mm256_castsi256_ps(_mm256_or_si256(v, sign));
}
#endif

#elif defined(MOE_SIMD_NEON)
#define MOE__SIMD_NAME "neon"
typedef float32x4_t moe__vec;
#define MOE__VL 4
#define MOE__VZERO() vdupq_n_f32(0.0f)
#define MOE__VLOAD(p) vld1q_f32(p)
#define MOE__VBCAST(p) vld1q_dup_f32(p)
#define MOE__VSET1(f) vdupq_n_f32(f)
#define MOE__VADD(a, b) vaddq_f32(a, b)
#define MOE__VMUL(a, b) vmulq_f32(a, b)
#define MOE__VMIN(a, b) vminq_f32(a, b)
#define MOE__VMAX(a, b) vmaxq_f32(a, b)
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__VDIV(a, b) vdivq_f32(a, b)
#define MOE__VEXP2I(n) vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23))
#define MOE__VROUND(v) vrndnq_f32(v)
#define MOE__HAVE_VEXP 1
#endif
#define MOE__VSTORE(p, v) vst1q_f32(p, v)
#if defined(__aarch64__) || defined(_M_ARM64) || defined(__ARM_FEATURE_FMA)
#define MOE__VFMA(a, b, c) vfmaq_f32(c, a, b)
#else
#define MOE__VFMA(a, b, c) vmlaq_f32(c, a, b)
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__VSUM(v) vaddvq_f32(v)
#define MOE__NRO 12
#define MOE__EACH_RO(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define MOE__NR 6
#define MOE__EACH_N(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define MOE__EACH_IN(M, i) M(i, 0) M(i, 1) M(i, 2) M(i, 3) M(i, 4) M(i, 5)
#else                                  /* ARMv7: 16 quad registers */
#define MOE__VSUM(v) moe__hsum_neon(v)
#define MOE__NRO 6
#define MOE__EACH_RO(M) M(0) M(1) M(2) M(3) M(4) M(5)
static float moe__hsum_neon(float32x4_t v)
{
    float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
}
#define MOE__NR 2
#define MOE__EACH_N(M) M(0) M(1)
#define MOE__EACH_IN(M, i) M(i, 0) M(i, 1)
#endif

/* Decoders: one vector of W from 4 f16 (AArch64 only: ARMv7 keeps f16 on the scalar decoder
   and the panel path) / bf16 values, and the 8 vectors of one 32-value block of quants,
   unscaled (q, or nibble - 8). */
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__WF16(p) vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(p)))
#endif
#define MOE__WBF16(p) vreinterpretq_f32_u32(vshll_n_u16(vreinterpret_u16_u8(vld1_u8(p)), 16))
#define MOE__EACH_QV(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
static void moe__neon_s8_vecs(int8x16_t q, moe__vec *v)      /* 16 int8 -> 4 vectors */
{
    int16x8_t l = vmovl_s8(vget_low_s8(q)), h = vmovl_s8(vget_high_s8(q));
    v[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(l)));
    v[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(l)));
    v[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h)));
    v[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(h)));
}
static void moe__q8_vecs(const unsigned char *q, moe__vec *v)
{
    moe__neon_s8_vecs(vreinterpretq_s8_u8(vld1q_u8(q)), v);
    moe__neon_s8_vecs(vreinterpretq_s8_u8(vld1q_u8(q + 16)), v + 4);
}
static void moe__q4_vecs(const unsigned char *q, moe__vec *v)
{
    uint8x16_t b = vld1q_u8(q);
    moe__neon_s8_vecs(vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(15))), vdupq_n_s8(8)), v);
    moe__neon_s8_vecs(vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), vdupq_n_s8(8)), v + 4);
}
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__HAVE_FP4V 1
static void moe__fp4_vecs(const unsigned char *q, moe__vec *v)  /* MXFP4 nibbles: E2M1 x 2 (ggml's table) */
{
    const int8x16_t lut = vld1q_s8((const int8_t *)(const void *)moe__fp4x2);
    uint8x16_t b = vld1q_u8(q);
    moe__neon_s8_vecs(vqtbl1q_s8(lut, vandq_u8(b, vdupq_n_u8(15))), v);
    moe__neon_s8_vecs(vqtbl1q_s8(lut, vshrq_n_u8(b, 4)), v + 4);
}
#endif
/* ================= PIECE 1: decoders ========================================================
   Where: the NEON branch of the kernel vector layer, right after moe__fp4_vecs and its
   `#endif` (so after moe__neon_s8_vecs, before `#else  MOE_SIMD_SCALAR`). The
   `#if !(AArch64)` block below is the ARMv7 moe__fp4_vecs: it may instead become the `#else`
   branch of the `#if` around the AArch64 one. */

/* 16 entries of t picked by 16 indices 0..15 (ARMv7 has no 16-byte table instruction) */
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__TBL16(t, i) vqtbl1q_s8(t, i)
#else
static int8x16_t moe__tbl16(int8x16_t t, uint8x16_t i)
{
    int8x8x2_t tt;
    tt.val[0] = vget_low_s8(t);
    tt.val[1] = vget_high_s8(t);
    return vcombine_s8(vtbl2_s8(tt, vreinterpret_s8_u8(vget_low_u8(i))), vtbl2_s8(tt, vreinterpret_s8_u8(vget_high_u8(i))));
}
#define MOE__TBL16(t, i) moe__tbl16(t, i)
#endif

#if !(defined(__aarch64__) || defined(_M_ARM64))
/* ARMv7 (NEON flushes f32 subnormals to zero here: moe__decode_row's MXFP4 case, which
   multiplies these by 2^(e-128), is exact only for e >= 2; blocks with e < 2 must take the
   scalar decoder, or use moe__mxfp4_neon below) */
#define MOE__HAVE_FP4V 1
static void moe__fp4_vecs(const unsigned char *q, moe__vec *v)  /* MXFP4 nibbles: E2M1 x 2 (ggml's table) */
{
    const int8x16_t lut = vld1q_s8((const int8_t *)(const void *)moe__fp4x2);
    uint8x16_t b = vld1q_u8(q);
    moe__neon_s8_vecs(MOE__TBL16(lut, vandq_u8(b, vdupq_n_u8(15))), v);
    moe__neon_s8_vecs(MOE__TBL16(lut, vshrq_n_u8(b, 4)), v + 4);
}
#endif

/* FP8 E4M3, 4 bytes (MOE__WF8): the scalar decoder's bits with no f32 subnormal on the
   way (ARMv7 NEON and FPCR.FZ flush them): normal codes by moving the bits into place and
   rebiasing the exponent (120 = 127 - 7), exponent-0 codes as m * 2^-9 (normal f32), 0x7f/0xff
   the quiet NaN, the sign or-ed in last. b: one byte per 32-bit lane. */
static float32x4_t moe__f8_cvt(uint32x4_t b)
{
    uint32x4_t a = vandq_u32(b, vdupq_n_u32(0x7f));
    uint32x4_t sign = vshlq_n_u32(vandq_u32(b, vdupq_n_u32(0x80)), 24);
    uint32x4_t v = vaddq_u32(vshlq_n_u32(a, 20), vdupq_n_u32(120u << 23));
    float32x4_t sub = vmulq_f32(vcvtq_f32_u32(vandq_u32(b, vdupq_n_u32(7))), vdupq_n_f32(0.001953125f));
    v = vbslq_u32(vcltq_u32(a, vdupq_n_u32(8)), vreinterpretq_u32_f32(sub), v);
    v = vbslq_u32(vceqq_u32(a, vdupq_n_u32(0x7f)), vdupq_n_u32(0x7fc00000u), v);
    return vreinterpretq_f32_u32(vorrq_u32(v, sign));
}
#define MOE__WF8(p) moe__f8_vec(p)
static float32x4_t moe__f8_vec(const unsigned char *p)
{
    uint32_t u;
    memcpy(&u, p, 4);                                    /* exactly 4 bytes: never past a row */
    return moe__f8_cvt(vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(u))))));
}

/* K-quant super-blocks (256 values) to f32, one per call: the scalar decoders' operations
   (an exact scalar dl = d * sc, then per value dl * q, and for Q2/Q4/Q5_K minus ml) in vector
   form, so the same bits; 16 codes (int8) at a time */
static void moe__neon_mul16(int8x16_t q, float32x4_t dl, float *y)
{
    moe__vec v[4];
    moe__neon_s8_vecs(q, v);
    vst1q_f32(y, vmulq_f32(dl, v[0]));
    vst1q_f32(y + 4, vmulq_f32(dl, v[1]));
    vst1q_f32(y + 8, vmulq_f32(dl, v[2]));
    vst1q_f32(y + 12, vmulq_f32(dl, v[3]));
}
static void moe__neon_mulsub16(int8x16_t q, float32x4_t dl, float32x4_t ml, float *y)
{
    moe__vec v[4];
    moe__neon_s8_vecs(q, v);
    vst1q_f32(y, vsubq_f32(vmulq_f32(dl, v[0]), ml));
    vst1q_f32(y + 4, vsubq_f32(vmulq_f32(dl, v[1]), ml));
    vst1q_f32(y + 8, vsubq_f32(vmulq_f32(dl, v[2]), ml));
    vst1q_f32(y + 12, vsubq_f32(vmulq_f32(dl, v[3]), ml));
}
#define MOE__S8(u) vreinterpretq_s8_u8(u)
/* ARMv7 NEON gives the default NaN where the scalar (VFP) code keeps a NaN scale's payload:
   such super-blocks go to the scalar decoder there, so the bits match NaNs included */
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__V7NAN(p) 0
#else
#define MOE__V7NAN(p) ((moe__rd16(p) & 0x7fffu) > 0x7c00u)
#endif
static void moe__q4k_neon(const unsigned char *s, float *y)
{
    const uint8x16_t m4 = vdupq_n_u8(15);
    float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
    int c, h, sc, m;
    if (MOE__V7NAN(s) || MOE__V7NAN(s + 2)) { moe__dec_q4_k(s, 1, y); return; }
    for (c = 0; c < 4; c++) {                   /* 32 bytes of qs: sub-block 2c low nibbles, 2c+1 high */
        float32x4_t dl0, ml0, dl1, ml1;
        moe__k4_get(s + 4, 2 * c, &sc, &m);
        dl0 = vdupq_n_f32(d * (float)sc); ml0 = vdupq_n_f32(dmin * (float)m);
        moe__k4_get(s + 4, 2 * c + 1, &sc, &m);
        dl1 = vdupq_n_f32(d * (float)sc); ml1 = vdupq_n_f32(dmin * (float)m);
        for (h = 0; h < 2; h++) {
            uint8x16_t b = vld1q_u8(s + 16 + 32 * c + 16 * h);
            moe__neon_mulsub16(MOE__S8(vandq_u8(b, m4)), dl0, ml0, y + 64 * c + 16 * h);
            moe__neon_mulsub16(MOE__S8(vshrq_n_u8(b, 4)), dl1, ml1, y + 64 * c + 32 + 16 * h);
        }
    }
}
static void moe__q5k_neon(const unsigned char *s, float *y)
{
    const uint8x16_t m4 = vdupq_n_u8(15), b4 = vdupq_n_u8(16);
    float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
    int c, h, sc, m;
    if (MOE__V7NAN(s) || MOE__V7NAN(s + 2)) { moe__dec_q5_k(s, 1, y); return; }
    for (c = 0; c < 4; c++) {
        const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c))), bh = vdupq_n_u8((uint8_t)(2u << (2 * c)));
        float32x4_t dl0, ml0, dl1, ml1;
        moe__k4_get(s + 4, 2 * c, &sc, &m);
        dl0 = vdupq_n_f32(d * (float)sc); ml0 = vdupq_n_f32(dmin * (float)m);
        moe__k4_get(s + 4, 2 * c + 1, &sc, &m);
        dl1 = vdupq_n_f32(d * (float)sc); ml1 = vdupq_n_f32(dmin * (float)m);
        for (h = 0; h < 2; h++) {               /* fifth bit: bit j of qh[l], +16 */
            uint8x16_t b = vld1q_u8(s + 48 + 32 * c + 16 * h), qh = vld1q_u8(s + 16 + 16 * h);
            uint8x16_t lo = vorrq_u8(vandq_u8(b, m4), vandq_u8(vtstq_u8(qh, bl), b4));
            uint8x16_t hi = vorrq_u8(vshrq_n_u8(b, 4), vandq_u8(vtstq_u8(qh, bh), b4));
            moe__neon_mulsub16(MOE__S8(lo), dl0, ml0, y + 64 * c + 16 * h);
            moe__neon_mulsub16(MOE__S8(hi), dl1, ml1, y + 64 * c + 32 + 16 * h);
        }
    }
}
/* Q6_K: half h (128 values) = ql[64h..+64), qh[32h..+32); for l in 0..31 the four codes
   k = 0..3 at 128h + 32k + l: ql[l] low, ql[32+l] low, ql[l] high, ql[32+l] high nibble, with
   bits 2k..2k+1 of qh[l] on top; sub-block (16 values) j = 8h + 2k + l/16 */
static void moe__q6k_neon(const unsigned char *s, float *y)
{
    const uint8x16_t m4 = vdupq_n_u8(15), m30 = vdupq_n_u8(0x30);
    const int8x16_t k32 = vdupq_n_s8(32);
    float d = moe__h2f(moe__rd16(s + 208));
    int h, o, k;
    if (MOE__V7NAN(s + 208)) { moe__dec_q6_k(s, 1, y); return; }
    for (h = 0; h < 2; h++)
        for (o = 0; o < 2; o++) {
            const unsigned char *ql = s + 64 * h + 16 * o;
            uint8x16_t a = vld1q_u8(ql), b = vld1q_u8(ql + 32), qh = vld1q_u8(s + 128 + 32 * h + 16 * o);
            uint8x16_t q[4];
            q[0] = vorrq_u8(vandq_u8(a, m4), vandq_u8(vshlq_n_u8(qh, 4), m30));
            q[1] = vorrq_u8(vandq_u8(b, m4), vandq_u8(vshlq_n_u8(qh, 2), m30));
            q[2] = vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(qh, m30));
            q[3] = vorrq_u8(vshrq_n_u8(b, 4), vandq_u8(vshrq_n_u8(qh, 2), m30));
            for (k = 0; k < 4; k++) {
                int j = 8 * h + 2 * k + o;
                moe__neon_mul16(vsubq_s8(MOE__S8(q[k]), k32), vdupq_n_f32(d * (float)(signed char)s[192 + j]), y + 16 * j);
            }
        }
}
/* Q2_K / Q3_K: 32 bytes of qs per half h, l/16 = o; code k (2 bits at 2k) of byte l belongs to
   sub-block j = 8h + 2k + o (values 16j..16j+15) */
static void moe__q2k_neon(const unsigned char *s, float *y)
{
    const uint8x16_t m3 = vdupq_n_u8(3);
    float d = moe__h2f(moe__rd16(s + 80)), dmin = moe__h2f(moe__rd16(s + 82));
    int h, o, k;
    if (MOE__V7NAN(s + 80) || MOE__V7NAN(s + 82)) { moe__dec_q2_k(s, 1, y); return; }
    for (h = 0; h < 2; h++)
        for (o = 0; o < 2; o++) {
            uint8x16_t b = vld1q_u8(s + 16 + 32 * h + 16 * o);
            for (k = 0; k < 4; k++, b = vshrq_n_u8(b, 2)) {
                int j = 8 * h + 2 * k + o;
                moe__neon_mulsub16(MOE__S8(vandq_u8(b, m3)), vdupq_n_f32(d * (float)(s[j] & 15)),
                                   vdupq_n_f32(dmin * (float)(s[j] >> 4)), y + 16 * j);
            }
        }
}
static void moe__q3k_neon(const unsigned char *s, float *y)
{
    const uint8x16_t m3 = vdupq_n_u8(3), b2 = vdupq_n_u8(4);
    const int8x16_t k4 = vdupq_n_s8(4);
    float d = moe__h2f(moe__rd16(s + 108));
    int h, o, k;
    if (MOE__V7NAN(s + 108)) { moe__dec_q3_k(s, 1, y); return; }
    for (h = 0; h < 2; h++)
        for (o = 0; o < 2; o++) {
            uint8x16_t b = vld1q_u8(s + 32 + 32 * h + 16 * o), hm = vld1q_u8(s + 16 * o);
            for (k = 0; k < 4; k++, b = vshrq_n_u8(b, 2)) {
                int j = 8 * h + 2 * k + o;       /* high bit (set: +4 over the -4 below) at bit j/2 of hmask[l] */
                uint8x16_t q = vorrq_u8(vandq_u8(b, m3), vandq_u8(vtstq_u8(hm, vdupq_n_u8((uint8_t)(1u << (j / 2)))), b2));
                moe__neon_mul16(vsubq_s8(MOE__S8(q), k4), vdupq_n_f32(d * (float)moe__k3_get(s + 96, j)), y + 16 * j);
            }
        }
}
/* one MXFP4 block of 32 values: 16 nibble bytes, E8M0 e; ggml's order (inter 0) or gpt-oss's
   (inter 1). 2^(e-128) is an f32 subnormal for e < 2: those blocks (never seen in real
   weights) go the scalar way, so a flushing NEON (ARMv7) still gives the scalar bits. */
static void moe__mxfp4_neon(const unsigned char *nib, unsigned e, int inter, float *y)
{
    float d = moe__e8m0_half(e);
    if (e < 2) {
        int j;
        for (j = 0; j < 16; j++) {
            float lo = (float)moe__fp4x2[nib[j] & 15] * d, hi = (float)moe__fp4x2[nib[j] >> 4] * d;
            if (inter) { y[2 * j] = lo; y[2 * j + 1] = hi; }
            else { y[j] = lo; y[16 + j] = hi; }
        }
    } else {
        const int8x16_t lut = vld1q_s8((const int8_t *)(const void *)moe__fp4x2);
        uint8x16_t b = vld1q_u8(nib);
        int8x16_t lo = MOE__TBL16(lut, vandq_u8(b, vdupq_n_u8(15))), hi = MOE__TBL16(lut, vshrq_n_u8(b, 4));
        if (inter) {
            int8x16x2_t z = vzipq_s8(lo, hi);
            lo = z.val[0]; hi = z.val[1];
        }
        moe__neon_mul16(lo, vdupq_n_f32(d), y);
        moe__neon_mul16(hi, vdupq_n_f32(d), y + 16);
    }
}
/* In moe__decode_row, next to the x86 Q4_K/Q6_K cases:
       case MOE_TYPE_Q4_K: for (; i < n; i += MOE__QK_K, b += MOE__Q4K_BYTES) moe__q4k_neon(b, dst + i); break;
       ... Q5_K (MOE__Q5K_BYTES, moe__q5k_neon), Q6_K, Q2_K, Q3_K alike ...
   MXFP4: the MOE__HAVE_FP4V case now runs on ARMv7 too, where it needs, first in its loop,
       if (b[0] < 2) { moe__dec_mxfp4(b, 1, dst + i); continue; }   (ARMv7 only)
   or, on NEON, loop over moe__mxfp4_neon(b + 1, b[0], 0, dst + i) instead. moe__mxfp4_neon
   also does gpt-oss's split layout (inter 1); unused, it draws -Wunused-function: drop it then.
   FP8 needs nothing: the MOE__WF8 case picks up the definition above. */


#else /* MOE_SIMD_SCALAR */
#define MOE__SIMD_NAME "scalar"
typedef float moe__vec;
#define MOE__VL 1
#define MOE__VZERO() 0.0f
#define MOE__VLOAD(p) (*(p))
#define MOE__VFMA(a, b, c) ((c) + (a) * (b))
#define MOE__VSUM(v) (v)
#define MOE__VBCAST(p) (*(p))
#define MOE__VSET1(f) (f)
#define MOE__VADD(a, b) ((a) + (b))
#define MOE__VMUL(a, b) ((a) * (b))
#define MOE__VSTORE(p, v) (*(p) = (v))
#define MOE__NRO 4
#define MOE__EACH_RO(M) M(0) M(1) M(2) M(3)
#define MOE__NR 4
#define MOE__EACH_N(M) M(0) M(1) M(2) M(3)
#define MOE__EACH_IN(M, i) M(i, 0) M(i, 1) M(i, 2) M(i, 3)
#endif

#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
/* ---- x86 K-quant super-block decoders: 256 values of Q2_K .. Q6_K to f32 -------------------
   Same bits as the scalar decoders moe__dec_q*_k: the scales are d * (float)sc and
   dmin * (float)m (8 or 16 at a time), and every value is the scalar decoder's dl * (float)q,
   or dl * (float)q - ml: mul then sub, never an FMA. Where a sub-block has few distinct codes
   (Q2_K 4, Q3_K 8, and on AVX-512 Q4_K 16) those results are computed once into a table with
   exactly these operations, and the codes pick from it (vpermps), so every value, NaN
   payloads included, is still the scalar one. AVX-512: 16-lane versions of all five (the
   byte work on ymm, so AVX-512F is all they need); AVX2: 8 lanes. The bodies are macros so
   that every shift count is a constant without relying on the inliner. Measured (Zen 4, one
   thread, rows of 2048 in L2): 12-18 G values/s on AVX-512, 11-15 on AVX2; the 8-lane
   Q4_K / Q6_K decoders these replace ran at 6-8. */

/* Empty asms. NOFMA, on a product: no compiler can fuse it with the subtraction that follows
   (GCC does so with intrinsics too under its default -ffp-contract=fast, i.e. in GNU C modes).
   INMEM, after the per-sub-block scales are stored: they are then read back with broadcast
   loads, which clang otherwise replaces with chains of register shuffles (-20 % on Q2_K). */
#if defined(__GNUC__) || defined(__clang__)
#define MOE__NOFMA(v) __asm__("" : "+v"(v))
#define MOE__INMEM(p) __asm__("" : : "r"(p) : "memory")
#else
#define MOE__NOFMA(v) ((void)0)
#define MOE__INMEM(p) ((void)(p))
#endif
/* Q4_K / Q5_K: the 8 scales and 8 mins (moe__k4_get) as dl[j] = d * sc, ml[j] = dmin * m */
static void moe__k4_dlml(const unsigned char *s, float *dl, float *ml)
{
    uint32_t u0 = (uint32_t)s[4] | ((uint32_t)s[5] << 8) | ((uint32_t)s[6] << 16) | ((uint32_t)s[7] << 24);
    uint32_t u1 = (uint32_t)s[8] | ((uint32_t)s[9] << 8) | ((uint32_t)s[10] << 16) | ((uint32_t)s[11] << 24);
    uint32_t u2 = (uint32_t)s[12] | ((uint32_t)s[13] << 8) | ((uint32_t)s[14] << 16) | ((uint32_t)s[15] << 24);
    uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);      /* j >= 4 */
    uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
    __m128i b = _mm_setr_epi32((int)(u0 & 0x3f3f3f3fu), (int)sc_hi, (int)(u1 & 0x3f3f3f3fu), (int)m_hi);
    __m256 d = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s))), dmin = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s + 2)));
    _mm256_storeu_ps(dl, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b))));
    _mm256_storeu_ps(ml, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(b, b)))));
    MOE__INMEM(dl); MOE__INMEM(ml);
}
/* Q2_K: dl[j] = d * (scales[j] & 15), ml[j] = dmin * (scales[j] >> 4), j < 16 */
static void moe__q2k_dlml(const unsigned char *s, float *dl, float *ml)
{
    const __m128i m4 = _mm_set1_epi8(15);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
    __m256 d = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s + 80))), dmin = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s + 82)));
    _mm256_storeu_ps(dl, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo))));
    _mm256_storeu_ps(dl + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(lo, lo)))));
    _mm256_storeu_ps(ml, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi))));
    _mm256_storeu_ps(ml + 8, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(hi, hi)))));
    MOE__INMEM(dl); MOE__INMEM(ml);
}
/* Q3_K: dl[j] = d * moe__k3_get(scales, j), j < 16 (ggml's unpacking of the 12 bytes) */
static void moe__q3k_dl(const unsigned char *s, float *dl)
{
    const unsigned char *p = s + 96;
    uint32_t a0 = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    uint32_t a1 = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 24);
    uint32_t t = (uint32_t)p[8] | ((uint32_t)p[9] << 8) | ((uint32_t)p[10] << 16) | ((uint32_t)p[11] << 24);
    __m128i b = _mm_setr_epi32((int)((a0 & 0x0f0f0f0fu) | ((t & 0x03030303u) << 4)),
                               (int)((a1 & 0x0f0f0f0fu) | (((t >> 2) & 0x03030303u) << 4)),
                               (int)(((a0 >> 4) & 0x0f0f0f0fu) | (((t >> 4) & 0x03030303u) << 4)),
                               (int)(((a1 >> 4) & 0x0f0f0f0fu) | (((t >> 6) & 0x03030303u) << 4)));
    __m256i k32 = _mm256_set1_epi32(32);
    __m256 d = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s + 108)));
    _mm256_storeu_ps(dl, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(b), k32))));
    _mm256_storeu_ps(dl + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(b, b)), k32))));
    MOE__INMEM(dl);
}
/* Q6_K: dl[j] = d * (int8)scales[j], j < 16 */
static void moe__q6k_dl(const unsigned char *s, float *dl)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + 192));
    __m256 d = _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(s + 208)));
    _mm256_storeu_ps(dl, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))));
    _mm256_storeu_ps(dl + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(b, b)))));
    MOE__INMEM(dl);
}
#define MOE__LD256(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define MOE__LD128(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
/* Q6_K sub-blocks 2m, 2m+1, m = 4h + k: lo = ql bytes with the nibble in bits 0..3, hi = qh
   bytes with the 2 bits in bits 4..5; OUT(y, codes - 32 as int8 x 32, &dl[2m]) */
#define MOE__Q6K_PAIR(OUT, k, lo, hi) \
    OUT(y + 128 * h + 32 * (k), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_and_si256(hi, m30)), k32), dl + 8 * h + 2 * (k));
#define MOE__Q6K_BODY(OUT) \
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30), k32 = _mm256_set1_epi8(32); \
    float dl[16]; \
    int h; \
    moe__q6k_dl(s, dl); \
    for (h = 0; h < 2; h++) { \
        __m256i a = MOE__LD256(s + 64 * h), b = MOE__LD256(s + 64 * h + 32), qh = MOE__LD256(s + 128 + 32 * h); \
        MOE__Q6K_PAIR(OUT, 0, a, _mm256_slli_epi16(qh, 4)) \
        MOE__Q6K_PAIR(OUT, 1, b, _mm256_slli_epi16(qh, 2)) \
        MOE__Q6K_PAIR(OUT, 2, _mm256_srli_epi16(a, 4), qh) \
        MOE__Q6K_PAIR(OUT, 3, _mm256_srli_epi16(b, 4), _mm256_srli_epi16(qh, 2)) \
    }
/* Q3_K sub-blocks 2m, 2m+1, m = 4 * half + k: code = q | hbit << 2 (0..7; the value is
   dl * (code - 4)); hb = hmask bytes with bit m in bit 2 */
#define MOE__Q3K_CODES(k, hb) \
    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * (k)), m3), _mm256_and_si256(hb, b2))
#define MOE__Q3K_BODY(OUT) \
    const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4); \
    __m256i hm = MOE__LD256(s), q = MOE__LD256(s + 32); \
    float dl[16]; \
    moe__q3k_dl(s, dl); \
    OUT(y, MOE__Q3K_CODES(0, _mm256_slli_epi16(hm, 2)), dl) \
    OUT(y + 32, MOE__Q3K_CODES(1, _mm256_add_epi8(hm, hm)), dl + 2) \
    OUT(y + 64, MOE__Q3K_CODES(2, hm), dl + 4) \
    OUT(y + 96, MOE__Q3K_CODES(3, _mm256_srli_epi16(hm, 1)), dl + 6) \
    q = MOE__LD256(s + 64); \
    OUT(y + 128, MOE__Q3K_CODES(0, _mm256_srli_epi16(hm, 2)), dl + 8) \
    OUT(y + 160, MOE__Q3K_CODES(1, _mm256_srli_epi16(hm, 3)), dl + 10) \
    OUT(y + 192, MOE__Q3K_CODES(2, _mm256_srli_epi16(hm, 4)), dl + 12) \
    OUT(y + 224, MOE__Q3K_CODES(3, _mm256_srli_epi16(hm, 5)), dl + 14)
/* Q5_K sub-block j: nibble | qh bit j << 4 (0..31); hb = qh bytes with bit j in bit 4 */
#define MOE__Q5K_BODY(OUT) \
    const __m256i m4 = _mm256_set1_epi8(15), b4 = _mm256_set1_epi8(16); \
    __m256i qh = MOE__LD256(s + 16), b; \
    float dl[8], ml[8]; \
    moe__k4_dlml(s, dl, ml); \
    b = MOE__LD256(s + 48); \
    OUT(y, _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), b4)), 0) \
    OUT(y + 32, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_and_si256(_mm256_slli_epi16(qh, 3), b4)), 1) \
    b = MOE__LD256(s + 80); \
    OUT(y + 64, _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), b4)), 2) \
    OUT(y + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_and_si256(_mm256_add_epi8(qh, qh), b4)), 3) \
    b = MOE__LD256(s + 112); \
    OUT(y + 128, _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(qh, b4)), 4) \
    OUT(y + 160, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 1), b4)), 5) \
    b = MOE__LD256(s + 144); \
    OUT(y + 192, _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), b4)), 6) \
    OUT(y + 224, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 3), b4)), 7)

#if defined(MOE_SIMD_AVX512)
/* ---- 16 lanes ------------------------------------------------------------------------------ */
/* Q4_K sub-block j: the 16-entry table dl * c - ml; vpermps reads the low 4 bits of each code */
#define MOE__Q4K_SUB(j, SH) \
    t = _mm512_mul_ps(_mm512_set1_ps(dl[j]), iota); \
    MOE__NOFMA(t); \
    t = _mm512_sub_ps(t, _mm512_set1_ps(ml[j])); \
    _mm512_storeu_ps(y + 32 * (j), _mm512_permutexvar_ps(SH(_mm512_cvtepu8_epi32(MOE__LD128(s + 16 + 16 * ((j) & 6)))), t)); \
    _mm512_storeu_ps(y + 32 * (j) + 16, _mm512_permutexvar_ps(SH(_mm512_cvtepu8_epi32(MOE__LD128(s + 32 + 16 * ((j) & 6)))), t));
#define MOE__ID(x) (x)
#define MOE__SR4(x) _mm512_srli_epi32(x, 4)
static void moe__q4k_x86(const unsigned char *s, float *y)
{
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 t;
    float dl[8], ml[8];
    moe__k4_dlml(s, dl, ml);
    MOE__Q4K_SUB(0, MOE__ID) MOE__Q4K_SUB(1, MOE__SR4) MOE__Q4K_SUB(2, MOE__ID) MOE__Q4K_SUB(3, MOE__SR4)
    MOE__Q4K_SUB(4, MOE__ID) MOE__Q4K_SUB(5, MOE__SR4) MOE__Q4K_SUB(6, MOE__ID) MOE__Q4K_SUB(7, MOE__SR4)
}
#undef MOE__Q4K_SUB
#undef MOE__ID
#undef MOE__SR4
/* Q5_K: 32 codes (0..31) of sub-block j: dl * c - ml (as fast here as a 32-entry table) */
#define MOE__Q5K_OUT(y, c, j) { \
    __m512 vd = _mm512_set1_ps(dl[j]), vm = _mm512_set1_ps(ml[j]); \
    __m256i cc = c; \
    __m512 v0 = _mm512_mul_ps(vd, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(cc)))); \
    __m512 v1 = _mm512_mul_ps(vd, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(cc, 1)))); \
    MOE__NOFMA(v0); MOE__NOFMA(v1); \
    _mm512_storeu_ps(y, _mm512_sub_ps(v0, vm)); \
    _mm512_storeu_ps((y) + 16, _mm512_sub_ps(v1, vm)); }
static void moe__q5k_x86(const unsigned char *s, float *y)
{
    MOE__Q5K_BODY(MOE__Q5K_OUT)
}
#undef MOE__Q5K_OUT
/* Q6_K: 32 codes - 32 (int8) times dl */
#define MOE__Q6K_OUT(y, c, d) { \
    __m256i cc = c; \
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps((d)[0]), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(cc))))); \
    _mm512_storeu_ps((y) + 16, _mm512_mul_ps(_mm512_set1_ps((d)[1]), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(cc, 1))))); }
static void moe__q6k_x86(const unsigned char *s, float *y)
{
    MOE__Q6K_BODY(MOE__Q6K_OUT)
}
#undef MOE__Q6K_OUT
/* Q2_K sub-block j (16 values): the table dl * c - ml repeated 4 times, indexed by
   the code byte shifted right (vpermps reads its low 4 bits, the table only the low 2) */
#define MOE__Q2K_SUB(j) { \
    __m512 t = _mm512_mul_ps(_mm512_set1_ps(dl[j]), c4); \
    MOE__NOFMA(t); \
    _mm512_storeu_ps(y + 16 * (j), _mm512_permutexvar_ps(_mm512_srli_epi32(_mm512_cvtepu8_epi32(MOE__LD128(s + 16 + 32 * ((j) / 8) + 16 * ((j) & 1))), 2 * (((j) % 8) / 2)), \
                                                         _mm512_sub_ps(t, _mm512_set1_ps(ml[j])))); }
static void moe__q2k_x86(const unsigned char *s, float *y)
{
    const __m512 c4 = _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    float dl[16], ml[16];
    moe__q2k_dlml(s, dl, ml);
    MOE__Q2K_SUB(0) MOE__Q2K_SUB(1) MOE__Q2K_SUB(2) MOE__Q2K_SUB(3) MOE__Q2K_SUB(4) MOE__Q2K_SUB(5) MOE__Q2K_SUB(6) MOE__Q2K_SUB(7)
    MOE__Q2K_SUB(8) MOE__Q2K_SUB(9) MOE__Q2K_SUB(10) MOE__Q2K_SUB(11) MOE__Q2K_SUB(12) MOE__Q2K_SUB(13) MOE__Q2K_SUB(14) MOE__Q2K_SUB(15)
}
#undef MOE__Q2K_SUB
/* Q3_K: the 8-entry table dl * (c - 4), twice, of sub-blocks 2m and 2m+1 */
#define MOE__Q3K_OUT(y, c, d) { \
    __m256i cc = c; \
    _mm512_storeu_ps(y, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(cc)), _mm512_mul_ps(_mm512_set1_ps((d)[0]), c8))); \
    _mm512_storeu_ps((y) + 16, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(cc, 1)), _mm512_mul_ps(_mm512_set1_ps((d)[1]), c8))); }
static void moe__q3k_x86(const unsigned char *s, float *y)
{
    const __m512 c8 = _mm512_setr_ps(-4, -3, -2, -1, 0, 1, 2, 3, -4, -3, -2, -1, 0, 1, 2, 3);
    MOE__Q3K_BODY(MOE__Q3K_OUT)
}
#undef MOE__Q3K_OUT

#else
/* ---- 8 lanes (AVX2) ------------------------------------------------------------------------ */
/* 32 unsigned codes of sub-block j of Q4_K / Q5_K: dl * c - ml */
#define MOE__K4_OUT(y, c, j) { \
    __m256i cc = c; \
    __m256 vd = _mm256_broadcast_ss(dl + (j)), vm = _mm256_broadcast_ss(ml + (j)); \
    __m128i x0 = _mm256_castsi256_si128(cc), x1 = _mm256_extracti128_si256(cc, 1); \
    __m256 v0 = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x0))); \
    __m256 v1 = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(x0, x0)))); \
    __m256 v2 = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x1))); \
    __m256 v3 = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(x1, x1)))); \
    MOE__NOFMA(v0); MOE__NOFMA(v1); MOE__NOFMA(v2); MOE__NOFMA(v3); \
    _mm256_storeu_ps(y, _mm256_sub_ps(v0, vm)); \
    _mm256_storeu_ps((y) + 8, _mm256_sub_ps(v1, vm)); \
    _mm256_storeu_ps((y) + 16, _mm256_sub_ps(v2, vm)); \
    _mm256_storeu_ps((y) + 24, _mm256_sub_ps(v3, vm)); }
static void moe__q4k_x86(const unsigned char *s, float *y)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i b;
    float dl[8], ml[8];
    moe__k4_dlml(s, dl, ml);
    b = MOE__LD256(s + 16);
    MOE__K4_OUT(y, _mm256_and_si256(b, m4), 0) MOE__K4_OUT(y + 32, _mm256_and_si256(_mm256_srli_epi16(b, 4), m4), 1)
    b = MOE__LD256(s + 48);
    MOE__K4_OUT(y + 64, _mm256_and_si256(b, m4), 2) MOE__K4_OUT(y + 96, _mm256_and_si256(_mm256_srli_epi16(b, 4), m4), 3)
    b = MOE__LD256(s + 80);
    MOE__K4_OUT(y + 128, _mm256_and_si256(b, m4), 4) MOE__K4_OUT(y + 160, _mm256_and_si256(_mm256_srli_epi16(b, 4), m4), 5)
    b = MOE__LD256(s + 112);
    MOE__K4_OUT(y + 192, _mm256_and_si256(b, m4), 6) MOE__K4_OUT(y + 224, _mm256_and_si256(_mm256_srli_epi16(b, 4), m4), 7)
}
static void moe__q5k_x86(const unsigned char *s, float *y)
{
    MOE__Q5K_BODY(MOE__K4_OUT)
}
#undef MOE__K4_OUT
/* 32 codes - 32 (int8) of sub-blocks 2m, 2m+1 of Q6_K: dl * c */
#define MOE__Q6K_OUT(y, c, d) { \
    __m256i cc = c; \
    __m256 d0 = _mm256_broadcast_ss(d), d1 = _mm256_broadcast_ss((d) + 1); \
    __m128i x0 = _mm256_castsi256_si128(cc), x1 = _mm256_extracti128_si256(cc, 1); \
    _mm256_storeu_ps(y, _mm256_mul_ps(d0, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(x0)))); \
    _mm256_storeu_ps((y) + 8, _mm256_mul_ps(d0, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(x0, x0))))); \
    _mm256_storeu_ps((y) + 16, _mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(x1)))); \
    _mm256_storeu_ps((y) + 24, _mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(x1, x1))))); }
static void moe__q6k_x86(const unsigned char *s, float *y)
{
    MOE__Q6K_BODY(MOE__Q6K_OUT)
}
#undef MOE__Q6K_OUT
/* Q2_K sub-block j (16 values): the table dl * c - ml, twice, indexed by the code bytes as
   dwords shifted right (vpermps reads the low 3 bits, the table only the low 2) */
#define MOE__Q2K_SUB(j) { \
    const unsigned char *q = s + 16 + 32 * ((j) / 8) + 16 * ((j) & 1); \
    __m256 t = _mm256_mul_ps(_mm256_broadcast_ss(dl + (j)), c4); \
    MOE__NOFMA(t); \
    t = _mm256_sub_ps(t, _mm256_broadcast_ss(ml + (j))); \
    _mm256_storeu_ps(y + 16 * (j), _mm256_permutevar8x32_ps(t, _mm256_srli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q)), 2 * (((j) % 8) / 2)))); \
    _mm256_storeu_ps(y + 16 * (j) + 8, _mm256_permutevar8x32_ps(t, _mm256_srli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q + 8))), 2 * (((j) % 8) / 2)))); }
static void moe__q2k_x86(const unsigned char *s, float *y)
{
    const __m256 c4 = _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3);
    float dl[16], ml[16];
    moe__q2k_dlml(s, dl, ml);
    MOE__Q2K_SUB(0) MOE__Q2K_SUB(1) MOE__Q2K_SUB(2) MOE__Q2K_SUB(3) MOE__Q2K_SUB(4) MOE__Q2K_SUB(5) MOE__Q2K_SUB(6) MOE__Q2K_SUB(7)
    MOE__Q2K_SUB(8) MOE__Q2K_SUB(9) MOE__Q2K_SUB(10) MOE__Q2K_SUB(11) MOE__Q2K_SUB(12) MOE__Q2K_SUB(13) MOE__Q2K_SUB(14) MOE__Q2K_SUB(15)
}
#undef MOE__Q2K_SUB
/* Q3_K: 32 codes (0..7) of sub-blocks 2m, 2m+1 through their tables dl * (c - 4) */
#define MOE__Q3K_OUT(y, c, d) { \
    __m256i cc = c; \
    __m256 t0 = _mm256_mul_ps(_mm256_broadcast_ss(d), c8), t1 = _mm256_mul_ps(_mm256_broadcast_ss((d) + 1), c8); \
    __m128i x0 = _mm256_castsi256_si128(cc), x1 = _mm256_extracti128_si256(cc, 1); \
    _mm256_storeu_ps(y, _mm256_permutevar8x32_ps(t0, _mm256_cvtepu8_epi32(x0))); \
    _mm256_storeu_ps((y) + 8, _mm256_permutevar8x32_ps(t0, _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(x0, x0)))); \
    _mm256_storeu_ps((y) + 16, _mm256_permutevar8x32_ps(t1, _mm256_cvtepu8_epi32(x1))); \
    _mm256_storeu_ps((y) + 24, _mm256_permutevar8x32_ps(t1, _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(x1, x1)))); }
static void moe__q3k_x86(const unsigned char *s, float *y)
{
    const __m256 c8 = _mm256_setr_ps(-4, -3, -2, -1, 0, 1, 2, 3);
    MOE__Q3K_BODY(MOE__Q3K_OUT)
}
#undef MOE__Q3K_OUT
#endif
#undef MOE__Q6K_PAIR
#undef MOE__Q6K_BODY
#undef MOE__Q3K_CODES
#undef MOE__Q3K_BODY
#undef MOE__Q5K_BODY
#undef MOE__LD256
#undef MOE__LD128
#undef MOE__NOFMA
#undef MOE__INMEM
#endif

#if (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)) && MOE__X_F16C
#define MOE__HAVE_F8ROW 1
/* 16 E4M3 bytes (__m128i) as 16 f16 of value / 2^8: sign extension puts the sign at bit 15
   (and bit 14, masked off), the shift puts eeee.mmm under the f16 exponent and mantissa */
#define MOE__F8H16(b) _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(b), 7), _mm256_set1_epi16((short)0xBF80))
/* n FP8 E4M3 values times their block scales (f32, one per bc values; sb NULL: 1) to f32, by
   the f16 route of the one-token kernel (moe__f8_row): the f16 of value / 2^8, converted, times
   scale * 2^8. The exact product is the scalar decoder's value times the scale, so the bits are
   the same; a chunk of 16 holding a NaN code (0x7f/0xff), a scale whose 2^8 multiple could
   overflow, and the tail take the scalar decoder. */
static void moe__f8_decode_row(const unsigned char *w, int n, const unsigned char *sb, int bc, float *dst)
{
    const __m128i k7f = _mm_set1_epi8(0x7f);
    int c0, k;
    for (c0 = 0; c0 < n; c0 += bc) {
        int c1 = n - c0 > bc ? c0 + bc : n;
        float s = 1.0f;
        __m256 vs;
        if (sb) {
            s = moe__rdf32(sb);
            sb += 4;
        }
        vs = _mm256_set1_ps(s * 256.0f);
        k = c0;
        if (fabsf(s) < 1e30f)                          /* NaN, Inf and huge scales: all scalar */
            for (; k + 16 <= c1; k += 16) {
                __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(w + k));
                __m256i h;
                if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(b, k7f), k7f))) {
                    int j;
                    for (j = 0; j < 16; j++) dst[k + j] = moe__e4m3_to_f32(w[k + j]) * s;
                    continue;
                }
                h = MOE__F8H16(b);
                _mm256_storeu_ps(dst + k, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), vs));
                _mm256_storeu_ps(dst + k + 8, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), vs));
            }
        for (; k < c1; k++) dst[k] = moe__e4m3_to_f32(w[k]) * s;
    }
}
#endif

#if defined(MOE_SIMD_SCALAR)
static void moe__decode_row(moe_type t, const unsigned char *src, int n, float *dst)
{
    moe__decode_scalar(t, src, 0, (size_t)n, dst);
}
#else
#define MOE__QV (MOE__QK / MOE__VL)                 /* vectors per 32-value block */
#define MOE__DSTORE(j) MOE__VSTORE(dst + i + (j) * MOE__VL, MOE__VMUL(v[j], d));
/* one row of n values of W as f32, over the decoders; what they cannot do, the scalar one does */
static void moe__decode_row(moe_type t, const unsigned char *src, int n, float *dst)
{
    const unsigned char *b = src;                  /* block of quants */
    moe__vec v[MOE__QV], d;
    int i = 0;
    switch (t) {
#ifdef MOE__WF16
    case MOE_TYPE_F16:
        for (; i + MOE__VL <= n; i += MOE__VL) MOE__VSTORE(dst + i, MOE__WF16(src + 2 * i));
        break;
#endif
    case MOE_TYPE_BF16:
        for (; i + MOE__VL <= n; i += MOE__VL) MOE__VSTORE(dst + i, MOE__WBF16(src + 2 * i));
        break;
    case MOE_TYPE_Q8_0:
        for (; i < n; i += MOE__QK, b += MOE__Q8_BYTES) {
            d = MOE__VSET1(MOE__H2F_FAST(moe__rd16(b)));
            moe__q8_vecs(b + 2, v);
            MOE__EACH_QV(MOE__DSTORE)
        }
        break;
    case MOE_TYPE_Q4_0:
        for (; i < n; i += MOE__QK, b += MOE__Q4_BYTES) {
            d = MOE__VSET1(MOE__H2F_FAST(moe__rd16(b)));
            moe__q4_vecs(b + 2, v);
            MOE__EACH_QV(MOE__DSTORE)
        }
        break;
#ifdef MOE__HAVE_FP4V
    case MOE_TYPE_MXFP4:                               /* ggml's block_mxfp4 */
        for (; i < n; i += MOE__QK, b += MOE__MXFP4_BYTES) {
#if defined(MOE_SIMD_NEON) && !(defined(__aarch64__) || defined(_M_ARM64))
            if (b[0] < 2) { moe__dec_mxfp4(b, 1, dst + i); continue; }
#endif
            d = MOE__VSET1(moe__e8m0_half(b[0]));
            moe__fp4_vecs(b + 1, v);
            MOE__EACH_QV(MOE__DSTORE)
        }
        break;
#endif
#if defined(MOE__HAVE_F8ROW)
    case MOE_TYPE_F8_E4M3: moe__f8_decode_row(src, n, NULL, n, dst); return;
#elif defined(MOE__WF8)
    case MOE_TYPE_F8_E4M3:
        for (; i + MOE__VL <= n; i += MOE__VL) MOE__VSTORE(dst + i, MOE__WF8(src + i));
        break;
#endif
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
    case MOE_TYPE_Q4_K:
        for (; i < n; i += MOE__QK_K, b += MOE__Q4K_BYTES) moe__q4k_x86(b, dst + i);
        break;
    case MOE_TYPE_Q6_K:
        for (; i < n; i += MOE__QK_K, b += MOE__Q6K_BYTES) moe__q6k_x86(b, dst + i);
        break;
    case MOE_TYPE_Q5_K:
        for (; i < n; i += MOE__QK_K, b += MOE__Q5K_BYTES) moe__q5k_x86(b, dst + i);
        break;
    case MOE_TYPE_Q2_K:
        for (; i < n; i += MOE__QK_K, b += MOE__Q2K_BYTES) moe__q2k_x86(b, dst + i);
        break;
    case MOE_TYPE_Q3_K:
        for (; i < n; i += MOE__QK_K, b += MOE__Q3K_BYTES) moe__q3k_x86(b, dst + i);
        break;
#elif defined(MOE_SIMD_NEON)
    case MOE_TYPE_Q4_K: for (; i < n; i += MOE__QK_K, b += MOE__Q4K_BYTES) moe__q4k_neon(b, dst + i); break;
    case MOE_TYPE_Q5_K: for (; i < n; i += MOE__QK_K, b += MOE__Q5K_BYTES) moe__q5k_neon(b, dst + i); break;
    case MOE_TYPE_Q6_K: for (; i < n; i += MOE__QK_K, b += MOE__Q6K_BYTES) moe__q6k_neon(b, dst + i); break;
    case MOE_TYPE_Q2_K: for (; i < n; i += MOE__QK_K, b += MOE__Q2K_BYTES) moe__q2k_neon(b, dst + i); break;
    case MOE_TYPE_Q3_K: for (; i < n; i += MOE__QK_K, b += MOE__Q3K_BYTES) moe__q3k_neon(b, dst + i); break;
#endif
    default: break;                /* no SIMD decoder: the scalar one below does the row */
    }
    if (i < n) moe__decode_scalar(t, src, (size_t)i, (size_t)(n - i), dst + i);
}
#endif

MOE__API const char *moe_simd_name(void) { return MOE__SIMD_NAME; }

/* ---- the tile kernels, written once over the vector layer ---------------------------------
   moe__tile4: c[i*NR + n] = dot(x[i][0..K), w[n][0..K)) for 4 token rows and NR weight rows.
   moe__tile1: the same for one token row (the GEMV of a single token).
   K tails shorter than a vector are copied into zero-padded buffers and run as one more step,
   so no path reads past the end of a row. */
#define MOE__DECL_W(n)      moe__vec w##n; const float *pw##n = w[n];
#define MOE__DECL_A(i, n)   moe__vec a##i##n = MOE__VZERO();
#define MOE__LOAD_W(n)      w##n = MOE__VLOAD(pw##n + k);
#define MOE__FMA_A(i, n)    a##i##n = MOE__VFMA(xv, w##n, a##i##n);
#define MOE__ROW(i)         xv = MOE__VLOAD(px##i + k); MOE__EACH_IN(MOE__FMA_A, i)
#define MOE__PAD_W(n)       memcpy(tw[n], pw##n + k, (size_t)r * sizeof(float)); pw##n = tw[n];
#define MOE__SUM_A(i, n)    c[i * MOE__NR + n] = MOE__VSUM(a##i##n);

static void moe__tile4(int K, const float *const *x, const float *const *w, float *c)
{
    MOE__EACH_N(MOE__DECL_W)
    MOE__EACH_IN(MOE__DECL_A, 0) MOE__EACH_IN(MOE__DECL_A, 1)
    MOE__EACH_IN(MOE__DECL_A, 2) MOE__EACH_IN(MOE__DECL_A, 3)
    const float *px0 = x[0], *px1 = x[1], *px2 = x[2], *px3 = x[3];
    moe__vec xv;
    int k = 0;
    for (; k + MOE__VL <= K; k += MOE__VL) {
        MOE__EACH_N(MOE__LOAD_W)
        MOE__ROW(0) MOE__ROW(1) MOE__ROW(2) MOE__ROW(3)
    }
    if (k < K) {
        float tx[4][MOE__VL], tw[MOE__NR][MOE__VL];
        int r = K - k;
        memset(tx, 0, sizeof tx); memset(tw, 0, sizeof tw);
        memcpy(tx[0], px0 + k, (size_t)r * sizeof(float)); px0 = tx[0];
        memcpy(tx[1], px1 + k, (size_t)r * sizeof(float)); px1 = tx[1];
        memcpy(tx[2], px2 + k, (size_t)r * sizeof(float)); px2 = tx[2];
        memcpy(tx[3], px3 + k, (size_t)r * sizeof(float)); px3 = tx[3];
        MOE__EACH_N(MOE__PAD_W)
        k = 0;
        MOE__EACH_N(MOE__LOAD_W)
        MOE__ROW(0) MOE__ROW(1) MOE__ROW(2) MOE__ROW(3)
    }
    MOE__EACH_IN(MOE__SUM_A, 0) MOE__EACH_IN(MOE__SUM_A, 1)
    MOE__EACH_IN(MOE__SUM_A, 2) MOE__EACH_IN(MOE__SUM_A, 3)
}

static void moe__tile1(int K, const float *x, const float *const *w, float *c)
{
    MOE__EACH_N(MOE__DECL_W)
    MOE__EACH_IN(MOE__DECL_A, 0)
    const float *px0 = x;
    moe__vec xv;
    int k = 0;
    for (; k + MOE__VL <= K; k += MOE__VL) {
        MOE__EACH_N(MOE__LOAD_W)
        MOE__ROW(0)
    }
    if (k < K) {
        float tx[MOE__VL], tw[MOE__NR][MOE__VL];
        int r = K - k;
        memset(tx, 0, sizeof tx); memset(tw, 0, sizeof tw);
        memcpy(tx, px0 + k, (size_t)r * sizeof(float)); px0 = tx;
        MOE__EACH_N(MOE__PAD_W)
        k = 0;
        MOE__EACH_N(MOE__LOAD_W)
        MOE__ROW(0)
    }
    MOE__EACH_IN(MOE__SUM_A, 0)
}

/* moe__gemv: c[n] = dot(x[0..K), row n of W) for nb rows of type t, row 0 at w, rows stride
   bytes apart: the product of ONE token, W streamed once, one row after another (moe__gemv_row;
   the scalar path: moe__tile1). f16/bf16 rows are decoded in registers and used at once, never
   stored (a decoded f32 panel costs a write and a re-read of 4 bytes per weight, more than the
   weights' own traffic). (Q8_0/Q4_0/K-quant/MXFP4 rows go to the integer kernels, moe__qmat, for up
   to MOE__QM tokens.) moe__gemv_ok(t) says whether this path has a one-token kernel for t (the
   scalar path, the readable reference, and f16 without F16C or on ARMv7 keep the decoded panel
   for f16/bf16). */
#if defined(MOE_SIMD_SCALAR)
static int moe__gemv_ok(moe_type t) { return t == MOE_TYPE_F32 && !MOE__BE; }
#else
static int moe__gemv_ok(moe_type t)            /* the types moe__gemv has a kernel for */
{
#ifdef MOE__WF16
    if (t == MOE_TYPE_F16) return 1;
#endif
#ifdef MOE__HAVE_F8ROW
    if (t == MOE_TYPE_F8_E4M3) return 1;       /* moe__f8_gemv, with the block scales */
#endif
    return t == MOE_TYPE_F32 || t == MOE_TYPE_BF16;
}
#endif


/* ---- one token against Q8_0 / Q4_0 rows: integer dot products -----------------------------
   The token's row x[K] is quantised once per expert and phase (moe__qx_make, cached in the
   worker's scratch) in blocks of 32: dx = amax/127 (f32), v = x * (127/amax),
   q1 = nearest-even(v), and a second byte for what q1 misses, q2 = nearest-even(256 (v - q1))
   clamped to +-127, so x = dx (q1 + q2/256) to within dx/512. Each block of W then costs integer
   dot products, scaled once by dw*dx: Q4_0 uses q1 alone (as ggml's q8 activations: the error
   is far below the 4-bit weights' own), Q8_0 uses 256 (w.q1) + w.q2 (exact in int32), so
   8-bit weights do not lose accuracy to 8-bit activations. The quantiser does the same
   arithmetic on every path (max, one multiply, an exact subtraction, rounding to nearest even),
   so every path sums the same integers. A block holding NaN or Inf gets dx = NaN and q = 0, so
   its dot is NaN, as the f32 one would be; a block whose amax is below 2^-120 counts as zero.
   qx, the quantised row of K values: int8 q1[K] | int8 q2[K] (natural order) | float d[K/4]:
   dx for each 4-value lane (8 copies per block) | int32 c4[K/4], ca[K/4], cb[K/4] (x86 only:
   the corrections for the kernels' unsigned operand, -8 and -128 times the sum of each lane's
   4 q1, and -128 times that of its 4 q2). */
#if defined(MOE_SIMD_AVX512) && MOE__X_VNNI512BW
/* AVX-512 with VNNI: Q8_0 runs two blocks per zmm step, Q4_0 three, straight off the weights'
   bytes: a 64-byte load of three Q4_0 blocks is 54 bytes of scales and quants, and every 4-byte
   lane of it holds quants of one block only (the scales sit at bytes 0-1, 18-19 and 36-37). So
   qx also holds, per group of three blocks, q1 laid out on those bytes: the low-nibble row xl
   and the high-nibble row xh (zero at the scale bytes and past 54), the lanes' corrections
   (-8 times the sum of xl and xh over the lane) and each lane's dx: 256 bytes per 96 values. */
#define MOE__QZMM 1
#define MOE__QX_BYTES(K) (9 * (size_t)(K))
#else
#define MOE__QX_BYTES(K) (6 * (size_t)(K))
#endif
#define MOE__GPF 4096          /* least prefetch distance of the one-token kernels, in stream order */

/* the scalar quantiser of one block (the reference the vector ones match); returns dx */
static float moe__qx_scalar(const float *x, signed char *q1, signed char *q2, float amax, int bad)
{
    float id;
    int i;
    if (bad || !(amax >= 7.5231638e-37f)) {                      /* non-finite, or ~0: 2^-120 */
        memset(q1, 0, MOE__QK); memset(q2, 0, MOE__QK);
        return bad ? moe__bits_f(0x7fc00000u) : 0.0f;
    }
    id = 127.0f / amax;
    for (i = 0; i < MOE__QK; i++) {
        float v = x[i] * id, r;
        long a = lrintf(v), b;
        r = v - (float)a;                                         /* exact */
        b = lrintf(r * 256.0f);
        q1[i] = (signed char)a;
        q2[i] = (signed char)(b > 127 ? 127 : b < -127 ? -127 : b);
    }
    return amax / 127.0f;
}

#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
static __m256i moe__qx_pack(__m256i i0, __m256i i1, __m256i i2, __m256i i3)   /* 32 int32 -> int8, in order */
{
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
#define MOE__QXR(n) r##n = _mm256_mul_ps(_mm256_sub_ps(v##n, _mm256_cvtepi32_ps(i##n)), k256); j##n = _mm256_cvtps_epi32(r##n);
static float moe__qx_block(const float *x, signed char *q1, signed char *q2, int32_t *c4, int32_t *ca, int32_t *cb)
{
    const __m256 nz = _mm256_set1_ps(-0.0f), k256 = _mm256_set1_ps(256.0f);
    const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(nz, v0), _mm256_andnot_ps(nz, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(nz, v2), _mm256_andnot_ps(nz, v3)));
    /* non-finite: exponent bits all ones, tested on the bits (no NaN compare -ffast-math could fold) */
    const __m256i ex = _mm256_set1_epi32(0x7f800000);
#define MOE__QXNF(v) _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), ex), ex)
    __m256i nf = _mm256_or_si256(_mm256_or_si256(MOE__QXNF(v0), MOE__QXNF(v1)), _mm256_or_si256(MOE__QXNF(v2), MOE__QXNF(v3)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m256i i0, i1, i2, i3, j0, j1, j2, j3, p1, p2, s1, s2;
    __m256 r0, r1, r2, r3, vid;
    float amax;
    int bad = !_mm256_testz_si256(nf, nf);
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    amax = _mm_cvtss_f32(m);
    if (bad || !(amax >= 7.5231638e-37f)) {
        memset(c4, 0, 8 * sizeof(int32_t)); memset(ca, 0, 8 * sizeof(int32_t)); memset(cb, 0, 8 * sizeof(int32_t));
        return moe__qx_scalar(x, q1, q2, amax, bad);
    }
    vid = _mm256_set1_ps(127.0f / amax);
    v0 = _mm256_mul_ps(v0, vid); v1 = _mm256_mul_ps(v1, vid); v2 = _mm256_mul_ps(v2, vid); v3 = _mm256_mul_ps(v3, vid);
    i0 = _mm256_cvtps_epi32(v0); i1 = _mm256_cvtps_epi32(v1); i2 = _mm256_cvtps_epi32(v2); i3 = _mm256_cvtps_epi32(v3);
    MOE__QXR(0) MOE__QXR(1) MOE__QXR(2) MOE__QXR(3)
    p1 = moe__qx_pack(i0, i1, i2, i3);
    p2 = _mm256_max_epi8(moe__qx_pack(j0, j1, j2, j3), _mm256_set1_epi8(-127));   /* packs clamps +128 to 127 */
    _mm256_storeu_si256((__m256i *)(void *)q1, p1);
    _mm256_storeu_si256((__m256i *)(void *)q2, p2);
    s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(one8, p1), one16);              /* lane sums */
    s2 = _mm256_madd_epi16(_mm256_maddubs_epi16(one8, p2), one16);
    _mm256_storeu_si256((__m256i *)(void *)c4, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s1, 3)));
    _mm256_storeu_si256((__m256i *)(void *)ca, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s1, 7)));
    _mm256_storeu_si256((__m256i *)(void *)cb, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s2, 7)));
    return amax / 127.0f;
}
#elif defined(MOE_SIMD_NEON) && (defined(__aarch64__) || defined(_M_ARM64))
static float moe__qx_block(const float *x, signed char *q1, signed char *q2, int32_t *c4, int32_t *ca, int32_t *cb)
{
    float32x4_t v[8], a = vdupq_n_f32(0.0f), vid;
    uint32x4_t nf = vdupq_n_u32(0), ex = vdupq_n_u32(0x7f800000u);   /* non-finite, on the bits */
    float amax;
    int i, bad;
    (void)c4; (void)ca; (void)cb;
    for (i = 0; i < 8; i++) {
        v[i] = vld1q_f32(x + 4 * i);
        a = vmaxq_f32(a, vabsq_f32(v[i]));
        nf = vorrq_u32(nf, vceqq_u32(vandq_u32(vreinterpretq_u32_f32(v[i]), ex), ex));
    }
    amax = vmaxvq_f32(a);
    bad = vmaxvq_u32(nf) != 0;
    if (bad || !(amax >= 7.5231638e-37f)) return moe__qx_scalar(x, q1, q2, amax, bad);
    vid = vdupq_n_f32(127.0f / amax);
    for (i = 0; i < 8; i += 2) {
        float32x4_t va = vmulq_f32(v[i], vid), vb = vmulq_f32(v[i + 1], vid);
        int32x4_t ia = vcvtnq_s32_f32(va), ib = vcvtnq_s32_f32(vb);
        int32x4_t ja = vcvtnq_s32_f32(vmulq_n_f32(vsubq_f32(va, vcvtq_f32_s32(ia)), 256.0f));
        int32x4_t jb = vcvtnq_s32_f32(vmulq_n_f32(vsubq_f32(vb, vcvtq_f32_s32(ib)), 256.0f));
        ja = vmaxq_s32(vminq_s32(ja, vdupq_n_s32(127)), vdupq_n_s32(-127));
        jb = vmaxq_s32(vminq_s32(jb, vdupq_n_s32(127)), vdupq_n_s32(-127));
        vst1_s8(q1 + 4 * i, vmovn_s16(vcombine_s16(vmovn_s32(ia), vmovn_s32(ib))));
        vst1_s8(q2 + 4 * i, vmovn_s16(vcombine_s16(vmovn_s32(ja), vmovn_s32(jb))));
    }
    return amax / 127.0f;
}
#else
static float moe__qx_block(const float *x, signed char *q1, signed char *q2, int32_t *c4, int32_t *ca, int32_t *cb)
{
    float amax = 0.0f;
    int i, bad = 0;
    (void)c4; (void)ca; (void)cb;
    for (i = 0; i < MOE__QK; i++) {
        float a = fabsf(x[i]);
        if (!moe__finite(x[i])) bad = 1;
        else if (a > amax) amax = a;
    }
    return moe__qx_scalar(x, q1, q2, amax, bad);
}
#endif

static void moe__qx_make(int K, const float *x, unsigned char *qx)
{
    signed char *q1 = (signed char *)qx, *q2 = q1 + K;
    float *d = (float *)(void *)(qx + 2 * (size_t)K);
    int32_t *c4 = (int32_t *)(void *)(qx + 3 * (size_t)K), *ca = c4 + K / 4, *cb = ca + K / 4;
    int b, i;
    for (b = 0; b < K / MOE__QK; b++) {
        float dx = moe__qx_block(x + b * MOE__QK, q1 + b * MOE__QK, q2 + b * MOE__QK, c4 + b * 8, ca + b * 8, cb + b * 8);
        for (i = 0; i < 8; i++) d[b * 8 + i] = dx;
    }
#ifdef MOE__QZMM
    for (b = 0; b + 3 <= K / MOE__QK; b += 3) {              /* the Q4_0 three-block groups */
        unsigned char *g = qx + 6 * (size_t)K + (size_t)(b / 3) * 256;
        signed char *xl = (signed char *)g, *xh = xl + 64;
        int32_t *cl = (int32_t *)(void *)(g + 128);
        float *dl = (float *)(void *)(g + 192);
        int j, l;
        memset(g, 0, 128);
        for (j = 0; j < 3; j++)
            for (i = 0; i < 16; i++) {
                xl[18 * j + 2 + i] = q1[(b + j) * MOE__QK + i];
                xh[18 * j + 2 + i] = q1[(b + j) * MOE__QK + 16 + i];
            }
        for (l = 0; l < 16; l++) {
            int32_t s = 0;
            for (i = 0; i < 4; i++) s += xl[4 * l + i] + xh[4 * l + i];
            cl[l] = -8 * s;
            dl[l] = l < 5 ? d[b * 8] : l < 9 ? d[(b + 1) * 8] : l < 14 ? d[(b + 2) * 8] : 0.0f;
        }
    }
#endif
}

/* ---- K-quant and MXFP4 rows against 8-bit activations in blocks of 256 (ggml's Q8_K) -------
   For up to MOE__QM tokens, Q2_K..Q6_K and MXFP4 matrices run integer dot products against
   the token quantised once per expert and phase (moe__qxk_make) in blocks of 256 values:
   float d = amax/127 | int8 q[256] = nearest-even(x * 127/amax) | int16 bsum[16], the sums of
   each 16 q (MOE__QXK_BLK = 292 bytes a block; a row of K values takes ceil(K/256) blocks, the
   tail of the last one zero). The same rules as moe__qx_scalar: a block holding NaN or Inf
   gets d = NaN and q = 0, one whose amax is below 2^-120 counts as zero. Each super-block of
   a K-quant row then costs one integer dot per sub-block, weighted by its integer scale:
     Q4_K, Q5_K, Q2_K (w = d sc q - dmin m):  dx (d . sum_j sc_j (q.x)_j - dmin . sum_j m_j bsum_j)
     Q6_K, Q3_K       (w = d sc q, q signed): dx  d . sum_j sc_j (q.x)_j
   (the sums over j exact in int32: |q.x| <= 32 * 31 * 127 per sub-block); MXFP4 blocks of 32
   cost dx . 2^(e-128) . (v.x), v the doubled E2M1 values. The float steps are the same on
   every path, so paths differ only in the order of the super-block sums. */
#define MOE__QXK_BLK 292
#define MOE__QXK_BYTES(K) ((((size_t)(K) + 255) / 256) * MOE__QXK_BLK)
static float moe__qxk_d(const unsigned char *b) { float d; memcpy(&d, b, 4); return d; }
#if !defined(MOE_SIMD_NEON)          /* the NEON kernels load the sums as vectors */
static int moe__qxk_bsum(const unsigned char *b, int j)
{
    int16_t s;
    memcpy(&s, b + 260 + 2 * j, 2);
    return s;
}
#endif
/* one block of n <= 256 values (the rest zero) */
static void moe__qxk_block(const float *x, int n, unsigned char *o)
{
    signed char *q = (signed char *)(o + 4);
    float amax = 0.0f, d = 0.0f, id;
    int16_t bs[16];
    int i, j, bad = 0;
    for (i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!moe__finite(x[i])) bad = 1;
        else if (a > amax) amax = a;
    }
    memset(q, 0, 256);
    if (bad) d = moe__bits_f(0x7fc00000u);
    else if (amax >= 7.5231638e-37f) {                     /* else: ~0 (2^-120), counts as zero */
        id = 127.0f / amax;
        for (i = 0; i < n; i++) q[i] = (signed char)moe__nint(x[i] * id, -127, 127);
        d = amax / 127.0f;
    }
    for (j = 0; j < 16; j++) {
        int s = 0;
        for (i = 0; i < 16; i++) s += q[16 * j + i];
        bs[j] = (int16_t)s;
    }
    memcpy(o, &d, 4);
    memcpy(o + 260, bs, 32);
}
static void moe__qxk_make(int K, const float *x, unsigned char *qx)
{
    int b;
    for (b = 0; b < K; b += 256, qx += MOE__QXK_BLK) moe__qxk_block(x + b, K - b < 256 ? K - b : 256, qx);
}

/* the scalar kernels: the readable reference every vector kernel matches (the scalar path's
   own; the others have vector kernels). w: the row's first super-block, x: the token's first
   Q8_K block, nsb: super-blocks */
#if defined(MOE_SIMD_SCALAR)
/* Q4_K, and Q5_K (five: qs at 48, a fifth bit at bit j of qh[l]) */
static float moe__kdot_q45_ref(const unsigned char *w, const unsigned char *x, int nsb, int five)
{
    float acc = 0.0f;
    int b, j, l, sc, m;
    for (b = 0; b < nsb; b++, w += five ? MOE__Q5K_BYTES : MOE__Q4K_BYTES, x += MOE__QXK_BLK) {
        const signed char *q8 = (const signed char *)(x + 4);
        int32_t is = 0, ms = 0;
        for (j = 0; j < 8; j++) {
            const unsigned char *q = w + (five ? 48 : 16) + 32 * (j / 2), *qh = w + 16;
            int sh = 4 * (j & 1), s = 0;
            for (l = 0; l < 32; l++) s += (((q[l] >> sh) & 15) | (five ? ((qh[l] >> j) & 1) << 4 : 0)) * q8[32 * j + l];
            moe__k4_get(w + 4, j, &sc, &m);
            is += sc * s;
            ms += m * (moe__qxk_bsum(x, 2 * j) + moe__qxk_bsum(x, 2 * j + 1));
        }
        acc += moe__qxk_d(x) * (moe__h2f(moe__rd16(w)) * (float)is - moe__h2f(moe__rd16(w + 2)) * (float)ms);
    }
    return acc;
}
static float moe__kdot_q6_k_ref(const unsigned char *w, const unsigned char *x, int nsb)
{
    float acc = 0.0f;
    int b, j, l;
    for (b = 0; b < nsb; b++, w += MOE__Q6K_BYTES, x += MOE__QXK_BLK) {
        const signed char *q8 = (const signed char *)(x + 4);
        int32_t is = 0;
        for (j = 0; j < 16; j++) {
            int h = j / 8, k = (j % 8) / 2, o = 16 * (j & 1), s = 0;
            const unsigned char *ql = w + 64 * h + 32 * (k & 1) + o, *qh = w + 128 + 32 * h + o;
            for (l = 0; l < 16; l++)
                s += ((((ql[l] >> (4 * (k >> 1))) & 15) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32) * q8[16 * j + l];
            is += (signed char)w[192 + j] * s;
        }
        acc += moe__qxk_d(x) * (moe__h2f(moe__rd16(w + 208)) * (float)is);
    }
    return acc;
}
static float moe__kdot_q2_k_ref(const unsigned char *w, const unsigned char *x, int nsb)
{
    float acc = 0.0f;
    int b, j, l;
    for (b = 0; b < nsb; b++, w += MOE__Q2K_BYTES, x += MOE__QXK_BLK) {
        const signed char *q8 = (const signed char *)(x + 4);
        int32_t is = 0, ms = 0;
        for (j = 0; j < 16; j++) {
            const unsigned char *q = w + 16 + 32 * (j / 8) + 16 * (j & 1);
            int sh = 2 * ((j % 8) / 2), s = 0;
            for (l = 0; l < 16; l++) s += ((q[l] >> sh) & 3) * q8[16 * j + l];
            is += (w[j] & 15) * s;
            ms += (w[j] >> 4) * moe__qxk_bsum(x, j);
        }
        acc += moe__qxk_d(x) * (moe__h2f(moe__rd16(w + 80)) * (float)is - moe__h2f(moe__rd16(w + 82)) * (float)ms);
    }
    return acc;
}
static float moe__kdot_q3_k_ref(const unsigned char *w, const unsigned char *x, int nsb)
{
    float acc = 0.0f;
    int b, j, l;
    for (b = 0; b < nsb; b++, w += MOE__Q3K_BYTES, x += MOE__QXK_BLK) {
        const signed char *q8 = (const signed char *)(x + 4);
        int32_t is = 0;
        for (j = 0; j < 16; j++) {
            const unsigned char *q = w + 32 + 32 * (j / 8) + 16 * (j & 1), *hm = w + 16 * (j & 1);
            int sh = 2 * ((j % 8) / 2), hb = j / 2, s = 0;
            for (l = 0; l < 16; l++) s += (((q[l] >> sh) & 3) - ((hm[l] >> hb) & 1 ? 0 : 4)) * q8[16 * j + l];
            is += moe__k3_get(w + 96, j) * s;
        }
        acc += moe__qxk_d(x) * (moe__h2f(moe__rd16(w + 108)) * (float)is);
    }
    return acc;
}
/* MXFP4, nb blocks of 32: nibbles at nib (16 bytes a block, nstride apart), E8M0 scales at e
   (estride apart); ggml's order (value j low nibble of byte j, 16 + j high) or, inter, the
   gpt-oss order (2j low, 2j + 1 high) */
static float moe__kdot_mxfp4_ref(const unsigned char *nib, size_t nstride, const unsigned char *e, size_t estride,
                                 int inter, const unsigned char *x, int nb)
{
    float acc = 0.0f;
    int b, l;
    for (b = 0; b < nb; b++, nib += nstride, e += estride) {
        const unsigned char *xb = x + (size_t)(b / 8) * MOE__QXK_BLK;
        const signed char *q8 = (const signed char *)(xb + 4) + 32 * (b % 8);
        int s = 0;
        for (l = 0; l < 16; l++) {
            int lo = moe__fp4x2[nib[l] & 15], hi = moe__fp4x2[nib[l] >> 4];
            s += inter ? lo * q8[2 * l] + hi * q8[2 * l + 1] : lo * q8[l] + hi * q8[16 + l];
        }
        acc += moe__qxk_d(xb) * (moe__e8m0_half(e[0]) * (float)s);
    }
    return acc;
}
#endif
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
/* ---- x86 kernels for the Q8_K family (moe__kdot_*): the reference kernels' exact integers ------
   Per super-block the integer sums are the scalar kernels' own: the weight codes go in unsigned
   (q4, q5 as stored, q2 0..3, q3 + 4 in 0..7, q6 + 32 in 0..63, the E2M1 value + 12 in 0..24)
   against q, and the offsets come back exactly from bsum (q3: -4 sc.bsum, q6: -32 sc.bsum,
   MXFP4: -12 per block of 32). With VNNI each step of 32 values is a vpdpbusd (4-byte dots,
   |dot| <= 4 * 63 * 127), two steps are packed to 16 bits and weighted by their sub-block scales
   in one vpdpwssd; without, pair products (vpmaddubsw, |pair| <= 2 * 63 * 127: no saturation)
   against the scales (vpmaddwd). Four super-blocks (MXFP4: the 8 blocks of a Q8_K block) are
   reduced together to exact int32 totals, one a lane, and finished with the reference's float
   formula lane by lane (dx * (d * is - dmin * ms), dx * (d * is), dx * (e * s)): only the order
   of the super-block sums differs from the scalar kernels. A row's last, partial group repeats
   its first super-block in the missing lanes and zeroes their scales, and a group's float step
   runs one group later. Measured on Zen 4, one thread, rows in L1: 1.3-1.9x ggml's kernels
   (both -march=native), 1.04-1.7x with -mavx2 -mfma; the kernels are bound by their vector
   instructions, not by the loads of the misaligned rows or of q. */
#define MOE__KDOT_SIMD 1
#define MOE__KLD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define MOE__KLDX(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#if MOE__X_FMA
#define MOE__KFMA128(a, b, c) _mm_fmadd_ps(a, b, c)
#else
#define MOE__KFMA128(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#endif
/* MOE__KDP4: c + the 4-byte dot products u.s (u unsigned, s signed bytes). MOE__KP2: acc + two
   steps of 32 values, u0.s0 and u1.s1, each weighted by its sub-blocks' 16-bit scales from S:
   with VNNI the steps' 4-byte dots packed to 16 bits (exact: |dot| <= 4 * 63 * 127) against
   the scales as packs leaves them (cp), one vpdpwssd; else pair products (maddubs) against the
   scales of each step (c0, c1) */
#if MOE__X_VNNI512
#define MOE__KDP4(c, u, s) _mm256_dpbusd_epi32(c, u, s)
#define MOE__KDPW(c, a, b) _mm256_dpwssd_epi32(c, a, b)
#elif MOE__X_AVXVNNI
#define MOE__KDP4(c, u, s) _mm256_dpbusd_avx_epi32(c, u, s)
#define MOE__KDPW(c, a, b) _mm256_dpwssd_avx_epi32(c, a, b)
#else
#define MOE__KDP4(c, u, s) _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#endif
#ifdef MOE__KDPW
#define MOE__KP2(acc, u0, s0, u1, s1, S, c0, c1, cp) \
    acc = MOE__KDPW(acc, _mm256_packs_epi32(MOE__KDP4(_mm256_setzero_si256(), u0, s0), MOE__KDP4(_mm256_setzero_si256(), u1, s1)), _mm256_shuffle_epi8(S, cp))
#else
#define MOE__KP2(acc, u0, s0, u1, s1, S, c0, c1, cp) \
    acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u0, s0), _mm256_shuffle_epi8(S, c0)), \
                                                 _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s1), _mm256_shuffle_epi8(S, c1))))
#endif
/* vpshufb controls: dwords a a b b c c d d; W(j): word j of S in both words, B(j): byte j of S zero-extended */
#define MOE__KC4(a, b, c, d) _mm256_setr_epi32(a, a, b, b, c, c, d, d)
#define MOE__KW(j) ((int)(0x01000100 + 0x02020202 * (j)))
#define MOE__KB(j) ((int)(0x80008000u + 0x00010001u * (unsigned)(j)))
/* a | (b & m), (a | b) & m: one vpternlogd where AVX-512VL has it */
#if MOE__X_AVX512VL
#define MOE__KOR(a, b, m) _mm256_ternarylogic_epi32(a, b, m, 0xf8)
#define MOE__KANDOR(a, b, m) _mm256_ternarylogic_epi32(a, b, m, 0xa8)
#else
#define MOE__KOR(a, b, m) _mm256_or_si256(a, _mm256_and_si256(b, m))
#define MOE__KANDOR(a, b, m) _mm256_and_si256(_mm256_or_si256(a, b), m)
#endif
/* 8 (4) f16 to f32: F16C, else moe__h2f's values in integer steps (DAZ-proof: subnormal halves
   as m * 2^-24 from an exact int conversion) */
#if MOE__X_F16C
#define MOE__KH8(v) _mm256_cvtph_ps(v)
#define MOE__KH4(v) _mm_cvtph_ps(v)
#else
static __m256 moe__kh8(__m128i v)
{
    const __m256i h = _mm256_cvtepu16_epi32(v), em = _mm256_and_si256(h, _mm256_set1_epi32(0x7fff));
    const __m256i e = _mm256_srli_epi32(em, 10), sign = _mm256_slli_epi32(_mm256_xor_si256(h, em), 16);
    __m256i r = _mm256_add_epi32(_mm256_slli_epi32(em, 13), _mm256_set1_epi32(112 << 23));             /* normal */
    __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(em), _mm256_set1_ps(5.9604644775390625e-8f));         /* e == 0 */
    r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_slli_epi32(em, 13), _mm256_set1_epi32(0x7f800000)),
                           _mm256_cmpeq_epi32(e, _mm256_set1_epi32(31)));                                /* Inf, NaN */
    r = _mm256_blendv_epi8(r, _mm256_castps_si256(sub), _mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
    return _mm256_castsi256_ps(_mm256_or_si256(r, sign));
}
#define MOE__KH8(v) moe__kh8(v)
#define MOE__KH4(v) _mm256_castps256_ps128(moe__kh8(v))
#endif
/* keeps a loaded vector in a register: compilers otherwise fold the load into each of its
   uses (measured: q2_K, q3_K, q6_K 2-5 % faster held) */
#if defined(__GNUC__) || defined(__clang__)
#define MOE__KREG(v) __asm__("" : "+x"(v))
#else
#define MOE__KREG(v) ((void)0)
#endif
static uint32_t moe__kr32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static const int32_t moe__kmask[8] = { -1, -1, -1, -1, 0, 0, 0, 0 };

/* the group loop of a K-quant with B bytes a super-block: w0..w3, x0..x3 the super-blocks (the
   missing ones of a last group: copies of the first), k the mask of the real lanes, then BODY,
   which leaves the group's exact integer totals in the vector it (see moe__kred2, moe__kred1)
   and their f16 scales in hd. The float step of a group runs one group later (FIN: acc from pt,
   pd, pdx), so that its latency overlaps the next group's integer work. */
#define MOE__KGROUP(B, T, BODY, HD, FIN) \
    __m128 acc = _mm_setzero_ps(), pdx = acc; \
    T pt = MOE__KZERO_##T; \
    __m128i pd = _mm_setzero_si128(); \
    int b; \
    for (b = 0; b < nsb; b += 4, w += 4 * (B), x += 4 * MOE__QXK_BLK) { \
        int n = nsb - b < 4 ? nsb - b : 4; \
        const unsigned char *w0 = w, *w1 = n > 1 ? w + (B) : w, *w2 = n > 2 ? w + 2 * (B) : w, *w3 = n > 3 ? w + 3 * (B) : w; \
        const unsigned char *x0 = x, *x1 = n > 1 ? x + MOE__QXK_BLK : x, *x2 = n > 2 ? x + 2 * MOE__QXK_BLK : x; \
        const unsigned char *x3 = n > 3 ? x + 3 * MOE__QXK_BLK : x; \
        const __m128i k = MOE__KLDX(moe__kmask + 4 - n), kp = _mm_shuffle_epi32(k, 0xd8); \
        const __m128 dx = _mm_and_ps(_mm_movelh_ps(_mm_unpacklo_ps(_mm_set_ss(moe__qxk_d(x0)), _mm_set_ss(moe__qxk_d(x2))), \
                                                   _mm_unpacklo_ps(_mm_set_ss(moe__qxk_d(x1)), _mm_set_ss(moe__qxk_d(x3)))), _mm_castsi128_ps(kp)); \
        const __m128i hd = HD; \
        T it; \
        BODY \
        acc = FIN(pt, pd, pdx, acc); \
        pt = it; pd = hd; pdx = dx; \
    } \
    acc = FIN(pt, pd, pdx, acc); \
    return moe__khsum128(acc);
#define MOE__KZERO___m256i _mm256_setzero_si256()
#define MOE__KZERO___m128i _mm_setzero_si128()
static float moe__khsum128(__m128 s)
{
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
/* two super-blocks' 8-lane vectors to one: the low lane adds up to a's sum, the high one to b's */
#define MOE__KMRG(a, b) _mm256_add_epi32(_mm256_blend_epi32(a, b, 0xf0), _mm256_permute2x128_si256(a, b, 0x21))
/* lanes 0, 1 and 4, 5 of a float vector as one 128-bit vector */
#define MOE__K0145(v) _mm256_castpd256_pd128(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0x08))
#define MOE__K2367(v) _mm256_castpd256_pd128(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0x0d))
/* four super-blocks' exact totals: the 8 lanes of iN add up to is, those of mN to ms, as
   [is0 is2 ms0 ms2 | is1 is3 ms1 ms3] */
static __m256i moe__kred2(__m256i i0, __m256i i1, __m256i i2, __m256i i3, __m256i m0, __m256i m1, __m256i m2, __m256i m3)
{
    return _mm256_hadd_epi32(_mm256_hadd_epi32(MOE__KMRG(i0, i1), MOE__KMRG(i2, i3)), _mm256_hadd_epi32(MOE__KMRG(m0, m1), MOE__KMRG(m2, m3)));
}
/* acc + dx * (d * is - dmin * ms), lane by lane (order 0, 2, 1, 3); hd: the four (d, dmin) f16 pairs as 32-bit words */
static __m128 moe__kfin2(__m256i s, __m128i hd, __m128 dx, __m128 acc)
{
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(s),
                             MOE__KH8(_mm_shuffle_epi8(hd, _mm_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15))));
    return MOE__KFMA128(dx, _mm_sub_ps(_mm_castpd_ps(MOE__K0145(p)), _mm_castpd_ps(MOE__K2367(p))), acc);
}
/* one scale: [is0 is2 is1 is3]; acc + dx * (d * is), h: the four d (order 0, 2, 1, 3) in its low 64 bits */
static __m128i moe__kred1(__m256i i0, __m256i i1, __m256i i2, __m256i i3)
{
    __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(i0, i1), _mm256_hadd_epi32(i2, i3));   /* i0 i1 i2 i3 | i0 i1 i2 i3 */
    return _mm_shuffle_epi32(_mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)), 0xd8);
}
static __m128 moe__kfin1(__m128i s, __m128i h, __m128 dx, __m128 acc)
{
    return MOE__KFMA128(dx, _mm_mul_ps(_mm_cvtepi32_ps(s), MOE__KH4(h)), acc);
}
/* the 32 bits at p as a vector; four of them, from a, b, c, d */
#define MOE__KL32(p) _mm_cvtsi32_si128((int)moe__kr32(p))
#define MOE__KL128(a, b, c, d) _mm_unpacklo_epi64(_mm_unpacklo_epi32(MOE__KL32(a), MOE__KL32(b)), _mm_unpacklo_epi32(MOE__KL32(c), MOE__KL32(d)))
/* (d, dmin) of the four super-blocks, f16 pairs at offset o, zero in the missing lanes; the one
   scale at offset o (order 0, 2, 1, 3) */
#define MOE__KHD2(o) _mm_and_si128(MOE__KL128(w0 + (o), w1 + (o), w2 + (o), w3 + (o)), k)
#define MOE__KHD1(o) _mm_shuffle_epi8(_mm_and_si128(MOE__KL128(w0 + (o) - 2, w2 + (o) - 2, w1 + (o) - 2, w3 + (o) - 2), kp), \
                                      _mm_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1))

/* the high nibble of each byte of v */
#if MOE__X_GFNI
#define MOE__KHI4(v) _mm256_gf2p8affine_epi64_epi8(v, _mm256_set1_epi64x(0x1020408000000000LL), 0)
#else
#define MOE__KHI4(v) _mm256_and_si256(_mm256_srli_epi16(v, 4), c4)
#endif
/* Q4_K / Q5_K: the scales and mins of the super-block at p (its 12 bytes at p + 4), in both
   128-bit lanes as bytes [sc0..sc7 | m0..m7]: from the dwords a, b, c of the 12 bytes,
   [a & 3f, c & 0f | (a >> 2) & 30, b & 3f, (c >> 4) & 0f | (b >> 2) & 30] */
static __m256i moe__k4_scm(const unsigned char *p)
{
    const __m256i v = _mm256_broadcastsi128_si256(MOE__KLDX(p));      /* d, dmin | a | b | c */
    __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0xed), _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4)),
                                  _mm256_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    return MOE__KOR(lo, _mm256_srli_epi32(_mm256_shuffle_epi32(v, 0xa5), 2),
                    _mm256_setr_epi32(0, 0x30303030, 0, 0x30303030, 0, 0x30303030, 0, 0x30303030));
}
/* from scm: the mins as words [m0 m0 m1 m1 .. m7 m7] */
#define MOE__KMIN8 _mm256_setr_epi8(8, -128, 8, -128, 9, -128, 9, -128, 10, -128, 10, -128, 11, -128, 11, -128, \
                                    12, -128, 12, -128, 13, -128, 13, -128, 14, -128, 14, -128, 15, -128, 15, -128)
/* one super-block s of Q4_K (N = 0) or Q5_K (N = 1): iN, mN; nibble pair k: sub-blocks 2k, 2k+1 */
#define MOE__KQ45(s, N) __m256i i##s, m##s; { \
        const __m256i scm = moe__k4_scm(w##s); \
        const unsigned char *q = w##s + 16 + 32 * N, *y = x##s + 4; \
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256(), H = N ? MOE__KLD(w##s + 16) : a0; \
        if (N) MOE__KREG(H); \
        m##s = _mm256_madd_epi16(MOE__KLD(x##s + 260), _mm256_shuffle_epi8(scm, MOE__KMIN8)); \
        MOE__KQ45P(0, N, _mm256_slli_epi16(H, 4), _mm256_slli_epi16(H, 3)) \
        MOE__KQ45P(1, N, _mm256_slli_epi16(H, 2), _mm256_slli_epi16(H, 1)) \
        MOE__KQ45P(2, N, H, _mm256_srli_epi16(H, 1)) \
        MOE__KQ45P(3, N, _mm256_srli_epi16(H, 2), _mm256_srli_epi16(H, 3)) \
        i##s = _mm256_add_epi32(a0, a1); }
#define MOE__KQ45P(k, N, h0, h1) { __m256i v = MOE__KLD(q + 32 * (k)), lo, hi; \
        lo = _mm256_and_si256(v, c4); hi = MOE__KHI4(v); \
        if (N) { lo = MOE__KOR(lo, h0, c16); hi = MOE__KOR(hi, h1, c16); } \
        if ((k) & 1) MOE__KQ45S(a1, k) else MOE__KQ45S(a0, k) }
#define MOE__KQ45S(a, k) MOE__KP2(a, lo, MOE__KLD(y + 64 * (k)), hi, MOE__KLD(y + 64 * (k) + 32), scm, \
        MOE__KC4(MOE__KB(2 * (k)), MOE__KB(2 * (k)), MOE__KB(2 * (k)), MOE__KB(2 * (k))), \
        MOE__KC4(MOE__KB(2 * (k) + 1), MOE__KB(2 * (k) + 1), MOE__KB(2 * (k) + 1), MOE__KB(2 * (k) + 1)), \
        MOE__KC4(MOE__KB(2 * (k)), MOE__KB(2 * (k) + 1), MOE__KB(2 * (k)), MOE__KB(2 * (k) + 1)));
#define MOE__KQ45ALL(N) \
        const __m256i c4 = _mm256_set1_epi8(15), c16 = _mm256_set1_epi8(16); \
        MOE__KGROUP(N ? MOE__Q5K_BYTES : MOE__Q4K_BYTES, __m256i, \
            MOE__KQ45(0, N) MOE__KQ45(1, N) MOE__KQ45(2, N) MOE__KQ45(3, N) \
            it = moe__kred2(i0, i1, i2, i3, m0, m1, m2, m3);, MOE__KHD2(0), moe__kfin2)
static float moe__kdot_q4_k(const unsigned char *w, const unsigned char *x, int nsb) { MOE__KQ45ALL(0) }
static float moe__kdot_q5_k(const unsigned char *w, const unsigned char *x, int nsb) { MOE__KQ45ALL(1) }

/* Q6_K, Q2_K, Q3_K: 32 values a step, sub-block 2c in the low lane and 2c+1 in the high one,
   two steps c, c+1 (c even) at a time; their 16-bit scales from S (both lanes [sc8h..sc8h+7]) */
#define MOE__KST2(c, u0, u1) if ((c) & 2) MOE__KST2A(a1, c, u0, u1) else MOE__KST2A(a0, c, u0, u1)
#define MOE__KST2A(a, c, u0, u1) MOE__KP2(a, u0, MOE__KLD(y + 32 * (c)), u1, MOE__KLD(y + 32 * (c) + 32), S, \
        MOE__KC4(MOE__KW(2 * ((c) & 3)), MOE__KW(2 * ((c) & 3)), MOE__KW(2 * ((c) & 3) + 1), MOE__KW(2 * ((c) & 3) + 1)), \
        MOE__KC4(MOE__KW(2 * ((c) & 3) + 2), MOE__KW(2 * ((c) & 3) + 2), MOE__KW(2 * ((c) & 3) + 3), MOE__KW(2 * ((c) & 3) + 3)), \
        MOE__KC4(MOE__KW(2 * ((c) & 3)), MOE__KW(2 * ((c) & 3) + 2), MOE__KW(2 * ((c) & 3) + 1), MOE__KW(2 * ((c) & 3) + 3)));
/* Q6_K: q + 32 (0..63), then -32 sc.bsum */
#define MOE__KQ6(s) __m256i i##s; { \
        const unsigned char *q = w##s, *y = x##s + 4; \
        const __m256i B = _mm256_broadcastsi128_si256(MOE__KLDX(q + 192)); \
        const __m256i S0 = _mm256_srai_epi16(_mm256_unpacklo_epi8(B, B), 8), S1 = _mm256_srai_epi16(_mm256_unpackhi_epi8(B, B), 8); \
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, S = S0; \
        __m256i L0 = MOE__KLD(q), L1 = MOE__KLD(q + 32), H = MOE__KLD(q + 128); \
        MOE__KREG(L0); MOE__KREG(L1); MOE__KREG(H); \
        MOE__KST2(0, MOE__KOR(_mm256_and_si256(L0, c4), _mm256_slli_epi16(H, 4), c48), \
                  MOE__KOR(_mm256_and_si256(L1, c4), _mm256_slli_epi16(H, 2), c48)) \
        MOE__KST2(2, MOE__KOR(MOE__KHI4(L0), H, c48), \
                  MOE__KOR(MOE__KHI4(L1), _mm256_srli_epi16(H, 2), c48)) \
        S = S1; L0 = MOE__KLD(q + 64); L1 = MOE__KLD(q + 96); H = MOE__KLD(q + 160); \
        MOE__KREG(L0); MOE__KREG(L1); MOE__KREG(H); \
        MOE__KST2(4, MOE__KOR(_mm256_and_si256(L0, c4), _mm256_slli_epi16(H, 4), c48), \
                  MOE__KOR(_mm256_and_si256(L1, c4), _mm256_slli_epi16(H, 2), c48)) \
        MOE__KST2(6, MOE__KOR(MOE__KHI4(L0), H, c48), \
                  MOE__KOR(MOE__KHI4(L1), _mm256_srli_epi16(H, 2), c48)) \
        i##s = _mm256_sub_epi32(_mm256_add_epi32(a0, a1), _mm256_slli_epi32(_mm256_madd_epi16(MOE__KLD(x##s + 260), _mm256_blend_epi32(S0, S1, 0xf0)), 5)); }
static float moe__kdot_q6_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const __m256i c4 = _mm256_set1_epi8(15), c48 = _mm256_set1_epi8(48);
    MOE__KGROUP(MOE__Q6K_BYTES, __m128i, MOE__KQ6(0) MOE__KQ6(1) MOE__KQ6(2) MOE__KQ6(3)
                it = moe__kred1(i0, i1, i2, i3);, MOE__KHD1(208), moe__kfin1)
}
/* bits 2k, 2k+1 of each byte of v as 0..3: one vgf2p8affineqb where GFNI is there */
#if MOE__X_GFNI
#define MOE__K2B(v, k) _mm256_gf2p8affine_epi64_epi8(v, _mm256_set1_epi64x((long long)((1ULL << (2 * (k))) << 56 | (1ULL << (2 * (k) + 1)) << 48)), 0)
#else
#define MOE__K2B(v, k) _mm256_and_si256(_mm256_srli_epi16(v, 2 * (k)), c3)
#endif
/* Q2_K: q 0..3, scales 0..15, mins against bsum */
#define MOE__KQ2(s) __m256i i##s, m##s; { \
        const unsigned char *q = w##s, *y = x##s + 4; \
        const __m256i B = _mm256_broadcastsi128_si256(MOE__KLDX(q)), sc = _mm256_and_si256(B, c15); \
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, S = _mm256_unpacklo_epi8(sc, a0), Q = MOE__KLD(q + 16); \
        MOE__KREG(Q); \
        m##s = _mm256_madd_epi16(MOE__KLD(x##s + 260), _mm256_cvtepu8_epi16(_mm256_castsi256_si128(_mm256_and_si256(_mm256_srli_epi16(B, 4), c15)))); \
        MOE__KST2(0, _mm256_and_si256(Q, c3), \
                  MOE__K2B(Q, 1)) \
        MOE__KST2(2, MOE__K2B(Q, 2), \
                  MOE__K2B(Q, 3)) \
        S = _mm256_unpackhi_epi8(sc, _mm256_setzero_si256()); Q = MOE__KLD(q + 48); MOE__KREG(Q); \
        MOE__KST2(4, _mm256_and_si256(Q, c3), \
                  MOE__K2B(Q, 1)) \
        MOE__KST2(6, MOE__K2B(Q, 2), \
                  MOE__K2B(Q, 3)) \
        i##s = _mm256_add_epi32(a0, a1); }
static float moe__kdot_q2_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const __m256i c3 = _mm256_set1_epi8(3), c15 = _mm256_set1_epi8(15);
    MOE__KGROUP(MOE__Q2K_BYTES, __m256i, MOE__KQ2(0) MOE__KQ2(1) MOE__KQ2(2) MOE__KQ2(3)
                it = moe__kred2(i0, i1, i2, i3, m0, m1, m2, m3);, MOE__KHD2(80), moe__kfin2)
}
/* Q3_K: the 16 scales (sc - 32) of the super-block at p (12 bytes at p + 96: dwords a, b, c),
   bytes in both lanes: lo nibbles [a, b, a >> 4, b >> 4] & 0f, high bits [c, c >> 2, c >> 4, c >> 6] & 3 */
static __m256i moe__k3_sc(const unsigned char *p)
{
    const __m256i v = _mm256_broadcastsi128_si256(MOE__KLDX(p + 92));   /* junk | a | b | c */
    __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0x99), _mm256_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4)), _mm256_set1_epi8(15));
    __m256i hi = _mm256_slli_epi32(_mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0xff), _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)), 4);
    return _mm256_sub_epi8(MOE__KOR(lo, hi, _mm256_set1_epi8(0x30)), _mm256_set1_epi8(32));
}
/* Q3_K: q + 4 (0..7: the 2 low bits, hmask bit c as 4), then -4 sc.bsum */
#define MOE__KQ3(s) __m256i i##s; { \
        const unsigned char *q = w##s, *y = x##s + 4; \
        const __m256i B = moe__k3_sc(q); \
        const __m256i S0 = _mm256_srai_epi16(_mm256_unpacklo_epi8(B, B), 8), S1 = _mm256_srai_epi16(_mm256_unpackhi_epi8(B, B), 8); \
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, S = S0, Q = MOE__KLD(q + 32), H = MOE__KLD(q); \
        MOE__KREG(Q); MOE__KREG(H); \
        MOE__KST2(0, MOE__KOR(_mm256_and_si256(Q, c3), _mm256_slli_epi16(H, 2), c4), \
                  MOE__KOR(MOE__K2B(Q, 1), _mm256_slli_epi16(H, 1), c4)) \
        MOE__KST2(2, MOE__KOR(MOE__K2B(Q, 2), H, c4), \
                  MOE__KOR(MOE__K2B(Q, 3), _mm256_srli_epi16(H, 1), c4)) \
        S = S1; Q = MOE__KLD(q + 64); MOE__KREG(Q); \
        MOE__KST2(4, MOE__KOR(_mm256_and_si256(Q, c3), _mm256_srli_epi16(H, 2), c4), \
                  MOE__KOR(MOE__K2B(Q, 1), _mm256_srli_epi16(H, 3), c4)) \
        MOE__KST2(6, MOE__KOR(MOE__K2B(Q, 2), _mm256_srli_epi16(H, 4), c4), \
                  MOE__KOR(MOE__K2B(Q, 3), _mm256_srli_epi16(H, 5), c4)) \
        i##s = _mm256_sub_epi32(_mm256_add_epi32(a0, a1), _mm256_slli_epi32(_mm256_madd_epi16(MOE__KLD(x##s + 260), _mm256_blend_epi32(S0, S1, 0xf0)), 2)); }
static float moe__kdot_q3_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const __m256i c3 = _mm256_set1_epi8(3), c4 = _mm256_set1_epi8(4);
    MOE__KGROUP(MOE__Q3K_BYTES, __m128i, MOE__KQ3(0) MOE__KQ3(1) MOE__KQ3(2) MOE__KQ3(3)
                it = moe__kred1(i0, i1, i2, i3);, MOE__KHD1(108), moe__kfin1)
}

/* MXFP4: 8 blocks (one Q8_K block) a step. Each block's codes (value + 12, 0..24) in q's order
   (ggml's: the 16 bytes in both lanes, the high lane shifted by 4; gpt-oss's interleaved one:
   each byte widened to 16 bits, (b | b << 4) & 0x0f0f) against q: 8 lanes of 4-byte dots per
   block, then two rounds of packs (|lane| <= 2 * 4 * 24 * 127 fits in 16 bits) and madd by 1
   leave the 8 block sums in order, less 12 * the block's sum of q. inter: gpt-oss's order.
   The nibbles are prefetched 2 KB ahead (gpt-oss's split layout, a second stream for the
   scales: about +25 % streamed from DRAM; the K-quants stream best without) */
static float moe__kdot_mxfp4(const unsigned char *nib, size_t nstride, const unsigned char *e, size_t estride,
                             int inter, const unsigned char *x, int nb)
{
    const __m256i c15 = _mm256_set1_epi8(15), one = _mm256_set1_epi16(1), sh = _mm256_setr_epi32(0, 0, 0, 0, 4, 0, 4, 0);
    const __m256i lut = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
                                         12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
    __m256 acc = _mm256_setzero_ps();
    float tail = 0.0f;
    int b = 0, j;
#define MOE__KF4I(j) MOE__KANDOR(_mm256_cvtepu8_epi16(MOE__KLDX(nib + (j) * nstride)), \
                                _mm256_slli_epi16(_mm256_cvtepu8_epi16(MOE__KLDX(nib + (j) * nstride)), 4), c0f0f)
#if MOE__X_GFNI       /* low nibbles in the low lane, high ones in the high lane */
#define MOE__KF4G(j) _mm256_gf2p8affine_epi64_epi8(_mm256_broadcastsi128_si256(MOE__KLDX(nib + (j) * nstride)), \
                                                   _mm256_setr_epi64x(0x0102040800000000LL, 0x0102040800000000LL, 0x1020408000000000LL, 0x1020408000000000LL), 0)
#else
#define MOE__KF4G(j) _mm256_and_si256(_mm256_srlv_epi64(_mm256_broadcastsi128_si256(MOE__KLDX(nib + (j) * nstride)), sh), c15)
#endif
#define MOE__KF4D(C, j) MOE__KDP4(_mm256_setzero_si256(), _mm256_shuffle_epi8(lut, C(j)), MOE__KLD(x + 4 + 32 * (j)))
#define MOE__KF4P(C, j) _mm256_madd_epi16(_mm256_packs_epi32(MOE__KF4D(C, j), MOE__KF4D(C, j + 1)), one)
#define MOE__KF4LOOP(C) \
    for (; b + 8 <= nb; b += 8, x += MOE__QXK_BLK, nib += 8 * nstride, e += 8 * estride) { \
        __m256i h0 = _mm256_madd_epi16(_mm256_packs_epi32(MOE__KF4P(C, 0), MOE__KF4P(C, 2)), one); \
        __m256i h1 = _mm256_madd_epi16(_mm256_packs_epi32(MOE__KF4P(C, 4), MOE__KF4P(C, 6)), one), ev; \
        __m128i eb; \
        MOE__PREFETCH(nib + 2048); MOE__PREFETCH(nib + 2048 + 4 * nstride); \
        h0 = _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31)); \
        h0 = _mm256_sub_epi32(h0, _mm256_madd_epi16(MOE__KLD(x + 260), _mm256_set1_epi16(12))); \
        if (estride == 1) eb = _mm_loadl_epi64((const __m128i *)(const void *)e); \
        else eb = _mm_setr_epi32((int)(e[0] | (uint32_t)e[estride] << 8 | (uint32_t)e[2 * estride] << 16 | (uint32_t)e[3 * estride] << 24), \
                                 (int)(e[4 * estride] | (uint32_t)e[5 * estride] << 8 | (uint32_t)e[6 * estride] << 16 | (uint32_t)e[7 * estride] << 24), 0, 0); \
        ev = _mm256_cvtepu8_epi32(eb);       /* 2^(e-128): (e-1) << 23, or 0x200000 << e for e < 2 */ \
        ev = _mm256_max_epi32(_mm256_slli_epi32(_mm256_sub_epi32(ev, _mm256_set1_epi32(1)), 23), \
                              _mm256_sllv_epi32(_mm256_set1_epi32(0x200000), _mm256_min_epu32(ev, _mm256_set1_epi32(2)))); \
        acc = MOE__FMA256(_mm256_set1_ps(moe__qxk_d(x)), _mm256_mul_ps(_mm256_castsi256_ps(ev), _mm256_cvtepi32_ps(h0)), acc); \
    }
    const __m256i c0f0f = _mm256_set1_epi16(0x0f0f);
    (void)c15; (void)sh;
    if (inter) { MOE__KF4LOOP(MOE__KF4I) } else { MOE__KF4LOOP(MOE__KF4G) }
    for (j = 0; b < nb; b++, j++, nib += nstride, e += estride) {     /* the last blocks, one at a time */
        __m256i d = MOE__KDP4(_mm256_setzero_si256(), _mm256_shuffle_epi8(lut, inter ? MOE__KF4I(0) : MOE__KF4G(0)), MOE__KLD(x + 4 + 32 * j));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        tail += moe__qxk_d(x) * (moe__e8m0_half(e[0]) *
                                 (float)(_mm_cvtsi128_si32(s) - 12 * (moe__qxk_bsum(x, 2 * j) + moe__qxk_bsum(x, 2 * j + 1))));
    }
#undef MOE__KF4I
#undef MOE__KF4G
#undef MOE__KF4D
#undef MOE__KF4P
#undef MOE__KF4LOOP
    return moe__hsum256(acc) + tail;
}

#endif

/* moe__qtile: c[n] = sum over blocks of dw*dx * (qw . qx) for MOE__NRQ rows of type t. On x86,
   for one token, one row at a time with two accumulators (measured, Qwen3 T=1 on 2 threads,
   medians of 4 alternating runs: q4_0 30 -> 38, q8_0 33.5 -> 38 GB/s); for more tokens four
   rows at a time (at T=64 the one-row form is 10-25 % slower). */
#define MOE__NRQ 4
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
/* u8 x s8 dot products into int32 lanes: VNNI's vpdpbusd where the compiler has it, else
   maddubs + madd. Q8_0: the weight, made unsigned by +128 (xor 0x80), against q, the lane
   starting at -128 * (lane sum of q); without VNNI (maddubs saturates at 16 bits), |w| against
   q with w's sign. Q4_0: the nibble (0..15) against q1, the lane starting at -8 * (lane sum). */
#if MOE__X_VNNI512
#define MOE__DPB(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#elif MOE__X_AVXVNNI
#define MOE__DPB(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#endif
#ifdef MOE__DPB
#define MOE__DPQ8(c, w, x) MOE__DPB(c, _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)), x)
#define MOE__DPQ4(c, n, x) MOE__DPB(c, n, x)
#else
#define MOE__DPQ8(c, w, x) _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1))
#define MOE__DPQ4(c, n, x) _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(n, x), _mm256_set1_epi16(1)), c)
#endif
#define MOE__LDU128(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define MOE__LDU256(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
/* one row n of the tile, per step: a##n accumulates, r##n walks the row */
/* AVX-512: one masked load takes both blocks' 18 (Q4_0) or first 18 (Q8_0) 16-bit words, so
   the scales come by one vpermw instead of broadcasts and inserts (port 5 is the limit here) */
#define MOE__QZ8(n, acc, X1, X2, ZA, ZB, DZ) { __m512i raw = _mm512_maskz_loadu_epi16(0x3ffff, r##n); \
        __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(MOE__LDU256(r##n + 2)), MOE__LDU256(r##n + 36), 1), k80); \
        __m512i iz = _mm512_add_epi32(_mm512_slli_epi32(_mm512_dpbusd_epi32(ZA, u, X1), 8), _mm512_dpbusd_epi32(ZB, u, X2)); \
        MOE__PREFETCH(r##n + pfo); \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iz), _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(ixd, raw))), DZ), acc); \
        r##n += 2 * MOE__Q8_BYTES; }
#define MOE__QZ4(n, acc, XL, XH, ZC, DZ) { __m512i raw = _mm512_maskz_loadu_epi16(0x7ffffff, r##n); \
        __m512i iz = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(ZC, _mm512_and_si512(raw, m4z), XL), \
                                         _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4z), XH); \
        MOE__PREFETCH(r##n + pfo); \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iz), \
                              _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(ixd, raw))), DZ), acc); \
        r##n += 3 * MOE__Q4_BYTES; }
#define MOE__QY8(n) { __m256i wv = MOE__LDU256(r##n + 2); \
        __m256i iv = _mm256_add_epi32(_mm256_slli_epi32(MOE__DPQ8(ya, wv, x1), 8), MOE__DPQ8(yb, wv, x2)); \
        MOE__PREFETCH(r##n + pfo); \
        a##n = MOE__FMA256(_mm256_cvtepi32_ps(iv), _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(r##n)) * dx), a##n); r##n += MOE__Q8_BYTES; }
#define MOE__QY4(n) { __m128i bb = MOE__LDU128(r##n + 2); \
        __m256i nv = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(bb), _mm_srli_epi16(bb, 4), 1), m4); \
        MOE__PREFETCH(r##n + pfo); \
        a##n = MOE__FMA256(_mm256_cvtepi32_ps(MOE__DPQ4(y4, nv, x1)), _mm256_set1_ps(MOE__H2F_FAST(moe__rd16(r##n)) * dx), a##n); r##n += MOE__Q4_BYTES; }
#define MOE__QROWS(M) M(0) M(1) M(2) M(3)
#define MOE__QDECL(n) const unsigned char *r##n = w[n]; __m256 a##n = _mm256_setzero_ps();
#define MOE__QDECLZ(n) __m512 z##n = _mm512_setzero_ps();
#define MOE__QZ8R(n) MOE__QZ8(n, z##n, x10, x20, za0, zb0, dz0)
#define MOE__QZ4R(n) MOE__QZ4(n, z##n, xl0, xh0, zc0, dz0)
#ifdef MOE__QZMM
#define MOE__QSUM(n) c[n] = (_mm512_reduce_add_ps(z##n) + moe__hsum256(a##n)) * sc;
#else
#define MOE__QSUM(n) c[n] = moe__hsum256(a##n) * sc;
#endif
/* pfo: from a row to where the prefetches go, the same place some rows further on (the rows
   are streamed NRQ at a time, so "next in the stream" is that far away, not the next bytes).
   one: row w[0] only, with two accumulators (one token: rows one after another stream from
   DRAM better than four side by side); else the four rows w[0..3] (several tokens: the rows
   are in L1 after the first token, and four rows share the token's loads). */
static void moe__qtile(moe_type t, int K, const unsigned char *qx, const unsigned char *const *w, int one, size_t pfo, float *c)
{
    const signed char *q1 = (const signed char *)qx, *q2 = q1 + K;
    const float *d = (const float *)(const void *)(qx + 2 * (size_t)K);
    const int32_t *c4 = (const int32_t *)(const void *)(qx + 3 * (size_t)K), *ca = c4 + K / 4, *cb = ca + K / 4;
    const __m256i m4 = _mm256_set1_epi8(15);
    const float sc = t == MOE_TYPE_Q8_0 ? 1.0f / 256.0f : 1.0f;
    int nb = K / MOE__QK, b = 0;
    MOE__QROWS(MOE__QDECL)
#ifdef MOE__QZMM
    __m512 u0 = _mm512_setzero_ps();
    MOE__QROWS(MOE__QDECLZ)
    if (t == MOE_TYPE_Q8_0) {
        const __m512i k80 = _mm512_set1_epi8((char)0x80);   /* ixd: words 0 and 17 (the scales), 8 each */
        const __m512i ixd = _mm512_setr_epi64(0, 0, 0x0011001100110011LL, 0x0011001100110011LL, 0, 0, 0, 0);
#define MOE__QXZ8(s, o) __m512i x1##s = _mm512_loadu_si512((const void *)(q1 + (b + o) * MOE__QK)), x2##s = _mm512_loadu_si512((const void *)(q2 + (b + o) * MOE__QK)); \
        __m512i za##s = _mm512_loadu_si512((const void *)(ca + (b + o) * 8)), zb##s = _mm512_loadu_si512((const void *)(cb + (b + o) * 8)); \
        __m512 dz##s = _mm512_loadu_ps(d + (b + o) * 8);
        if (one)
            for (; b + 4 <= nb; b += 4) {                  /* two steps, two accumulators */
                MOE__QXZ8(0, 0) MOE__QXZ8(1, 2)
                MOE__QZ8(0, z0, x10, x20, za0, zb0, dz0)
                MOE__QZ8(0, u0, x11, x21, za1, zb1, dz1)
            }
        for (; b + 2 <= nb; b += 2) {
            MOE__QXZ8(0, 0)
            if (one) MOE__QZ8R(0) else { MOE__QROWS(MOE__QZ8R) }
        }
    } else {
        /* ixd: per lane, the scale word of the lane's block (words 0, 9, 18; lanes 14-15 hold no
           quants and take block 0's) */
        const __m512i ixd = _mm512_setr_epi64(0, 0x0009000900090000LL, 0x0012001200120009LL, 0x0000000000120012LL, 0, 0, 0, 0);
        const __m512i m4z = _mm512_set1_epi8(15);
#define MOE__QXZ4(s, o) const unsigned char *g##s = qx + 6 * (size_t)K + (size_t)(b / 3 + o) * 256; \
        __m512i xl##s = _mm512_loadu_si512((const void *)g##s), xh##s = _mm512_loadu_si512((const void *)(g##s + 64)); \
        __m512i zc##s = _mm512_loadu_si512((const void *)(g##s + 128)); \
        __m512 dz##s = _mm512_loadu_ps((const float *)(const void *)(g##s + 192));
        if (one)
            for (; b + 6 <= nb; b += 6) {                  /* two steps, two accumulators */
                MOE__QXZ4(0, 0) MOE__QXZ4(1, 1)
                MOE__QZ4(0, z0, xl0, xh0, zc0, dz0)
                MOE__QZ4(0, u0, xl1, xh1, zc1, dz1)
            }
        for (; b + 3 <= nb; b += 3) {
            MOE__QXZ4(0, 0)
            if (one) MOE__QZ4R(0) else { MOE__QROWS(MOE__QZ4R) }
        }
    }
#endif
    for (; b < nb; b++) {                                  /* 32 values a step */
        __m256i x1 = MOE__LDU256(q1 + b * MOE__QK);
        float dx = d[b * 8];
        if (t == MOE_TYPE_Q8_0) {
            __m256i x2 = MOE__LDU256(q2 + b * MOE__QK), ya = MOE__LDU256(ca + b * 8), yb = MOE__LDU256(cb + b * 8);
            (void)ya; (void)yb;
            if (one) MOE__QY8(0) else { MOE__QROWS(MOE__QY8) }
        } else {
            __m256i y4 = MOE__LDU256(c4 + b * 8);
            if (one) MOE__QY4(0) else { MOE__QROWS(MOE__QY4) }
        }
    }
#ifdef MOE__QZMM
    z0 = _mm512_add_ps(z0, u0);
#endif
    if (one) MOE__QSUM(0) else { MOE__QROWS(MOE__QSUM) }
}
#elif defined(MOE_SIMD_NEON)
#if MOE__X_DOTPROD
#define MOE__SDOT(w0, x0, w1, x1) vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1)
#else                               /* |products| <= 128*127: a pair of them fits in int16 */
static int32x4_t moe__sdot(int8x16_t w0, int8x16_t x0, int8x16_t w1, int8x16_t x1)
{
    int16x8_t p0 = vmlal_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), vget_high_s8(w0), vget_high_s8(x0));
    int16x8_t p1 = vmlal_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), vget_high_s8(w1), vget_high_s8(x1));
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}
#define MOE__SDOT(w0, x0, w1, x1) moe__sdot(w0, x0, w1, x1)
#endif
/* ================= PIECE 2: integer dot kernels =============================================
   Where: the NEON branch of the moe__qtile section, right after the MOE__SDOT definitions
   (`#endif` after `#define MOE__SDOT(w0, x0, w1, x1) moe__sdot(...)`), before moe__qtile.
   Defines MOE__KDOT_SIMD, so moe__kdot calls these. The integer sums per super-block are the
   reference kernels' (exact int32), and the float formula per super-block (block, for MXFP4)
   is theirs too; only MXFP4 on AArch64 sums its blocks in another order (4 lanes). */
#define MOE__KDOT_SIMD 1
#if MOE__X_DOTPROD
#define MOE__SDOT16(w, x) vdotq_s32(vdupq_n_s32(0), w, x)
#else                               /* here |w| <= 32, |x| <= 128: pairs fit in int16 */
static int32x4_t moe__sdot16(int8x16_t w, int8x16_t x)
{
    return vpaddlq_s16(vmlal_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vget_high_s8(w), vget_high_s8(x)));
}
#define MOE__SDOT16(w, x) moe__sdot16(w, x)
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__HSUM_S32(v) vaddvq_s32(v)
#else
static int32_t moe__hsum_s32(int32x4_t v)
{
    int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(s, s), 0);
}
#define MOE__HSUM_S32(v) moe__hsum_s32(v)
#endif
#define MOE__LDX(p) vld1q_s8((const int8_t *)(const void *)(p))
/* sum_j m_j * (bsum[2j] + bsum[2j+1]), j = 0..7 (Q4_K, Q5_K) */
static int32_t moe__k4_msum(const unsigned char *w, const unsigned char *x)
{
    int32_t mn[8];
    int j, sc, m;
    int16x8_t b0 = vreinterpretq_s16_u8(vld1q_u8(x + 260)), b1 = vreinterpretq_s16_u8(vld1q_u8(x + 276));
    for (j = 0; j < 8; j++) { moe__k4_get(w + 4, j, &sc, &m); mn[j] = m; }
    return MOE__HSUM_S32(vmlaq_s32(vmulq_s32(vld1q_s32(mn), vpaddlq_s16(b0)), vld1q_s32(mn + 4), vpaddlq_s16(b1)));
}
static float moe__kdot_q4_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const uint8x16_t m4 = vdupq_n_u8(15);
    float acc = 0.0f;
    int b, c, sc, m;
    for (b = 0; b < nsb; b++, w += MOE__Q4K_BYTES, x += MOE__QXK_BLK) {
        const unsigned char *q8 = x + 4;
        int32x4_t is = vdupq_n_s32(0);
        for (c = 0; c < 4; c++) {               /* sub-blocks 2c (low nibbles), 2c+1 (high) */
            uint8x16_t w0 = vld1q_u8(w + 16 + 32 * c), w1 = vld1q_u8(w + 32 + 32 * c);
            moe__k4_get(w + 4, 2 * c, &sc, &m);
            is = vmlaq_n_s32(is, MOE__SDOT(MOE__S8(vandq_u8(w0, m4)), MOE__LDX(q8 + 64 * c),
                                           MOE__S8(vandq_u8(w1, m4)), MOE__LDX(q8 + 64 * c + 16)), sc);
            moe__k4_get(w + 4, 2 * c + 1, &sc, &m);
            is = vmlaq_n_s32(is, MOE__SDOT(MOE__S8(vshrq_n_u8(w0, 4)), MOE__LDX(q8 + 64 * c + 32),
                                           MOE__S8(vshrq_n_u8(w1, 4)), MOE__LDX(q8 + 64 * c + 48)), sc);
        }
        acc += moe__qxk_d(x) * (MOE__H2F_FAST(moe__rd16(w)) * (float)MOE__HSUM_S32(is)
                                - MOE__H2F_FAST(moe__rd16(w + 2)) * (float)moe__k4_msum(w, x));
    }
    return acc;
}
static float moe__kdot_q5_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const uint8x16_t m4 = vdupq_n_u8(15), b4 = vdupq_n_u8(16);
    float acc = 0.0f;
    int b, c, sc, m;
    for (b = 0; b < nsb; b++, w += MOE__Q5K_BYTES, x += MOE__QXK_BLK) {
        const unsigned char *q8 = x + 4;
        uint8x16_t h0 = vld1q_u8(w + 16), h1 = vld1q_u8(w + 32);   /* bit j of qh[l]: +16 */
        int32x4_t is = vdupq_n_s32(0);
        for (c = 0; c < 4; c++) {
            uint8x16_t w0 = vld1q_u8(w + 48 + 32 * c), w1 = vld1q_u8(w + 64 + 32 * c);
            uint8x16_t a0 = vorrq_u8(vandq_u8(w0, m4), vandq_u8(vshlq_n_u8(h0, 4), b4));
            uint8x16_t a1 = vorrq_u8(vandq_u8(w1, m4), vandq_u8(vshlq_n_u8(h1, 4), b4));
            uint8x16_t c0 = vorrq_u8(vshrq_n_u8(w0, 4), vandq_u8(vshlq_n_u8(h0, 3), b4));
            uint8x16_t c1 = vorrq_u8(vshrq_n_u8(w1, 4), vandq_u8(vshlq_n_u8(h1, 3), b4));
            h0 = vshrq_n_u8(h0, 2); h1 = vshrq_n_u8(h1, 2);
            moe__k4_get(w + 4, 2 * c, &sc, &m);
            is = vmlaq_n_s32(is, MOE__SDOT(MOE__S8(a0), MOE__LDX(q8 + 64 * c), MOE__S8(a1), MOE__LDX(q8 + 64 * c + 16)), sc);
            moe__k4_get(w + 4, 2 * c + 1, &sc, &m);
            is = vmlaq_n_s32(is, MOE__SDOT(MOE__S8(c0), MOE__LDX(q8 + 64 * c + 32), MOE__S8(c1), MOE__LDX(q8 + 64 * c + 48)), sc);
        }
        acc += moe__qxk_d(x) * (MOE__H2F_FAST(moe__rd16(w)) * (float)MOE__HSUM_S32(is)
                                - MOE__H2F_FAST(moe__rd16(w + 2)) * (float)moe__k4_msum(w, x));
    }
    return acc;
}
static float moe__kdot_q6_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const uint8x16_t m4 = vdupq_n_u8(15), m30 = vdupq_n_u8(0x30);
    const int8x16_t k32 = vdupq_n_s8(32);
    float acc = 0.0f;
    int b, h, o;
    for (b = 0; b < nsb; b++, w += MOE__Q6K_BYTES, x += MOE__QXK_BLK) {
        const unsigned char *q8 = x + 4;
        const signed char *sc = (const signed char *)w + 192;
        int32x4_t is = vdupq_n_s32(0);
        for (h = 0; h < 2; h++)                 /* layout: see moe__q6k_neon */
            for (o = 0; o < 2; o++) {
                const unsigned char *ql = w + 64 * h + 16 * o, *xq = q8 + 128 * h + 16 * o;
                const signed char *sj = sc + 8 * h + o;
                uint8x16_t a = vld1q_u8(ql), c = vld1q_u8(ql + 32), qh = vld1q_u8(w + 128 + 32 * h + 16 * o);
                int8x16_t q0 = vsubq_s8(MOE__S8(vorrq_u8(vandq_u8(a, m4), vandq_u8(vshlq_n_u8(qh, 4), m30))), k32);
                int8x16_t q1 = vsubq_s8(MOE__S8(vorrq_u8(vandq_u8(c, m4), vandq_u8(vshlq_n_u8(qh, 2), m30))), k32);
                int8x16_t q2 = vsubq_s8(MOE__S8(vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(qh, m30))), k32);
                int8x16_t q3 = vsubq_s8(MOE__S8(vorrq_u8(vshrq_n_u8(c, 4), vandq_u8(vshrq_n_u8(qh, 2), m30))), k32);
                is = vmlaq_n_s32(is, MOE__SDOT16(q0, MOE__LDX(xq)), sj[0]);
                is = vmlaq_n_s32(is, MOE__SDOT16(q1, MOE__LDX(xq + 32)), sj[2]);
                is = vmlaq_n_s32(is, MOE__SDOT16(q2, MOE__LDX(xq + 64)), sj[4]);
                is = vmlaq_n_s32(is, MOE__SDOT16(q3, MOE__LDX(xq + 96)), sj[6]);
            }
        acc += moe__qxk_d(x) * (MOE__H2F_FAST(moe__rd16(w + 208)) * (float)MOE__HSUM_S32(is));
    }
    return acc;
}
static float moe__kdot_q2_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const uint8x16_t m3 = vdupq_n_u8(3);
    float acc = 0.0f;
    int b, h, o, k;
    for (b = 0; b < nsb; b++, w += MOE__Q2K_BYTES, x += MOE__QXK_BLK) {
        const unsigned char *q8 = x + 4;
        int32x4_t is = vdupq_n_s32(0), ms;
        uint8x16_t mv = vshrq_n_u8(vld1q_u8(w), 4);                 /* mins m_j, times bsum_j */
        int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mv))), m1 = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(mv)));
        int16x8_t b0 = vreinterpretq_s16_u8(vld1q_u8(x + 260)), b1 = vreinterpretq_s16_u8(vld1q_u8(x + 276));
        ms = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
        ms = vmlal_s16(ms, vget_high_s16(m0), vget_high_s16(b0));
        ms = vmlal_s16(ms, vget_low_s16(m1), vget_low_s16(b1));
        ms = vmlal_s16(ms, vget_high_s16(m1), vget_high_s16(b1));
        for (h = 0; h < 2; h++)                 /* layout: see moe__q2k_neon */
            for (o = 0; o < 2; o++) {
                uint8x16_t c = vld1q_u8(w + 16 + 32 * h + 16 * o);
                for (k = 0; k < 4; k++, c = vshrq_n_u8(c, 2)) {
                    int j = 8 * h + 2 * k + o;
                    is = vmlaq_n_s32(is, MOE__SDOT16(MOE__S8(vandq_u8(c, m3)), MOE__LDX(q8 + 16 * j)), w[j] & 15);
                }
            }
        acc += moe__qxk_d(x) * (MOE__H2F_FAST(moe__rd16(w + 80)) * (float)MOE__HSUM_S32(is)
                                - MOE__H2F_FAST(moe__rd16(w + 82)) * (float)MOE__HSUM_S32(ms));
    }
    return acc;
}
static float moe__kdot_q3_k(const unsigned char *w, const unsigned char *x, int nsb)
{
    const uint8x16_t m3 = vdupq_n_u8(3), b2 = vdupq_n_u8(4);
    const int8x16_t k4 = vdupq_n_s8(4);
    float acc = 0.0f;
    int b, h, o, k;
    for (b = 0; b < nsb; b++, w += MOE__Q3K_BYTES, x += MOE__QXK_BLK) {
        const unsigned char *q8 = x + 4;
        int32x4_t is = vdupq_n_s32(0);
        for (h = 0; h < 2; h++)                 /* layout: see moe__q3k_neon */
            for (o = 0; o < 2; o++) {
                uint8x16_t c = vld1q_u8(w + 32 + 32 * h + 16 * o), hm = vld1q_u8(w + 16 * o);
                for (k = 0; k < 4; k++, c = vshrq_n_u8(c, 2)) {
                    int j = 8 * h + 2 * k + o;
                    uint8x16_t q = vorrq_u8(vandq_u8(c, m3), vandq_u8(vtstq_u8(hm, vdupq_n_u8((uint8_t)(1u << (j / 2)))), b2));
                    is = vmlaq_n_s32(is, MOE__SDOT16(vsubq_s8(MOE__S8(q), k4), MOE__LDX(q8 + 16 * j)), moe__k3_get(w + 96, j));
                }
            }
        acc += moe__qxk_d(x) * (MOE__H2F_FAST(moe__rd16(w + 108)) * (float)MOE__HSUM_S32(is));
    }
    return acc;
}
/* MXFP4: per block one dot of the 32 table values against the block's 32 q (gpt-oss order:
   vld2 splits q into the even values, against the low nibbles, and the odd ones). AArch64
   reduces four blocks at once and does their float steps in the 4 lanes; ARMv7 does the float
   steps in scalar VFP code (its NEON would flush the subnormal 2^-128, 2^-127 scales and dx). */
static int32x4_t moe__fp4_dot(const int8x16_t lut, const unsigned char *nib, int inter, const unsigned char *q8)
{
    uint8x16_t v = vld1q_u8(nib);
    int8x16_t lo = MOE__TBL16(lut, vandq_u8(v, vdupq_n_u8(15))), hi = MOE__TBL16(lut, vshrq_n_u8(v, 4));
    if (inter) {
        int8x16x2_t t = vld2q_s8((const int8_t *)(const void *)q8);
        return MOE__SDOT(lo, t.val[0], hi, t.val[1]);
    }
    return MOE__SDOT(lo, MOE__LDX(q8), hi, MOE__LDX(q8 + 16));
}
static float moe__kdot_mxfp4(const unsigned char *nib, size_t nstride, const unsigned char *e, size_t estride,
                             int inter, const unsigned char *x, int nb)
{
    const int8x16_t lut = vld1q_s8((const int8_t *)(const void *)moe__fp4x2);
    float acc = 0.0f;
    int b = 0;
#if defined(__aarch64__) || defined(_M_ARM64)
    float32x4_t av = vdupq_n_f32(0.0f);
    for (; b + 4 <= nb; b += 4, nib += 4 * nstride, e += 4 * estride) {   /* 4 blocks, one Q8_K block */
        const unsigned char *xb = x + (size_t)(b / 8) * MOE__QXK_BLK, *q8 = xb + 4 + 32 * (b % 8);
        int32x4_t p0 = moe__fp4_dot(lut, nib, inter, q8), p1 = moe__fp4_dot(lut, nib + nstride, inter, q8 + 32);
        int32x4_t p2 = moe__fp4_dot(lut, nib + 2 * nstride, inter, q8 + 64), p3 = moe__fp4_dot(lut, nib + 3 * nstride, inter, q8 + 96);
        float de[4];
        de[0] = moe__e8m0_half(e[0]); de[1] = moe__e8m0_half(e[estride]);
        de[2] = moe__e8m0_half(e[2 * estride]); de[3] = moe__e8m0_half(e[3 * estride]);
        av = vaddq_f32(av, vmulq_f32(vdupq_n_f32(moe__qxk_d(xb)),
                                     vmulq_f32(vld1q_f32(de), vcvtq_f32_s32(vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3))))));
    }
    acc = vaddvq_f32(av);
#endif
    for (; b < nb; b++, nib += nstride, e += estride) {
        const unsigned char *xb = x + (size_t)(b / 8) * MOE__QXK_BLK;
        int32_t s = MOE__HSUM_S32(moe__fp4_dot(lut, nib, inter, xb + 4 + 32 * (b % 8)));
        acc += moe__qxk_d(xb) * (moe__e8m0_half(e[0]) * (float)s);
    }
    return acc;
}
static void moe__qtile(moe_type t, int K, const unsigned char *qx, const unsigned char *const *w, int one, size_t pfo, float *c)
{
    const int8_t *q1 = (const int8_t *)(const void *)qx, *q2 = q1 + K;
    const float *d = (const float *)(const void *)(qx + 2 * (size_t)K);
    const size_t bytes = t == MOE_TYPE_Q8_0 ? MOE__Q8_BYTES : MOE__Q4_BYTES;
    const unsigned char *p[MOE__NRQ];
    float32x4_t acc[MOE__NRQ];
    int nb = K / MOE__QK, b, n;
    (void)one;
    for (n = 0; n < MOE__NRQ; n++) { p[n] = w[n]; acc[n] = vdupq_n_f32(0.0f); }
    for (b = 0; b < nb; b++) {
        int8x16_t x0 = vld1q_s8(q1 + b * MOE__QK), x1 = vld1q_s8(q1 + b * MOE__QK + 16);
        int8x16_t y0 = vld1q_s8(q2 + b * MOE__QK), y1 = vld1q_s8(q2 + b * MOE__QK + 16);
        float dx = d[b * 8];
        for (n = 0; n < MOE__NRQ; n++) {
            const unsigned char *r = p[n];
            int32x4_t iv;
            if (t == MOE_TYPE_Q8_0) {
                int8x16_t w0 = vreinterpretq_s8_u8(vld1q_u8(r + 2)), w1 = vreinterpretq_s8_u8(vld1q_u8(r + 18));
                iv = vaddq_s32(vshlq_n_s32(MOE__SDOT(w0, x0, w1, x1), 8), MOE__SDOT(w0, y0, w1, y1));
            } else {
                uint8x16_t bb = vld1q_u8(r + 2);
                int8x16_t w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bb, vdupq_n_u8(15))), vdupq_n_s8(8));
                int8x16_t w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bb, 4)), vdupq_n_s8(8));
                iv = MOE__SDOT(w0, x0, w1, x1);
            }
            MOE__PREFETCH(r + pfo);
            acc[n] = MOE__VFMA(vcvtq_f32_s32(iv), vdupq_n_f32(MOE__H2F_FAST(moe__rd16(r)) * dx), acc[n]);
            p[n] = r + bytes;
        }
    }
    for (n = 0; n < MOE__NRQ; n++) c[n] = MOE__VSUM(acc[n]) * (t == MOE_TYPE_Q8_0 ? 1.0f / 256.0f : 1.0f);
}
#else
/* Written as unsigned x signed bytes (w + 128, or the nibble, against q) and corrected by the
   sum of q: GCC 12 -O2 -march=native turns a plain (signed char) x (signed char) sum into
   AVX-VNNI's unsigned x signed vpdpbusd and gets it wrong; this form is the one vpdpbusd does. */
static void moe__qtile(moe_type t, int K, const unsigned char *qx, const unsigned char *const *w, int one, size_t pfo, float *c)
{
    const signed char *q1 = (const signed char *)qx, *q2 = q1 + K;
    const float *d = (const float *)(const void *)(qx + 2 * (size_t)K);
    int nb = K / MOE__QK, b, n, i;
    (void)pfo; (void)one;
    for (n = 0; n < MOE__NRQ; n++) {
        const unsigned char *r = w[n];
        float acc = 0.0f;
        for (b = 0; b < nb; b++) {
            const signed char *x1 = q1 + b * MOE__QK, *x2 = q2 + b * MOE__QK;
            int32_t i1 = 0, i2 = 0, s1 = 0, s2 = 0;
            if (t == MOE_TYPE_Q8_0) {
                for (i = 0; i < MOE__QK; i++) {
                    int32_t wu = (unsigned char)(r[2 + i] ^ 0x80);
                    i1 += wu * x1[i]; s1 += x1[i];
                    i2 += wu * x2[i]; s2 += x2[i];
                }
                i1 -= 128 * s1; i2 -= 128 * s2;
                acc += (float)(i1 * 256 + i2) * (moe__h2f(moe__rd16(r)) * d[b * 8]);
                r += MOE__Q8_BYTES;
            } else {
                for (i = 0; i < 16; i++) {
                    i1 += (int32_t)(r[2 + i] & 15) * x1[i] + (int32_t)(r[2 + i] >> 4) * x1[16 + i];
                    s1 += x1[i] + x1[16 + i];
                }
                i1 -= 8 * s1;
                acc += (float)i1 * (moe__h2f(moe__rd16(r)) * d[b * 8]);
                r += MOE__Q4_BYTES;
            }
        }
        c[n] = t == MOE_TYPE_Q8_0 ? acc * (1.0f / 256.0f) : acc;
    }
}
#endif

/* out[i][n] = row n of W (nb rows of a Q type, stride bytes apart) . token i, for mt tokens given
   as their qx rows (QX_BYTES(K) apart). NRQ rows at a time; tokens after the first find the
   rows in L1. */
static void moe__qgemm(moe_type t, int K, const unsigned char *qx, int mt, const unsigned char *w, size_t stride,
                       int nb, float *const *out)
{
    const unsigned char *wp[MOE__NRQ];
    float cc[MOE__NRQ];
    int n0, n, i;
    /* the families moe__qtile is written for: its branches take "not Q8_0" as Q4_0 */
    MOE_ASSERT(moe__traits[t].idot == MOE__IDOT_Q8_0 || moe__traits[t].idot == MOE__IDOT_Q4_0);
#if defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2)
    if (mt == 1) {                                    /* rows one after another */
        size_t pfo = stride * ((MOE__GPF + stride - 1) / stride);
        for (n = 0; n < nb; n++) {
            wp[0] = w + (size_t)n * stride;
            moe__qtile(t, K, qx, wp, 1, pfo, cc);
            out[0][n] = cc[0];
        }
        return;
    }
#endif
    {
        size_t grp = MOE__NRQ * stride, pfo = grp * ((MOE__GPF + grp - 1) / grp);   /* >= GPF bytes ahead */
        for (n0 = 0; n0 < nb; n0 += MOE__NRQ) {
            int nr = nb - n0 < MOE__NRQ ? nb - n0 : MOE__NRQ;
            for (n = 0; n < MOE__NRQ; n++) wp[n] = w + (size_t)(n0 + (n < nr ? n : nr - 1)) * stride;
            for (i = 0; i < mt; i++) {
                moe__qtile(t, K, qx + (size_t)i * MOE__QX_BYTES(K), wp, 0, pfo, cc);
                for (n = 0; n < nr; n++) out[i][n0 + n] = cc[n];
            }
        }
    }
}

/* ---- batches against Q8_0 / Q4_0 rows: integer GEMM (cfg.batch_quant = MOE_BATCH_INT) ------
   (and Q4_K, Q5_K, Q6_K, Q3_K, MXFP4: moe__ib_packk makes the same tiles of their rows, below;
   Q6_K/Q3_K read a third plane, int16 w16[K/2][G][2] = q1, after a8 and a16 where present)
   An expert with more than QM tokens whose matrices are all Q8_0/Q4_0 runs them as integer
   GEMMs on panels of G tokens (the batched path's groups). Its tokens' input rows are quantised
   once per expert in the pack phase, its hidden rows once by the gate/up unit that makes them,
   with the few-token quantiser (moe__qx_block: the same q1, q2 and dx, so both paths sum the
   same integers), into a quantised panel per group of G tokens, K values:
     float dx[K/32][G] | int32 c8[K/32][G] = -8 * (sum of the block's q1) |
     int8 a8[K/4][G][4] = q1 (if some matrix is Q4_0) | int16 a16[K/2][G][2] = 256 q1 + q2 (if Q8_0)
   (|256 q1 + q2| <= 32639: an int16). Padding lanes are zero. A work unit repacks its NI rows
   into tiles of IR rows in the worker's scratch: per block of 32 columns, float dw[IR], 4*IR
   bytes unused, then the quants in steps: Q4_0 8 steps of IR x 4 unsigned nibbles (0..15, the
   block's values 4s..4s+3), Q8_0 16 steps of IR x 2 int16 (values 2s, 2s+1). The kernel keeps
   the tokens in the vector lanes and broadcasts a row's 4 bytes: Q4_0 u8 nibbles x s8 q1
   (vpdpbusd, or vpmaddubsw + vpmaddwd: |pair| <= 2*15*127, no saturation) from c8 (the -8
   offset, exact), Q8_0 int16 x int16 (vpdpwssd, or vpmaddwd: no saturation, |w| <= 128) from 0;
   each block's int32 sum is then added in as c += (float)sum * (dx * dw), Q8_0 scaled by 1/256
   at the end, as moe__qtile does.
   NEON (MOE__IB8) lays Q8_0 out as bytes: the panel holds the q1 plane a8 for Q8_0 too and a q2
   plane in a8's layout K G bytes after it (int8 a2[K/4][G][4], replacing a16), a tile 8 steps
   of IR x 4 int8 weights per block like Q4_0's (tiles of 8 rows on AArch64, 4 on ARMv7), and
   the kernel sums 256 (w . q1) + w . q2 per block: the same int32 as the other paths
   (|w . q1| <= 32 * 128 * 127, so 256 times it fits). */
#if (defined(MOE_SIMD_AVX512) && MOE__X_AVX512BW) || defined(MOE_SIMD_AVX2) || defined(MOE_SIMD_SCALAR) || defined(MOE_SIMD_NEON)
#define MOE__IB 1
#endif
/* cfg.batch_quant = MOE_BATCH_INT8: Q8_0 tiles as u8 codes w + 128 (byte tiles, as Q4_0's) on
   vpdpbusd against the q1 plane from -128 sum(q1) = 16 c8 (|sum| <= 32*255*127 + 32*128*127).
   VNNI only: vpmaddubsw's pairs (2*255*127) would saturate. The pseudo-type MOE__Q8B stands for
   such a Q8_0 matrix in the integer-batch code (moe__ibt). */
#if defined(MOE__IB) && ((defined(MOE_SIMD_AVX512) && MOE__X_VNNI512BW) || (defined(MOE_SIMD_AVX2) && (MOE__X_VNNI512 || MOE__X_AVXVNNI)))
#define MOE__IBQ8B 1
#else
#define MOE__IBQ8B 0
#endif
#define MOE__Q8B ((moe_type)(MOE_TYPE_COUNT + 1))
#if defined(MOE_AMX) && !defined(MOE__DISPATCHING)
#if !defined(MOE__IB) || !defined(MOE_SIMD_AVX512)
#error "moe.h: MOE_AMX needs the AVX-512 path with BW (-mavx512f -mavx512bw -mavx512vl, or -march=sapphirerapids)"
#endif
#if !defined(MOE_AMX_EMULATE) && !defined(_MSC_VER) && !(defined(__AMX_TILE__) && defined(__AMX_INT8__) && defined(__AMX_BF16__)) \
    && !(defined(__AMXTILE__) && defined(__AMXINT8__) && defined(__AMXBF16__))     /* GCC's names, clang's */
#error "moe.h: MOE_AMX needs -mamx-tile -mamx-int8 -mamx-bf16 (or MOE_AMX_EMULATE: the portable model of the tiles)"
#endif
#define MOE__AMX 1
#endif
#if defined(MOE_SIMD_NEON)
#define MOE__IB8 1                  /* Q8_0 as two byte planes (q1, q2) and int8 weights: see below */
#endif
#define MOE__IG (2 * MOE__VL)      /* tokens per group: the batched path's MOE__G */
#define MOE__NI 32                  /* rows per work unit (a multiple of 32 and of IR) */
#if defined(MOE_SIMD_AVX512)
#define MOE__IR 8
#elif defined(MOE_SIMD_AVX2)
#define MOE__IR 4
#elif defined(MOE_SIMD_NEON) && (defined(__aarch64__) || defined(_M_ARM64))
#define MOE__IR 8                   /* 16 int32x4 sums of 32 registers */
#else
#define MOE__IR 4
#endif
#define MOE__IBQ(t) ((t) == MOE_TYPE_Q8_0 || (t) == MOE_TYPE_Q4_0 || (t) == MOE_TYPE_Q4_K || (t) == MOE_TYPE_Q5_K || \
                     (t) == MOE_TYPE_Q6_K || (t) == MOE_TYPE_Q3_K || (t) == MOE_TYPE_MXFP4 || (t) == MOE_TYPE_Q2_K)
/* the types this path runs as integer batches: the AVX2 paths leave Q6_K and Q3_K on EXACT (their
   int16 tiles, 16 tokens wide, make the integer GEMM slower than the f32 one there); NEON has
   byte tiles only: not Q6_K and Q3_K either */
#if defined(MOE__IB8)
#define MOE__IBQP(t) (MOE__IBQ(t) && (t) != MOE_TYPE_Q6_K && (t) != MOE_TYPE_Q3_K)
#elif defined(MOE_SIMD_AVX2)
#define MOE__IBQP(t) (MOE__IBQ(t) && (t) != MOE_TYPE_Q6_K && (t) != MOE_TYPE_Q3_K)
#else
#define MOE__IBQP(t) MOE__IBQ(t)
#endif
/* the types whose tiles hold int16 codes (vpdpwssd): Q8_0 against 256 q1 + q2, Q6_K / Q3_K against q1 */
#define MOE__IB16(t) ((t) == MOE_TYPE_Q8_0 || (t) == MOE_TYPE_Q6_K || (t) == MOE_TYPE_Q3_K)
/* the activation planes a type reads: 1 a8 (q1 bytes), 2 a16 (256 q1 + q2; MOE__IB8: a8 and the
   q2 byte plane), 4 w16 (q1 as int16); 8 is BF16's (cfg.batch_bf16 = MOE_BF16_DOT): bf16 pairs
   ab[K/2][G] (32 bits: value 2j low, 2j+1 high), after the others (G moe__ib_tokbytes(K, pl & 7)
   bytes on; without them the panel is that plane alone) */
#define MOE__IBPL(t) ((t) == MOE_TYPE_Q8_0 ? 2 : (t) == MOE_TYPE_Q6_K || (t) == MOE_TYPE_Q3_K ? 4 : 1)
#ifdef MOE__IB8
/* bytes per token of a quantised panel of K values with the planes pl (the q1 plane is there
   for either type, the q2 plane for Q8_0) */
static size_t moe__ib_tokbytes(size_t K, int pl) { return ((pl & 7) ? K / 4 : 0) + ((pl & 3) ? K : 0) + ((pl & 2) ? K : 0) + ((pl & 8) ? 2 * K : 0); }
/* bytes of one repacked tile of IR rows of K values */
static size_t moe__ib_tilebytes(moe_type t, size_t K) { return K / MOE__QK * (8 + 32 + (t == MOE_TYPE_Q2_K ? 4 : 0)) * MOE__IR; }
#else
/* bytes per token of a quantised panel of K values with the planes pl */
static size_t moe__ib_tokbytes(size_t K, int pl) { return ((pl & 7) ? K / 4 : 0) + ((pl & 1) ? K : 0) + ((pl & 2) ? 2 * K : 0) + ((pl & 4) ? 2 * K : 0) + ((pl & 8) ? 2 * K : 0); }
/* bytes of one repacked tile of IR rows of K values */
static size_t moe__ib_tilebytes(moe_type t, size_t K) { return K / MOE__QK * (8 + (MOE__IB16(t) ? 64 : 32) + (t == MOE_TYPE_Q2_K ? 4 : 0)) * MOE__IR; }
#endif

#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2))
/* x86: four rows at a time, a 4 x 4 transpose of 32-bit words per 16 bytes (SSE2 / SSE4.1) */
#define MOE__IT4(a, b, c, d) { __m128i t0 = _mm_unpacklo_epi32(a, b), t1 = _mm_unpacklo_epi32(c, d), t2 = _mm_unpackhi_epi32(a, b), t3 = _mm_unpackhi_epi32(c, d); \
        a = _mm_unpacklo_epi64(t0, t1); b = _mm_unpackhi_epi64(t0, t1); c = _mm_unpacklo_epi64(t2, t3); d = _mm_unpackhi_epi64(t2, t3); }
#define MOE__IST(p, v) _mm_storeu_si128((__m128i *)(void *)(p), v)
static void moe__ib_pack4(moe_type t, const unsigned char *const *src, unsigned char *qd)
{
    const size_t st = 4 * MOE__IR;                    /* bytes between steps */
    if (t == MOE__Q8B) {                              /* values 16h..16h+15 + 128: steps 4h..4h+3 */
        const __m128i x80 = _mm_set1_epi8((char)0x80);
        int h;
        for (h = 0; h < 2; h++) {
            __m128i a = MOE__LDU128(src[0] + 2 + 16 * h), b = MOE__LDU128(src[1] + 2 + 16 * h);
            __m128i c = MOE__LDU128(src[2] + 2 + 16 * h), d = MOE__LDU128(src[3] + 2 + 16 * h);
            MOE__IT4(a, b, c, d)
            MOE__IST(qd + (size_t)(4 * h) * st, _mm_xor_si128(a, x80)); MOE__IST(qd + (size_t)(4 * h + 1) * st, _mm_xor_si128(b, x80));
            MOE__IST(qd + (size_t)(4 * h + 2) * st, _mm_xor_si128(c, x80)); MOE__IST(qd + (size_t)(4 * h + 3) * st, _mm_xor_si128(d, x80));
        }
    } else if (t == MOE_TYPE_Q8_0) {
        int h;
        for (h = 0; h < 4; h++) {                     /* values 8h..8h+7: steps 4h..4h+3 */
            __m128i a = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src[0] + 2 + 8 * h)));
            __m128i b = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src[1] + 2 + 8 * h)));
            __m128i c = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src[2] + 2 + 8 * h)));
            __m128i d = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src[3] + 2 + 8 * h)));
            MOE__IT4(a, b, c, d)
            MOE__IST(qd + (size_t)(4 * h) * st, a); MOE__IST(qd + (size_t)(4 * h + 1) * st, b);
            MOE__IST(qd + (size_t)(4 * h + 2) * st, c); MOE__IST(qd + (size_t)(4 * h + 3) * st, d);
        }
    } else {
        const __m128i m4 = _mm_set1_epi8(15);
        __m128i a = MOE__LDU128(src[0] + 2), b = MOE__LDU128(src[1] + 2), c = MOE__LDU128(src[2] + 2), d = MOE__LDU128(src[3] + 2);
        MOE__IT4(a, b, c, d)
        MOE__IST(qd, _mm_and_si128(a, m4)); MOE__IST(qd + st, _mm_and_si128(b, m4));
        MOE__IST(qd + 2 * st, _mm_and_si128(c, m4)); MOE__IST(qd + 3 * st, _mm_and_si128(d, m4));
        MOE__IST(qd + 4 * st, _mm_and_si128(_mm_srli_epi16(a, 4), m4)); MOE__IST(qd + 5 * st, _mm_and_si128(_mm_srli_epi16(b, 4), m4));
        MOE__IST(qd + 6 * st, _mm_and_si128(_mm_srli_epi16(c, 4), m4)); MOE__IST(qd + 7 * st, _mm_and_si128(_mm_srli_epi16(d, 4), m4));
    }
}
#elif defined(MOE__IB) && defined(MOE_SIMD_NEON)
/* NEON: four rows at a time, a 4 x 4 transpose of 32-bit words per 16 bytes (vtrn, vcombine) */
#define MOE__IT4(a, b, c, d) { uint32x4x2_t t0 = vtrnq_u32(a, b), t1 = vtrnq_u32(c, d); \
        a = vcombine_u32(vget_low_u32(t0.val[0]), vget_low_u32(t1.val[0])); b = vcombine_u32(vget_low_u32(t0.val[1]), vget_low_u32(t1.val[1])); \
        c = vcombine_u32(vget_high_u32(t0.val[0]), vget_high_u32(t1.val[0])); d = vcombine_u32(vget_high_u32(t0.val[1]), vget_high_u32(t1.val[1])); }
#define MOE__IST(p, v) vst1q_u8(p, vreinterpretq_u8_u32(v))
#define MOE__ILDW(p) vreinterpretq_u32_u8(vld1q_u8(p))
static void moe__ib_pack4(moe_type t, const unsigned char *const *src, unsigned char *qd)
{
    const size_t st = 4 * MOE__IR;                    /* bytes between steps */
    if (t == MOE_TYPE_Q8_0) {                         /* int8 values 16h..16h+15: steps 4h..4h+3 */
        int h;
        for (h = 0; h < 2; h++) {
            uint32x4_t a = MOE__ILDW(src[0] + 2 + 16 * h), b = MOE__ILDW(src[1] + 2 + 16 * h);
            uint32x4_t c = MOE__ILDW(src[2] + 2 + 16 * h), d = MOE__ILDW(src[3] + 2 + 16 * h);
            MOE__IT4(a, b, c, d)
            MOE__IST(qd + (size_t)(4 * h) * st, a); MOE__IST(qd + (size_t)(4 * h + 1) * st, b);
            MOE__IST(qd + (size_t)(4 * h + 2) * st, c); MOE__IST(qd + (size_t)(4 * h + 3) * st, d);
        }
    } else {
        const uint32x4_t m4 = vdupq_n_u32(0x0f0f0f0fu);
        uint32x4_t a = MOE__ILDW(src[0] + 2), b = MOE__ILDW(src[1] + 2), c = MOE__ILDW(src[2] + 2), d = MOE__ILDW(src[3] + 2);
        MOE__IT4(a, b, c, d)
        MOE__IST(qd, vandq_u32(a, m4)); MOE__IST(qd + st, vandq_u32(b, m4));
        MOE__IST(qd + 2 * st, vandq_u32(c, m4)); MOE__IST(qd + 3 * st, vandq_u32(d, m4));
        MOE__IST(qd + 4 * st, vandq_u32(vshrq_n_u32(a, 4), m4)); MOE__IST(qd + 5 * st, vandq_u32(vshrq_n_u32(b, 4), m4));
        MOE__IST(qd + 6 * st, vandq_u32(vshrq_n_u32(c, 4), m4)); MOE__IST(qd + 7 * st, vandq_u32(vshrq_n_u32(d, 4), m4));
    }
}
#endif
/* Repack rows 0..nr-1 (stride bytes apart, at w) of a Q8_0/Q4_0 matrix with K columns into
   ceil(nr/IR) tiles at dst; rows past nr are zero. */
static void moe__ib_pack0(moe_type t, const unsigned char *w, size_t stride, int nr, int K, unsigned char *dst)
{
#ifdef MOE__IB8
    const int nb = K / MOE__QK, q8 = t == MOE_TYPE_Q8_0, bsz = 8 + 32;
#else
    const int nb = K / MOE__QK, q8 = t == MOE_TYPE_Q8_0, bsz = 8 + (q8 ? 64 : 32);
#endif
    const int q8b = t == MOE__Q8B;                     /* (MOE_BATCH_INT8: byte codes w + 128) */
    const size_t bytes = q8 || q8b ? MOE__Q8_BYTES : MOE__Q4_BYTES;
    int r0, r, b, i, rq;
    for (r0 = 0; r0 < nr; r0 += MOE__IR, dst += moe__ib_tilebytes(t, (size_t)K))
        for (rq = 0; rq < MOE__IR; rq += 4) {
#if defined(MOE__IB) && !defined(MOE_SIMD_SCALAR)
            if (r0 + rq + 4 <= nr) {
                const unsigned char *src[4];
                for (b = 0; b < nb; b++) {
                    unsigned char *blk = dst + (size_t)b * (size_t)bsz * MOE__IR;
                    for (r = 0; r < 4; r++) {
                        float dw;
                        src[r] = w + (size_t)(r0 + rq + r) * stride + (size_t)b * bytes;
                        dw = MOE__H2F_FAST(moe__rd16(src[r]));
                        memcpy(blk + 4 * (rq + r), &dw, 4);
                    }
                    moe__ib_pack4(t, src, blk + 8 * MOE__IR + 4 * rq);
                }
                continue;
            }
#endif
            for (r = rq; r < rq + 4; r++) {
                const unsigned char *src = w + (size_t)(r0 + r) * stride;
                int live = r0 + r < nr;
                for (b = 0; b < nb; b++, src += bytes) {
                    unsigned char *blk = dst + (size_t)b * (size_t)bsz * MOE__IR, *qd = blk + 8 * MOE__IR;
                    float dw = live ? moe__h2f(moe__rd16(src)) : 0.0f;
                    memcpy(blk + 4 * r, &dw, 4);
                    if (q8b)
                        for (i = 0; i < MOE__QK; i++)    /* value i: step i/4, byte i%4 */
                            qd[((size_t)(i / 4) * MOE__IR + (size_t)r) * 4 + (size_t)(i % 4)] = (unsigned char)((live ? src[2 + i] : 0) ^ 0x80);
                    else if (q8) {
#ifdef MOE__IB8
                        for (i = 0; i < MOE__QK; i++)    /* value i: step i/4, byte i%4 */
                            qd[((size_t)(i / 4) * MOE__IR + (size_t)r) * 4 + (size_t)(i % 4)] = live ? src[2 + i] : 0;
#else
                        for (i = 0; i < MOE__QK; i++) {
                            int16_t v = (int16_t)(live ? (signed char)src[2 + i] : 0);
                            memcpy(qd + ((size_t)(i / 2) * MOE__IR + (size_t)r) * 4 + (size_t)(i % 2) * 2, &v, 2);
                        }
#endif
                    } else
                        for (i = 0; i < 16; i++) {       /* value i: low nibble of q[i]; 16 + i: high */
                            unsigned char c = live ? src[2 + i] : 0;
                            qd[((size_t)(i / 4) * MOE__IR + (size_t)r) * 4 + (size_t)(i % 4)] = (unsigned char)(c & 15);
                            qd[((size_t)(i / 4 + 4) * MOE__IR + (size_t)r) * 4 + (size_t)(i % 4)] = (unsigned char)(c >> 4);
                        }
                }
            }
        }
}

/* c[r][n] (r < IR, n < G: row-major, G apart) = row r of the tile wt . token n of group g */
#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2))
#if defined(MOE_SIMD_AVX512)
#define MOE__IV __m512i
#define MOE__IF __m512
#define MOE__IVL 16
#define MOE__ILD(p) _mm512_loadu_si512((const void *)(p))
#define MOE__IBC(p) _mm512_set1_epi32(moe__rdi32(p))
#define MOE__IZERO() _mm512_setzero_si512()
#define MOE__IFMA(i, s, acc) _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), s, acc)
#define MOE__IFLD(p) _mm512_loadu_ps(p)
#define MOE__IFST(p, v) _mm512_storeu_ps(p, v)
#define MOE__IFMUL(a, b) _mm512_mul_ps(a, b)
#define MOE__IFSET(f) _mm512_set1_ps(f)
#define MOE__IFMAF(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define MOE__ICVT(i) _mm512_cvtepi32_ps(i)
#define MOE__IC12(v) _mm512_add_epi32(v, _mm512_srai_epi32(v, 1))
#define MOE__IC16(v) _mm512_slli_epi32(v, 4)
#define MOE__IONES() _mm512_set1_epi8(1)
#define MOE__ISUM(c8v, s) _mm512_sub_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), _mm512_srai_epi32(c8v, 3)), s)
#if MOE__X_VNNI512BW
#define MOE__IDPB(acc, u, s) _mm512_dpbusd_epi32(acc, u, s)
#define MOE__IDPW(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
#else
#define MOE__IDPB(acc, u, s) _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)))
#define MOE__IDPW(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#endif
#else
#define MOE__IV __m256i
#define MOE__IF __m256
#define MOE__IVL 8
#define MOE__ILD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define MOE__IBC(p) _mm256_set1_epi32(moe__rdi32(p))
#define MOE__IZERO() _mm256_setzero_si256()
#define MOE__IFMA(i, s, acc) MOE__FMA256(_mm256_cvtepi32_ps(i), s, acc)
#define MOE__IFLD(p) _mm256_loadu_ps(p)
#define MOE__IFST(p, v) _mm256_storeu_ps(p, v)
#define MOE__IFMUL(a, b) _mm256_mul_ps(a, b)
#define MOE__IFSET(f) _mm256_set1_ps(f)
#define MOE__IFMAF(a, b, acc) MOE__FMA256(a, b, acc)
#define MOE__ICVT(i) _mm256_cvtepi32_ps(i)
#define MOE__IC12(v) _mm256_add_epi32(v, _mm256_srai_epi32(v, 1))
#define MOE__IC16(v) _mm256_slli_epi32(v, 4)
#define MOE__IONES() _mm256_set1_epi8(1)
#define MOE__ISUM(c8v, s) _mm256_sub_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_srai_epi32(c8v, 3)), s)
#if MOE__X_VNNI512
#define MOE__IDPB(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#define MOE__IDPW(acc, a, b) _mm256_dpwssd_epi32(acc, a, b)
#elif MOE__X_AVXVNNI
#define MOE__IDPB(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#define MOE__IDPW(acc, a, b) _mm256_dpwssd_avx_epi32(acc, a, b)
#else
#define MOE__IDPB(acc, u, s) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#define MOE__IDPW(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
#endif
#endif
static int32_t moe__rdi32(const unsigned char *p) { int32_t v; memcpy(&v, p, 4); return v; }
/* two vectors of tokens (G = 2 VL) x IR rows of int32 sums in registers: i<row>a, i<row>b */
#if MOE__IR == 8
#define MOE__IROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#else
#define MOE__IROWS(M) M(0) M(1) M(2) M(3)
#endif
#define MOE__IDECL(r) MOE__IV i##r##a = za, i##r##b = zb;
#define MOE__ISTEP4(r) { MOE__IV wb = MOE__IBC(wq + 4 * r); i##r##a = MOE__IDPB(i##r##a, wb, xa); i##r##b = MOE__IDPB(i##r##b, wb, xb); }
#define MOE__ISTEP8(r) { MOE__IV wb = MOE__IBC(wq + 4 * r); i##r##a = MOE__IDPW(i##r##a, xa, wb); i##r##b = MOE__IDPW(i##r##b, xb, wb); }
#define MOE__IEPI(r) { MOE__IF s = MOE__IFSET(dw[r]); \
        MOE__IFST(c + r * MOE__IG, MOE__IFMA(i##r##a, MOE__IFMUL(da, s), MOE__IFLD(c + r * MOE__IG))); \
        MOE__IFST(c + r * MOE__IG + MOE__IVL, MOE__IFMA(i##r##b, MOE__IFMUL(db, s), MOE__IFLD(c + r * MOE__IG + MOE__IVL))); }
/* with the row's offset: + off * (dx * sum(q1)), ma / mb the two vectors of dx * sum(q1) */
#define MOE__IEPO(r) { MOE__IF s = MOE__IFSET(dw[r]), o = MOE__IFSET(dw[MOE__IR + r]); \
        MOE__IFST(c + r * MOE__IG, MOE__IFMAF(ma, o, MOE__IFMA(i##r##a, MOE__IFMUL(da, s), MOE__IFLD(c + r * MOE__IG)))); \
        MOE__IFST(c + r * MOE__IG + MOE__IVL, MOE__IFMAF(mb, o, MOE__IFMA(i##r##b, MOE__IFMUL(db, s), MOE__IFLD(c + r * MOE__IG + MOE__IVL)))); }
#define MOE__ITAIL MOE__IROWS(MOE__IEPI)
/* Q2_K: an offset per 16 values, off (values 0..15) and off2 (16..31, at 40 IR bytes): + off *
   (dx * s1) + off2 * (dx * s2), s1 the sum of the block's first 16 q1 (vpdpbusd of ones against
   its first 4 steps, once for all IR rows), s2 = sum(q1) - s1 = -(c8 >> 3) - s1 (exact) */
#define MOE__IEPO2(r) { MOE__IF s = MOE__IFSET(dw[r]), o = MOE__IFSET(dw[MOE__IR + r]), o2 = MOE__IFSET(dw[10 * MOE__IR + r]); \
        MOE__IFST(c + r * MOE__IG, MOE__IFMAF(ga, o2, MOE__IFMAF(ma, o, MOE__IFMA(i##r##a, MOE__IFMUL(da, s), MOE__IFLD(c + r * MOE__IG))))); \
        MOE__IFST(c + r * MOE__IG + MOE__IVL, MOE__IFMAF(gb, o2, MOE__IFMAF(mb, o, MOE__IFMA(i##r##b, MOE__IFMUL(db, s), MOE__IFLD(c + r * MOE__IG + MOE__IVL))))); }
#define MOE__ITAIL2 { const MOE__IV one = MOE__IONES(); const unsigned char *x0 = xq - 32 * G; \
        MOE__IV sa = MOE__IZERO(), sb = MOE__IZERO(); MOE__IF ma, mb, ga, gb; int s_; \
        for (s_ = 0; s_ < 4; s_++) { sa = MOE__IDPB(sa, one, MOE__ILD(x0 + (size_t)s_ * 4 * G)); sb = MOE__IDPB(sb, one, MOE__ILD(x0 + (size_t)s_ * 4 * G + 4 * MOE__IVL)); } \
        ma = MOE__IFMUL(MOE__ICVT(sa), da); mb = MOE__IFMUL(MOE__ICVT(sb), db); \
        ga = MOE__IFMUL(MOE__ICVT(MOE__ISUM(MOE__ILD(c8 + b * G * 4), sa)), da); \
        gb = MOE__IFMUL(MOE__ICVT(MOE__ISUM(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL), sb)), db); \
        MOE__IROWS(MOE__IEPO2) }
/* dx * sum(q1) = dx * (c8 / -8), exact up to the one rounding of the product */
#define MOE__ITAILO { const MOE__IF m8 = MOE__IFSET(-0.125f); \
        MOE__IF ma = MOE__IFMUL(MOE__ICVT(MOE__ILD(c8 + b * G * 4)), MOE__IFMUL(da, m8)); \
        MOE__IF mb = MOE__IFMUL(MOE__ICVT(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL)), MOE__IFMUL(db, m8)); \
        MOE__IROWS(MOE__IEPO) }
/* one block of 32 columns: steps of 4 (u8 codes: vpdpbusd, from ZA) or 2 (int16 codes: vpdpwssd
   from 0), written out (a loop over the steps makes GCC 12 copy every accumulator at every step) */
#define MOE__ISTEP(STEP) { MOE__IV xa = MOE__ILD(xq), xb = MOE__ILD(xq + 4 * MOE__IVL); MOE__IROWS(STEP) wq += 4 * MOE__IR; xq += 4 * G; }
#define MOE__IS8(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP) MOE__ISTEP(STEP)
#define MOE__IS16(STEP) MOE__IS8(STEP) MOE__IS8(STEP)
#define MOE__IBLOCK(NS, STEP, ZA, ZB, TAIL) { \
        const float *dw = (const float *)(const void *)(wt + b * bsz); \
        const unsigned char *wq = wt + b * bsz + 8 * MOE__IR; \
        MOE__IV za = ZA, zb = ZB; \
        MOE__IROWS(MOE__IDECL) \
        MOE__IF da, db; \
        NS(STEP) \
        da = MOE__IFLD(dxp + b * G); db = MOE__IFLD(dxp + b * G + MOE__IVL); \
        TAIL }
/* The int32 sums, per block of 32 and token (|q1| <= 127; vpmaddubsw's pairs and vpmaddwd's
   pairs must not saturate without VNNI, and the block's sum must fit an int32):
     Q4_0   u8 0..15  x q1 from c8 = -8 sum(q1): |pair| <= 2*15*127, |sum| <= 32*15*127 + 32512
     Q4_K   u8 0..15, Q5_K u8 0..31, Q2_K u8 0..45, x q1 from 0: |pair| <= 2*45*127 = 11430
     MXFP4  u8 0..24 x q1 from -12 sum(q1) = c8 + c8/2 (c8 is a multiple of 8: exact): |pair| <= 6096
     Q8_0   int16 |w| <= 128 x (256 q1 + q2) (|.| <= 32639): |sum| <= 32*128*32639 < 2^27
     Q6_K   int16 |w| <= 4096 x q1: |sum| <= 32*4096*127 < 2^24; Q3_K |w| <= 128 */
static void moe__ib_tile(moe_type t, int K, const unsigned char *wt, const unsigned char *g, int pl, float *c)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK;
    const float *dxp = (const float *)(const void *)g;
    const unsigned char *c8 = g + nb * G * 4, *a8 = g + nb * G * 8, *a16 = a8 + ((pl & 1) ? (size_t)K * G : 0);
    const unsigned char *w16 = a16 + ((pl & 2) ? 2 * (size_t)K * G : 0), *xq;
    const size_t bsz = moe__ib_tilebytes(t, MOE__QK);               /* bytes per block of 32 */
    size_t b;
    int r;
    for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] = 0.0f;
    if (t == MOE__Q8B) {                                /* codes w + 128 from -128 sum(q1) = 16 c8 */
        for (b = 0, xq = a8; b < nb; b++)
            MOE__IBLOCK(MOE__IS8, MOE__ISTEP4, MOE__IC16(MOE__ILD(c8 + b * G * 4)), MOE__IC16(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL)), MOE__ITAIL)
        return;
    }
    switch (t) {
    case MOE_TYPE_Q8_0:
        for (b = 0, xq = a16; b < nb; b++) MOE__IBLOCK(MOE__IS16, MOE__ISTEP8, MOE__IZERO(), MOE__IZERO(), MOE__ITAIL)
        for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] *= 1.0f / 256.0f;
        break;
    case MOE_TYPE_Q6_K: case MOE_TYPE_Q3_K:
        for (b = 0, xq = w16; b < nb; b++) MOE__IBLOCK(MOE__IS16, MOE__ISTEP8, MOE__IZERO(), MOE__IZERO(), MOE__ITAIL)
        break;
    case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K:
        for (b = 0, xq = a8; b < nb; b++) MOE__IBLOCK(MOE__IS8, MOE__ISTEP4, MOE__IZERO(), MOE__IZERO(), MOE__ITAILO)
        break;
    case MOE_TYPE_Q2_K:
        for (b = 0, xq = a8; b < nb; b++) MOE__IBLOCK(MOE__IS8, MOE__ISTEP4, MOE__IZERO(), MOE__IZERO(), MOE__ITAIL2)
        break;
    case MOE_TYPE_MXFP4:
        for (b = 0, xq = a8; b < nb; b++)
            MOE__IBLOCK(MOE__IS8, MOE__ISTEP4, MOE__IC12(MOE__ILD(c8 + b * G * 4)), MOE__IC12(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL)), MOE__ITAIL)
        break;
    default:                                            /* Q4_0 */
        for (b = 0, xq = a8; b < nb; b++) MOE__IBLOCK(MOE__IS8, MOE__ISTEP4, MOE__ILD(c8 + b * G * 4), MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL), MOE__ITAIL)
        break;
    }
}
#ifdef MOE__AMX
/* ---- AMX tiles (cfg.batch_amx; MOE_AMX builds) -------------------------------------------
   A call computes the same c[IR][G] as moe__ib_tile (IR = 8 rows, G = 32 tokens), a block of 32
   columns at a time: the tile's IR rows are the A tile (the unit's tiles converted row-major by
   moe__amx_rows), the panel's plane the B tile (its layout is already the one B wants: 4 bytes a
   token a row of K/4, or a pair of bf16), in two halves of 16 tokens, into two int32 (f32) C
   tiles. Byte codes: tdpbusd against a8 (u8 x s8), C from 0, then stored and added to the
   start (c8, 1.5 c8 or 0) the vpdpbusd kernel starts from; Q8_0: its int16 pairs (w, sign) made
   (w, 0) bytes, tdpbsud against a16's bytes (the low, unsigned bytes of 256 q1 + q2) and tdpbssd
   against them one byte on (the high, signed bytes; the zero weights meet the low byte of the
   next token or row, so the panels end MOE__AMXPAD bytes early), 256 hi + lo: a16's int32 sum.
   The float step is the vpdpbusd kernel's (MOE__ITAIL*), so the output is its bits.
   Tiles: 0, 1 C (tokens 0-15, 16-31), 2, 3 the high C (Q8_0), 4 A, 5, 6 B. */
#define MOE__AMXPAD 64                 /* bytes the panels reserve past their end (Q8_0's one-byte shift) */
#define MOE__AMXT(t) ((MOE__IBQ(t) && (t) != MOE_TYPE_Q6_K && (t) != MOE_TYPE_Q3_K) || (t) == MOE__Q8B)   /* the types on tiles */
#ifdef MOE_AMX_EMULATE
/* the model: 8 tiles of up to 16 rows x 64 bytes, each row's bytes past colsb zero (as loads and
   tilezero leave them); the dot products in the order of the instructions' pseudo-code, int32
   sums wrapping, bf16 products added one at a time in f32 with denormal inputs and results
   flushed to zero */
typedef struct moe__amxs { unsigned char t[8][16][64]; int rows[8], colsb[8]; } moe__amxs;
static void moe__amx_cfg(moe__amxs *s, const unsigned char *c)
{
    int i;
    memset(s, 0, sizeof *s);
    for (i = 0; i < 8; i++) { s->colsb[i] = c[16 + 2 * i] | c[17 + 2 * i] << 8; s->rows[i] = c[48 + i]; }
}
static void moe__amx_ld(moe__amxs *s, int t, const void *p, size_t stride)
{
    int r;
    memset(s->t[t], 0, sizeof s->t[t]);
    for (r = 0; r < s->rows[t]; r++) memcpy(s->t[t][r], (const unsigned char *)p + (size_t)r * stride, (size_t)s->colsb[t]);
}
static void moe__amx_st(const moe__amxs *s, int t, void *p, size_t stride)
{
    int r;
    for (r = 0; r < s->rows[t]; r++) memcpy((unsigned char *)p + (size_t)r * stride, s->t[t][r], (size_t)s->colsb[t]);
}
/* kind: 0 u8 x s8 (tdpbusd), 1 s8 x u8 (tdpbsud), 2 s8 x s8 (tdpbssd) */
static void moe__amx_dp(moe__amxs *s, int kind, int c, int a, int b)
{
    int m, n, k, i;
    for (m = 0; m < s->rows[c]; m++)
        for (n = 0; n < s->colsb[c] / 4; n++) {
            uint32_t acc;
            memcpy(&acc, &s->t[c][m][4 * n], 4);
            for (k = 0; k < s->colsb[a] / 4; k++)
                for (i = 0; i < 4; i++) {
                    int x = kind == 0 ? (int)s->t[a][m][4 * k + i] : (int)(signed char)s->t[a][m][4 * k + i];
                    int y = kind == 1 ? (int)s->t[b][k][4 * n + i] : (int)(signed char)s->t[b][k][4 * n + i];
                    acc += (uint32_t)(x * y);
                }
            memcpy(&s->t[c][m][4 * n], &acc, 4);
        }
}
static float moe__amx_bf(const unsigned char *p)   /* a bf16 as f32, a denormal as zero */
{
    uint32_t u = (uint32_t)(p[0] | p[1] << 8) << 16;
    float f;
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
    memcpy(&f, &u, 4);
    return f;
}
static float moe__amx_ftz(float f) { return f != 0.0f && fabsf(f) < 1.17549435e-38f ? 0.0f * f : f; }   /* FLT_MIN */
static void moe__amx_dpbf(moe__amxs *s, int c, int a, int b)
{
    int m, n, k;
    for (m = 0; m < s->rows[c]; m++)
        for (n = 0; n < s->colsb[c] / 4; n++) {
            float acc;
            memcpy(&acc, &s->t[c][m][4 * n], 4);
            for (k = 0; k < s->colsb[a] / 4; k++) {
                acc = moe__amx_ftz(acc + moe__amx_bf(&s->t[a][m][4 * k]) * moe__amx_bf(&s->t[b][k][4 * n]));
                acc = moe__amx_ftz(acc + moe__amx_bf(&s->t[a][m][4 * k + 2]) * moe__amx_bf(&s->t[b][k][4 * n + 2]));
            }
            memcpy(&s->t[c][m][4 * n], &acc, 4);
        }
}
#define MOE__ASTATE moe__amxs amx_;
#define MOE__ACFG(p) moe__amx_cfg(&amx_, p)
#define MOE__ALD(t, p, s) moe__amx_ld(&amx_, t, p, s)
#define MOE__ASTO(t, p, s) moe__amx_st(&amx_, t, p, s)
#define MOE__AZERO(n_) memset(amx_.t[n_], 0, sizeof amx_.t[n_])
#define MOE__ADPBUSD(c, a, b) moe__amx_dp(&amx_, 0, c, a, b)
#define MOE__ADPBSUD(c, a, b) moe__amx_dp(&amx_, 1, c, a, b)
#define MOE__ADPBSSD(c, a, b) moe__amx_dp(&amx_, 2, c, a, b)
#define MOE__ADPBF16(c, a, b) moe__amx_dpbf(&amx_, c, a, b)
#define MOE__AREL() (void)0
#else
#define MOE__ASTATE
#define MOE__ACFG(p) _tile_loadconfig(p)
#define MOE__ALD(t, p, s) _tile_loadd(t, p, s)
#define MOE__ASTO(t, p, s) _tile_stored(t, p, s)
#define MOE__AZERO(t) _tile_zero(t)
#define MOE__ADPBUSD(c, a, b) _tile_dpbusd(c, a, b)
#define MOE__ADPBSUD(c, a, b) _tile_dpbsud(c, a, b)
#define MOE__ADPBSSD(c, a, b) _tile_dpbssd(c, a, b)
#define MOE__ADPBF16(c, a, b) _tile_dpbf16ps(c, a, b)
#define MOE__AREL() _tile_release()
#endif
/* tile t of the config c: rows x colsb bytes (palette 1) */
static void moe__amx_tc(unsigned char *c, int t, int rows, int colsb)
{
    c[0] = 1;
    c[16 + 2 * t] = (unsigned char)colsb; c[17 + 2 * t] = (unsigned char)(colsb >> 8);
    c[48 + t] = (unsigned char)rows;
}
/* the n tiles of K columns at p (moe__ib_pack's), converted for the A tile in place: per block,
   S steps x IR rows x 4 bytes -> IR rows x S steps x 4 bytes; Q8_0's int16 (w, sign) -> (w, 0) */
static void moe__amx_rows(moe_type t, int K, size_t n, unsigned char *p)
{
    const size_t bsz = moe__ib_tilebytes(t, MOE__QK), nb = n * (size_t)(K / MOE__QK);
    const int S = t == MOE_TYPE_Q8_0 ? 16 : 8;
    unsigned char tmp[16 * MOE__IR * 4];
    size_t b;
    int r, s;
    for (b = 0; b < nb; b++) {
        unsigned char *q = p + b * bsz + 8 * MOE__IR;
        memcpy(tmp, q, (size_t)S * MOE__IR * 4);
        for (r = 0; r < MOE__IR; r++)
            for (s = 0; s < S; s++) {
                unsigned char *d = q + ((size_t)r * S + (size_t)s) * 4;
                memcpy(d, tmp + ((size_t)s * MOE__IR + (size_t)r) * 4, 4);
                if (t == MOE_TYPE_Q8_0) d[1] = d[3] = 0;
            }
    }
}
#define MOE__ADECL(r) MOE__IV i##r##a = _mm512_add_epi32(za, MOE__ILD(ib + (r) * MOE__IG)), \
        i##r##b = _mm512_add_epi32(zb, MOE__ILD(ib + (r) * MOE__IG + MOE__IVL));
/* 256 hi + lo (Q8_0), in place in ib */
#define MOE__AHL(r) { int32_t *p_ = ib + (r) * MOE__IG; \
        _mm512_storeu_si512((void *)p_, _mm512_add_epi32(_mm512_slli_epi32(MOE__ILD(ih + (r) * MOE__IG), 8), MOE__ILD(p_))); \
        _mm512_storeu_si512((void *)(p_ + 16), _mm512_add_epi32(_mm512_slli_epi32(MOE__ILD(ih + (r) * MOE__IG + 16), 8), MOE__ILD(p_ + 16))); }
#define MOE__ABLOCK(ZA, ZB, TAIL) { const float *dw = (const float *)(const void *)(wt + b * bsz); \
        MOE__IV za = ZA, zb = ZB; \
        MOE__IF da, db; \
        MOE__AZERO(0); MOE__AZERO(1); \
        MOE__ALD(4, wt + b * bsz + 8 * MOE__IR, ac); \
        MOE__ALD(5, xq, 4 * G); MOE__ALD(6, xq + 64, 4 * G); \
        if (q8) { \
            MOE__AZERO(2); MOE__AZERO(3); \
            MOE__ADPBSUD(0, 4, 5); MOE__ADPBSUD(1, 4, 6); \
            MOE__ALD(5, xq + 1, 4 * G); MOE__ALD(6, xq + 65, 4 * G); \
            MOE__ADPBSSD(2, 4, 5); MOE__ADPBSSD(3, 4, 6); \
            MOE__ASTO(2, ih, 4 * G); MOE__ASTO(3, ih + 16, 4 * G); \
        } else { MOE__ADPBUSD(0, 4, 5); MOE__ADPBUSD(1, 4, 6); } \
        MOE__ASTO(0, ib, 4 * G); MOE__ASTO(1, ib + 16, 4 * G); \
        if (q8) { MOE__IROWS(MOE__AHL) } \
        xq += (size_t)ac * G; \
        { MOE__IROWS(MOE__ADECL) \
        da = MOE__IFLD(dxp + b * G); db = MOE__IFLD(dxp + b * G + MOE__IVL); \
        TAIL } }
/* moe__ib_tile's c for a tile converted by moe__amx_rows (t: MOE__AMXT) */
static void moe__amx_tile(moe_type t, int K, const unsigned char *wt, const unsigned char *g, int pl, float *c)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK, bsz = moe__ib_tilebytes(t, MOE__QK);
    const float *dxp = (const float *)(const void *)g;
    const unsigned char *c8 = g + nb * G * 4, *a8 = g + nb * G * 8, *xq;
    const int q8 = t == MOE_TYPE_Q8_0, ac = q8 ? 64 : 32;     /* A's bytes a row: 32 values */
    unsigned char cfg[64];
    int32_t ib[MOE__IR * MOE__IG], ih[MOE__IR * MOE__IG];
    size_t b;
    int r;
    MOE__ASTATE
    memset(cfg, 0, sizeof cfg);
    moe__amx_tc(cfg, 0, MOE__IR, 64); moe__amx_tc(cfg, 1, MOE__IR, 64);
    moe__amx_tc(cfg, 2, MOE__IR, 64); moe__amx_tc(cfg, 3, MOE__IR, 64);
    moe__amx_tc(cfg, 4, MOE__IR, ac);
    moe__amx_tc(cfg, 5, ac / 4, 64); moe__amx_tc(cfg, 6, ac / 4, 64);
    MOE__ACFG(cfg);
    xq = q8 ? a8 + ((pl & 1) ? (size_t)K * G : 0) : a8;
    for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] = 0.0f;
    if (t == MOE__Q8B) {
        for (b = 0; b < nb; b++)
            MOE__ABLOCK(MOE__IC16(MOE__ILD(c8 + b * G * 4)), MOE__IC16(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL)), MOE__ITAIL)
        MOE__AREL();
        return;
    }
    switch (t) {
    case MOE_TYPE_Q8_0:
        for (b = 0; b < nb; b++) MOE__ABLOCK(MOE__IZERO(), MOE__IZERO(), MOE__ITAIL)
        for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] *= 1.0f / 256.0f;
        break;
    case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K:
        for (b = 0; b < nb; b++) MOE__ABLOCK(MOE__IZERO(), MOE__IZERO(), MOE__ITAILO)
        break;
    case MOE_TYPE_Q2_K:
        for (b = 0; b < nb; b++) MOE__ABLOCK(MOE__IZERO(), MOE__IZERO(), MOE__ITAIL2)
        break;
    case MOE_TYPE_MXFP4:
        for (b = 0; b < nb; b++)
            MOE__ABLOCK(MOE__IC12(MOE__ILD(c8 + b * G * 4)), MOE__IC12(MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL)), MOE__ITAIL)
        break;
    default:                                            /* Q4_0 */
        for (b = 0; b < nb; b++) MOE__ABLOCK(MOE__ILD(c8 + b * G * 4), MOE__ILD(c8 + b * G * 4 + 4 * MOE__IVL), MOE__ITAIL)
        break;
    }
    MOE__AREL();
}
#endif
#elif defined(MOE__IB) && defined(MOE_SIMD_NEON)
/* NEON (the MOE__IB8 layout): a row's sums for the 8 tokens in two int32x4 (tokens 0-3, 4-7),
   i<row>a, i<row>b; a step loads the two token vectors (4 bytes a token) and the IR rows' 4
   bytes (one or two vectors), and adds each row's 4 products per token:
     dotprod: sdot by lane (vdotq_laneq_s32), signed x signed bytes;
     else:    the row's 4 bytes duplicated (vdup_lane_s32), vmull_s8 on each half of a token
              vector (2 tokens x 4 int16 products), pairwise adds to 2-product int16 sums
              (|sum| <= 2 * 128 * 127, no overflow) and vpadalq_s16 into the int32 sums.
   Q4_0 starts from c8, MXFP4 from -12 sum(q1) = c8 + c8/2, Q4_K/Q5_K/Q2_K from 0 (their codes,
   0..45, are valid signed bytes; the offsets are added in the float step, as on x86), Q8_0 from 0: its 8
   steps over the q1 plane, the sums shifted left by 8, then its 8 steps over the q2 plane:
   256 s1 + s2, the other paths' integer (|.| < 2^28). Q6_K and Q3_K (int16 codes) stay EXACT.
   With i8mm (MOE__X_I8MM: AArch64 built with +i8mm, e.g. -march=armv8.6-a; static builds only)
   the same sums come from smmla, a 2 x 8 by 8 x 2 byte product into 2 x 2 int32: two steps
   (8 values) at a time, the token pairs (0,1) (2,3) (4,5) (6,7) and the row pairs zipped from
   the two steps' vectors by 32-bit lanes (vzip1q/vzip2q: a token's or row's 4 + 4 bytes), 16
   smmla into 16 accumulators m<rows><tokens> = [r t, r t+1, r+1 t, r+1 t+1] from 0; at the
   block's end each row's two token quads are taken apart by 64-bit lanes (vzip1q_s64 /
   vzip2q_s64) and the start added: the same int32 as sdot's, so the float step is unchanged. */
#define MOE__NS32(w) vreinterpretq_s32_s8(w)
#if MOE__IR == 8
#define MOE__NROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define MOE__NW(r) ((r) < 4 ? w0 : w1)            /* the vector holding row r's 4 bytes */
#define MOE__NLDW() int8x16_t w0 = vld1q_s8(wq), w1 = vld1q_s8(wq + 16);
#else
#define MOE__NROWS(M) M(0) M(1) M(2) M(3)
#define MOE__NW(r) w0
#define MOE__NLDW() int8x16_t w0 = vld1q_s8(wq);
#endif
#if MOE__X_DOTPROD
#define MOE__NROW(r) i##r##a = vdotq_laneq_s32(i##r##a, xa, MOE__NW(r), (r) & 3); i##r##b = vdotq_laneq_s32(i##r##b, xb, MOE__NW(r), (r) & 3);
#else
#if defined(__aarch64__) || defined(_M_ARM64)
#define MOE__NPADD(p, q) vpaddq_s16(p, q)
#else
#define MOE__NPADD(p, q) vcombine_s16(vpadd_s16(vget_low_s16(p), vget_high_s16(p)), vpadd_s16(vget_low_s16(q), vget_high_s16(q)))
#endif
#define MOE__NHALF(r) ((r) & 2 ? vget_high_s32(MOE__NS32(MOE__NW(r))) : vget_low_s32(MOE__NS32(MOE__NW(r))))
#define MOE__NROW(r) { int8x8_t wd = vreinterpret_s8_s32(vdup_lane_s32(MOE__NHALF(r), (r) & 1)); \
        i##r##a = vpadalq_s16(i##r##a, MOE__NPADD(vmull_s8(vget_low_s8(xa), wd), vmull_s8(vget_high_s8(xa), wd))); \
        i##r##b = vpadalq_s16(i##r##b, MOE__NPADD(vmull_s8(vget_low_s8(xb), wd), vmull_s8(vget_high_s8(xb), wd))); }
#endif
#define MOE__NSTEP { int8x16_t xa = vld1q_s8(xq), xb = vld1q_s8(xq + 16); MOE__NLDW() MOE__NROWS(MOE__NROW) wq += 4 * MOE__IR; xq += 4 * MOE__IG; }
#define MOE__NS8 { int s_; for (s_ = 0; s_ < 8; s_++) MOE__NSTEP }   /* a loop: written out, GCC 12 spills */
#define MOE__NDECL(r) int32x4_t i##r##a = za, i##r##b = zb;
#define MOE__NSHL(r) i##r##a = vshlq_n_s32(i##r##a, 8); i##r##b = vshlq_n_s32(i##r##b, 8);
#define MOE__NEPI(r) { float *cr = c + (r) * MOE__IG; \
        vst1q_f32(cr, MOE__VFMA(vcvtq_f32_s32(i##r##a), vmulq_n_f32(da, dw[r]), vld1q_f32(cr))); \
        vst1q_f32(cr + 4, MOE__VFMA(vcvtq_f32_s32(i##r##b), vmulq_n_f32(db, dw[r]), vld1q_f32(cr + 4))); }
/* with the row's offset (Q4_K/Q5_K): + off * (dx * sum(q1)), ma / mb = dx * (c8 / -8) per token;
   Q2_K's two: + off * (dx * s1) + off2 * (dx * s2) (ma/mb, ga/gb) */
#define MOE__NEPO2(r) { float *cr = c + (r) * MOE__IG; const float32x4_t o = vdupq_n_f32(dw[MOE__IR + (r)]), o2 = vdupq_n_f32(dw[10 * MOE__IR + (r)]); \
        vst1q_f32(cr, MOE__VFMA(ga, o2, MOE__VFMA(ma, o, MOE__VFMA(vcvtq_f32_s32(i##r##a), vmulq_n_f32(da, dw[r]), vld1q_f32(cr))))); \
        vst1q_f32(cr + 4, MOE__VFMA(gb, o2, MOE__VFMA(mb, o, MOE__VFMA(vcvtq_f32_s32(i##r##b), vmulq_n_f32(db, dw[r]), vld1q_f32(cr + 4))))); }
#define MOE__NEPO(r) { float *cr = c + (r) * MOE__IG; const float32x4_t o = vdupq_n_f32(dw[MOE__IR + (r)]); \
        vst1q_f32(cr, MOE__VFMA(ma, o, MOE__VFMA(vcvtq_f32_s32(i##r##a), vmulq_n_f32(da, dw[r]), vld1q_f32(cr)))); \
        vst1q_f32(cr + 4, MOE__VFMA(mb, o, MOE__VFMA(vcvtq_f32_s32(i##r##b), vmulq_n_f32(db, dw[r]), vld1q_f32(cr + 4)))); }
#if MOE__X_I8MM && MOE__IR == 8
#define MOE__MZ(i) vreinterpretq_s8_s32(i)
#define MOE__MZ1(a, b) MOE__MZ(vzip1q_s32(MOE__NS32(a), MOE__NS32(b)))
#define MOE__MZ2(a, b) MOE__MZ(vzip2q_s32(MOE__NS32(a), MOE__NS32(b)))
#define MOE__MROW(p) m##p##0 = vmmlaq_s32(m##p##0, r##p, t0); m##p##1 = vmmlaq_s32(m##p##1, r##p, t1); \
        m##p##2 = vmmlaq_s32(m##p##2, r##p, t2); m##p##3 = vmmlaq_s32(m##p##3, r##p, t3);
#define MOE__MSTEP { const int8x16_t xa = vld1q_s8(xq), xb = vld1q_s8(xq + 16), xc = vld1q_s8(xq + 4 * MOE__IG), xd = vld1q_s8(xq + 4 * MOE__IG + 16); \
        const int8x16_t wa = vld1q_s8(wq), wb = vld1q_s8(wq + 16), wc = vld1q_s8(wq + 4 * MOE__IR), wd = vld1q_s8(wq + 4 * MOE__IR + 16); \
        const int8x16_t t0 = MOE__MZ1(xa, xc), t1 = MOE__MZ2(xa, xc), t2 = MOE__MZ1(xb, xd), t3 = MOE__MZ2(xb, xd); \
        const int8x16_t r0 = MOE__MZ1(wa, wc), r1 = MOE__MZ2(wa, wc), r2 = MOE__MZ1(wb, wd), r3 = MOE__MZ2(wb, wd); \
        MOE__MROW(0) MOE__MROW(1) MOE__MROW(2) MOE__MROW(3) wq += 8 * MOE__IR; xq += 8 * MOE__IG; }
#define MOE__MS8 { int s_; for (s_ = 0; s_ < 4; s_++) MOE__MSTEP }
#define MOE__MDECL(p) int32x4_t m##p##0 = z, m##p##1 = z, m##p##2 = z, m##p##3 = z;
#define MOE__MSHL(p) m##p##0 = vshlq_n_s32(m##p##0, 8); m##p##1 = vshlq_n_s32(m##p##1, 8); \
        m##p##2 = vshlq_n_s32(m##p##2, 8); m##p##3 = vshlq_n_s32(m##p##3, 8);
/* rows 2p, 2p+1 from their accumulators, plus the start */
#define MOE__M64(a, b, f) vreinterpretq_s32_s64(f(vreinterpretq_s64_s32(a), vreinterpretq_s64_s32(b)))
#define MOE__MOUT(p, r0, r1) int32x4_t i##r0##a = vaddq_s32(za, MOE__M64(m##p##0, m##p##1, vzip1q_s64)), \
        i##r1##a = vaddq_s32(za, MOE__M64(m##p##0, m##p##1, vzip2q_s64)), \
        i##r0##b = vaddq_s32(zb, MOE__M64(m##p##2, m##p##3, vzip1q_s64)), \
        i##r1##b = vaddq_s32(zb, MOE__M64(m##p##2, m##p##3, vzip2q_s64));
#endif
static void moe__ib_tile(moe_type t, int K, const unsigned char *wt, const unsigned char *g, int pl, float *c)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK, bsz = moe__ib_tilebytes(t, MOE__QK);
    const float *dxp = (const float *)(const void *)g;
    const int32_t *c8 = (const int32_t *)(const void *)(g + nb * G * 4);
    const int8_t *a8 = (const int8_t *)(g + nb * G * 8), *a2 = a8 + (size_t)K * G, *xq;
    const int8_t *wq;
    const int q8 = t == MOE_TYPE_Q8_0, q2k = t == MOE_TYPE_Q2_K, off = t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K || q2k;
    const int fp4 = t == MOE_TYPE_MXFP4;
    size_t b;
    int r;
    (void)pl;
    for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] = 0.0f;
    for (b = 0; b < nb; b++) {
        const float *dw = (const float *)(const void *)(wt + b * bsz);
        const int32x4_t ca = vld1q_s32(c8 + b * G), cb = vld1q_s32(c8 + b * G + 4), z = vdupq_n_s32(0);
        const int32x4_t za = q8 || off ? z : fp4 ? vsraq_n_s32(ca, ca, 1) : ca, zb = q8 || off ? z : fp4 ? vsraq_n_s32(cb, cb, 1) : cb;
        float32x4_t da, db;
#if MOE__X_I8MM && MOE__IR == 8
        MOE__MDECL(0) MOE__MDECL(1) MOE__MDECL(2) MOE__MDECL(3)
        wq = (const int8_t *)(wt + b * bsz + 8 * MOE__IR); xq = a8 + b * 32 * G;
        MOE__MS8
        if (q8) {
            MOE__MSHL(0) MOE__MSHL(1) MOE__MSHL(2) MOE__MSHL(3)
            wq = (const int8_t *)(wt + b * bsz + 8 * MOE__IR); xq = a2 + b * 32 * G;
            MOE__MS8
        }
        {
        MOE__MOUT(0, 0, 1) MOE__MOUT(1, 2, 3) MOE__MOUT(2, 4, 5) MOE__MOUT(3, 6, 7)
#else
        MOE__NROWS(MOE__NDECL)
        wq = (const int8_t *)(wt + b * bsz + 8 * MOE__IR); xq = a8 + b * 32 * G;
        MOE__NS8
        if (q8) {
            MOE__NROWS(MOE__NSHL)
            wq = (const int8_t *)(wt + b * bsz + 8 * MOE__IR); xq = a2 + b * 32 * G;
            MOE__NS8
        }
        {
#endif
        da = vld1q_f32(dxp + b * G); db = vld1q_f32(dxp + b * G + 4);
        if (q2k) {                      /* x86's MOE__ITAIL2: s1 over the first 16 values, s2 = sum - s1 */
            const int8_t *x0 = a8 + b * 32 * G;
            int16x8_t ha = vpaddlq_s8(vld1q_s8(x0)), hb = vpaddlq_s8(vld1q_s8(x0 + 16));
            int32x4_t sa, sb;
            float32x4_t ma, mb, ga, gb;
            int s_;
            for (s_ = 1; s_ < 4; s_++) {
                ha = vaddq_s16(ha, vpaddlq_s8(vld1q_s8(x0 + (size_t)s_ * 4 * G)));
                hb = vaddq_s16(hb, vpaddlq_s8(vld1q_s8(x0 + (size_t)s_ * 4 * G + 16)));
            }
            sa = vpaddlq_s16(ha); sb = vpaddlq_s16(hb);
            ma = vmulq_f32(vcvtq_f32_s32(sa), da); mb = vmulq_f32(vcvtq_f32_s32(sb), db);
            ga = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vnegq_s32(vshrq_n_s32(ca, 3)), sa)), da);
            gb = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vnegq_s32(vshrq_n_s32(cb, 3)), sb)), db);
            MOE__NROWS(MOE__NEPO2)
        } else if (off) {
            const float32x4_t ma = vmulq_f32(vcvtq_f32_s32(ca), vmulq_n_f32(da, -0.125f));
            const float32x4_t mb = vmulq_f32(vcvtq_f32_s32(cb), vmulq_n_f32(db, -0.125f));
            MOE__NROWS(MOE__NEPO)
        } else {
            MOE__NROWS(MOE__NEPI)
        }
        }
    }
    if (q8) for (r = 0; r < MOE__IR * MOE__IG; r++) c[r] *= 1.0f / 256.0f;
}
#else
/* the reference: the same layouts, the same integer sums, in plain C (MOE__IB8: NEON's) */
static void moe__ib_tile(moe_type t, int K, const unsigned char *wt, const unsigned char *g, int pl, float *c)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK;
    const int w16 = MOE__IB16(t), off = t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K, q2k = t == MOE_TYPE_Q2_K;
    const size_t bsz = moe__ib_tilebytes(t, MOE__QK);                  /* bytes per block */
    const float *dxp = (const float *)(const void *)g;
    const int32_t *c8 = (const int32_t *)(const void *)(g + nb * G * 4);
    const signed char *a8 = (const signed char *)(g + nb * G * 8);
    const size_t at16 = nb * G * 8 + ((pl & 1) ? (size_t)K * G : 0);
    const int16_t *a16 = (const int16_t *)(const void *)(g + at16 + (t == MOE_TYPE_Q8_0 ? 0 : (pl & 2) ? 2 * (size_t)K * G : 0));
    size_t b, r, n;
    int s, j;
    for (r = 0; r < MOE__IR; r++)
        for (n = 0; n < G; n++) {
            float acc = 0.0f;
            for (b = 0; b < nb; b++) {
                const unsigned char *blk = wt + b * bsz, *wq = blk + 8 * MOE__IR;
                float dw, ow;
                int32_t c0 = c8[b * G + n];
                int32_t sum = t == MOE_TYPE_Q4_0 ? c0 : t == MOE_TYPE_MXFP4 ? c0 + c0 / 2 : 0;
                memcpy(&dw, blk + 4 * r, 4);
                memcpy(&ow, blk + 4 * (MOE__IR + r), 4);
#ifdef MOE__IB8
                if (t == MOE_TYPE_Q8_0) {       /* 256 (w . q1) + w . q2, q2 at a8 + K G */
                    int32_t s1 = 0, s2 = 0;
                    for (s = 0; s < 8; s++)
                        for (j = 0; j < 4; j++) {
                            int32_t w = (signed char)wq[((size_t)s * MOE__IR + r) * 4 + (size_t)j];
                            size_t at = ((b * 8 + (size_t)s) * G + n) * 4 + (size_t)j;
                            s1 += w * a8[at]; s2 += w * a8[(size_t)K * G + at];
                        }
                    sum = 256 * s1 + s2;
                    (void)a16;
                } else
#endif
                if (w16)
                    for (s = 0; s < 16; s++)
                        for (j = 0; j < 2; j++) {
                            int16_t w;
                            memcpy(&w, wq + ((size_t)s * MOE__IR + r) * 4 + (size_t)j * 2, 2);
                            sum += (int32_t)w * a16[((b * 16 + (size_t)s) * G + n) * 2 + (size_t)j];
                        }
                else
                    for (s = 0; s < 8; s++)
                        for (j = 0; j < 4; j++)
                            sum += (int32_t)wq[((size_t)s * MOE__IR + r) * 4 + (size_t)j] * a8[((b * 8 + (size_t)s) * G + n) * 4 + (size_t)j];
                acc += (float)sum * (dxp[b * G + n] * dw);
                if (off) acc += (float)c0 * (dxp[b * G + n] * -0.125f) * ow;
                if (q2k) {                      /* the two halves' offsets: sums of q1 over 16 values each */
                    int32_t s1 = 0;
                    float ow2;
                    memcpy(&ow2, blk + 4 * (10 * MOE__IR + r), 4);
                    for (s = 0; s < 4; s++)
                        for (j = 0; j < 4; j++) s1 += a8[((b * 8 + (size_t)s) * G + n) * 4 + (size_t)j];
                    acc += (float)s1 * dxp[b * G + n] * ow + (float)(-c0 / 8 - s1) * dxp[b * G + n] * ow2;
                }
            }
            c[r * G + n] = t == MOE_TYPE_Q8_0 ? acc * (1.0f / 256.0f) : acc;
        }
}
#endif
/* each lane's block scale from its max |x| bits am[n] (a value >= 0x7f800000 is non-finite: dx NaN;
   below 2^-120: a zero block), as moe__qx_block: id = 127/amax, ok = all ones for a live lane
   (its codes are kept), dx = amax/127 */
#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2) || \
                         (defined(MOE_SIMD_NEON) && (defined(__aarch64__) || defined(_M_ARM64))))
static void moe__ib_lanes(const uint32_t *am, float *id, int32_t *ok, float *dx)
{
    int n;
    for (n = 0; n < MOE__IG; n++) {
        float a = moe__bits_f(am[n]);
        int bad = am[n] >= 0x7f800000u, live = !bad && a >= 7.5231638e-37f;
        id[n] = live ? 127.0f / a : 0.0f;
        ok[n] = live ? -1 : 0;
        dx[n] = bad ? moe__bits_f(0x7fc00000u) : live ? a / 127.0f : 0.0f;
    }
}
#endif
/* Quantise blocks b0..b1-1 of all G tokens of a panel: element k of token n at x[(k - 32 b0) * G + n]
   (the batched path's [K][G] layout), into group g. The x86 paths do it with the tokens in the
   lanes, in the same arithmetic as moe__qx_block (a lane's amax from the bits of |x|, so a
   non-finite value shows as >= 0x7f800000; 127/amax, x * that, nearest-even, the exact residual,
   times 256, nearest-even, clamped), so the integers and dx are moe__qx_block's; so does
   AArch64 NEON (vcvtnq_s32_f32: nearest-even). ARMv7 NEON has no nearest-even conversion and
   flushes subnormal inputs to zero: it quantises one token at a time in C (moe__ib_qtok). */
#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2))
#if defined(MOE_SIMD_AVX512)
#define MOE__QVF __m512
#define MOE__QVI __m512i
#define MOE__QLF(p) _mm512_loadu_ps(p)
#define MOE__QLI(p) _mm512_loadu_si512((const void *)(p))
#define MOE__QSI(p, v) _mm512_storeu_si512((void *)(p), v)
#define MOE__QSF(p, v) _mm512_storeu_ps(p, v)
#define MOE__QCI(v) _mm512_castps_si512(v)
#define MOE__QSET(i) _mm512_set1_epi32(i)
#define MOE__QAND(a, b) _mm512_and_si512(a, b)
#define MOE__QOR(a, b) _mm512_or_si512(a, b)
#define MOE__QADD(a, b) _mm512_add_epi32(a, b)
#define MOE__QSLL(a, n) _mm512_slli_epi32(a, n)
#define MOE__QMAX(a, b) _mm512_max_epi32(a, b)
#define MOE__QMIN(a, b) _mm512_min_epi32(a, b)
#define MOE__QMUL(a, b) _mm512_mul_ps(a, b)
#define MOE__QSUB(a, b) _mm512_sub_ps(a, b)
#define MOE__QCVT(a) _mm512_cvtps_epi32(a)
#define MOE__QFLT(a) _mm512_cvtepi32_ps(a)
#define MOE__QSETF(f) _mm512_set1_ps(f)
#define MOE__QISUB(a, b) _mm512_sub_epi32(a, b)
#else
#define MOE__QVF __m256
#define MOE__QVI __m256i
#define MOE__QLF(p) _mm256_loadu_ps(p)
#define MOE__QLI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define MOE__QSI(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define MOE__QSF(p, v) _mm256_storeu_ps(p, v)
#define MOE__QCI(v) _mm256_castps_si256(v)
#define MOE__QSET(i) _mm256_set1_epi32(i)
#define MOE__QAND(a, b) _mm256_and_si256(a, b)
#define MOE__QOR(a, b) _mm256_or_si256(a, b)
#define MOE__QADD(a, b) _mm256_add_epi32(a, b)
#define MOE__QSLL(a, n) _mm256_slli_epi32(a, n)
#define MOE__QMAX(a, b) _mm256_max_epi32(a, b)
#define MOE__QMIN(a, b) _mm256_min_epi32(a, b)
#define MOE__QMUL(a, b) _mm256_mul_ps(a, b)
#define MOE__QSUB(a, b) _mm256_sub_ps(a, b)
#define MOE__QCVT(a) _mm256_cvtps_epi32(a)
#define MOE__QFLT(a) _mm256_cvtepi32_ps(a)
#define MOE__QSETF(f) _mm256_set1_ps(f)
#define MOE__QISUB(a, b) _mm256_sub_epi32(a, b)
#endif
static void moe__ib_qpanel(int K, int b0, int b1, const float *x, unsigned char *g, int pl)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK;
    const int n8 = pl & 1, n16 = pl & 2, nw = pl & 4;
    float *dx = (float *)(void *)g;
    unsigned char *c8 = g + nb * G * 4, *a8 = g + nb * G * 8, *a16 = a8 + (n8 ? (size_t)K * G : 0), *w16 = a16 + (n16 ? 2 * (size_t)K * G : 0);
    const MOE__QVI mabs = MOE__QSET(0x7fffffff), m8 = MOE__QSET(255), m16 = MOE__QSET(0xffff);
    const MOE__QVI lo = MOE__QSET(-127), hi = MOE__QSET(127);
    const MOE__QVF k256 = MOE__QSETF(256.0f);
    int b, k, v;
    for (b = b0; b < b1; b++, x += MOE__QK * G) {
        uint32_t am[MOE__IG];
        float id[MOE__IG];
        int32_t ok[MOE__IG];
        for (v = 0; v < MOE__IG; v += MOE__IVL) {     /* the lanes' max |x| bits */
            MOE__QVI m = MOE__QSET(0);
            for (k = 0; k < MOE__QK; k++) m = MOE__QMAX(m, MOE__QAND(MOE__QCI(MOE__QLF(x + (size_t)k * G + (size_t)v)), mabs));
            MOE__QSI(am + v, m);
        }
        moe__ib_lanes(am, id, ok, dx + (size_t)b * G);
        for (v = 0; v < MOE__IG; v += MOE__IVL) {
            MOE__QVF vid = MOE__QLF(id + v);
            MOE__QVI okv = MOE__QLI(ok + v), s1 = MOE__QSET(0);
            for (k = 0; k < MOE__QK; k += 4) {
                MOE__QVI q1[4], w[4];
                int j;
                for (j = 0; j < 4; j++) {
                    MOE__QVF f = MOE__QMUL(MOE__QLF(x + (size_t)(k + j) * G + (size_t)v), vid);
                    MOE__QVI i1 = MOE__QCVT(f);
                    MOE__QVI i2 = MOE__QCVT(MOE__QMUL(MOE__QSUB(f, MOE__QFLT(i1)), k256));
                    q1[j] = MOE__QAND(i1, okv);
                    w[j] = MOE__QADD(MOE__QSLL(q1[j], 8), MOE__QAND(MOE__QMIN(MOE__QMAX(i2, lo), hi), okv));
                    s1 = MOE__QADD(s1, q1[j]);
                }
                if (n8)
                    MOE__QSI(a8 + (((size_t)b * 8 + (size_t)(k / 4)) * G + (size_t)v) * 4,
                             MOE__QOR(MOE__QOR(MOE__QAND(q1[0], m8), MOE__QSLL(MOE__QAND(q1[1], m8), 8)),
                                      MOE__QOR(MOE__QSLL(MOE__QAND(q1[2], m8), 16), MOE__QSLL(q1[3], 24))));
                if (n16) {
                    MOE__QSI(a16 + (((size_t)b * 16 + (size_t)(k / 2)) * G + (size_t)v) * 4, MOE__QOR(MOE__QAND(w[0], m16), MOE__QSLL(w[1], 16)));
                    MOE__QSI(a16 + (((size_t)b * 16 + (size_t)(k / 2) + 1) * G + (size_t)v) * 4, MOE__QOR(MOE__QAND(w[2], m16), MOE__QSLL(w[3], 16)));
                }
                if (nw) {
                    MOE__QSI(w16 + (((size_t)b * 16 + (size_t)(k / 2)) * G + (size_t)v) * 4, MOE__QOR(MOE__QAND(q1[0], m16), MOE__QSLL(q1[1], 16)));
                    MOE__QSI(w16 + (((size_t)b * 16 + (size_t)(k / 2) + 1) * G + (size_t)v) * 4, MOE__QOR(MOE__QAND(q1[2], m16), MOE__QSLL(q1[3], 16)));
                }
            }
            MOE__QSI(c8 + ((size_t)b * G + (size_t)v) * 4, MOE__QISUB(MOE__QSET(0), MOE__QSLL(s1, 3)));
        }
    }
}
#elif defined(MOE__IB) && defined(MOE_SIMD_NEON) && (defined(__aarch64__) || defined(_M_ARM64))
/* four tokens' int32 values j = 0..3 -> each token's 4 bytes, in order (shift left and insert) */
#define MOE__NB4(q) vsliq_n_s32(vsliq_n_s32(vsliq_n_s32(q[0], q[1], 8), q[2], 16), q[3], 24)
static void moe__ib_qpanel(int K, int b0, int b1, const float *x, unsigned char *g, int pl)
{
    const int n8 = pl & 1, n16 = pl & 2;
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK;
    float *dx = (float *)(void *)g;
    int32_t *c8 = (int32_t *)(void *)(g + nb * G * 4);
    unsigned char *a8 = g + nb * G * 8, *a2 = a8 + (size_t)K * G;
    const uint32x4_t mabs = vdupq_n_u32(0x7fffffffu);
    const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127);
    int b, k, v;
    for (b = b0; b < b1; b++, x += MOE__QK * G) {
        uint32_t am[MOE__IG];
        float id[MOE__IG];
        int32_t ok[MOE__IG];
        for (v = 0; v < MOE__IG; v += 4) {            /* the lanes' max |x| bits */
            uint32x4_t m = vdupq_n_u32(0);
            for (k = 0; k < MOE__QK; k++) m = vmaxq_u32(m, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + (size_t)k * G + (size_t)v)), mabs));
            vst1q_u32(am + v, m);
        }
        moe__ib_lanes(am, id, ok, dx + (size_t)b * G);
        for (v = 0; v < MOE__IG; v += 4) {
            float32x4_t vid = vld1q_f32(id + v);
            int32x4_t okv = vld1q_s32(ok + v), s1 = vdupq_n_s32(0);
            for (k = 0; k < MOE__QK; k += 4) {
                int32x4_t q1[4], q2[4];
                size_t at = (((size_t)b * 8 + (size_t)(k / 4)) * G + (size_t)v) * 4;
                int j;
                for (j = 0; j < 4; j++) {
                    float32x4_t f = vmulq_f32(vld1q_f32(x + (size_t)(k + j) * G + (size_t)v), vid);
                    int32x4_t i1 = vcvtnq_s32_f32(f);
                    int32x4_t i2 = vcvtnq_s32_f32(vmulq_n_f32(vsubq_f32(f, vcvtq_f32_s32(i1)), 256.0f));
                    q1[j] = vandq_s32(i1, okv);
                    q2[j] = vandq_s32(vminq_s32(vmaxq_s32(i2, lo), hi), okv);
                    s1 = vaddq_s32(s1, q1[j]);
                }
                if (n8 || n16) vst1q_s32((int32_t *)(void *)(a8 + at), MOE__NB4(q1));
                if (n16) vst1q_s32((int32_t *)(void *)(a2 + at), MOE__NB4(q2));
            }
            vst1q_s32(c8 + (size_t)b * G + (size_t)v, vnegq_s32(vshlq_n_s32(s1, 3)));
        }
    }
}
#else
/* Quantise blocks b0..b1-1 of one token into lane `lane` of group g (G tokens, K values): the
   token's element b0 * 32 + i at x[i * xs] (xs = 0 with a zero x: a padding lane). */
static void moe__ib_qtok(int K, int b0, int b1, const float *x, size_t xs, int lane, unsigned char *g, int pl)
{
    const size_t G = MOE__IG, nb = (size_t)K / MOE__QK;
    const int n8 = pl & 1, n16 = pl & 2, nw = pl & 4;
    float *dx = (float *)(void *)g;
    int32_t *c8 = (int32_t *)(void *)(g + nb * G * 4);
    signed char *a8 = (signed char *)(g + nb * G * 8);
    int16_t *a16 = (int16_t *)(void *)(g + nb * G * 8 + (n8 ? (size_t)K * G : 0)), *w16 = a16 + (n16 ? (size_t)K * G : 0);
    float v[MOE__QK];
    signed char q1[MOE__QK], q2[MOE__QK];
    int32_t t4[8], ta[8], tb[8];
    int b, i, s1;
    for (b = b0; b < b1; b++) {
        for (i = 0; i < MOE__QK; i++) v[i] = x[((size_t)(b - b0) * MOE__QK + (size_t)i) * xs];
        dx[(size_t)b * G + (size_t)lane] = moe__qx_block(v, q1, q2, t4, ta, tb);
        for (s1 = 0, i = 0; i < MOE__QK; i++) s1 += q1[i];
        c8[(size_t)b * G + (size_t)lane] = -8 * s1;
        if (n8)
            for (i = 0; i < MOE__QK; i++) a8[(((size_t)b * 8 + (size_t)(i / 4)) * G + (size_t)lane) * 4 + (size_t)(i % 4)] = q1[i];
#ifdef MOE__IB8                          /* the q1 plane for Q8_0 too, the q2 plane K G bytes on */
        if (n16)
            for (i = 0; i < MOE__QK; i++) {
                a8[(((size_t)b * 8 + (size_t)(i / 4)) * G + (size_t)lane) * 4 + (size_t)(i % 4)] = q1[i];
                a8[(size_t)K * G + (((size_t)b * 8 + (size_t)(i / 4)) * G + (size_t)lane) * 4 + (size_t)(i % 4)] = q2[i];
            }
        (void)a16; (void)w16; (void)nw;         /* no w16 plane: MOE__IBPL's 4 is never set here */
#else
        if (n16)
            for (i = 0; i < MOE__QK; i++)
                a16[(((size_t)b * 16 + (size_t)(i / 2)) * G + (size_t)lane) * 2 + (size_t)(i % 2)] = (int16_t)(256 * q1[i] + q2[i]);
        if (nw)
            for (i = 0; i < MOE__QK; i++) w16[(((size_t)b * 16 + (size_t)(i / 2)) * G + (size_t)lane) * 2 + (size_t)(i % 2)] = q1[i];
#endif
    }
}

static void moe__ib_qpanel(int K, int b0, int b1, const float *x, unsigned char *g, int pl)
{
    int n;
    for (n = 0; n < MOE__IG; n++) moe__ib_qtok(K, b0, b1, x + n, MOE__IG, n, g, pl);
}
#endif

/* ---- batches against BF16 rows: vdpbf16ps (cfg.batch_bf16 = MOE_BF16_DOT) --------------------
   The expert's tokens go through the integer-batch machinery (units of NI rows, panels per group
   of G tokens made once per expert, the hidden rows once per unit), with a bf16 plane in the
   panel: token n's values 2j and 2j+1, rounded to bf16 (vcvtneps2bf16: nearest-even, NaN stays
   NaN), as one 32-bit word at ab[j][n]. A tile of IR rows broadcasts each row's pair (the row's
   own bytes, read in place: no repack, no decoding) against the G tokens' pairs: vdpbf16ps adds
   both products (exact in f32: 8-bit significands) to the f32 sums. */
#if defined(MOE_SIMD_AVX512) && MOE__X_BF16 && defined(MOE__IB)
#define MOE__BFDOT 1
static void moe__bf_panel(int K, int k0, int k1, const float *x, unsigned char *g, int pl)
{
    uint32_t *ab = (uint32_t *)(void *)(g + moe__ib_tokbytes((size_t)K, pl & 7) * MOE__IG);
    int k, v;
    for (k = k0; k < k1; k += 2, x += 2 * MOE__IG)
        for (v = 0; v < MOE__IG; v += 16) {
            __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + v)));
            __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + MOE__IG + v)));
            _mm512_storeu_si512((void *)(ab + (size_t)(k / 2) * MOE__IG + (size_t)v), _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
}
#define MOE__BFDECL(r) __m512 f##r##a = _mm512_setzero_ps(), f##r##b = _mm512_setzero_ps();
#define MOE__BFSTEP(r) { uint32_t wv; __m512bh bw; memcpy(&wv, w[r] + 4 * (size_t)j, 4); bw = (__m512bh)_mm512_set1_epi32((int)wv); \
        f##r##a = _mm512_dpbf16_ps(f##r##a, bw, xa); f##r##b = _mm512_dpbf16_ps(f##r##b, bw, xb); }
#define MOE__BFST(r) _mm512_storeu_ps(c + (r) * MOE__IG, f##r##a); _mm512_storeu_ps(c + (r) * MOE__IG + 16, f##r##b);
/* c[r*G + n] = sum_k w[r][k] * x[k][n] for the IR rows w (bf16, K values, K even) and the bf16
   plane of panel g */
static void moe__bf_tile(int K, const unsigned char *const *w, const unsigned char *g, int pl, float *c)
{
    const uint32_t *ab = (const uint32_t *)(const void *)(g + moe__ib_tokbytes((size_t)K, pl & 7) * MOE__IG);
    int j;
    MOE__BFDECL(0) MOE__BFDECL(1) MOE__BFDECL(2) MOE__BFDECL(3) MOE__BFDECL(4) MOE__BFDECL(5) MOE__BFDECL(6) MOE__BFDECL(7)
    for (j = 0; j < K / 2; j++, ab += MOE__IG) {
        __m512bh xa = (__m512bh)_mm512_loadu_si512((const void *)ab), xb = (__m512bh)_mm512_loadu_si512((const void *)(ab + 16));
        MOE__BFSTEP(0) MOE__BFSTEP(1) MOE__BFSTEP(2) MOE__BFSTEP(3) MOE__BFSTEP(4) MOE__BFSTEP(5) MOE__BFSTEP(6) MOE__BFSTEP(7)
    }
    MOE__BFST(0) MOE__BFST(1) MOE__BFST(2) MOE__BFST(3) MOE__BFST(4) MOE__BFST(5) MOE__BFST(6) MOE__BFST(7)
}
#if MOE__IR != 8
#error "moe.h: moe__bf_tile is written for tiles of 8 rows"
#endif
#endif
#if defined(MOE__AMX) && defined(MOE__BFDOT)
/* moe__bf_tile's c on tdpbf16ps: IR bf16 rows in place, stride bytes apart (A: 32 values a step) */
static void moe__amx_bftile(int K, const unsigned char *w, size_t stride, const unsigned char *g, int pl, float *c)
{
    const unsigned char *ab = g + moe__ib_tokbytes((size_t)K, pl & 7) * MOE__IG;
    unsigned char cfg[64];
    int k;
    MOE__ASTATE
    memset(cfg, 0, sizeof cfg);
    moe__amx_tc(cfg, 0, MOE__IR, 64); moe__amx_tc(cfg, 1, MOE__IR, 64);
    moe__amx_tc(cfg, 4, MOE__IR, 64);
    moe__amx_tc(cfg, 5, 16, 64); moe__amx_tc(cfg, 6, 16, 64);
    MOE__ACFG(cfg);
    MOE__AZERO(0); MOE__AZERO(1);
    for (k = 0; k < K; k += 32) {
        MOE__ALD(4, w + 2 * (size_t)k, stride);
        MOE__ALD(5, ab + (size_t)k * 2 * MOE__IG, 4 * MOE__IG); MOE__ALD(6, ab + (size_t)k * 2 * MOE__IG + 64, 4 * MOE__IG);
        MOE__ADPBF16(0, 4, 5); MOE__ADPBF16(1, 4, 6);
    }
    MOE__ASTO(0, c, 4 * MOE__IG); MOE__ASTO(1, c + 16, 4 * MOE__IG);
    MOE__AREL();
}
#endif
/* the panel of blocks b0..b1-1 (32 values each) of a group: the planes pl */
static void moe__ib_panel(int K, int b0, int b1, const float *x, unsigned char *g, int pl)
{
    if (pl & 7) moe__ib_qpanel(K, b0, b1, x, g, pl);
#ifdef MOE__BFDOT
    if (pl & 8) moe__bf_panel(K, b0 * MOE__QK, b1 * MOE__QK, x, g, pl);
#endif
}

static const unsigned char *moe__base(const moe__matrix *m, int e);
static void moe__ib_mpack(const moe__matrix *M, moe_type it, int e, int n0, int nr, unsigned char *dst, int amx);
/* the external scales of row n of matrix m of expert e (its scale row) */
static const unsigned char *moe__row_scale(const moe__matrix *m, int e, int n)
{
    const unsigned char *sb = m->expert_scale ? (const unsigned char *)m->expert_scale[e]
                                              : m->scale + (size_t)e * m->scale_expert_stride;
    return sb + (size_t)((n * m->row_mul + m->row_add) / m->scale_rows) * m->scale_row_stride;
}
/* Row slot r of the tiles at dst from a K-quant or MXFP4 row at s (es: MXFP4's external E8M0
   bytes, one a block, or NULL for ggml's 17-byte blocks), a super-block (MXFP4: a block) at a
   time, as the integers and f32 factors of its scalar decoder (moe__dec_*):
     Q4_K, Q5_K  u8 codes q (0..15 / 0..31), per block of 32 dw = d*sc, off = -(dmin*m)
     MXFP4       u8 codes fp4x2 + 12 (0..24: the kernel starts from -12 * sum(q1)), dw = 2^(e-128)
     Q6_K        int16 codes sc*(q-32) (|.| <= 128*32 = 4096), dw = d
     Q3_K        int16 codes (sc-32)*(q-4) (|.| <= 32*4 = 128), dw = d
     Q2_K        u8 codes sc*q (0..45), dw = d, off = -(dmin*m) of the block's first 16 values
                 and, after the quants (40 IR bytes into the block), off2 = that of its last 16
   (d*sc and d*sc*(q-32) have at most 11 + 7 + 6 = 24 significant bits: exact in f32, so the tile
   holds the dequantised weights exactly, up to Q4_K/Q5_K's one rounding of d*sc*q - dmin*m). */
static void moe__ib_packk(moe_type t, const unsigned char *s, const unsigned char *es, int K, int r, unsigned char *dst)
{
    const int w16 = MOE__IB16(t);
    const size_t bsz = moe__ib_tilebytes(t, MOE__QK);
    unsigned char u[MOE__QK_K];
    int16_t v[MOE__QK_K];
    float dw[8], of[8], of2[8];
    int c0, n, b, i, j, sc, m;
    for (c0 = 0; c0 < K; c0 += n) {
        n = MOE__QK_K;
        switch (t) {
        case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K: {
            const int five = t == MOE_TYPE_Q5_K;
            const float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
            for (j = 0; j < 8; j++) {
                const unsigned char *q = s + (five ? 48 : 16) + 32 * (j / 2), *qh = s + 16;
                const int sh = 4 * (j & 1);
                moe__k4_get(s + 4, j, &sc, &m);
                dw[j] = d * (float)sc; of[j] = -(dmin * (float)m);
                for (i = 0; i < 32; i++) u[32 * j + i] = (unsigned char)(((q[i] >> sh) & 15) | (five ? ((qh[i] >> j) & 1) << 4 : 0));
            }
            s += five ? MOE__Q5K_BYTES : MOE__Q4K_BYTES;
            break;
        }
        case MOE_TYPE_Q6_K: {
            const float d = moe__h2f(moe__rd16(s + 208));
            for (j = 0; j < 16; j++) {
                const int h = j / 8, k = (j % 8) / 2, o = 16 * (j & 1), scl = (signed char)s[192 + j];
                const unsigned char *ql = s + 64 * h + 32 * (k & 1) + o, *qh = s + 128 + 32 * h + o;
                for (i = 0; i < 16; i++)
                    v[16 * j + i] = (int16_t)(scl * ((((ql[i] >> (4 * (k >> 1))) & 15) | (((qh[i] >> (2 * k)) & 3) << 4)) - 32));
            }
            for (j = 0; j < 8; j++) { dw[j] = d; of[j] = 0.0f; }
            s += MOE__Q6K_BYTES;
            break;
        }
        case MOE_TYPE_Q2_K: {                           /* as moe__dec_q2_k */
            const float d = moe__h2f(moe__rd16(s + 80)), dmin = moe__h2f(moe__rd16(s + 82));
            for (j = 0; j < 16; j++) {
                const unsigned char *q = s + 16 + 32 * (j / 8) + 16 * (j & 1);
                const int sh = 2 * ((j % 8) / 2), scl = s[j] & 15;
                float o = -(dmin * (float)(s[j] >> 4));
                for (i = 0; i < 16; i++) u[16 * j + i] = (unsigned char)(scl * ((q[i] >> sh) & 3));
                if (j & 1) of2[j / 2] = o; else { of[j / 2] = o; dw[j / 2] = d; }
            }
            s += MOE__Q2K_BYTES;
            break;
        }
        case MOE_TYPE_Q3_K: {
            const float d = moe__h2f(moe__rd16(s + 108));
            for (j = 0; j < 16; j++) {
                const unsigned char *q = s + 32 + 32 * (j / 8) + 16 * (j & 1), *hm = s + 16 * (j & 1);
                const int sh = 2 * ((j % 8) / 2), hb = j / 2, scl = moe__k3_get(s + 96, j);
                for (i = 0; i < 16; i++) v[16 * j + i] = (int16_t)(scl * (((q[i] >> sh) & 3) - ((hm[i] >> hb) & 1 ? 0 : 4)));
            }
            for (j = 0; j < 8; j++) { dw[j] = d; of[j] = 0.0f; }
            s += MOE__Q3K_BYTES;
            break;
        }
        default:                                        /* MXFP4 */
            MOE_ASSERT(t == MOE_TYPE_MXFP4);
            n = MOE__QK;
            of[0] = 0.0f;
            if (es) {                                   /* gpt-oss: value 2i low nibble of byte i, 2i+1 high */
                dw[0] = moe__e8m0_half(*es++);
                for (i = 0; i < 16; i++) { u[2 * i] = (unsigned char)(moe__fp4x2[s[i] & 15] + 12); u[2 * i + 1] = (unsigned char)(moe__fp4x2[s[i] >> 4] + 12); }
                s += 16;
            } else {                                    /* ggml: value i low nibble of qs[i], 16+i high */
                dw[0] = moe__e8m0_half(s[0]);
                for (i = 0; i < 16; i++) { u[i] = (unsigned char)(moe__fp4x2[s[1 + i] & 15] + 12); u[16 + i] = (unsigned char)(moe__fp4x2[s[1 + i] >> 4] + 12); }
                s += MOE__MXFP4_BYTES;
            }
            break;
        }
        for (b = 0; b < n / MOE__QK; b++) {             /* the tile's blocks: dw[IR], off[IR], steps */
            unsigned char *blk = dst + (size_t)(c0 / MOE__QK + b) * bsz, *qd = blk + 8 * MOE__IR;
            memcpy(blk + 4 * r, &dw[b], 4);
            memcpy(blk + 4 * (MOE__IR + r), &of[b], 4);
            if (t == MOE_TYPE_Q2_K) memcpy(blk + 4 * (10 * MOE__IR + r), &of2[b], 4);
            if (w16) for (i = 0; i < 16; i++) memcpy(qd + ((size_t)i * MOE__IR + (size_t)r) * 4, v + 32 * b + 2 * i, 4);
            else for (i = 0; i < 8; i++) memcpy(qd + ((size_t)i * MOE__IR + (size_t)r) * 4, u + 32 * b + 4 * i, 4);
        }
    }
}
#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2))
/* x86: moe__ib_packk four rows at a time. moe__ib_deck decodes one row's super-block (MXFP4: one
   block) into the codes u (u8) or v (int16) in value order, with SSE shifts and masks (MXFP4's
   table by pshufb), and its factors once per sub-block, computed as moe__ib_packk does;
   moe__ib_packk4 then writes the four rows' words with a 4 x 4 transpose of 32-bit words per
   16 bytes (MOE__IT4). The bytes are exactly moe__ib_packk's (tests: kernels). Returns the
   values decoded and moves *ps (and *pes, MXFP4's external scales) past them. */
static int moe__ib_deck(moe_type t, const unsigned char **ps, const unsigned char **pes, unsigned char *u, int16_t *v, float *dw, float *of)
{
    const unsigned char *s = *ps;
    const __m128i m4 = _mm_set1_epi8(15);
    int j, h, k, m, sc, mn;
    switch (t) {
    case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K: {      /* u[32j + i]: nibble j&1 of q[32(j/2) + i], Q5_K: bit j of qh[i] as 16 */
        const int five = t == MOE_TYPE_Q5_K;
        const float d = moe__h2f(moe__rd16(s)), dmin = moe__h2f(moe__rd16(s + 2));
        const __m128i b4 = _mm_set1_epi8(16);
        for (j = 0; j < 8; j++) { moe__k4_get(s + 4, j, &sc, &mn); dw[j] = d * (float)sc; of[j] = -(dmin * (float)mn); }
        for (h = 0; h < 2; h++) {                   /* values 16h..16h+15 of each sub-block */
            __m128i qh = MOE__LDU128(s + 16 + 16 * h);
            for (k = 0; k < 4; k++) {               /* sub-blocks 2k, 2k+1: qh's bits 2k, 2k+1 at bits 0, 1 */
                __m128i q = MOE__LDU128(s + (five ? 48 : 16) + 32 * k + 16 * h);
                __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
                if (five) {
                    lo = _mm_or_si128(lo, _mm_and_si128(_mm_slli_epi16(qh, 4), b4));
                    hi = _mm_or_si128(hi, _mm_and_si128(_mm_slli_epi16(qh, 3), b4));
                    qh = _mm_srli_epi16(qh, 2);
                }
                MOE__IST(u + 64 * k + 16 * h, lo); MOE__IST(u + 64 * k + 32 + 16 * h, hi);
            }
        }
        *ps = s + (five ? MOE__Q5K_BYTES : MOE__Q4K_BYTES);
        return MOE__QK_K;
    }
    case MOE_TYPE_Q6_K: {                           /* sub-block j = 8h + 2k + m: v[16j + i] = sc_j * (q - 32) */
        const float d = moe__h2f(moe__rd16(s + 208));
        const __m128i m3 = _mm_set1_epi8(3), k32 = _mm_set1_epi8(32);
        for (j = 0; j < 8; j++) { dw[j] = d; of[j] = 0.0f; }
        for (h = 0; h < 2; h++)
            for (k = 0; k < 4; k++)
                for (m = 0; m < 2; m++) {
                    const __m128i ql = MOE__LDU128(s + 64 * h + 32 * (k & 1) + 16 * m), qh = MOE__LDU128(s + 128 + 32 * h + 16 * m);
                    const __m128i scl = _mm_set1_epi16((short)(signed char)s[192 + 8 * h + 2 * k + m]);
                    __m128i q = _mm_and_si128(_mm_srl_epi16(ql, _mm_cvtsi32_si128(4 * (k >> 1))), m4);
                    q = _mm_or_si128(q, _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), m3), 4));
                    q = _mm_sub_epi8(q, k32);
                    MOE__IST(v + 128 * h + 32 * k + 16 * m, _mm_mullo_epi16(_mm_cvtepi8_epi16(q), scl));
                    MOE__IST(v + 128 * h + 32 * k + 16 * m + 8, _mm_mullo_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(q, 8)), scl));
                }
        *ps = s + MOE__Q6K_BYTES;
        return MOE__QK_K;
    }
    case MOE_TYPE_Q3_K: {                           /* sub-block j = 8h + 2k + m: v[16j + i] = sc_j * (q + 4 hbit - 4) */
        const float d = moe__h2f(moe__rd16(s + 108));
        const __m128i m3 = _mm_set1_epi8(3), m1 = _mm_set1_epi8(1), k4 = _mm_set1_epi8(4);
        for (j = 0; j < 8; j++) { dw[j] = d; of[j] = 0.0f; }
        for (h = 0; h < 2; h++)
            for (k = 0; k < 4; k++)
                for (m = 0; m < 2; m++) {
                    const __m128i q = MOE__LDU128(s + 32 + 32 * h + 16 * m), hm = MOE__LDU128(s + 16 * m);
                    const __m128i scl = _mm_set1_epi16((short)moe__k3_get(s + 96, 8 * h + 2 * k + m));
                    __m128i c = _mm_and_si128(_mm_srl_epi16(q, _mm_cvtsi32_si128(2 * k)), m3);
                    c = _mm_or_si128(c, _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + k)), m1), 2));
                    c = _mm_sub_epi8(c, k4);
                    MOE__IST(v + 128 * h + 32 * k + 16 * m, _mm_mullo_epi16(_mm_cvtepi8_epi16(c), scl));
                    MOE__IST(v + 128 * h + 32 * k + 16 * m + 8, _mm_mullo_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(c, 8)), scl));
                }
        *ps = s + MOE__Q3K_BYTES;
        return MOE__QK_K;
    }
    default: {                                      /* MXFP4: fp4x2 + 12 by pshufb */
        const __m128i tb = _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
        __m128i x, lo, hi;
        of[0] = 0.0f;
        if (*pes) {                                 /* gpt-oss: value 2i low nibble of byte i, 2i+1 high */
            dw[0] = moe__e8m0_half(*(*pes)++);
            x = MOE__LDU128(s);
            lo = _mm_shuffle_epi8(tb, _mm_and_si128(x, m4)); hi = _mm_shuffle_epi8(tb, _mm_and_si128(_mm_srli_epi16(x, 4), m4));
            MOE__IST(u, _mm_unpacklo_epi8(lo, hi)); MOE__IST(u + 16, _mm_unpackhi_epi8(lo, hi));
            *ps = s + 16;
        } else {                                    /* ggml: value i low nibble of qs[i], 16+i high */
            dw[0] = moe__e8m0_half(s[0]);
            x = MOE__LDU128(s + 1);
            MOE__IST(u, _mm_shuffle_epi8(tb, _mm_and_si128(x, m4))); MOE__IST(u + 16, _mm_shuffle_epi8(tb, _mm_and_si128(_mm_srli_epi16(x, 4), m4)));
            *ps = s + MOE__MXFP4_BYTES;
        }
        return MOE__QK;
    }
    }
}
/* moe__ib_packk of the rows src[0..3] (es: their MXFP4 external scales, or NULL) into slots r..r+3 */
static void moe__ib_packk4(moe_type t, const unsigned char *const *src, const unsigned char *const *esrc, int K, int r, unsigned char *dst)
{
    const int w16 = MOE__IB16(t), ng = w16 ? 4 : 2;   /* 16-byte groups of a row's block */
    const size_t bsz = (size_t)(8 + (w16 ? 64 : 32)) * MOE__IR, st = 4 * MOE__IR;
    unsigned char u[4][MOE__QK_K];
    int16_t v[4][MOE__QK_K];
    float dw[4][8], of[4][8];
    const unsigned char *s[4], *es[4];
    int c0, n = MOE__QK_K, b, i, q;
    for (q = 0; q < 4; q++) { s[q] = src[q]; es[q] = esrc ? esrc[q] : NULL; }
    for (c0 = 0; c0 < K; c0 += n) {
        for (q = 0; q < 4; q++) n = moe__ib_deck(t, &s[q], &es[q], u[q], v[q], dw[q], of[q]);
        for (b = 0; b < n / MOE__QK; b++) {
            unsigned char *blk = dst + (size_t)(c0 / MOE__QK + b) * bsz, *qd = blk + 8 * MOE__IR + 4 * (size_t)r;
            for (q = 0; q < 4; q++) { memcpy(blk + 4 * (r + q), &dw[q][b], 4); memcpy(blk + 4 * (MOE__IR + r + q), &of[q][b], 4); }
            for (i = 0; i < ng; i++) {                 /* words 4i..4i+3 of the four rows: steps 4i..4i+3 */
                const size_t o = 32 * (size_t)b * (w16 ? 2 : 1) + 16 * (size_t)i;
                __m128i a0 = MOE__LDU128((w16 ? (const unsigned char *)v[0] : u[0]) + o), a1 = MOE__LDU128((w16 ? (const unsigned char *)v[1] : u[1]) + o);
                __m128i a2 = MOE__LDU128((w16 ? (const unsigned char *)v[2] : u[2]) + o), a3 = MOE__LDU128((w16 ? (const unsigned char *)v[3] : u[3]) + o);
                MOE__IT4(a0, a1, a2, a3)
                MOE__IST(qd + (size_t)(4 * i) * st, a0); MOE__IST(qd + (size_t)(4 * i + 1) * st, a1);
                MOE__IST(qd + (size_t)(4 * i + 2) * st, a2); MOE__IST(qd + (size_t)(4 * i + 3) * st, a3);
            }
        }
    }
}
#endif
/* Repack rows n0..n0+nr-1 of matrix M of expert e into ceil(nr/IR) tiles at dst (rows past nr zero) */
static void moe__ib_pack(const moe__matrix *M, moe_type it, int e, int n0, int nr, unsigned char *dst)
{
    const unsigned char *base = moe__base(M, e) + (size_t)n0 * M->row_stride;
    size_t tb = moe__ib_tilebytes(M->type, (size_t)M->cols);
    const int xs = M->type == MOE_TYPE_MXFP4 && M->scale_kind == MOE__XS_E8M0_32;
    int r;
    if (M->type == MOE_TYPE_Q8_0 || M->type == MOE_TYPE_Q4_0) { moe__ib_pack0(it, base, M->row_stride, nr, M->cols, dst); return; }
    if (nr % MOE__IR) memset(dst + (size_t)(nr / MOE__IR) * tb, 0, tb);
    for (r = 0; r < nr; r++) {
#if defined(MOE__IB) && (defined(MOE_SIMD_AVX512) || defined(MOE_SIMD_AVX2))
        if (r % 4 == 0 && r + 4 <= nr && M->type != MOE_TYPE_Q2_K) {   /* four rows of one tile (Q2_K: row by row) */
            const unsigned char *sp[4], *ep[4];
            int q;
            for (q = 0; q < 4; q++) { sp[q] = base + (size_t)(r + q) * M->row_stride; ep[q] = xs ? moe__row_scale(M, e, n0 + r + q) : NULL; }
            moe__ib_packk4(M->type, sp, ep, M->cols, r % MOE__IR, dst + (size_t)(r / MOE__IR) * tb);
            r += 3;
            continue;
        }
#endif
        moe__ib_packk(M->type, base + (size_t)r * M->row_stride, xs ? moe__row_scale(M, e, n0 + r) : NULL,
                      M->cols, r % MOE__IR, dst + (size_t)(r / MOE__IR) * tb);
    }
}
/* ---- one token against FP8 E4M3 rows, decoded in registers --------------------------------
   E4M3 s.eeee.mmm becomes the f16 s.0eeee.mmm0000000 (the f16 of value / 2^8, subnormals
   included: F16C converts f16 subnormals exactly, whatever DAZ/FTZ say), so a row costs a
   sign extension, a shift and a mask per 16-bit lane, and vcvtph2ps; the 2^8 joins the block's
   f32 scale. Each block of scale_cols columns sums into its own vector, then adds in times
   its scale. 0x7f/0xff (NaN) would pass for 480: the row's bytes are tested for them on the
   way, and a row holding one gives NaN, as its dequantised dot does. */
#ifdef MOE__HAVE_F8ROW                                /* x86 with F16C */
#if defined(MOE_SIMD_AVX512) && MOE__X_AVX512BW        /* (vpmovsxbw zmm, vpsllw zmm: AVX-512BW) */
#define MOE__F8W 32                                   /* weights a step */
#define MOE__F8STEP(k, a) { __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(w + (k))); \
        __m512i h = _mm512_and_si512(_mm512_slli_epi16(_mm512_cvtepi8_epi16(b), 7), _mm512_set1_epi16((short)0xBF80)); \
        nan = _mm256_or_si256(nan, _mm256_cmpeq_epi8(_mm256_and_si256(b, k7f), k7f)); \
        a = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(h)), _mm512_loadu_ps(x + (k)), a); \
        a = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)), _mm512_loadu_ps(x + (k) + 16), a); }
typedef __m512 moe__f8acc;
#define MOE__F8ZERO() _mm512_setzero_ps()
#define MOE__F8FMA(a, s, c) _mm512_fmadd_ps(a, _mm512_set1_ps(s), c)
#define MOE__F8SUM(a) _mm512_reduce_add_ps(a)
#define MOE__F8ADD(a, b) _mm512_add_ps(a, b)
#else
#define MOE__F8W 16
#define MOE__F8STEP(k, a) { __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(w + (k))); \
        __m256i h = MOE__F8H16(b); \
        nan = _mm256_or_si256(nan, _mm256_castsi128_si256(_mm_cmpeq_epi8(_mm_and_si128(b, _mm256_castsi256_si128(k7f)), _mm256_castsi256_si128(k7f)))); \
        a = MOE__FMA256(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), _mm256_loadu_ps(x + (k)), a); \
        a = MOE__FMA256(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), _mm256_loadu_ps(x + (k) + 8), a); }
typedef __m256 moe__f8acc;
#define MOE__F8ZERO() _mm256_setzero_ps()
#define MOE__F8FMA(a, s, c) MOE__FMA256(a, _mm256_set1_ps(s), c)
#define MOE__F8SUM(a) moe__hsum256(a)
#define MOE__F8ADD(a, b) _mm256_add_ps(a, b)
#endif
static float moe__f8_row(const unsigned char *w, const float *x, int K, const unsigned char *sb, int bc)
{
    const __m256i k7f = _mm256_set1_epi8(0x7f);
    __m256i nan = _mm256_setzero_si256();
    moe__f8acc acc = MOE__F8ZERO(), a0, a1;
    float tail = 0.0f;
    int c0, k, j;
    for (c0 = 0; c0 < K; c0 += bc) {
        int c1 = K - c0 > bc ? c0 + bc : K;
        float s = 1.0f, ts = 0.0f;
        if (sb) {
            s = moe__rdf32(sb);
            sb += 4;
        }
        a0 = MOE__F8ZERO(); a1 = MOE__F8ZERO();
        for (k = c0; k + 2 * MOE__F8W <= c1; k += 2 * MOE__F8W) {
            MOE__PREFETCH(w + k + MOE__GPF);
            MOE__F8STEP(k, a0) MOE__F8STEP(k + MOE__F8W, a1)
        }
        for (; k + MOE__F8W <= c1; k += MOE__F8W) MOE__F8STEP(k, a0)
        for (j = k; j < c1; j++) ts += moe__e4m3_to_f32(w[j]) * x[j];
        acc = MOE__F8FMA(MOE__F8ADD(a0, a1), s * 256.0f, acc);
        tail += ts * s;
    }
    if (!_mm256_testz_si256(nan, nan)) return moe__bits_f(0x7fc00000u);
    return MOE__F8SUM(acc) + tail;
}
/* one token against rows n0..n0+nb of FP8 matrix M of expert e (with its scales, if any) */
static void moe__f8_gemv(const moe__matrix *M, int e, int n0, int nb, const float *x, float *out)
{
    const unsigned char *base = moe__base(M, e);
    int n;
    MOE_ASSERT(M->scale_kind == 0 || M->scale_kind == MOE__XS_F32_BLOCK);
    for (n = 0; n < nb; n++)
        out[n] = moe__f8_row(base + (size_t)(n0 + n) * M->row_stride, x, M->cols,
                             M->scale_kind ? moe__row_scale(M, e, n0 + n) : NULL, M->scale_kind ? M->scale_cols : M->cols);
}
#endif

/* row n of matrix M of expert e (its bytes at r) . a token's Q8_K row xq, for the Q8_K family.
   MXFP4 with external scales is the gpt-oss layout (cols/2 bytes of interleaved nibbles, the
   E8M0 bytes in the scale tensor); without, ggml's 17-byte blocks. */
static float moe__kdot(const moe__matrix *M, int e, int n, const unsigned char *r, const unsigned char *xq)
{
    int K = M->cols;
    switch (M->type) {
#ifdef MOE__KDOT_SIMD
    case MOE_TYPE_Q4_K: return moe__kdot_q4_k(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q5_K: return moe__kdot_q5_k(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q6_K: return moe__kdot_q6_k(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q2_K: return moe__kdot_q2_k(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q3_K: return moe__kdot_q3_k(r, xq, K / MOE__QK_K);
#define MOE__KDOT_FP4 moe__kdot_mxfp4
#else
    case MOE_TYPE_Q4_K: return moe__kdot_q45_ref(r, xq, K / MOE__QK_K, 0);
    case MOE_TYPE_Q5_K: return moe__kdot_q45_ref(r, xq, K / MOE__QK_K, 1);
    case MOE_TYPE_Q6_K: return moe__kdot_q6_k_ref(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q2_K: return moe__kdot_q2_k_ref(r, xq, K / MOE__QK_K);
    case MOE_TYPE_Q3_K: return moe__kdot_q3_k_ref(r, xq, K / MOE__QK_K);
#define MOE__KDOT_FP4 moe__kdot_mxfp4_ref
#endif
    case MOE_TYPE_MXFP4:
        if (M->scale_kind == MOE__XS_E8M0_32) {
            return MOE__KDOT_FP4(r, 16, moe__row_scale(M, e, n), 1, 1, xq, K / 32);
        }
        return MOE__KDOT_FP4(r + 1, MOE__MXFP4_BYTES, r, MOE__MXFP4_BYTES, 0, xq, K / 32);
#undef MOE__KDOT_FP4
    default: break;
    }
    MOE_ASSERT(0 && "moe__kdot: a type outside the Q8_K family");
    return 0.0f;
}
/* out[i][j] = row n0 + j of M (expert e) . token i, for nb rows and mt tokens (their Q8_K rows
   QXK_BYTES(K) apart): a row at a time, so tokens after the first find it in L1 */
static void moe__kgemm(const moe__matrix *M, int e, int n0, int nb, const unsigned char *qx, int mt, float *const *out)
{
    const unsigned char *base = moe__base(M, e);
    size_t xs = MOE__QXK_BYTES(M->cols);
    int j, i;
    for (j = 0; j < nb; j++) {
        const unsigned char *r = base + (size_t)(n0 + j) * M->row_stride;
        MOE__PREFETCH(r + MOE__GPF);
        for (i = 0; i < mt; i++) out[i][j] = moe__kdot(M, e, n0 + j, r, qx + (size_t)i * xs);
    }
}

#if !defined(MOE_SIMD_SCALAR)
/* one row of W (f32, f16 or bf16) . x, four accumulators: rows one after another are one
   sequential stream, which DRAM and the hardware prefetchers serve best (measured on f16 rows
   of 4 KB: NR rows side by side stream at ~80 % of the plain read rate, one row at a time at
   ~100 %) */
#define MOE__GR(load, j) a##j = MOE__VFMA(load(k + (j) * MOE__VL), MOE__VLOAD(x + k + (j) * MOE__VL), a##j);
#define MOE__LF32(i)  MOE__VLOAD((const float *)(const void *)w + (i))
#define MOE__LF16(i)  MOE__WF16(w + 2 * (size_t)(i))
#define MOE__LBF16(i) MOE__WBF16(w + 2 * (size_t)(i))
#define MOE__GROW(load) \
    for (; k + 4 * MOE__VL <= K; k += 4 * MOE__VL) { MOE__GR(load, 0) MOE__GR(load, 1) MOE__GR(load, 2) MOE__GR(load, 3) } \
    for (; k + MOE__VL <= K; k += MOE__VL) { MOE__GR(load, 0) }
static float moe__gemv_row(moe_type ty, int K, const float *x, const unsigned char *w)
{
    moe__vec a0 = MOE__VZERO(), a1 = MOE__VZERO(), a2 = MOE__VZERO(), a3 = MOE__VZERO();
    float s = 0.0f;
    int k = 0, j;
    switch (ty) {
    case MOE_TYPE_F32:
        MOE__GROW(MOE__LF32)
        for (j = k; j < K; j++) s += ((const float *)(const void *)w)[j] * x[j];
        break;
#ifdef MOE__WF16
    case MOE_TYPE_F16:
        MOE__GROW(MOE__LF16)
        for (j = k; j < K; j++) s += moe__h2f(moe__rd16(w + 2 * (size_t)j)) * x[j];
        break;
#endif
    case MOE_TYPE_BF16:
        MOE__GROW(MOE__LBF16)
        for (j = k; j < K; j++) s += moe__bf2f(moe__rd16(w + 2 * (size_t)j)) * x[j];
        break;
    default: MOE_ASSERT(0 && "moe__gemv_row: a type moe__gemv_ok does not list"); break;
    }
    return MOE__VSUM(MOE__VADD(MOE__VADD(a0, a1), MOE__VADD(a2, a3))) + s;
}
#endif
#if defined(MOE_SIMD_AVX512) || (defined(MOE_SIMD_AVX2) && MOE__X_FMA)
/* BF16 rows without widening: a 32-bit lane of the row holds values 2j (low half) and 2j+1
   (high half); the high half masked is that value as an f32, the low half shifted left by 16
   is the other. So a row's vector of 2 VL values costs one load, a shift, an and and two FMAs
   against x split once per call into blocks of 2 VL values, the VL even ones then the VL odd
   ones (xs; moe__bf_split). The products are the widened ones: exact, as before. */
#define MOE__BFSPLIT 1
static void moe__bf_split(int K, const float *x, float *xs)
{
    int k, i;
    for (k = 0; k + 2 * MOE__VL <= K; k += 2 * MOE__VL)
        for (i = 0; i < MOE__VL; i++) { xs[k + i] = x[k + 2 * i]; xs[k + MOE__VL + i] = x[k + 2 * i + 1]; }
}
#if defined(MOE_SIMD_AVX512)
#define MOE__BSL(v) _mm512_castsi512_ps(_mm512_slli_epi32(v, 16))
#define MOE__BHI(v) _mm512_castsi512_ps(_mm512_and_si512(v, hm))
#define MOE__BLD(p) _mm512_loadu_si512((const void *)(p))
typedef __m512i moe__bvi;
#define MOE__BHM _mm512_set1_epi32((int)0xffff0000u)
#else
#define MOE__BSL(v) _mm256_castsi256_ps(_mm256_slli_epi32(v, 16))
#define MOE__BHI(v) _mm256_castsi256_ps(_mm256_and_si256(v, hm))
#define MOE__BLD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
typedef __m256i moe__bvi;
#define MOE__BHM _mm256_set1_epi32((int)0xffff0000u)
#endif
static float moe__gemv_bf16s(int K, const float *x, const float *xs, const unsigned char *w)
{
    const moe__bvi hm = MOE__BHM;
    moe__vec a0 = MOE__VZERO(), a1 = MOE__VZERO(), a2 = MOE__VZERO(), a3 = MOE__VZERO();
    float s = 0.0f;
    int k = 0, j;
    for (; k + 4 * MOE__VL <= K; k += 4 * MOE__VL) {
        moe__bvi v0 = MOE__BLD(w + 2 * (size_t)k), v1 = MOE__BLD(w + 2 * (size_t)k + 4 * MOE__VL);
        a0 = MOE__VFMA(MOE__BSL(v0), MOE__VLOAD(xs + k), a0);
        a1 = MOE__VFMA(MOE__BHI(v0), MOE__VLOAD(xs + k + MOE__VL), a1);
        a2 = MOE__VFMA(MOE__BSL(v1), MOE__VLOAD(xs + k + 2 * MOE__VL), a2);
        a3 = MOE__VFMA(MOE__BHI(v1), MOE__VLOAD(xs + k + 3 * MOE__VL), a3);
    }
    for (; k + 2 * MOE__VL <= K; k += 2 * MOE__VL) {
        moe__bvi v0 = MOE__BLD(w + 2 * (size_t)k);
        a0 = MOE__VFMA(MOE__BSL(v0), MOE__VLOAD(xs + k), a0);
        a1 = MOE__VFMA(MOE__BHI(v0), MOE__VLOAD(xs + k + MOE__VL), a1);
    }
    for (j = k; j < K; j++) s += moe__bf2f(moe__rd16(w + 2 * (size_t)j)) * x[j];
    return MOE__VSUM(MOE__VADD(MOE__VADD(a0, a1), MOE__VADD(a2, a3))) + s;
}
#endif
/* A few tokens (2..16) against f16 / bf16 rows read in place: each row's vector of 2 VL values
   is widened once (bf16: the shift and mask above, against the split x; f16: two vcvtph2ps,
   against x as it is) and multiplied into 4 tokens at a time (a second group of 4 re-reads
   the row from L1), so no decoded panel is written and read back. Returns 0 for a type or
   path without it (the caller then decodes a panel). */
#if defined(MOE__BFSPLIT)
#define MOE__FTD(t) moe__vec p##t##a = MOE__VZERO(), p##t##b = MOE__VZERO(), r##t##a = MOE__VZERO(), r##t##b = MOE__VZERO();
#define MOE__FTF(t) { moe__vec xa = MOE__VLOAD(x##t + k), xb = MOE__VLOAD(x##t + k + MOE__VL); \
        p##t##a = MOE__VFMA(wa, xa, p##t##a); p##t##b = MOE__VFMA(wb, xb, p##t##b); \
        r##t##a = MOE__VFMA(va, xa, r##t##a); r##t##b = MOE__VFMA(vb, xb, r##t##b); }
#define MOE__FTS(t) c[t] = MOE__VSUM(MOE__VADD(p##t##a, p##t##b)); c[4 + t] = MOE__VSUM(MOE__VADD(r##t##a, r##t##b));
/* two rows w, v (K values) . 4 tokens xv: c[0..3] row w, c[4..7] row v (the vector part) */
static void moe__few4(moe_type ty, int K, const unsigned char *w, const unsigned char *v, const float *const *xv, float *c)
{
    const float *x0 = xv[0], *x1 = xv[1], *x2 = xv[2], *x3 = xv[3];
    int k = 0;
    MOE__FTD(0) MOE__FTD(1) MOE__FTD(2) MOE__FTD(3)
    if (ty == MOE_TYPE_BF16) {
        const moe__bvi hm = MOE__BHM;
        for (; k + 2 * MOE__VL <= K; k += 2 * MOE__VL) {
            moe__bvi q = MOE__BLD(w + 2 * (size_t)k), e = MOE__BLD(v + 2 * (size_t)k);
            moe__vec wa = MOE__BSL(q), wb = MOE__BHI(q), va = MOE__BSL(e), vb = MOE__BHI(e);
            MOE__FTF(0) MOE__FTF(1) MOE__FTF(2) MOE__FTF(3)
        }
    }
#ifdef MOE__WF16
    else
        for (; k + 2 * MOE__VL <= K; k += 2 * MOE__VL) {
            moe__vec wa = MOE__WF16(w + 2 * (size_t)k), wb = MOE__WF16(w + 2 * (size_t)k + 2 * MOE__VL);
            moe__vec va = MOE__WF16(v + 2 * (size_t)k), vb = MOE__WF16(v + 2 * (size_t)k + 2 * MOE__VL);
            MOE__FTF(0) MOE__FTF(1) MOE__FTF(2) MOE__FTF(3)
        }
#endif
    MOE__FTS(0) MOE__FTS(1) MOE__FTS(2) MOE__FTS(3)
}
#endif
#ifdef MOE__BFDOT
/* cfg.batch_bf16 = MOE_BF16_DOT for 2..16 tokens (one token keeps the exact moe__gemv_bf16s, as
   fast where it is memory-bound, and padding 1 token to 4 would waste 3/4 of the work): x rounded to bf16 (nearest-even) in its natural
   order, whose 32-bit pairs line up with the row's; vdpbf16ps on 32 values of two rows and 4
   tokens: c[0..3] row w, c[4..7] row v (the vector part; the caller adds the rest) */
static void moe__bf_round(int K, const float *x, uint16_t *xb)
{
    int k = 0;
    for (; k + 16 <= K; k += 16) _mm256_storeu_si256((__m256i *)(void *)(xb + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k)));
    if (k < K) {
        const __mmask16 m = (__mmask16)((1u << (K - k)) - 1u);
        _mm256_mask_storeu_epi16((void *)(xb + k), m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + k)));
    }
}
#define MOE__FDD(t) __m512 p##t = _mm512_setzero_ps(), r##t = _mm512_setzero_ps();
#define MOE__FDF(t) { __m512bh xq = (__m512bh)_mm512_loadu_si512((const void *)(x##t + k)); \
        p##t = _mm512_dpbf16_ps(p##t, wq, xq); r##t = _mm512_dpbf16_ps(r##t, vq, xq); }
#define MOE__FDS(t) c[t] = _mm512_reduce_add_ps(p##t); c[4 + t] = _mm512_reduce_add_ps(r##t);
static void moe__few4d(int K, const unsigned char *w, const unsigned char *v, const uint16_t *const *xv, float *c)
{
    const uint16_t *x0 = xv[0], *x1 = xv[1], *x2 = xv[2], *x3 = xv[3];
    int k;
    MOE__FDD(0) MOE__FDD(1) MOE__FDD(2) MOE__FDD(3)
    for (k = 0; k + 32 <= K; k += 32) {
        __m512bh wq = (__m512bh)_mm512_loadu_si512((const void *)(w + 2 * (size_t)k)), vq = (__m512bh)_mm512_loadu_si512((const void *)(v + 2 * (size_t)k));
        MOE__FDF(0) MOE__FDF(1) MOE__FDF(2) MOE__FDF(3)
    }
    MOE__FDS(0) MOE__FDS(1) MOE__FDS(2) MOE__FDS(3)
}
#endif
/* rows n0..n0+nb of matrix M of expert e . mt tokens (x + i K), row n of token i to out[i][n];
   xs: room for nxs floats (bf16: the split copies, mt K) */
static int moe__gemvm(const moe__matrix *M, int e, int n0, int nb, const float *x, int mt, float *const *out, float *xs, size_t nxs, int dot)
{
#if defined(MOE__BFSPLIT)
    const unsigned char *w = moe__base(M, e) + (size_t)n0 * M->row_stride;
    const moe_type t = M->type;
    const int K = M->cols, kv = K - K % (2 * MOE__VL);   /* the vector part; the rest in C */
    const float *xv[16], *xt[16];
    const uint16_t *xd[16];          /* MOE_BF16_DOT: x rounded to bf16 (moe__few4d's 32 values a step = 2 VL) */
    float c[8];
    int n, i, t0, j, r, bd = 0;
#ifdef MOE__BFDOT
    bd = dot && t == MOE_TYPE_BF16;
#endif
    (void)dot;
#ifdef MOE__WF16
    if (t != MOE_TYPE_BF16 && t != MOE_TYPE_F16) return 0;
#else
    if (t != MOE_TYPE_BF16) return 0;
#endif
    if (mt < 2 || mt > 16 || (t == MOE_TYPE_BF16 && (size_t)mt * (size_t)K > (bd ? 2 * nxs : nxs))) return 0;
    for (i = 0; i < mt; i++) {
        xt[i] = x + (size_t)i * (size_t)K;
        xv[i] = t == MOE_TYPE_BF16 ? xs + (size_t)i * (size_t)K : xt[i];
        xd[i] = (const uint16_t *)(const void *)xs + (size_t)i * (size_t)K;
#ifdef MOE__BFDOT
        if (bd) { moe__bf_round(K, xt[i], (uint16_t *)(void *)xs + (size_t)i * (size_t)K); continue; }
#endif
        if (t == MOE_TYPE_BF16) moe__bf_split(K, xt[i], xs + (size_t)i * (size_t)K);
    }
    for (n = 0; n < nb; n += 2, w += 2 * M->row_stride) {   /* two rows at a time: each x load serves both */
        const int two = n + 1 < nb;
        const unsigned char *v = two ? w + M->row_stride : w;
        for (t0 = 0; t0 < mt; t0 += 4) {
            const float *q[4];
            const uint16_t *qd[4];
            for (i = 0; i < 4; i++) { q[i] = xv[t0 + i < mt ? t0 + i : mt - 1]; qd[i] = xd[t0 + i < mt ? t0 + i : mt - 1]; }
#ifdef MOE__BFDOT
            if (bd) moe__few4d(K, w, v, qd, c); else
#endif
            moe__few4(t, K, w, v, q, c);
            for (i = 0; i < 4 && t0 + i < mt; i++)
                for (r = 0; r <= two; r++) {
                    const unsigned char *wr = r ? v : w;
                    float s = 0.0f;
                    for (j = kv; j < K; j++)
                        s += (t == MOE_TYPE_BF16 ? moe__bf2f(moe__rd16(wr + 2 * (size_t)j)) : moe__h2f(moe__rd16(wr + 2 * (size_t)j))) *
                             (bd ? moe__bf2f(qd[i][j]) : xt[t0 + i][j]);
                    out[t0 + i][n + r] = c[4 * r + i] + s;
                }
        }
    }
    return 1;
#else
    (void)M; (void)e; (void)n0; (void)nb; (void)x; (void)mt; (void)out; (void)xs; (void)nxs; (void)dot;
    return 0;
#endif
}
/* rows n0..n0+nb of matrix M of expert e . one token x; xs: room for K floats (BF16's split x) */
static void moe__gemv(const moe__matrix *M, int e, int n0, int nb, const float *x, float *c, float *xs)
{
    const unsigned char *w = moe__base(M, e) + (size_t)n0 * M->row_stride;
    size_t stride = M->row_stride;
    moe_type t = M->type;
    int K = M->cols, n;
    MOE_ASSERT(moe__gemv_ok(t) && !moe__isq(t));
#ifdef MOE__HAVE_F8ROW
    if (t == MOE_TYPE_F8_E4M3) { moe__f8_gemv(M, e, n0, nb, x, c); return; }
#endif
#ifdef MOE__BFSPLIT
    if (t == MOE_TYPE_BF16) {
        moe__bf_split(K, x, xs);
        for (n = 0; n < nb; n++) c[n] = moe__gemv_bf16s(K, x, xs, w + (size_t)n * stride);
        return;
    }
#endif
    (void)xs;
#if !defined(MOE_SIMD_SCALAR)
    for (n = 0; n < nb; n++) c[n] = moe__gemv_row(t, K, x, w + (size_t)n * stride);
#else
    {
        const float *wf[MOE__NR];
        float cc[MOE__NR];
        int n0;
        for (n0 = 0; n0 < nb; n0 += MOE__NR) {
            int nr = nb - n0 < MOE__NR ? nb - n0 : MOE__NR;
            for (n = 0; n < MOE__NR; n++) wf[n] = (const float *)(const void *)(w + (size_t)(n0 + (n < nr ? n : nr - 1)) * stride);
            moe__tile1(K, x, wf, cc);
            for (n = 0; n < nr; n++) c[n0 + n] = cc[n];
        }
    }
#endif
}

/* moe__otile: the batched kernel, outer-product form. xp is a packed token panel [K][G]
   (G = 2 vectors of tokens, zero-padded), w holds NRO weight rows used in place; it writes
   c[r*G + g] = sum_k w[r][k] * xp[k*G + g]. No horizontal sums, no repacking of weights. */
#define MOE__G (2 * MOE__VL)
#if MOE__G != MOE__IG
#error "moe.h: MOE__IG must be MOE__G"
#endif
#define MOE__ODECL(r)  moe__vec o##r##a = MOE__VZERO(), o##r##b = MOE__VZERO(); const float *q##r = w[r];
#define MOE__OFMA(r)   { moe__vec bw = MOE__VBCAST(q##r + k); o##r##a = MOE__VFMA(bw, xa, o##r##a); o##r##b = MOE__VFMA(bw, xb, o##r##b); }
#define MOE__OFMA1(r)  { moe__vec bw = MOE__VBCAST(q##r + k + 1); o##r##a = MOE__VFMA(bw, xa, o##r##a); o##r##b = MOE__VFMA(bw, xb, o##r##b); }
#define MOE__OSTORE(r) MOE__VSTORE(c + r * MOE__G, o##r##a); MOE__VSTORE(c + r * MOE__G + MOE__VL, o##r##b);
#define MOE__OPF(r)    MOE__PREFETCH2(n##r + k);
#define MOE__ONEXT(r)  const float *n##r = next ? next[r] : q##r + 256;
/* next: the rows the following call will use; they are fetched while this tile computes,
   one cache line per row per 16 steps, so they arrive just in time and no earlier. */
static void moe__otile(int K, const float *xp, const float *const *w, const float *const *next, float *c)
{
    MOE__EACH_RO(MOE__ODECL)
    MOE__EACH_RO(MOE__ONEXT)
    int k = 0, k1;
    while (k < K) {
        MOE__EACH_RO(MOE__OPF)
        k1 = K - k < 16 ? K : k + 16;
        for (; k + 2 <= k1; k += 2) {                 /* two steps a turn: less loop overhead */
            moe__vec xa = MOE__VLOAD(xp + (size_t)k * MOE__G), xb = MOE__VLOAD(xp + (size_t)k * MOE__G + MOE__VL);
            MOE__EACH_RO(MOE__OFMA)
            xa = MOE__VLOAD(xp + (size_t)(k + 1) * MOE__G); xb = MOE__VLOAD(xp + (size_t)(k + 1) * MOE__G + MOE__VL);
            MOE__EACH_RO(MOE__OFMA1)
        }
        if (k < k1) {
            moe__vec xa = MOE__VLOAD(xp + (size_t)k * MOE__G), xb = MOE__VLOAD(xp + (size_t)k * MOE__G + MOE__VL);
            MOE__EACH_RO(MOE__OFMA)
            k++;
        }
    }
    MOE__EACH_RO(MOE__OSTORE)
}

/* y = a*x (first) or y += a*x: the combine, one slot of one token. */
static void moe__axpy(int n, float a, const float *x, float *y, int first)
{
    int i = 0;
    moe__vec va = MOE__VSET1(a);
    if (first) for (; i + MOE__VL <= n; i += MOE__VL) MOE__VSTORE(y + i, MOE__VMUL(va, MOE__VLOAD(x + i)));
    else for (; i + MOE__VL <= n; i += MOE__VL) MOE__VSTORE(y + i, MOE__VFMA(va, MOE__VLOAD(x + i), MOE__VLOAD(y + i)));
    for (; i < n; i++) y[i] = first ? a * x[i] : y[i] + a * x[i];
}

#ifdef MOE__HAVE_VEXP
/* exp(x): x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial (rel. error < 2e-7),
   2^n built in the exponent bits. Inputs are clamped to [-87, 88]: exp underflows to ~1e-38
   instead of 0, which no activation here can tell apart. NaN inputs give unspecified values,
   but every caller multiplies the result by the same NaN, so NaN still propagates. */
static moe__vec moe__vexp(moe__vec x)
{
    moe__vec n, r, p;
    x = MOE__VMAX(MOE__VMIN(x, MOE__VSET1(88.0f)), MOE__VSET1(-87.0f));
    n = MOE__VROUND(MOE__VMUL(x, MOE__VSET1(1.44269504088896341f)));
    r = MOE__VFMA(n, MOE__VSET1(-0.693359375f), x);
    r = MOE__VFMA(n, MOE__VSET1(2.12194440e-4f), r);
    p = MOE__VSET1(1.9875691500e-4f);
    p = MOE__VFMA(p, r, MOE__VSET1(1.3981999507e-3f));
    p = MOE__VFMA(p, r, MOE__VSET1(8.3333452e-3f));
    p = MOE__VFMA(p, r, MOE__VSET1(4.1665795894e-2f));
    p = MOE__VFMA(p, r, MOE__VSET1(1.6666665459e-1f));
    p = MOE__VFMA(p, r, MOE__VSET1(5.0000001201e-1f));
    p = MOE__VFMA(p, MOE__VMUL(r, r), MOE__VADD(r, MOE__VSET1(1.0f)));
    return MOE__VMUL(p, MOE__VEXP2I(n));
}
static moe__vec moe__vsigmoid(moe__vec x)
{
    moe__vec one = MOE__VSET1(1.0f);
    return MOE__VDIV(one, MOE__VADD(one, moe__vexp(MOE__VMUL(x, MOE__VSET1(-1.0f)))));
}
#endif

/* out[i][n] = dot(x[i], w[n]) for i < mt, n < nb: the one GEMM-shaped job every matrix product
   of the layer goes through (router, gate, up, down). Tiles are 4 tokens x NR rows; partial
   tiles repeat their last row or token, so every tile runs the full kernel. */
static void moe__gemm(int K, const float *const *x, int mt, const float *const *w, int nb, float *const *out)
{
    float c[4 * MOE__NR];
    const float *xp[4], *wp[MOE__NR];
    int i0, n0, i, n;
    for (i0 = 0; i0 < mt; i0 += 4) {
        int mr = mt - i0 < 4 ? mt - i0 : 4;
        for (i = 0; i < 4; i++) xp[i] = x[i0 + (i < mr ? i : mr - 1)];
        for (n0 = 0; n0 < nb; n0 += MOE__NR) {
            int nr = nb - n0 < MOE__NR ? nb - n0 : MOE__NR;
            for (n = 0; n < MOE__NR; n++) wp[n] = w[n0 + (n < nr ? n : nr - 1)];
            if (mr == 1) moe__tile1(K, xp[0], wp, c);
            else moe__tile4(K, xp, wp, c);
            for (i = 0; i < mr; i++)
                for (n = 0; n < nr; n++) out[i0 + i][n0 + n] = c[i * MOE__NR + n];
        }
    }
}

/* ====================================== activations ====================================== */
static float moe__sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
static float moe__gelu(float v, int tanh_form)
{
    if (tanh_form) return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
}
/* g: gate (unused for GELU/RELU), u: up. Comparisons are written so NaN propagates. */
static float moe__act(const moe_config *c, float g, float u)
{
    switch (c->act) {
    case MOE_ACT_SWIGLU: return g * moe__sigmoid(g) * u;
    case MOE_ACT_GEGLU:  return moe__gelu(g, c->gelu_tanh) * u;
    case MOE_ACT_GELU:   return moe__gelu(u, c->gelu_tanh);
    case MOE_ACT_RELU:   return u < 0.0f ? 0.0f : u;
    case MOE_ACT_SWIGLU_OAI: {
        float L = c->oai_limit;
        if (g > L) g = L;
        if (u > L) u = L;
        if (u < -L) u = -L;
        return (u + 1.0f) * g * moe__sigmoid(c->oai_alpha * g);
    }
    }
    return 0.0f;
}
static int moe__gated(moe_act a) { return a != MOE_ACT_GELU && a != MOE_ACT_RELU; }

/* h[n] = act(g[n] + gb, u[n] + ub) for n < G tokens: the epilogue of the batched gate/up
   tile, vectorised where the path has a vector exp (the erf form of GELU stays scalar).
   min/max are ordered so a NaN operand comes through. */
static void moe__act_row(const moe_config *c, const float *g, const float *u, float gb, float ub, float *h)
{
    int n;
#ifdef MOE__HAVE_VEXP
    if (c->act != MOE_ACT_GEGLU && c->act != MOE_ACT_GELU ? 1 : c->gelu_tanh) {
        moe__vec vgb = MOE__VSET1(gb), vub = MOE__VSET1(ub), one = MOE__VSET1(1.0f);
        for (n = 0; n < MOE__G; n += MOE__VL) {
            moe__vec vu = MOE__VADD(MOE__VLOAD(u + n), vub), vg = vu, r, z;
            if (moe__gated(c->act)) vg = MOE__VADD(MOE__VLOAD(g + n), vgb);
            switch (c->act) {
            case MOE_ACT_SWIGLU: r = MOE__VMUL(MOE__VMUL(vg, moe__vsigmoid(vg)), vu); break;
            case MOE_ACT_SWIGLU_OAI: {
                moe__vec L = MOE__VSET1(c->oai_limit);
                vg = MOE__VMIN(L, vg);
                vu = MOE__VMAX(MOE__VSET1(-c->oai_limit), MOE__VMIN(L, vu));
                r = MOE__VMUL(MOE__VMUL(MOE__VADD(vu, one), vg), moe__vsigmoid(MOE__VMUL(MOE__VSET1(c->oai_alpha), vg)));
                break;
            }
            case MOE_ACT_RELU: r = MOE__VMAX(MOE__VSET1(0.0f), vu); break;
            default:           /* tanh GELU: 0.5 v (1 + tanh z) = v sigmoid(2z) */
                z = MOE__VMUL(MOE__VSET1(2.0f * 0.7978845608028654f),
                              MOE__VFMA(MOE__VMUL(MOE__VSET1(0.044715f), vg), MOE__VMUL(vg, vg), vg));
                r = MOE__VMUL(vg, moe__vsigmoid(z));
                if (c->act == MOE_ACT_GEGLU) r = MOE__VMUL(r, vu);
                break;
            }
            MOE__VSTORE(h + n, r);
        }
        return;
    }
#endif
    for (n = 0; n < MOE__G; n++) h[n] = moe__act(c, moe__gated(c->act) ? g[n] + gb : 0.0f, u[n] + ub);
}

/* ===================================== layer setup ======================================= */
/* rows per work unit for experts with few tokens (the weights stream once; non-f32 rows are
   decoded MOE__NRD at a time into an L1-sized panel) */
#define MOE__NRD (2 * MOE__NR)
#define MOE__NBD (64 - 64 % MOE__NR)
static int moe__nbo(int K)                    /* rows per unit, batched path: ~128 KB panel */
{
    int nb = 32768 / (K > 0 ? K : 1);
    if (nb > MOE__NBMAX) nb = MOE__NBMAX;
    if (nb < MOE__NRO) nb = MOE__NRO;
    return nb - nb % MOE__NRO;
}
/* experts with at least this many tokens run the batched (outer-product) kernel */
#define MOE__OMIN (MOE__VL > 1 ? MOE__VL : 2)
/* one token: longer units, so each stream of rows starts (and waits for DRAM) fewer times */
#define MOE__NB1 192
/* Experts with at most QM tokens run Q8_0/Q4_0, K-quant and MXFP4 matrices on the integer kernels, on every path
   (so all paths agree). A layer with such matrices keeps those experts on the few-token path
   (rows, not panels) even where OMIN is smaller: omin, the layer's threshold, is then QM + 1. */
#define MOE__QM 8
#define MOE__FEW (MOE__OMIN > MOE__QM + 1 ? MOE__OMIN : MOE__QM + 1)   /* bound on a layer's omin */
/* inplace: the batched path reads the matrices' rows where they are (f32), no decoded panel to
   size, so units take NBMAX rows: the kernel prefetches the next tile of a unit, and a unit of
   one tile (12 rows of 2048) would wait on DRAM at every start */
static int moe__nbk(int K, int m, int omin, int inplace)
{
    if (m >= omin) return inplace ? MOE__NBMAX - MOE__NBMAX % MOE__NRO : moe__nbo(K);
    return m == 1 ? MOE__NB1 : MOE__NBD;
}
/* most rows one unit decodes at a time: a batched unit's block, or NRD on the small-token path */
static size_t moe__panel_rows(int K) { return (size_t)(moe__nbo(K) > MOE__NRD ? moe__nbo(K) : MOE__NRD); }

/* rows x cols matrices, n_exp of them, from a tensor. part: 0 whole, 1/2 gate/up half of a fused one.
   name: the tensor's field in moe_weights, for the error message. */
static int moe__ceil_div(int a, int b) { return a / b + (a % b != 0); }
/* The external block scales of tensor t (rows: as stored), checked and recorded in m. */
static moe_status moe__scale_init(moe_layer *L, moe__matrix *m, const moe_tensor *t, const char *name, int n_exp,
                                  int rows, int cols)
{
    const moe__type_traits *tr = &moe__traits[t->type];
    size_t per, tmp;
    int e;
    m->row_mul = 1;
    if (!t->scale && !t->expert_scale) {
        if (t->scale_rows || t->scale_cols) return MOE__FAIL(MOE_ERR_WEIGHTS, name, "scale_rows/scale_cols set without a scale");
        return MOE_OK;
    }
    if (tr->xscale == MOE__XS_NONE)
        return moe__failf(L, MOE_ERR_WEIGHTS, "%s: a scale is given, but %s keeps its scales in its blocks", name, tr->name);
    if (t->scale && t->expert_scale) return MOE__FAIL(MOE_ERR_WEIGHTS, name, "both scale and expert_scale are set; give one");
    if ((t->data != NULL) != (t->scale != NULL))
        return MOE__FAIL(MOE_ERR_WEIGHTS, name, "stacked data takes a stacked scale, expert_data an expert_scale");
    if (tr->xscale == MOE__XS_E8M0_32) {
        if (!((t->scale_rows == 0 && t->scale_cols == 0) || (t->scale_rows == 1 && t->scale_cols == 32)))
            return MOE__FAIL(MOE_ERR_WEIGHTS, name, "mxfp4 scales are one per 32 values: scale_rows, scale_cols must be 0, 0 or 1, 32");
        if (cols % 32) return MOE__FAILN(MOE_ERR_WEIGHTS, name, "mxfp4 rows are whole blocks of 32 values; columns:", cols);
        m->scale_rows = 1; m->scale_cols = 32;
    } else {
        if (t->scale_rows < 1 || t->scale_cols < 1)
            return MOE__FAIL(MOE_ERR_WEIGHTS, name, "scale_rows and scale_cols must be >= 1 with a scale");
        m->scale_rows = t->scale_rows < rows ? t->scale_rows : rows;
        m->scale_cols = t->scale_cols < cols ? t->scale_cols : cols;
    }
    m->scale_row_stride = (size_t)moe__ceil_div(cols, m->scale_cols) * (tr->xscale == MOE__XS_F32_BLOCK ? 4u : 1u);
    if (!moe__mul(m->scale_row_stride, (size_t)moe__ceil_div(rows, m->scale_rows), &per) || !moe__mul(per, (size_t)n_exp, &tmp))
        return MOE__FAIL(MOE_ERR_OVERFLOW, name, "its scales' size in bytes overflows size_t");
    m->scale_expert_stride = per;
    for (e = 0; e < (t->scale ? 1 : n_exp); e++) {
        const void *p = t->scale ? t->scale : t->expert_scale[e];
        if (!p) return MOE__FAILN(MOE_ERR_WEIGHTS, name, "expert_scale[e] is NULL for e =", e);
        if (tr->xscale == MOE__XS_F32_BLOCK && (uintptr_t)p % 4)
            return MOE__FAIL(MOE_ERR_ALIGN, name, "f32 scales are not 4-byte aligned");
    }
    m->scale_kind = (int)tr->xscale;
    m->scale = (const unsigned char *)t->scale;
    m->expert_scale = t->expert_scale;
    return MOE_OK;
}

static moe_status moe__matrix_init(moe_layer *L, moe__matrix *m, const moe_tensor *t, const char *name, int n_exp,
                                   int rows, int cols, int part, moe_gate_up_layout lay)
{
    size_t rb, per, tmp;
    moe_status s;
    int e;
    memset(m, 0, sizeof *m);
    if (!moe__enum_ok((int)t->type, MOE_TYPE_COUNT - 1)) return MOE__FAILN(MOE_ERR_WEIGHTS, name, "unknown moe_type", (int)t->type);
    if (t->data && t->expert_data) return MOE__FAIL(MOE_ERR_WEIGHTS, name, "both data and expert_data are set; give one");
    if ((s = moe__scale_init(L, m, t, name, n_exp, rows * (part ? 2 : 1), cols))) return s;
    rb = m->scale_kind == MOE__XS_E8M0_32 ? (size_t)cols / 2 : moe_type_row_size(t->type, (size_t)cols);
    if (rb == 0)                                            /* quantised: cols not whole blocks */
        return moe__failf(L, MOE_ERR_WEIGHTS, "%s: %s rows are whole blocks of %zu values; columns: %d",
                          name, moe_type_name(t->type), moe__traits[t->type].blck, cols);
    if (!moe__mul(rb, (size_t)rows * (part ? 2u : 1u), &per) || !moe__mul(per, (size_t)n_exp, &tmp))
        return MOE__FAIL(MOE_ERR_OVERFLOW, name, "its size in bytes overflows size_t");
    if (!t->data)
        for (e = 0; e < n_exp; e++)
            if (!t->expert_data[e]) return MOE__FAILN(MOE_ERR_WEIGHTS, name, "expert_data[e] is NULL for e =", e);
    if (t->type == MOE_TYPE_F32) {                          /* read as float: must be aligned */
        if (t->data && ((uintptr_t)t->data % sizeof(float))) return MOE__FAIL(MOE_ERR_ALIGN, name, "f32 data is not 4-byte aligned");
        if (!t->data)
            for (e = 0; e < n_exp; e++)
                if ((uintptr_t)t->expert_data[e] % sizeof(float))
                    return MOE__FAILN(MOE_ERR_ALIGN, name, "f32 expert_data[e] is not 4-byte aligned, e =", e);
    }
    m->type = t->type;
    m->data = (const unsigned char *)t->data;
    m->expert_data = t->data ? NULL : t->expert_data;
    m->expert_stride = per;
    m->rows = rows; m->cols = cols;
    m->row_stride = rb;
    if (part && lay == MOE_GATE_UP_INTERLEAVED) { m->row_stride = 2 * rb; m->row_mul = 2; m->row_add = part == 2; }
    else if (part == 2) m->row_add = rows;
    m->row_offset = rb * (size_t)m->row_add;
    return MOE_OK;
}
static int moe__has(const moe_tensor *t) { return t->data != NULL || t->expert_data != NULL; }
static const unsigned char *moe__base(const moe__matrix *m, int e)
{
    if (m->expert_data) return (const unsigned char *)m->expert_data[e] + m->row_offset;
    return m->data + (size_t)e * m->expert_stride + m->row_offset;
}
static int moe__misaligned(const float *p) { return p && (uintptr_t)p % sizeof(float) != 0; }
static int moe__dim_ok(int v) { return v >= 1 && v <= MOE_MAX_DIM; }
/* work units of one phase for n experts of hidden width ff (and d_model D), at worst: a unit
   holds at least NRO rows (moe__nbk) */
static size_t moe__units(size_t n, int ff, int D)
{
    size_t mx = (size_t)(ff > D ? ff : D);
    return n * ((mx + MOE__NRO - 1) / MOE__NRO);            /* n <= 2^16, mx <= 2^26: no overflow */
}

/* The config's checks, each with the field it names. Fields the layer does not use (d_ff_shared
   without shared experts, topk_group without groups, the SWIGLU_OAI constants for other
   activations) are not checked, and are zeroed in the layer's copy. */
static moe_status moe__config_check(moe_layer *L, moe_config *c)
{
    int E = c->n_experts;
    if (!moe__dim_ok(c->d_model)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.d_model", "must be in [1, MOE_MAX_DIM]; got", c->d_model);
    if (!moe__dim_ok(c->d_ff)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.d_ff", "must be in [1, MOE_MAX_DIM]; got", c->d_ff);
    if (E < 1 || E > MOE_MAX_EXPERTS) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_experts", "must be in [1, MOE_MAX_EXPERTS]; got", E);
    if (c->top_k < 1 || c->top_k > E) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.top_k", "must be in [1, n_experts]; got", c->top_k);
    if (!moe__enum_ok((int)c->act, MOE_ACT_SWIGLU_OAI)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.act", "unknown moe_act", (int)c->act);
    if (!moe__enum_ok((int)c->score, MOE_SCORE_SOFTMAX_TOPK)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.score", "unknown moe_score", (int)c->score);
    if (!moe__enum_ok((int)c->batch_quant, MOE_BATCH_INT8)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.batch_quant", "unknown moe_batch_quant", (int)c->batch_quant);
    if (!moe__enum_ok((int)c->batch_bf16, MOE_BF16_DOT)) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.batch_bf16", "unknown moe_batch_bf16", (int)c->batch_bf16);
    if (c->batch_amx != 0 && c->batch_amx != 1) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.batch_amx", "must be 0 or 1; got", c->batch_amx);
    if (!moe__finite(c->routed_scale)) return MOE__FAIL(MOE_ERR_CONFIG, "cfg.routed_scale", "is NaN or Inf");
    if (c->routed_scale == 0.0f)
        return MOE__FAIL(MOE_ERR_CONFIG, "cfg.routed_scale", "is 0, so every routed output is 0 (start from moe_config_default())");
    if (c->act == MOE_ACT_SWIGLU_OAI) {
        if (!moe__finite(c->oai_alpha)) return MOE__FAIL(MOE_ERR_CONFIG, "cfg.oai_alpha", "is NaN or Inf");
        if (!moe__finite(c->oai_limit) || !(c->oai_limit >= 0.0f)) return MOE__FAIL(MOE_ERR_CONFIG, "cfg.oai_limit", "must be finite and >= 0");
    } else {
        c->oai_alpha = 0.0f; c->oai_limit = 0.0f;
    }
    if (c->n_threads < 0 || c->n_threads > 4096) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_threads", "must be in [0, 4096]; got", c->n_threads);
    if (c->n_group < 0) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_group", "must be >= 0; got", c->n_group);
    if (c->n_group > 1) {
        int gs = E / c->n_group;
        if (E % c->n_group) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_group", "must divide n_experts; got", c->n_group);
        if (c->topk_group < 1 || c->topk_group > c->n_group)
            return MOE__FAILN(MOE_ERR_CONFIG, "cfg.topk_group", "must be in [1, n_group]; got", c->topk_group);
        if (c->top_k > c->topk_group * gs)
            return MOE__FAILN(MOE_ERR_CONFIG, "cfg.top_k", "exceeds the experts of topk_group groups:", c->topk_group * gs);
        if (!moe__enum_ok((int)c->group_score, MOE_GROUP_TOP2_SUM))
            return MOE__FAILN(MOE_ERR_CONFIG, "cfg.group_score", "unknown moe_group_score", (int)c->group_score);
        if (c->group_score == MOE_GROUP_TOP2_SUM && gs < 2)
            return MOE__FAIL(MOE_ERR_CONFIG, "cfg.group_score", "MOE_GROUP_TOP2_SUM needs groups of at least 2 experts");
    } else {
        c->n_group = 0; c->topk_group = 0; c->group_score = MOE_GROUP_MAX;
    }
    if (c->n_shared < 0) return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_shared", "must be >= 0; got", c->n_shared);
    if (c->n_shared > MOE_MAX_EXPERTS - E)
        return MOE__FAILN(MOE_ERR_CONFIG, "cfg.n_shared", "n_experts + n_shared exceeds MOE_MAX_EXPERTS; n_shared:", c->n_shared);
    if (c->n_shared > 0 && !moe__dim_ok(c->d_ff_shared))
        return MOE__FAILN(MOE_ERR_CONFIG, "cfg.d_ff_shared", "must be in [1, MOE_MAX_DIM] with shared experts; got", c->d_ff_shared);
    if (c->n_shared == 0) c->d_ff_shared = 0;
    /* one token's work units must count in an int (moe__make_plan checks each batch) */
    if (moe__units((size_t)c->top_k, c->d_ff, c->d_model) + moe__units((size_t)c->n_shared, c->d_ff_shared, c->d_model) > (size_t)INT_MAX / 2)
        return MOE__FAIL(MOE_ERR_OVERFLOW, "cfg", "top_k x d_ff is too large: one token's work units overflow an int");
    return MOE_OK;
}

MOE__API moe_status moe_layer_init(moe_layer *L, const moe_config *cfg, const moe_weights *w)
{
    moe_config c;
    moe_status s;
    int E, gated, fused;
    if (!L) return MOE_ERR_NULL;
    memset(L, 0, sizeof *L);
    if (!cfg || !w) return MOE__FAIL(MOE_ERR_NULL, cfg ? "weights" : "cfg", "is NULL");
    if (cfg->path != MOE_PATH_AUTO && cfg->path != MOE__PATH_THIS)
        return moe__failf(L, (unsigned)cfg->path < (unsigned)MOE_PATH_COUNT ? MOE_ERR_UNSUPPORTED : MOE_ERR_CONFIG,
                          "config.path: %s is not built (this build has %s only; MOE_DISPATCH builds them all)",
                          moe_path_name(cfg->path), moe_path_name(MOE__PATH_THIS));
    {   /* the byte order moe.h was built for (MOE__BE) must be the host's */
        const uint32_t one = 1;
        unsigned char lo;
        memcpy(&lo, &one, 1);
        if ((lo == 0) != MOE__BE)
            return MOE__FAIL(MOE_ERR_UNSUPPORTED, "moe.h", MOE__BE ? "was built for a big-endian host, and this one is little-endian"
                                                                   : "was built for a little-endian host, and this one is big-endian: define MOE_BIG_ENDIAN");
    }
    c = *cfg;
    if ((s = moe__config_check(L, &c))) return s;
    E = c.n_experts;
    if (!moe__enum_ok((int)w->gate_up_layout, MOE_GATE_UP_INTERLEAVED))
        return MOE__FAILN(MOE_ERR_CONFIG, "weights.gate_up_layout", "unknown moe_gate_up_layout", (int)w->gate_up_layout);
    gated = moe__gated(c.act);
    fused = moe__has(&w->gate_up);
    if (!moe__has(&w->router)) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.router", "is missing");
    if (!w->router.data) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.router", "must be one stacked matrix (data), not expert_data");
    if (!moe__has(&w->down)) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.down", "is missing");
    if (fused && (moe__has(&w->gate) || moe__has(&w->up)))
        return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.gate_up", "is given together with weights.gate or weights.up; give one form");
    if (!fused && !moe__has(&w->up)) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.up", "is missing (and no weights.gate_up)");
    if (!fused && gated && !moe__has(&w->gate))
        return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.gate", "is missing: the activation is gated (and no weights.gate_up)");
    if (w->gate_up_bias && (w->gate_bias || w->up_bias))
        return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.gate_up_bias", "is given together with gate_bias or up_bias; give one form");
    if (moe__misaligned(w->router_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.router_bias", "is not 4-byte aligned");
    if (moe__misaligned(w->selection_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.selection_bias", "is not 4-byte aligned");
    if (moe__misaligned(w->gate_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.gate_bias", "is not 4-byte aligned");
    if (moe__misaligned(w->up_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.up_bias", "is not 4-byte aligned");
    if (moe__misaligned(w->gate_up_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.gate_up_bias", "is not 4-byte aligned");
    if (moe__misaligned(w->down_bias)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.down_bias", "is not 4-byte aligned");
    if ((s = moe__matrix_init(L, &L->router, &w->router, "weights.router", 1, E, c.d_model, 0, MOE_GATE_UP_HALVES))) return s;
    if (fused) {
        if ((s = moe__matrix_init(L, &L->gate, &w->gate_up, "weights.gate_up", E, c.d_ff, c.d_model, 1, w->gate_up_layout))) return s;
        if ((s = moe__matrix_init(L, &L->up, &w->gate_up, "weights.gate_up", E, c.d_ff, c.d_model, 2, w->gate_up_layout))) return s;
    } else {
        if (gated && (s = moe__matrix_init(L, &L->gate, &w->gate, "weights.gate", E, c.d_ff, c.d_model, 0, MOE_GATE_UP_HALVES))) return s;
        if ((s = moe__matrix_init(L, &L->up, &w->up, "weights.up", E, c.d_ff, c.d_model, 0, MOE_GATE_UP_HALVES))) return s;
    }
    if ((s = moe__matrix_init(L, &L->down, &w->down, "weights.down", E, c.d_model, c.d_ff, 0, MOE_GATE_UP_HALVES))) return s;
    if (c.n_shared > 0) {                          /* without shared experts their fields are ignored */
        if (!moe__has(&w->shared_up)) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.shared_up", "is missing (cfg.n_shared > 0)");
        if (!moe__has(&w->shared_down)) return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.shared_down", "is missing (cfg.n_shared > 0)");
        if (gated && !moe__has(&w->shared_gate))
            return MOE__FAIL(MOE_ERR_WEIGHTS, "weights.shared_gate", "is missing (cfg.n_shared > 0, gated activation)");
        if (moe__misaligned(w->shared_gate_w)) return MOE__FAIL(MOE_ERR_ALIGN, "weights.shared_gate_w", "is not 4-byte aligned");
        if (gated && (s = moe__matrix_init(L, &L->sgate, &w->shared_gate, "weights.shared_gate", c.n_shared, c.d_ff_shared, c.d_model, 0, MOE_GATE_UP_HALVES))) return s;
        if ((s = moe__matrix_init(L, &L->sup, &w->shared_up, "weights.shared_up", c.n_shared, c.d_ff_shared, c.d_model, 0, MOE_GATE_UP_HALVES))) return s;
        if ((s = moe__matrix_init(L, &L->sdown, &w->shared_down, "weights.shared_down", c.n_shared, c.d_model, c.d_ff_shared, 0, MOE_GATE_UP_HALVES))) return s;
    }
    /* biases: [E][d_ff] each, or one fused [E][2*d_ff] in the gate_up layout */
    if (w->gate_up_bias) {
        int il = w->gate_up_layout == MOE_GATE_UP_INTERLEAVED;
        L->gate_bias.p = w->gate_up_bias;
        L->up_bias.p = w->gate_up_bias + (il ? 1 : c.d_ff);
        L->gate_bias.expert_stride = L->up_bias.expert_stride = 2 * (size_t)c.d_ff;
        L->gate_bias.stride = L->up_bias.stride = il ? 2 : 1;
    } else {
        L->gate_bias.p = w->gate_bias; L->gate_bias.expert_stride = (size_t)c.d_ff; L->gate_bias.stride = 1;
        L->up_bias.p = w->up_bias;     L->up_bias.expert_stride = (size_t)c.d_ff;   L->up_bias.stride = 1;
    }
    L->down_bias.p = w->down_bias; L->down_bias.expert_stride = (size_t)c.d_model; L->down_bias.stride = 1;
    L->router_bias = w->router_bias;
    L->selection_bias = w->selection_bias;
    L->shared_gate_w = c.n_shared > 0 ? w->shared_gate_w : NULL;
    L->any_quant = MOE__BE || L->router.type != MOE_TYPE_F32 || L->up.type != MOE_TYPE_F32 || L->down.type != MOE_TYPE_F32 ||
                   (gated && L->gate.type != MOE_TYPE_F32) ||
                   (c.n_shared > 0 && (L->sup.type != MOE_TYPE_F32 || L->sdown.type != MOE_TYPE_F32 ||
                                       (gated && L->sgate.type != MOE_TYPE_F32)));
    L->n_threads = c.n_threads;
    if (L->n_threads == 0) {
#ifdef _OPENMP
        L->n_threads = omp_get_max_threads();
#else
        L->n_threads = 1;
#endif
        if (L->n_threads < 1) L->n_threads = 1;
        if (L->n_threads > 4096) L->n_threads = 4096;
    }
    if (c.batch_amx) {
#ifdef MOE__AMX
        if (!moe__amx_usable())
            return MOE__FAIL(MOE_ERR_UNSUPPORTED, "cfg.batch_amx", "AMX tiles are not usable here: the CPU lacks AMX-TILE/INT8/BF16, "
                                                                   "or the OS has not given this process the tile state (call moe_amx_enable() first)");
        L->amx = 1;
#else
        return MOE__FAIL(MOE_ERR_UNSUPPORTED, "cfg.batch_amx", "this build has no AMX path (a static AVX-512 build with MOE_AMX "
                                                               "and -mamx-tile -mamx-int8 -mamx-bf16; never MOE_DISPATCH)");
#endif
    }
    L->cfg = c;
    L->path = MOE__PATH_THIS;
    L->magic = MOE__MAGIC;
    return MOE_OK;
}

/* ================================== workspace plan ======================================= */
/* some expert matrix has an integer-dot family: the layer uses the integer kernels (and their qx rows) */
static int moe__expert_q(const moe_layer *L)
{
    int g = moe__gated(L->cfg.act), q = (g && moe__isq(L->gate.type)) || moe__isq(L->up.type) || moe__isq(L->down.type);
    if (L->cfg.n_shared > 0)
        q = q || (g && moe__isq(L->sgate.type)) || moe__isq(L->sup.type) || moe__isq(L->sdown.type);
    return q;
}
typedef struct moe__plan {
    size_t logits, ids, wts, coef, pos, count, off, up, ug, ud, list, xoff, hoff, H, XY, scratch;
    size_t per_worker, panel, tmp, score, qx, total;
    size_t QX, QH, qxb, qhb;        /* integer batches: quantised input / hidden panels, bytes per token */
} moe__plan;
/* the routed (sh = 0) or shared experts run batches as integer GEMMs (moe__ib_tile): the mode
   asks for it, this path has the kernel, and all of their matrices are integer-batch types
   (MOE__IBQP: MOE__IBQ less Q6_K and Q3_K on AVX2). *pl gets the activation planes their types read (MOE__IBPL) or'ed in. */
/* the integer-batch form of a matrix of type t in L: Q8_0 under MOE_BATCH_INT8 (VNNI paths) is
   MOE__Q8B, byte tiles against the q1 plane */
static moe_type moe__ibt(const moe_layer *L, moe_type t)
{
    return t == MOE_TYPE_Q8_0 && MOE__IBQ8B && L->cfg.batch_quant == MOE_BATCH_INT8 ? MOE__Q8B : t;
}
static int moe__ib_kind(const moe_layer *L, int sh, int *pl)
{
    const moe__matrix *m[3];
    int g = moe__gated(L->cfg.act), i, ok = 1, p = 0;
    m[0] = sh ? &L->sgate : &L->gate; m[1] = sh ? &L->sup : &L->up; m[2] = sh ? &L->sdown : &L->down;
#ifndef MOE__IB
    ok = 0;
#endif
    if (sh && L->cfg.n_shared < 1) ok = 0;
    for (i = g ? 0 : 1; i < 3 && ok; i++) {
        moe_type t = m[i]->type;
#ifdef MOE__BFDOT               /* BF16 rows on vdpbf16ps: whole blocks of 32 (the panels' unit) */
        if (t == MOE_TYPE_BF16 && L->cfg.batch_bf16 == MOE_BF16_DOT && m[i]->cols % MOE__QK == 0) { p |= 8; continue; }
#endif
        ok = (L->cfg.batch_quant == MOE_BATCH_INT || L->cfg.batch_quant == MOE_BATCH_INT8) && MOE__IBQP(t);
        p |= moe__ibt(L, t) == MOE__Q8B ? 1 : MOE__IBPL(t);
    }
    if (ok && pl) *pl |= p;
    return ok;
}

static size_t moe__cap(size_t n, size_t most) { return n < most ? n : most; }
static size_t moe__capf(size_t n, size_t f, size_t m) { return m > (size_t)-1 / f ? n : moe__cap(n, f * m); }   /* min(n, f m) */
static int moe__seg(size_t *at, size_t *total, size_t n, size_t elem)
{
    size_t b, t;
    if (!moe__mul(n, elem, &b) || !moe__add(*total, MOE__ALIGN - 1, &t)) return 0;
    *at = t - t % MOE__ALIGN;
    return moe__add(*at, b, total);
}

/* The workspace, all sizes checked. XY holds each expert's packed inputs during the gate/up
   phase and the per-slot expert outputs afterwards; H the hidden activations. Experts' token
   counts are padded to whole groups of G tokens. */
static int moe__make_plan(const moe_layer *L, int T, moe__plan *p)
{
    const moe_config *c = &L->cfg;
    size_t E = (size_t)c->n_experts, k = (size_t)c->top_k, S = (size_t)c->n_shared, slots = k + S;
    size_t G = MOE__G, D = (size_t)c->d_model, ff = (size_t)c->d_ff, ffs = (size_t)c->d_ff_shared;
    size_t tslots, hr, hs, xy, y, pf = 0, t1 = 0, t2 = 0, b, pfac;
    int ok, ib;
    memset(p, 0, sizeof *p);
    if (!moe__mul((size_t)T, slots, &tslots) || tslots > (size_t)INT_MAX / 2) return 0;
    /* work units of the gate/up and down phases count in an int: at most min(E, T*k) experts
       with tokens, plus the shared ones */
    if (moe__units(moe__cap((size_t)T * k, E), c->d_ff, c->d_model) + moe__units(S, c->d_ff_shared, c->d_model) > (size_t)INT_MAX / 2)
        return 0;
    /* Only experts with >= OMIN tokens are padded, to whole groups of G = 2*OMIN tokens: at most
       G-1 rows each, and at most as many rows as they have tokens. */
    /* integer batches move the layer's threshold to QM + 1 tokens on every path (moe__omin): an
       expert of QM + 1 tokens pads to G, up to ceil(G / (QM + 1)) times its tokens */
    ib = T > MOE__QM && (moe__ib_kind(L, 0, NULL) || moe__ib_kind(L, 1, NULL));
    pfac = ib && (G + MOE__QM) / (MOE__QM + 1) > 2 ? (G + MOE__QM) / (MOE__QM + 1) : 2;
    ok = moe__mul(moe__capf((size_t)T * k + E * G, pfac, (size_t)T * k), ff, &hr)
      && moe__mul(S * moe__capf((size_t)T + G, pfac, (size_t)T), ffs, &hs) && moe__add(hr, hs, &hr)
      && moe__mul(moe__capf(tslots + (E + S) * G, pfac, tslots), D, &xy) && moe__mul(tslots, D, &y);
    if (!ok) return 0;
    if (y > xy) xy = y;
    if (L->any_quant) {                 /* decoded weight panels: gate + up, or down; a unit */
        size_t gu = ff > ffs ? ff : ffs;    /* never holds more rows than its matrix has      */
        ok = moe__mul(2 * moe__cap(moe__panel_rows(c->d_model), gu), D, &pf);
        ok = ok && moe__mul(moe__cap((size_t)MOE__NBD, E), D, &b);           /* router */
        if (ok && b > pf) pf = b;
        ok = ok && moe__mul(moe__cap(moe__panel_rows(c->d_ff), D), ff, &b);
        if (ok && b > pf) pf = b;
        if (S) {
            ok = ok && moe__mul(moe__cap(moe__panel_rows(c->d_ff_shared), D), ffs, &b);
            if (ok && b > pf) pf = b;
        }
        if (!ok) return 0;
    }
    if (ib) {
        /* (no expert gets more than T tokens) repacked tiles of NI rows (gate + up, or down) fit the panel; quantised panels for
           every padded token (as XY's count), of d_model and of the widest hidden row of the integer-batch experts only: their
           widths are whole blocks of 32, so the panels' bytes per token stay a multiple of 8 (a shared expert that is not one
           may be 36 wide: sizing by it made the token stride 117 bytes and the panels' floats misaligned) */
        int pl = 0, kr = moe__ib_kind(L, 0, &pl), ks = moe__ib_kind(L, 1, &pl);
        size_t kh = kr && ks ? (ff > ffs ? ff : ffs) : kr ? ff : ffs, np = moe__capf(tslots + (E + S) * G, pfac, tslots), pi;
        size_t tbm = moe__ib_tilebytes(MOE_TYPE_Q8_0, D > kh ? D : kh), tb2 = moe__ib_tilebytes(MOE_TYPE_Q2_K, D > kh ? D : kh);
        MOE_ASSERT(D % MOE__QK == 0 && kh % MOE__QK == 0);
        ok = moe__mul(2 * (size_t)MOE__NI / MOE__IR, tbm > tb2 ? tbm : tb2, &pi);   /* the largest tiles: Q8_0's, or Q2_K's on NEON */
        pi = pi / sizeof(float) + 1;
        if (pi > pf) pf = pi;
        p->qxb = moe__ib_tokbytes(D, pl); p->qhb = moe__ib_tokbytes(kh, pl);
        ok = ok && moe__mul(np, p->qxb, &p->QX) && moe__mul(np, p->qhb, &p->QH);
#ifdef MOE__AMX
        if (L->amx) ok = ok && moe__add(p->QX, MOE__AMXPAD, &p->QX) && moe__add(p->QH, MOE__AMXPAD, &p->QH);
#endif
        if (!ok) return 0;
    }
    p->panel = pf;
    /* gate/up tiles: up to FEW-1 token rows of NBMAX (dot path), NB1 rows (one token) or NRO x G
       (batched path) */
    p->tmp = moe__cap((size_t)MOE__FEW, (size_t)T) * MOE__NBMAX;
    if (p->tmp < (size_t)MOE__NRO * MOE__G) p->tmp = (size_t)MOE__NRO * MOE__G;
    if (p->tmp < (size_t)MOE__NB1) p->tmp = MOE__NB1;
    p->score = (5 * E + 15) / 16 * 16;
    if (moe__expert_q(L)) {          /* up to QM tokens' quantised rows (qx) and a 64-byte tag */
        size_t kq = D > ff ? D : ff;
        if (ffs > kq) kq = ffs;
        if (!moe__mul(kq, MOE__QX_BYTES(1), &p->qx)) return 0;
        if (p->qx < MOE__QXK_BYTES(kq)) p->qx = MOE__QXK_BYTES(kq);      /* kq <= MAX_DIM: no overflow */
        if (!moe__mul(p->qx, moe__cap((size_t)MOE__QM, (size_t)T), &p->qx)) return 0;
        p->qx = 16 + (p->qx / 4 + 15) / 16 * 16;
    }
    ok = moe__add(pf, 2 * p->tmp + p->score, &t1) && moe__add(t1, p->qx, &t1)
      && moe__mul(t1, sizeof(float), &t1) && moe__add(t1, MOE__ALIGN, &t1);
    if (!ok) return 0;
    p->per_worker = t1 - t1 % MOE__ALIGN;
    ok = moe__seg(&p->logits, &t2, (size_t)T * E, sizeof(float))
      && moe__seg(&p->ids, &t2, (size_t)T * k, sizeof(int))
      && moe__seg(&p->wts, &t2, (size_t)T * k, sizeof(float))
      && moe__seg(&p->coef, &t2, tslots, sizeof(float))
      && moe__seg(&p->pos, &t2, tslots, sizeof(int))
      && moe__seg(&p->count, &t2, E + S, sizeof(int))
      && moe__seg(&p->off, &t2, E + S + 1, sizeof(int))
      && moe__seg(&p->up, &t2, E + S + 1, sizeof(int))
      && moe__seg(&p->ug, &t2, E + S + 1, sizeof(int))
      && moe__seg(&p->ud, &t2, E + S + 1, sizeof(int))
      && moe__seg(&p->list, &t2, tslots, sizeof(int))
      && moe__seg(&p->xoff, &t2, E + S, sizeof(size_t))
      && moe__seg(&p->hoff, &t2, E + S, sizeof(size_t))
      && moe__seg(&p->H, &t2, hr, sizeof(float))
      && moe__seg(&p->XY, &t2, xy, sizeof(float))
      && moe__seg(&p->QX, &t2, p->QX, 1)
      && moe__seg(&p->QH, &t2, p->QH, 1)
      && moe__seg(&p->scratch, &t2, (size_t)L->n_threads, p->per_worker)
      && moe__add(t2, MOE__ALIGN, &p->total);           /* room to align the caller's pointer */
    return ok;
}

MOE__API size_t moe_workspace_size(const moe_layer *L, int n_tokens)
{
    moe__plan p;
    if (!L || L->magic != MOE__MAGIC || n_tokens < 1) return 0;
    if (!moe__make_plan(L, n_tokens, &p)) return 0;
    return p.total;
}

/* ---- moe_prepack: the integer-batch matrices' tiles, made once -----------------------------
   Matrix j (gate, up, down, shared gate, up, down) of expert e: ceil(rows / IR) tiles of
   moe__ib_tilebytes(type, cols) at off[j] + e * es[j] (es a multiple of MOE__ALIGN), exactly
   what moe__ib_pack writes for a unit (whose rows start at a multiple of NI, so the unit's tile
   i is the matrix's tile n0 / IR + i, and the last tile's rows past the matrix are zero). */
static const moe__matrix *moe__pk_mat(const moe_layer *L, int j)
{
    const moe__matrix *m[6];
    m[0] = &L->gate; m[1] = &L->up; m[2] = &L->down; m[3] = &L->sgate; m[4] = &L->sup; m[5] = &L->sdown;
    return m[j];
}
/* the offsets and the total (MOE__ALIGN - 1 bytes of slack for the caller's alignment included;
   0 when nothing is packed); 0 on overflow */
static int moe__pk_plan(const moe_layer *L, size_t *off, size_t *es, size_t *total)
{
    int j, g = moe__gated(L->cfg.act);
    size_t t = 0;
    for (j = 0; j < 6; j++) {
        const moe__matrix *M = moe__pk_mat(L, j);
        size_t n = j < 3 ? (size_t)L->cfg.n_experts : (size_t)L->cfg.n_shared, tiles, b;
        off[j] = es[j] = 0;
#ifdef MOE__IB
        if ((j % 3 == 0 && !g) || !moe__ib_kind(L, j >= 3, NULL) || M->type == MOE_TYPE_BF16) continue;
        tiles = ((size_t)M->rows + MOE__IR - 1) / MOE__IR;
        if (!moe__mul(tiles, moe__ib_tilebytes(moe__ibt(L, M->type), (size_t)M->cols), &b) || !moe__add(b, MOE__ALIGN - 1, &b)) return 0;
        es[j] = b - b % MOE__ALIGN;
        off[j] = t;
        if (!moe__mul(n, es[j], &b) || !moe__add(t, b, &t)) return 0;
#else
        (void)M; (void)n; (void)tiles; (void)b; (void)g;
#endif
    }
    if (t && !moe__add(t, MOE__ALIGN - 1, &t)) return 0;
    *total = t;
    return 1;
}
/* the pre-packed tiles of matrix j's rows from n0 for expert ee, or NULL (pack them) */
static const unsigned char *moe__pk_tiles(const moe_layer *L, int j, int ee, int n0, size_t tb)
{
    if (!L->pk || !L->pk_es[j]) return NULL;
    return L->pk + L->pk_off[j] + (size_t)ee * L->pk_es[j] + (size_t)(n0 / MOE__IR) * tb;
}
MOE__API size_t moe_prepack_size(const moe_layer *L)
{
    size_t off[6], es[6], t;
    if (!L || L->magic != MOE__MAGIC || !moe__pk_plan(L, off, es, &t)) return 0;
    return t;
}
MOE__API moe_status moe_prepack(moe_layer *L, void *buf, size_t size)
{
    size_t off[6], es[6], need;
    unsigned char *base;
    int n, i;
    if (!L) return MOE_ERR_NULL;
    if (L->magic != MOE__MAGIC) return MOE_ERR_LAYER;
    L->pk = NULL;
    memset(L->pk_off, 0, sizeof L->pk_off); memset(L->pk_es, 0, sizeof L->pk_es);
    L->error[0] = 0;
    if (!buf) return size ? moe__notef(L, MOE_ERR_NULL, "moe_prepack: buf is NULL but size is %zu (NULL, 0 detaches)", size) : MOE_OK;
    if (!moe__pk_plan(L, off, es, &need)) return moe__notef(L, MOE_ERR_OVERFLOW, "moe_prepack: the tiles' size overflows size_t");
    if (!need) return MOE_OK;                                   /* nothing runs integer batches */
    if (size < need)
        return moe__notef(L, MOE_ERR_WORKSPACE, "moe_prepack: buffer of %zu bytes, %zu short of moe_prepack_size()'s %zu",
                          size, need - size, need);
    base = (unsigned char *)buf;
    base += (MOE__ALIGN - (size_t)((uintptr_t)base % MOE__ALIGN)) % MOE__ALIGN;
    n = L->cfg.n_experts + L->cfg.n_shared;                     /* one task an expert (all its matrices) */
    {
#ifdef _OPENMP
        int nt = L->n_threads > 1 ? L->n_threads : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
        for (i = 0; i < n; i++) {
            int j, sh = i >= L->cfg.n_experts, ee = sh ? i - L->cfg.n_experts : i;
            for (j = sh ? 3 : 0; j < (sh ? 6 : 3); j++) {
#ifdef MOE__IB
                const moe__matrix *M = moe__pk_mat(L, j);
                if (es[j]) moe__ib_mpack(M, moe__ibt(L, M->type), ee, 0, M->rows, base + off[j] + (size_t)ee * es[j], L->amx);
#else
                (void)ee;               /* (never reached: nothing to pack without the kernels) */
#endif
            }
        }
    }
    memcpy(L->pk_off, off, sizeof off); memcpy(L->pk_es, es, sizeof es);
    L->pk = base;
    return MOE_OK;
}

/* ==================================== forward pass ======================================= */
static int moe__omin(const moe_layer *L)
{
    /* with integer batches, experts of QM + 1 tokens or more are batched on every path, so all
       paths quantise the same experts */
    int ib = moe__ib_kind(L, 0, NULL) || moe__ib_kind(L, 1, NULL);
    return moe__expert_q(L) && (MOE__OMIN <= MOE__QM || ib) ? MOE__QM + 1 : MOE__OMIN;
}

typedef struct moe__ctx {
    const moe_layer *L;
    const float *x;
    float *y;
    int T, k, S, slots, E, phase, nt, bad_worker, capacity, omin;
    const int *rids;                /* the caller's routing, or NULL */
    const float *rwts;
    int e_lo, e_hi, skip_shared;    /* the shard: routed experts [e_lo, e_hi), shared ones unless skip_shared */
    int run_experts;                /* y or slot_out wanted: not routing only */
    float *logits, *wts, *coef, *H, *XY;
    int *ids, *pos, *count, *off, *up, *ug, *ud, *list;
    size_t *xoff, *hoff;
    unsigned char *scratch;
    size_t per_worker, panel_floats, tmp_floats, qx_at;
    int nbr;
    int ib[2], ibp;                 /* integer batches: routed / shared experts; the panels' planes */
    unsigned char *QX, *QH;         /* their quantised panels, qxb / qhb bytes per token          */
    size_t qxb, qhb;
} moe__ctx;
/* expert e runs this call's batch as integer GEMMs */
static int moe__ib_e(const moe__ctx *c, int e) { return c->count[e] >= c->omin && c->ib[e >= c->E]; }


/* Pointers to rows n0..n0+nb of matrix m of expert e as f32: in place for f32, else decoded
   into the panel. */
/* row n of matrix m of expert e (its bytes at r) as f32, with its external scales if it has them */
static void moe__decode_scaled(const moe__matrix *m, int e, int n, const unsigned char *r, float *dst)
{
    const unsigned char *sb = moe__row_scale(m, e, n);
    int c, c1, i;
    if (m->scale_kind == MOE__XS_E8M0_32) {
#ifdef MOE_SIMD_NEON
        for (c = 0; c < m->cols / 32; c++) moe__mxfp4_neon(r + 16 * (size_t)c, sb[c], 1, dst + 32 * (size_t)c);
#else
        moe__traits[m->type].to_float_split(r, sb, (size_t)m->cols / 32, dst);
#endif
        return;
    }
    MOE_ASSERT(m->scale_kind == MOE__XS_F32_BLOCK);
#ifdef MOE__HAVE_F8ROW
    if (m->type == MOE_TYPE_F8_E4M3) { moe__f8_decode_row(r, m->cols, sb, m->scale_cols, dst); return; }
#endif
    moe__decode_row(m->type, r, m->cols, dst);
    for (c = 0; c < m->cols; c = c1) {
        float sc = moe__rdf32(sb);
        c1 = c + m->scale_cols < m->cols ? c + m->scale_cols : m->cols;
        for (i = c; i < c1; i++) dst[i] *= sc;
        sb += 4;
    }
}
static void moe__rows(const moe__matrix *m, int e, int n0, int nb, float *panel, const float **out)
{
    const unsigned char *base = moe__base(m, e);
    int j;
    for (j = 0; j < nb; j++) {
        const unsigned char *r = base + (size_t)(n0 + j) * m->row_stride;
        float *dst = panel + (size_t)j * (size_t)m->cols;
        if (m->type == MOE_TYPE_F32 && !MOE__BE) { out[j] = (const float *)(const void *)r; continue; }
        if (m->scale_kind) moe__decode_scaled(m, e, n0 + j, r, dst);
        else moe__decode_row(m->type, r, m->cols, dst);
        out[j] = dst;
    }
}

/* Ranking key of a score: unsigned, in the order of the floats, with NaN below everything
   (-Inf included) and -0 equal to +0. Integer keys keep the tie rule (strict >, the lower
   index wins) and the NaN rule exact under -ffast-math, where float comparisons and
   max-reductions may be reordered or assume no NaN. */
static uint32_t moe__okey(float v)
{
    uint32_t u = moe__f_bits(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0;               /* NaN ranks lowest */
    if ((u & 0x7fffffffu) == 0) u = 0;                             /* -0 ties with +0 */
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
#define MOE__FMAX 3.402823466e38f        /* a finite start for max scans (-ffast-math folds Inf) */

static void moe__ph_router(moe__ctx *c, int unit, float *panel)
{
    const moe_layer *L = c->L;
    const float *wr[MOE__NBMAX], *xr[MOE__MC];
    float *out[MOE__MC];
    int n0 = unit * c->nbr, nb = L->cfg.n_experts - n0, t0, i, D = L->cfg.d_model;
    if (nb > c->nbr) nb = c->nbr;
    moe__rows(&L->router, 0, n0, nb, panel, wr);
    for (t0 = 0; t0 < c->T; t0 += MOE__MC) {
        int mt = c->T - t0 < MOE__MC ? c->T - t0 : MOE__MC;
        for (i = 0; i < mt; i++) {
            xr[i] = c->x + (size_t)(t0 + i) * (size_t)D;
            out[i] = c->logits + (size_t)(t0 + i) * (size_t)c->E + (size_t)n0;
        }
        moe__gemm(D, xr, mt, wr, nb, out);
    }
}

/* Token t's combine coefficients from its routing weights wt; Llama 4 scales the input
   instead (in the pack phase); shared slots take the shared gate's sigmoid, or 1 */
static void moe__coefs(moe__ctx *c, int t, const float *wt)
{
    const moe_layer *L = c->L;
    const moe_config *cf = &L->cfg;
    const float *xt = c->x + (size_t)t * (size_t)cf->d_model;
    int j, k = c->k, D = cf->d_model;
    for (j = 0; j < k; j++)
        c->coef[(size_t)t * (size_t)c->slots + (size_t)j] = cf->weight_on_input ? 1.0f : wt[j];
    for (j = 0; j < c->S; j++) {
        float v = 1.0f;
        if (L->shared_gate_w) {
            const float *gw = L->shared_gate_w + (size_t)j * (size_t)D;
            float dot = 0.0f;
            int d;
            for (d = 0; d < D; d++) dot += xt[d] * MOE__LDF(gw + d);
            v = moe__sigmoid(dot);
        }
        c->coef[(size_t)t * (size_t)c->slots + (size_t)(k + j)] = v;
    }
}

/* Scores, group limits, top-k and weights for tokens [8*chunk, 8*chunk+8). */
static void moe__ph_score(moe__ctx *c, int chunk, float *scr)
{
    const moe_layer *L = c->L;
    const moe_config *cf = &L->cfg;
    const float *sb = L->selection_bias;
    int E = c->E, k = c->k, t, e, j, g;
    int t1 = (chunk + 1) * MOE__TS < c->T ? (chunk + 1) * MOE__TS : c->T;
    float *score = scr, sum;
    uint32_t *key = (uint32_t *)(void *)(scr + E), *flag = key + E;    /* flag: 1 allowed, 2 taken */
    uint32_t *gkey = key + 2 * E, *gkeep = key + 3 * E;                 /* per group: key, kept */
    for (t = chunk * MOE__TS; t < t1; t++) {
        const float *lg = c->logits + (size_t)t * (size_t)E;
        int *id = c->ids + (size_t)t * (size_t)k;
        float *wt = c->wts + (size_t)t * (size_t)k;
        if (c->rids) {                      /* the caller's routing: ids and final weights */
            for (j = 0; j < k; j++) { id[j] = c->rids[(size_t)t * (size_t)k + (size_t)j]; wt[j] = c->rwts[(size_t)t * (size_t)k + (size_t)j]; }
            moe__coefs(c, t, wt);
            continue;
        }
        /* exp, sigmoid and divisions go one element at a time through a volatile, so equal
           logits get equal scores: -ffast-math would otherwise vectorise these loops (glibc
           then gives libmvec's expf to the first 8 experts and libm's to the rest, 1 ulp apart),
           and exact ties would no longer go to the lower index */
        for (e = 0; e < E; e++) score[e] = lg[e] + (L->router_bias ? MOE__LDF(L->router_bias + e) : 0.0f);
        if (cf->score == MOE_SCORE_SOFTMAX) {
            float mx = -MOE__FMAX;
            for (e = 0; e < E; e++) if (score[e] > mx) mx = score[e];
            sum = 0.0f;
            for (e = 0; e < E; e++) { volatile float v = score[e] - mx; score[e] = expf(v); sum += score[e]; }
            for (e = 0; e < E; e++) { volatile float v = score[e]; score[e] = v / sum; }
        } else if (cf->score == MOE_SCORE_SIGMOID) {
            for (e = 0; e < E; e++) { volatile float v = score[e]; score[e] = moe__sigmoid(v); }
        }                                   /* SOFTMAX_TOPK: select on the logits themselves */
        for (e = 0; e < E; e++) {
            key[e] = moe__okey(score[e] + (sb ? MOE__LDF(sb + e) : 0.0f));
            flag[e] = 1;
        }
        if (cf->n_group > 1) {              /* keep the topk_group best groups */
            int gs = E / cf->n_group, kept;
            for (g = 0; g < cf->n_group; g++) {
                int b1 = -1, b2 = -1;       /* the group's best two experts by key */
                for (e = g * gs; e < (g + 1) * gs; e++) {
                    if (b1 < 0 || key[e] > key[b1]) { b2 = b1; b1 = e; }
                    else if (b2 < 0 || key[e] > key[b2]) b2 = e;
                }
                gkey[g] = key[b1];
                if (cf->group_score == MOE_GROUP_TOP2_SUM)
                    gkey[g] = (key[b1] && key[b2]) ? moe__okey(score[b1] + (sb ? MOE__LDF(sb + b1) : 0.0f) + score[b2] + (sb ? MOE__LDF(sb + b2) : 0.0f)) : 0;
                gkeep[g] = 0;
            }
            for (kept = 0; kept < cf->topk_group; kept++) {
                int best = -1;
                for (g = 0; g < cf->n_group; g++)
                    if (gkeep[g] == 0 && (best < 0 || gkey[g] > gkey[best])) best = g;
                gkeep[best] = 1;
            }
            for (e = 0; e < E; e++) flag[e] = gkeep[e / gs];
        }
        for (j = 0; j < k; j++) {           /* top-k: strict >, so the lower index wins ties */
            int best = -1;
            for (e = 0; e < E; e++)
                if (flag[e] == 1 && (best < 0 || key[e] > key[best])) best = e;
            MOE_ASSERT(best >= 0);
            id[j] = best;
            flag[best] = 2;
        }
        if (cf->score == MOE_SCORE_SOFTMAX_TOPK) {
            float mx = -MOE__FMAX;
            for (j = 0; j < k; j++) if (score[id[j]] > mx) mx = score[id[j]];
            sum = 0.0f;
            for (j = 0; j < k; j++) { volatile float v = score[id[j]] - mx; wt[j] = expf(v); sum += wt[j]; }
            for (j = 0; j < k; j++) { volatile float v = wt[j]; wt[j] = v / sum; }
        } else {
            sum = 0.0f;
            for (j = 0; j < k; j++) { wt[j] = score[id[j]]; sum += wt[j]; }
            if (cf->norm_topk && sum > 0.0f) for (j = 0; j < k; j++) { volatile float v = wt[j]; wt[j] = v / sum; }
        }
        for (j = 0; j < k; j++) wt[j] *= cf->routed_scale;
        moe__coefs(c, t, wt);
    }
}

/* Counting sort of the (token, slot) pairs by expert, in token order; capacity drops the
   late ones. Shared experts E..E+S-1 take every token. Serial: O(T*(k+S)). Then the work
   units of each phase, and where each expert's packed inputs and hidden rows live. */
/* expert e's gate/up (down = 0) or down matrices are all f32, read in place */
static int moe__inplace(const moe__ctx *c, int e, int down)
{
    const moe_layer *L = c->L;
    int sh = e >= c->E;
    if (MOE__BE) return 0;                  /* f32 weights are decoded there */
    if (down) return (sh ? L->sdown : L->down).type == MOE_TYPE_F32;
    return (!moe__gated(L->cfg.act) || (sh ? L->sgate : L->gate).type == MOE_TYPE_F32) && (sh ? L->sup : L->up).type == MOE_TYPE_F32;
}
/* expert e (shared ones E..E+S-1) is run by this call's shard */
static int moe__in_shard(const moe__ctx *c, int e)
{
    return e < c->E ? e >= c->e_lo && e < c->e_hi : !c->skip_shared;
}
static void moe__dispatch(moe__ctx *c, int capacity)
{
    const moe_config *cf = &c->L->cfg;
    int ES = c->E + c->S, t, j, e, D = cf->d_model;
    size_t h = 0, xo = 0;
    for (e = 0; e < ES; e++) c->count[e] = 0;
    for (t = 0; t < c->T; t++)
        for (j = 0; j < c->slots; j++) {
            size_t s = (size_t)t * (size_t)c->slots + (size_t)j;
            e = j < c->k ? c->ids[(size_t)t * (size_t)c->k + (size_t)j] : c->E + (j - c->k);
            if (j < c->k && capacity > 0 && c->count[e] >= capacity) { c->pos[s] = -1; continue; }
            c->pos[s] = c->count[e]++;
            if (!moe__in_shard(c, e)) c->pos[s] = -2;  /* outside the shard: counted for capacity, not run */
        }
    for (e = 0; e < ES; e++) if (!moe__in_shard(c, e)) c->count[e] = 0;
    c->off[0] = 0; c->up[0] = 0; c->ug[0] = 0; c->ud[0] = 0;
    for (e = 0; e < ES; e++) {
        int m = c->count[e], ff = e < c->E ? cf->d_ff : cf->d_ff_shared;
        int nbg = moe__nbk(D, m, c->omin, moe__inplace(c, e, 0)), nbd = moe__nbk(ff, m, c->omin, moe__inplace(c, e, 1)), grp = (m + MOE__G - 1) / MOE__G;
        if (moe__ib_e(c, e)) nbg = nbd = MOE__NI;
        c->off[e + 1] = c->off[e] + m;
        c->up[e + 1] = c->up[e] + grp;
        c->ug[e + 1] = c->ug[e] + (m ? (ff + nbg - 1) / nbg : 0);
        c->ud[e + 1] = c->ud[e] + (m ? (D + nbd - 1) / nbd : 0);
        c->xoff[e] = xo; xo += (size_t)(m >= c->omin ? grp * MOE__G : m) * (size_t)D;   /* panels are */
        c->hoff[e] = h;  h += (size_t)(m >= c->omin ? grp * MOE__G : m) * (size_t)ff;   /* padded     */
    }
    for (t = 0; t < c->T; t++)
        for (j = 0; j < c->slots; j++) {
            size_t s = (size_t)t * (size_t)c->slots + (size_t)j;
            if (c->pos[s] < 0) continue;
            e = j < c->k ? c->ids[(size_t)t * (size_t)c->k + (size_t)j] : c->E + (j - c->k);
            c->list[c->off[e] + c->pos[s]] = (int)s;
        }
}

static int moe__unit_expert(const int *units, int n, int u)   /* units[e] <= u < units[e+1] */
{
    int lo = 0, hi = n;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (units[mid] <= u) lo = mid; else hi = mid;
    }
    return lo;
}

/* Gather one group of G tokens of an expert: as rows [p][D] for the dot-product path, or
   transposed into a zero-padded panel [D][G] for the outer-product path. Llama 4's routing
   weight is applied to the input here. */
static void moe__ph_pack(moe__ctx *c, int unit)
{
    const moe_config *cf = &c->L->cfg;
    int e = moe__unit_expert(c->up, c->E + c->S, unit), m = c->count[e], D = cf->d_model;
    int p0 = (unit - c->up[e]) * MOE__G, p1 = p0 + MOE__G < m ? p0 + MOE__G : m, p, d;
    float *dst = c->XY + c->xoff[e];
    for (p = p0; p < p1; p++) {
        int s = c->list[c->off[e] + p], tok = s / c->slots, j = s % c->slots;
        const float *src = c->x + (size_t)tok * (size_t)D;
        float sc = (cf->weight_on_input && j < c->k) ? c->wts[(size_t)tok * (size_t)c->k + (size_t)j] : 1.0f;
        if (m >= c->omin) {
            float *o = dst + (size_t)p0 * (size_t)D + (size_t)(p - p0);
            for (d = 0; d < D; d++) o[(size_t)d * MOE__G] = src[d] * sc;
        } else {
            float *o = dst + (size_t)p * (size_t)D;
            for (d = 0; d < D; d++) o[d] = src[d] * sc;
        }
    }
    if (m >= c->omin && p1 - p0 < MOE__G) {               /* zero the padding lanes */
        float *o = dst + (size_t)p0 * (size_t)D;
        for (d = 0; d < D; d++)
            for (p = p1 - p0; p < MOE__G; p++) o[(size_t)d * MOE__G + (size_t)p] = 0.0f;
    }
    if (moe__ib_e(c, e))                /* integer batch: the group quantised once, for gate and up */
        moe__ib_panel(D, 0, D / MOE__QK, dst + (size_t)p0 * (size_t)D, c->QX + (c->xoff[e] / (size_t)D + (size_t)p0) * c->qxb, c->ibp);
}

typedef struct moe__unit {          /* what a gate/up or down work unit needs to know */
    int e, ee, sh, m, ff, n0, nb;
    const int *lst;
} moe__unit;
static void moe__unit_of(const moe__ctx *c, const int *units, int unit, int K, int rows, moe__unit *u)
{
    const moe_config *cf = &c->L->cfg;
    u->e = moe__unit_expert(units, c->E + c->S, unit);
    u->sh = u->e >= c->E; u->ee = u->sh ? u->e - c->E : u->e;
    u->m = c->count[u->e];
    u->ff = u->sh ? cf->d_ff_shared : cf->d_ff;
    if (K < 0) K = u->ff;
    if (rows < 0) rows = u->ff;
    u->nb = moe__ib_e(c, u->e) ? MOE__NI : moe__nbk(K, u->m, c->omin, moe__inplace(c, u->e, units == c->ud));
    u->n0 = (unit - units[u->e]) * u->nb;
    if (u->nb > rows - u->n0) u->nb = rows - u->n0;
    u->lst = c->list + c->off[u->e];
}

/* The worker's quantised copy of the mt rows x[mt][K] (expert e's input in this phase): made on
   first use and kept while the same worker goes on with units of the same expert and phase. */
static const unsigned char *moe__qx_get(const moe__ctx *c, float *scr, int phase, int e, moe_type t, int K, const float *x, int mt)
{
    int *tag = (int *)(void *)(scr + c->qx_at), i, fam = (int)moe__traits[t].idot;
    unsigned char *qx = (unsigned char *)(void *)(tag + 16);
    MOE_ASSERT(c->qx_at > 0 && mt <= MOE__QM && fam != MOE__IDOT_NONE);
    if (tag[0] != phase || tag[1] != e || tag[2] != fam) {        /* the families' layouts differ */
        for (i = 0; i < mt; i++)
            if (fam == MOE__IDOT_Q8_K) moe__qxk_make(K, x + (size_t)i * (size_t)K, qx + (size_t)i * MOE__QXK_BYTES(K));
            else moe__qx_make(K, x + (size_t)i * (size_t)K, qx + (size_t)i * MOE__QX_BYTES(K));
        tag[0] = phase; tag[1] = e; tag[2] = fam;
    }
    return qx;
}
/* the integer kernels of M's family: rows n0..n0+nb of expert e against mt quantised tokens */
static void moe__qmat(const moe__matrix *M, int e, int n0, int nb, const unsigned char *qx, int mt, float *const *out)
{
    if (moe__traits[M->type].idot == MOE__IDOT_Q8_K) moe__kgemm(M, e, n0, nb, qx, mt, out);
    else moe__qgemm(M->type, M->cols, qx, mt, moe__base(M, e) + (size_t)n0 * M->row_stride, M->row_stride, nb, out);
}

/* p[i] = rows[i] for i < nr, then rows[nr - 1]: the NRO row pointers of a tile, a partial
   tile repeating its last row */
static void moe__tile_rows(const float *const *rows, int nr, const float **p)
{
    int i;
    for (i = 0; i < nr; i++) p[i] = rows[i];
    for (; i < MOE__NRO; i++) p[i] = rows[nr - 1];
}

/* a unit's rows repacked for moe__ib_tile (BF16: read in place, nothing to do) */
static void moe__ib_mpack(const moe__matrix *M, moe_type it, int e, int n0, int nr, unsigned char *dst, int amx)
{
    if (M->type != MOE_TYPE_BF16) moe__ib_pack(M, it, e, n0, nr, dst);
#ifdef MOE__AMX
    if (amx && MOE__AMXT(it)) moe__amx_rows(it, M->cols, (size_t)(nr + MOE__IR - 1) / MOE__IR, dst);
#else
    (void)amx;
#endif
}
/* one tile of IR rows (nr of them live, from row n0) against a group's panel g: the repacked
   tile pk, or BF16 rows in place */
static void moe__ib_mtile(const moe__matrix *M, moe_type it, int e, int n0, int nr, int K, const unsigned char *pk, const unsigned char *g, int pl,
                          float *c, int amx)
{
#ifdef MOE__AMX
    if (amx && MOE__AMXT(it)) { moe__amx_tile(it, K, pk, g, pl, c); return; }
#ifdef MOE__BFDOT
    if (amx && M->type == MOE_TYPE_BF16 && nr == MOE__IR) {     /* (units of NI rows: always whole tiles) */
        moe__amx_bftile(K, moe__base(M, e) + (size_t)n0 * M->row_stride, M->row_stride, g, pl, c);
        return;
    }
#endif
#else
    (void)amx;
#endif
#ifdef MOE__BFDOT
    if (M->type == MOE_TYPE_BF16) {
        const unsigned char *w[MOE__IR], *base = moe__base(M, e);
        int i;
        for (i = 0; i < MOE__IR; i++) w[i] = base + (size_t)(n0 + (i < nr ? i : nr - 1)) * M->row_stride;
        moe__bf_tile(K, w, g, pl, c);
        return;
    }
#else
    (void)M; (void)e; (void)n0; (void)nr;
#endif
    moe__ib_tile(it, K, pk, g, pl, c);
}
/* Integer batch, gate/up: the unit's NI rows of gate and up repacked into the panel, then per
   group of G tokens and tile of IR rows the integer kernel and the activation; the group's hidden
   rows n0..n0+nb (whole blocks of 32: nb is NI or reaches ff) are then quantised for down. */
static void moe__ib_gateup(moe__ctx *c, const moe__unit *u, float *scr, const moe__matrix *G, const moe__matrix *U,
                           const float *bg, size_t bgs, const float *bu, size_t bus)
{
    const moe_config *cf = &c->L->cfg;
    int D = cf->d_model, gated = moe__gated(cf->act), t0, r, i;
    const moe_type tg_ = moe__ibt(c->L, G->type), tu_ = moe__ibt(c->L, U->type);
    size_t tok = c->xoff[u->e] / (size_t)D, tbg = moe__ib_tilebytes(tg_, (size_t)D), tbu = moe__ib_tilebytes(tu_, (size_t)D);
    const unsigned char *pg = moe__pk_tiles(c->L, 3 * u->sh, u->ee, u->n0, tbg), *pu = moe__pk_tiles(c->L, 3 * u->sh + 1, u->ee, u->n0, tbu);
    float *tg = scr + c->panel_floats, *tu = tg + c->tmp_floats, *H = c->H + c->hoff[u->e];
    if (gated && !pg) { moe__ib_mpack(G, tg_, u->ee, u->n0, u->nb, (unsigned char *)scr, c->L->amx); pg = (const unsigned char *)scr; }
    if (!pu) { moe__ib_mpack(U, tu_, u->ee, u->n0, u->nb, (unsigned char *)(scr + c->panel_floats / 2), c->L->amx); pu = (const unsigned char *)(scr + c->panel_floats / 2); }
    for (t0 = 0; t0 < u->m; t0 += MOE__G) {
        const unsigned char *xq = c->QX + (tok + (size_t)t0) * c->qxb;
        unsigned char *hq = c->QH + (tok + (size_t)t0) * c->qhb;
        float *hp = H + (size_t)t0 * (size_t)u->ff;
        for (r = 0; r < u->nb; r += MOE__IR) {
            int nr = u->nb - r < MOE__IR ? u->nb - r : MOE__IR;
            if (gated) moe__ib_mtile(G, tg_, u->ee, u->n0 + r, nr, D, pg + (size_t)(r / MOE__IR) * tbg, xq, c->ibp, tg, c->L->amx);
            moe__ib_mtile(U, tu_, u->ee, u->n0 + r, nr, D, pu + (size_t)(r / MOE__IR) * tbu, xq, c->ibp, tu, c->L->amx);
            for (i = 0; i < nr; i++) {
                int row = u->n0 + r + i;
                float gb = bg ? MOE__LDF(bg + (size_t)row * bgs) : 0.0f, ub = bu ? MOE__LDF(bu + (size_t)row * bus) : 0.0f;
                moe__act_row(cf, tg + i * MOE__G, tu + i * MOE__G, gb, ub, hp + (size_t)row * MOE__G);
            }
        }
        moe__ib_panel(u->ff, u->n0 / MOE__QK, (u->n0 + u->nb) / MOE__QK, hp + (size_t)u->n0 * MOE__G, hq, c->ibp);
    }
}
/* Integer batch, down: the unit's NI rows repacked, then per group and tile the integer kernel */
static void moe__ib_down(moe__ctx *c, const moe__unit *u, float *scr, const moe__matrix *M, const float *bd)
{
    int D = c->L->cfg.d_model, t0, r, i, n;
    const moe_type it = moe__ibt(c->L, M->type);
    size_t tok = c->xoff[u->e] / (size_t)D, tb = moe__ib_tilebytes(it, (size_t)u->ff);
    const unsigned char *pk = moe__pk_tiles(c->L, 3 * u->sh + 2, u->ee, u->n0, tb);
    float *tc = scr + c->panel_floats;
    if (!pk) { moe__ib_mpack(M, it, u->ee, u->n0, u->nb, (unsigned char *)scr, c->L->amx); pk = (const unsigned char *)scr; }
    for (t0 = 0; t0 < u->m; t0 += MOE__G) {
        const unsigned char *hq = c->QH + (tok + (size_t)t0) * c->qhb;
        int gt = u->m - t0 < MOE__G ? u->m - t0 : MOE__G;
        for (r = 0; r < u->nb; r += MOE__IR) {
            int nr = u->nb - r < MOE__IR ? u->nb - r : MOE__IR;
            moe__ib_mtile(M, it, u->ee, u->n0 + r, nr, u->ff, pk + (size_t)(r / MOE__IR) * tb, hq, c->ibp, tc, c->L->amx);
            for (n = 0; n < gt; n++) {
                float *o = c->XY + (size_t)u->lst[t0 + n] * (size_t)D + (size_t)(u->n0 + r);
                for (i = 0; i < nr; i++) o[i] = tc[i * MOE__G + n] + (bd ? MOE__LDF(bd + u->n0 + r + i) : 0.0f);
            }
        }
    }
}

/* One block of hidden rows of one expert for all its tokens: H = act(X G^T + bg, X U^T + bu). */
static void moe__ph_gateup(moe__ctx *c, int unit, float *scr)
{
    const moe_layer *L = c->L;
    const moe_config *cf = &L->cfg;
    moe__unit u;
    int D = cf->d_model, gated = moe__gated(cf->act), t0, i, n, r;
    const moe__matrix *G, *U;
    const float *X, *wg[MOE__NBMAX], *wu[MOE__NBMAX], *bg = NULL, *bu = NULL;
    float *H, *tg = scr + c->panel_floats, *tu = tg + c->tmp_floats;
    size_t bgs = 1, bus = 1;
    moe__unit_of(c, c->ug, unit, D, -1, &u);
    G = u.sh ? &L->sgate : &L->gate; U = u.sh ? &L->sup : &L->up;
    X = c->XY + c->xoff[u.e]; H = c->H + c->hoff[u.e];
    if (!u.sh && L->gate_bias.p) { bg = L->gate_bias.p + (size_t)u.ee * L->gate_bias.expert_stride; bgs = L->gate_bias.stride; }
    if (!u.sh && L->up_bias.p)   { bu = L->up_bias.p + (size_t)u.ee * L->up_bias.expert_stride;     bus = L->up_bias.stride; }
    if (moe__ib_e(c, u.e)) { moe__ib_gateup(c, &u, scr, G, U, bg, bgs, bu, bus); return; }
    if (u.m >= c->omin) {               /* batched: packed panels, tiles of NRO rows x G tokens */
        if (gated) moe__rows(G, u.ee, u.n0, u.nb, scr, wg);
        moe__rows(U, u.ee, u.n0, u.nb, scr + c->panel_floats / 2, wu);
        for (t0 = 0; t0 < u.m; t0 += MOE__G) {
            const float *xp = X + (size_t)t0 * (size_t)D;
            float *hp = H + (size_t)t0 * (size_t)u.ff;           /* panel [ff][G] of this group */
            for (r = 0; r < u.nb; r += MOE__NRO) {
                const float *pg[MOE__NRO], *pu[MOE__NRO], *png[MOE__NRO];
                int nr = u.nb - r < MOE__NRO ? u.nb - r : MOE__NRO, rn = r + MOE__NRO < u.nb ? r + MOE__NRO : r;
                int nrn = u.nb - rn < MOE__NRO ? u.nb - rn : MOE__NRO;
                if (gated) moe__tile_rows(wg + r, nr, pg);
                moe__tile_rows(wu + r, nr, pu);
                moe__tile_rows((gated ? wg : wu) + rn, nrn, png);
                if (gated) moe__otile(D, xp, pg, pu, tg);
                moe__otile(D, xp, pu, png, tu);
                for (i = 0; i < nr; i++) {
                    int row = u.n0 + r + i;
                    float gb = bg ? MOE__LDF(bg + (size_t)row * bgs) : 0.0f, ub = bu ? MOE__LDF(bu + (size_t)row * bus) : 0.0f;
                    moe__act_row(cf, tg + i * MOE__G, tu + i * MOE__G, gb, ub, hp + (size_t)row * MOE__G);
                }
            }
        }
        return;
    }
    {                                   /* few tokens: dot-product tiles, rows streamed once */
        const float *xr[MOE__FEW];
        float *orow[MOE__FEW] = { NULL };
        int mt = u.m, mi;
        for (i = 0; i < mt; i++) xr[i] = X + (size_t)i * (size_t)D;
        for (mi = gated ? 0 : 1; mi < 2; mi++) {  /* gate, then up: each by its own type */
            const moe__matrix *M = mi ? U : G;
            const float **wm = mi ? wu : wg;
            float *tm = mi ? tu : tg, *panel = mi ? scr + c->panel_floats / 2 : scr;
            if (moe__isq(M->type) && mt <= MOE__QM) {                      /* integer kernels */
                const unsigned char *qx = moe__qx_get(c, scr, MOE__PH_GATEUP, u.e, M->type, D, X, mt);
                for (i = 0; i < mt; i++) orow[i] = tm + (size_t)i * MOE__NBMAX;
                moe__qmat(M, u.ee, u.n0, u.nb, qx, mt, orow);
                continue;
            }
            for (i = 0; i < mt; i++) orow[i] = tm + (size_t)i * MOE__NBMAX;
            if (moe__gemvm(M, u.ee, u.n0, u.nb, X, mt, orow, panel, c->panel_floats / 2, cf->batch_bf16 == MOE_BF16_DOT))
                continue;                                                   /* f16/bf16 in place */
            if (mt == 1 && moe__gemv_ok(M->type)) {                          /* one token */
                moe__gemv(M, u.ee, u.n0, u.nb, X, tm, scr);
                continue;
            }
            for (r = 0; r < u.nb; r += MOE__NRD) {
                int nr = u.nb - r < MOE__NRD ? u.nb - r : MOE__NRD;
                moe__rows(M, u.ee, u.n0 + r, nr, panel, wm);
                for (i = 0; i < mt; i++) orow[i] = tm + (size_t)i * MOE__NBMAX + r;
                moe__gemm(D, xr, mt, wm, nr, orow);
            }
        }
        for (i = 0; i < mt; i++) {            /* tile row i: tg/tu + i * NBMAX */
            const float *gi = tg + (size_t)i * MOE__NBMAX, *ui = tu + (size_t)i * MOE__NBMAX;
            float *h = H + (size_t)i * (size_t)u.ff + (size_t)u.n0;
            for (n = 0; n < u.nb; n++) {
                float g = gated ? gi[n] + (bg ? MOE__LDF(bg + (size_t)(u.n0 + n) * bgs) : 0.0f) : 0.0f;
                float v = ui[n] + (bu ? MOE__LDF(bu + (size_t)(u.n0 + n) * bus) : 0.0f);
                h[n] = moe__act(cf, g, v);
            }
        }
    }
}

/* the down rows of a few-token unit by moe__gemvm, bias added; 0: not for this type/path */
static int moe__gemvm_down(const moe__ctx *c, const moe__unit *u, const moe__matrix *M, const float *H, float *Y, float *scr, const float *bd)
{
    float *out[16];
    int i, n, D = c->L->cfg.d_model;
    if (u->m > 16) return 0;
    for (i = 0; i < u->m; i++) out[i] = Y + (size_t)u->lst[i] * (size_t)D + (size_t)u->n0;
    if (!moe__gemvm(M, u->ee, u->n0, u->nb, H, u->m, out, scr, c->panel_floats, c->L->cfg.batch_bf16 == MOE_BF16_DOT)) return 0;
    if (bd) for (i = 0; i < u->m; i++) for (n = 0; n < u->nb; n++) out[i][n] += MOE__LDF(bd + u->n0 + n);
    return 1;
}
/* One block of output features of one expert for all its tokens: Y[slot] = H D^T + bd. */
static void moe__ph_down(moe__ctx *c, int unit, float *scr)
{
    const moe_layer *L = c->L;
    const moe_config *cf = &L->cfg;
    moe__unit u;
    int D = cf->d_model, t0, i, n, r;
    const float *H, *wd[MOE__NBMAX], *bd;
    float *Y = c->XY, *tc = scr + c->panel_floats;
    moe__unit_of(c, c->ud, unit, -1, D, &u);
    H = c->H + c->hoff[u.e];
    bd = (!u.sh && L->down_bias.p) ? L->down_bias.p + (size_t)u.ee * L->down_bias.expert_stride : NULL;
    if (moe__ib_e(c, u.e)) { moe__ib_down(c, &u, scr, u.sh ? &L->sdown : &L->down, bd); return; }
    if (u.m >= c->omin) {
        moe__rows(u.sh ? &L->sdown : &L->down, u.ee, u.n0, u.nb, scr, wd);
        for (t0 = 0; t0 < u.m; t0 += MOE__G) {
            const float *hp = H + (size_t)t0 * (size_t)u.ff;
            int gt = u.m - t0 < MOE__G ? u.m - t0 : MOE__G;
            for (r = 0; r < u.nb; r += MOE__NRO) {
                const float *pd[MOE__NRO];
                int nr = u.nb - r < MOE__NRO ? u.nb - r : MOE__NRO;
                const float *pn[MOE__NRO];
                int rn = r + MOE__NRO < u.nb ? r + MOE__NRO : r, nrn = u.nb - rn < MOE__NRO ? u.nb - rn : MOE__NRO;
                moe__tile_rows(wd + r, nr, pd);
                moe__tile_rows(wd + rn, nrn, pn);
                moe__otile(u.ff, hp, pd, pn, tc);
                for (n = 0; n < gt; n++) {
                    float *o = Y + (size_t)u.lst[t0 + n] * (size_t)D + (size_t)(u.n0 + r);
                    for (i = 0; i < nr; i++) o[i] = tc[i * MOE__G + n] + (bd ? MOE__LDF(bd + u.n0 + r + i) : 0.0f);
                }
            }
        }
        return;
    }
    {
        const float *xr[MOE__FEW];
        float *out[MOE__FEW] = { NULL };
        const moe__matrix *M = u.sh ? &L->sdown : &L->down;
        int mt = u.m;
        if (moe__isq(M->type) && mt <= MOE__QM) {                          /* integer kernels */
            const unsigned char *qx = moe__qx_get(c, scr, MOE__PH_DOWN, u.e, M->type, u.ff, H, mt);
            for (i = 0; i < mt; i++) out[i] = Y + (size_t)u.lst[i] * (size_t)D + (size_t)u.n0;
            moe__qmat(M, u.ee, u.n0, u.nb, qx, mt, out);
            if (bd) for (i = 0; i < mt; i++) for (n = 0; n < u.nb; n++) out[i][n] += MOE__LDF(bd + u.n0 + n);
        } else if (moe__gemvm_down(c, &u, M, H, Y, scr, bd)) {          /* f16/bf16 in place */
        } else if (mt == 1 && moe__gemv_ok(M->type)) {                   /* one token */
            float *o = Y + (size_t)u.lst[0] * (size_t)D + (size_t)u.n0;
            moe__gemv(M, u.ee, u.n0, u.nb, H, o, scr);
            if (bd) for (n = 0; n < u.nb; n++) o[n] += MOE__LDF(bd + u.n0 + n);
        } else
        for (r = 0; r < u.nb; r += MOE__NRD) {
            int nr = u.nb - r < MOE__NRD ? u.nb - r : MOE__NRD;
            moe__rows(M, u.ee, u.n0 + r, nr, scr, wd);
            for (i = 0; i < mt; i++) {
                xr[i] = H + (size_t)i * (size_t)u.ff;
                out[i] = Y + (size_t)u.lst[i] * (size_t)D + (size_t)(u.n0 + r);
            }
            moe__gemm(u.ff, xr, mt, wd, nr, out);
            if (bd) for (i = 0; i < mt; i++) for (n = 0; n < nr; n++) out[i][n] += MOE__LDF(bd + u.n0 + r + n);
        }
    }
}

/* y[t] = sum over slots j in order 0..k+S-1 of coef[t,j] * Y[t,j]; dropped slots add nothing. */
static void moe__ph_combine(moe__ctx *c, int chunk)
{
    int D = c->L->cfg.d_model, t, j, d;
    int t1 = (chunk + 1) * MOE__TS < c->T ? (chunk + 1) * MOE__TS : c->T;
    for (t = chunk * MOE__TS; t < t1; t++) {
        float *yt = c->y + (size_t)t * (size_t)D;
        int first = 1;
        for (j = 0; j < c->slots; j++) {
            size_t s = (size_t)t * (size_t)c->slots + (size_t)j;
            const float *ys = c->XY + s * (size_t)D;
            float w = c->coef[s];
            if (c->pos[s] < 0) continue;
            moe__axpy(D, w, ys, yt, first);
            first = 0;
        }
        if (first) for (d = 0; d < D; d++) yt[d] = 0.0f;
    }
}

static void moe__do(moe__ctx *c, int phase, int index, int worker)
{
    float *scr;
    if (worker < 0 || worker >= c->nt) { c->bad_worker = 1; return; }
    scr = (float *)(void *)(c->scratch + (size_t)worker * c->per_worker);
    switch (phase) {
    case MOE__PH_ROUTER:  moe__ph_router(c, index, scr); break;
    case MOE__PH_SCORE:   moe__ph_score(c, index, scr + c->panel_floats + 2 * c->tmp_floats); break;
    case MOE__PH_PACK:    moe__ph_pack(c, index); break;
    case MOE__PH_GATEUP:  moe__ph_gateup(c, index, scr); break;
    case MOE__PH_DOWN:    moe__ph_down(c, index, scr); break;
    case MOE__PH_COMBINE: moe__ph_combine(c, index); break;
    }
}
static void moe__task(void *ctx, int index, int worker)       /* for the caller's pool */
{
    moe__ctx *c = (moe__ctx *)ctx;
    moe__do(c, c->phase, index, worker);
}

/* One phase: with OpenMP (team != 0) an orphaned worksharing loop of the team that runs the
   whole pass; else one call of the caller's parallel_for, or a plain loop. */
static void moe__phase(moe__ctx *c, const moe_run_opts *o, int team, int phase, int n)
{
    int i;
#ifdef _OPENMP
    if (team) {
        int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (i = 0; i < n; i++) moe__do(c, phase, i, tid);
        return;
    }
#else
    (void)team;
#endif
    if (n <= 0) return;
    c->phase = phase;
    if (o && o->parallel_for) { o->parallel_for(o->pool, moe__task, c, n); return; }
    for (i = 0; i < n; i++) moe__do(c, phase, i, 0);
}

/* The forward pass. With OpenMP every thread of one team runs this, so a call starts one team,
   not one per phase; the serial dispatch is an `omp single` (whose barrier publishes it). */
static void moe__pipeline(moe__ctx *c, const moe_run_opts *o, int team)
{
    int chunks = (c->T + MOE__TS - 1) / MOE__TS;
    if (!c->rids) moe__phase(c, o, team, MOE__PH_ROUTER, (c->E + c->nbr - 1) / c->nbr);
    moe__phase(c, o, team, MOE__PH_SCORE, chunks);
    if (!c->run_experts || c->bad_worker) return;
#ifdef _OPENMP
    if (team) {
#pragma omp single
        moe__dispatch(c, c->capacity);
    } else
#endif
        moe__dispatch(c, c->capacity);
    moe__phase(c, o, team, MOE__PH_PACK, c->up[c->E + c->S]);
    moe__phase(c, o, team, MOE__PH_GATEUP, c->ug[c->E + c->S]);
    moe__phase(c, o, team, MOE__PH_DOWN, c->ud[c->E + c->S]);
    if (c->y) moe__phase(c, o, team, MOE__PH_COMBINE, chunks);
}

static moe_status moe__run(const moe_layer *L, const float *x, int T, float *y, void *work, size_t work_size,
                           const moe_run_opts *o, int *ids_out, float *w_out)
{
    moe__plan p;
    moe__ctx c;
    unsigned char *base;
    if (!L) return MOE_ERR_NULL;
    if (L->magic != MOE__MAGIC) return MOE_ERR_LAYER;
    if (!x || !work || (y == NULL && ids_out == NULL && w_out == NULL && !(o && (o->slot_out || o->slot_coef || o->slot_expert))))
        return MOE_ERR_NULL;
    if (T < 1 || (o && (o->capacity < 0 || o->n_threads < 0))) return MOE_ERR_ARG;
    if (moe__misaligned(x) || moe__misaligned(y) || moe__misaligned(w_out) || ((uintptr_t)ids_out % sizeof(int)))
        return MOE_ERR_ALIGN;
    if (o) {
        int E = L->cfg.n_experts, k = L->cfg.top_k;
        size_t i, n = (size_t)T * (size_t)k;
        if ((o->route_ids != NULL) != (o->route_weights != NULL)) return MOE_ERR_NULL;
        if (o->expert_begin < 0 || o->expert_end < 0 || o->expert_begin > o->expert_end || o->expert_end > E ||
            (o->skip_shared != 0 && o->skip_shared != 1))
            return MOE_ERR_ARG;
        if (moe__misaligned(o->route_weights) || moe__misaligned(o->slot_out) || moe__misaligned(o->slot_coef) ||
            ((uintptr_t)o->route_ids % sizeof(int)) || ((uintptr_t)o->slot_expert % sizeof(int)))
            return MOE_ERR_ALIGN;
        if (o->route_ids)
            for (i = 0; i < n; i++) if (o->route_ids[i] < 0 || o->route_ids[i] >= E) return MOE_ERR_ARG;
    }
    if (o && o->n_threads > L->n_threads) return MOE_ERR_THREADS;
    if (!moe__make_plan(L, T, &p)) return MOE_ERR_OVERFLOW;
    if (work_size < p.total) return MOE_ERR_WORKSPACE;
    base = (unsigned char *)work;
    base += (MOE__ALIGN - (size_t)((uintptr_t)base % MOE__ALIGN)) % MOE__ALIGN;
    memset(&c, 0, sizeof c);
    c.L = L; c.x = x; c.y = y; c.T = T;
    c.E = L->cfg.n_experts; c.k = L->cfg.top_k; c.S = L->cfg.n_shared; c.slots = c.k + c.S;
    c.nt = (o && o->n_threads > 0) ? o->n_threads : L->n_threads;
    c.capacity = o ? o->capacity : 0;
    c.rids = o ? o->route_ids : NULL;
    c.rwts = o ? o->route_weights : NULL;
    c.e_lo = 0; c.e_hi = c.E;
    if (o && (o->expert_begin || o->expert_end)) { c.e_lo = o->expert_begin; c.e_hi = o->expert_end; }
    c.skip_shared = o ? o->skip_shared : 0;
    c.run_experts = y != NULL || (o && (o->slot_out || o->slot_coef || o->slot_expert));
    c.logits = (float *)(void *)(base + p.logits);
    c.ids = (int *)(void *)(base + p.ids);
    c.wts = (float *)(void *)(base + p.wts);
    c.coef = (float *)(void *)(base + p.coef);
    c.pos = (int *)(void *)(base + p.pos);
    c.count = (int *)(void *)(base + p.count);
    c.off = (int *)(void *)(base + p.off);
    c.up = (int *)(void *)(base + p.up);
    c.ug = (int *)(void *)(base + p.ug);
    c.ud = (int *)(void *)(base + p.ud);
    c.list = (int *)(void *)(base + p.list);
    c.xoff = (size_t *)(void *)(base + p.xoff);
    c.hoff = (size_t *)(void *)(base + p.hoff);
    c.H = (float *)(void *)(base + p.H);
    c.XY = (float *)(void *)(base + p.XY);
    c.scratch = base + p.scratch;
    c.per_worker = p.per_worker; c.panel_floats = p.panel; c.tmp_floats = p.tmp;
    c.qx_at = p.qx ? p.panel + 2 * p.tmp + p.score : 0;
    c.omin = moe__omin(L);
    {
        c.ibp = 0;
        c.ib[0] = moe__ib_kind(L, 0, &c.ibp); c.ib[1] = moe__ib_kind(L, 1, &c.ibp);
        c.QX = base + p.QX; c.QH = base + p.QH; c.qxb = p.qxb; c.qhb = p.qhb;
    }
    if (p.qx) {                                   /* no worker holds a quantised row yet */
        int wk;
        for (wk = 0; wk < c.nt; wk++) ((int *)(void *)(c.scratch + (size_t)wk * c.per_worker + c.qx_at * sizeof(float)))[0] = -1;
    }
    c.nbr = MOE__NBD;
#ifdef _OPENMP
    if (!(o && o->parallel_for) && c.nt > 1) {
#pragma omp parallel num_threads(c.nt)
        moe__pipeline(&c, o, 1);
    } else
#endif
        moe__pipeline(&c, o, 0);
    if (c.bad_worker) return MOE_ERR_THREADS;
    if (ids_out) memcpy(ids_out, c.ids, (size_t)T * (size_t)c.k * sizeof(int));
    if (w_out) memcpy(w_out, c.wts, (size_t)T * (size_t)c.k * sizeof(float));
    if (o && c.run_experts) {
        size_t s, ns = (size_t)T * (size_t)c.slots, D = (size_t)L->cfg.d_model;
        for (s = 0; s < ns; s++) {
            int j = (int)(s % (size_t)c.slots);
            if (o->slot_out && c.pos[s] >= 0) memcpy(o->slot_out + s * D, c.XY + s * D, D * sizeof(float));
            if (o->slot_coef) o->slot_coef[s] = c.coef[s];
            if (o->slot_expert)
                o->slot_expert[s] = c.pos[s] == -1 ? -1 : j < c.k ? c.ids[s / (size_t)c.slots * (size_t)c.k + (size_t)j] : c.E + (j - c.k);
        }
    }
    return MOE_OK;
}

MOE__API moe_status moe_combine(const moe_layer *L, int T, const float *slot_out, const float *slot_coef,
                              const int *slot_expert, float *y)
{
    int t, j, d, slots, D;
    if (!L) return MOE_ERR_NULL;
    if (L->magic != MOE__MAGIC) return MOE_ERR_LAYER;
    if (!slot_out || !slot_coef || !y) return MOE_ERR_NULL;
    if (T < 1) return MOE_ERR_ARG;
    if (moe__misaligned(slot_out) || moe__misaligned(slot_coef) || moe__misaligned(y) || ((uintptr_t)slot_expert % sizeof(int)))
        return MOE_ERR_ALIGN;
    slots = L->cfg.top_k + L->cfg.n_shared; D = L->cfg.d_model;
    for (t = 0; t < T; t++) {                  /* as moe__ph_combine */
        float *yt = y + (size_t)t * (size_t)D;
        int first = 1;
        for (j = 0; j < slots; j++) {
            size_t s = (size_t)t * (size_t)slots + (size_t)j;
            if (slot_expert && slot_expert[s] < 0) continue;
            moe__axpy(D, slot_coef[s], slot_out + s * (size_t)D, yt, first);
            first = 0;
        }
        if (first) for (d = 0; d < D; d++) yt[d] = 0.0f;
    }
    return MOE_OK;
}

MOE__API moe_status moe_forward(const moe_layer *layer, const float *x, int n_tokens, float *y,
                              void *work, size_t work_size)
{
    if (!y) return MOE_ERR_NULL;
    return moe__run(layer, x, n_tokens, y, work, work_size, NULL, NULL, NULL);
}

MOE__API moe_status moe_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y,
                                 void *work, size_t work_size, const moe_run_opts *opts)
{
    if (!y && !(opts && (opts->slot_out || opts->slot_coef || opts->slot_expert))) return MOE_ERR_NULL;
    return moe__run(layer, x, n_tokens, y, work, work_size, opts,
                    opts ? opts->ids_out : NULL, opts ? opts->weights_out : NULL);
}

MOE__API moe_status moe_route(const moe_layer *layer, const float *x, int n_tokens, int *ids,
                            float *weights, void *work, size_t work_size)
{
    if (!ids && !weights) return MOE_ERR_NULL;
    return moe__run(layer, x, n_tokens, NULL, work, work_size, NULL, ids, weights);
}

#ifdef MOE__PASS_NOW   /* end of a pass: its target, and every macro the part defined */
#ifdef MOE__TARGET
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif
#undef MOE__X_BF16
#undef MOE__X_I8MM
#undef MOE__FMA256
#undef MOE__PREFETCH
#undef MOE__PREFETCH2
#undef MOE__H2F_FAST
#undef MOE__SIMD_NAME
#undef MOE__VL
#undef MOE__VZERO
#undef MOE__VLOAD
#undef MOE__VFMA
#undef MOE__VSUM
#undef MOE__VBCAST
#undef MOE__VSET1
#undef MOE__VADD
#undef MOE__VMUL
#undef MOE__VDIV
#undef MOE__VMIN
#undef MOE__VMAX
#undef MOE__VEXP2I
#undef MOE__VROUND
#undef MOE__HAVE_VEXP
#undef MOE__VSTORE
#undef MOE__NRO
#undef MOE__EACH_RO
#undef MOE__NR
#undef MOE__EACH_N
#undef MOE__EACH_IN
#undef MOE__WF16
#undef MOE__WBF16
#undef MOE__EACH_QV
#undef MOE__HAVE_FP4V
#undef MOE__WF8
#undef MOE__Q8V
#undef MOE__TBL16
#undef MOE__S8
#undef MOE__V7NAN
#undef MOE__NOFMA
#undef MOE__INMEM
#undef MOE__LD256
#undef MOE__LD128
#undef MOE__Q6K_PAIR
#undef MOE__Q6K_BODY
#undef MOE__Q3K_CODES
#undef MOE__Q3K_BODY
#undef MOE__Q5K_BODY
#undef MOE__Q4K_SUB
#undef MOE__ID
#undef MOE__SR4
#undef MOE__Q5K_OUT
#undef MOE__Q6K_OUT
#undef MOE__Q2K_SUB
#undef MOE__Q3K_OUT
#undef MOE__K4_OUT
#undef MOE__HAVE_F8ROW
#undef MOE__F8H16
#undef MOE__QV
#undef MOE__DSTORE
#undef MOE__DECL_W
#undef MOE__DECL_A
#undef MOE__LOAD_W
#undef MOE__FMA_A
#undef MOE__ROW
#undef MOE__PAD_W
#undef MOE__SUM_A
#undef MOE__QZMM
#undef MOE__QX_BYTES
#undef MOE__GPF
#undef MOE__QXR
#undef MOE__QXNF
#undef MOE__QXK_BLK
#undef MOE__QXK_BYTES
#undef MOE__KDOT_SIMD
#undef MOE__KLD
#undef MOE__KLDX
#undef MOE__KFMA128
#undef MOE__KDP4
#undef MOE__KDPW
#undef MOE__KP2
#undef MOE__KC4
#undef MOE__KW
#undef MOE__KB
#undef MOE__KOR
#undef MOE__KANDOR
#undef MOE__KH8
#undef MOE__KH4
#undef MOE__KREG
#undef MOE__KGROUP
#undef MOE__KZERO___m256i
#undef MOE__KZERO___m128i
#undef MOE__KMRG
#undef MOE__K0145
#undef MOE__K2367
#undef MOE__KL32
#undef MOE__KL128
#undef MOE__KHD2
#undef MOE__KHD1
#undef MOE__KHI4
#undef MOE__KMIN8
#undef MOE__KQ45
#undef MOE__KQ45P
#undef MOE__KQ45S
#undef MOE__KQ45ALL
#undef MOE__KST2
#undef MOE__KST2A
#undef MOE__KQ6
#undef MOE__K2B
#undef MOE__KQ2
#undef MOE__KQ3
#undef MOE__KF4I
#undef MOE__KF4G
#undef MOE__KF4D
#undef MOE__KF4P
#undef MOE__KF4LOOP
#undef MOE__NRQ
#undef MOE__DPB
#undef MOE__DPQ8
#undef MOE__DPQ4
#undef MOE__LDU128
#undef MOE__LDU256
#undef MOE__QZ8
#undef MOE__QZ4
#undef MOE__QY8
#undef MOE__QY4
#undef MOE__QROWS
#undef MOE__QDECL
#undef MOE__QDECLZ
#undef MOE__QZ8R
#undef MOE__QZ4R
#undef MOE__QSUM
#undef MOE__QXZ8
#undef MOE__QXZ4
#undef MOE__SDOT
#undef MOE__SDOT16
#undef MOE__HSUM_S32
#undef MOE__LDX
#undef MOE__IB
#undef MOE__IBQ8B
#undef MOE__Q8B
#undef MOE__AMX
#undef MOE__IB8
#undef MOE__IG
#undef MOE__NI
#undef MOE__IR
#undef MOE__IBQ
#undef MOE__IBQP
#undef MOE__IB16
#undef MOE__IBPL
#undef MOE__IT4
#undef MOE__IST
#undef MOE__ILDW
#undef MOE__IV
#undef MOE__IF
#undef MOE__IVL
#undef MOE__ILD
#undef MOE__IBC
#undef MOE__IZERO
#undef MOE__IFMA
#undef MOE__IFLD
#undef MOE__IFST
#undef MOE__IFMUL
#undef MOE__IFSET
#undef MOE__IFMAF
#undef MOE__ICVT
#undef MOE__IC12
#undef MOE__IC16
#undef MOE__IONES
#undef MOE__ISUM
#undef MOE__IDPB
#undef MOE__IDPW
#undef MOE__IROWS
#undef MOE__IDECL
#undef MOE__ISTEP4
#undef MOE__ISTEP8
#undef MOE__IEPI
#undef MOE__IEPO
#undef MOE__ITAIL
#undef MOE__IEPO2
#undef MOE__ITAIL2
#undef MOE__ITAILO
#undef MOE__ISTEP
#undef MOE__IS8
#undef MOE__IS16
#undef MOE__IBLOCK
#undef MOE__AMXPAD
#undef MOE__AMXT
#undef MOE__ASTATE
#undef MOE__ACFG
#undef MOE__ALD
#undef MOE__ASTO
#undef MOE__AZERO
#undef MOE__ADPBUSD
#undef MOE__ADPBSUD
#undef MOE__ADPBSSD
#undef MOE__ADPBF16
#undef MOE__AREL
#undef MOE__ADECL
#undef MOE__AHL
#undef MOE__ABLOCK
#undef MOE__NS32
#undef MOE__NROWS
#undef MOE__NW
#undef MOE__NLDW
#undef MOE__NROW
#undef MOE__NPADD
#undef MOE__NHALF
#undef MOE__NSTEP
#undef MOE__NS8
#undef MOE__NDECL
#undef MOE__NSHL
#undef MOE__NEPI
#undef MOE__NEPO2
#undef MOE__NEPO
#undef MOE__MZ
#undef MOE__MZ1
#undef MOE__MZ2
#undef MOE__MROW
#undef MOE__MSTEP
#undef MOE__MS8
#undef MOE__MDECL
#undef MOE__MSHL
#undef MOE__M64
#undef MOE__MOUT
#undef MOE__QVF
#undef MOE__QVI
#undef MOE__QLF
#undef MOE__QLI
#undef MOE__QSI
#undef MOE__QSF
#undef MOE__QCI
#undef MOE__QSET
#undef MOE__QAND
#undef MOE__QOR
#undef MOE__QADD
#undef MOE__QSLL
#undef MOE__QMAX
#undef MOE__QMIN
#undef MOE__QMUL
#undef MOE__QSUB
#undef MOE__QCVT
#undef MOE__QFLT
#undef MOE__QSETF
#undef MOE__QISUB
#undef MOE__NB4
#undef MOE__BFDOT
#undef MOE__BFDECL
#undef MOE__BFSTEP
#undef MOE__BFST
#undef MOE__F8W
#undef MOE__F8STEP
#undef MOE__F8ZERO
#undef MOE__F8FMA
#undef MOE__F8SUM
#undef MOE__F8ADD
#undef MOE__KDOT_FP4
#undef MOE__GR
#undef MOE__LF32
#undef MOE__LF16
#undef MOE__LBF16
#undef MOE__GROW
#undef MOE__BFSPLIT
#undef MOE__BSL
#undef MOE__BHI
#undef MOE__BLD
#undef MOE__BHM
#undef MOE__FTD
#undef MOE__FTF
#undef MOE__FTS
#undef MOE__FDD
#undef MOE__FDF
#undef MOE__FDS
#undef MOE__G
#undef MOE__ODECL
#undef MOE__OFMA
#undef MOE__OFMA1
#undef MOE__OSTORE
#undef MOE__OPF
#undef MOE__ONEXT
#undef MOE__NRD
#undef MOE__NBD
#undef MOE__OMIN
#undef MOE__NB1
#undef MOE__QM
#undef MOE__FEW
#undef MOE__FMAX
#undef MOE__X_FMA
#undef MOE__X_F16C
#undef MOE__X_VNNI512
#undef MOE__X_VNNI512BW
#undef MOE__X_AVXVNNI
#undef MOE__X_AVX512VL
#undef MOE__X_AVX512BW
#undef MOE__X_GFNI
#undef MOE__X_DOTPROD
#undef MOE__SFX
#undef MOE__PATH_THIS
#undef MOE__TARGET
#undef MOE__PRAGMA
#undef MOE__TARGET_PUSH
#undef MOE_SIMD_SCALAR
#undef MOE_SIMD_AVX2
#undef MOE_SIMD_AVX512
#undef MOE_SIMD_NEON
#endif
#endif

#if defined(MOE_IMPLEMENTATION) && defined(MOE__IMPL_NOW) && !defined(MOE__PASS_NOW)
/* ====================================== kernel paths ====================================== */
static const char *const moe__path_names[MOE_PATH_COUNT] = {
    "auto", "scalar", "avx2", "avx2-vnni", "avx512", "avx512-vnni", "neon", "neon-dotprod"
};
MOEDEF const char *moe_path_name(moe_path p) { return (unsigned)p < (unsigned)MOE_PATH_COUNT ? moe__path_names[p] : "unknown"; }
MOEDEF moe_path moe_layer_path(const moe_layer *L) { return L && L->magic == MOE__MAGIC ? (moe_path)L->path : MOE_PATH_AUTO; }

#ifndef MOE__DISPATCHING
MOEDEF int moe_path_supported(moe_path p) { return p == MOE_PATH_AUTO || p == MOE__PATH_THIS; }
#else
/* bit p set: this build has path p (MOE__BUILT) / the running CPU and OS can run it */
#if MOE__DISPATCHING == 1
#define MOE__BUILT ((1u << MOE_PATH_SCALAR) | (1u << MOE_PATH_AVX2) | ((unsigned)MOE__PASS_AVXVNNI << MOE_PATH_AVX2_VNNI) \
                    | (1u << MOE_PATH_AVX512) | (1u << MOE_PATH_AVX512_VNNI))
static unsigned moe__cpu_paths(void)
{
    unsigned r[4], s7[4] = { 0, 0, 0, 0 }, s71[4] = { 0, 0, 0, 0 }, ok = 1u << MOE_PATH_SCALAR, max;
    unsigned long long x = 0;
    int avx2, avx512;
    moe__cpuid(0, 0, r);
    max = r[0];
    moe__cpuid(1, 0, r);
    if (!(r[2] & (1u << 27))) return ok;                            /* no OSXSAVE: no AVX state */
    x = moe__xcr0();
    if (max >= 7) { moe__cpuid(7, 0, s7); moe__cpuid(7, 1, s71); }
    /* AVX, FMA, F16C (leaf 1 ecx 28, 12, 29), AVX2 (leaf 7 ebx 5), and the OS saving xmm/ymm */
    avx2 = (r[2] & (1u << 28)) && (r[2] & (1u << 12)) && (r[2] & (1u << 29)) && (s7[1] & (1u << 5)) && (x & 6) == 6;
    /* AVX-512 F, DQ, BW, VL (leaf 7 ebx 16, 17, 30, 31), and the OS saving opmask and zmm */
    avx512 = avx2 && (s7[1] & (1u << 16)) && (s7[1] & (1u << 17)) && (s7[1] & (1u << 30)) && (s7[1] & (1u << 31))
             && (x & 0xe6) == 0xe6;
    if (avx2) ok |= 1u << MOE_PATH_AVX2;
    if (avx2 && (s71[0] & (1u << 4))) ok |= 1u << MOE_PATH_AVX2_VNNI;         /* AVX-VNNI: leaf 7.1 eax 4 */
    if (avx512) ok |= 1u << MOE_PATH_AVX512;
    if (avx512 && (s7[2] & (1u << 11))) ok |= 1u << MOE_PATH_AVX512_VNNI;     /* AVX512_VNNI: leaf 7 ecx 11 */
    return ok;
}
#else
#define MOE__BUILT ((1u << MOE_PATH_NEON) | ((unsigned)MOE__PASS_DOTPROD << MOE_PATH_NEON_DOTPROD))
static unsigned moe__cpu_paths(void)
{
    unsigned ok = 1u << MOE_PATH_NEON;
#if defined(__linux__) || defined(__ANDROID__)
    if (getauxval(AT_HWCAP) & (1ul << 20)) ok |= 1u << MOE_PATH_NEON_DOTPROD;   /* HWCAP_ASIMDDP */
#elif defined(__APPLE__)
    {
        int v = 0;
        size_t n = sizeof v;
        if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, NULL, 0) == 0 && v) ok |= 1u << MOE_PATH_NEON_DOTPROD;
    }
#endif                                   /* elsewhere: NEON only */
    return ok;
}
#endif
static moe_path moe__best_path(void)
{
    unsigned ok = MOE__BUILT & moe__cpu_paths();
    int p;
    for (p = MOE_PATH_COUNT - 1; p > MOE_PATH_AUTO; p--)   /* the enum lists each CPU's paths best last */
        if (ok >> p & 1u) return (moe_path)p;
    return MOE_PATH_SCALAR;
}
MOEDEF int moe_path_supported(moe_path p)
{
    if (p == MOE_PATH_AUTO) return 1;
    return (unsigned)p < (unsigned)MOE_PATH_COUNT && ((MOE__BUILT & moe__cpu_paths()) >> p & 1u);
}

/* the layer's path (a valid layer only: a garbage path must not jump into code the CPU lacks;
   the first path reports the bad layer) */
static moe_path moe__lpath(const moe_layer *L) { return L && L->magic == MOE__MAGIC ? (moe_path)L->path : MOE_PATH_AUTO; }
#if MOE__DISPATCHING == 1
#if MOE__PASS_AVXVNNI
#define MOE__CASE_AVXVNNI(f, ...) case MOE_PATH_AVX2_VNNI: return f##_avx2vnni(__VA_ARGS__);
#else
#define MOE__CASE_AVXVNNI(f, ...)
#endif
#define MOE__ON_PATH(p, f, ...) switch (p) { \
    case MOE_PATH_AVX2: return f##_avx2(__VA_ARGS__); \
    MOE__CASE_AVXVNNI(f, __VA_ARGS__) \
    case MOE_PATH_AVX512: return f##_avx512(__VA_ARGS__); \
    case MOE_PATH_AVX512_VNNI: return f##_avx512vnni(__VA_ARGS__); \
    default: return f##_scalar(__VA_ARGS__); }
#else
#define MOE__ON_PATH(p, f, ...) switch (p) { \
    case MOE_PATH_NEON_DOTPROD: return f##_neondot(__VA_ARGS__); \
    default: return f##_neon(__VA_ARGS__); }
#endif

MOEDEF const char *moe_simd_name(void) { MOE__ON_PATH(moe__best_path(), moe_simd_name, ) }
MOEDEF moe_status moe_layer_init(moe_layer *L, const moe_config *cfg, const moe_weights *w)
{
    moe_config c;
    if (!L || !cfg) { MOE__ON_PATH(MOE_PATH_AUTO, moe_layer_init, L, cfg, w) }   /* reports it */
    c = *cfg;
    if (c.path == MOE_PATH_AUTO) c.path = moe__best_path();
    else if (!moe_path_supported(c.path)) {
        memset(L, 0, sizeof *L);
        if ((unsigned)c.path >= (unsigned)MOE_PATH_COUNT)
            return moe__failf(L, MOE_ERR_CONFIG, "config.path: not a moe_path: %d", (int)c.path);
        return moe__failf(L, MOE_ERR_UNSUPPORTED, "config.path: %s %s", moe_path_name(c.path),
                          MOE__BUILT >> c.path & 1u ? "is not supported by this CPU" : "is not built for this target");
    }
    MOE__ON_PATH(c.path, moe_layer_init, L, &c, w)
}
MOEDEF size_t moe_workspace_size(const moe_layer *L, int n_tokens) { MOE__ON_PATH(moe__lpath(L), moe_workspace_size, L, n_tokens) }
MOEDEF size_t moe_prepack_size(const moe_layer *L) { MOE__ON_PATH(moe__lpath(L), moe_prepack_size, L) }
MOEDEF moe_status moe_prepack(moe_layer *L, void *buf, size_t size) { MOE__ON_PATH(moe__lpath(L), moe_prepack, L, buf, size) }
MOEDEF moe_status moe_forward(const moe_layer *layer, const float *x, int n_tokens, float *y, void *work, size_t work_size)
{
    MOE__ON_PATH(moe__lpath(layer), moe_forward, layer, x, n_tokens, y, work, work_size)
}
MOEDEF moe_status moe_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y, void *work,
                                 size_t work_size, const moe_run_opts *opts)
{
    MOE__ON_PATH(moe__lpath(layer), moe_forward_ex, layer, x, n_tokens, y, work, work_size, opts)
}
MOEDEF moe_status moe_route(const moe_layer *layer, const float *x, int n_tokens, int *ids, float *weights,
                            void *work, size_t work_size)
{
    MOE__ON_PATH(moe__lpath(layer), moe_route, layer, x, n_tokens, ids, weights, work, work_size)
}
MOEDEF moe_status moe_combine(const moe_layer *L, int T, const float *slot_out, const float *slot_coef,
                              const int *slot_expert, float *y)
{
    MOE__ON_PATH(moe__lpath(L), moe_combine, L, T, slot_out, slot_coef, slot_expert, y)
}
#undef MOE__ON_PATH
#undef MOE__CASE_AVXVNNI
#endif

/* <<<< file readers: implementation >>>> */
/* ===================================== file readers ====================================== */
/* GGUF and safetensors parsed from caller memory, and the mapping from a file and a layer
   index to a moe_config + moe_weights. Every read is bounds-checked against the buffer it
   comes from, every size is overflow-checked, bytes are assembled little-endian. */
#define MOE__ERRCAP 160
static moe_status moe__ferr(char *err, moe_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    moe__vfmt(err, MOE__ERRCAP, fmt, ap);
    va_end(ap);
    return st;
}
/* a printable, NUL-terminated copy of n bytes of a name, for messages */
static const char *moe__nm(char *buf, size_t cap, const char *p, size_t n)
{
    size_t i, m = n < cap - 1 ? n : cap - 1;
    for (i = 0; i < m; i++) buf[i] = (p[i] >= 32 && p[i] < 127 && p[i] != '%') ? p[i] : '?';
    buf[m] = 0;
    if (n > m && m >= 3) buf[m - 1] = buf[m - 2] = buf[m - 3] = '.';
    return buf;
}
static uint32_t moe__rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t moe__rd64(const unsigned char *p) { return (uint64_t)moe__rd32(p) | (uint64_t)moe__rd32(p + 4) << 32; }
static int moe__streq(const char *a, size_t na, const char *b) { return strlen(b) == na && memcmp(a, b, na) == 0; }
/* a formatted name (moe__vfmt: %s %d) into buf[192] */
#define MOE__NAMECAP 192
static const char *moe__name(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    moe__vfmt(buf, MOE__NAMECAP, fmt, ap);
    va_end(ap);
    return buf;
}

/* ---- GGUF --------------------------------------------------------------------------------- */
/* ggml's types (ggml.h, ggml-common.h): name, values per block, bytes per block (0: removed),
   and the moe_type of the same bytes (-1: none) */
static const struct { const char *name; unsigned short blck, bytes; int moe; } moe__ggml[] = {
    { "f32", 1, 4, (int)MOE_TYPE_F32 },      { "f16", 1, 2, (int)MOE_TYPE_F16 },
    { "q4_0", 32, 18, (int)MOE_TYPE_Q4_0 },  { "q4_1", 32, 20, -1 }, { "type4", 0, 0, -1 }, { "type5", 0, 0, -1 },
    { "q5_0", 32, 22, -1 },                  { "q5_1", 32, 24, -1 },
    { "q8_0", 32, 34, (int)MOE_TYPE_Q8_0 },  { "q8_1", 32, 36, -1 },
    { "q2_K", 256, 84, (int)MOE_TYPE_Q2_K }, { "q3_K", 256, 110, (int)MOE_TYPE_Q3_K },
    { "q4_K", 256, 144, (int)MOE_TYPE_Q4_K }, { "q5_K", 256, 176, (int)MOE_TYPE_Q5_K },
    { "q6_K", 256, 210, (int)MOE_TYPE_Q6_K }, { "q8_K", 256, 292, -1 },
    { "iq2_xxs", 256, 66, -1 }, { "iq2_xs", 256, 74, -1 }, { "iq3_xxs", 256, 98, -1 }, { "iq1_s", 256, 50, -1 },
    { "iq4_nl", 32, 18, -1 },   { "iq3_s", 256, 110, -1 }, { "iq2_s", 256, 82, -1 },   { "iq4_xs", 256, 136, -1 },
    { "i8", 1, 1, -1 }, { "i16", 1, 2, -1 }, { "i32", 1, 4, -1 }, { "i64", 1, 8, -1 }, { "f64", 1, 8, -1 },
    { "iq1_m", 256, 56, -1 },   { "bf16", 1, 2, (int)MOE_TYPE_BF16 },
    { "type31", 0, 0, -1 }, { "type32", 0, 0, -1 }, { "type33", 0, 0, -1 },
    { "tq1_0", 256, 54, -1 }, { "tq2_0", 256, 66, -1 },
    { "type36", 0, 0, -1 }, { "type37", 0, 0, -1 }, { "type38", 0, 0, -1 },
    { "mxfp4", 32, 17, (int)MOE_TYPE_MXFP4 }, { "nvfp4", 64, 36, -1 }, { "q1_0", 128, 18, -1 }, { "q2_0", 64, 18, -1 }
};
#define MOE__GGML_N (sizeof moe__ggml / sizeof moe__ggml[0])
/* metadata value types 0..12: u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64 */
static const unsigned char moe__gv_size[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *const moe__gv_name[13] = { "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string",
                                              "array", "u64", "i64", "f64" };
#define MOE__GGUF_DEPTH 8   /* most nested arrays */

/* skip (and check) one value of type ty at *at */
static moe_status moe__gguf_skip(moe_gguf *g, size_t *at, uint32_t ty, int depth)
{
    size_t left = g->size - *at, i, n, sz;
    if (ty > 12) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: unknown value type %d at offset %zu", (int)ty, *at);
    if (ty == 8) {
        uint64_t len;
        if (left < 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated string length at offset %zu", *at);
        len = moe__rd64(g->data + *at);
        if (len > left - 8)
            return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: string at offset %zu runs past the end of the file", *at);
        *at += 8 + (size_t)len;
        return MOE_OK;
    }
    if (ty == 9) {
        uint32_t et;
        uint64_t cnt;
        moe_status s;
        if (depth >= MOE__GGUF_DEPTH)
            return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: arrays nested deeper than %d at offset %zu", MOE__GGUF_DEPTH, *at);
        if (left < 12) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated array header at offset %zu", *at);
        et = moe__rd32(g->data + *at);
        cnt = moe__rd64(g->data + *at + 4);
        *at += 12;
        left -= 12;
        if (et > 12) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: unknown array element type %d at offset %zu", (int)et, *at - 12);
        sz = moe__gv_size[et] ? moe__gv_size[et] : (et == 8 ? 8u : 12u);   /* least bytes per element */
        if (cnt > left / sz)
            return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: array at offset %zu has more elements than the file can hold", *at - 12);
        n = (size_t)cnt;
        if (moe__gv_size[et]) {
            if (et == 7)
                for (i = 0; i < n; i++)
                    if (g->data[*at + i] > 1) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: bool at offset %zu is not 0 or 1", *at + i);
            *at += n * sz;
            return MOE_OK;
        }
        for (i = 0; i < n; i++)
            if ((s = moe__gguf_skip(g, at, et, depth + 1))) return s;
        return MOE_OK;
    }
    sz = moe__gv_size[ty];
    if (left < sz) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated %s value at offset %zu", moe__gv_name[ty], *at);
    if (ty == 7 && g->data[*at] > 1) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: bool at offset %zu is not 0 or 1", *at);
    *at += sz;
    return MOE_OK;
}
/* key/value i at *at: the key (k, klen), its type, the value's offset; *at moves past it */
static moe_status moe__gguf_kv(moe_gguf *g, size_t *at, const char **k, size_t *klen, uint32_t *ty, size_t *val)
{
    uint64_t len;
    size_t left = g->size - *at;
    if (left < 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated key at offset %zu", *at);
    len = moe__rd64(g->data + *at);
    if (len > left - 8 || left - 8 - (size_t)len < 4)
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: key at offset %zu runs past the end of the file", *at);
    *k = (const char *)g->data + *at + 8;
    *klen = (size_t)len;
    *ty = moe__rd32(g->data + *at + 8 + (size_t)len);
    *at += 12 + (size_t)len;
    *val = *at;
    return moe__gguf_skip(g, at, *ty, 0);
}
/* the integer value of type ty at p (ty < 12, fixed size, not f32) */
static int moe__gguf_intval(const unsigned char *p, uint32_t ty, long long *v)
{
    uint64_t u;
    switch (ty) {
    case 0: case 7: *v = p[0]; return 1;
    case 1: *v = (signed char)p[0]; return 1;
    case 2: *v = moe__rd16(p); return 1;
    case 3: *v = (int16_t)moe__rd16(p); return 1;
    case 4: *v = (long long)moe__rd32(p); return 1;
    case 5: *v = (int32_t)moe__rd32(p); return 1;
    case 10: u = moe__rd64(p); if (u > (uint64_t)LLONG_MAX) return 0; *v = (long long)u; return 1;
    case 11: u = moe__rd64(p); *v = u > (uint64_t)LLONG_MAX ? -(long long)(~u) - 1 : (long long)u; return 1;
    default: return 0;
    }
}

/* tensor info at *at: checked and decoded into t (data located when g->data_at is known);
   *prev_end: where the previous tensor's data ended (relative to the data section) */
static moe_status moe__gguf_ti(moe_gguf *g, size_t *at, moe_file_tensor *t, uint64_t *prev_end)
{
    char nb[72];
    size_t left = g->size - *at, blck, i;
    uint64_t len, nd, ne[4], nel = 1, bytes, off;
    uint32_t ty;
    memset(t, 0, sizeof *t);
    if (left < 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated tensor info at offset %zu", *at);
    len = moe__rd64(g->data + *at);
    if (len > left - 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor name at offset %zu runs past the end of the file", *at);
    if (len > 63) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor name at offset %zu is longer than 63 bytes", *at);
    t->name = (const char *)g->data + *at + 8;
    t->name_len = (size_t)len;
    moe__nm(nb, sizeof nb, t->name, t->name_len);
    *at += 8 + (size_t)len;
    left = g->size - *at;
    if (left < 4) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': truncated info", nb);
    nd = moe__rd32(g->data + *at);
    if (nd > 4) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s' has %d dimensions; at most 4", nb, (int)nd);
    if (left - 4 < nd * 8 + 12) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': truncated info", nb);
    *at += 4;
    for (i = 0; i < 4; i++) {
        ne[i] = i < nd ? moe__rd64(g->data + *at + 8 * i) : 1;
        if (ne[i] > (uint64_t)LLONG_MAX) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s' has a negative dimension", nb);
        if (ne[i] && nel > (uint64_t)-1 / ne[i])
            return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': the product of its dimensions overflows", nb);
        nel *= ne[i];
    }
    *at += (size_t)nd * 8;
    ty = moe__rd32(g->data + *at);
    off = moe__rd64(g->data + *at + 4);
    *at += 12;
    if (ty >= MOE__GGML_N || moe__ggml[ty].blck == 0)
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s' has unknown ggml type %ld", nb, (long)ty);
    blck = moe__ggml[ty].blck;
    if (ne[0] % blck) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': rows of %s are blocks of %zu values", nb, moe__ggml[ty].name, blck);
    if (nel / blck > (uint64_t)-1 / moe__ggml[ty].bytes || (bytes = nel / blck * moe__ggml[ty].bytes) > (uint64_t)(size_t)-1)
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': its size in bytes overflows", nb);
    if (off % g->alignment)
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': data offset is not a multiple of the alignment %zu", nb, g->alignment);
    if (off < *prev_end) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s' overlaps (or precedes) the previous tensor's data", nb);
    if (bytes > (uint64_t)-1 - off) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': offset + size overflows", nb);
    *prev_end = off + bytes;
    if (g->data_at && (off > (uint64_t)(g->size - g->data_at) || bytes > (uint64_t)(g->size - g->data_at) - off))
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: tensor '%s': data runs past the end of the file", nb);
    t->n_dims = (int)nd;
    for (i = 0; i < 8; i++) t->shape[i] = 1;
    for (i = 0; i < nd; i++) t->shape[i] = ne[nd - 1 - i];            /* slowest first */
    t->type_name = moe__ggml[ty].name;
    t->file_type = (int)ty;
    t->runnable = moe__ggml[ty].moe >= 0;
    t->type = t->runnable ? (moe_type)moe__ggml[ty].moe : MOE_TYPE_F32;
    t->size = (size_t)bytes;
    if (g->data_at) { t->offset = g->data_at + (size_t)off; t->data = g->data + t->offset; }
    return MOE_OK;
}

MOEDEF moe_status moe_gguf_open(moe_gguf *g, const void *data, size_t size)
{
    size_t at, i, val = 0, klen = 0;
    uint64_t nt, nkv, prev = 0;
    uint32_t ver, ty = 0;
    const char *k = NULL;
    int seen_align = 0, seen_arch = 0;
    moe_file_tensor t;
    moe_status s;
    if (!g) return MOE_ERR_NULL;
    memset(g, 0, sizeof *g);
    if (!data) return moe__ferr(g->error, MOE_ERR_NULL, "gguf: data is NULL");
    g->data = (const unsigned char *)data;
    g->size = size;
    g->alignment = 32;
    if (size < 24) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated: %zu bytes, the header needs 24", size);
    if (memcmp(g->data, "GGUF", 4)) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: bad magic: the file does not start with 'GGUF'");
    ver = moe__rd32(g->data + 4);
    if (ver == 1) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: version 1 is not supported (v2 and v3 are)");
    if ((ver & 0xffffu) == 0 && ver) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: version field %ld looks big-endian; only little-endian files are read", (long)ver);
    if (ver < 2 || ver > 3) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: unknown version %ld (v2 and v3 are read)", (long)ver);
    g->version = ver;
    nt = moe__rd64(g->data + 8);
    nkv = moe__rd64(g->data + 16);
    at = 24;
    if (nkv > (size - at) / 13) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: %zu metadata entries cannot fit in the file", (size_t)(nkv > (size_t)-1 ? (size_t)-1 : nkv));
    g->n_kv = (size_t)nkv;
    g->kv_at = at;
    for (i = 0; i < g->n_kv; i++) {
        if ((s = moe__gguf_kv(g, &at, &k, &klen, &ty, &val))) return s;
        if (moe__streq(k, klen, "general.alignment")) {
            long long a;
            if (seen_align++) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: duplicate key 'general.alignment'");
            if (ty == 6 || ty > 11 || ty == 8 || ty == 9 || !moe__gguf_intval(g->data + val, ty, &a) || a < 1 || a > (1 << 30) || (a & (a - 1)))
                return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: general.alignment must be a power of two integer (at offset %zu)", val);
            g->alignment = (size_t)a;
        } else if (moe__streq(k, klen, "general.architecture")) {
            uint64_t n;
            if (seen_arch++) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: duplicate key 'general.architecture'");
            if (ty != 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: general.architecture is not a string");
            n = moe__rd64(g->data + val);                        /* kept if it fits and has no NUL */
            if (n < sizeof g->arch && !memchr(g->data + val + 8, 0, (size_t)n)) { memcpy(g->arch, g->data + val + 8, (size_t)n); g->arch[n] = 0; }
        }
    }
    g->ti_at = at;
    if (nt > (size - at) / 24) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: %zu tensor infos cannot fit in the file", (size_t)(nt > (size_t)-1 ? (size_t)-1 : nt));
    g->n_tensors = (size_t)nt;
    for (i = 0; i < g->n_tensors; i++)
        if ((s = moe__gguf_ti(g, &at, &t, &prev))) return s;
    /* the data section starts at the next multiple of the alignment */
    if (at % g->alignment && !moe__add(at, g->alignment - at % g->alignment, &at))
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: data section offset overflows");
    if (g->n_tensors && at > size) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated: the tensor data would start at %zu, past the end (%zu)", at, size);
    if (prev > (uint64_t)(size - (at < size ? at : size)))
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: truncated: tensor data needs %zu bytes after offset %zu; the file has %zu",
                         (size_t)(prev > (size_t)-1 ? (size_t)-1 : prev), at, size);
    g->data_at = at;
    return MOE_OK;
}

MOEDEF moe_status moe_gguf_tensor(moe_gguf *g, size_t i, moe_file_tensor *t)
{
    size_t at, j;
    uint64_t prev = 0;
    moe_status s = MOE_OK;
    if (!g || !t || !g->data_at) return MOE_ERR_NULL;
    if (i >= g->n_tensors) return moe__ferr(g->error, MOE_ERR_ARG, "gguf: tensor index %zu >= %zu tensors", i, g->n_tensors);
    for (at = g->ti_at, j = 0; j <= i && !s; j++) s = moe__gguf_ti(g, &at, t, &prev);
    return s;
}
MOEDEF moe_status moe_gguf_find(moe_gguf *g, const char *name, moe_file_tensor *t)
{
    size_t at, j, hit = 0, found = 0;
    uint64_t prev = 0;
    moe_file_tensor c;
    moe_status s;
    char nb[72];
    if (!g || !name || !t || !g->data_at) return MOE_ERR_NULL;
    for (at = g->ti_at, j = 0; j < g->n_tensors; j++) {
        if ((s = moe__gguf_ti(g, &at, &c, &prev))) return s;
        if (!moe__streq(c.name, c.name_len, name)) continue;
        if (found++) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: duplicate tensor name '%s' (tensors %zu and %zu)", moe__nm(nb, sizeof nb, name, strlen(name)), hit, j);
        hit = j;
        *t = c;
    }
    if (!found) return moe__ferr(g->error, MOE_ERR_MISSING, "gguf: tensor '%s' not found", moe__nm(nb, sizeof nb, name, strlen(name)));
    return MOE_OK;
}
/* the value of key: its type and offset; duplicates are an error */
static moe_status moe__gguf_key(moe_gguf *g, const char *key, uint32_t *ty, size_t *val)
{
    size_t at, i, v = 0, klen = 0;
    uint32_t t = 0;
    const char *k = NULL;
    int found = 0;
    moe_status s;
    char nb[72];
    if (!g || !key || !g->data_at) return MOE_ERR_NULL;
    for (at = g->kv_at, i = 0; i < g->n_kv; i++) {
        if ((s = moe__gguf_kv(g, &at, &k, &klen, &t, &v))) return s;
        if (!moe__streq(k, klen, key)) continue;
        if (found++) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: duplicate key '%s'", moe__nm(nb, sizeof nb, key, strlen(key)));
        *ty = t; *val = v;
    }
    if (!found) return moe__ferr(g->error, MOE_ERR_MISSING, "gguf: key '%s' not found", moe__nm(nb, sizeof nb, key, strlen(key)));
    return MOE_OK;
}
MOEDEF moe_status moe_gguf_get_int(moe_gguf *g, const char *key, long long *v)
{
    uint32_t ty;
    size_t at;
    char nb[72];
    moe_status s = moe__gguf_key(g, key, &ty, &at);
    if (s) return s;
    if (!v || ty == 6 || ty == 8 || ty == 9 || ty == 12 || !moe__gguf_intval(g->data + at, ty, v))
        return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: key '%s' is a %s, not an integer in range", moe__nm(nb, sizeof nb, key, strlen(key)), moe__gv_name[ty]);
    return MOE_OK;
}
MOEDEF moe_status moe_gguf_get_float(moe_gguf *g, const char *key, double *v)
{
    uint32_t ty;
    size_t at;
    long long iv;
    uint64_t u;
    char nb[72];
    moe_status s = moe__gguf_key(g, key, &ty, &at);
    if (s) return s;
    if (!v) return MOE_ERR_NULL;
    if (ty == 6) { *v = (double)moe__bits_f(moe__rd32(g->data + at)); return MOE_OK; }
    if (ty == 12) { u = moe__rd64(g->data + at); memcpy(v, &u, 8); return MOE_OK; }
    if (ty != 8 && ty != 9 && moe__gguf_intval(g->data + at, ty, &iv)) { *v = (double)iv; return MOE_OK; }
    return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: key '%s' is a %s, not a number", moe__nm(nb, sizeof nb, key, strlen(key)), moe__gv_name[ty]);
}
MOEDEF moe_status moe_gguf_get_str(moe_gguf *g, const char *key, const char **str, size_t *len)
{
    uint32_t ty;
    size_t at;
    char nb[72];
    moe_status s = moe__gguf_key(g, key, &ty, &at);
    if (s) return s;
    if (!str || !len) return MOE_ERR_NULL;
    if (ty != 8) return moe__ferr(g->error, MOE_ERR_FORMAT, "gguf: key '%s' is a %s, not a string", moe__nm(nb, sizeof nb, key, strlen(key)), moe__gv_name[ty]);
    *len = (size_t)moe__rd64(g->data + at);
    *str = (const char *)g->data + at + 8;
    return MOE_OK;
}

/* ---- JSON (strict, for hostile input) ------------------------------------------------------
   RFC 8259: one value, whitespace around it; strings valid UTF-8 (no overlong forms, no
   surrogates) without control characters, escapes checked (\u surrogates must pair);
   numbers in the JSON grammar and within double range; nesting at most MOE__JSON_DEPTH.
   moe__js_check validates a whole text once; the readers below then walk it. */
#define MOE__JSON_DEPTH 64
typedef struct moe__js { const unsigned char *p; size_t n; char *err; } moe__js;
static moe_status moe__js_fail(const moe__js *j, size_t at, const char *what)
{
    return moe__ferr(j->err, MOE_ERR_FORMAT, "json: %s at offset %zu", what, at);
}
static size_t moe__js_ws(const moe__js *j, size_t i)
{
    while (i < j->n && (j->p[i] == ' ' || j->p[i] == '\t' || j->p[i] == '\n' || j->p[i] == '\r')) i++;
    return i;
}
static int moe__js_hex(const unsigned char *p, unsigned *v)
{
    int k;
    *v = 0;
    for (k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if ((c | 32) >= 'a' && (c | 32) <= 'f') d = (c | 32) - 'a' + 10;
        else return 0;
        *v = *v << 4 | d;
    }
    return 1;
}
/* one UTF-8 sequence at p[0..n): its length, 0 if invalid */
static size_t moe__utf8(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;                  /* overlong */
        if (c == 0xed && p[1] >= 0xa0) return 0;                 /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;                  /* overlong */
        if (c == 0xf4 && p[1] >= 0x90) return 0;                 /* above U+10FFFF */
        return 4;
    }
    return 0;
}
/* The string at *i (on its '"'): checked; *i moves past it. With out: decoded into out[cap]
   (*olen bytes, NUL-terminated), or 0 if it does not fit. */
static int moe__js_str(const moe__js *j, size_t *i, char *out, size_t cap, size_t *olen, moe_status *st)
{
    size_t k = *i + 1, o = 0;
    *st = MOE_OK;
    if (out) {                      /* out stays NUL-terminated on every return, failures too */
        if (!cap) return 0;
        out[0] = 0;
    }
    for (;;) {
        unsigned char c;
        unsigned char buf[4];
        size_t nb = 0, q;
        if (k >= j->n) { *st = moe__js_fail(j, *i, "unterminated string"); return 0; }
        c = j->p[k];
        if (c == '"') break;
        if (c < 0x20) { *st = moe__js_fail(j, k, "control character in a string"); return 0; }
        if (c == '\\') {
            unsigned u, u2;
            if (k + 1 >= j->n) { *st = moe__js_fail(j, k, "unterminated escape"); return 0; }
            c = j->p[k + 1];
            switch (c) {
            case '"': case '\\': case '/': buf[0] = c; nb = 1; break;
            case 'b': buf[0] = 8; nb = 1; break;
            case 'f': buf[0] = 12; nb = 1; break;
            case 'n': buf[0] = 10; nb = 1; break;
            case 'r': buf[0] = 13; nb = 1; break;
            case 't': buf[0] = 9; nb = 1; break;
            case 'u':
                if (j->n - k < 6 || !moe__js_hex(j->p + k + 2, &u)) { *st = moe__js_fail(j, k, "bad \\u escape"); return 0; }
                if (u >= 0xdc00 && u <= 0xdfff) { *st = moe__js_fail(j, k, "lone low surrogate"); return 0; }
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (j->n - k < 12 || j->p[k + 6] != '\\' || j->p[k + 7] != 'u' || !moe__js_hex(j->p + k + 8, &u2) ||
                        u2 < 0xdc00 || u2 > 0xdfff) { *st = moe__js_fail(j, k, "unpaired high surrogate"); return 0; }
                    u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
                    k += 6;
                }
                if (u < 0x80) { buf[0] = (unsigned char)u; nb = 1; }
                else if (u < 0x800) { buf[0] = (unsigned char)(0xc0 | u >> 6); buf[1] = (unsigned char)(0x80 | (u & 63)); nb = 2; }
                else if (u < 0x10000) { buf[0] = (unsigned char)(0xe0 | u >> 12); buf[1] = (unsigned char)(0x80 | (u >> 6 & 63)); buf[2] = (unsigned char)(0x80 | (u & 63)); nb = 3; }
                else { buf[0] = (unsigned char)(0xf0 | u >> 18); buf[1] = (unsigned char)(0x80 | (u >> 12 & 63)); buf[2] = (unsigned char)(0x80 | (u >> 6 & 63)); buf[3] = (unsigned char)(0x80 | (u & 63)); nb = 4; }
                k += 4;
                break;
            default: *st = moe__js_fail(j, k, "bad escape"); return 0;
            }
            k += 2;
        } else {
            nb = moe__utf8(j->p + k, j->n - k);
            if (!nb) { *st = moe__js_fail(j, k, "invalid UTF-8"); return 0; }
            for (q = 0; q < nb; q++) buf[q] = j->p[k + q];
            k += nb;
        }
        if (out) {
            if (o + nb >= cap) return 0;
            for (q = 0; q < nb; q++) out[o++] = (char)buf[q];
            out[o] = 0;
        } else o += nb;
    }
    if (out) out[o] = 0;
    if (olen) *olen = o;
    *i = k + 1;
    return 1;
}
/* The number at *i: checked against the grammar and the double range; *i moves past it.
   v: its value (correctly rounded when it has at most 19 significant digits and 10^|e| <= 10^22,
   else within a few ulps); is_int: digits only (no '-', fraction or exponent); u: that integer
   when it fits 64 bits (else *is_int = 0). */
static double moe__pow10(int e)
{
    static const double t[9] = { 1e1, 1e2, 1e4, 1e8, 1e16, 1e32, 1e64, 1e128, 1e256 };
    double r = 1.0;
    int k, a = e < 0 ? -e : e;
    for (k = 0; k < 9 && a; k++, a >>= 1) if (a & 1) r *= t[k];
    return a ? HUGE_VAL : r;
}
static moe_status moe__js_num(const moe__js *j, size_t *i, double *v, int *is_int, uint64_t *u)
{
    size_t k = *i, start = *i;
    uint64_t m = 0, ui = 0;
    int neg = 0, taken = 0, esign = 1, intok = 1;
    long e = 0, adj = 0;
    double r;
    if (k < j->n && j->p[k] == '-') { neg = 1; intok = 0; k++; }
    if (k >= j->n || j->p[k] < '0' || j->p[k] > '9') return moe__js_fail(j, start, "bad number");
    if (j->p[k] == '0' && k + 1 < j->n && j->p[k + 1] >= '0' && j->p[k + 1] <= '9') return moe__js_fail(j, start, "number with a leading zero");
    for (; k < j->n && j->p[k] >= '0' && j->p[k] <= '9'; k++) {
        unsigned d = j->p[k] - '0';
        if (ui > ((uint64_t)-1 - d) / 10) intok = 0; else ui = ui * 10 + d;
        if (!m && !d) continue;                              /* leading zeros */
        if (taken < 19) { m = m * 10 + d; taken++; } else if (adj < 1000000) adj++;
    }
    if (k < j->n && j->p[k] == '.') {
        intok = 0;
        if (++k >= j->n || j->p[k] < '0' || j->p[k] > '9') return moe__js_fail(j, start, "bad number: no digit after '.'");
        for (; k < j->n && j->p[k] >= '0' && j->p[k] <= '9'; k++) {
            unsigned d = j->p[k] - '0';
            if (!m && !d) { if (adj > -1000000) adj--; continue; }
            if (taken < 19) { m = m * 10 + d; taken++; adj--; }
        }
    }
    if (k < j->n && (j->p[k] == 'e' || j->p[k] == 'E')) {
        intok = 0;
        k++;
        if (k < j->n && (j->p[k] == '+' || j->p[k] == '-')) { esign = j->p[k] == '-' ? -1 : 1; k++; }
        if (k >= j->n || j->p[k] < '0' || j->p[k] > '9') return moe__js_fail(j, start, "bad number: no digit in the exponent");
        for (; k < j->n && j->p[k] >= '0' && j->p[k] <= '9'; k++) if (e < 1000000) e = e * 10 + (j->p[k] - '0');
    }
    e = e * esign + adj;                                     /* value = m * 10^e */
    if (m && e + taken - 1 > 308) return moe__js_fail(j, start, "number out of range");
    if (!m || e + taken < -330) r = 0.0;
    else if (e >= 0) r = (double)m * moe__pow10((int)e);
    else if (e >= -22) r = (double)m / moe__pow10((int)-e);
    else r = (double)m / moe__pow10(22) / moe__pow10((int)(-e - 22));
    if (!(r <= 1.7976931348623157e308)) return moe__js_fail(j, start, "number out of range");
    if (v) *v = neg ? -r : r;
    if (is_int) *is_int = intok;
    if (u) *u = ui;
    *i = k;
    return MOE_OK;
}
/* check (and skip) one value at *i (after whitespace) */
static moe_status moe__js_value(const moe__js *j, size_t *i, int depth)
{
    size_t k = moe__js_ws(j, *i);
    moe_status st = MOE_OK;
    unsigned char c;
    if (k >= j->n) return moe__js_fail(j, k, "unexpected end");
    c = j->p[k];
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        if (depth >= MOE__JSON_DEPTH) return moe__js_fail(j, k, "nesting too deep");
        k = moe__js_ws(j, k + 1);
        if (k < j->n && j->p[k] == close) { *i = k + 1; return MOE_OK; }
        for (;;) {
            if (c == '{') {
                k = moe__js_ws(j, k);
                if (k >= j->n || j->p[k] != '"') return moe__js_fail(j, k, "expected a key");
                if (!moe__js_str(j, &k, NULL, 0, NULL, &st)) return st;
                k = moe__js_ws(j, k);
                if (k >= j->n || j->p[k] != ':') return moe__js_fail(j, k, "expected ':'");
                k++;
            }
            if ((st = moe__js_value(j, &k, depth + 1))) return st;
            k = moe__js_ws(j, k);
            if (k < j->n && j->p[k] == ',') { k++; continue; }
            if (k < j->n && j->p[k] == close) { *i = k + 1; return MOE_OK; }
            return moe__js_fail(j, k, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') { if (!moe__js_str(j, &k, NULL, 0, NULL, &st)) return st; *i = k; return MOE_OK; }
    if (c == '-' || (c >= '0' && c <= '9')) { if ((st = moe__js_num(j, &k, NULL, NULL, NULL))) return st; *i = k; return MOE_OK; }
    if (j->n - k >= 4 && !memcmp(j->p + k, "true", 4)) { *i = k + 4; return MOE_OK; }
    if (j->n - k >= 5 && !memcmp(j->p + k, "false", 5)) { *i = k + 5; return MOE_OK; }
    if (j->n - k >= 4 && !memcmp(j->p + k, "null", 4)) { *i = k + 4; return MOE_OK; }
    return moe__js_fail(j, k, "unexpected character");
}
/* a whole document: one value and whitespace */
static moe_status moe__js_check(const moe__js *j)
{
    size_t i = 0;
    moe_status st = moe__js_value(j, &i, 0);
    if (st) return st;
    if (moe__js_ws(j, i) != j->n) return moe__js_fail(j, moe__js_ws(j, i), "trailing characters after the value");
    return MOE_OK;
}
/* ---- walking a checked document ---- */
/* Members of the object at *obj: iterate with *it = 0 first; each call gives the key's offset
   (on its '"') and the value's offset; returns 0 at the end. */
static int moe__js_next(const moe__js *j, size_t obj, size_t *it, size_t *key, size_t *val)
{
    size_t k = *it ? *it : obj + 1;
    moe_status st;
    k = moe__js_ws(j, k);
    if (k < j->n && j->p[k] == ',') k = moe__js_ws(j, k + 1);
    if (k >= j->n || j->p[k] != '"') return 0;
    *key = k;
    if (!moe__js_str(j, &k, NULL, 0, NULL, &st)) return 0;
    k = moe__js_ws(j, k) + 1;                            /* past ':' */
    *val = moe__js_ws(j, k);
    if (moe__js_value(j, &k, 0)) return 0;
    *it = k;
    return 1;
}
/* is the string at k equal to s? */
static int moe__js_eq(const moe__js *j, size_t k, const char *s)
{
    char buf[256];
    size_t n;
    moe_status st;
    if (strlen(s) >= sizeof buf) return 0;
    return moe__js_str(j, &k, buf, sizeof buf, &n, &st) && n == strlen(s) && !memcmp(buf, s, n);
}
/* the value of member key of the object at obj: 1 found, 0 absent, -1 the key is there twice */
static int moe__js_get(const moe__js *j, size_t obj, const char *key, size_t *val)
{
    size_t it = 0, k, v;
    int found = 0;
    if (obj >= j->n || j->p[obj] != '{') return 0;
    while (moe__js_next(j, obj, &it, &k, &v))
        if (moe__js_eq(j, k, key)) { if (found++) return -1; *val = v; }
    return found;
}
/* the elements of the array at arr: *it = 0 first; returns 0 at the end */
static int moe__js_elem(const moe__js *j, size_t arr, size_t *it, size_t *val)
{
    size_t k = *it ? *it : arr + 1;
    k = moe__js_ws(j, k);
    if (k < j->n && j->p[k] == ',') k = moe__js_ws(j, k + 1);
    if (k >= j->n || j->p[k] == ']') return 0;
    *val = k;
    if (moe__js_value(j, &k, 0)) return 0;
    *it = k;
    return 1;
}

/* ---- safetensors -------------------------------------------------------------------------- */
static const struct { const char *name; unsigned char size; int moe; } moe__st_dt[MOE_ST_DTYPE_COUNT] = {
    { "BOOL", 1, -1 }, { "U8", 1, -1 }, { "I8", 1, -1 }, { "F8_E4M3", 1, (int)MOE_TYPE_F8_E4M3 }, { "F8_E5M2", 1, -1 },
    { "F8_E8M0", 1, -1 }, { "I16", 2, -1 }, { "U16", 2, -1 }, { "F16", 2, (int)MOE_TYPE_F16 }, { "BF16", 2, (int)MOE_TYPE_BF16 },
    { "I32", 4, -1 }, { "U32", 4, -1 }, { "F32", 4, (int)MOE_TYPE_F32 }, { "I64", 8, -1 }, { "U64", 8, -1 }, { "F64", 8, -1 }
};
typedef struct moe__st_file { const unsigned char *base; size_t size, hlen; } moe__st_file;
typedef struct moe__st_ent {
    unsigned long long shape[8];
    size_t begin, end;               /* in the file's data section (after the header)       */
    size_t name_at, name_len;        /* in the names blob, NUL-terminated                    */
    int file, dtype, n_dims;
} moe__st_ent;
typedef struct moe__st_idx { moe__st_file *files; moe__st_ent *ents; char *names; } moe__st_idx;
#define MOE__ST_NAMEMAX 1024         /* longest tensor name read */

/* One file's header, checked. ix NULL: count only (*n_ent tensors, *n_names bytes of names);
   else entries go to ix->ents[*n_ent...] and names to ix->names + *n_names. */
static moe_status moe__st_header(moe_st *st, int f, const unsigned char *base, size_t size, moe__st_idx *ix,
                                 size_t *n_ent, size_t *n_names)
{
    moe__js j;
    uint64_t hl;
    size_t top, it = 0, key, val, dsize;
    moe_status s;
    char nm[80];
    if (size < 8) return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: truncated: no 8-byte header length", f);
    hl = moe__rd64(base);
    if (hl > size - 8)
        return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: header length runs past the end (file is %zu bytes)", f, size);
    j.p = base + 8; j.n = (size_t)hl; j.err = st->error;
    if ((s = moe__js_check(&j))) {
        char why[MOE__ERRCAP];
        memcpy(why, st->error, sizeof why);
        return moe__ferr(st->error, s, "safetensors file %d header: %s", f, why);
    }
    top = moe__js_ws(&j, 0);
    if (j.p[top] != '{') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: the header is not a JSON object", f);
    dsize = size - 8 - (size_t)hl;
    while (moe__js_next(&j, top, &it, &key, &val)) {
        size_t k = key, nlen, sh, dof, dt, e2 = 0, v, n = 0;
        unsigned long long shape[8], nel = 1, b[2];
        int d, dtype = -1, isint;
        uint64_t u;
        moe__st_ent *ent;
        char dts[16];
        moe__js_str(&j, &k, NULL, 0, &nlen, &s);
        k = key;
        if (nlen >= MOE__ST_NAMEMAX) return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: a tensor name at header offset %zu is longer than %d bytes", f, key, MOE__ST_NAMEMAX - 1);
        {
            char full[MOE__ST_NAMEMAX];
            size_t tl = 0;
            moe__js_str(&j, &k, full, sizeof full, &tl, &s);
            moe__nm(nm, sizeof nm, full, tl);
        }
        if (moe__js_eq(&j, key, "__metadata__")) {
            size_t mi = 0, mk, mv;
            if (j.p[val] != '{') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: __metadata__ is not an object", f);
            while (moe__js_next(&j, val, &mi, &mk, &mv))
                if (j.p[mv] != '"') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: a __metadata__ value (header offset %zu) is not a string", f, mv);
            continue;
        }
        if (j.p[val] != '{') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s' is not an object", f, nm);
        if (moe__js_get(&j, val, "dtype", &dt) != 1 || moe__js_get(&j, val, "shape", &sh) != 1 ||
            moe__js_get(&j, val, "data_offsets", &dof) != 1)
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s' needs exactly one dtype, shape and data_offsets", f, nm);
        if (j.p[dt] == '"') {
            size_t q = dt, dl;
            if (moe__js_str(&j, &q, dts, sizeof dts, &dl, &s))
                for (d = 0; d < MOE_ST_DTYPE_COUNT; d++) if (!strcmp(dts, moe__st_dt[d].name)) dtype = d;
        }
        if (dtype < 0) return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s' has an unknown dtype", f, nm);
        if (j.p[sh] != '[') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': shape is not an array", f, nm);
        for (; moe__js_elem(&j, sh, &e2, &v); n++) {
            size_t q = v;
            if (n >= 8) return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s' has more than 8 dimensions", f, nm);
            if (j.p[v] == '-' || j.p[v] < '0' || j.p[v] > '9' || moe__js_num(&j, &q, NULL, &isint, &u) || !isint)
                return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': a dimension is not a non-negative integer", f, nm);
            shape[n] = u;
            if (u && nel > (unsigned long long)-1 / u)
                return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': the product of its dimensions overflows", f, nm);
            nel *= u;
        }
        if (nel > (unsigned long long)((size_t)-1 / moe__st_dt[dtype].size))
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': its size in bytes overflows", f, nm);
        if (j.p[dof] != '[') return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': data_offsets is not an array", f, nm);
        for (e2 = 0, d = 0; moe__js_elem(&j, dof, &e2, &v); d++) {
            size_t q = v;
            if (d >= 2 || j.p[v] < '0' || j.p[v] > '9' || moe__js_num(&j, &q, NULL, &isint, &u) || !isint)
                return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': data_offsets must be two non-negative integers", f, nm);
            b[d] = u;
        }
        if (d != 2) return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': data_offsets must be two non-negative integers", f, nm);
        if (b[0] > b[1] || b[1] > dsize)
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': data_offsets lie outside the %zu data bytes", f, nm, dsize);
        if (b[1] - b[0] != nel * moe__st_dt[dtype].size)
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensor '%s': data_offsets span %zu bytes; shape x dtype needs %zu",
                             f, nm, (size_t)(b[1] - b[0]), (size_t)(nel * moe__st_dt[dtype].size));
        if (ix) {
            size_t q = key, tl;
            ent = &ix->ents[*n_ent];
            memset(ent, 0, sizeof *ent);
            for (d = 0; d < 8; d++) ent->shape[d] = d < (int)n ? shape[d] : 1;
            ent->begin = (size_t)b[0]; ent->end = (size_t)b[1];
            ent->name_at = *n_names;
            moe__js_str(&j, &q, ix->names + *n_names, nlen + 1, &tl, &s);
            ent->name_len = tl;
            ent->file = f; ent->dtype = dtype; ent->n_dims = (int)n;
        }
        (*n_ent)++;
        *n_names += nlen + 1;
    }
    return MOE_OK;
}
static int moe__st_less(const moe__st_idx *ix, const moe__st_ent *a, const moe__st_ent *b, int by_name)
{
    if (by_name) {
        size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
        int c = memcmp(ix->names + a->name_at, ix->names + b->name_at, n);
        return c ? c < 0 : a->name_len < b->name_len;
    }
    if (a->file != b->file) return a->file < b->file;
    if (a->begin != b->begin) return a->begin < b->begin;
    return a->end < b->end;
}
static void moe__st_sift(moe__st_idx *ix, size_t root, size_t n, int by_name)
{
    moe__st_ent *e = ix->ents, tmp;
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && moe__st_less(ix, &e[c], &e[c + 1], by_name)) c++;
        if (!moe__st_less(ix, &e[root], &e[c], by_name)) return;
        tmp = e[root]; e[root] = e[c]; e[c] = tmp;
        root = c;
    }
}
static void moe__st_sort(moe__st_idx *ix, size_t n, int by_name)    /* heapsort: no recursion, no memory */
{
    size_t i;
    moe__st_ent tmp;
    for (i = n / 2; i-- > 0;) moe__st_sift(ix, i, n, by_name);
    for (i = n; i-- > 1;) {
        tmp = ix->ents[0]; ix->ents[0] = ix->ents[i]; ix->ents[i] = tmp;
        moe__st_sift(ix, 0, i, by_name);
    }
}
static moe_status moe__st_scan(moe_st *st, const void *const *files, const size_t *sizes, int n_files, moe__st_idx *ix,
                               size_t *n_ent, size_t *n_names)
{
    int f;
    moe_status s;
    *n_ent = *n_names = 0;
    if (n_files < 1 || n_files > 65536) return moe__ferr(st->error, MOE_ERR_ARG, "safetensors: n_files must be in [1, 65536]; got %d", n_files);
    if (!files || !sizes) return moe__ferr(st->error, MOE_ERR_NULL, "safetensors: files or sizes is NULL");
    for (f = 0; f < n_files; f++) {
        if (!files[f]) return moe__ferr(st->error, MOE_ERR_NULL, "safetensors: files[%d] is NULL", f);
        if ((s = moe__st_header(st, f, (const unsigned char *)files[f], sizes[f], ix, n_ent, n_names))) return s;
    }
    return MOE_OK;
}
static size_t moe__up64(size_t n) { return (n + 63) & ~(size_t)63; }
static int moe__st_mem(size_t n_files, size_t n_ent, size_t n_names, size_t *bytes)
{
    size_t a, b, c;
    return moe__mul(n_files, sizeof(moe__st_file), &a) && moe__mul(n_ent, sizeof(moe__st_ent), &b) &&
           moe__add(a, b, &c) && moe__add(c, n_names, &c) && moe__add(c, 4 * 64 + sizeof(moe__st_idx), bytes);
}
MOEDEF moe_status moe_st_mem_size(moe_st *st, const void *const *files, const size_t *sizes, int n_files, size_t *bytes)
{
    size_t ne, nn;
    moe_status s;
    if (!st || !bytes) return MOE_ERR_NULL;
    memset(st, 0, sizeof *st);
    if ((s = moe__st_scan(st, files, sizes, n_files, NULL, &ne, &nn))) return s;
    if (!moe__st_mem((size_t)n_files, ne, nn, bytes)) return moe__ferr(st->error, MOE_ERR_OVERFLOW, "safetensors: the index size overflows");
    return MOE_OK;
}
MOEDEF moe_status moe_st_open(moe_st *st, const void *const *files, const size_t *sizes, int n_files, void *mem, size_t mem_size)
{
    size_t ne, nn, need, i, ne2 = 0, nn2 = 0, last_end = 0;
    unsigned char *p;
    moe__st_idx *ix;
    moe_status s;
    char a[72], b[72];
    if (!st) return MOE_ERR_NULL;
    memset(st, 0, sizeof *st);
    if ((s = moe__st_scan(st, files, sizes, n_files, NULL, &ne, &nn))) return s;
    if (!moe__st_mem((size_t)n_files, ne, nn, &need)) return moe__ferr(st->error, MOE_ERR_OVERFLOW, "safetensors: the index size overflows");
    if (!mem) return moe__ferr(st->error, MOE_ERR_NULL, "safetensors: mem is NULL");
    if (mem_size < need) return moe__ferr(st->error, MOE_ERR_WORKSPACE, "safetensors: mem is %zu bytes; moe_st_mem_size asks for %zu", mem_size, need);
    p = (unsigned char *)mem + (64 - (uintptr_t)mem % 64) % 64;
    ix = (moe__st_idx *)(void *)p;
    p += moe__up64(sizeof *ix);
    ix->files = (moe__st_file *)(void *)p;
    p += moe__up64((size_t)n_files * sizeof(moe__st_file));
    ix->ents = (moe__st_ent *)(void *)p;
    p += moe__up64(ne * sizeof(moe__st_ent));
    ix->names = (char *)p;
    if ((s = moe__st_scan(st, files, sizes, n_files, ix, &ne2, &nn2))) return s;
    for (i = 0; i < (size_t)n_files; i++) {
        ix->files[i].base = (const unsigned char *)files[i];
        ix->files[i].size = sizes[i];
        ix->files[i].hlen = (size_t)moe__rd64(ix->files[i].base);
    }
    moe__st_sort(ix, ne, 0);                                    /* by file and offset: overlaps */
    for (i = 0; i < ne; i++) {
        moe__st_ent *e = &ix->ents[i];
        if (i && e->file != e[-1].file) last_end = 0;
        if (e->begin == e->end) continue;
        if (e->begin < last_end) {
            size_t k = i;
            while (k-- > 0) if (ix->ents[k].end > e->begin && ix->ents[k].begin != ix->ents[k].end) break;
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors file %d: tensors '%s' and '%s' overlap", e->file,
                             moe__nm(a, sizeof a, ix->names + ix->ents[k].name_at, ix->ents[k].name_len),
                             moe__nm(b, sizeof b, ix->names + e->name_at, e->name_len));
        }
        last_end = e->end;
    }
    moe__st_sort(ix, ne, 1);                                    /* by name: lookups, duplicates */
    for (i = 1; i < ne; i++)
        if (!moe__st_less(ix, &ix->ents[i - 1], &ix->ents[i], 1))
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors: tensor '%s' appears twice (files %d and %d)",
                             moe__nm(a, sizeof a, ix->names + ix->ents[i].name_at, ix->ents[i].name_len), ix->ents[i - 1].file, ix->ents[i].file);
    st->index = ix;
    st->n_tensors = ne;
    st->n_files = n_files;
    return MOE_OK;
}
static void moe__st_fill(const moe__st_idx *ix, const moe__st_ent *e, moe_file_tensor *t)
{
    const moe__st_file *f = &ix->files[e->file];
    int d;
    memset(t, 0, sizeof *t);
    t->name = ix->names + e->name_at;
    t->name_len = e->name_len;
    t->n_dims = e->n_dims;
    for (d = 0; d < 8; d++) t->shape[d] = e->shape[d];
    t->type_name = moe__st_dt[e->dtype].name;
    t->file_type = e->dtype;
    t->runnable = moe__st_dt[e->dtype].moe >= 0;
    t->type = t->runnable ? (moe_type)moe__st_dt[e->dtype].moe : MOE_TYPE_F32;
    t->offset = 8 + f->hlen + e->begin;
    t->data = f->base + t->offset;
    t->size = e->end - e->begin;
    t->file = e->file;
}
MOEDEF moe_status moe_st_tensor(moe_st *st, size_t i, moe_file_tensor *t)
{
    if (!st || !t || !st->index) return MOE_ERR_NULL;
    if (i >= st->n_tensors) return moe__ferr(st->error, MOE_ERR_ARG, "safetensors: tensor index %zu >= %zu tensors", i, st->n_tensors);
    moe__st_fill((const moe__st_idx *)st->index, &((const moe__st_idx *)st->index)->ents[i], t);
    return MOE_OK;
}
MOEDEF moe_status moe_st_find(moe_st *st, const char *name, moe_file_tensor *t)
{
    const moe__st_idx *ix;
    size_t lo = 0, hi, n;
    char nb[72];
    if (!st || !name || !t || !st->index) return MOE_ERR_NULL;
    ix = (const moe__st_idx *)st->index;
    n = strlen(name);
    hi = st->n_tensors;
    while (lo < hi) {                                           /* first entry >= name */
        size_t mid = lo + (hi - lo) / 2;
        const moe__st_ent *e = &ix->ents[mid];
        size_t m = e->name_len < n ? e->name_len : n;
        int c = memcmp(ix->names + e->name_at, name, m);
        if (c < 0 || (c == 0 && e->name_len < n)) lo = mid + 1; else hi = mid;
    }
    if (lo < st->n_tensors && moe__streq(ix->names + ix->ents[lo].name_at, ix->ents[lo].name_len, name)) {
        moe__st_fill(ix, &ix->ents[lo], t);
        return MOE_OK;
    }
    return moe__ferr(st->error, MOE_ERR_MISSING, "safetensors: tensor '%s' not found", moe__nm(nb, sizeof nb, name, n));
}
MOEDEF moe_status moe_st_metadata(moe_st *st, int file, const char *key, char *out, size_t cap)
{
    const moe__st_idx *ix;
    moe__js j;
    size_t top, md, v, len;
    moe_status s;
    char nb[72];
    if (!st || !key || !out || !cap || !st->index) return MOE_ERR_NULL;
    if (file < 0 || file >= st->n_files) return moe__ferr(st->error, MOE_ERR_ARG, "safetensors: file %d out of range", file);
    ix = (const moe__st_idx *)st->index;
    j.p = ix->files[file].base + 8; j.n = ix->files[file].hlen; j.err = st->error;
    top = moe__js_ws(&j, 0);
    if (moe__js_get(&j, top, "__metadata__", &md) != 1 || moe__js_get(&j, md, key, &v) != 1)
        return moe__ferr(st->error, MOE_ERR_MISSING, "safetensors file %d: no __metadata__ key '%s'", file, moe__nm(nb, sizeof nb, key, strlen(key)));
    if (!moe__js_str(&j, &v, out, cap, &len, &s)) return moe__ferr(st->error, MOE_ERR_ARG, "safetensors: out[%zu] is too small for __metadata__ '%s'", cap, moe__nm(nb, sizeof nb, key, strlen(key)));
    return MOE_OK;
}
MOEDEF moe_status moe_st_index_shards(moe_st *st, const char *json, size_t len, char *names, size_t cap, int *n_shards)
{
    moe__js j;
    size_t top, wm, it = 0, k, v, used = 0;
    char buf[256];
    moe_status s;
    if (!st || !json || !names || !n_shards) return MOE_ERR_NULL;
    memset(st, 0, sizeof *st);
    *n_shards = 0;
    j.p = (const unsigned char *)json; j.n = len; j.err = st->error;
    if ((s = moe__js_check(&j))) return s;
    top = moe__js_ws(&j, 0);
    if (moe__js_get(&j, top, "weight_map", &wm) != 1 || j.p[wm] != '{')
        return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors index: no (single) weight_map object");
    while (moe__js_next(&j, wm, &it, &k, &v)) {
        size_t n, at, q = v;
        int dup = 0;
        if (j.p[v] != '"' || !moe__js_str(&j, &q, buf, sizeof buf, &n, &s) || n == 0 || strchr(buf, '/') || strchr(buf, '\\') ||
            buf[0] == '.' || memchr(buf, 0, n))
            return moe__ferr(st->error, MOE_ERR_FORMAT, "safetensors index: the file name at offset %zu is not a plain file name", v);
        for (at = 0; at < used && !dup; at += strlen(names + at) + 1) dup = !strcmp(names + at, buf);
        if (dup) continue;
        if (cap - used < n + 1) return moe__ferr(st->error, MOE_ERR_ARG, "safetensors index: names[%zu] is too small", cap);
        memcpy(names + used, buf, n + 1);
        used += n + 1;
        (*n_shards)++;
    }
    return MOE_OK;
}

/* ---- one MoE layer: the families ------------------------------------------------------------ */
enum {
    MOE__F_SIGMOID = 1 << 0,   /* sigmoid router scores (else softmax)                              */
    MOE__F_SMTOPK  = 1 << 1,   /* softmax over the k selected logits (gpt-oss)                      */
    MOE__F_NORM    = 1 << 2,   /* renormalise the k weights (the family's default)                  */
    MOE__F_GEGLU   = 1 << 3,   /* GEGLU with tanh GELU (grok; gate-less experts: GELU)              */
    MOE__F_OAI     = 1 << 4,   /* SWIGLU_OAI; a fused gate_up is interleaved (gpt-oss)              */
    MOE__F_WIN     = 1 << 5,   /* the weight scales the expert's input (Llama 4)                    */
    MOE__F_KEYS    = 1 << 6,   /* GGUF: expert_weights_norm, expert_gating_func, expert groups read  */
    MOE__F_STACKED = 1 << 7,   /* HF: experts stacked in one tensor ("up" names the fused gate_up)  */
    MOE__F_DS      = 1 << 8,   /* HF DeepSeek: renormalise only when top_k > 1                      */
    MOE__F_V2      = 1 << 9    /* HF DeepSeek-V2: routed_scaling_factor only without renormalising  */
};
/* One row per family. GGUF rows use llama.cpp's names (blk.N.ffn_gate_inp, ffn_{gate,up,down}_exps,
   ffn_gate_up_exps, the old blk.N.ffn_{gate,up,down}.E, *_shexp, ffn_gate_inp_shexp, exp_probs_b,
   the .bias of each) and keys ({arch}.expert_count, ...), found the same way for every arch.
   HF rows give the names after "<prefix>layers.<N>.<block>": router, the experts' matrices
   ("experts.<E>.<gate>.weight"; stacked: "experts.<up>"), the shared expert's prefix and gate. */
typedef struct moe__family {
    const char *name;          /* GGUF general.architecture, or HF model_type                   */
    int hf;
    unsigned flags;
    const char *block, *router, *gate, *up, *down, *shared, *shared_gate;
} moe__family;
static const moe__family moe__families[] = {
    { "llama",      0, MOE__F_NORM, NULL, NULL, NULL, NULL, NULL, NULL, NULL },      /* Mixtral */
    { "qwen2moe",   0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "qwen3moe",   0, MOE__F_NORM, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "olmoe",      0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "deepseek2",  0, MOE__F_KEYS, NULL, NULL, NULL, NULL, NULL, NULL, NULL },      /* V2, V3 */
    { "gpt-oss",    0, MOE__F_SMTOPK | MOE__F_OAI, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "llama4",     0, MOE__F_SIGMOID | MOE__F_WIN, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "dbrx",       0, MOE__F_NORM, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "grok",       0, MOE__F_NORM | MOE__F_GEGLU, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "granitemoe", 0, MOE__F_NORM, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "phimoe",     0, MOE__F_NORM, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { "mixtral",     1, MOE__F_NORM, "block_sparse_moe.", "gate.weight", "w1", "w3", "w2", NULL, NULL },
    { "qwen2_moe",   1, 0, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", "shared_expert.", "shared_expert_gate.weight" },
    { "qwen3_moe",   1, 0, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", NULL, NULL },
    { "olmoe",       1, 0, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", NULL, NULL },
    { "deepseek_v2", 1, MOE__F_DS | MOE__F_V2, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", "shared_experts.", NULL },
    { "deepseek_v3", 1, MOE__F_DS | MOE__F_NORM | MOE__F_SIGMOID, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", "shared_experts.", NULL },
    { "kimi_k2",     1, MOE__F_DS | MOE__F_NORM | MOE__F_SIGMOID, "mlp.", "gate.weight", "gate_proj", "up_proj", "down_proj", "shared_experts.", NULL },
    { "gpt_oss",     1, MOE__F_SMTOPK | MOE__F_OAI | MOE__F_STACKED, "mlp.", "router.weight", NULL, "gate_up_proj", "down_proj", NULL, NULL },
    { "llama4_text", 1, MOE__F_SIGMOID | MOE__F_WIN | MOE__F_STACKED, "feed_forward.", "router.weight", NULL, "gate_up_proj", "down_proj", "shared_expert.", NULL }
};

typedef struct moe__map {
    moe_gguf *g;
    moe_st *st;
    char *err;
    const moe__family *fam;
    moe__js j;                      /* HF config.json                                        */
    size_t cobj[2];                 /* its objects searched for keys: text_config, then root  */
    int ncobj;
    int L;
    unsigned flags;                 /* MOE_LOAD_*                                            */
    int fp8_br, fp8_bc;             /* FP8 scale block (quantization_config.weight_block_size) */
    unsigned char *mem;             /* caller memory; NULL while counting                     */
    size_t cap, used;
    moe_config *cfg;
    moe_weights *w;
    char pre[MOE__NAMECAP];         /* HF: the name up to and including "<block>"             */
} moe__map;

static void *moe__ld_alloc(moe__map *m, size_t bytes)
{
    size_t at = m->used;
    if (!moe__add(m->used, moe__up64(bytes), &m->used) || bytes > (size_t)-1 - 64) m->used = (size_t)-1;
    if (!m->mem || m->used > m->cap) return NULL;
    return m->mem + at;
}
static moe_status moe__ld_find(moe__map *m, const char *name, moe_file_tensor *t)
{
    return m->g ? moe_gguf_find(m->g, name, t) : moe_st_find(m->st, name, t);
}
/* an optional tensor: 1 found, 0 absent (no error kept), or an error in *s */
static int moe__ld_probe(moe__map *m, const char *name, moe_file_tensor *t, moe_status *s)
{
    *s = moe__ld_find(m, name, t);
    if (*s == MOE_ERR_MISSING) { *s = MOE_OK; m->err[0] = 0; return 0; }
    return *s == MOE_OK;
}
/* metadata: GGUF "<arch>.<key>" or the HF config (text_config, then the root). MOE_ERR_MISSING
   (without a message) when absent or null. */
static moe_status moe__ld_kval(moe__map *m, const char *key, size_t *v)
{
    int c, r;
    for (c = 0; c < m->ncobj; c++) {
        if ((r = moe__js_get(&m->j, m->cobj[c], key, v)) < 0) return moe__ferr(m->err, MOE_ERR_FORMAT, "config: key '%s' appears twice", key);
        if (r) return m->j.p[*v] == 'n' ? MOE_ERR_MISSING : MOE_OK;     /* null: absent */
    }
    return MOE_ERR_MISSING;
}
static moe_status moe__ld_kint(moe__map *m, const char *key, long long *v)
{
    char full[MOE__NAMECAP];
    size_t at = 0, q;
    int isint;
    uint64_t u;
    moe_status s;
    if (m->g) {
        s = moe_gguf_get_int(m->g, moe__name(full, "%s.%s", m->g->arch, key), v);
        if (s == MOE_ERR_MISSING) m->err[0] = 0;
        return s;
    }
    if ((s = moe__ld_kval(m, key, &at))) return s;
    if (m->j.p[at] == 't' || m->j.p[at] == 'f') { *v = m->j.p[at] == 't'; return MOE_OK; }
    q = at;
    if (m->j.p[at] < '0' || m->j.p[at] > '9' || moe__js_num(&m->j, &q, NULL, &isint, &u) || !isint || u > (uint64_t)LLONG_MAX)
        return moe__ferr(m->err, MOE_ERR_FORMAT, "config: '%s' is not a non-negative integer", key);
    *v = (long long)u;
    return MOE_OK;
}
static moe_status moe__ld_kflt(moe__map *m, const char *key, double *v)
{
    char full[MOE__NAMECAP];
    size_t at = 0, q;
    moe_status s;
    if (m->g) {
        s = moe_gguf_get_float(m->g, moe__name(full, "%s.%s", m->g->arch, key), v);
        if (s == MOE_ERR_MISSING) m->err[0] = 0;
        return s;
    }
    if ((s = moe__ld_kval(m, key, &at))) return s;
    q = at;
    if ((m->j.p[at] != '-' && (m->j.p[at] < '0' || m->j.p[at] > '9')) || moe__js_num(&m->j, &q, v, NULL, NULL))
        return moe__ferr(m->err, MOE_ERR_FORMAT, "config: '%s' is not a number", key);
    return MOE_OK;
}
/* an int metadata value in [lo, hi] (absent: *v = dflt, MOE_OK) */
static moe_status moe__ld_kint_in(moe__map *m, const char *key, long long lo, long long hi, long long dflt, long long *v)
{
    moe_status s = moe__ld_kint(m, key, v);
    if (s == MOE_ERR_MISSING) { *v = dflt; return MOE_OK; }
    if (s) return s;
    if (*v < lo || *v > hi) return moe__ferr(m->err, MOE_ERR_FORMAT, "%s: %s = %ld is out of range", m->g ? "gguf" : "config", key, (long)*v);
    return MOE_OK;
}
/* HF: is the string value of key equal to s? (-1 absent) */
static int moe__ld_kstr_is(moe__map *m, const char *key, const char *s)
{
    size_t at;
    if (m->g || moe__ld_kval(m, key, &at)) return -1;
    return m->j.p[at] == '"' && moe__js_eq(&m->j, at, s);
}
/* HF: does the integer list key contain v? (-1 absent) */
static int moe__ld_klist_has(moe__map *m, const char *key, long long v)
{
    size_t at, it = 0, e;
    if (m->g || moe__ld_kval(m, key, &at) || m->j.p[at] != '[') return -1;
    while (moe__js_elem(&m->j, at, &it, &e)) {
        size_t q = e;
        int isint;
        uint64_t u;
        if (m->j.p[e] >= '0' && m->j.p[e] <= '9' && !moe__js_num(&m->j, &q, NULL, &isint, &u) && isint && u == (uint64_t)v) return 1;
    }
    return 0;
}

/* ---- tensors into moe_tensor ---- */
static const char *moe__ld_tn(char *buf, const moe_file_tensor *t) { return moe__nm(buf, 72, t->name, t->name_len); }
/* t must have n_dims == nd and these leading dims (0: any); gives its dims as ints */
static moe_status moe__ld_dims(moe__map *m, const moe_file_tensor *t, int nd, const long long *want, int *got)
{
    char nb[72];
    int d;
    if (t->n_dims != nd) return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s' has %d dimensions; expected %d", moe__ld_tn(nb, t), t->n_dims, nd);
    for (d = 0; d < nd; d++) {
        if (t->shape[d] > (unsigned long long)INT_MAX || t->shape[d] == 0)
            return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s': dimension %d is 0 or too large", moe__ld_tn(nb, t), d);
        if (want[d] && (long long)t->shape[d] != want[d])
            return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s': dimension %d is %zu; expected %zu", moe__ld_tn(nb, t), d,
                             (size_t)t->shape[d], (size_t)want[d]);
        got[d] = (int)t->shape[d];
    }
    return MOE_OK;
}
/* the moe_type of t's bytes, which must be a [rows][cols] matrix per expert (checks the row size) */
static moe_status moe__ld_mtype(moe__map *m, const moe_file_tensor *t, size_t per_rows, int cols, moe_type *ty)
{
    char nb[72];
    size_t rb;
    if (!t->runnable) return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' has type %s, which moe.h cannot run", moe__ld_tn(nb, t), t->type_name);
    if (t->type == MOE_TYPE_F32 && (uintptr_t)t->data % 4)
        return moe__ferr(m->err, MOE_ERR_ALIGN, "tensor '%s': f32 data at file offset %zu is not 4-byte aligned", moe__ld_tn(nb, t), t->offset);
    rb = moe_type_row_size(t->type, (size_t)cols);
    if (rb && (t->size / per_rows != rb || t->size % per_rows))
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s': rows of %zu bytes, but moe.h's %s rows of %d values take %zu",
                         moe__ld_tn(nb, t), t->size / per_rows, t->type_name, cols, rb);
    *ty = t->type;
    return MOE_OK;
}
/* HF FP8: weight "X.weight" may have block scales "X.weight_scale_inv" [(n,) ceil(rows/br), ceil(cols/bc)] f32 */
static moe_status moe__ld_fp8(moe__map *m, const moe_file_tensor *t, int n, int rows, int cols, const void **scale)
{
    char nm[MOE__NAMECAP], nb[72];
    moe_file_tensor s;
    moe_status st;
    long long want[3];
    int got[3], o = n ? 1 : 0;
    *scale = NULL;
    if (t->type != MOE_TYPE_F8_E4M3 || !t->runnable || m->g) return MOE_OK;
    if (t->name_len > MOE__NAMECAP - 16) return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s': name too long", moe__ld_tn(nb, t));
    memcpy(nm, t->name, t->name_len);
    memcpy(nm + t->name_len, "_scale_inv", 11);
    if (!moe__ld_probe(m, nm, &s, &st)) {
        if (st) return st;
        memcpy(nm + t->name_len, "_scale", 7);
        if (moe__ld_probe(m, nm, &s, &st))
            return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s': fp8 per-tensor/channel scales (%s) are not mapped", moe__ld_tn(nb, t), "weight_scale");
        return st;
    }
    want[0] = n; want[o] = (rows + m->fp8_br - 1) / m->fp8_br; want[o + 1] = (cols + m->fp8_bc - 1) / m->fp8_bc;
    if ((st = moe__ld_dims(m, &s, 2 + o, want, got))) return st;
    if (s.file_type != MOE_ST_DTYPE_F32) return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' is %s; fp8 scales must be F32", moe__ld_tn(nb, &s), s.type_name);
    if ((uintptr_t)s.data % 4) return moe__ferr(m->err, MOE_ERR_ALIGN, "tensor '%s': f32 scales at file offset %zu are not 4-byte aligned", moe__ld_tn(nb, &s), s.offset);
    *scale = s.data;
    return MOE_OK;
}
/* n stacked matrices [rows][cols] (0: any; given back) from one tensor: [n][rows][cols], or
   [rows][cols] when two_d (one shared expert) */
static moe_status moe__ld_stack(moe__map *m, moe_tensor *mt, const moe_file_tensor *t, int n, int two_d, int *rows, int *cols)
{
    long long want[3];
    int got[3], o = two_d ? 0 : 1;
    moe_status s;
    want[0] = n; want[o] = *rows; want[o + 1] = *cols;
    if ((s = moe__ld_dims(m, t, two_d ? 2 : 3, want, got))) return s;
    *rows = got[o]; *cols = got[o + 1];
    if ((s = moe__ld_mtype(m, t, (size_t)n * (size_t)*rows, *cols, &mt->type))) return s;
    mt->data = t->data;
    mt->expert_data = NULL;
    if ((s = moe__ld_fp8(m, t, two_d ? 0 : n, *rows, *cols, &mt->scale))) return s;
    if (mt->scale) { mt->scale_rows = m->fp8_br; mt->scale_cols = m->fp8_bc; }
    return MOE_OK;
}
/* n matrices [rows][cols], one tensor each, named head<e>tail: a pointer table in mem */
static moe_status moe__ld_split(moe__map *m, moe_tensor *mt, const char *head, const char *tail, int n, int *rows, int *cols)
{
    const void **tab = (const void **)moe__ld_alloc(m, (size_t)n * sizeof(void *)), **stab = NULL;
    char nm[MOE__NAMECAP], nb[72];
    moe_file_tensor t;
    moe_status s;
    long long want[2];
    int got[2] = { 0, 0 }, e, scaled = 0;
    for (e = 0; e < n; e++) {
        moe_type ty;
        const void *sc;
        if ((s = moe__ld_find(m, moe__name(nm, "%s%d%s", head, e, tail), &t))) return s;
        want[0] = *rows; want[1] = *cols;
        if ((s = moe__ld_dims(m, &t, 2, want, got))) return s;
        *rows = got[0]; *cols = got[1];
        if ((s = moe__ld_mtype(m, &t, (size_t)*rows, *cols, &ty))) return s;
        if (e && ty != mt->type)
            return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' is %s, expert 0's is %s: one type per matrix", moe__ld_tn(nb, &t), t.type_name, moe_type_name(mt->type));
        mt->type = ty;
        if ((s = moe__ld_fp8(m, &t, 0, *rows, *cols, &sc))) return s;
        if (e == 0 && sc) { scaled = 1; stab = (const void **)moe__ld_alloc(m, (size_t)n * sizeof(void *)); }
        if (scaled != (sc != NULL))
            return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s': some experts have fp8 scales and some not", moe__ld_tn(nb, &t));
        if (tab) tab[e] = t.data;
        if (stab) stab[e] = sc;
    }
    mt->data = NULL;
    mt->expert_data = tab;
    if (scaled) { mt->expert_scale = stab; mt->scale_rows = m->fp8_br; mt->scale_cols = m->fp8_bc; }
    return MOE_OK;
}
/* HF stacked experts stored [n][cols][rows] (x @ W): a transposed copy in mem (MOE_LOAD_TRANSPOSE) */
static moe_status moe__ld_stack_t(moe__map *m, moe_tensor *mt, const moe_file_tensor *t, int n, int *rows, int *cols)
{
    long long want[3];
    int got[3];
    size_t es, e, r, c, r0, c0;
    unsigned char *dst;
    moe_status s;
    char nb[72];
    want[0] = n; want[1] = *cols; want[2] = *rows;
    if ((s = moe__ld_dims(m, t, 3, want, got))) return s;
    *cols = got[1]; *rows = got[2];
    if (t->file_type != MOE_ST_DTYPE_F32 && t->file_type != MOE_ST_DTYPE_F16 && t->file_type != MOE_ST_DTYPE_BF16)
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' (stored [in][out]) is %s; a transposed copy is made of f32/f16/bf16 only", moe__ld_tn(nb, t), t->type_name);
    if (!(m->flags & MOE_LOAD_TRANSPOSE))
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' is stored [experts][in][out]: pass MOE_LOAD_TRANSPOSE (and its mem) for a transposed copy", moe__ld_tn(nb, t));
    es = moe__st_dt[t->file_type].size;
    mt->type = t->type;
    mt->data = dst = (unsigned char *)moe__ld_alloc(m, t->size);
    if (!dst) return MOE_OK;                          /* counting */
    for (e = 0; e < (size_t)n; e++) {                 /* dst[e][r][c] = src[e][c][r], in 32 x 32 tiles */
        const unsigned char *src = (const unsigned char *)t->data + e * (size_t)*rows * (size_t)*cols * es;
        unsigned char *d = dst + e * (size_t)*rows * (size_t)*cols * es;
        for (r0 = 0; r0 < (size_t)*rows; r0 += 32)
            for (c0 = 0; c0 < (size_t)*cols; c0 += 32)
                for (r = r0; r < r0 + 32 && r < (size_t)*rows; r++)
                    for (c = c0; c < c0 + 32 && c < (size_t)*cols; c++)
                        memcpy(d + (r * (size_t)*cols + c) * es, src + (c * (size_t)*rows + r) * es, es);
    }
    return MOE_OK;
}
/* gpt-oss MXFP4: X_blocks [n][rows][cols/32][16] u8 nibbles and X_scales [n][rows][cols/32] u8 (E8M0) */
static moe_status moe__ld_mxfp4(moe__map *m, moe_tensor *mt, const moe_file_tensor *b, const moe_file_tensor *sc, int n, int *rows, int *cols)
{
    long long want[4];
    int got[4];
    moe_status s;
    char nb[72];
    want[0] = n; want[1] = *rows; want[2] = *cols / 32; want[3] = 16;
    if (*cols % 32) return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s': mxfp4 rows of %d values are not whole blocks of 32", moe__ld_tn(nb, b), *cols);
    if ((s = moe__ld_dims(m, b, 4, want, got))) return s;
    *rows = got[1]; *cols = got[2] * 32;
    want[1] = *rows; want[2] = got[2];
    if ((s = moe__ld_dims(m, sc, 3, want, got))) return s;
    if (b->file_type != MOE_ST_DTYPE_U8 || sc->file_type != MOE_ST_DTYPE_U8)
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s': mxfp4 blocks and scales must be U8", moe__ld_tn(nb, b));
    mt->type = MOE_TYPE_MXFP4;
    mt->data = b->data;
    mt->scale = sc->data;
    mt->scale_rows = mt->scale_cols = 0;
    return MOE_OK;
}
/* a float vector of count values: in place when f32 and aligned, else an f32 copy in mem */
static moe_status moe__ld_vec(moe__map *m, const moe_file_tensor *t, size_t count, const float **out)
{
    char nb[72];
    unsigned long long nel = 1;
    size_t i;
    int d;
    float *dst;
    for (d = 0; d < t->n_dims; d++) nel *= t->shape[d];
    if (nel != count) return moe__ferr(m->err, MOE_ERR_FORMAT, "tensor '%s' has %zu values; expected %zu", moe__ld_tn(nb, t), (size_t)nel, count);
    if (!t->runnable || (t->type != MOE_TYPE_F32 && t->type != MOE_TYPE_F16 && t->type != MOE_TYPE_BF16))
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "tensor '%s' is %s; vectors are read from f32, f16 or bf16", moe__ld_tn(nb, t), t->type_name);
    /* f32 in the file's own (little-endian) bytes, aligned: used where it is; else converted,
       and stored as little-endian bytes too (what moe_layer_init reads on every host) */
    if (t->type == MOE_TYPE_F32 && (uintptr_t)t->data % 4 == 0) { *out = (const float *)t->data; return MOE_OK; }
    dst = (float *)moe__ld_alloc(m, count * sizeof(float));
    *out = dst;
    if (!dst) return MOE_OK;
    for (i = 0; i < count; i++) {
        const unsigned char *p = (const unsigned char *)t->data + i * (t->type == MOE_TYPE_F32 ? 4 : 2);
        float v = t->type == MOE_TYPE_F32 ? moe__bits_f(moe__rd32(p)) : t->type == MOE_TYPE_F16 ? moe__h2f(moe__rd16(p)) : moe__bf2f(moe__rd16(p));
#if MOE__BE
        moe__stf_le(dst + i, v);
#else
        dst[i] = v;
#endif
    }
    return MOE_OK;
}
/* an optional vector tensor */
static moe_status moe__ld_ovec(moe__map *m, const char *name, size_t count, const float **out)
{
    moe_file_tensor t;
    moe_status s;
    if (!moe__ld_probe(m, name, &t, &s)) return s;
    return moe__ld_vec(m, &t, count, out);
}

static const moe__family *moe__ld_family(const char *name, size_t len, int hf)
{
    size_t i;
    for (i = 0; i < sizeof moe__families / sizeof moe__families[0]; i++)
        if (moe__families[i].hf == hf && moe__streq(name, len, moe__families[i].name)) return &moe__families[i];
    return NULL;
}
/* the family's defaults, then what both formats share */
static void moe__ld_defaults(moe__map *m)
{
    moe_config *c = m->cfg;
    unsigned f = m->fam->flags;
    c->score = (f & MOE__F_SIGMOID) ? MOE_SCORE_SIGMOID : (f & MOE__F_SMTOPK) ? MOE_SCORE_SOFTMAX_TOPK : MOE_SCORE_SOFTMAX;
    c->norm_topk = (f & MOE__F_NORM) != 0;
    c->act = (f & MOE__F_GEGLU) ? MOE_ACT_GEGLU : (f & MOE__F_OAI) ? MOE_ACT_SWIGLU_OAI : MOE_ACT_SWIGLU;
    c->gelu_tanh = (f & MOE__F_GEGLU) != 0;
    c->weight_on_input = (f & MOE__F_WIN) != 0;
}
/* experts without a gate matrix: only GELU/RELU forms exist in moe.h */
static moe_status moe__ld_gateless(moe__map *m, int gated)
{
    if (gated) return MOE_OK;
    if (m->cfg->act == MOE_ACT_GEGLU) { m->cfg->act = MOE_ACT_GELU; return MOE_OK; }
    return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "layer %d: experts without a gate matrix compute down(silu(up x)), which is not a moe.h activation", m->L);
}
static moe_status moe__ld_scale(moe__map *m, const char *key)
{
    double x;
    moe_status s = moe__ld_kflt(m, key, &x);
    if (s == MOE_ERR_MISSING) return MOE_OK;
    if (s) return s;
    if (!(x > -3.4e38 && x < 3.4e38)) return moe__ferr(m->err, MOE_ERR_FORMAT, "%s: %s is out of range", m->g ? "gguf" : "config", key);
    if (x != 0.0) m->cfg->routed_scale = (float)x;
    return MOE_OK;
}

/* GGUF: llama.cpp's names and keys */
static moe_status moe__ld_gguf(moe__map *m)
{
    moe_gguf *g = m->g;
    moe_config *c = m->cfg;
    moe_weights *w = m->w;
    char nm[MOE__NAMECAP], hd[MOE__NAMECAP];
    moe_file_tensor r, t;
    long long nl, E, k, v;
    int L = m->L, D, ff = 0, rows, cols, S, gated = 0;
    moe_status s;
    if (!g->arch[0]) return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "gguf: no general.architecture (or one longer than 31 bytes)");
    if (!(m->fam = moe__ld_family(g->arch, strlen(g->arch), 0)))
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "gguf: architecture '%s' has no MoE mapping in moe.h", g->arch);
    if ((s = moe__ld_kint(m, "block_count", &nl)))
        return s == MOE_ERR_MISSING ? moe__ferr(m->err, s, "gguf: key '%s.block_count' not found", g->arch) : s;
    if (L < 0 || L >= nl) return moe__ferr(m->err, MOE_ERR_ARG, "gguf: layer %d is out of range: %s.block_count is %ld", L, g->arch, (long)nl);
    if ((s = moe__ld_kint_in(m, "expert_count", 0, MOE_MAX_EXPERTS, 0, &E))) return s;
    if (E == 0) return moe__ferr(m->err, MOE_ERR_DENSE, "gguf: %s.expert_count is absent or 0: blk.%d is a dense FFN", g->arch, L);
    if ((s = moe__ld_kint_in(m, "leading_dense_block_count", 0, INT_MAX, 0, &v))) return s;
    if (L < v) return moe__ferr(m->err, MOE_ERR_DENSE, "gguf: blk.%d is one of the %ld leading dense blocks", L, (long)v);
    if ((s = moe__ld_kint_in(m, "interleave_moe_layer_step", 0, INT_MAX, 0, &v))) return s;
    if (v > 1 && (L + 1) % v) return moe__ferr(m->err, MOE_ERR_DENSE, "gguf: blk.%d is dense: every %ld-th layer is MoE (interleave_moe_layer_step)", L, (long)v);
    if (!moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_gate_inp.weight", L), &r, &s)) {
        if (s) return s;
        if (moe__ld_probe(m, moe__name(hd, "blk.%d.ffn_up.weight", L), &t, &s))
            return moe__ferr(m->err, MOE_ERR_DENSE, "gguf: blk.%d has a dense FFN (%s) and no router", L, hd);
        return s ? s : moe__ferr(m->err, MOE_ERR_MISSING, "gguf: tensor '%s' not found", nm);
    }
    if (moe__ld_probe(m, moe__name(hd, "blk.%d.ffn_up.weight", L), &t, &s))
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "gguf: blk.%d has experts and a parallel dense FFN (%s): not one moe.h layer", L, hd);
    if (s) return s;
    if ((s = moe__ld_kint_in(m, "expert_used_count", 1, E, 0, &k))) return s;
    if (!k) return moe__ferr(m->err, MOE_ERR_MISSING, "gguf: key '%s.expert_used_count' not found", g->arch);
    c->n_experts = (int)E;
    c->top_k = (int)k;
    moe__ld_defaults(m);
    rows = (int)E; cols = 0;
    if ((s = moe__ld_stack(m, &w->router, &r, 1, 1, &rows, &cols))) return s;
    c->d_model = D = cols;
    /* routed experts: fused gate_up, stacked gate/up, or one tensor per expert (older Mixtral files) */
    if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_gate_up_exps.weight", L), &t, &s)) {
        rows = 0; cols = D;
        if ((s = moe__ld_stack(m, &w->gate_up, &t, (int)E, 0, &rows, &cols))) return s;
        if (rows % 2) return moe__ferr(m->err, MOE_ERR_FORMAT, "gguf: tensor '%s' has an odd number of rows", nm);
        ff = rows / 2;
        gated = 1;
        w->gate_up_layout = MOE_GATE_UP_HALVES;
    } else if (s) return s;
    else if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_up_exps.weight", L), &t, &s)) {
        rows = 0; cols = D;
        if ((s = moe__ld_stack(m, &w->up, &t, (int)E, 0, &rows, &cols))) return s;
        ff = rows;
        if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_gate_exps.weight", L), &t, &s)) {
            if ((s = moe__ld_stack(m, &w->gate, &t, (int)E, 0, &rows, &cols))) return s;
            gated = 1;
        } else if (s) return s;
    } else if (s) return s;
    else if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_up.0.weight", L), &t, &s)) {
        rows = 0; cols = D;
        if ((s = moe__ld_split(m, &w->up, moe__name(hd, "blk.%d.ffn_up.", L), ".weight", (int)E, &rows, &cols))) return s;
        ff = rows;
        if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_gate.0.weight", L), &t, &s)) {
            if ((s = moe__ld_split(m, &w->gate, moe__name(hd, "blk.%d.ffn_gate.", L), ".weight", (int)E, &rows, &cols))) return s;
            gated = 1;
        } else if (s) return s;
    } else return s ? s : moe__ferr(m->err, MOE_ERR_MISSING, "gguf: blk.%d has a router but no experts (blk.%d.ffn_up_exps.weight)", L, L);
    rows = D; cols = ff;
    if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_down_exps.weight", L), &t, &s)) {
        if ((s = moe__ld_stack(m, &w->down, &t, (int)E, 0, &rows, &cols))) return s;
    } else if (s) return s;
    else if (moe__ld_probe(m, moe__name(hd, "blk.%d.ffn_down.0.weight", L), &t, &s)) {
        if ((s = moe__ld_split(m, &w->down, moe__name(hd, "blk.%d.ffn_down.", L), ".weight", (int)E, &rows, &cols))) return s;
    } else return s ? s : moe__ferr(m->err, MOE_ERR_MISSING, "gguf: tensor '%s' not found", nm);
    c->d_ff = ff;
    if (moe__ld_kint(m, "expert_feed_forward_length", &v) != MOE_OK) v = ff;   /* absent, or per layer: not checked */
    m->err[0] = 0;
    if (v != ff) return moe__ferr(m->err, MOE_ERR_FORMAT, "gguf: %s.expert_feed_forward_length is %ld; the experts have %d rows", g->arch, (long)v, ff);
    /* vectors */
    if ((s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_gate_inp.bias", L), (size_t)E, &w->router_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "blk.%d.exp_probs_b.bias", L), (size_t)E, &w->selection_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_gate_up_exps.bias", L), (size_t)E * 2 * (size_t)ff, &w->gate_up_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_gate_exps.bias", L), (size_t)E * (size_t)ff, &w->gate_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_up_exps.bias", L), (size_t)E * (size_t)ff, &w->up_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_down_exps.bias", L), (size_t)E * (size_t)D, &w->down_bias)))
        return s;
    /* shared experts: [d_ff_shared][d_model] (one, possibly n_shared merged) or [n][d_ff_shared][d_model] */
    if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_up_shexp.weight", L), &t, &s)) {
        int two = t.n_dims != 3;
        S = two ? 1 : (t.shape[0] > MOE_MAX_EXPERTS ? MOE_MAX_EXPERTS + 1 : (int)t.shape[0]);
        rows = 0; cols = D;
        if ((s = moe__ld_stack(m, &w->shared_up, &t, S, two, &rows, &cols))) return s;
        c->n_shared = S;
        c->d_ff_shared = rows;
        if (moe__ld_probe(m, moe__name(nm, "blk.%d.ffn_gate_shexp.weight", L), &t, &s)) {
            if ((s = moe__ld_stack(m, &w->shared_gate, &t, S, two, &rows, &cols))) return s;
        } else if (s) return s;
        else if (c->act != MOE_ACT_GELU && c->act != MOE_ACT_RELU && c->act != MOE_ACT_GEGLU)
            return moe__ferr(m->err, MOE_ERR_MISSING, "gguf: tensor '%s' not found", nm);
        rows = D; cols = c->d_ff_shared;
        if ((s = moe__ld_find(m, moe__name(nm, "blk.%d.ffn_down_shexp.weight", L), &t)) ||
            (s = moe__ld_stack(m, &w->shared_down, &t, S, two, &rows, &cols)))
            return s;
        if ((s = moe__ld_ovec(m, moe__name(nm, "blk.%d.ffn_gate_inp_shexp.weight", L), (size_t)S * (size_t)D, &w->shared_gate_w))) return s;
    } else if (s) return s;
    /* options */
    if ((s = moe__ld_gateless(m, gated)) || (s = moe__ld_scale(m, "expert_weights_scale"))) return s;
    if (m->fam->flags & MOE__F_KEYS) {
        if ((s = moe__ld_kint_in(m, "expert_weights_norm", 0, 1, c->norm_topk, &v))) return s;
        c->norm_topk = (int)v;
        if ((s = moe__ld_kint_in(m, "expert_gating_func", 0, INT_MAX, 0, &v))) return s;
        if (v == 1 || v == 0) c->score = MOE_SCORE_SOFTMAX;
        else if (v == 2) c->score = MOE_SCORE_SIGMOID;
        else if (v == 3) c->score = MOE_SCORE_SOFTMAX_TOPK;
        else return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "gguf: %s.expert_gating_func %ld is not a moe.h score function", g->arch, (long)v);
        if ((s = moe__ld_kint_in(m, "expert_group_count", 0, E, 0, &v))) return s;
        if (v > 1) {
            c->n_group = (int)v;
            if ((s = moe__ld_kint_in(m, "expert_group_used_count", 0, v, 0, &v))) return s;
            c->topk_group = (int)v;
            /* V3 (noaux_tc, with exp_probs_b) ranks groups by their top-2 sum, V2 by their max */
            c->group_score = moe__ld_probe(m, moe__name(nm, "blk.%d.exp_probs_b.bias", L), &t, &s) ? MOE_GROUP_TOP2_SUM : MOE_GROUP_MAX;
            if (s) return s;
        }
    }
    return MOE_OK;
}

/* Hugging Face: the family's names under "<prefix>layers.<N>.", options from config.json */
static moe_status moe__ld_hf(moe__map *m)
{
    static const char *const prefixes[] = { "model.", "language_model.model.", "model.language_model.", "" };
    static const char *const e_keys[] = { "num_local_experts", "num_experts", "n_routed_experts" };
    moe_config *c = m->cfg;
    moe_weights *w = m->w;
    moe__js *j = &m->j;
    char nm[MOE__NAMECAP], hd[MOE__NAMECAP], ty[64];
    moe_file_tensor r, t, b;
    long long nl, E = 0, k, v, need;
    size_t top, at, q, len, i;
    int L = m->L, D, ff, rows, cols, ci, in;
    moe_status s;
    const moe__family *fam = NULL;
    if ((s = moe__js_check(j))) {
        char why[MOE__ERRCAP];
        memcpy(why, m->err, sizeof why);
        return moe__ferr(m->err, s, "config: %s", why);
    }
    top = moe__js_ws(j, 0);
    if (j->p[top] != '{') return moe__ferr(m->err, MOE_ERR_FORMAT, "config: not a JSON object");
    m->ncobj = 0;
    if (moe__js_get(j, top, "text_config", &at) == 1 && j->p[at] == '{') m->cobj[m->ncobj++] = at;
    m->cobj[m->ncobj++] = top;
    ty[0] = 0;
    for (ci = 0; ci < m->ncobj && !fam; ci++) {
        int r = moe__js_get(j, m->cobj[ci], "model_type", &at);
        if (r < 0) return moe__ferr(m->err, MOE_ERR_FORMAT, "config: key 'model_type' appears twice");
        if (r == 1 && j->p[at] == '"' && moe__js_str(j, &at, ty, sizeof ty, &len, &s)) {
            fam = moe__ld_family(ty, len, 1);
            if (!fam && !strcmp(ty, "llama4")) fam = moe__ld_family("llama4_text", 11, 1);
        }
    }
    if (!fam) return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "config: model_type '%s' has no MoE mapping in moe.h", ty);
    m->fam = fam;
    if ((s = moe__ld_kint(m, "num_hidden_layers", &nl)))
        return s == MOE_ERR_MISSING ? moe__ferr(m->err, s, "config: no num_hidden_layers") : s;
    if (L < 0 || L >= nl) return moe__ferr(m->err, MOE_ERR_ARG, "config: layer %d is out of range: num_hidden_layers is %ld", L, (long)nl);
    for (i = 0; i < 3 && !E; i++) if ((s = moe__ld_kint_in(m, e_keys[i], 0, MOE_MAX_EXPERTS, 0, &E))) return s;
    if (!E) return moe__ferr(m->err, MOE_ERR_DENSE, "config: no experts (num_local_experts / num_experts / n_routed_experts): layer %d is dense", L);
    if ((s = moe__ld_kint_in(m, "num_experts_per_tok", 1, E, 0, &k))) return s;
    if (!k && (s = moe__ld_kint_in(m, "experts_per_token", 1, E, 0, &k))) return s;
    if (!k) return moe__ferr(m->err, MOE_ERR_MISSING, "config: no num_experts_per_tok");
    /* dense layers */
    if ((s = moe__ld_kint_in(m, "first_k_dense_replace", 0, INT_MAX, 0, &v))) return s;
    if (L < v) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is one of the first_k_dense_replace = %ld dense layers", L, (long)v);
    if ((s = moe__ld_kint_in(m, "moe_layer_freq", 0, INT_MAX, 1, &v))) return s;
    if (v > 1 && L % v) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is dense (moe_layer_freq %ld)", L, (long)v);
    if ((s = moe__ld_kint_in(m, "decoder_sparse_step", 0, INT_MAX, 1, &v))) return s;
    if (v > 1 && (L + 1) % v) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is dense (decoder_sparse_step %ld)", L, (long)v);
    if (moe__ld_klist_has(m, "mlp_only_layers", L) == 1) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is dense (in mlp_only_layers)", L);
    if ((in = moe__ld_klist_has(m, "moe_layers", L)) == 0) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is dense (not in moe_layers)", L);
    if (in < 0) {
        if ((s = moe__ld_kint_in(m, "interleave_moe_layer_step", 0, INT_MAX, 1, &v))) return s;
        if (v > 1 && (L + 1) % v) return moe__ferr(m->err, MOE_ERR_DENSE, "config: layer %d is dense (interleave_moe_layer_step %ld)", L, (long)v);
    }
    if (moe__ld_kstr_is(m, "hidden_act", "silu") == 0)
        return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "config: hidden_act is not silu; the %s mapping runs SwiGLU experts", fam->name);
    m->fp8_br = m->fp8_bc = 128;
    if (moe__js_get(j, top, "quantization_config", &at) == 1 && moe__js_get(j, at, "weight_block_size", &q) == 1 && j->p[q] == '[') {
        size_t it = 0, e;
        int n = 0;
        while (moe__js_elem(j, q, &it, &e) && n < 2) {
            size_t p2 = e;
            int isint;
            uint64_t u;
            if (j->p[e] < '1' || j->p[e] > '9' || moe__js_num(j, &p2, NULL, &isint, &u) || !isint || u > 65536)
                return moe__ferr(m->err, MOE_ERR_FORMAT, "config: quantization_config.weight_block_size must be two integers in [1, 65536]");
            if (n++) m->fp8_bc = (int)u; else m->fp8_br = (int)u;
        }
    }
    /* the prefix: where this layer's router is */
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        moe__name(m->pre, "%slayers.%d.%s", prefixes[i], L, fam->block);
        if (moe__ld_probe(m, moe__name(nm, "%s%s", m->pre, fam->router), &r, &s)) break;
        if (s) return s;
    }
    if (i == sizeof prefixes / sizeof prefixes[0])
        return moe__ferr(m->err, MOE_ERR_MISSING, "safetensors: no router for layer %d (model.layers.%d.%s%s)", L, L, fam->block, fam->router);
    c->n_experts = (int)E;
    c->top_k = (int)k;
    moe__ld_defaults(m);
    rows = (int)E; cols = 0;
    if ((s = moe__ld_stack(m, &w->router, &r, 1, 1, &rows, &cols))) return s;
    c->d_model = D = cols;
    len = strlen(nm) - 6;                                     /* "...weight" -> "...bias" */
    memcpy(nm + len, "bias", 5);
    if ((s = moe__ld_ovec(m, nm, (size_t)E, &w->router_bias)) ||
        (s = moe__ld_ovec(m, moe__name(nm, "%sgate.e_score_correction_bias", m->pre), (size_t)E, &w->selection_bias)))
        return s;
    if (fam->flags & MOE__F_STACKED) {                        /* one tensor for all experts */
        rows = 0; cols = D;
        if (moe__ld_probe(m, moe__name(nm, "%sexperts.%s_blocks", m->pre, fam->up), &b, &s)) {
            if ((s = moe__ld_find(m, moe__name(nm, "%sexperts.%s_scales", m->pre, fam->up), &t)) ||
                (s = moe__ld_mxfp4(m, &w->gate_up, &b, &t, (int)E, &rows, &cols)))
                return s;
            if (rows % 2) return moe__ferr(m->err, MOE_ERR_FORMAT, "safetensors: layer %d: gate_up has an odd number of rows", L);
            ff = rows / 2; rows = D; cols = ff;
            if ((s = moe__ld_find(m, moe__name(nm, "%sexperts.%s_blocks", m->pre, fam->down), &b)) ||
                (s = moe__ld_find(m, moe__name(nm, "%sexperts.%s_scales", m->pre, fam->down), &t)) ||
                (s = moe__ld_mxfp4(m, &w->down, &b, &t, (int)E, &rows, &cols)))
                return s;
        } else {
            if (s || (s = moe__ld_find(m, moe__name(nm, "%sexperts.%s", m->pre, fam->up), &t)) ||
                (s = moe__ld_stack_t(m, &w->gate_up, &t, (int)E, &rows, &cols)))
                return s;
            if (rows % 2) return moe__ferr(m->err, MOE_ERR_FORMAT, "safetensors: layer %d: gate_up has an odd number of rows", L);
            ff = rows / 2; rows = D; cols = ff;
            if ((s = moe__ld_find(m, moe__name(nm, "%sexperts.%s", m->pre, fam->down), &t)) ||
                (s = moe__ld_stack_t(m, &w->down, &t, (int)E, &rows, &cols)))
                return s;
        }
        if (cols != ff) return moe__ferr(m->err, MOE_ERR_FORMAT, "safetensors: layer %d: gate_up and down disagree on d_ff", L);
        w->gate_up_layout = (fam->flags & MOE__F_OAI) ? MOE_GATE_UP_INTERLEAVED : MOE_GATE_UP_HALVES;
        if ((s = moe__ld_ovec(m, moe__name(nm, "%sexperts.%s_bias", m->pre, fam->up), (size_t)E * 2 * (size_t)ff, &w->gate_up_bias)) ||
            (s = moe__ld_ovec(m, moe__name(nm, "%sexperts.%s_bias", m->pre, fam->down), (size_t)E * (size_t)D, &w->down_bias)))
            return s;
    } else {                                                  /* one tensor per expert and matrix */
        moe__name(hd, "%sexperts.", m->pre);
        rows = 0; cols = D;
        if ((s = moe__ld_split(m, &w->gate, hd, moe__name(nm, ".%s.weight", fam->gate), (int)E, &rows, &cols)) ||
            (s = moe__ld_split(m, &w->up, hd, moe__name(nm, ".%s.weight", fam->up), (int)E, &rows, &cols)))
            return s;
        ff = rows; rows = D; cols = ff;
        if ((s = moe__ld_split(m, &w->down, hd, moe__name(nm, ".%s.weight", fam->down), (int)E, &rows, &cols))) return s;
    }
    c->d_ff = ff;
    if (fam->shared) {                                        /* one shared expert (DeepSeek: n merged) */
        if ((s = moe__ld_kint_in(m, "n_shared_experts", 0, INT_MAX, 0, &need))) return s;
        if (!need && (s = moe__ld_kint_in(m, "shared_expert_intermediate_size", 0, INT_MAX, 0, &need))) return s;
        if (moe__ld_probe(m, moe__name(nm, "%s%sup_proj.weight", m->pre, fam->shared), &t, &s)) {
            rows = 0; cols = D;
            if ((s = moe__ld_stack(m, &w->shared_up, &t, 1, 1, &rows, &cols)) ||
                (s = moe__ld_find(m, moe__name(nm, "%s%sgate_proj.weight", m->pre, fam->shared), &t)) ||
                (s = moe__ld_stack(m, &w->shared_gate, &t, 1, 1, &rows, &cols)))
                return s;
            c->n_shared = 1;
            c->d_ff_shared = rows;
            rows = D; cols = c->d_ff_shared;
            if ((s = moe__ld_find(m, moe__name(nm, "%s%sdown_proj.weight", m->pre, fam->shared), &t)) ||
                (s = moe__ld_stack(m, &w->shared_down, &t, 1, 1, &rows, &cols)))
                return s;
            if (fam->shared_gate && (s = moe__ld_ovec(m, moe__name(nm, "%s%s", m->pre, fam->shared_gate), (size_t)D, &w->shared_gate_w)))
                return s;
        } else if (s) return s;
        else if (need) return moe__ferr(m->err, MOE_ERR_MISSING, "safetensors: tensor '%s' not found", nm);
    }
    /* options */
    if ((in = moe__ld_kstr_is(m, "scoring_func", "sigmoid")) == 1) c->score = MOE_SCORE_SIGMOID;
    else if (in == 0) {
        if (moe__ld_kstr_is(m, "scoring_func", "softmax") != 1) return moe__ferr(m->err, MOE_ERR_UNSUPPORTED, "config: scoring_func is neither softmax nor sigmoid");
        c->score = MOE_SCORE_SOFTMAX;
    }
    if ((s = moe__ld_kint_in(m, "norm_topk_prob", 0, 1, c->norm_topk, &v))) return s;
    c->norm_topk = (int)v && !((fam->flags & MOE__F_DS) && k == 1);
    if (!((fam->flags & MOE__F_V2) && c->norm_topk) && (s = moe__ld_scale(m, "routed_scaling_factor"))) return s;
    if ((in = moe__ld_kstr_is(m, "topk_method", "noaux_tc")) == 1 || moe__ld_kstr_is(m, "topk_method", "group_limited_greedy") == 1) {
        if ((s = moe__ld_kint_in(m, "n_group", 0, E, 0, &v))) return s;
        if (v > 1) {
            c->n_group = (int)v;
            if ((s = moe__ld_kint_in(m, "topk_group", 0, v, 0, &v))) return s;
            c->topk_group = (int)v;
            c->group_score = in == 1 ? MOE_GROUP_TOP2_SUM : MOE_GROUP_MAX;
        }
    }
    if (fam->flags & MOE__F_OAI) {
        double x;
        if ((s = moe__ld_kflt(m, "swiglu_limit", &x)) == MOE_OK) {
            if (!(x >= 0 && x < 3.4e38)) return moe__ferr(m->err, MOE_ERR_FORMAT, "config: swiglu_limit is out of range");
            c->oai_limit = (float)x;
        } else if (s != MOE_ERR_MISSING) return s;
    }
    return moe__ld_gateless(m, 1);
}

/* both passes: count the memory, then (mem given) fill */
static moe_status moe__ld_run(moe__map *m, moe_status (*body)(moe__map *), moe_config *cfg, moe_weights *w,
                              void *mem, size_t mem_size, size_t *bytes)
{
    moe_config c0;
    moe_weights w0;
    size_t need, pad;
    moe_status s;
    m->err[0] = 0;
    m->cfg = &c0; m->w = &w0;
    c0 = moe_config_default(); w0 = moe_weights_default();
    m->mem = NULL; m->used = 0; m->cap = 0;
    if ((s = body(m))) return s;
    need = m->used ? (m->used == (size_t)-1 ? m->used : m->used + 63) : 0;
    if (bytes) { *bytes = need; return MOE_OK; }
    if (!cfg || !w) return moe__ferr(m->err, MOE_ERR_NULL, "cfg or w is NULL");
    if (need == (size_t)-1) return moe__ferr(m->err, MOE_ERR_OVERFLOW, "layer %d: the memory it needs overflows size_t", m->L);
    if (need && !mem) return moe__ferr(m->err, MOE_ERR_NULL, "layer %d needs %zu bytes of mem; mem is NULL", m->L, need);
    if (mem_size < need) return moe__ferr(m->err, MOE_ERR_WORKSPACE, "layer %d: mem is %zu bytes; it needs %zu (see *_layer_mem)", m->L, mem_size, need);
    pad = need ? (64 - (uintptr_t)mem % 64) % 64 : 0;
    m->mem = need ? (unsigned char *)mem + pad : NULL;
    m->cap = need ? mem_size - pad : 0;
    m->used = 0;
    *cfg = moe_config_default(); *w = moe_weights_default();
    m->cfg = cfg; m->w = w;
    s = body(m);
    if (!s && m->used > m->cap) s = moe__ferr(m->err, MOE_ERR_WORKSPACE, "layer %d: mem too small", m->L);
    if (s) { *cfg = moe_config_default(); *w = moe_weights_default(); }
    return s;
}
static moe_status moe__ld_gguf_call(moe_gguf *g, int layer, moe_config *cfg, moe_weights *w, void *mem, size_t mem_size, size_t *bytes)
{
    moe__map m;
    if (!g || !g->data_at) return MOE_ERR_NULL;
    memset(&m, 0, sizeof m);
    m.g = g; m.err = g->error; m.L = layer;
    return moe__ld_run(&m, moe__ld_gguf, cfg, w, mem, mem_size, bytes);
}
MOEDEF moe_status moe_gguf_layer_mem(moe_gguf *g, int layer, size_t *bytes)
{
    if (!bytes) return MOE_ERR_NULL;
    return moe__ld_gguf_call(g, layer, NULL, NULL, NULL, 0, bytes);
}
MOEDEF moe_status moe_gguf_layer(moe_gguf *g, int layer, moe_config *cfg, moe_weights *w, void *mem, size_t mem_size)
{
    return moe__ld_gguf_call(g, layer, cfg, w, mem, mem_size, NULL);
}
static moe_status moe__ld_st_call(moe_st *st, const char *config, size_t config_len, int layer, unsigned flags,
                                  moe_config *cfg, moe_weights *w, void *mem, size_t mem_size, size_t *bytes)
{
    moe__map m;
    if (!st || !st->index) return MOE_ERR_NULL;
    if (!config) return moe__ferr(st->error, MOE_ERR_NULL, "config is NULL");
    memset(&m, 0, sizeof m);
    m.st = st; m.err = st->error; m.L = layer; m.flags = flags;
    m.j.p = (const unsigned char *)config; m.j.n = config_len; m.j.err = st->error;
    return moe__ld_run(&m, moe__ld_hf, cfg, w, mem, mem_size, bytes);
}
MOEDEF moe_status moe_st_layer_mem(moe_st *st, const char *config, size_t config_len, int layer, unsigned flags, size_t *bytes)
{
    if (!bytes) return MOE_ERR_NULL;
    return moe__ld_st_call(st, config, config_len, layer, flags, NULL, NULL, NULL, 0, bytes);
}
MOEDEF moe_status moe_st_layer(moe_st *st, const char *config, size_t config_len, int layer, unsigned flags,
                               moe_config *cfg, moe_weights *w, void *mem, size_t mem_size)
{
    return moe__ld_st_call(st, config, config_len, layer, flags, cfg, w, mem, mem_size, NULL);
}
/* <<<< end of file readers: implementation >>>> */

#ifdef MOE__GCC_CXX_DIAG
#pragma GCC diagnostic pop
#endif
#undef MOE__IMPL_NOW
#endif /* MOE_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the moe.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication for the benefit of the public at large and to
the detriment of our heirs and successors. We intend this dedication to be an
overt act of relinquishment in perpetuity of all present and future rights to
this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
