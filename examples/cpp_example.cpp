// cpp_example.cpp - moe.h from C++ (C++11): std::vector buffers, moe_forward_ex returning the
// routing (ids_out / weights_out) together with the output in one call.
//
//     c++ -std=c++11 -O2 -I. examples/cpp_example.cpp -o cpp_example && ./cpp_example
#define MOE_IMPLEMENTATION
#include "moe.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

// Small deterministic PRNG (xorshift32), uniform in [-scale, scale).
struct Rng {
    std::uint32_t s;
    explicit Rng(std::uint32_t seed) : s(seed) {}
    float next(float scale) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        return (static_cast<float>(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
    std::vector<float> array(std::size_t n, float scale) {
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; i++) v[i] = next(scale);
        return v;
    }
};

bool ok(moe_status s, const char *what) {
    if (s == MOE_OK) return true;
    std::fprintf(stderr, "%s: %s\n", what, moe_status_string(s));
    return false;
}

} // namespace

int main() {
    const int d_model = 64, d_ff = 96, n_experts = 8, n_tokens = 5;
    const std::size_t D = d_model, F = d_ff, E = n_experts, T = n_tokens;
    Rng rng(12345u);
    const float s_in = 1.0f / std::sqrt(static_cast<float>(d_model));
    const float s_ff = 1.0f / std::sqrt(static_cast<float>(d_ff));
    std::vector<float> router = rng.array(E * D, s_in);      // [E][d_model]
    std::vector<float> gate = rng.array(E * F * D, s_in);    // [E][d_ff][d_model]
    std::vector<float> up = rng.array(E * F * D, s_in);      // [E][d_ff][d_model]
    std::vector<float> down = rng.array(E * D * F, s_ff);    // [E][d_model][d_ff]
    std::vector<float> x = rng.array(T * D, 1.0f);           // [T][d_model]

    moe_config cfg = moe_config_default();   // Mixtral semantics: softmax, top-2, renormalised
    cfg.d_model = d_model; cfg.d_ff = d_ff; cfg.n_experts = n_experts;

    moe_weights w = moe_weights_default();   // every optional tensor absent, types MOE_TYPE_F32
    w.router.data = router.data();
    w.gate.data = gate.data();
    w.up.data = up.data();
    w.down.data = down.data();

    moe_layer layer;
    if (!ok(moe_layer_init(&layer, &cfg, &w), "moe_layer_init")) return 1;

    std::vector<unsigned char> work(moe_workspace_size(&layer, n_tokens));
    if (work.empty()) { std::fprintf(stderr, "moe_workspace_size: 0\n"); return 1; }

    const std::size_t K = static_cast<std::size_t>(cfg.top_k);
    std::vector<float> y(T * D);
    std::vector<int> ids(T * K);
    std::vector<float> weights(T * K);

    moe_run_opts opts = {};                  // defaults: the layer's threads, no capacity limit
    opts.ids_out = ids.data();               // [n_tokens][top_k], slot order
    opts.weights_out = weights.data();       // [n_tokens][top_k]
    if (!ok(moe_forward_ex(&layer, x.data(), n_tokens, y.data(), work.data(), work.size(), &opts),
            "moe_forward_ex"))
        return 1;

    // moe_forward (no opts) must give the same y, bit for bit.
    std::vector<float> y2(T * D);
    if (!ok(moe_forward(&layer, x.data(), n_tokens, y2.data(), work.data(), work.size()),
            "moe_forward"))
        return 1;
    if (y != y2) { std::fprintf(stderr, "moe_forward and moe_forward_ex differ\n"); return 1; }

    std::printf("moe.h from C++: %d tokens, %d experts, top-%d, simd %s\n", n_tokens, n_experts,
                cfg.top_k, moe_simd_name());
    for (std::size_t t = 0; t < T; t++) {
        float sum = 0.0f;
        std::printf("token %zu:", t);
        for (std::size_t j = 0; j < K; j++) {
            std::printf("  expert %d x %.3f", ids[t * K + j], static_cast<double>(weights[t * K + j]));
            sum += weights[t * K + j];
        }
        std::printf("  (sum %.3f)  y[0] = %+.4f\n", static_cast<double>(sum),
                    static_cast<double>(y[t * D]));
    }
    return 0;
}
