/* stream.c — streaming use of a deployed model: one pilot estimate in, one prediction out,
 * per call, as a receiver tracking a fading radio channel would run it.
 *
 *   build/rnnc specs/channel_tracker.yaml -o build/channel_tracker.c \
 *       --weights examples/channel_tracker/weights.safetensors
 *   cc -std=c11 -O2 -Ibuild examples/stream/stream.c build/channel_tracker.c -o build/stream
 *   build/stream
 *
 * The channel is a sum of Doppler-shifted paths (Jakes' model) seen through noisy pilots.
 * The bundled weights are PyTorch's random initialisation, not a trained tracker: the
 * numbers show the API, not a good prediction. */
#include <stdio.h>

#include "channel_tracker.h"

/* sin and cos by their series on [-pi, pi]: enough for a test signal, and no libm. */
static float wrap(float a)
{
    const float pi = 3.14159265f;
    while (a > pi)
        a -= 2 * pi;
    while (a < -pi)
        a += 2 * pi;
    return a;
}

static float sin_s(float a)
{
    a = wrap(a);
    float a2 = a * a;
    return a * (1 - a2 / 6 * (1 - a2 / 20 * (1 - a2 / 42 * (1 - a2 / 72))));
}

static float cos_s(float a)
{
    return sin_s(a + 1.57079633f);
}

int main(void)
{
    if (channel_tracker_selftest() != 0) {
        fprintf(stderr, "self-test failed: this build of the model is wrong\n");
        return 1;
    }
    channel_tracker_state s; /* one per stream */
    channel_tracker_reset(&s);
    unsigned int seed = 1;
    printf("step   pilot (I, Q)          prediction (I, Q)\n");
    for (int t = 0; t < 16; t++) {
        float h_i = 0, h_q = 0;
        for (int p = 0; p < 8; p++) { /* 8 paths, Doppler 0.02 cycles per step */
            float doppler = 0.02f * cos_s(2 * 3.14159265f * (float)p / 8);
            h_i += cos_s(2 * 3.14159265f * doppler * (float)t + (float)p) / 8;
            h_q += sin_s(2 * 3.14159265f * doppler * (float)t + (float)p) / 8;
        }
        seed = seed * 1664525u + 1013904223u;
        float noise = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.05f;
        float pilot[CHANNEL_TRACKER_INPUT_SIZE] = {h_i + noise, h_q - noise};
        float pred[CHANNEL_TRACKER_OUTPUT_SIZE];
        channel_tracker_step(&s, pilot, pred); /* one sample in, one prediction out */
        printf("%4d   % .4f  % .4f      % .4f  % .4f\n", t, pilot[0], pilot[1], pred[0], pred[1]);
    }
    return 0;
}
