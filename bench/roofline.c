/* bench/roofline.c - the roofline plot as SVG, written by the bench itself: x flop per byte of
   expert weights, y GFLOP/s, both log scale; the read bandwidth slope, the FMA peaks, and moe.h's
   rows at the bench's thread count. */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <string.h>

/* ---- roofline SVG ------------------------------------------------------------------------ */
static const char *type_color(moe_type t)
{
    /* f32 f16 bf16 q8_0 q4_0 (tab10), then q4_K q5_K q6_K q2_K q3_K mxfp4 f8_e4m3 */
    static const char *c[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000080", "#ff00ff" };
    typedef char enough_colours[(sizeof c / sizeof c[0] >= (size_t)N_TYPES) ? 1 : -1];
    (void)sizeof(enough_colours);
    return (int)t >= 0 && (int)t < N_TYPES ? c[t] : "#000";
}

void write_svg(const char *path, const char *const *layer_names, int n_layers)
{
    const double W = 980, H = 640, ml = 80, mr = 230, mt = 40, mb = 60;
    const double pw = W - ml - mr, ph = H - mt - mb;
    double xmin = 1e30, xmax = 0, ymin = 1e30, ymax = 0, lx0, lx1, ly0, ly1, bw = g_m.bw[2];
    /* ceilings: the FMA peaks (f32 arithmetic: f32/f16/bf16, the K-quants, FP8, and Q8_0/Q4_0 with
       MOE_BATCH_EXACT), then the integer modes' (Q4_0 / Q8_0 with MOE_BATCH_INT on AVX-512 VNNI) */
    double peaks[5];
    const char *peak_names[5] = { "AVX-512 zmm FMA peak", "AVX2 ymm FMA peak", "q4_0 int: vpdpbusd peak",
                                  "q8_0 int: vpdpwssd peak", "bf16 dot: vdpbf16ps peak" };
    const char *peak_colors[5];
    int i, d, np = 0;
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "bench: cannot write %s\n", path); return; }
    peaks[0] = g_m.peak_zmm[2]; peaks[1] = g_m.peak_ymm[2];
    peaks[2] = peaks[3] = peaks[4] = 0;
    if (strcmp(g_m.lib_path, "avx512") == 0) { peaks[2] = g_m.peak_dpbusd[2]; peaks[3] = g_m.peak_dpwssd[2]; peaks[4] = g_m.peak_dpbf16[2]; }
    peak_colors[0] = "#000"; peak_colors[1] = "#888";
    peak_colors[2] = type_color(MOE_TYPE_Q4_0); peak_colors[3] = type_color(MOE_TYPE_Q8_0); peak_colors[4] = type_color(MOE_TYPE_BF16);
    for (i = 0; i < g_nres; i++) {
        const result *r = &g_res[i];
        double ai = r->flops / r->bytes, gf = r->flops / r->t.sec * 1e-9;
        if ((strcmp(r->impl, "moe.h") != 0 && strcmp(r->impl, "moe.h-exact") != 0 && strcmp(r->impl, "moe.h-bf16dot") != 0 &&
             strcmp(r->impl, "moe.h-prepack") != 0 && strcmp(r->impl, "moe.h-int8") != 0 && strcmp(r->impl, "moe.h-int8pk") != 0) ||
            r->threads != g_m.nthreads)
            continue;
        if (ai < xmin) xmin = ai;
        if (ai > xmax) xmax = ai;
        if (gf < ymin) ymin = gf;
        if (gf > ymax) ymax = gf;
        np++;
    }
    if (np == 0) { xmin = 0.1; xmax = 100; ymin = 1; ymax = 100; }
    for (i = 0; i < 5; i++) if (peaks[i] > ymax) ymax = peaks[i];
    if (bw > 0 && peaks[0] + peaks[1] > 0) {
        double ridge = (peaks[0] > peaks[1] ? peaks[0] : peaks[1]) / bw;
        if (ridge * 4 > xmax) xmax = ridge * 4;
    }
    for (i = 2; i < 5; i++) if (bw > 0 && peaks[i] / bw * 2 > xmax) xmax = peaks[i] / bw * 2;
    lx0 = floor(log10(xmin)) ; lx1 = ceil(log10(xmax));
    ly0 = floor(log10(ymin)); ly1 = ceil(log10(ymax * 1.5));
    if (lx1 <= lx0) lx1 = lx0 + 1;
    if (ly1 <= ly0) ly1 = ly0 + 1;
