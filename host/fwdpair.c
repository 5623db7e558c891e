/* fwdpair.c — forward_train on two threads: part 1 of every call on a helper thread kept
 * for the run, part 0 on the caller's. The generated forward_train gives each part its own
 * sequences through every layer (nothing shared, no barrier), so two parts give one part's
 * bits: a trainer uses the machine's second core with no change to any result.
 */
#include "train.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct FwdPair {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, done, quit, rc; /* under mu */
    const ModelFns *f;
    const void *w, *x, *drop, *state0;
    const int *lengths;
    int B, T, Bmax, Tmax; /* this call's batch; the largest sched holds */
    void *y, *logits, *state1, *cache;
    int *sched[2]; /* each part's schedule, 2 Bmax + Tmax ints */
};

static void *helper(void *arg)
{
    FwdPair *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->job && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->quit)
            break;
        h->job = 0;
        pthread_mutex_unlock(&h->mu);
        int rc = h->f->forward_train(h->w, h->x, h->lengths, h->B, h->T, h->y, h->logits, h->drop,
                                     h->state0, h->state1, h->cache, 1, 2, h->sched[1]);
        pthread_mutex_lock(&h->mu);
        h->rc = rc;
        h->done = 1;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

FwdPair *fwdpair_new(int Bmax, int Tmax)
{
    if (Bmax < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return NULL;
    FwdPair *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->Bmax = Bmax, h->Tmax = Tmax;
    size_t n = 2 * (size_t)Bmax + (size_t)Tmax;
    h->sched[0] = malloc(n * sizeof(int));
    h->sched[1] = malloc(n * sizeof(int));
    if (!h->sched[0] || !h->sched[1] || pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h->sched[0]), free(h->sched[1]), free(h);
        return NULL;
    }
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h->sched[0]), free(h->sched[1]), free(h);
        return NULL;
    }
    if (pthread_create(&h->tid, NULL, helper, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h->sched[0]), free(h->sched[1]), free(h);
        return NULL;
    }
    return h;
}

void fwdpair_free(FwdPair *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->tid, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->sched[0]), free(h->sched[1]), free(h);
}

int fwdpair_forward(FwdPair *h, const ModelFns *f, const void *w, const void *x,
                    const int *lengths, int B, int T, void *y, void *logits, const void *drop,
                    const void *state0, void *state1, void *cache)
{
    if (!h || B < 2 || B > h->Bmax || T > h->Tmax)
        return f->forward_train(w, x, lengths, B, T, y, logits, drop, state0, state1, cache, 0, 1,
                                NULL);
    pthread_mutex_lock(&h->mu);
    h->f = f, h->w = w, h->x = x, h->lengths = lengths, h->B = B, h->T = T;
    h->y = y, h->logits = logits, h->drop = drop, h->state0 = state0, h->state1 = state1;
    h->cache = cache;
    h->done = 0;
    h->job = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    int rc = f->forward_train(w, x, lengths, B, T, y, logits, drop, state0, state1, cache, 0, 2,
                              h->sched[0]);
    pthread_mutex_lock(&h->mu);
    while (!h->done)
        pthread_cond_wait(&h->cv, &h->mu);
    int rc1 = h->rc;
    pthread_mutex_unlock(&h->mu);
    return rc || rc1 ? -1 : 0;
}
