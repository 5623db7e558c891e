// rtneural_bench.cpp — RTNeural (the streaming library) as a contender of the benchmark:
// the S1 (LSTM(10, 64), 2 layers) and S2 (GRU(10, 64)) networks as compile-time models
// (ModelT, its fastest form), their weights from the files rnnc-bench --dump wrote (PyTorch's
// order), checked against rnnc's streaming outputs, then timed one step at a time (batches
// of 100 steps per clock reading) and as a 100-step sequence from a reset state.
// bench/setup.sh builds it against an RTNeural checkout (not part of rnnc) with each
// backend it can; run.py keeps the fastest. Prints the CSV lines of rnnc-bench.
// Usage: rtneural-bench DIR [--clock cpu] [--rounds R] [--backend NAME]
#include <RTNeural/RTNeural.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

using Vec = std::vector<float>;
using Mat = std::vector<Vec>;

clockid_t g_clock = CLOCK_MONOTONIC;
int g_rounds = 5;

double now_us()
{
    timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool read_floats(const std::string &path, Vec &out, size_t n)
{
    out.assign(n, 0.f);
    FILE *f = fopen(path.c_str(), "rb");
    if (!f)
        return false;
    size_t got = fread(out.data(), sizeof(float), n, f);
    fclose(f);
    return got == n;
}

// PyTorch's (rows, cols) tensor at p as RTNeural's transposed [cols][rows].
Mat transposed(const float *p, int rows, int cols)
{
    Mat m((size_t)cols, Vec((size_t)rows));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            m[(size_t)c][(size_t)r] = p[(size_t)r * cols + c];
    return m;
}

// RTNeural's GRU keeps z before r: swap the first two blocks of `size` in every row.
void swap_rz(Mat &m, int size)
{
    for (auto &row : m)
        std::swap_ranges(row.begin(), row.begin() + size, row.begin() + size);
}

template <typename Layer> const float *load_lstm(Layer &l, const float *p, int I, int H)
{
    const float *wih = p, *whh = wih + 4 * H * I, *bih = whh + 4 * H * H, *bhh = bih + 4 * H;
    l.setWVals(transposed(wih, 4 * H, I));
    l.setUVals(transposed(whh, 4 * H, H));
    Vec b((size_t)4 * H);
    for (int j = 0; j < 4 * H; j++)
        b[(size_t)j] = bih[j] + bhh[j];
    l.setBVals(b);
    return bhh + 4 * H;
}

template <typename Layer> const float *load_gru(Layer &l, const float *p, int I, int H)
{
    const float *wih = p, *whh = wih + 3 * H * I, *bih = whh + 3 * H * H, *bhh = bih + 3 * H;
    Mat w = transposed(wih, 3 * H, I), u = transposed(whh, 3 * H, H);
    swap_rz(w, H);
    swap_rz(u, H);
    l.setWVals(w);
    l.setUVals(u);
    Mat b{Vec(bih, bih + 3 * H), Vec(bhh, bhh + 3 * H)};
    swap_rz(b, H);
    l.setBVals(b);
    return bhh + 3 * H;
}

// One configuration: check 100 steps against rnnc's, then time steps and sequences.
template <typename Model> void bench(Model &m, const char *id, int I, int H, const Vec &x,
                                     const Vec &yref, const char *who)
{
    const int T = 100;
    alignas(64) float in[64];
    double worst = 0;
    m.reset();
    for (int t = 0; t < T; t++) {
        std::memcpy(in, &x[(size_t)t * I], sizeof(float) * (size_t)I);
        m.forward(in);
        const float *out = m.getOutputs();
        for (int k = 0; k < H; k++)
            worst = std::max(worst, (double)std::fabs(out[k] - yref[(size_t)t * H + k]));
    }
    printf("check,%s,%s,%.3g,%s\n", who, id, worst, worst < 1e-4 ? "ok" : "FAIL");
    std::vector<double> steps, seqs;
    volatile float sink = 0;
    for (int r = 0; r < g_rounds; r++) {
        std::vector<double> st, sq;
        double start = now_us();
        while (st.size() < 5 || now_us() - start < 1e5) {
            double t0 = now_us();
            for (int t = 0; t < T; t++) {
                std::memcpy(in, &x[(size_t)t * I], sizeof(float) * (size_t)I);
                sink = sink + m.forward(in);
            }
            st.push_back((now_us() - t0) / T);
            t0 = now_us();
            m.reset();
            for (int t = 0; t < T; t++) {
                std::memcpy(in, &x[(size_t)t * I], sizeof(float) * (size_t)I);
                sink = sink + m.forward(in);
            }
            sq.push_back(now_us() - t0);
        }
        steps.push_back(median(st));
        seqs.push_back(median(sq));
    }
    printf("%s,%s,sequence,%.3f,\n%s,%s,step,%.4f,\n", who, id, median(seqs), who, id,
           median(steps));
    fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rtneural-bench DIR [--clock cpu] [--rounds R] [--backend NAME]\n");
        return 2;
    }
    std::string dir = argv[1], who = "rtneural";
    for (int k = 2; k + 1 < argc; k += 2) {
        if (!std::strcmp(argv[k], "--clock") && !std::strcmp(argv[k + 1], "cpu"))
            g_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!std::strcmp(argv[k], "--rounds"))
            g_rounds = std::max(1, std::min(32, std::atoi(argv[k + 1])));
        else if (!std::strcmp(argv[k], "--backend"))
            who = std::string("rtneural-") + argv[k + 1];
    }
    const int I = 10, H = 64;
    Vec p, x, y;
    printf("contender,config,mode,median_us,flops\n");
    {
        static RTNeural::ModelT<float, I, H, RTNeural::LSTMLayerT<float, I, H>,
                                RTNeural::LSTMLayerT<float, H, H>>
            m; /* static: Eigen's fixed-size weights are too big for a stack */
        size_t np = 4 * H * (I + H + 2) + 4 * H * (H + H + 2);
        if (read_floats(dir + "/S1.params", p, np) && read_floats(dir + "/S1.x", x, 100 * I) &&
            read_floats(dir + "/S1.y", y, 100 * H)) {
            const float *q = load_lstm(m.get<0>(), p.data(), I, H);
            load_lstm(m.get<1>(), q, H, H);
            bench(m, "S1", I, H, x, y, who.c_str());
        } else {
            fprintf(stderr, "rtneural-bench: no S1 files in %s\n", dir.c_str());
        }
    }
    {
        static RTNeural::ModelT<float, I, H, RTNeural::GRULayerT<float, I, H>> m;
        size_t np = 3 * H * (I + H + 2);
        if (read_floats(dir + "/S2.params", p, np) && read_floats(dir + "/S2.x", x, 100 * I) &&
            read_floats(dir + "/S2.y", y, 100 * H)) {
            load_gru(m.get<0>(), p.data(), I, H);
            bench(m, "S2", I, H, x, y, who.c_str());
        } else {
            fprintf(stderr, "rtneural-bench: no S2 files in %s\n", dir.c_str());
        }
    }
    return 0;
}