#define SX(v) (ml + (log10(v) - lx0) / (lx1 - lx0) * pw)
#define SY(v) (mt + ph - (log10(v) - ly0) / (ly1 - ly0) * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">moe.h roofline: %d threads, %s path "
               "(x: routed-expert flops per byte of expert weights streamed)</text>\n",
            ml, g_m.nthreads, g_m.lib_path);
    /* grid and axes */
    for (d = (int)lx0; d <= (int)lx1; d++) {
        double v = pow(10, d), px = SX(v);
        int s;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", px, mt, px, mt + ph);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", px, mt + ph + 18, v);
        for (s = 2; s < 10 && d < (int)lx1; s++)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    SX(v * s), mt, SX(v * s), mt + ph);
    }
    for (d = (int)ly0; d <= (int)ly1; d++) {
        double v = pow(10, d), py = SY(v);
        int s;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", ml, py, ml + pw, py);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ml - 6, py + 4, v);
        for (s = 2; s < 10 && d < (int)ly1; s++)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    ml, SY(v * s), ml + pw, SY(v * s));
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
            ml, mt, pw, ph);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">arithmetic intensity (flop / weight byte)</text>\n",
            ml + pw / 2, H - 18);
    fprintf(f, "<text transform=\"translate(20,%.1f) rotate(-90)\" text-anchor=\"middle\">GFLOP/s</text>\n",
            mt + ph / 2);
    /* roofs: min(peak, bw * ai), and the bandwidth slope */
    if (bw > 0) {
        double a0 = pow(10, lx0), a1 = pow(10, lx1), top = pow(10, ly1), bot = pow(10, ly0);
        double s0 = a0, s1 = a1;
        if (bw * s0 < bot) s0 = bot / bw;
        if (bw * s1 > top) s1 = top / bw;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-dasharray=\"6,4\"/>\n",
                SX(s0), SY(bw * s0), SX(s1), SY(bw * s1));
        {   /* label along the slope, a third of the way up, just below the line */
            double ang = atan2(SY(bw * s0) - SY(bw * s1), SX(s1) - SX(s0)) * 180 / 3.14159265;
            double am = s0 * pow(s1 / s0, 0.3), tx = SX(am) + 8, ty = SY(bw * am) + 8;
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\" transform=\"rotate(-%.1f %.1f %.1f)\">"
                       "read bandwidth %.1f GB/s</text>\n", tx, ty, ang, tx, ty, bw);
        }
        for (i = 0; i < 5; i++) {
            double pk = peaks[i], ridge;
            if (pk <= 0) continue;
            ridge = pk / bw;
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
                    peak_colors[i], i >= 2 ? " stroke-dasharray=\"2,3\"" : "", SX(s0), SY(bw * s0), SX(ridge), SY(pk),
                    SX(a1), SY(pk));
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s %.0f %s</text>\n",
                    SX(a1) - 4, SY(pk) + (i == 1 || i == 4 ? 14 : -6), peak_colors[i], peak_names[i], pk, i == 2 || i == 3 ? "Gop/s" : "GFLOP/s");
        }
    }
    /* points */
    for (i = 0; i < g_nres; i++) {
        const result *r = &g_res[i];
        double ai = r->flops / r->bytes, gf = r->flops / r->t.sec * 1e-9, px = SX(ai), py = SY(gf);
        int li, lidx = 0, exact = strcmp(r->impl, "moe.h-exact") == 0, bdot = strcmp(r->impl, "moe.h-bf16dot") == 0;
        int pk = strcmp(r->impl, "moe.h-prepack") == 0, i8 = strcmp(r->impl, "moe.h-int8") == 0 || strcmp(r->impl, "moe.h-int8pk") == 0;
        char paint[96];
        if ((strcmp(r->impl, "moe.h") != 0 && !exact && !bdot && !pk && !i8) || r->threads != g_m.nthreads) continue;
        for (li = 0; li < n_layers; li++) if (strcmp(layer_names[li], r->layer) == 0) lidx = li;
        /* hollow: measured while other processes competed for the CPUs */
        snprintf(paint, sizeof paint, r->t.other > g_time.busy_cores ? "fill=\"white\" stroke=\"%s\" stroke-width=\"2\""
                                                                      : "fill=\"%s\"", type_color(r->type));
        if (lidx == 0)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" %s/>\n", px, py, paint);
        else
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" %s/>\n", px - 4.5, py - 4.5, paint);
        /* the mode of Q8_0/Q4_0 rows: cfg.batch_quant = MOE_BATCH_INT (the default; one token and
           experts with up to 8 tokens always quantise) or MOE_BATCH_EXACT */
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"%s\">T=%d%s</text>\n", px + 7,
                py + (lidx == 0 ? -3 : 10), type_color(r->type), r->T, exact ? " exact" : bdot ? " dot" : pk ? " pk" : i8 ? " int8" : is_q8act(r->type) ? " int" : "");
    }
    /* legend */
    {
        double lx = ml + pw + 20, ly = mt + 10;
        int t, nt = 0;
        for (t = 0; t < N_TYPES; t++) {   /* the types this run timed */
            if (!(g_opt.type_mask & (1u << t))) continue;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, ly + nt * 18,
                    type_color((moe_type)t));
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 18, ly + nt * 18 + 10, type_label((moe_type)t));
            nt++;
        }
        ly += nt * 18 + 10;
        for (t = 0; t < n_layers && t < 2; t++) {
            if (t == 0) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#333\"/>\n", lx + 6, ly + t * 18 + 6);
            else fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"#333\"/>\n", lx + 1.5, ly + t * 18 + 1.5);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 18, ly + t * 18 + 10, layer_names[t]);
        }
        ly += 2 * 18 + 14;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">flops: 6*d_model*d_ff*k per token</text>\n", lx, ly);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">(routed experts, router excluded)</text>\n", lx, ly + 14);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">bytes: expert weights touched</text>\n", lx, ly + 28);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">per call, in their stored type</text>\n", lx, ly + 42);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">hollow marker: other processes</text>\n", lx, ly + 62);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">competed during the timing</text>\n", lx, ly + 76);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">q8_0/q4_0 labels: int = batch_quant</text>\n", lx, ly + 96);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">MOE_BATCH_INT (default), exact =</text>\n", lx, ly + 110);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">MOE_BATCH_EXACT; dotted ceilings:</text>\n", lx, ly + 124);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">the int modes' (VNNI) peaks; pk =</text>\n", lx, ly + 138);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">int on moe_prepack's tiles</text>\n", lx, ly + 152);
    }
    fprintf(f, "</svg>\n");
#undef SX
#undef SY
    fclose(f);
}
