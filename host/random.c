/* random.c — the one random source of training: splitmix64, seeded per purpose (weights,
 * each epoch's order, each step's dropout masks) so that a draw depends on (seed, epoch,
 * step) only and a resumed run draws what an uninterrupted one does.
 */
#include "host.h"

#include <math.h>
#include <stdlib.h>

/* splitmix64: the one random source of training (init, shuffling), seeded per purpose so
 * that an epoch's order depends on (seed, epoch) only: a resumed run draws the same. */
unsigned long long random_next(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double random_uniform(unsigned long long *s)
{
    return (double)(random_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* PyTorch's initialisation: every block parameter uniform in +-1/sqrt(H), the head's
 * (nn.Linear) in +-1/sqrt(in_features). */
void random_init_params(const Plan *p, void *params, long seed)
{
    unsigned long long s = 0x5eed0000ull + (unsigned long long)seed;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        double bound = 0;
        for (int k = 0; k < p->nlayers && bound == 0; k++) {
            const PlanLayer *L = &p->layers[k];
            if (i == L->t_wih || i == L->t_whh || i == L->t_bih || i == L->t_bhh || i == L->t_whr)
                bound = 1 / sqrt((double)L->H);
        }
        if (bound == 0)
            bound = 1 / sqrt((double)p->net->head.in_features);
        long n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        for (long j = 0; j < n; j++) {
            double v = (2 * random_uniform(&s) - 1) * bound;
            if (p->net->dbl)
                ((double *)params)[t->offset + j] = v;
            else
                ((float *)params)[t->offset + j] = (float)v;
        }
    }
}

/* The order of an epoch's sequences: shuffled from (seed, epoch) alone. */
void random_epoch_order(int *order, int N, int shuffle, long seed, long epoch)
{
    for (int i = 0; i < N; i++)
        order[i] = i;
    if (!shuffle)
        return;
    unsigned long long s = ((unsigned long long)seed << 20) ^ (unsigned long long)epoch;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(random_next(&s) % (unsigned long long)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* Dropout masks for a batch of B sequences of T steps: each element 0 with probability p
 * (its layer's block's dropout), else 1/(1-p). Sequence b's mask of each layer is drawn
 * step by step from (seed, layer, ids[b]) alone, so it is the same in any batch, any share
 * of a batch (data-parallel training) and for any T at least its length. */
void *random_dropout_masks(const Plan *p, int B, int T, unsigned long long seed, const int *ids,
                           int *oom)
{
    long per = p->dropout_reals;
    *oom = 0;
    int dbl = p->net->dbl;
    if (per == 0)
        return NULL;
    void *m = malloc((size_t)(per * B * T) * (dbl ? sizeof(double) : sizeof(float)));
    if (!m) {
        *oom = 1;
        return NULL;
    }
    long at = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir || L->drop_off < 0) /* the plan says which layers drop */
            continue;
        double q = L->block->dropout, keep = 1 / (1 - q);
        long n = (long)T * L->block->dirs * L->Hr;
        for (int b = 0; b < B; b++) {
            unsigned long long s = seed ^ ((unsigned long long)i << 48);
            s ^= random_next(&s) + (unsigned long long)(ids ? ids[b] : b);
            for (long k = 0; k < n; k++, at++) {
                double v = random_uniform(&s) < q ? 0 : keep;
                if (dbl)
                    ((double *)m)[at] = v;
                else
                    ((float *)m)[at] = (float)v;
            }
        }
    }
    return m;
}
